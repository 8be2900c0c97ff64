/* kbuild-ns-docker: the `docker` a release's packaging finds on its PATH
 * in the build sandbox (/run/kbuild-ns/bin/docker).  It answers the
 * commands Kubernetes' build/lib/release.sh runs, old and new:
 *
 *   docker buildx version | create | inspect [--bootstrap] | rm | use | ls
 *   docker buildx build [-f FILE] [--platform P] [--output type=docker,dest=F]
 *                       [--load] [--pull] [-t TAG]... [--build-arg K=V]... CONTEXT
 *   docker build [--pull] [-q] [-t TAG]... [-f FILE] [--build-arg K=V]... CONTEXT
 *   docker save [-o FILE] IMAGE...      docker rmi [-f] IMAGE...
 *   docker tag SOURCE TARGET            docker images [-q] [REPOSITORY[:TAG]]
 *   docker inspect [--type image] [-f '{{.Id}}'] IMAGE...
 *
 * and refuses anything else with one line naming it, status 125.  Images
 * are built by dfbuild.h on base images from kbuild-ns's store (bound
 * read-only at /run/kbuild-ns/store, or $KBUILD_NS_STORE), kept in
 * dstore.h's store (/run/kbuild-ns/images, or $KBUILD_NS_DOCKER_ROOT),
 * and written with every time the source date ($SOURCE_DATE_EPOCH).
 *
 * A static program: it runs inside whatever build image the release
 * uses, whose libc and libraries are not ours. */
#include "release/dfbuild.h"
#include "release/dstore.h"
#include "release/baseimg.h"
#include "release/blobw.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

#define EXIT_REFUSED 125
#define MAX_LIST 64

static const char *prog = "docker";

static int fail(const kb_error *e)
{
	fprintf(stderr, "%s: %s\n", prog, e->msg);
	return EXIT_REFUSED;
}

static int failx(const char *fmt, ...) _printf_(1, 2);
static int failx(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return EXIT_REFUSED;
}

static long long source_date(void)
{
	const char *s = getenv("SOURCE_DATE_EPOCH");
	char *end;
	long long t = s && *s ? strtoll(s, &end, 10) : 0;
	return s && *s && !*end && t >= 0 ? t : 0;
}

/* kbuild-ns's store, read-only: its records, blobs and layers, no lock
 * (the release holds the store's shared lock outside the sandbox). */
static int open_store(kb_store **ret, kb_error *e)
{
	const char *root = getenv("KBUILD_NS_STORE");
	kb_store *s = calloc(1, sizeof *s);
	int bfd;
	if (!s)
		return kb_err_oom(e, "store");
	s->fd = s->blobs_fd = s->layers_fd = s->images_fd = s->tmp_fd = -1;
	s->lock_fd = s->import_lock_fd = s->work_fd = s->work_lock_fd = -1;
	s->root = xstrdup(root && *root ? root : "/run/kbuild-ns/store");
	*ret = s;
	if ((s->fd = open(s->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return kb_err(e, errno, "kbuild-ns's image store %s (base images)", s->root);
	bfd = openat(s->fd, "blobs", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	s->blobs_fd = bfd < 0 ? -1 : openat(bfd, "sha256", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (bfd >= 0)
		close(bfd);
	s->layers_fd = openat(s->fd, "layers", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	s->images_fd = openat(s->fd, "images", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->blobs_fd < 0 || s->layers_fd < 0 || s->images_fd < 0)
		return kb_err(e, errno, "kbuild-ns's image store %s", s->root);
	return 0;
}

typedef struct ctx {
	kb_store *store;
	dstore *ds;
} ctx;

static int open_all(ctx *c, kb_error *e)
{
	const char *root = getenv("KBUILD_NS_DOCKER_ROOT");
	int r = open_store(&c->store, e);
	return r < 0 ? r : dstore_open(root && *root ? root : "/run/kbuild-ns/images", c->store, &c->ds, e);
}

static void close_all(ctx *c)
{
	dstore_close(c->ds);
	store_close(c->store);
}

/* ---- build ---- */

typedef struct build_args {
	bool buildx, load, quiet;
	const char *file, *context, *target, *dest, *out_type;
	kb_platform plat;
	bool plat_set;
	char *tags[MAX_LIST];
	size_t n_tags;
	char *bargs[MAX_LIST];
	size_t n_bargs;
} build_args;

static void build_args_free(build_args *a)
{
	for (size_t i = 0; i < a->n_tags; i++)
		free(a->tags[i]);
	for (size_t i = 0; i < a->n_bargs; i++)
		free(a->bargs[i]);
}

/* --output type=docker,dest=FILE (or type=oci, and name=TAG,...). */
static int parse_output(build_args *a, char *spec)
{
	for (char *kv = strtok(spec, ","); kv; kv = strtok(NULL, ",")) {
		char *eq = strchr(kv, '=');
		if (!eq)
			return failx("buildx build --output %s: expected type=docker,dest=FILE", kv);
		*eq++ = 0;
		if (!strcmp(kv, "type") && (!strcmp(eq, "docker") || !strcmp(eq, "oci")))
			a->out_type = eq;
		else if (!strcmp(kv, "dest"))
			a->dest = eq;
		else if (!strcmp(kv, "name") && a->n_tags < MAX_LIST && (a->tags[a->n_tags] = docker_ref_full(eq)))
			a->n_tags++;
		else
			return failx("buildx build --output %s=%s: not supported (type=docker or type=oci, dest=, name=)", kv, eq);
	}
	if (!a->out_type)
		return failx("buildx build --output: no type=docker");
	return 0;
}

static int take_value(build_args *a, const char *opt, const char *v)
{
	kb_error e = { 0 };
	if (!strcmp(opt, "-f") || !strcmp(opt, "--file"))
		a->file = v;
	else if (!strcmp(opt, "--target"))
		a->target = v;
	else if (!strcmp(opt, "-o") || !strcmp(opt, "--output"))
		return parse_output(a, (char *)v);
	else if (!strcmp(opt, "--platform")) {
		if (strchr(v, ',') || platform_parse(v, &a->plat, &e) < 0)
			return failx("--platform %s: one platform, os/arch[/variant]", v);
		a->plat_set = true;
	} else if (!strcmp(opt, "-t") || !strcmp(opt, "--tag")) {
		if (a->n_tags >= MAX_LIST || !(a->tags[a->n_tags] = docker_ref_full(v)) || strchr(a->tags[a->n_tags], '@'))
			return failx("-t %s: not a valid tag", v);
		a->n_tags++;
	} else if (!strcmp(opt, "--build-arg")) {
		/* NAME alone takes the value from the environment. */
		const char *env = strchr(v, '=') ? NULL : getenv(v);
		if (a->n_bargs >= MAX_LIST || (!strchr(v, '=') && !env))
			return strchr(v, '=') ? failx("too many --build-arg") : 0;
		a->bargs[a->n_bargs++] = env ? xasprintf("%s=%s", v, env) : xstrdup(v);
	} else if (!strcmp(opt, "--progress")) {
		return 0;
	} else {
		return -1;
	}
	return 0;
}

static int parse_build(build_args *a, int argc, char **argv)
{
	static const char *const flags[] = { "--load", "--pull", "-q", "--quiet", "--no-cache", "--rm", "--force-rm" };
	for (int i = 1; i < argc; i++) {
		char *arg = argv[i], *eq = arg[0] == '-' && arg[1] == '-' ? strchr(arg, '=') : NULL;
		bool flag = false;
		for (size_t k = 0; k < ARRAY_SIZE(flags); k++)
			flag |= !strcmp(arg, flags[k]);
		if (flag) {
			a->load |= !strcmp(arg, "--load");
			a->quiet |= arg[1] == 'q' || !strcmp(arg, "--quiet");
			continue;
		}
		if (arg[0] != '-') {
			if (a->context)
				return failx("build: one context only (%s, %s)", a->context, arg);
			a->context = arg;
			continue;
		}
		if (eq)
			*eq = 0;
		const char *v = eq ? eq + 1 : i + 1 < argc ? argv[i + 1] : NULL;
		int r = v ? take_value(a, arg, v) : -1;
		if (r > 0)
			return r;
		if (r < 0 && !v)
			return failx("build %s: needs a value", arg);
		if (r < 0)
			return failx("build %s: not supported in a release build (kbuild-ns answers -f, -t, --platform, "
				     "--build-arg, --output, --load, --pull, --target, -q)", arg);
		if (!eq)
			i++;
	}
	if (!a->context)
		return failx("build: no build context given");
	if (!strcmp(a->context, "-") || strstr(a->context, "://"))
		return failx("build %s: only a directory can be the build context", a->context);
	return 0;
}

/* The new layer's blob while it is still in tmp/, then the stores'. */
typedef struct blob_src {
	dstore *ds;
	const df_result *res;
} blob_src;

static int open_blob(void *arg, const kb_digest *d, kb_error *e)
{
	const blob_src *b = arg;
	const oci_image *im = b->res->image;
	if (b->res->layer_name[0] && !strcmp(d->hex, im->layers[im->n_layers - 1].digest.hex)) {
		int fd = openat(b->ds->tmp_fd, b->res->layer_name, O_RDONLY | O_CLOEXEC);
		return fd < 0 ? kb_err(e, errno, "layer blob") : fd;
	}
	return dstore_open_blob(b->ds, d, e);
}

/* The archive, through a temporary name in dest's directory. */
static int write_dest(const char *dest, const oci_tagged *t, long long mtime, blob_src *bs, kb_error *e)
{
	_cleanup_free_ char *tmp = xasprintf("%s.kbuild-ns-%d", dest, (int)getpid());
	_cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int r;
	if (fd < 0)
		return kb_err(e, errno, "%s", dest);
	if ((r = oci_write_archive(fd, t, 1, mtime, open_blob, bs, e)) == 0 && fsync(fd) < 0)
		r = kb_err(e, errno, "%s", dest);
	if (r == 0 && rename(tmp, dest) < 0)
		r = kb_err(e, errno, "%s", dest);
	if (r < 0)
		(void)unlink(tmp);
	return r;
}

static void say_built(const build_args *a, const df_result *res)
{
	char pb[96], id[16];
	snprintf(id, sizeof id, "%.12s", res->image->config_digest.hex);
	fprintf(stderr, "#1 kbuild-ns: %s for %s on %s: sha256:%s (%zu layers)\n", a->file,
		platform_str(&res->image->platform, pb, sizeof pb), res->base ? res->base : "scratch",
		res->image->config_digest.hex, res->image->n_layers);
	if (a->buildx)
		return;
	if (a->quiet) {
		printf("sha256:%s\n", res->image->config_digest.hex);
		return;
	}
	printf("Successfully built %s\n", id);
	for (size_t i = 0; i < a->n_tags; i++) {
		char *f = docker_ref_familiar(a->tags[i]);
		printf("Successfully tagged %s\n", f ? f : a->tags[i]);
		free(f);
	}
}

static int cmd_build(int argc, char **argv, bool buildx)
{
	build_args a = { .buildx = buildx, .load = !buildx };
	ctx c = { 0 };
	df_result res = { 0 };
	kb_error e = { 0 };
	int r = parse_build(&a, argc, argv);

	if (r == 0 && (r = open_all(&c, &e)) < 0)
		r = fail(&e);
	_cleanup_free_ char *file = r || a.file ? NULL : xasprintf("%s/Dockerfile", a.context);
	if (file)
		a.file = file;
	df_build_opts o = { .dockerfile = a.file, .context = a.context, .target = a.target,
			    .platform = a.plat_set ? &a.plat : NULL, .build_args = a.bargs, .n_build_args = a.n_bargs,
			    .mtime = source_date(), .store = c.store, .tmpfd = c.ds ? c.ds->tmp_fd : -1 };
	if (r == 0 && a.dest && !a.out_type)
		r = failx("build: a destination without --output type=docker");
	if (r == 0 && df_build(&o, &res, &e) < 0)
		r = fail(&e);
	blob_src bs = { c.ds, &res };
	oci_tagged t = { res.image, a.tags, a.n_tags };
	if (r == 0 && a.dest && write_dest(a.dest, &t, o.mtime, &bs, &e) < 0)
		r = fail(&e);
	if (r == 0 && a.load && dstore_load(c.ds, res.image, res.layer_name, a.tags, a.n_tags, &e) < 0)
		r = fail(&e);
	if (r == 0)
		say_built(&a, &res);
	if (c.ds)
		df_result_clear(&res, c.ds->tmp_fd);
	close_all(&c);
	build_args_free(&a);
	return r;
}

/* ---- save, rmi, tag, images, inspect ---- */

/* The images named, one archive; a name that is an id saves the image
 * without a name, as docker does. */
static int save_images(ctx *c, char **names, size_t n, int fd)
{
	oci_tagged t[MAX_LIST];
	oci_image *ims[MAX_LIST] = { 0 };
	char *full[MAX_LIST] = { 0 };
	kb_error e = { 0 };
	int r = 0;

	for (size_t i = 0; r == 0 && i < n; i++) {
		bool by_id = strspn(names[i], "0123456789abcdef") == strlen(names[i]) || !strncmp(names[i], "sha256:", 7);
		if (dstore_find(c->ds, names[i], &ims[i], &e) < 0)
			r = fail(&e);
		full[i] = by_id ? NULL : docker_ref_full(names[i]);
		t[i] = (oci_tagged){ ims[i], &full[i], full[i] ? 1 : 0 };
	}
	if (r == 0 && oci_write_archive(fd, t, n, source_date(), dstore_open_blob, c->ds, &e) < 0)
		r = fail(&e);
	for (size_t i = 0; i < n; i++) {
		oci_image_free(ims[i]);
		free(full[i]);
	}
	return r;
}

static int cmd_save(int argc, char **argv)
{
	const char *out = NULL;
	char *names[MAX_LIST];
	size_t n = 0;
	ctx c = { 0 };
	kb_error e = { 0 };
	int r = 0;

	for (int i = 1; i < argc && r == 0; i++) {
		if ((!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) && i + 1 < argc)
			out = argv[++i];
		else if (!strncmp(argv[i], "--output=", 9))
			out = argv[i] + 9;
		else if (argv[i][0] == '-')
			r = failx("save %s: not supported", argv[i]);
		else if (n >= MAX_LIST)
			r = failx("save: too many images");
		else
			names[n++] = argv[i];
	}
	if (r == 0 && !n)
		r = failx("save: no image given");
	if (r == 0 && !out && isatty(STDOUT_FILENO))
		r = failx("save: cowardly refusing to write an archive to a terminal (use -o FILE)");
	if (r == 0 && open_all(&c, &e) < 0)
		r = fail(&e);
	_cleanup_close_ int fd = r || !out ? -1 : open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (r == 0 && out && fd < 0)
		r = failx("save: %s: %s", out, strerror(errno));
	if (r == 0)
		r = save_images(&c, names, n, out ? fd : STDOUT_FILENO);
	close_all(&c);
	return r;
}

static int cmd_rmi(int argc, char **argv)
{
	ctx c = { 0 };
	kb_error e = { 0 };
	int status = 0;
	if (open_all(&c, &e) < 0)
		return fail(&e);
	for (int i = 1; i < argc; i++) {
		char **gone = NULL;
		size_t n = 0;
		if (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--force") || !strcmp(argv[i], "--no-prune"))
			continue;
		e = (kb_error){ 0 };
		if (dstore_untag(c.ds, argv[i], &gone, &n, &e) < 0) {
			fprintf(stderr, "Error response from daemon: %s\n", e.msg);
			status = 1;
		}
		for (size_t k = 0; k < n; k++) {
			char *f = docker_ref_familiar(gone[k]);
			printf("Untagged: %s\n", f ? f : gone[k]);
			free(f);
			free(gone[k]);
		}
		free(gone);
	}
	close_all(&c);
	return status;
}

static int cmd_tag(int argc, char **argv)
{
	ctx c = { 0 };
	kb_error e = { 0 };
	int r = 0;
	if (argc != 3)
		return failx("tag: give SOURCE and TARGET");
	if (open_all(&c, &e) < 0 || dstore_tag(c.ds, argv[1], argv[2], &e) < 0)
		r = fail(&e);
	close_all(&c);
	return r;
}

static int cmd_images(int argc, char **argv)
{
	bool quiet = false;
	const char *filter = NULL;
	ctx c = { 0 };
	kb_error e = { 0 };
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet"))
			quiet = true;
		else if (!strcmp(argv[i], "-a") || !strcmp(argv[i], "--all"))
			continue;
		else if (argv[i][0] != '-' && !filter)
			filter = argv[i];
		else
			return failx("images %s: not supported", argv[i]);
	}
	if (open_all(&c, &e) < 0)
		return fail(&e);
	json_t *all = dstore_all(c.ds, &e), *v;
	const char *key;
	_cleanup_free_ char *want = filter ? docker_ref_full(filter) : NULL;
	if (!quiet)
		printf("%-50s %-20s %-12s\n", "REPOSITORY", "TAG", "IMAGE ID");
	json_object_foreach(all, key, v) {
		oci_image *im = NULL;
		size_t rl = strlen(key) - strlen(docker_ref_tag(key)) - 1;
		/* REPOSITORY alone matches every tag of it. */
		if (want && strcmp(want, key) && !(!strchr(filter, ':') && !strncmp(want, key, rl) && want[rl] == ':'))
			continue;
		if (dstore_find(c.ds, key, &im, &e) < 0)
			continue;
		_cleanup_free_ char *f = docker_ref_familiar(key);
		if (quiet)
			printf("%.12s\n", im->config_digest.hex);
		else
			printf("%-50.*s %-20s %.12s\n", (int)(strlen(f) - strlen(docker_ref_tag(key)) - 1), f,
			       docker_ref_tag(key), im->config_digest.hex);
		oci_image_free(im);
	}
	json_decref(all);
	close_all(&c);
	return 0;
}

static json_t *inspect_json(dstore *ds, const oci_image *im)
{
	json_t *cfg = json_loadb(im->config, im->config_len, 0, NULL), *tags = json_array();
	char **t = NULL, id[80];
	size_t n = 0;
	kb_error e = { 0 };
	if (dstore_tags_of(ds, &im->manifest_digest, &t, &n, &e) == 0)
		for (size_t i = 0; i < n; i++) {
			char *f = docker_ref_familiar(t[i]);
			json_array_append_new(tags, json_string(f ? f : t[i]));
			free(f);
			free(t[i]);
		}
	free(t);
	snprintf(id, sizeof id, "sha256:%s", im->config_digest.hex);
	json_t *j = json_pack("{s:s, s:o, s:[], s:O?, s:O?, s:O?, s:O?, s:O?}", "Id", id, "RepoTags", tags, "RepoDigests",
			      "Created", json_object_get(cfg, "created"), "Architecture", json_object_get(cfg, "architecture"),
			      "Os", json_object_get(cfg, "os"), "Config", json_object_get(cfg, "config"), "RootFS",
			      json_object_get(cfg, "rootfs"));
	json_decref(cfg);
	return j;
}

static int cmd_inspect(int argc, char **argv)
{
	const char *format = NULL;
	ctx c = { 0 };
	kb_error e = { 0 };
	json_t *out = json_array();
	int status = 0, i;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if ((!strcmp(argv[i], "-f") || !strcmp(argv[i], "--format")) && i + 1 < argc)
			format = argv[++i];
		else if (!strcmp(argv[i], "--type") && i + 1 < argc && !strcmp(argv[i + 1], "image"))
			i++;
		else
			return failx("inspect %s: not supported (images only: --type image, -f '{{.Id}}')", argv[i]);
	}
	if (format && strcmp(format, "{{.Id}}") && strcmp(format, "{{.ID}}"))
		return failx("inspect --format %s: only {{.Id}} is supported", format);
	if (open_all(&c, &e) < 0)
		return fail(&e);
	for (; i < argc; i++) {
		oci_image *im = NULL;
		e = (kb_error){ 0 };
		if (dstore_find(c.ds, argv[i], &im, &e) < 0) {
			fprintf(stderr, "Error: No such object: %s\n", argv[i]);
			status = 1;
			continue;
		}
		if (format)
			printf("sha256:%s\n", im->config_digest.hex);
		else
			json_array_append_new(out, inspect_json(c.ds, im));
		oci_image_free(im);
	}
	if (!format) {
		json_dumpf(out, stdout, JSON_INDENT(4));
		putchar('\n');
	}
	json_decref(out);
	close_all(&c);
	return status;
}

/* ---- buildx and the dispatch ---- */

static int cmd_buildx(int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "";
	if (!strcmp(sub, "build"))
		return cmd_build(argc - 1, argv + 1, true);
	if (!strcmp(sub, "version")) {
		printf("github.com/docker/buildx v0.0.0-kbuild-ns kbuild-ns (no BuildKit: images are written by kbuild-ns)\n");
		return 0;
	}
	/* A builder needs nothing: there is no BuildKit to start. */
	if (!strcmp(sub, "create")) {
		printf("kbuild-ns\n");
		return 0;
	}
	if (!strcmp(sub, "inspect") || !strcmp(sub, "ls")) {
		printf("Name:   kbuild-ns\nDriver: kbuild-ns (no daemon)\nStatus: running\n");
		return 0;
	}
	if (!strcmp(sub, "rm") || !strcmp(sub, "use") || !strcmp(sub, "stop"))
		return 0;
	return failx("buildx %s: not supported in a release build (kbuild-ns answers buildx version, create, "
		     "inspect, ls, use, rm, build)", sub);
}

int main(int argc, char **argv)
{
	static const struct { const char *name; int (*fn)(int, char **); } cmds[] = {
		{ "build", NULL }, { "buildx", cmd_buildx }, { "save", cmd_save }, { "rmi", cmd_rmi },
		{ "tag", cmd_tag }, { "images", cmd_images }, { "inspect", cmd_inspect },
	};
	const char *cmd = argc > 1 ? argv[1] : "";
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++)
		if (!strcmp(cmd, cmds[i].name)) {
			int r = cmds[i].fn ? cmds[i].fn(argc - 1, argv + 1) : cmd_build(argc - 1, argv + 1, false);
			fflush(stdout);
			return ferror(stdout) ? EXIT_REFUSED : r;
		}
	return failx("%s%s: not supported in a release build: kbuild-ns answers only what Kubernetes' packaging "
		     "runs (build, buildx, save, rmi, tag, images, inspect)", *cmd ? cmd : "(no command)",
		     argc > 2 ? " ..." : "");
}
