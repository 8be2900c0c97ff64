/* kbuild-ns run [RUN-OPTS] [--] CMD... and kbuild-ns shell [RUN-OPTS]:
 * the checkout's build sandbox (runtime/sandbox.c) on an imported image. */
#include "cmd.h"
#include "image.h"
#include "oci.h"
#include "progress.h"
#include "project.h"
#include "sandbox.h"
#include "doctor.h"
#include "seccomp-filter.h"

#include <fcntl.h>

#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>

#define KUBE_WORKDIR "/go/src/k8s.io/kubernetes"
#define MAX_BINDS 64
#define MAX_ENV 1024

static const char usage_run[] =
	"usage: kbuild-ns run [--image REF] [--network none|host] [-e VAR[=VAL]] [--bind SRC:DST[:ro]]\n"
	"                     [--user root|host] [--seccomp=unconfined] [--no-wait] [--] CMD...\n"
	"       kbuild-ns shell [the same options]";

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
	bool net_host, user_host, no_seccomp, no_wait, shell;
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

static int build_env(const run_opts *o, kb_store *s, const image_rec *img, const char *home, bool tty,
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
	for (i = 0; i < ARRAY_SIZE(allow); i++) {
		const char *val = getenv(allow[i]);
		if (!val)
			continue;
		_cleanup_free_ char *kv = xasprintf("%s=%s", allow[i], val);
		env_put(ev, kv);
	}
	_cleanup_free_ char *h = xasprintf("HOME=%s", home);
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

/* The id mapping: with a subordinate range in /etc/subuid and /etc/subgid
 * and the newuidmap/newgidmap helpers, root inside is the caller and ids
 * 1..N are the range, so an image's other users stay distinct; else one
 * id, the caller as root.  KBUILD_NS_IDMAP=single forces the latter. */
static bool find_range(rt_idrange *r)
{
	const char *force = getenv("KBUILD_NS_IDMAP");
	unsigned long max_end = 0;
	if (force && !strcmp(force, "single"))
		return false;
	struct passwd *pw = getpwuid(getuid());
	const char *name = pw ? pw->pw_name : NULL;
	if (!rt_subid_range("/etc/subuid", name, getuid(), &r->uid_start, &r->uid_count, &max_end) ||
	    !rt_subid_range("/etc/subgid", name, getuid(), &r->gid_start, &r->gid_count, &max_end) ||
	    !rt_idmap_helper("newuidmap", r->uidmap, sizeof r->uidmap) ||
	    !rt_idmap_helper("newgidmap", r->gidmap, sizeof r->gidmap))
		return false;
	/* 65536 ids are what images use (nobody is 65534). */
	if (r->uid_count > 65536)
		r->uid_count = 65536;
	if (r->gid_count > 65536)
		r->gid_count = 65536;
	return true;
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

static int run_main(kb_ctx *c, run_opts *o, char **argv)
{
	_cleanup_(store_closep) kb_store *s = NULL;
	_cleanup_(project_freep) kb_project *p = NULL;
	_cleanup_(image_rec_freep) image_rec *img = NULL;
	const char *cmd = o->shell ? "shell" : "run";
	kb_error e = { 0 };
	envv ev = { 0 };
	int status = 0;

	if (project_open(c->state_dir, ".", &p, &e) < 0)
		return cmd_fail(cmd, &e);
	/* Image: --image, $KBUILD_NS_IMAGE, then the checkout's cross tag. */
	_cleanup_free_ char *ref = o->image ? strdup(o->image) :
				  getenv("KBUILD_NS_IMAGE") && *getenv("KBUILD_NS_IMAGE") ? strdup(getenv("KBUILD_NS_IMAGE")) :
				  p->cross_tag ? xasprintf("kube-cross:%s", p->cross_tag) : NULL;
	if (!ref)
		return cmd_failx(cmd, "no image: this checkout has no build/build-image/cross/VERSION; "
				 "give --image REF or set KBUILD_NS_IMAGE");
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
	bool use_range = !o->user_host && find_range(&range);
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
	const char *workdir = p->kube ? KUBE_WORKDIR : "/src";
	const char *home = p->kube ? KUBE_WORKDIR : o->user_host ? workdir : "/root";
	if (build_env(o, s, img, home, tty, &ev, &e) < 0) {
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
	/* The checkout goes first so that later --bind mounts may cover parts of it. */
	memmove(o->binds + 1, o->binds, o->n_binds * sizeof *o->binds);
	o->binds[0] = (rt_bind){ .src = p->checkout, .dst = workdir, .ro = false };
	o->n_binds++;
	_cleanup_free_ char *upper = xasprintf("%s/upper", p->dir), *work = xasprintf("%s/work", p->dir),
			    *root = xasprintf("%s/root", p->dir);
	char hostname[256] = "";
	gethostname(hostname, sizeof hostname - 1);
	static char *shell_argv[] = { "/bin/sh", "-c",
		"if command -v bash >/dev/null 2>&1; then exec bash; else exec sh; fi", NULL };
	rt_spec spec = {
		.lowers = lowers, .n_lowers = img->n_layers, .upper = upper, .work = work, .rootdir = root,
		.binds = o->binds, .n_binds = o->n_binds, .argv = o->shell ? shell_argv : argv, .envp = ev.v,
		.cwd = workdir, .hostname = hostname, .user_host = o->user_host, .net_host = o->net_host,
		.no_seccomp = o->no_seccomp, .tty = tty, .uid = getuid(), .gid = getgid(),
		.volatile_upper = true,
	};
	out_verbose("%s: image %s (%zu layers), state %s", cmd, ref, img->n_layers, p->dir);
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
	rt_error rerr;
	rt_info info = { 0 };
	int r = rt_run(&spec, &status, &info, &rerr);
	if (info.range_failed)
		out_warn("%s: %s refused the subordinate id range (%s); ran with the single-id mapping",
			 cmd, info.range_step, strerror(info.range_errnum));
	project_done(p);
	for (size_t i = 0; i < img->n_layers; i++)
		free(paths[i]);
	free(paths);
	free(lowers);
	env_free(&ev);
	if (r < 0) {
		fprintf(stderr, "kbuild-ns: %s: %s\n", cmd, rerr.msg);
		if (rerr.code == EXIT_KB_FAIL)
			doctor_advise(stderr, rerr.errnum, rerr.msg);
		return rerr.code ? rerr.code : EXIT_KB_FAIL;
	}
	return status;
}

int cmd_run(kb_ctx *c, int argc, char **argv, bool shell)
{
	static const struct option opts[] = {
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
	run_opts o = { .shell = shell };
	int ch;

	optind = 1;
	opterr = 0;
	/* "+": options stop at the command, whose own options are its own. */
	while ((ch = getopt_long(argc, argv, "+e:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'i': o.image = optarg; break;
		case 'n':
			if (strcmp(optarg, "none") && strcmp(optarg, "host"))
				return cmd_usage(usage_run, "%s: --network %s: must be none or host", shell ? "shell" : "run", optarg);
			o.net_host = !strcmp(optarg, "host");
			break;
		case 'e':
			if (o.n_envs >= ARRAY_SIZE(o.envs))
				return cmd_usage(usage_run, "%s: too many -e options", shell ? "shell" : "run");
			o.envs[o.n_envs++] = optarg;
			break;
		case 'b':
			if (parse_bind(&o, optarg) < 0)
				return cmd_usage(usage_run, "%s: --bind %s: expected SRC:DST[:ro] with an absolute DST", shell ? "shell" : "run", optarg);
			break;
		case 'u':
			if (strcmp(optarg, "root") && strcmp(optarg, "host"))
				return cmd_usage(usage_run, "%s: --user %s: must be root or host", shell ? "shell" : "run", optarg);
			o.user_host = !strcmp(optarg, "host");
			break;
		case 's':
			if (strcmp(optarg, "unconfined"))
				return cmd_usage(usage_run, "%s: --seccomp %s: only \"unconfined\" is accepted", shell ? "shell" : "run", optarg);
			o.no_seccomp = true;
			break;
		case 'S':
			if (strcmp(optarg, "bind"))
				return cmd_failx(shell ? "shell" : "run", "--source %s: only \"bind\" is available in this release "
						 "(the snapshot comes with kbuild-ns make)", optarg);
			break;
		case 'w': o.no_wait = true; break;
		case 'c': break;    /* nothing is copied out by run yet */
		case 'h':
			printf("%s\nSee kbuild-ns help %s.\n", usage_run, shell ? "shell" : "run");
			return 0;
		default:
			return cmd_usage(usage_run, "%s: %s", shell ? "shell" : "run", cmd_bad_option(argc, argv));
		}
	}
	if (shell && optind < argc)
		return cmd_usage(usage_run, "shell: takes no command (use kbuild-ns run)");
	if (!shell && optind >= argc)
		return cmd_usage(usage_run, "run: no command given");
	return run_main(c, &o, argv + optind);
}
