/* kbuild-ns run [RUN-OPTS] [--] CMD..., kbuild-ns make [RUN-OPTS] [--]
 * [MAKE-ARGS...] and kbuild-ns shell [RUN-OPTS]: the options, then one
 * build (build/build.h) from open to close. */
#include "cli/cmd.h"
#include "base/words.h"
#include "image/regconf.h"

#include <errno.h>
#include <getopt.h>
#include <string.h>

static const char run_opts_help[] =
	"RUN-OPTS: --image REF  --network none|host  -e VAR[=VAL]  --bind SRC:DST[:ro]\n"
	"          --source snapshot|bind  --user root|host  --no-copy-output  --no-wait\n"
	"          --seccomp=unconfined  --pull=missing|never|always";

const char *run_usage(const char *cmd)
{
	return !strcmp(cmd, "make") ? "usage: kbuild-ns make [RUN-OPTS] [--] [MAKE-ARGS...]" :
	       !strcmp(cmd, "shell") ? "usage: kbuild-ns shell [RUN-OPTS]" :
				       "usage: kbuild-ns run [RUN-OPTS] [--] CMD...";
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
	{ "pull", required_argument, NULL, 'p' },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

/* SRC:DST[:ro] (or :rw) with an absolute DST. */
static int parse_bind(run_opts *o, char *arg, kb_error *e)
{
	char *dst = strchr(arg, ':');
	if (o->b.n_binds >= RUN_MAX_BINDS)
		return kb_errx(e, EINVAL, "%s: too many --bind options", o->cmd);
	if (!dst)
		goto bad;
	*dst++ = 0;
	char *mode = strchr(dst, ':');
	if (mode) {
		*mode++ = 0;
		if (strcmp(mode, "ro") && strcmp(mode, "rw"))
			goto bad;
	}
	if (!arg[0] || dst[0] != '/')
		goto bad;
	o->binds[o->b.n_binds++] = (rt_bind){ .src = arg, .dst = dst, .ro = mode && !strcmp(mode, "ro") };
	return 0;
bad:
	return kb_errx(e, EINVAL, "%s: --bind: expected SRC:DST[:ro] with an absolute DST", o->cmd);
}

/* arg must be one of two words; *flag says whether it was the second. */
static int pick(const run_opts *o, const char *opt, const char *arg, const char *a, const char *b, bool *flag,
		kb_error *e)
{
	if (strcmp(arg, a) && strcmp(arg, b))
		return kb_errx(e, EINVAL, "%s: --%s %s: must be %s or %s", o->cmd, opt, arg, a, b);
	*flag = !strcmp(arg, b);
	return 0;
}

/* One option, from getopt_long (run, shell) or from make's own scan. */
static int take_option(run_opts *o, int ch, char *arg, kb_error *e)
{
	build_opts *b = &o->b;
	switch (ch) {
	case 'i': b->image = arg; return 0;
	case 'n': return pick(o, "network", arg, "none", "host", &b->net_host, e);
	case 'u': return pick(o, "user", arg, "root", "host", &b->user_host, e);
	case 'S': return pick(o, "source", arg, "snapshot", "bind", &b->bind_source, e);
	case 'b': return parse_bind(o, arg, e);
	case 'w': b->no_wait = true; return 0;
	case 'c': b->no_copy = true; return 0;
	case 'h': o->help = true; return 0;
	case 'p': {
		pull_policy pp;
		if (pull_policy_parse(arg, &pp) < 0)
			return kb_errx(e, EINVAL, "%s: --pull %s: must be missing, never or always", o->cmd, arg);
		b->pull = 1 + (int)pp;
		return 0;
	}
	case 'e':
		if (b->n_envs >= RUN_MAX_ENVS)
			return kb_errx(e, EINVAL, "%s: too many -e options", o->cmd);
		o->envs[b->n_envs++] = arg;
		return 0;
	case 's':
		if (strcmp(arg, "unconfined"))
			return kb_errx(e, EINVAL, "%s: --seccomp %s: only \"unconfined\" is accepted", o->cmd, arg);
		b->no_seccomp = true;
		return 0;
	}
	return kb_errx(e, EINVAL, "%s: unknown option", o->cmd);
}

static void opts_init(run_opts *o, const char *cmd)
{
	*o = (run_opts){ .cmd = cmd };
	o->b.shell = !strcmp(cmd, "shell");
	o->b.envs = o->envs;
	o->b.binds = o->binds;
}

/* The long option of ours a mistyped word (name, n bytes, without the
 * "--") most likely meant: at most two typos away ("--imgae"), or the
 * start of exactly one of ours ("--no-copy"); NULL when none is. */
static const char *near_option(const char *name, size_t n)
{
	_cleanup_free_ char *w = strndup(name, n);
	const char *best = NULL, *prefix_of = NULL;
	size_t best_d = 3, prefixes = 0;

	if (!w || n == 0)
		return NULL;
	for (const struct option *q = run_options; q->name; q++) {
		size_t d = word_distance(w, q->name, 2);
		if (d < best_d) {
			best_d = d;
			best = q->name;
		}
		if (n >= 2 && !strncmp(q->name, w, n)) {
			prefix_of = q->name;
			prefixes++;
		}
	}
	return best ? best : prefixes == 1 ? prefix_of : NULL;
}

/* getopt_long of run and shell stopped at an option it does not know. */
static int bad_run_option(const char *cmd, int argc, char **argv, kb_error *e)
{
	const char *a = optind > 0 && optind <= argc ? argv[optind - 1] : "";
	const char *meant = !strncmp(a, "--", 2) && !cmd_global_hint(cmd, a) ? near_option(a + 2, strcspn(a + 2, "=")) : NULL;
	if (meant)
		return kb_errx(e, EINVAL, "%s: unknown option %.*s: did you mean --%s?", cmd, (int)strcspn(a, "="), a, meant);
	return kb_errx(e, EINVAL, "%s: %s", cmd, cmd_bad_option(cmd, argc, argv));
}

int run_parse(run_opts *o, const char *cmd, int argc, char **argv, kb_error *e)
{
	int ch, r;

	opts_init(o, cmd);
	optind = 0;    /* GNU: start afresh, even after an error inside "-abc" */
	opterr = 0;
	/* "+": options stop at the command, whose own options are its own. */
	while ((ch = getopt_long(argc, argv, "+e:h", run_options, NULL)) != -1) {
		if (ch == '?')
			return bad_run_option(cmd, argc, argv, e);
		if ((r = take_option(o, ch, optarg, e)) < 0)
			return r;
	}
	if (o->help)
		return 0;
	if (o->b.shell && optind < argc)
		return kb_errx(e, EINVAL, "shell: takes no command (use kbuild-ns run)");
	if (!o->b.shell && optind >= argc)
		return kb_errx(e, EINVAL, "run: no command given");
	o->argv = o->b.shell ? NULL : argv + optind;
	o->b.argv = o->argv;
	return 0;
}

/* argv[i] as one of our long options: take it (and its value). */
static int make_long_option(run_opts *o, int argc, char **argv, int *i, kb_error *e)
{
	const char *a = argv[*i];
	char *val = NULL;
	size_t nl = strcspn(a + 2, "=");
	const struct option *opt = NULL;

	for (const struct option *q = run_options; q->name; q++)
		if (strlen(q->name) == nl && !strncmp(q->name, a + 2, nl))
			opt = q;
	if (!opt)
		return 0;    /* make's own (--keep-going, …) */
	if (opt->has_arg) {
		if (a[2 + nl] == '=')
			val = argv[*i] + 3 + nl;
		else if (*i + 1 < argc)
			val = argv[++*i];
		else
			return kb_errx(e, EINVAL, "make: option --%s: missing its argument", opt->name);
	} else if (a[2 + nl] == '=') {
		return kb_errx(e, EINVAL, "make: option --%s: takes no argument", opt->name);
	}
	int r = take_option(o, opt->val, val, e);
	return r < 0 ? r : 1;
}

/* GNU make's long options (4.4), which make also takes abbreviated. */
static const char *const make_long_options[] = {
	"always-make", "assume-new", "assume-old", "check-symlink-times", "debug", "directory", "dry-run",
	"environment-overrides", "eval", "file", "help", "ignore-errors", "include-dir", "jobs",
	"jobserver-auth", "jobserver-fds", "jobserver-style", "just-print", "keep-going", "load-average",
	"makefile", "max-load", "new-file", "no-builtin-rules", "no-builtin-variables", "no-keep-going",
	"no-print-directory", "no-silent", "old-file", "output-sync", "print-data-base", "print-directory",
	"question", "quiet", "recon", "shuffle", "silent", "stop", "temp-stdin", "touch", "trace", "version",
	"warn-undefined-variables", "what-if",
};

/* name (n bytes, after "--") is one of make's long options or the start
 * of one: make's to take, or to refuse with its own message. */
static bool make_takes(const char *name, size_t n)
{
	for (size_t i = 0; i < ARRAY_SIZE(make_long_options); i++)
		if (n > 0 && !strncmp(make_long_options[i], name, n))
			return true;
	return false;
}

static bool is_ours(const char *name, size_t n)
{
	for (const struct option *q = run_options; q->name; q++)
		if (strlen(q->name) == n && !strncmp(q->name, name, n))
			return true;
	return false;
}

/* A word of make's arguments that starts with "--" and that make has no
 * option for, so that make would only answer with its usage: one of our
 * global options, one of ours after make's arguments (leading false), or
 * a mistyped one of ours.  -q, -v, -C and the like are make's own. */
static int check_make_word(const char *a, bool leading, kb_error *e)
{
	size_t n = strcspn(a + 2, "=");
	const char *hint, *meant;

	if (make_takes(a + 2, n))
		return 0;
	if ((hint = cmd_global_hint("make", a)))
		return kb_errx(e, EINVAL, "make: %s", hint);
	if (!leading && is_ours(a + 2, n))
		return kb_errx(e, EINVAL, "make: %.*s must come before make's arguments (kbuild-ns make %.*s ... TARGET...)",
			       (int)n + 2, a, (int)n + 2, a);
	if ((meant = near_option(a + 2, n)))
		return kb_errx(e, EINVAL, "make: unknown option %.*s: did you mean --%s?%s", (int)n + 2, a, meant,
			       leading ? "" : " (kbuild-ns's options go before make's arguments)");
	return 0;
}

/* make's arguments up to a "--": none may be a mistake check_make_word
 * can name. */
static int check_make_args(char **argv, int from, int argc, kb_error *e)
{
	for (int k = from; k < argc && strcmp(argv[k], "--"); k++) {
		int r = !strncmp(argv[k], "--", 2) ? check_make_word(argv[k], k == from, e) : 0;
		if (r < 0)
			return r;
	}
	return 0;
}

int make_parse(run_opts *o, int argc, char **argv, kb_error *e)
{
	int i = 1, r;
	bool dashdash = false;

	opts_init(o, "make");
	o->b.at_top = true;
	while (i < argc && !o->help) {
		char *a = argv[i];
		if (!strcmp(a, "--")) {
			i++;
			dashdash = true;
			break;
		}
		if (!strcmp(a, "-e") || !strcmp(a, "-h")) {
			if (a[1] == 'e' && i + 1 >= argc)
				return kb_errx(e, EINVAL, "make: option -e: missing its argument");
			if ((r = take_option(o, a[1], a[1] == 'e' ? argv[i + 1] : NULL, e)) < 0)
				return r;
			i += a[1] == 'e' ? 2 : 1;
			continue;
		}
		if (strncmp(a, "--", 2))
			break;
		if ((r = make_long_option(o, argc, argv, &i, e)) <= 0) {
			if (r < 0)
				return r;
			break;
		}
		i++;
	}
	/* After an explicit "--" every word is make's, unread. */
	if (!o->help && !dashdash && (r = check_make_args(argv, i, argc, e)) < 0)
		return r;
	/* make and its arguments, unchanged (empty ones too: we do not copy
	 * upstream's stop at the first empty argument). */
	if (!(o->own_argv = calloc((size_t)(argc - i) + 2, sizeof *o->own_argv)))
		return kb_err_oom(e, "make");
	o->own_argv[0] = "make";
	for (int k = i; k < argc; k++)
		o->own_argv[k - i + 1] = argv[k];
	o->argv = o->own_argv;
	o->b.argv = o->own_argv;
	return 0;
}

void run_opts_free(run_opts *o)
{
	free(o->own_argv);
	o->own_argv = NULL;
}

/* One build, open to close.  The run is recorded when the command ran,
 * or could not be started in the sandbox (126, 127). */
static int build(kb_ctx *c, const run_opts *o)
{
	_cleanup_(build_closep) kb_build *b = NULL;
	_cleanup_free_ char *helper = image_helper_path();
	build_opts bo = o->b;
	kb_error e = { 0 };
	int status = 0, r;

	bo.image_helper = helper;
	bo.verbosity = c->verbosity;
	if ((r = build_open(c->state_dir, &bo, &b, &e)) < 0 || (r = build_prepare(b, &e)) < 0 ||
	    (r = build_sync_in_beside(b, &e)) < 0)
		return cmd_fail(o->cmd, &e);
	if ((r = build_run(b, &status, &e)) < 0) {
		int rc = cmd_fail(o->cmd, &e);
		if (rc == KB_EXIT_CANNOT_EXEC || rc == KB_EXIT_NOT_FOUND) {
			kb_error ignored = { 0 };
			(void)build_record(b, rc, &ignored);
		}
		return rc;
	}
	/* Only after a success, as build/run.sh: a failed build leaves the
	 * checkout as it was and returns its status. */
	if (status == 0 && build_copy_out(b, &e) < 0)
		return cmd_fail(o->cmd, &e);
	if (build_record(b, status, &e) < 0)
		return cmd_fail(o->cmd, &e);
	return status;
}

static int parsed(kb_ctx *c, run_opts *o, int r, const kb_error *e)
{
	if (r < 0)
		r = cmd_usage(run_usage(o->cmd), "%s", e->msg);
	else if (o->help)
		printf("%s\n%s\nSee kbuild-ns help %s.\n", run_usage(o->cmd), run_opts_help, o->cmd);
	else
		r = build(c, o);
	run_opts_free(o);
	return o->help && r == 0 ? 0 : r;
}

int cmd_run(kb_ctx *c, int argc, char **argv)
{
	run_opts o;
	kb_error e = { 0 };
	int r = run_parse(&o, "run", argc, argv, &e);
	return parsed(c, &o, r, &e);
}

int cmd_shell(kb_ctx *c, int argc, char **argv)
{
	run_opts o;
	kb_error e = { 0 };
	int r = run_parse(&o, "shell", argc, argv, &e);
	return parsed(c, &o, r, &e);
}

int cmd_make(kb_ctx *c, int argc, char **argv)
{
	run_opts o;
	kb_error e = { 0 };
	int r = make_parse(&o, argc, argv, &e);
	return parsed(c, &o, r, &e);
}
