/* Building an image from a Dockerfile (dfbuild.h): stages, arguments,
 * the configuration instructions, and the result.  The instructions that
 * touch files are in dfcopy.c. */
#include "release/dfbuild-int.h"
#include "release/baseimg.h"
#include "release/blobw.h"
#include "image/import/oci.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

int dfb_fail(const dfb *b, const df_instr *in, int err, const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (in)
		return kb_errx(b->e, err, "%s:%u: %s", b->df->name, in->line, msg);
	return kb_errx(b->e, err, "%s: %s", b->df->name, msg);
}

/* Set NAME=VALUE in a string vector, replacing an earlier NAME. */
static void sv_set(char ***v, size_t *n, const char *name, const char *value)
{
	size_t kl = strlen(name);
	char *entry = xasprintf("%s=%s", name, value);
	for (size_t i = 0; i < *n; i++)
		if (!strncmp((*v)[i], name, kl) && (*v)[i][kl] == '=') {
			free((*v)[i]);
			(*v)[i] = entry;
			return;
		}
	char **nv = realloc(*v, (*n + 2) * sizeof *nv);
	if (!nv) {
		fputs("kbuild-ns: out of memory\n", stderr);
		exit(125);
	}
	nv[(*n)++] = entry;
	nv[*n] = NULL;
	*v = nv;
}

static const char *sv_get(char *const *v, size_t n, const char *name)
{
	size_t kl = strlen(name);
	for (size_t i = n; i-- > 0;)
		if (!strncmp(v[i], name, kl) && v[i][kl] == '=')
			return v[i] + kl + 1;
	return NULL;
}

static void sv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* BuildKit's automatic arguments: the build machine and the target. */
static void auto_args(dfb *b)
{
	kb_platform host, target;
	char buf[96];
	platform_host(&host);
	target = b->o->platform ? *b->o->platform : host;
	const kb_platform *ps[2] = { &host, &target };
	static const char *const pre[2] = { "BUILD", "TARGET" };
	for (int i = 0; i < 2; i++) {
		char name[32];
		snprintf(name, sizeof name, "%sPLATFORM", pre[i]);
		sv_set(&b->globals, &b->n_globals, name, platform_str(ps[i], buf, sizeof buf));
		snprintf(name, sizeof name, "%sOS", pre[i]);
		sv_set(&b->globals, &b->n_globals, name, ps[i]->os);
		snprintf(name, sizeof name, "%sARCH", pre[i]);
		sv_set(&b->globals, &b->n_globals, name, ps[i]->arch);
		snprintf(name, sizeof name, "%sVARIANT", pre[i]);
		sv_set(&b->globals, &b->n_globals, name, ps[i]->variant);
	}
}

static const char *build_arg(const df_build_opts *o, const char *name)
{
	return sv_get(o->build_args, o->n_build_args, name);
}

char **dfb_vars(const stage *st, size_t *ret_n)
{
	json_t *env = json_object_get(json_object_get(st->config, "config"), "Env"), *v;
	size_t n = st->n_args, i;
	char **out = calloc(n + json_array_size(env) + 1, sizeof *out);
	if (!out)
		return NULL;
	for (i = 0; i < st->n_args; i++)
		out[i] = st->args[i];
	/* ENV wins over ARG (expansion takes the last of a name). */
	json_array_foreach(env, i, v)
		if (json_is_string(v))
			out[n++] = (char *)json_string_value(v);
	*ret_n = n;
	return out;
}

int dfb_expand(const dfb *b, const stage *st, const df_instr *in, const char *word, char **ret, kb_error *e)
{
	size_t n = 0;
	_cleanup_free_ char **vars = st ? dfb_vars(st, &n) : NULL;
	int r = dockerfile_expand(word, st ? vars : b->globals, st ? n : b->n_globals, ret, e);
	if (r < 0)
		kb_err_prefix(e, "%s:%u", b->df->name, in->line);
	return r;
}

char *dfb_clean(const char *path)
{
	char *out = calloc(strlen(path) + 2, 1);
	size_t len = 0;
	if (!out)
		return NULL;
	for (const char *s = path; *s;) {
		size_t n = strcspn(s, "/");
		if (n == 2 && !strncmp(s, "..", 2)) {
			while (len && out[len - 1] != '/')
				len--;
			if (len)
				len--;
		} else if (n && !(n == 1 && *s == '.')) {
			if (len)
				out[len++] = '/';
			memcpy(out + len, s, n);
			len += n;
		}
		s += n + (s[n] == '/');
	}
	out[len] = 0;
	return out;
}

stage *dfb_stage(dfb *b, const char *name, size_t before)
{
	char *end;
	unsigned long idx = strtoul(name, &end, 10);
	if (*name && !*end)
		return idx < before ? &b->st[idx] : NULL;
	for (size_t i = 0; i < before; i++)
		if (b->st[i].name && !strcasecmp(b->st[i].name, name))
			return &b->st[i];
	return NULL;
}

/* ---- FROM ---- */

static json_t *scratch_config(const kb_platform *p)
{
	json_t *c = json_pack("{s:s, s:s, s:{}, s:{s:s, s:[]}, s:[]}", "architecture", p->arch, "os", p->os, "config",
			      "rootfs", "type", "layers", "diff_ids", "history");
	if (c && p->variant[0])
		json_object_set_new(c, "variant", json_string(p->variant));
	return c;
}

/* The stage's base and its configuration.  A base that is not in the
 * store only matters when the stage's result is needed (required), or
 * later when a file of it is. */
int dfb_load_base(dfb *b, stage *st, const df_instr *in, bool plat_given, bool required)
{
	_cleanup_free_ char *cfg = NULL;
	size_t len;
	int r;

	if (!strcasecmp(st->ref, "scratch")) {
		st->config = scratch_config(&st->plat);
		return st->config ? 0 : kb_err_oom(b->e, "scratch");
	}
	r = baseimg_find(b->o->store, st->ref, plat_given ? &st->plat : NULL, &st->base, &st->base_err);
	if (r == 0) {
		if (!plat_given)
			st->plat = st->base->platform;
		if ((r = store_read_blob(b->o->store, &st->base->id, MAX_CONFIG_SIZE, &cfg, &len, b->e)) < 0)
			return r;
		st->config = json_loadb(cfg, len, 0, NULL);
		if (!json_is_object(st->config))
			return dfb_fail(b, in, EINVAL, "base image %s: its configuration is damaged", st->ref);
		return 0;
	}
	if (required) {
		*b->e = st->base_err;
		kb_err_prefix(b->e, "%s:%u", b->df->name, in->line);
		return r;
	}
	st->config = scratch_config(&st->plat);
	return st->config ? 0 : kb_err_oom(b->e, "stage");
}

static int do_from(dfb *b, const df_instr *in, size_t idx)
{
	stage *st = &b->st[idx];
	const char *pf = dockerfile_flag(in, "platform", NULL);
	_cleanup_free_ char *plat = NULL;
	int r;

	for (size_t i = 0; i < in->n_flags; i++)
		if (strcmp(in->flags[i].name, "platform"))
			return dfb_fail(b, in, EINVAL, "FROM --%s is not supported", in->flags[i].name);
	if ((r = dfb_expand(b, NULL, in, in->args[0], &st->ref, b->e)) < 0)
		return r;
	if (!*st->ref)
		return dfb_fail(b, in, EINVAL, "FROM %s: the image name is empty (a --build-arg missing?)", in->args[0]);
	if (in->n_args == 3)
		st->name = xstrdup(in->args[2]);
	st->workdir = xstrdup("");
	platform_host(&st->plat);
	if (pf && (r = dfb_expand(b, NULL, in, pf, &plat, b->e)) < 0)
		return r;
	if (plat && platform_parse(plat, &st->plat, b->e) < 0) {
		kb_err_prefix(b->e, "%s:%u: FROM --platform", b->df->name, in->line);
		return -EINVAL;
	}
	if (!plat && b->o->platform)
		st->plat = *b->o->platform;
	return dfb_load_base(b, st, in, plat || b->o->platform, idx == b->final);
}

/* ---- ARG, ENV and the configuration ---- */

static int do_arg(dfb *b, stage *st, const df_instr *in)
{
	for (size_t i = 0; i < in->n_pairs; i++) {
		const df_pair *p = &in->pairs[i];
		const char *v = build_arg(b->o, p->key);
		_cleanup_free_ char *def = NULL;
		if (!v && p->value) {
			int r = dfb_expand(b, st, in, p->value, &def, b->e);
			if (r < 0)
				return r;
			v = def;
		}
		/* In a stage, an ARG without a value takes the global one. */
		if (!v && st)
			v = sv_get(b->globals, b->n_globals, p->key);
		if (v && st)
			sv_set(&st->args, &st->n_args, p->key, v);
		else if (v)
			sv_set(&b->globals, &b->n_globals, p->key, v);
	}
	return 0;
}

static json_t *cfg_obj(stage *st)
{
	json_t *c = json_object_get(st->config, "config");
	if (!json_is_object(c)) {
		c = json_object();
		json_object_set_new(st->config, "config", c);
	}
	return c;
}

static json_t *cfg_sub(stage *st, const char *key)
{
	json_t *c = cfg_obj(st), *o = json_object_get(c, key);
	if (!json_is_object(o)) {
		o = json_object();
		json_object_set_new(c, key, o);
	}
	return o;
}

static void env_set(stage *st, const char *key, const char *value)
{
	json_t *c = cfg_obj(st), *env = json_object_get(c, "Env"), *v;
	size_t kl = strlen(key), i;
	_cleanup_free_ char *entry = xasprintf("%s=%s", key, value);
	if (!json_is_array(env)) {
		env = json_array();
		json_object_set_new(c, "Env", env);
	}
	json_array_foreach(env, i, v)
		if (json_is_string(v) && !strncmp(json_string_value(v), key, kl) && json_string_value(v)[kl] == '=') {
			json_array_set_new(env, i, json_string(entry));
			return;
		}
	json_array_append_new(env, json_string(entry));
}

/* ENV and LABEL: pairs, values expanded. */
static int do_pairs(dfb *b, stage *st, const df_instr *in)
{
	for (size_t i = 0; i < in->n_pairs; i++) {
		_cleanup_free_ char *k = NULL, *v = NULL;
		int r;
		if ((r = dfb_expand(b, st, in, in->pairs[i].key, &k, b->e)) < 0 ||
		    (r = dfb_expand(b, st, in, in->pairs[i].value, &v, b->e)) < 0)
			return r;
		if (in->kind == DF_ENV)
			env_set(st, k, v);
		else
			json_object_set_new(cfg_sub(st, "Labels"), k, json_string(v));
	}
	return 0;
}

/* CMD and ENTRYPOINT: the exec form as it is, the shell form through
 * /bin/sh -c (never expanded here: the shell does that when it runs). */
static int do_command(stage *st, const df_instr *in)
{
	json_t *a = json_array();
	if (in->json)
		for (size_t i = 0; i < in->n_args; i++)
			json_array_append_new(a, json_string(in->args[i]));
	else if (in->n_args && in->args[0][0]) {
		json_array_append_new(a, json_string("/bin/sh"));
		json_array_append_new(a, json_string("-c"));
		json_array_append_new(a, json_string(in->args[0]));
	}
	json_object_set_new(cfg_obj(st), in->kind == DF_CMD ? "Cmd" : "Entrypoint", a);
	/* An ENTRYPOINT drops the base's CMD, unless this stage set one. */
	if (in->kind == DF_ENTRYPOINT && !st->cmd_set)
		json_object_set_new(cfg_obj(st), "Cmd", json_null());
	if (in->kind == DF_CMD)
		st->cmd_set = true;
	return 0;
}

/* One word expanded into a configuration field. */
static int do_word(dfb *b, stage *st, const df_instr *in)
{
	_cleanup_free_ char *v = NULL;
	int r = dfb_expand(b, st, in, in->args[0], &v, b->e);
	if (r < 0)
		return r;
	switch (in->kind) {
	case DF_USER: json_object_set_new(cfg_obj(st), "User", json_string(v)); break;
	case DF_STOPSIGNAL: json_object_set_new(cfg_obj(st), "StopSignal", json_string(v)); break;
	case DF_MAINTAINER: json_object_set_new(st->config, "author", json_string(v)); break;
	case DF_WORKDIR: {
		_cleanup_free_ char *joined = v[0] == '/' ? xstrdup(v) : xasprintf("%s/%s", st->workdir, v);
		free(st->workdir);
		st->workdir = dfb_clean(joined);
		_cleanup_free_ char *abs = xasprintf("/%s", st->workdir);
		json_object_set_new(cfg_obj(st), "WorkingDir", json_string(abs));
		return dfb_workdir_node(b, st, st->workdir, b->e);
	}
	default: break;
	}
	return 0;
}

/* EXPOSE and VOLUME: a set of keys. */
static int do_set(dfb *b, stage *st, const df_instr *in)
{
	json_t *set = cfg_sub(st, in->kind == DF_EXPOSE ? "ExposedPorts" : "Volumes");
	for (size_t i = 0; i < in->n_args; i++) {
		_cleanup_free_ char *v = NULL;
		int r = in->json ? (v = xstrdup(in->args[i]), 0) : dfb_expand(b, st, in, in->args[i], &v, b->e);
		if (r < 0)
			return r;
		_cleanup_free_ char *key = in->kind == DF_EXPOSE && !strchr(v, '/') ? xasprintf("%s/tcp", v) : xstrdup(v);
		json_object_set_new(set, key, json_object());
	}
	return 0;
}

/* The history's created_by: the stage's instructions as written. */
static void note(stage *st, const df_instr *in)
{
	size_t len = 0;
	char *text = NULL;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return;
	fprintf(f, "%s%s%s", st->created_by ? st->created_by : "", st->created_by ? " && " : "",
		dockerfile_kind_name(in->kind));
	for (size_t i = 0; i < in->n_flags; i++)
		fprintf(f, " --%s%s%s", in->flags[i].name, in->flags[i].value ? "=" : "", in->flags[i].value ?: "");
	for (size_t i = 0; i < in->n_args; i++)
		fprintf(f, " %s", in->args[i]);
	for (size_t i = 0; i < in->n_pairs; i++)
		fprintf(f, " %s%s%s", in->pairs[i].key, in->pairs[i].value ? "=" : "", in->pairs[i].value ?: "");
	fclose(f);
	free(st->created_by);
	st->created_by = text;
}

static int dispatch(dfb *b, stage *st, const df_instr *in)
{
	note(st, in);
	switch (in->kind) {
	case DF_ARG: return do_arg(b, st, in);
	case DF_ENV:
	case DF_LABEL: return do_pairs(b, st, in);
	case DF_CMD:
	case DF_ENTRYPOINT: return do_command(st, in);
	case DF_USER:
	case DF_STOPSIGNAL:
	case DF_MAINTAINER:
	case DF_WORKDIR: return do_word(b, st, in);
	case DF_EXPOSE:
	case DF_VOLUME: return do_set(b, st, in);
	case DF_COPY:
	case DF_ADD: return dfb_copy(b, st, in, b->e);
	case DF_RUN: return dfb_run(b, st, in, b->e);
	default:
		return dfb_fail(b, in, ENOTSUP, "%s is not supported by kbuild-ns's image builder (no container runs)",
				dockerfile_kind_name(in->kind));
	}
}

/* ---- the result ---- */

/* The layer this stage adds, as a gzip blob in tmpfd. */
static int write_layer(dfb *b, stage *st, df_result *ret, oci_layer *l, kb_digest *diff_id)
{
	static unsigned seq;
	snprintf(ret->layer_name, sizeof ret->layer_name, "layer-%d-%u", (int)getpid(), seq++);
	_cleanup_close_ int fd = openat(b->o->tmpfd, ret->layer_name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	blobw w;
	int r;
	if (fd < 0)
		return kb_err(b->e, errno, "layer blob %s", ret->layer_name);
	if ((r = blobw_open(&w, fd, true, b->e)) < 0)
		return r;
	if ((r = fs_write_layer(&st->fs, b->o->mtime, blobw_write, &w, b->e)) < 0) {
		blobw_free(&w);
		return r;
	}
	if ((r = blobw_close(&w, diff_id, &l->digest, &l->size, b->e)) < 0)
		return r;
	snprintf(l->media, sizeof l->media, "%s", MT_OCI_LAYER_GZIP);
	return 0;
}

/* The base's layers as they go into the manifest: its blobs, unchanged. */
static int base_layers(dfb *b, const stage *st, oci_layer *out)
{
	const layer_rec *miss = baseimg_missing_blob(b->o->store, st->base);
	if (miss)
		return kb_errx(b->e, ENOENT, "base image %s: layer sha256:%.12s: its blob is not in the store; "
			       "import the image again with --keep-blobs", st->ref, miss->digest.hex);
	for (size_t i = 0; i < st->base->n_layers; i++) {
		unsigned char head[4] = { 0 };
		struct stat sb;
		_cleanup_close_ int fd = openat(b->o->store->blobs_fd, st->base->layers[i].digest.hex, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &sb) < 0)
			return kb_err(b->e, errno, "base image %s: layer blob sha256:%.12s", st->ref,
				      st->base->layers[i].digest.hex);
		ssize_t n = pread(fd, head, sizeof head, 0);
		out[i] = (oci_layer){ .digest = st->base->layers[i].digest, .size = (uint64_t)sb.st_size };
		snprintf(out[i].media, sizeof out[i].media, "%s", oci_layer_media(head, n > 0 ? (size_t)n : 0));
	}
	return 0;
}

static int finish(dfb *b, df_result *ret)
{
	stage *st = &b->st[b->final];
	size_t nb = st->base ? st->base->n_layers : 0;
	_cleanup_free_ oci_layer *layers = calloc(nb + 2, sizeof *layers);
	json_t *c = st->config;
	char when[32];
	kb_digest diff_id;
	int r;

	if (!layers)
		return kb_err_oom(b->e, "image");
	if (st->base && (r = base_layers(b, st, layers)) < 0)
		return r;
	oci_time(b->o->mtime, when);
	json_t *hist = json_object_get(c, "history");
	if (!json_is_array(hist))
		json_object_set_new(c, "history", hist = json_array());
	json_t *h = json_pack("{s:s, s:s, s:s}", "created", when, "created_by", st->created_by ?: "", "comment",
			      "kbuild-ns");
	if (st->fs.n) {
		if ((r = write_layer(b, st, ret, &layers[nb++], &diff_id)) < 0) {
			json_decref(h);
			return r;
		}
		json_t *rootfs = json_object_get(c, "rootfs");
		if (!json_is_object(rootfs))
			json_object_set_new(c, "rootfs", rootfs = json_pack("{s:s, s:[]}", "type", "layers", "diff_ids"));
		char d[80];
		snprintf(d, sizeof d, "sha256:%s", diff_id.hex);
		json_array_append_new(json_object_get(rootfs, "diff_ids"), json_string(d));
	} else {
		json_object_set_new(h, "empty_layer", json_true());
	}
	json_array_append_new(hist, h);
	json_object_set_new(c, "created", json_string(when));
	json_object_set_new(c, "architecture", json_string(st->plat.arch));
	json_object_set_new(c, "os", json_string(st->plat.os));
	if (st->plat.variant[0])
		json_object_set_new(c, "variant", json_string(st->plat.variant));
	else
		json_object_del(c, "variant");
	/* The classic builder's record of the base's own build. */
	json_object_del(c, "container");
	json_object_del(c, "container_config");
	json_object_del(c, "docker_version");
	st->config = NULL;
	if (st->base)
		ret->base = xstrdup(st->ref);
	return oci_image_make(c, layers, nb, &ret->image, b->e);
}

/* ---- the whole build ---- */

static int read_dockerfile(dfb *b)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r = read_file_at(AT_FDCWD, b->o->dockerfile, 1 << 20, &text, &len);
	if (r < 0)
		return kb_err(b->e, -r, "Dockerfile %s", b->o->dockerfile);
	return dockerfile_parse(text, len, b->o->dockerfile, &b->df, b->e);
}

/* Count the stages and pick the final one. */
static int plan(dfb *b)
{
	size_t n = 0;
	for (size_t i = 0; i < b->df->n; i++) {
		const df_instr *in = &b->df->v[i];
		if (in->kind == DF_FROM)
			n++;
		else if (!n && in->kind != DF_ARG)
			return dfb_fail(b, in, EINVAL, "%s before the first FROM (only ARG may come there)",
					dockerfile_kind_name(in->kind));
	}
	if (!n)
		return dfb_fail(b, NULL, EINVAL, "no FROM");
	if (!(b->st = calloc(n, sizeof *b->st)))
		return kb_err_oom(b->e, "stages");
	b->final = n - 1;
	if (b->o->target) {
		size_t k = 0;
		for (size_t i = 0; i < b->df->n; i++)
			if (b->df->v[i].kind == DF_FROM) {
				const df_instr *in = &b->df->v[i];
				if (in->n_args == 3 && !strcasecmp(in->args[2], b->o->target))
					break;
				k++;
			}
		if (k == n)
			return dfb_fail(b, NULL, ENOENT, "--target %s: no stage of that name", b->o->target);
		b->final = k;
	}
	return 0;
}

static void dfb_free(dfb *b)
{
	for (size_t i = 0; i < b->n_st; i++) {
		stage *st = &b->st[i];
		free(st->name);
		free(st->ref);
		image_rec_free(st->base);
		json_decref(st->config);
		dfb_close_layers(st);
		fs_free(&st->fs);
		sv_free(st->args, st->n_args);
		free(st->workdir);
		free(st->created_by);
	}
	free(b->st);
	sv_free(b->globals, b->n_globals);
	dockerfile_free(b->df);
	if (b->ctxfd >= 0)
		close(b->ctxfd);
}

int df_build(const df_build_opts *o, df_result *ret, kb_error *e)
{
	dfb b = { .o = o, .ctxfd = -1, .e = e };
	int r;

	memset(ret, 0, sizeof *ret);
	b.ctxfd = open(o->context, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (b.ctxfd < 0)
		r = kb_err(e, errno, "build context %s", o->context);
	else if ((r = read_dockerfile(&b)) == 0 && (r = plan(&b)) == 0)
		auto_args(&b);
	for (size_t i = 0; r == 0 && i < b.df->n; i++) {
		const df_instr *in = &b.df->v[i];
		if (in->kind == DF_FROM) {
			if (b.n_st > b.final)
				break;    /* stages after the target are not built */
			r = do_from(&b, in, b.n_st++);
		} else {
			r = b.n_st ? dispatch(&b, &b.st[b.n_st - 1], in) : do_arg(&b, NULL, in);
		}
	}
	if (r == 0)
		r = finish(&b, ret);
	dfb_free(&b);
	if (r < 0)
		df_result_clear(ret, o->tmpfd);
	return r;
}

void df_result_clear(df_result *r, int tmpfd)
{
	oci_image_free(r->image);
	if (r->layer_name[0])
		(void)unlinkat(tmpfd, r->layer_name, 0);
	free(r->base);
	memset(r, 0, sizeof *r);
}
