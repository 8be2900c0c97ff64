/* One build (build.h): the pipeline, the build sandbox's spec and
 * environment, and the sync sandbox around build/sync.c. */
#include "build/build.h"
#include "build/buildimage.h"
#include "build/data.h"
#include "build/flatroot.h"
#include "build/ondemand.h"
#include "build/profile.h"
#include "build/sync.h"
#include "build/version.h"
#include "base/progress.h"
#include "base/words.h"
#include "image/image.h"
#include "runtime/isolate.h"
#include "runtime/runns.h"
#include "runtime/seccomp-filter.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <linux/magic.h>
#include <sys/syscall.h>

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
	char *cwd;                   /* the command's directory inside, when below the workdir */
	char *state_dir;
	kb_profile *prof;
	kb_data *data;
	kb_store *store;
	image_rec *img;
	char *ref;                   /* the image reference asked for */
	char *version_file;          /* KUBE_GIT_VERSION_FILE's text, or NULL */
	size_t version_len;
	char **image_env;            /* the image's config Env */
	size_t n_image_env;
	kb_buildimage *plan;         /* the tree's Dockerfile with that Env, or NULL */
	bool snap;                   /* the build works on the snapshot */
	bool copy;                   /* copy out after a success */
	bool prepared;               /* the data layer is in use: data_done at close */
	bool sync_beside;            /* sync-in left for build_run, beside the sandbox's start */
	version_job *vjob;           /* the version file, when sync_beside */
	bool flat;                   /* the state directory is on overlayfs: a copied root (flatroot.h) */
	bool flat_fresh;             /* that copy was just made: nothing ran in it yet */
	bool flat_layers;            /* ... because the image's layers are in OCI form (flat_layers) */
	bool use_range;
	rt_idrange range;
	rt_runns ns;                 /* the run's user namespace (runns.h) */
	struct out_ahead *ahead;     /* the copy-out's sandbox, made while the build runs */
	sync_seen *seen;             /* the snapshot's listings, for copy-out and the next sync-in, or NULL */
	uint64_t seen_reused;        /* listings the sync-in took from the last one's (seen_save) */
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

static const char *env_get(const envv *ev, const char *name)
{
	size_t kl = strlen(name);
	for (size_t i = 0; i < ev->n; i++)
		if (!strncmp(ev->v[i], name, kl) && ev->v[i][kl] == '=')
			return ev->v[i] + kl + 1;
	return NULL;
}

/* The snapshot is a copy: each of its files has another inode and ctime
 * than the checkout's .git/index records, and another owner as seen from
 * inside.  So git in the build (the version step runs `git status`) took
 * every file for changed, read them all again and rewrote .git/index, and
 * the next sync-in put the checkout's index back, for the same to happen
 * at every build.  With core.checkStat=minimal and core.trustctime=false
 * git compares only the size and the mtime, which sync-in keeps
 * (git-config(1)).  Added to any GIT_CONFIG_COUNT the image sets; older
 * git (before 2.31) ignores them. */
static int git_stat_env(kb_build *b, kb_error *e)
{
	static const char *const kv[][2] = { { "core.checkStat", "minimal" }, { "core.trustctime", "false" } };
	_cleanup_free_ char *git = xasprintf("%s/.git", b->prof->checkout);
	const char *c = env_get(&b->env, "GIT_CONFIG_COUNT");
	int n = c ? atoi(c) : 0, r = 0;
	char name[40], count[16];

	if (access(git, F_OK) < 0)
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(kv) && r == 0; i++, n++) {
		snprintf(name, sizeof name, "GIT_CONFIG_KEY_%d", n);
		r = env_set(&b->env, name, kv[i][0], e);
		snprintf(name, sizeof name, "GIT_CONFIG_VALUE_%d", n);
		if (r == 0)
			r = env_set(&b->env, name, kv[i][1], e);
	}
	snprintf(count, sizeof count, "%d", n);
	return r < 0 ? r : env_set(&b->env, "GIT_CONFIG_COUNT", count, e);
}

/* The image's Env, as a container runtime starts from it. */
static int load_image_env(kb_build *b, kb_error *e)
{
	_cleanup_free_ char *cfg = NULL;
	size_t len, i;
	json_t *v;
	int r;

	if ((r = store_read_blob(b->store, &b->img->id, MAX_CONFIG, &cfg, &len, e)) < 0)
		return r;
	json_t *j = json_loadb(cfg, len, 0, NULL);
	json_t *env = json_object_get(json_object_get(j, "config"), "Env");
	b->image_env = calloc(json_array_size(env) + 1, sizeof *b->image_env);
	if (!b->image_env)
		r = kb_err_oom(e, "image config");
	json_array_foreach(env, i, v)
		if (r == 0 && json_is_string(v) && strchr(json_string_value(v), '='))
			b->image_env[b->n_image_env++] = xstrdup(json_string_value(v));
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

/* Where the build's KUBE_GIT_VERSION_FILE points: the tree's Dockerfile
 * sets it (ENV); the built-in kube steps set it as every era's kube-build
 * image did, when there is a version to put there.  Not with --source
 * bind: there is no snapshot to put it in. */
static const char *version_file(const kb_build *b)
{
	for (size_t i = 0; i < b->env.n; i++)
		if (!strncmp(b->env.v[i], "KUBE_GIT_VERSION_FILE=", 22))
			return b->env.v[i] + 22;
	return NULL;
}

/* In order, each later one winning: a PATH, the image's Env, the tree's
 * Dockerfile's ENV (or, without one, the profile's built-in variables:
 * kube: KUBE_OUTPUT_SUBPATH, TMPDIR, as the kube-build image sets them on
 * top of kube-cross), kbuild-ns.conf's env lines, git's stat settings on
 * a snapshot, the allow-list, HOME, HOSTNAME, TERM on a terminal, -e; a
 * release's tools first on PATH. */
static int build_env(kb_build *b, kb_error *e)
{
	const kb_profile *p = b->prof;
	char host[256] = "";
	size_t i;
	int r;

	if ((r = env_set(&b->env, "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", e)) < 0)
		return r;
	for (i = 0; i < b->n_image_env && r == 0; i++)
		r = env_put(&b->env, b->image_env[i], e);
	for (i = 0; b->plan && i < b->plan->n_env && r == 0; i++)
		if (b->snap || strncmp(b->plan->env[i], "KUBE_GIT_VERSION_FILE=", 22))
			r = env_put(&b->env, b->plan->env[i], e);
	for (i = 0; i < p->n_env && r == 0; i++)
		r = env_put(&b->env, p->env[i], e);
	if (r == 0 && b->snap)
		r = git_stat_env(b, e);
	for (i = 0; i < ARRAY_SIZE(allow) && r == 0; i++)
		r = pass_host(&b->env, allow[i], e);
	for (i = 0; i < p->n_pass && r == 0; i++)
		r = pass_host(&b->env, p->pass[i], e);
	if (r == 0 && !b->plan && p->kube && b->snap && (p->version_step || getenv("KUBE_GIT_VERSION_FILE"))) {
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
	struct timespec mark;       /* sync-in: the last sync's mark (data_sync_mark) */
	const char *checkout;
	sync_seen *seen;            /* sync-in writes it, copy-out reads it (sync-seen.h) */
} sync_job;

/* Runs inside the sync sandbox; the stats come back in the shared area. */
static int sync_fn(void *arg, const int *fds, void *shared, kb_error *e)
{
	const sync_job *j = arg;
	sync_opts o = { .rules = j->rules, .log = j->log, .resend_since = j->out ? NULL : &j->mark,
			.dst_path = j->out ? j->checkout : NULL, .seen = j->seen };
	return j->out ? sync_copy_out(fds[0], fds[1], &o, shared, e) : sync_mirror(fds[0], fds[1], &o, shared, e);
}

/* A pass's job and directories.  It sees the two trees and nothing
 * else of the host, the one it reads read-only: sync-in cannot touch the
 * checkout, copy-out cannot change the snapshot it reads. */
static void sync_setup(const kb_build *b, bool out, sync_job *j, rt_iso_dir dirs[2])
{
	const kb_data *d = b->data;
	const char *v = getenv("KUBE_VERBOSE");
	dirs[0] = (rt_iso_dir){ .path = out ? d->snapshot : b->prof->checkout, .ro = true };
	dirs[1] = (rt_iso_dir){ .path = out ? b->prof->checkout : d->snapshot, .ro = false };
	/* build/common.sh adds rsync's -iv at KUBE_VERBOSE >= 6. */
	*j = (sync_job){ .rules = &b->prof->rules, .log = v && atoi(v) >= 6 ? out_change : NULL, .out = out,
			 .checkout = b->prof->checkout, .seen = b->seen };
}

/* The copy-out's sync sandbox, made while the build runs (build_run's
 * after_start): forking it, joining the run's user namespace, making its
 * mount namespace and cloning the two trees are then done when the build
 * ends, and only the walk is left (rt_isolate_ahead). */
typedef struct out_ahead {
	rt_iso_ahead iso;
	sync_job job;
	sync_stats *stats;           /* shared with the child */
} out_ahead;

static void copy_out_ahead(void *arg)
{
	kb_build *b = arg;
	rt_iso_dir dirs[2];
	if (!b->copy || b->ahead || b->ns.fd < 0)
		return;
	out_ahead *a = calloc(1, sizeof *a);
	if (!a || !(a->stats = rt_iso_shared(sizeof *a->stats))) {
		free(a);
		return;    /* made when it is needed, as without */
	}
	sync_setup(b, true, &a->job, dirs);
	rt_isolate_ahead(&a->iso, &b->ns, dirs, 2, sync_fn, &a->job, a->stats);
	b->ahead = a;
}

/* build_run's after_start: what the monitor does while the build runs.
 * The copy-out's sandbox is made ahead first (its child then sets itself
 * up on the other core), then the listings of this sync-in go to the
 * state directory for the next one (sync-seen.h). */
static void while_building(void *arg)
{
	kb_build *b = arg;
	copy_out_ahead(b);
	if (b->seen)
		data_seen_save(b->data, b->seen, b->seen_reused);
}

/* The sandbox made ahead: run (copy-out) or ended unused. */
static int ahead_go(kb_build *b, bool run, sync_stats *st, bool *isolated, kb_error *e)
{
	out_ahead *a = b->ahead;
	bool iso;
	kb_error ignored = { 0 };
	int r = rt_isolate_go(&a->iso, run, isolated ? isolated : &iso, run ? e : &ignored);
	if (st)
		*st = *a->stats;
	rt_iso_shared_free(a->stats, sizeof *a->stats);
	free(a);
	b->ahead = NULL;
	return run ? r : 0;
}

/* One pass in a fresh sync sandbox (or, for copy-out, the one made
 * ahead), in the run's user namespace or, mapped, one with the range. */
static int sync_once(kb_build *b, bool out, bool mapped, sync_stats *st, bool *isolated, kb_error *e)
{
	rt_iso_dir dirs[2];
	sync_job j;
	int r;

	if (out && !mapped && b->ahead)
		return ahead_go(b, true, st, isolated, e);
	/* Without it, every directory is listed.  Loaded here by sync-in,
	 * or by copy-out when no sync-in came first (kbuild-ns copy-output). */
	if (!b->seen && (b->seen = seen_new()))
		data_seen_load(b->data, b->seen);
	sync_setup(b, out, &j, dirs);
	if (!out && (r = data_sync_mark(b->data, &j.mark)) < 0)
		return kb_err(e, -r, "state %s: the sync mark", b->data->dir);
	sync_stats *sh = rt_iso_shared(sizeof *sh);
	if (!sh)
		return kb_err(e, errno, "sync sandbox");
	r = mapped ? rt_isolate(dirs, 2, &b->range, sync_fn, &j, sh, isolated, e)
		   : rt_isolate_in(&b->ns, dirs, 2, sync_fn, &j, sh, isolated, e);
	*st = *sh;
	rt_iso_shared_free(sh, sizeof *sh);
	return r;
}

/* In the run's user namespace.  Files of subordinate ids (a
 * range-mapped build that ran something as another user, or unpacked a
 * tar as root) are out of reach of the caller's own ids: without that
 * namespace's range, on EACCES/EPERM once more with the range mapped. */
static int sync_pass(kb_build *b, bool out, kb_error *e)
{
	const char *what = out ? "copy-out" : "sync-in";
	sync_stats st = { 0 };
	bool isolated = false, mapped = false;
	int r = sync_once(b, out, false, &st, &isolated, e);
	bool wrote = st.copied || st.modes;
	bool ns_range = b->ns.fd >= 0 && b->use_range && !b->ns.range_failed;
	if (r < 0 && b->use_range && !ns_range && (e->errnum == EACCES || e->errnum == EPERM)) {
		*e = (kb_error){ 0 };
		mapped = true;
		r = sync_once(b, out, true, &st, &isolated, e);
		wrote = wrote || st.copied || st.modes;
	}
	/* The files this sync wrote have the sync's ctime: the mark goes
	 * past it, so that the next sync-in resends only what the build
	 * changed after (sync.h, resend_since). */
	if (r == 0 && !out && wrote)
		r = data_set_sync_mark(b->data, e);
	if (r == 0 && !out)
		b->seen_reused = st.reused;
	if (r < 0) {
		/* The sync names only the file: a full or read-only disk is
		 * the tree's, so name that (copy-out writes the checkout,
		 * sync-in the state directory). */
		if (disk_write_error(e->errnum))
			kb_err_prefix(e, "%s %s", out ? "checkout" : "state directory", out ? b->prof->checkout : b->state_dir);
		kb_err_prefix(e, "%s", what);
		return r;
	}
	char reused[128] = "";
	if (st.reused)
		/* sync-in counts a listing per side, the checkout's and the
		 * snapshot's; copy-out reads the snapshot only. */
		snprintf(reused, sizeof reused, "; %llu %s not read again: as %s sync-in left %s",
			 (unsigned long long)st.reused,
			 out ? plural(st.reused, "directory", "directories")
			     : plural(st.reused, "directory listing", "directory listings"),
			 out && b->seen && seen_finished(b->seen) ? "the" : "the last", st.reused == 1 ? "it" : "them");
	out_verbose("%s: %llu %s checked, %llu copied (%llu %s), %llu deleted%s%s", what, (unsigned long long)st.checked,
		    plural(st.checked, "entry", "entries"), (unsigned long long)st.copied, (unsigned long long)st.bytes,
		    plural(st.bytes, "byte", "bytes"), (unsigned long long)st.deleted, reused,
		    !isolated ? " (no user namespaces: in process)" :
		    mapped ? " (files of subordinate ids: with the range mapped)" : "");
	if (st.skipped)
		out_warn("%s: %llu entr%s skipped (special files, or a file on the host where the build has a "
			 "directory)", what, (unsigned long long)st.skipped, st.skipped == 1 ? "y" : "ies");
	return 0;
}

/* ---- open ---- */

/* The image: the reference asked for, or, for the base image the tree's
 * Dockerfile names, also its short form ("gcr.io/google_containers/
 * kube-cross:TAG" is found as "kube-cross:TAG", the name
 * images/kube-cross/build.sh gives it). */
static int find_image(kb_build *b, kb_error *e)
{
	pull_policy pol;
	int r;
	b->ref = profile_image_ref(b->prof, b->o->image);
	if (!b->ref)
		return kb_errx(e, EINVAL, "no image: this checkout has no build/build-image/cross/VERSION; "
			       "give --image REF, set KBUILD_NS_IMAGE, or put image = REF in kbuild-ns.conf");
	if ((r = ondemand_policy(b->o, &pol, e)) < 0)
		return r;
	/* The store lock only while we find the image; the image's own lock
	 * for the whole build: its layers stay while the overlay uses them
	 * (`image rm` of it waits), and nothing else waits for us. */
	if ((r = store_open(b->state_dir, LOCK_SH, out_notify, &b->store, e)) < 0)
		return r;
	if (pol == PULL_ALWAYS && (r = ondemand_pull(b->state_dir, b->o, b->prof, b->ref, e)) < 0)
		return r;
	r = image_find(b->store, b->ref, &b->img, e);
	const char *alt = profile_image_alt(b->prof, b->ref);
	if (r < 0 && e->errnum == ENOENT && alt) {
		*e = (kb_error){ 0 };
		if ((r = image_find(b->store, alt, &b->img, e)) == 0) {
			free(b->ref);
			b->ref = xstrdup(alt);
		}
	}
	if (r < 0 && e->errnum == ENOENT && pol == PULL_MISSING) {
		*e = (kb_error){ 0 };
		if ((r = ondemand_pull(b->state_dir, b->o, b->prof, b->ref, e)) < 0)
			return r;
		r = image_find(b->store, b->ref, &b->img, e);
	}
	if (r < 0) {
		if (e->errnum == ENOENT) {
			char near[512];
			*e = (kb_error){ 0 };
			const char *name = alt ? alt : b->ref;
			if (image_suggest(b->store, b->ref, near, sizeof near))
				return kb_errx(e, ENOENT, "image %s: not found; did you mean %s? (or import it: "
					       "kbuild-ns image import ARCHIVE --name %s)", b->ref, near, name);
			return kb_errx(e, ENOENT, "image %s%s%s%s: not found; import it first: "
				       "kbuild-ns image import ARCHIVE --name %s", b->ref, alt ? " (or " : "",
				       alt ? alt : "", alt ? ")" : "", name);
		}
		return r;
	}
	if (b->img->n_layers == 0)
		return kb_errx(e, EINVAL, "image %s: has no layers", b->ref);
	if ((r = store_use_image(b->store, &b->img->id, b->prof->checkout, e)) < 0)
		return r;
	store_unlock(b->store);
	return 0;
}

/* Is path below dir (or dir itself)?  Both physical; *rel gets the rest
 * ("" for dir itself). */
static bool below(const char *path, const char *dir, const char **rel)
{
	size_t n = strlen(dir);
	if (!strcmp(dir, "/")) {
		*rel = path + 1;
		return true;
	}
	if (strncmp(path, dir, n) || (path[n] != '/' && path[n] != 0))
		return false;
	*rel = path[n] ? path + n + 1 : path + n;
	return true;
}

/* rel as an anchored directory rule pattern that matches only itself:
 * rsync (and filter.h) reads a backslash as an escape only in a pattern
 * with one of "*?[", so only then are those and the backslash escaped. */
static char *literal_pattern(const char *rel)
{
	bool wild = strpbrk(rel, "*?[") != NULL;
	char *out = malloc(2 * strlen(rel) + 3), *q = out;
	if (!out)
		return NULL;
	*q++ = '/';
	for (const char *c = rel; *c; c++) {
		if (wild && strchr("*?[\\", *c))
			*q++ = '\\';
		*q++ = *c;
	}
	*q++ = '/';
	*q = 0;
	return out;
}

/* Put rules before every rule of l: the first matching rule decides, so
 * nothing the tree's own rules say can override them. */
static int rules_first(filter_list *l, const char *const *rules, size_t n, const char *origin, kb_error *e)
{
	filter_list nl = { 0 };
	int r = 0;

	for (size_t i = 0; i < n && r == 0; i++)
		r = filter_add(&nl, rules[i], origin, e);
	if (r < 0 || (r = filter_append(&nl, l, e)) < 0) {
		filter_list_free(&nl);
		return r;
	}
	filter_list_free(l);
	*l = nl;
	return 0;
}

/* A state directory inside the checkout (`kbuild-ns run` in $HOME with
 * the default ~/.local/share/kbuild-ns, or a relative --state-dir) holds
 * the snapshot, so a sync-in would copy the state into the snapshot,
 * which is inside it, and so on until ENAMETOOLONG.  It is left out of
 * the sync both ways, as an anchored exclude: never sent, never deleted,
 * and never written by copy-out (which would let the build write into
 * the store).  --source bind gives the build the checkout itself, store
 * included: refused. */
/* realpath(3) of a path that may not exist yet (the state directory is
 * made only by build_prepare, after this check): the longest existing
 * prefix resolved, the rest appended as given.  NULL when out of memory
 * or when not even "." resolves. */
static char *real_path_to_be(const char *path)
{
	_cleanup_free_ char *head = xstrdup(path);
	const char *rest = "";
	char *real = NULL, *slash, *full;

	while (!(real = realpath(head[0] ? head : "/", NULL))) {
		if (!(slash = strrchr(head, '/'))) {
			rest = path;                  /* relative, nothing of it exists */
			real = realpath(".", NULL);
			break;
		}
		*slash = '\0';
		rest = path + (slash - head) + 1;
	}
	if (!real || !rest[0])
		return real;
	if (asprintf(&full, "%s/%s", strcmp(real, "/") ? real : "", rest) < 0)
		full = NULL;
	free(real);
	return full;
}

static int keep_state_out(kb_build *b, kb_error *e)
{
	_cleanup_free_ char *sd = real_path_to_be(b->state_dir);
	const char *rel, *co = b->prof->checkout;
	int r;

	if (!sd)
		return kb_err_oom(e, "state directory");
	if (below(co, sd, &rel) && rel[0])
		return kb_errx(e, EINVAL, "checkout %s is inside the state directory %s: "
			       "move the checkout, or give another --state-dir", co, sd);
	if (!below(sd, co, &rel))
		return 0;
	if (!rel[0])
		return kb_errx(e, EINVAL, "state directory %s is the checkout itself: give another --state-dir", sd);
	if (!b->snap)
		return kb_errx(e, EINVAL, "state directory %s is inside the checkout, which --source bind lets the "
			       "build write: give a --state-dir outside it, or leave out --source bind", sd);
	_cleanup_free_ char *pat = literal_pattern(rel);
	if (!pat)
		return kb_err_oom(e, "sync rules");
	_cleanup_free_ char *rule = xasprintf("- %s", pat);
	const char *const rules[] = { rule };
	if ((r = rules_first(&b->prof->rules.in, rules, 1, "the state directory", e)) < 0 ||
	    (r = rules_first(&b->prof->rules.out, rules, 1, "the state directory", e)) < 0)
		return r;
	out_verbose("state directory %s is inside the checkout: left out of sync-in and copy-out", sd);
	return 0;
}

/* The host's KUBE_GIT_VERSION_FILE, for put_version_file: a file the
 * user names, so a FIFO or a directory there is an error, never a hang. */
static int read_version_file(kb_build *b, kb_error *e)
{
	const char *src = getenv("KUBE_GIT_VERSION_FILE");
	int r;

	if (!b->snap || !src || !*src)
		return 0;
	if ((r = read_file_at(AT_FDCWD, src, 1 << 20, &b->version_file, &b->version_len)) < 0)
		return kb_errx(e, -r, "KUBE_GIT_VERSION_FILE %s: %s", src, read_file_strerror(r));
	return 0;
}

/* The tree's Dockerfile again, now with the base image's Env; what it
 * says of the working directory and HOME wins over the profile's first
 * reading unless kbuild-ns.conf set them. */
static int plan_build_image(kb_build *b, kb_error *e)
{
	kb_profile *p = b->prof;
	int r;

	if (!p->dockerfile || !p->plan)
		return 0;
	if ((r = load_image_env(b, e)) < 0)
		return r;
	buildimage_args a = { .file = p->plan->file, .image_env = b->image_env, .n_image_env = b->n_image_env,
			      .cross_tag = p->cross_tag ? p->cross_tag : "" };
	if ((r = buildimage_plan(p->dockerfile, &a, &b->plan, e)) < 0)
		return r;
	const char *home = buildimage_getenv(b->plan, "HOME", NULL);
	if (b->plan->workdir && strncmp(p->workdir_from, "kbuild-ns.conf", 14)) {
		free(p->workdir);
		p->workdir = xstrdup(b->plan->workdir);
	}
	if (home && home[0] == '/' && strncmp(p->home_from, "kbuild-ns.conf", 14)) {
		free(p->home);
		p->home = xstrdup(home);
	}
	return 0;
}

/* At -v: where each rule comes from. */
static void say_profile(const kb_profile *p)
{
	if (out_verbosity() < 1)
		return;
	out_verbose("sync-in rules: %s; copy-out rules: %s; workdir %s (%s), HOME %s (%s)", p->rules_from[0],
		    p->rules_from[1], p->workdir, p->workdir_from, p->home, p->home_from);
	for (size_t i = 0; i < p->n_notes; i++)
		out_verbose("%s", p->notes[i]);
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

/* Layers unpacked in OCI form (on overlayfs) but a state directory
 * that is not (it was moved): overlayfs would show their ".wh." files,
 * so the copied root it is, which reads either form. */
static void flat_layers(kb_build *b)
{
	for (size_t i = 0; !b->flat && i < b->img->n_layers; i++) {
		_cleanup_free_ char *l = xasprintf("%s/layers/%s", b->store->root, b->img->layers[i].diff_id.hex);
		if (flatroot_layer_path_oci(l)) {
			b->flat = true;
			b->flat_layers = true;
		}
	}
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
	b->ns = (rt_runns)RT_RUNNS_INIT;
	if (b->snap)
		out_status("Verifying Prerequisites....");
	/* The state directory is made by build_prepare, not here: a run
	 * that fails before it starts leaves none behind. */
	if ((r = profile_load(".", o->user_host, &b->prof, e)) < 0)
		return r;
	if (kb_err_set(&b->prof->refusal)) {
		*e = b->prof->refusal;
		return -(e->errnum ? e->errnum : EINVAL);
	}
	say_profile(b->prof);
	/* A state directory on overlayfs (a container's root file system)
	 * takes no overlay upper layer: the build's root is then a copy of
	 * the image (flatroot.h, flat_root). */
	b->flat = data_on_overlayfs(state_dir);
	if ((r = read_version_file(b, e)) < 0 ||
	    (r = data_open_as(state_dir, b->prof, o->release ? o->release->data_format : DATA_FORMAT, false, &b->data,
			      e)) < 0 ||
	    (r = keep_state_out(b, e)) < 0 || (r = find_image(b, e)) < 0 || (r = plan_build_image(b, e)) < 0)
		return r;
	if (!b->plan && (r = load_image_env(b, e)) < 0)
		return r;
	flat_layers(b);
	if (o->release && (r = rules_first(&b->prof->rules.out, o->release->copy_out, o->release->n_copy_out,
					   "kbuild-ns release", e)) < 0)
		return r;
	const char *kco = getenv("KUBE_RUN_COPY_OUTPUT");
	if (!b->snap && kco && strcmp(kco, "y") && strcmp(kco, "Y"))    /* as the current build/run.sh says */
		out_warn("KUBE_RUN_COPY_OUTPUT means nothing with --source bind: the build writes the checkout itself");
	out_verbose("image %s (%zu %s), state %s, profile %s%s", b->ref, b->img->n_layers,
		    plural(b->img->n_layers, "layer", "layers"), b->data->dir,
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
	b->ns = (rt_runns)RT_RUNNS_INIT;
	b->use_range = data_find_range(&b->range);
	if ((r = profile_load(".", false, &b->prof, e)) < 0)
		return r;
	if (kb_err_set(&b->prof->refusal)) {
		*e = b->prof->refusal;
		return -(e->errnum ? e->errnum : EINVAL);
	}
	if ((r = data_open(state_dir, b->prof, false, &b->data, e)) < 0 || (r = keep_state_out(b, e)) < 0)
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
		out_verbose("ids: single mapping, %s inside is uid %u outside%s", b->o->user_host ? "the same uid" : "root",
			    (unsigned)getuid(), b->o->user_host ? "" :
			    "; the build has that one id, so a chown to any other (tar or apt-get as root, useradd) "
			    "fails: no subordinate ids (kbuild-ns doctor, subids)");
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
		.volatile_upper = true, .range = b->use_range ? &b->range : NULL, .userns = &b->ns,
	};
	return 0;
}

/* What the data layer's ready mark says it was initialised for: the
 * profile, and with the tree's Dockerfile a digest of its steps, so that
 * a changed Dockerfile initialises a fresh data layer. */
static char *ready_mark(const kb_build *b)
{
	return b->plan ? xasprintf("%s dockerfile %s", b->prof->name, b->plan->mark) : xstrdup(b->prof->name);
}

/* The state directory on overlayfs: the root is the data sandbox's copy
 * of the image's layers (flatroot.h says why), made when missing or made
 * from another image; a one-line warning when it is made, the details at
 * -v every time. */
static int flat_root(kb_build *b, kb_error *e)
{
	const image_rec *img = b->img;
	flatroot_stats st = { 0 };
	bool made;
	long ms = 0;
	int r;

	if (!b->flat)
		return 0;
	_cleanup_free_ const char **hex = calloc(img->n_layers + 1, sizeof *hex);
	_cleanup_free_ char *layers = xasprintf("%s/layers", b->store->root);
	if (!hex)
		return kb_err_oom(e, "build");
	for (size_t i = 0; i < img->n_layers; i++)
		hex[i] = img->layers[i].diff_id.hex;
	flatroot_args a = { .data = b->data, .layers_dir = layers, .layers = hex, .n_layers = img->n_layers,
			    .image_id = img->id.hex, .range = b->use_range ? &b->range : NULL };
	if ((r = flatroot_ensure(&a, &made, &st, &ms, e)) < 0)
		return r;
	bool said = b->spec.plain_root != NULL;
	b->spec.plain_root = b->data->rootfs;
	b->flat_fresh = made;
	if (made && b->flat_layers)
		out_warn("image %s: its layers were unpacked on overlayfs (whiteouts kept as .wh. files), which an "
			 "overlay cannot use: the build's root is a copy of the image (%.1f MB, made in %.1f s); "
			 "kbuild-ns image rm and import it again for the overlay", b->ref, st.bytes / 1e6, ms / 1e3);
	else if (made)
		out_warn("state directory %s is on overlayfs, which takes no overlay upper layer: the build's root is "
			 "a copy of the image (%.1f MB, made in %.1f s), its writes kept in the copy; put --state-dir "
			 "on a volume or an emptyDir for the overlay (kbuild-ns doctor)", b->state_dir,
			 st.bytes / 1e6, ms / 1e3);
	if (!said)
		out_verbose("root: a copy of the image's %zu %s in %s (%s)%s", img->n_layers,
			    plural(img->n_layers, "layer", "layers"), b->data->rootfs,
			    b->flat_layers ? "its layers are in OCI form, unpacked on overlayfs"
					   : "the state directory is on overlayfs, which the kernel refuses as an overlay "
					     "upper layer",
			    made ? "" : ", kept from an earlier run");
	if (made)
		out_verbose("copied root: %llu files (%llu bytes), %llu directories, %llu symlinks, %llu hard links, "
			    "%llu whiteouts and %llu opaque directories applied, in %ld ms",
			    (unsigned long long)st.files, (unsigned long long)st.bytes, (unsigned long long)st.dirs,
			    (unsigned long long)st.symlinks, (unsigned long long)st.hardlinks,
			    (unsigned long long)st.whiteouts, (unsigned long long)st.opaques, ms);
	return 0;
}

/* The data sandbox's one-time init, as root in the build sandbox: the
 * tree's Dockerfile (buildimage_init_run), or the profile's built-in
 * steps (data_init_run). */
static int init_data(kb_build *b, kb_error *e)
{
	_cleanup_free_ char *tz = NULL, *mark = ready_mark(b);
	size_t tz_len = 0;
	int status = 0, r;

	out_status("Preparing the data sandbox %s-%s", b->data->key, b->data->version);
	/* A copied root just made is as empty of writes as a reset makes it. */
	if (!b->flat_fresh && (r = data_reset(b->data, e)) < 0)
		return r;
	if ((r = flat_root(b, e)) < 0)
		return r;
	b->flat_fresh = false;
	/* Timestamps in the build's logs in the host's zone (the classic
	 * image copies /etc/localtime in). */
	if (!b->plan && !b->o->release && read_file_at(AT_FDCWD, "/etc/localtime", 1 << 20, &tz, &tz_len) < 0)
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
	if (b->plan) {
		/* RUN steps get the build's seccomp filter in their child. */
		b->plan->seccomp_bpf = b->spec.seccomp_bpf;
		b->plan->seccomp_len = b->spec.seccomp_len;
		b->plan->bind_workdir = b->prof->workdir;
		spec.fn = buildimage_init_run;
		spec.fn_arg = b->plan;
		out_verbose("data sandbox: the %zu steps of %s (%s)", b->plan->n_steps, b->plan->file, mark);
	}
	if ((r = rt_run(&spec, &status, NULL, e)) < 0)
		return r;
	if (status != 0)
		return kb_errx(e, EIO, "init of the data layer in %s: exit status %d", b->data->dir, status);
	return data_mark_ready(b->data, mark, e);
}

int build_prepare(kb_build *b, kb_error *e)
{
	char idmap[96];
	bool reset;
	int r;

	choose_ids(b, idmap);
	/* The spec and the environment first: a mistake there (-e =x) is
	 * found before the state directory is made. */
	if ((r = make_spec(b, e)) < 0 || (r = build_env(b, e)) < 0)
		return r;
	b->spec.envp = b->env.v;
	if ((r = data_create(b->data, e)) < 0 || (r = data_lock(b->data, !b->o->no_wait, out_notify, e)) < 0 ||
	    (r = data_prepare(b->data, idmap, &reset, e)) < 0)
		return r;
	b->prepared = true;
	if (reset)
		out_warn("the data layer of this checkout was reset (a host restart during a run, or a new id mapping)");
	if (b->o->no_seccomp)
		out_warn("--seccomp=unconfined: the sandbox has no system call filter");
	else if ((b->bpf = seccomp_blob(b->state_dir, &b->spec.seccomp_len)))
		b->spec.seccomp_bpf = b->bpf;
	/* A release starts from an empty data layer and snapshot, and runs
	 * the init itself (build_init) after its preflight. */
	if (b->o->release)
		return (r = data_clear(b->data, e)) < 0 ? r : flat_root(b, e);
	if ((r = flat_root(b, e)) < 0 || (r = build_init(b, e)) < 0) {
		if (disk_write_error(e->errnum))
			kb_err_prefix(e, "state directory %s", b->state_dir);
		return r;
	}
	return 0;
}

int build_init(kb_build *b, kb_error *e)
{
	_cleanup_free_ char *mark = ready_mark(b);
	return b->snap && !data_ready_for(b->data, mark) ? init_data(b, e) : 0;
}

/* ---- sync in, run, copy out, record ---- */

/* The version file (version.h): where the build's KUBE_GIT_VERSION_FILE
 * points, from the host's file (read by build_open, so that a wrong one
 * fails before anything is prepared) or the version step. */
static int version_job_open(kb_build *b, kb_error *e)
{
	version_args a = { .build = &b->spec, .data = b->data, .image_id = b->img->id.hex,
			   .checkout = b->prof->checkout, .root = b->prof->workdir,
			   .snapshot = b->data->snapshot, .file = version_file(b), .host_text = b->version_file,
			   .host_len = b->version_len, .step = b->prof->version_step, .image_env = b->image_env,
			   .n_image_env = b->n_image_env };
	return version_prepare(&a, &b->vjob, e);
}

static int put_version_file(kb_build *b, kb_error *e)
{
	int r = version_finish(b->vjob, e);
	/* The step ran on the data layer, mounted volatile: the kernel's
	 * mark would refuse the build's own mount. */
	if (r > 0)
		data_done(b->data);
	version_job_free(b->vjob);
	b->vjob = NULL;
	return r < 0 ? r : 0;
}

static void say_copy(const kb_build *b)
{
	out_status(b->copy ? "Output from this build will be copied back upon completion. "
			     "Set KUBE_RUN_COPY_OUTPUT=n to disable."
			   : "Output from this build will NOT be copied back. Set KUBE_RUN_COPY_OUTPUT=y to enable.");
}

static int sync_now(kb_build *b, kb_error *e)
{
	int r;
	out_status("Syncing sources to the snapshot");
	if ((r = sync_pass(b, false, e)) < 0 || (r = put_version_file(b, e)) < 0)
		return r;
	say_copy(b);
	return 0;
}

int build_sync_in(kb_build *b, kb_error *e)
{
	int r;
	if (!b->snap)
		return 0;
	return (r = version_job_open(b, e)) < 0 ? r : sync_now(b, e);
}

int build_sync_in_beside(kb_build *b, kb_error *e)
{
	int r;
	if (!b->snap)
		return 0;
	/* The version step reads the checkout, not the snapshot, so it is
	 * decided now.  When it must run it needs the data layer, which the
	 * build sandbox is about to mount; a command started in a
	 * subdirectory needs the synced snapshot to find it there
	 * (choose_cwd): then all is done here, in order. */
	if ((r = version_job_open(b, e)) < 0)
		return r;
	if (version_job_runs(b->vjob) || (b->prof->subdir[0] && !b->o->at_top))
		return sync_now(b, e);
	b->sync_beside = true;
	out_status("Syncing sources to the snapshot");
	say_copy(b);
	return 0;
}

/* build_run's before_start: the sync-in and the version file, while
 * init builds the root. */
static int sync_beside(void *arg, kb_error *e)
{
	kb_build *b = arg;
	int r = sync_pass(b, false, e);
	return r < 0 ? r : put_version_file(b, e);
}

/* Started in a subdirectory of the checkout: run and shell start in the
 * same subdirectory of the workdir, as a shell would; make starts at the
 * top, where the Makefile is, as build/run.sh make does from anywhere.  A
 * subdirectory the tree inside does not have (one sync-in leaves out,
 * such as _tmp/) means the top, with a warning. */
static void choose_cwd(kb_build *b)
{
	const char *sub = b->prof->subdir;
	if (!sub[0] || b->o->at_top)
		return;
	struct open_how how = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
				.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
	_cleanup_close_ int root = open(b->snap ? b->data->snapshot : b->prof->checkout,
					O_PATH | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int fd = root >= 0 ? (int)syscall(SYS_openat2, root, sub, &how, sizeof how) : -1;
	/* Without openat2 the check is left to the chdir inside, whose
	 * failure names the directory. */
	if (fd < 0 && errno != ENOSYS) {
		out_warn("%s is not in the tree the command sees; starting at the top of %s", sub, b->prof->workdir);
		return;
	}
	b->cwd = xasprintf("%s/%s", b->prof->workdir, sub);
	b->spec.cwd = b->cwd;
	out_verbose("working directory %s", b->cwd);
}

/* What the runtime had to do without, said once at -v. */
static void say_fallbacks(const rt_info *info)
{
	static bool said;
	if (info->proc_bound && !said)
		out_verbose("/proc: parts of this one are masked (as a container runtime does) and the kernel refuses a "
			    "fresh one, so the sandbox has the outer /proc, read-only, and no pid namespace of its own: "
			    "it sees the container's processes (kbuild-ns doctor, proc, says how to unmask /proc)");
	said = said || info->proc_bound;
	if (info->range_failed)
		out_warn("the subordinate id range was refused (%s); ran with the single-id mapping", info->range_err.msg);
}

int build_run(kb_build *b, int *ret_status, kb_error *e)
{
	rt_info info;
	int r;

	choose_cwd(b);
	if (b->snap)
		out_status("Running build command...");
	if (b->sync_beside) {
		b->spec.before_start = sync_beside;
		b->spec.before_arg = b;
	}
	if (b->snap) {
		b->spec.after_start = while_building;
		b->spec.after_arg = b;
	}
	r = rt_run(&b->spec, ret_status, &info, e);
	b->spec.before_start = NULL;
	b->spec.after_start = NULL;
	b->sync_beside = false;
	if (r < 0)
		return r;
	say_fallbacks(&info);
	/* The build writes the data layer and the snapshot, both in the
	 * state directory: when that is full, its own error messages (if
	 * any) name only its files. */
	struct statvfs sv;
	if (*ret_status != 0 && statvfs(b->data->dir, &sv) == 0 && (sv.f_bavail == 0 || (sv.f_files && sv.f_favail == 0)))
		out_warn("the state directory %s is full (no free %s): the build's writes there, to its data layer "
			 "and snapshot, may have failed for that", b->state_dir, sv.f_bavail == 0 ? "space" : "inodes");
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
	if (r == 0)
		say_fallbacks(&info);
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
	kb_error we = { 0 };
	int r = data_write_meta(b->data, b->prof, b->ref, b->img->id.hex, what, status, &we);
	/* The record is information only: a full state directory (which
	 * the build may have just filled) must not replace the build's
	 * status with ours. */
	if (r < 0 && disk_write_error(we.errnum)) {
		out_warn("%s (the record of this run, for kbuild-ns status)", we.msg);
		return 0;
	}
	if (r < 0)
		*e = we;
	return r;
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
	free(b->cwd);
	free(b->ref);
	free(b->version_file);
	version_job_free(b->vjob);
	for (size_t i = 0; i < b->n_image_env; i++)
		free(b->image_env[i]);
	free(b->image_env);
	buildimage_free(b->plan);
	image_rec_free(b->img);
	store_close(b->store);
	data_free(b->data);
	profile_free(b->prof);
	free(b->state_dir);
	if (b->ahead)
		(void)ahead_go(b, false, NULL, NULL, NULL);
	rt_runns_end(&b->ns);
	seen_free(b->seen);
	free(b);
}
