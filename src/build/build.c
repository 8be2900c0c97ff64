/* One build (build.h): the pipeline, the build sandbox's spec and
 * environment, and the sync sandbox around build/sync.c. */
#include "build/build.h"
#include "build/data.h"
#include "build/profile.h"
#include "build/sync.h"
#include "base/progress.h"
#include "image/image.h"
#include "runtime/isolate.h"
#include "runtime/seccomp-filter.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_ENV 1024
#define MAX_BINDS 74                 /* the tree, the caller's 64, a release's 8, the end */
/* Image configs are at most this big (image import refuses larger). */
#define MAX_CONFIG (16u << 20)

typedef struct envv {
	char *v[MAX_ENV];
	size_t n;
} envv;

struct kb_build {
	const build_opts *o;
	char *state_dir;
	kb_profile *prof;
	kb_data *data;
	kb_store *store;
	image_rec *img;
	char *ref;                   /* the image reference asked for */
	bool snap;                   /* the build works on the snapshot */
	bool copy;                   /* copy out after a success */
	bool prepared;               /* the data layer is in use: data_done at close */
	bool use_range;
	rt_idrange range;
	envv env;
	char **lowers;               /* layer paths, top first */
	rt_bind binds[MAX_BINDS];
	char hostname[256];
	void *bpf;
	rt_spec spec;
};

/* ---- the environment ---- */

/* Host variables that cross into the sandbox (build/common.sh's list);
 * nothing else of the host's environment does. */
static const char *const allow[] = {
	"GOPROXY", "KUBE_FASTBUILD", "KUBE_BUILDER_OS", "KUBE_VERBOSE", "KUBE_BUILD_WITH_COVERAGE",
	"KUBE_BUILD_PLATFORMS", "KUBE_CGO_OVERRIDES", "KUBE_STATIC_OVERRIDES", "FORCE_HOST_GO",
	"GO_VERSION", "GOTOOLCHAIN", "GOFLAGS", "GOGCFLAGS", "SOURCE_DATE_EPOCH",
	"GOLDFLAGS",    /* only when set, even to "" */
};

/* Set NAME=VALUE, replacing an earlier NAME. */
static int env_set(envv *ev, const char *name, const char *value, kb_error *e)
{
	size_t kl = strlen(name);
	char *entry = xasprintf("%s=%s", name, value);
	for (size_t i = 0; i < ev->n; i++)
		if (!strncmp(ev->v[i], name, kl) && ev->v[i][kl] == '=') {
			free(ev->v[i]);
			ev->v[i] = entry;
			return 0;
		}
	if (ev->n + 1 >= MAX_ENV) {
		free(entry);
		return kb_errx(e, E2BIG, "environment: more than %d variables", MAX_ENV - 1);
	}
	ev->v[ev->n++] = entry;
	ev->v[ev->n] = NULL;
	return 0;
}

/* The same with "NAME=VALUE" in one string (an image's Env, -e). */
static int env_put(envv *ev, const char *entry, kb_error *e)
{
	size_t kl = strcspn(entry, "=");
	_cleanup_free_ char *name = strndup(entry, kl);
	if (!name)
		return kb_err_oom(e, "environment");
	return env_set(ev, name, entry[kl] ? entry + kl + 1 : "", e);
}

static int pass_host(envv *ev, const char *name, kb_error *e)
{
	const char *val = getenv(name);
	return val ? env_set(ev, name, val, e) : 0;
}

static void env_free(envv *ev)
{
	for (size_t i = 0; i < ev->n; i++)
		free(ev->v[i]);
	ev->n = 0;
}

/* The image's Env, as a container runtime starts from it. */
static int image_env(kb_build *b, kb_error *e)
{
	_cleanup_free_ char *cfg = NULL;
	size_t len, i;
	json_t *v;
	int r;

	if ((r = store_read_blob(b->store, &b->img->id, MAX_CONFIG, &cfg, &len, e)) < 0)
		return r;
	json_t *j = json_loadb(cfg, len, 0, NULL);
	json_array_foreach(json_object_get(json_object_get(j, "config"), "Env"), i, v)
		if (json_is_string(v) && strchr(json_string_value(v), '=') && (r = env_put(&b->env, json_string_value(v), e)) < 0)
			break;
	json_decref(j);
	return r;
}

/* -e VAR=VAL sets, -e VAR passes the host's value (if any). */
static int user_env(kb_build *b, kb_error *e)
{
	int r = 0;
	for (size_t i = 0; i < b->o->n_envs && r == 0; i++) {
		const char *a = b->o->envs[i];
		if (a[0] == '=')
			return kb_errx(e, EINVAL, "-e %s: no variable name", a);
		r = strchr(a, '=') ? env_put(&b->env, a, e) : pass_host(&b->env, a, e);
	}
	return r;
}

/* A release's own tools first on PATH (its docker, its tar). */
static int release_path(kb_build *b, kb_error *e)
{
	for (size_t i = 0; i < b->env.n; i++)
		if (!strncmp(b->env.v[i], "PATH=", 5)) {
			_cleanup_free_ char *p = xasprintf("%s:%s", b->o->release->path_prefix, b->env.v[i] + 5);
			return env_set(&b->env, "PATH", p, e);
		}
	return env_set(&b->env, "PATH", b->o->release->path_prefix, e);
}

/* In order, each later one winning: a PATH, the image's Env, the
 * profile's (kube: KUBE_OUTPUT_SUBPATH, TMPDIR, as the kube-build image
 * sets them on top of kube-cross's), the allow-list, HOME, HOSTNAME,
 * TERM on a terminal, -e. */
static int build_env(kb_build *b, kb_error *e)
{
	const kb_profile *p = b->prof;
	char host[256] = "";
	size_t i;
	int r;

	if ((r = env_set(&b->env, "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", e)) < 0 ||
	    (r = image_env(b, e)) < 0)
		return r;
	for (i = 0; i < p->n_env && r == 0; i++)
		r = env_put(&b->env, p->env[i], e);
	for (i = 0; i < ARRAY_SIZE(allow) && r == 0; i++)
		r = pass_host(&b->env, allow[i], e);
	for (i = 0; i < p->n_pass && r == 0; i++)
		r = pass_host(&b->env, p->pass[i], e);
	/* Classic: the version file the host made is copied into the
	 * snapshot and named here; only when the host names one. */
	if (r == 0 && p->kube && b->snap && getenv("KUBE_GIT_VERSION_FILE")) {
		_cleanup_free_ char *f = xasprintf("%s/.dockerized-kube-version-defs", p->home);
		r = env_set(&b->env, "KUBE_GIT_VERSION_FILE", f, e);
	}
	(void)gethostname(host, sizeof host - 1);
	if (b->o->release)
		snprintf(host, sizeof host, "%s", b->o->release->hostname);
	if (r == 0 && ((r = env_set(&b->env, "HOME", p->home, e)) < 0 || (r = env_set(&b->env, "HOSTNAME", host, e)) < 0))
		return r;
	if (r == 0 && b->o->release && (r = release_path(b, e)) < 0)
		return r;
	if (r == 0 && b->spec.tty) {
		const char *t = getenv("TERM");
		r = env_set(&b->env, "TERM", t && *t ? t : "xterm", e);
	}
	return r < 0 ? r : user_env(b, e);
}

/* ---- the seccomp program ---- */

/* The seccomp policy compiled to BPF, from $STATE/cache/ when a previous
 * run left it there: compiling takes several milliseconds, loading a few
 * microseconds.  The file name changes with the policy, libseccomp and the
 * architecture; a damaged file is simply compiled again.  NULL leaves the
 * compiling (and its error) to the sandbox. */
static void *seccomp_blob(const char *state_dir, size_t *ret_len)
{
	_cleanup_free_ char *dir = xasprintf("%s/cache", state_dir);
	_cleanup_free_ char *name = xasprintf("%s.bpf", rt_seccomp_cache_key());
	char *blob = NULL;
	size_t len = 0;
	kb_error ignored = { 0 };

	_cleanup_close_ int dfd = (mkdirat(AT_FDCWD, dir, 0700) == 0 || errno == EEXIST)
					  ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (dfd >= 0 && read_file_at(dfd, name, 1 << 20, &blob, &len) == 0 && len > 0) {
		*ret_len = len;
		return blob;
	}
	free(blob);
	void *b = NULL;
	if (rt_seccomp_compile(&b, &len, &ignored) < 0)
		return NULL;
	if (dfd >= 0)
		(void)write_file_atomic(dfd, name, b, len);    /* a cache: next time, then */
	*ret_len = len;
	return b;
}

/* ---- the sync sandbox ---- */

typedef struct sync_job {
	const sync_rules *rules;
	sync_log_fn log;
	bool out;
} sync_job;

/* Runs inside the sync sandbox; the stats come back in the shared area. */
static int sync_fn(void *arg, const int *fds, void *shared, kb_error *e)
{
	const sync_job *j = arg;
	sync_opts o = { .rules = j->rules, .log = j->log };
	return j->out ? sync_copy_out(fds[0], fds[1], &o, shared, e) : sync_mirror(fds[0], fds[1], &o, shared, e);
}

/* One pass in a fresh sync sandbox.  It sees the two trees and nothing
 * else of the host, the one it reads read-only: sync-in cannot touch the
 * checkout, copy-out cannot change the snapshot it reads. */
static int sync_once(kb_build *b, bool out, const rt_idrange *range, sync_stats *st, bool *isolated, kb_error *e)
{
	const kb_data *d = b->data;
	rt_iso_dir dirs[2] = {
		{ .path = out ? d->snapshot : b->prof->checkout, .ro = true },
		{ .path = out ? b->prof->checkout : d->snapshot, .ro = false },
	};
	const char *v = getenv("KUBE_VERBOSE");
	/* build/common.sh adds rsync's -iv at KUBE_VERBOSE >= 6. */
	sync_job j = { .rules = &b->prof->rules, .log = v && atoi(v) >= 6 ? out_change : NULL, .out = out };
	sync_stats *sh = rt_iso_shared(sizeof *sh);
	if (!sh)
		return kb_err(e, errno, "sync sandbox");
	int r = rt_isolate(dirs, 2, range, sync_fn, &j, sh, isolated, e);
	*st = *sh;
	rt_iso_shared_free(sh, sizeof *sh);
	return r;
}

/* Files of subordinate ids (a range-mapped build that ran something as
 * another user, or unpacked a tar as root) are out of reach of the
 * caller's own ids: on EACCES/EPERM, once more with the range mapped. */
static int sync_pass(kb_build *b, bool out, kb_error *e)
{
	const char *what = out ? "copy-out" : "sync-in";
	sync_stats st = { 0 };
	bool isolated = false, mapped = false;
	int r = sync_once(b, out, NULL, &st, &isolated, e);
	if (r < 0 && b->use_range && (e->errnum == EACCES || e->errnum == EPERM)) {
		*e = (kb_error){ 0 };
		mapped = true;
		r = sync_once(b, out, &b->range, &st, &isolated, e);
	}
	if (r < 0) {
		kb_err_prefix(e, "%s", what);
		return r;
	}
	out_verbose("%s: %llu entries checked, %llu copied (%llu bytes), %llu deleted%s", what,
		    (unsigned long long)st.checked, (unsigned long long)st.copied, (unsigned long long)st.bytes,
		    (unsigned long long)st.deleted,
		    !isolated ? " (no user namespaces: in process)" :
		    mapped ? " (files of subordinate ids: with the range mapped)" : "");
	if (st.skipped)
		out_warn("%s: %llu entr%s skipped (special files, or a file on the host where the build has a "
			 "directory)", what, (unsigned long long)st.skipped, st.skipped == 1 ? "y" : "ies");
	return 0;
}

/* ---- open ---- */

static int find_image(kb_build *b, kb_error *e)
{
	int r;
	b->ref = profile_image_ref(b->prof, b->o->image);
	if (!b->ref)
		return kb_errx(e, EINVAL, "no image: this checkout has no build/build-image/cross/VERSION; "
			       "give --image REF, set KBUILD_NS_IMAGE, or put image = REF in kbuild-ns.conf");
	/* Shared: layers stay while we use them (image rm waits). */
	if ((r = store_open(b->state_dir, LOCK_SH, out_notify, &b->store, e)) < 0)
		return r;
	if ((r = image_find(b->store, b->ref, &b->img, e)) < 0) {
		if (e->errnum == ENOENT) {
			*e = (kb_error){ 0 };
			return kb_errx(e, ENOENT, "image %s: not found; import it first: "
				       "kbuild-ns image import ARCHIVE --name %s", b->ref, b->ref);
		}
		return r;
	}
	if (b->img->n_layers == 0)
		return kb_errx(e, EINVAL, "image %s: has no layers", b->ref);
	return 0;
}

/* build/run.sh copies out when KUBE_RUN_COPY_OUTPUT matches ^[yY]$;
 * its default is y for run.sh and n for shell.sh. */
static bool copy_wanted(const build_opts *o)
{
	const char *v = getenv("KUBE_RUN_COPY_OUTPUT");
	if (o->no_copy || o->bind_source)
		return false;
	if (!v)
		return !o->shell;
	return (v[0] == 'y' || v[0] == 'Y') && !v[1];
}

int build_open(const char *state_dir, const build_opts *o, kb_build **ret, kb_error *e)
{
	_cleanup_(build_closep) kb_build *b = calloc(1, sizeof *b);
	int r;

	if (!b)
		return kb_err_oom(e, "build");
	b->o = o;
	b->state_dir = xstrdup(state_dir);
	b->snap = !o->bind_source;
	b->copy = copy_wanted(o);
	if (b->snap)
		out_status("Verifying Prerequisites....");
	if ((r = profile_load(".", o->user_host, &b->prof, e)) < 0 ||
	    (r = data_open_as(state_dir, b->prof, o->release ? o->release->data_format : DATA_FORMAT, true, &b->data, e)) < 0 ||
	    (r = find_image(b, e)) < 0)
		return r;
	for (size_t i = 0; o->release && i < o->release->n_copy_out; i++)
		if (pattern_add(&b->prof->rules.include, o->release->copy_out[i]) < 0)
			return kb_err_oom(e, "copy-out rules");
	const char *kco = getenv("KUBE_RUN_COPY_OUTPUT");
	if (!b->snap && kco && strcmp(kco, "y") && strcmp(kco, "Y"))    /* as the current build/run.sh says */
		out_warn("KUBE_RUN_COPY_OUTPUT means nothing with --source bind: the build writes the checkout itself");
	out_verbose("image %s (%zu layers), state %s, profile %s%s", b->ref, b->img->n_layers, b->data->dir,
		    b->prof->name, b->prof->from_file ? " (kbuild-ns.conf)" : "");
	*ret = steal_ptr(b);
	return 0;
}

int build_open_existing(const char *state_dir, kb_build **ret, kb_error *e)
{
	static const build_opts copy_only = { .no_wait = false };
	_cleanup_(build_closep) kb_build *b = calloc(1, sizeof *b);
	int r;

	if (!b)
		return kb_err_oom(e, "build");
	b->o = &copy_only;
	b->state_dir = xstrdup(state_dir);
	b->snap = b->copy = true;
	b->use_range = data_find_range(&b->range);
	if ((r = profile_load(".", false, &b->prof, e)) < 0 || (r = data_open(state_dir, b->prof, false, &b->data, e)) < 0)
		return r;
	struct stat st;
	if (b->data->dirfd < 0 || stat(b->data->snapshot, &st) < 0)
		return kb_errx(e, ENOENT, "no build state for checkout %s; run kbuild-ns make first", b->prof->checkout);
	/* Not while a build writes the snapshot. */
	if ((r = data_lock(b->data, true, out_notify, e)) < 0)
		return r;
	*ret = steal_ptr(b);
	return 0;
}

/* ---- prepare ---- */

/* The id mapping, as recorded in the data sandbox: --user host maps only
 * the caller's own id, which every mode maps too, so it may share any
 * data layer (""). */
static void choose_ids(kb_build *b, char idmap[96])
{
	b->use_range = !b->o->user_host && data_find_range(&b->range);
	snprintf(idmap, 96, "%s", b->o->user_host ? "" : "single");
	if (b->use_range) {
		snprintf(idmap, 96, "range:%lu:%lu", b->range.uid_start, b->range.uid_count);
		out_verbose("ids: root inside is uid %u outside, ids 1-%lu are %lu-%lu (/etc/subuid, newuidmap)",
			    (unsigned)getuid(), b->range.uid_count, b->range.uid_start,
			    b->range.uid_start + b->range.uid_count - 1);
	} else {
		out_verbose("ids: single mapping, %s inside is uid %u outside", b->o->user_host ? "the same uid" : "root",
			    (unsigned)getuid());
	}
}

/* The build sandbox's spec: the image's layers (top first) under the
 * data layer; the tree first among the binds, so that later --bind mounts
 * may cover parts of it. */
static int make_spec(kb_build *b, kb_error *e)
{
	static char *shell_argv[] = { "/bin/sh", "-c",
		"if command -v bash >/dev/null 2>&1; then exec bash; else exec sh; fi", NULL };
	const image_rec *img = b->img;

	if (!(b->lowers = calloc(img->n_layers, sizeof *b->lowers)))
		return kb_err_oom(e, "build");
	for (size_t i = 0; i < img->n_layers; i++)    /* the record lists bottom first */
		b->lowers[i] = xasprintf("%s/layers/%s", b->store->root, img->layers[img->n_layers - 1 - i].diff_id.hex);
	if (b->o->n_binds + 1 > ARRAY_SIZE(b->binds))
		return kb_errx(e, E2BIG, "too many --bind options");
	b->binds[0] = (rt_bind){ .src = b->snap ? b->data->snapshot : b->prof->checkout, .dst = b->prof->workdir };
	memcpy(b->binds + 1, b->o->binds, b->o->n_binds * sizeof *b->binds);
	(void)gethostname(b->hostname, sizeof b->hostname - 1);
	if (b->o->release)
		snprintf(b->hostname, sizeof b->hostname, "%s", b->o->release->hostname);
	b->spec = (rt_spec){
		.lowers = (const char *const *)b->lowers, .n_lowers = img->n_layers, .upper = b->data->upper,
		.work = b->data->work, .rootdir = b->data->root, .binds = b->binds, .n_binds = b->o->n_binds + 1,
		.argv = b->o->shell ? shell_argv : b->o->argv, .cwd = b->prof->workdir, .hostname = b->hostname,
		.user_host = b->o->user_host, .net_host = b->o->net_host, .no_seccomp = b->o->no_seccomp,
		.tty = !b->o->release && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO), .uid = getuid(), .gid = getgid(),
		.volatile_upper = true, .range = b->use_range ? &b->range : NULL,
	};
	return 0;
}

/* The data sandbox's one-time init: the profile applied to a fresh data
 * layer by our own code, as root in the build sandbox (data_init_run). */
static int init_data(kb_build *b, kb_error *e)
{
	_cleanup_free_ char *tz = NULL;
	size_t tz_len = 0;
	int status = 0, r;

	out_status("Preparing the data sandbox %s-%s", b->data->key, b->data->version);
	if ((r = data_reset(b->data, e)) < 0)
		return r;
	/* Timestamps in the build's logs in the host's zone (the classic
	 * image copies /etc/localtime in). */
	if (b->o->release || read_file_at(AT_FDCWD, "/etc/localtime", 1 << 20, &tz, &tz_len) < 0)
		tz = NULL;
	data_init d = { .kube = b->prof->kube, .workdir = b->prof->workdir, .localtime = tz, .localtime_len = tz_len };
	rt_spec spec = b->spec;
	spec.binds = NULL;
	spec.n_binds = 0;
	spec.argv = NULL;
	spec.tty = spec.user_host = false;
	spec.no_seccomp = true;
	/* Not volatile: the kernel leaves a mark in work/ behind a volatile
	 * mount that refuses the next mount until removed, and the build's
	 * own mount follows at once; the init's few files may as well be
	 * synced. */
	spec.volatile_upper = false;
	spec.cwd = "/";
	spec.fn = data_init_run;
	spec.fn_arg = &d;
	if ((r = rt_run(&spec, &status, NULL, e)) < 0)
		return r;
	if (status != 0)
		return kb_errx(e, EIO, "init of the data layer in %s: exit status %d", b->data->dir, status);
	return data_mark_ready(b->data, b->prof->name, e);
}

int build_prepare(kb_build *b, kb_error *e)
{
	char idmap[96];
	bool reset;
	int r;

	choose_ids(b, idmap);
	if ((r = data_lock(b->data, !b->o->no_wait, out_notify, e)) < 0 || (r = data_prepare(b->data, idmap, &reset, e)) < 0)
		return r;
	b->prepared = true;
	if (reset)
		out_warn("the data layer of this checkout was reset (a host restart during a run, or a new id mapping)");
	if ((r = make_spec(b, e)) < 0)
		return r;
	if ((r = build_env(b, e)) < 0)
		return r;
	b->spec.envp = b->env.v;
	if (b->o->no_seccomp)
		out_warn("--seccomp=unconfined: the sandbox has no system call filter");
	else if ((b->bpf = seccomp_blob(b->state_dir, &b->spec.seccomp_len)))
		b->spec.seccomp_bpf = b->bpf;
	/* A release starts from an empty data layer and snapshot, and runs
	 * the init itself (build_init) after its preflight. */
	if (b->o->release)
		return data_clear(b->data, e);
	if (b->snap && !data_ready(b->data))
		return init_data(b, e);
	return 0;
}

int build_init(kb_build *b, kb_error *e)
{
	return b->snap && !data_ready(b->data) ? init_data(b, e) : 0;
}

/* ---- sync in, run, copy out, record ---- */

/* Classic build/common.sh writes the host's version file into the tree
 * that goes in; we copy the one KUBE_GIT_VERSION_FILE names. */
static int put_version_file(kb_build *b, kb_error *e)
{
	const char *src = getenv("KUBE_GIT_VERSION_FILE");
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r;

	if (!src || !*src)
		return 0;
	if ((r = read_file_at(AT_FDCWD, src, 1 << 20, &text, &len)) < 0)
		return kb_err(e, -r, "KUBE_GIT_VERSION_FILE %s", src);
	_cleanup_close_ int sfd = open(b->data->snapshot, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0)
		return kb_err(e, errno, "%s", b->data->snapshot);
	if ((r = write_file_atomic(sfd, ".dockerized-kube-version-defs", text, len)) < 0)
		return kb_err(e, -r, "%s/.dockerized-kube-version-defs", b->data->snapshot);
	return 0;
}

int build_sync_in(kb_build *b, kb_error *e)
{
	int r;
	if (!b->snap)
		return 0;
	out_status("Syncing sources to the snapshot");
	if ((r = sync_pass(b, false, e)) < 0 || (r = put_version_file(b, e)) < 0)
		return r;
	out_status(b->copy ? "Output from this build will be copied back upon completion. "
			     "Set KUBE_RUN_COPY_OUTPUT=n to disable."
			   : "Output from this build will NOT be copied back. Set KUBE_RUN_COPY_OUTPUT=y to enable.");
	return 0;
}

int build_run(kb_build *b, int *ret_status, kb_error *e)
{
	rt_info info;
	int r;

	if (b->snap)
		out_status("Running build command...");
	if ((r = rt_run(&b->spec, ret_status, &info, e)) < 0)
		return r;
	if (info.range_failed)
		out_warn("the subordinate id range was refused (%s); ran with the single-id mapping", info.range_err.msg);
	return 0;
}

int build_setenv(kb_build *b, const char *name, const char *value, kb_error *e)
{
	int r = env_set(&b->env, name, value, e);
	b->spec.envp = b->env.v;
	return r;
}

int build_run_argv(kb_build *b, char *const *argv, const rt_bind *extra, size_t n_extra, int *ret_status,
		   kb_error *e)
{
	size_t n = b->spec.n_binds;
	if (n + n_extra > ARRAY_SIZE(b->binds))
		return kb_errx(e, E2BIG, "too many binds");
	memcpy(b->binds + n, extra, n_extra * sizeof *extra);
	rt_spec saved = b->spec;
	rt_info info;
	b->spec.argv = argv;
	b->spec.n_binds = n + n_extra;
	int r = rt_run(&b->spec, ret_status, &info, e);
	b->spec = saved;
	/* A volatile overlay leaves a mark that refuses the next mount
	 * (data.h): the next step mounts the same layer. */
	data_done(b->data);
	if (r == 0 && info.range_failed)
		out_warn("the subordinate id range was refused (%s); ran with the single-id mapping", info.range_err.msg);
	return r;
}

void build_get_facts(const kb_build *b, build_facts *ret)
{
	*ret = (build_facts){ .checkout = b->prof->checkout, .workdir = b->prof->workdir, .snapshot = b->data->snapshot,
			      .image_ref = b->ref, .image = b->img, .store = b->store, .env = b->env.v };
}

int build_discard(kb_build *b, kb_error *e)
{
	return data_clear(b->data, e);
}

int build_copy_out(kb_build *b, kb_error *e)
{
	if (!b->copy)
		return 0;
	out_status("Copying output back to the checkout");
	return sync_pass(b, true, e);
}

static char *join_argv(char *const *argv)
{
	size_t n = 1;
	for (size_t i = 0; argv[i]; i++)
		n += strlen(argv[i]) + 1;
	char *s = malloc(n), *q = s;
	if (!s)
		return NULL;
	*s = 0;
	for (size_t i = 0; argv[i]; i++)
		q += sprintf(q, "%s%s", i ? " " : "", argv[i]);
	return s;
}

int build_record(kb_build *b, int status, kb_error *e)
{
	_cleanup_free_ char *what = b->o->shell ? xstrdup("shell") : join_argv(b->o->argv);
	if (!what)
		return kb_err_oom(e, "state record");
	return data_write_meta(b->data, b->prof, b->ref, b->img->id.hex, what, status, e);
}

void build_close(kb_build *b)
{
	if (!b)
		return;
	if (b->prepared)
		data_done(b->data);
	env_free(&b->env);
	for (size_t i = 0; b->lowers && i < b->img->n_layers; i++)
		free(b->lowers[i]);
	free(b->lowers);
	free(b->bpf);
	free(b->ref);
	image_rec_free(b->img);
	store_close(b->store);
	data_free(b->data);
	profile_free(b->prof);
	free(b->state_dir);
	free(b);
}
