/* kbuild-ns: entry point.  Global options, then one command. */
#include "cli/cmd.h"
#include "base/progress.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

static const char usage_line[] =
	"usage: kbuild-ns [-C DIR] [--state-dir DIR] [-v|-q] COMMAND [ARGS]";

/* At most 80 columns a line. */
static void help(void)
{
	printf("%s\n\n"
	       "Build Kubernetes (or any project shaped like it) without Docker and root.\n\n"
	       "Commands:\n"
	       "  image import PATH [--name NAME:TAG]    import an image archive\n"
	       "  image pull REF [--platform OS/ARCH]    pull an image from a registry\n"
	       "  image ls | inspect REF | rm REF...     list, show, remove imported images\n"
	       "  image prune                            remove layers no image uses\n"
	       "  make [RUN-OPTS] [MAKE-ARGS...]         sync in, make in the sandbox, copy out\n"
	       "  run [RUN-OPTS] [--] CMD...             the same for any command\n"
	       "  shell [RUN-OPTS]                       an interactive shell there\n"
	       "  copy-output                            binaries and generated files back\n"
	       "  clean [--all]                          host _output and this checkout's state\n"
	       "  status [--json]                        this checkout's state\n"
	       "  doctor                                 check this host, with fixes\n"
	       "  release [--quick] [MAKE-ARGS...]       release tarballs and images, offline\n"
	       "  provenance verify FILE [--key PUB]     check a release's provenance\n"
	       "  cache export FILE | import FILE | key  the build state for a CI cache\n"
	       "  help [COMMAND]                         the manual page\n"
	       "\n"
	       "Options (before the command):\n"
	       "  -C DIR            run as if started in DIR\n"
	       "  --state-dir DIR   where images and build state live\n"
	       "  -v, -q            more output (-vv: more still), or none but errors\n"
	       "  -h, --help        this text;  --version  the version\n\n"
	       "Every command takes --help.  Read `kbuild-ns help` (kbuild-ns(1)) and\n"
	       "`kbuild-ns help COMMAND` for the details.\n",
	       usage_line);
}

static char *default_state_dir(void)
{
	const char *s = getenv("KBUILD_NS_STATE_DIR");
	if (s && *s)
		return strdup(s);
	const char *x = getenv("XDG_DATA_HOME");
	if (x && *x == '/')
		return xasprintf("%s/kbuild-ns", x);
	const char *h = getenv("HOME");
	if (h && *h == '/')
		return xasprintf("%s/.local/share/kbuild-ns", h);
	return NULL;
}

typedef int (*cmd_fn)(kb_ctx *c, int argc, char **argv);

static const struct { const char *name; cmd_fn fn; } commands[] = {
	{ "make", cmd_make }, { "run", cmd_run }, { "shell", cmd_shell },
	{ "copy-output", cmd_copy_output }, { "clean", cmd_clean }, { "status", cmd_status },
	{ "doctor", cmd_doctor }, { "image", cmd_image }, { "help", cmd_help },
	{ "provenance", cmd_exec_image_program }, { "cache", cmd_exec_image_program },
	{ "release", cmd_exec_image_program },
};

typedef struct global_opts {
	const char *chdir_to, *state;
	int verbosity;
	bool done;                  /* --help or --version answered */
} global_opts;

/* The options before the command; returns the command's index, or a
 * negative exit status (after a usage error). */
static int parse_globals(int argc, char **argv, global_opts *g)
{
	int i;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] != '-' || !strcmp(a, "-"))
			break;
		if (!strcmp(a, "--"))
			return i + 1;
		if (!strcmp(a, "-h") || !strcmp(a, "--help") || !strcmp(a, "--version")) {
			if (a[2] == 'v')
				printf("kbuild-ns %s\n", PACKAGE_VERSION);
			else
				help();
			g->done = true;
			return i;
		}
		if (!strcmp(a, "--verbose") || (a[1] == 'v' && strspn(a + 1, "v") == strlen(a + 1))) {
			/* -v, -vv, -vvv: as many levels as letters. */
			int n = a[1] == '-' ? 1 : (int)strlen(a + 1);
			g->verbosity = g->verbosity < 0 ? n : g->verbosity + n;
		} else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
			g->verbosity = -1;
		} else if (!strcmp(a, "-C") || !strcmp(a, "--state-dir")) {
			if (i + 1 >= argc)
				return -cmd_usage(usage_line, "option %s needs an argument", a);
			*(a[1] == 'C' ? &g->chdir_to : &g->state) = argv[++i];
		} else if (!strncmp(a, "--state-dir=", 12)) {
			g->state = a + 12;
		} else if (!strncmp(a, "-C", 2)) {
			g->chdir_to = a + 2;
		} else {
			return -cmd_usage(usage_line, "unknown option %s", a);
		}
	}
	return i;
}

/* An explicit state directory must have an existing parent: a typo
 * should not silently grow a new tree somewhere.  The default one is
 * made with its parents (a new user may have no ~/.local/share). */
static int check_parent(const char *cmd, const char *dir)
{
	_cleanup_free_ char *parent = xstrdup(dir);
	char *slash = strrchr(parent, '/');
	while (slash && slash > parent && slash[1] == 0) {    /* trailing slashes */
		*slash = 0;
		slash = strrchr(parent, '/');
	}
	if (!slash || slash == parent)
		return 0;
	*slash = 0;
	struct stat st;
	if (stat(parent, &st) < 0 || !S_ISDIR(st.st_mode))
		return cmd_failx(cmd, "state directory %s: parent %s does not exist", dir, parent);
	return 0;
}

/* The state directory, absolute: paths we print and record (layer paths)
 * must not depend on the directory a later command runs in, and a
 * relative one is relative to where kbuild-ns was started, not to -C. */
static int state_dir(const char *cmd, const global_opts *g, char **ret)
{
	const char *sd = g->state ? g->state : getenv("KBUILD_NS_STATE_DIR");
	_cleanup_free_ char *dir = sd && *sd ? xstrdup(sd) : default_state_dir();
	int r;

	if (!dir || !dir[0])
		return cmd_failx(cmd, "no state directory: set --state-dir, KBUILD_NS_STATE_DIR or HOME");
	if (sd && *sd && (r = check_parent(cmd, dir)) != 0)
		return r;
	if (dir[0] != '/') {
		_cleanup_free_ char *cwd = getcwd(NULL, 0);
		if (!cwd)
			return cmd_failx(cmd, "current directory: %s", strerror(errno));
		char *abs = xasprintf("%s/%s", cwd, dir);
		free(dir);
		dir = abs;
	}
	*ret = steal_ptr(dir);
	return 0;
}

int main(int argc, char **argv)
{
	global_opts g = { 0 };
	kb_ctx c = { 0 };
	cmd_fn fn = NULL;
	int i = parse_globals(argc, argv, &g), r;

	if (i < 0 || g.done)
		return i < 0 ? -i : 0;
	if (i >= argc)
		return cmd_usage(usage_line, "no command given (try kbuild-ns --help)");
	const char *cmd = argv[i];
	for (size_t k = 0; k < ARRAY_SIZE(commands); k++)
		if (!strcmp(cmd, commands[k].name))
			fn = commands[k].fn;
	if (!fn)
		return cmd_usage(usage_line, "unknown command \"%s\" (try kbuild-ns --help)", cmd);
	out_init(g.verbosity);
	c.verbosity = g.verbosity;
	/* help needs no state directory. */
	if (fn != cmd_help && (r = state_dir(cmd, &g, &c.state_dir)) != 0)
		return r;
	if (g.chdir_to && chdir(g.chdir_to) < 0)
		return cmd_failx("-C", "%s: %s", g.chdir_to, strerror(errno));
	r = fn(&c, argc - i, argv + i);
	free(c.state_dir);
	fflush(stdout);
	if (ferror(stdout))
		return cmd_failx(cmd, "writing to standard output failed");
	return r;
}
