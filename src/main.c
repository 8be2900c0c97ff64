/* kbuild-ns: entry point.  Global options, then one command. */
#include "cmd.h"
#include "progress.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

static const char usage_line[] =
	"usage: kbuild-ns [-C DIR] [--state-dir DIR] [-v|-q] COMMAND [ARGS]";

static void help(void)
{
	printf("%s\n\n"
	       "Build Kubernetes (or any project shaped like it) without Docker and without root.\n\n"
	       "Commands:\n"
	       "  image import PATH [--name NAME:TAG] [--platform OS/ARCH]   import an image archive\n"
	       "  image ls | inspect REF | rm REF... | prune               manage imported images\n"
	       "  make [RUN-OPTS] [MAKE-ARGS...]                           sync in, make in the build sandbox, copy out\n"
	       "  run [RUN-OPTS] [--] CMD...                               the same for any command\n"
	       "  shell [RUN-OPTS]                                         an interactive shell there\n"
	       "  copy-output                                              binaries and generated files back\n"
	       "  clean [--all]                                            host _output and this checkout's state\n"
	       "  status [--json]                                          this checkout's state\n"
	       "  doctor                                                   check this host, with fixes\n"
	       "  help [COMMAND]                                           the manual page\n"
	       "\n"
	       "Options:\n"
	       "  -C DIR            run as if started in DIR\n"
	       "  --state-dir DIR   where images and build state live\n"
	       "  -v, -q            more output, or none but errors\n"
	       "  -h, --help        this text;  --version  the version\n\n"
	       "Read `kbuild-ns help` (kbuild-ns(1)) and `kbuild-ns help image` for the details.\n",
	       usage_line);
}

/* cmd_fail, cmd_failx, cmd_usage, cmd_bad_option: cmdutil.c (kbuild-ns-image
 * uses them too). */

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

static int cmd_run_only(kb_ctx *c, int argc, char **argv) { return cmd_run(c, argc, argv, false); }
static int cmd_shell(kb_ctx *c, int argc, char **argv) { return cmd_run(c, argc, argv, true); }

static const struct { const char *name; cmd_fn fn; } commands[] = {
	{ "make", cmd_make }, { "run", cmd_run_only }, { "shell", cmd_shell },
	{ "copy-output", cmd_copy_output }, { "clean", cmd_clean }, { "status", cmd_status },
	{ "doctor", cmd_doctor }, { "image", cmd_image },
};

int main(int argc, char **argv)
{
	kb_ctx c = { 0 };
	const char *chdir_to = NULL, *state = NULL;
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] != '-' || !strcmp(a, "-"))
			break;
		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			help();
			return 0;
		}
		if (!strcmp(a, "--version")) {
			printf("kbuild-ns %s\n", PACKAGE_VERSION);
			return 0;
		}
		if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			c.verbosity = c.verbosity < 0 ? 1 : c.verbosity + 1;
		} else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
			c.verbosity = -1;
		} else if (!strcmp(a, "-C") || !strcmp(a, "--state-dir")) {
			if (i + 1 >= argc)
				return cmd_usage(usage_line, "option %s needs an argument", a);
			*(a[1] == 'C' ? &chdir_to : &state) = argv[++i];
		} else if (!strncmp(a, "--state-dir=", 12)) {
			state = a + 12;
		} else if (!strncmp(a, "-C", 2)) {
			chdir_to = a + 2;
		} else {
			return cmd_usage(usage_line, "unknown option %s", a);
		}
	}
	if (i >= argc)
		return cmd_usage(usage_line, "no command given (try kbuild-ns --help)");
	out_init(c.verbosity);

	const char *cmd = argv[i];
	/* A relative state directory is relative to where kbuild-ns was
	 * started, not to the -C directory. */
	_cleanup_free_ char *state_abs = NULL;
	const char *sd = state ? state : getenv("KBUILD_NS_STATE_DIR");
	if (chdir_to && sd && *sd && sd[0] != '/') {
		_cleanup_free_ char *cwd = getcwd(NULL, 0);
		if (!cwd)
			return cmd_failx(cmd, "current directory: %s", strerror(errno));
		state = state_abs = xasprintf("%s/%s", cwd, sd);
	}
	if (chdir_to && chdir(chdir_to) < 0)
		return cmd_failx("-C", "%s: %s", chdir_to, strerror(errno));
	if (!strcmp(cmd, "help"))
		return cmd_help(&c, argc - i, argv + i);
	cmd_fn fn = NULL;
	for (size_t k = 0; k < ARRAY_SIZE(commands); k++)
		if (!strcmp(cmd, commands[k].name))
			fn = commands[k].fn;
	if (!fn)
		return cmd_usage(usage_line, "unknown command \"%s\" (try kbuild-ns --help)", cmd);

	/* An explicit state directory must have an existing parent: a typo
	 * should not silently grow a new tree somewhere.  The default one is
	 * made with its parents (a new user may have no ~/.local/share). */
	const char *explicit_dir = state ? state : getenv("KBUILD_NS_STATE_DIR");
	if (explicit_dir && *explicit_dir) {
		_cleanup_free_ char *parent = strdup(explicit_dir);
		char *slash = parent ? strrchr(parent, '/') : NULL;
		while (slash && slash > parent && slash[1] == 0) {    /* trailing slashes */
			*slash = 0;
			slash = strrchr(parent, '/');
		}
		if (slash && slash != parent) {
			*slash = 0;
			struct stat st;
			if (stat(parent, &st) < 0 || !S_ISDIR(st.st_mode))
				return cmd_failx(cmd, "state directory %s: parent %s does not exist", explicit_dir, parent);
		}
	}
	c.state_dir = state ? strdup(state) : default_state_dir();
	if (!c.state_dir || !c.state_dir[0])
		return cmd_failx(cmd, "no state directory: set --state-dir, KBUILD_NS_STATE_DIR or HOME");
	if (c.state_dir[0] != '/') {
		/* Paths we print and record (layer paths) must not depend on
		 * the directory a later command runs in. */
		_cleanup_free_ char *cwd = getcwd(NULL, 0);
		if (!cwd)
			return cmd_failx(cmd, "current directory: %s", strerror(errno));
		char *abs = xasprintf("%s/%s", cwd, c.state_dir);
		free(c.state_dir);
		c.state_dir = abs;
	}
	int r = fn(&c, argc - i, argv + i);
	free(c.state_dir);
	fflush(stdout);
	if (ferror(stdout))
		return cmd_failx(cmd, "writing to standard output failed");
	return r;
}
