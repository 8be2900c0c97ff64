/* kbuild-ns run [RUN-OPTS] [--] CMD..., kbuild-ns make [RUN-OPTS] [--]
 * [MAKE-ARGS...] and kbuild-ns shell [RUN-OPTS]: the three sandboxes of
 * one build.  With --source snapshot (the default): the data sandbox is
 * made ready, the sync sandbox mirrors the checkout into its snapshot,
 * the build sandbox runs the command on it, and after a success the sync
 * sandbox brings binaries and generated files back (build/run.sh). */
#include "cmd.h"
#include "image.h"
#include "oci.h"
#include "progress.h"
#include "project.h"
#include "sandbox.h"
#include "doctor.h"
#include "seccomp-filter.h"
#include "profile.h"
#include "snapshot.h"
#include "datainit.h"

#include <fcntl.h>

#include <errno.h>
#include <getopt.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_BINDS 64
#define MAX_ENV 1024

static const char run_opts_help[] =
	"RUN-OPTS: --image REF  --network none|host  -e VAR[=VAL]  --bind SRC:DST[:ro]\n"
	"          --source snapshot|bind  --user root|host  --no-copy-output  --no-wait\n"
	"          --seccomp=unconfined";

static const char *usage_of(const char *cmd)
{
	return !strcmp(cmd, "make") ? "usage: kbuild-ns make [RUN-OPTS] [--] [MAKE-ARGS...]" :
	       !strcmp(cmd, "shell") ? "usage: kbuild-ns shell [RUN-OPTS]" :
				       "usage: kbuild-ns run [RUN-OPTS] [--] CMD...";
}

/* Host variables that cross into the sandbox (build/common.sh's list);
 * nothing else of the host's environment does. */
static const char *const allow[] = {
	"GOPROXY", "KUBE_FASTBUILD", "KUBE_BUILDER_OS", "KUBE_VERBOSE", "KUBE_BUILD_WITH_COVERAGE",
	"KUBE_BUILD_PLATFORMS", "KUBE_CGO_OVERRIDES", "KUBE_STATIC_OVERRIDES", "FORCE_HOST_GO",
	"GO_VERSION", "GOTOOLCHAIN", "GOFLAGS", "GOGCFLAGS", "SOURCE_DATE_EPOCH",
	"GOLDFLAGS",    /* only when set, even to "" */
};

typedef struct envv {
	char *v[MAX_ENV];
	size_t n;
} envv;

/* Set NAME=VALUE (entry is "NAME=VALUE"), replacing an earlier NAME. */
static int env_put(envv *ev, const char *entry)
{
	size_t kl = strcspn(entry, "=");
	for (size_t i = 0; i < ev->n; i++)
		if (!strncmp(ev->v[i], entry, kl) && ev->v[i][kl] == '=') {
			free(ev->v[i]);
			ev->v[i] = strdup(entry);
			return ev->v[i] ? 0 : -ENOMEM;
		}
	if (ev->n + 1 >= MAX_ENV)
		return -E2BIG;
	ev->v[ev->n] = strdup(entry);
	if (!ev->v[ev->n])
		return -ENOMEM;
	ev->v[++ev->n] = NULL;
	return 0;
}

static void env_free(envv *ev)
{
	for (size_t i = 0; i < ev->n; i++)
		free(ev->v[i]);
}

typedef struct run_opts {
	const char *image;
	const char *cmd;        /* "run", "make" or "shell" */
	bool net_host, user_host, no_seccomp, no_wait, shell, bind_source, no_copy;
	const char *envs[256];
	size_t n_envs;
	rt_bind binds[MAX_BINDS];
	size_t n_binds;
} run_opts;

static int parse_bind(run_opts *o, char *arg)
{
	/* SRC:DST[:ro] */
	char *dst = strchr(arg, ':');
	if (!dst || o->n_binds >= MAX_BINDS - 1)
		return -EINVAL;
	*dst++ = 0;
	char *mode = strchr(dst, ':');
	if (mode) {
		*mode++ = 0;
		if (strcmp(mode, "ro") && strcmp(mode, "rw"))
			return -EINVAL;
	}
	if (!arg[0] || dst[0] != '/')
		return -EINVAL;
	o->binds[o->n_binds++] = (rt_bind){ .src = arg, .dst = dst, .ro = mode && !strcmp(mode, "ro") };
	return 0;
}

static void pass_host(envv *ev, const char *name)
{
	const char *val = getenv(name);
	if (!val)
		return;
	_cleanup_free_ char *kv = xasprintf("%s=%s", name, val);
	env_put(ev, kv);
}

static int build_env(const run_opts *o, kb_store *s, const image_rec *img, const kb_profile *prof, bool tty,
		     envv *ev, kb_error *e)
{
	_cleanup_free_ char *cfg = NULL;
	size_t len;
	char host[256] = "";

	if (store_read_blob(s, &img->id, MAX_CONFIG_SIZE, &cfg, &len, e) < 0)
		return -EIO;
	json_t *j = json_loadb(cfg, len, 0, NULL), *v;
	size_t i;
	env_put(ev, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	json_array_foreach(json_object_get(json_object_get(j, "config"), "Env"), i, v)
		if (json_is_string(v) && strchr(json_string_value(v), '='))
			env_put(ev, json_string_value(v));
	json_decref(j);
	/* The profile's own (kube: KUBE_OUTPUT_SUBPATH, TMPDIR), as the
	 * kube-build image sets them on top of kube-cross's. */
	for (i = 0; i < prof->n_env; i++)
		env_put(ev, prof->env[i]);
	for (i = 0; i < ARRAY_SIZE(allow); i++)
		pass_host(ev, allow[i]);
	for (i = 0; i < prof->n_pass; i++)
		pass_host(ev, prof->pass[i]);
	/* Classic: the version file the host made is copied into the
	 * snapshot and named here; only when the host names one. */
	if (prof->kube && getenv("KUBE_GIT_VERSION_FILE") && !o->bind_source) {
		_cleanup_free_ char *kv = xasprintf("KUBE_GIT_VERSION_FILE=%s/.dockerized-kube-version-defs", prof->home);
		env_put(ev, kv);
	}
	_cleanup_free_ char *h = xasprintf("HOME=%s", prof->home);
	env_put(ev, h);
	gethostname(host, sizeof host - 1);
	_cleanup_free_ char *hn = xasprintf("HOSTNAME=%s", host);
	env_put(ev, hn);
	if (tty) {
		const char *t = getenv("TERM");
		_cleanup_free_ char *tv = xasprintf("TERM=%s", t && *t ? t : "xterm");
		env_put(ev, tv);
	}
	for (i = 0; i < o->n_envs; i++) {
		const char *a = o->envs[i];
		if (strchr(a, '=')) {
			if (a[0] == '=')
				return kb_errx(e, EINVAL, "-e %s: no variable name", a);
			env_put(ev, a);
		} else {
			const char *val = getenv(a);    /* -e VAR: the host's value, if any */
			if (val) {
				_cleanup_free_ char *kv = xasprintf("%s=%s", a, val);
				env_put(ev, kv);
			}
		}
	}
	return 0;
}

/* The seccomp policy compiled to BPF, from $STATE/cache/ when a previous
 * run left it there: compiling takes several milliseconds, loading a few
 * microseconds.  The file name changes with the policy, libseccomp and the
 * architecture; a damaged file is simply compiled again. */
static void *seccomp_blob(const char *state_dir, size_t *ret_len)
{
	_cleanup_free_ char *dir = xasprintf("%s/cache", state_dir);
	_cleanup_free_ char *name = xasprintf("%s.bpf", rt_seccomp_cache_key());
	char *blob = NULL;
	size_t len = 0;
	const char *step;

	_cleanup_close_ int dfd = (mkdirat(AT_FDCWD, dir, 0700) == 0 || errno == EEXIST)
					  ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (dfd >= 0 && read_file_at(dfd, name, 1 << 20, &blob, &len) == 0 && len > 0) {
		*ret_len = len;
		return blob;
	}
	free(blob);
	void *b = NULL;
	if (rt_seccomp_compile(&b, &len, &step) < 0)
		return NULL;    /* the sandbox compiles it itself and reports */
	if (dfd >= 0)
		write_file_atomic(dfd, name, b, len);
	*ret_len = len;
	return b;
}



/* build/run.sh copies out when KUBE_RUN_COPY_OUTPUT matches ^[yY]$;
 * its default is y for run.sh and n for shell.sh. */
static bool copy_wanted(const run_opts *o)
{
	const char *v = getenv("KUBE_RUN_COPY_OUTPUT");
	if (o->no_copy)
		return false;
	if (!v)
		return !o->shell;
	return (v[0] == 'y' || v[0] == 'Y') && !v[1];
}

static int report_rt(const char *cmd, const rt_error *rerr)
{
	fprintf(stderr, "kbuild-ns: %s: %s\n", cmd, rerr->msg);
	if (rerr->code == EXIT_KB_FAIL)
		doctor_advise(stderr, rerr->errnum, rerr->msg);
	return rerr->code ? rerr->code : EXIT_KB_FAIL;
}

/* The data sandbox's one-time init: the profile applied to a fresh data
 * layer, by our own code running as root in the build sandbox. */
static int init_data(const char *cmd, kb_project *p, const kb_profile *prof, const rt_spec *base)
{
	_cleanup_free_ char *tz = NULL;
	size_t tz_len = 0;
	kb_error e = { 0 };
	rt_error rerr = { 0 };
	rt_info info = { 0 };
	int status = 0;

	out_status("Preparing the data sandbox %s-%s", p->key, p->version);
	if (project_reset_data(p, &e) < 0)
		return cmd_fail(cmd, &e);
	/* Timestamps in the build's logs in the host's zone (the classic
	 * image copies /etc/localtime in). */
	if (read_file_at(AT_FDCWD, "/etc/localtime", 1 << 20, &tz, &tz_len) < 0)
		tz = NULL;
	datainit d = { .kube = prof->kube, .workdir = prof->workdir, .localtime = tz, .localtime_len = tz_len };
	rt_spec spec = *base;
	spec.binds = NULL;
	spec.n_binds = 0;
	spec.argv = NULL;
	spec.tty = false;
	spec.user_host = false;
	spec.no_seccomp = true;
	/* Not volatile: the kernel leaves a mark in work/ behind a volatile
	 * mount that refuses the next mount until removed, and the build's
	 * own mount follows at once; the init's few files may as well be
	 * synced. */
	spec.volatile_upper = false;
	spec.cwd = "/";
	spec.fn = datainit_run;
	spec.fn_arg = &d;
	if (rt_run(&spec, &status, &info, &rerr) < 0)
		return report_rt(cmd, &rerr);
	if (status != 0)
		return cmd_failx(cmd, "init of the data layer in %s: exit status %d", p->dir, status);
	if (project_mark_ready(p, prof->name, &e) < 0)
		return cmd_fail(cmd, &e);
	return 0;
}

static void sync_report(const char *what, const snap_result *res)
{
	out_verbose("%s: %llu entries checked, %llu copied (%llu bytes), %llu deleted%s", what,
		    (unsigned long long)res->st.checked, (unsigned long long)res->st.copied,
		    (unsigned long long)res->st.bytes, (unsigned long long)res->st.deleted,
		    res->isolated ? res->mapped ? " (files of subordinate ids: with the range mapped)" : ""
				  : " (no user namespaces: in process)");
	if (res->st.skipped)
		out_warn("%s: %llu entries skipped (special files, or a file on the host where the build has a "
			 "directory)", what, (unsigned long long)res->st.skipped);
}

/* Classic build/common.sh writes the host's version file into the tree
 * that goes in; we copy the one KUBE_GIT_VERSION_FILE names. */
static int put_version_file(kb_project *p, kb_error *e)
{
	const char *src = getenv("KUBE_GIT_VERSION_FILE");
	_cleanup_free_ char *text = NULL, *snap = xasprintf("%s/snapshot", p->dir);
	size_t len = 0;
	if (!src || !*src)
		return 0;
	int r = read_file_at(AT_FDCWD, src, 1 << 20, &text, &len);
	if (r < 0)
		return kb_err(e, -r, "KUBE_GIT_VERSION_FILE %s", src);
	_cleanup_close_ int sfd = open(snap, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0 || (r = write_file_atomic(sfd, ".dockerized-kube-version-defs", text, len)) < 0)
		return kb_err(e, sfd < 0 ? errno : -r, "%s/.dockerized-kube-version-defs", snap);
	return 0;
}

static char *join_argv(char *const *argv)
{
	size_t n = 0;
	for (size_t i = 0; argv[i]; i++)
		n += strlen(argv[i]) + 1;
	char *s = malloc(n + 1), *q = s;
	if (!s)
		return NULL;
	*s = 0;
	for (size_t i = 0; argv[i]; i++)
		q += sprintf(q, "%s%s", i ? " " : "", argv[i]);
	return s;
}

static int run_main(kb_ctx *c, run_opts *o, char **argv)
{
	_cleanup_(store_closep) kb_store *s = NULL;
	_cleanup_(project_freep) kb_project *p = NULL;
	_cleanup_(profile_freep) kb_profile *prof = NULL;
	_cleanup_(image_rec_freep) image_rec *img = NULL;
	const char *cmd = o->cmd;
	bool snap = !o->bind_source;
	kb_error e = { 0 };
	envv ev = { 0 };
	int status = 0;

	if (snap)
		out_status("Verifying Prerequisites....");
	if (project_open(c->state_dir, ".", true, cmd_rm_tree, &p, &e) < 0)
		return cmd_fail(cmd, &e);
	_cleanup_close_ int cfd = open(p->checkout, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cfd < 0 || profile_load(cfd, p->kube, o->user_host, &prof, &e) < 0)
		return cfd < 0 ? cmd_failx(cmd, "checkout %s: %s", p->checkout, strerror(errno)) : cmd_fail(cmd, &e);
	/* Image: --image, $KBUILD_NS_IMAGE, kbuild-ns.conf, then the
	 * checkout's cross tag. */
	const char *env_img = getenv("KBUILD_NS_IMAGE");
	_cleanup_free_ char *ref = o->image ? strdup(o->image) :
				  env_img && *env_img ? strdup(env_img) :
				  prof->image ? strdup(prof->image) :
				  p->cross_tag ? xasprintf("kube-cross:%s", p->cross_tag) : NULL;
	if (!ref)
		return cmd_failx(cmd, "no image: this checkout has no build/build-image/cross/VERSION; "
				 "give --image REF, set KBUILD_NS_IMAGE, or put image = REF in kbuild-ns.conf");
	/* Shared: layers stay while we use them (image rm waits). */
	if (store_open(c->state_dir, LOCK_SH, out_notify, &s, &e) < 0)
		return cmd_fail(cmd, &e);
	if (image_find(s, ref, &img, &e) < 0) {
		if (e.errnum == ENOENT)
			return cmd_failx(cmd, "image %s: not found; import it first: kbuild-ns image import ARCHIVE --name %s",
					 ref, ref);
		return cmd_fail(cmd, &e);
	}
	if (img->n_layers == 0)
		return cmd_failx(cmd, "image %s: has no layers", ref);
	bool reset;
	rt_idrange range;
	bool use_range = !o->user_host && cmd_find_range(&range);
	/* --user host maps only the caller's own id, which every mode maps
	 * too: it may share any data layer. */
	char idmap[96] = "single";
	if (o->user_host)
		idmap[0] = 0;
	else if (use_range)
		snprintf(idmap, sizeof idmap, "range:%lu:%lu", range.uid_start, range.uid_count);
	if (project_lock(p, !o->no_wait, out_notify, &e) < 0 || project_prepare(p, idmap, &reset, &e) < 0)
		return cmd_fail(cmd, &e);
	if (reset)
		out_warn("%s: the data layer of this checkout was reset (a host restart during a run, "
			 "or a new id mapping)", cmd);

	bool tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
	if (build_env(o, s, img, prof, tty, &ev, &e) < 0) {
		env_free(&ev);
		project_done(p);
		return cmd_fail(cmd, &e);
	}

	const char **lowers = calloc(img->n_layers, sizeof *lowers);
	char **paths = calloc(img->n_layers, sizeof *paths);
	if (!lowers || !paths) {
		free(lowers);
		free(paths);
		env_free(&ev);
		project_done(p);
		return cmd_failx(cmd, "out of memory");
	}
	for (size_t i = 0; i < img->n_layers; i++) {    /* the record lists bottom first */
		paths[i] = xasprintf("%s/layers/%s", s->root, img->layers[img->n_layers - 1 - i].diff_id.hex);
		lowers[i] = paths[i];
	}
	_cleanup_free_ char *upper = xasprintf("%s/upper", p->dir), *work = xasprintf("%s/work", p->dir),
			    *root = xasprintf("%s/root", p->dir), *snapdir = xasprintf("%s/snapshot", p->dir);
	/* The tree goes first so that later --bind mounts may cover parts of it. */
	memmove(o->binds + 1, o->binds, o->n_binds * sizeof *o->binds);
	o->binds[0] = (rt_bind){ .src = snap ? snapdir : p->checkout, .dst = prof->workdir, .ro = false };
	o->n_binds++;
	char hostname[256] = "";
	gethostname(hostname, sizeof hostname - 1);
	static char *shell_argv[] = { "/bin/sh", "-c",
		"if command -v bash >/dev/null 2>&1; then exec bash; else exec sh; fi", NULL };
	rt_spec spec = {
		.lowers = lowers, .n_lowers = img->n_layers, .upper = upper, .work = work, .rootdir = root,
		.binds = o->binds, .n_binds = o->n_binds, .argv = o->shell ? shell_argv : argv, .envp = ev.v,
		.cwd = prof->workdir, .hostname = hostname, .user_host = o->user_host, .net_host = o->net_host,
		.no_seccomp = o->no_seccomp, .tty = tty, .uid = getuid(), .gid = getgid(),
		.volatile_upper = true,
	};
	out_verbose("%s: image %s (%zu layers), state %s, profile %s%s", cmd, ref, img->n_layers, p->dir, prof->name,
		    prof->from_file ? " (kbuild-ns.conf)" : "");
	if (use_range) {
		spec.range = &range;
		out_verbose("%s: ids: root inside is uid %u outside, ids 1-%lu are %lu-%lu (/etc/subuid, newuidmap)",
			    cmd, (unsigned)getuid(), range.uid_count, range.uid_start, range.uid_start + range.uid_count - 1);
	} else {
		out_verbose("%s: ids: single mapping, %s inside is uid %u outside", cmd,
			    o->user_host ? "the same uid" : "root", (unsigned)getuid());
	}
	if (o->no_seccomp)
		out_warn("%s: --seccomp=unconfined: the sandbox has no system call filter", cmd);
	_cleanup_free_ void *bpf = o->no_seccomp ? NULL : seccomp_blob(c->state_dir, &spec.seccomp_len);
	spec.seccomp_bpf = bpf;

	int rc = 0;
	bool copy = snap && copy_wanted(o);
	const char *kco = getenv("KUBE_RUN_COPY_OUTPUT");
	if (!snap && kco && strcmp(kco, "y") && strcmp(kco, "Y"))    /* as the current build/run.sh says */
		out_warn("%s: KUBE_RUN_COPY_OUTPUT means nothing with --source bind: the build writes the checkout itself",
			 cmd);
	sync_log_fn log = cmd_change_log();
	snap_result res = { 0 };
	rt_error rerr;
	rt_info info = { 0 };
	if (snap && !project_ready(p))
		rc = init_data(cmd, p, prof, &spec);
	if (snap && rc == 0) {
		out_status("Syncing sources to the snapshot");
		if (snapshot_sync_in(p, &prof->rules, log, use_range ? &range : NULL, &res, &e) < 0 || put_version_file(p, &e) < 0)
			rc = cmd_fail(cmd, &e);
		else
			sync_report("sync-in", &res);
	}
	if (snap && rc == 0)
		out_status(copy ? "Output from this build will be copied back upon completion. "
				  "Set KUBE_RUN_COPY_OUTPUT=n to disable."
				: "Output from this build will NOT be copied back. Set KUBE_RUN_COPY_OUTPUT=y to enable.");
	if (rc == 0) {
		if (snap)
			out_status("Running build command...");
		if (rt_run(&spec, &status, &info, &rerr) < 0)
			rc = report_rt(cmd, &rerr);
		else if (info.range_failed)
			out_warn("%s: %s refused the subordinate id range (%s); ran with the single-id mapping",
				 cmd, info.range_step, strerror(info.range_errnum));
	}
	/* Only after a success, as build/run.sh: a failed build leaves the
	 * checkout as it was and returns its status. */
	if (rc == 0 && status == 0 && copy) {
		out_status("Copying output back to the checkout");
		if (snapshot_copy_out(p, &prof->rules, log, use_range ? &range : NULL, &res, &e) < 0)
			rc = cmd_fail(cmd, &e);
		else
			sync_report("copy-out", &res);
	}
	/* Recorded when the command ran, or could not be started in it. */
	if (rc == 0 || rc == 126 || rc == 127) {
		_cleanup_free_ char *what = o->shell ? strdup("shell") : join_argv(argv);
		project_write_meta(p, ref, img->id.hex, what, rc ? rc : status);
	}
	project_done(p);
	for (size_t i = 0; i < img->n_layers; i++)
		free(paths[i]);
	free(paths);
	free(lowers);
	env_free(&ev);
	return rc ? rc : status;
}

/* One option, from getopt_long (run, shell) or from make's own scan. */
static int take_option(run_opts *o, int ch, char *arg)
{
	const char *cmd = o->cmd;
	switch (ch) {
	case 'i': o->image = arg; break;
	case 'n':
		if (strcmp(arg, "none") && strcmp(arg, "host"))
			return cmd_usage(usage_of(o->cmd), "%s: --network %s: must be none or host", cmd, arg);
		o->net_host = !strcmp(arg, "host");
		break;
	case 'e':
		if (o->n_envs >= ARRAY_SIZE(o->envs))
			return cmd_usage(usage_of(o->cmd), "%s: too many -e options", cmd);
		o->envs[o->n_envs++] = arg;
		break;
	case 'b':
		if (parse_bind(o, arg) < 0)
			return cmd_usage(usage_of(o->cmd), "%s: --bind %s: expected SRC:DST[:ro] with an absolute DST", cmd, arg);
		break;
	case 'u':
		if (strcmp(arg, "root") && strcmp(arg, "host"))
			return cmd_usage(usage_of(o->cmd), "%s: --user %s: must be root or host", cmd, arg);
		o->user_host = !strcmp(arg, "host");
		break;
	case 's':
		if (strcmp(arg, "unconfined"))
			return cmd_usage(usage_of(o->cmd), "%s: --seccomp %s: only \"unconfined\" is accepted", cmd, arg);
		o->no_seccomp = true;
		break;
	case 'S':
		if (strcmp(arg, "snapshot") && strcmp(arg, "bind"))
			return cmd_usage(usage_of(o->cmd), "%s: --source %s: must be snapshot or bind", cmd, arg);
		o->bind_source = !strcmp(arg, "bind");
		break;
	case 'w': o->no_wait = true; break;
	case 'c': o->no_copy = true; break;
	case 'h':
		printf("%s\n%s\nSee kbuild-ns help %s.\n", usage_of(cmd), run_opts_help, cmd);
		return -1;
	default:
		return EXIT_KB_FAIL;
	}
	return 0;
}

static const struct option run_options[] = {
	{ "image", required_argument, NULL, 'i' },
	{ "network", required_argument, NULL, 'n' },
	{ "env", required_argument, NULL, 'e' },
	{ "bind", required_argument, NULL, 'b' },
	{ "user", required_argument, NULL, 'u' },
	{ "seccomp", required_argument, NULL, 's' },
	{ "source", required_argument, NULL, 'S' },
	{ "no-wait", no_argument, NULL, 'w' },
	{ "no-copy-output", no_argument, NULL, 'c' },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

int cmd_run(kb_ctx *c, int argc, char **argv, bool shell)
{
	run_opts o = { .shell = shell, .cmd = shell ? "shell" : "run" };
	int ch, r;

	optind = 1;
	opterr = 0;
	/* "+": options stop at the command, whose own options are its own. */
	while ((ch = getopt_long(argc, argv, "+e:h", run_options, NULL)) != -1) {
		if (ch == '?')
			return cmd_usage(usage_of(o.cmd), "%s: %s", o.cmd, cmd_bad_option(argc, argv));
		if ((r = take_option(&o, ch, optarg)) != 0)
			return r < 0 ? 0 : r;
	}
	if (shell && optind < argc)
		return cmd_usage(usage_of(o.cmd), "shell: takes no command (use kbuild-ns run)");
	if (!shell && optind >= argc)
		return cmd_usage(usage_of(o.cmd), "run: no command given");
	return run_main(c, &o, argv + optind);
}

/* kbuild-ns make: leading options that are ours (long ones, and -e) are
 * taken; the first other word starts make's arguments, so `make -j4
 * cross` needs no "--". */
int cmd_make(kb_ctx *c, int argc, char **argv)
{
	run_opts o = { .cmd = "make" };
	int i = 1, r;

	while (i < argc) {
		char *a = argv[i], *val = NULL;
		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (!strcmp(a, "-e") || !strcmp(a, "-h")) {
			if (a[1] == 'e' && i + 1 >= argc)
				return cmd_usage(usage_of(o.cmd), "make: option -e: missing its argument");
			if ((r = take_option(&o, a[1], a[1] == 'e' ? argv[i + 1] : NULL)) != 0)
				return r < 0 ? 0 : r;
			i += a[1] == 'e' ? 2 : 1;
			continue;
		}
		if (strncmp(a, "--", 2))
			break;
		const struct option *opt = NULL;
		size_t nl = strcspn(a + 2, "=");
		for (const struct option *q = run_options; q->name; q++)
			if (strlen(q->name) == nl && !strncmp(q->name, a + 2, nl))
				opt = q;
		if (!opt)
			break;    /* make's own (--keep-going, …) */
		if (opt->has_arg) {
			if (a[2 + nl] == '=')
				val = a + 3 + nl;
			else if (i + 1 < argc)
				val = argv[++i];
			else
				return cmd_usage(usage_of(o.cmd), "make: option --%s: missing its argument", opt->name);
		} else if (a[2 + nl] == '=') {
			return cmd_usage(usage_of(o.cmd), "make: option --%s: takes no argument", opt->name);
		}
		if ((r = take_option(&o, opt->val, val)) != 0)
			return r < 0 ? 0 : r;
		i++;
	}
	/* make and its arguments, unchanged (empty ones too: we do not copy
	 * upstream's stop at the first empty argument). */
	char **mv = calloc((size_t)(argc - i) + 2, sizeof *mv);
	if (!mv)
		return cmd_failx("make", "out of memory");
	mv[0] = "make";
	for (int k = i; k < argc; k++)
		mv[k - i + 1] = argv[k];
	r = run_main(c, &o, mv);
	free(mv);
	return r;
}
