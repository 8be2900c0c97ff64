/* What both programs' commands share: the error and usage lines, --help,
 * the hint for a global option after the command, and the image usage
 * texts (kbuild-ns prints them for ls, inspect, rm and prune;
 * kbuild-ns-image for import). */
#include "cli/cmd.h"
#include "runtime/probe.h"

#include <getopt.h>
#include <stdarg.h>
#include <string.h>

/* Each at most 80 columns wide: a usage line that wraps is hard to read. */
const char usage_image_import[] =
	"usage: kbuild-ns image import PATH [--name NAME:TAG]... [--platform OS/ARCH]\n"
	"       [--max-layer-size SIZE] [--jobs N] [--keep-blobs | --no-keep-blobs]";
const char usage_image_pull[] =
	"usage: kbuild-ns image pull REF [--name NAME:TAG] [--platform OS/ARCH]\n"
	"                            [--cert-dir DIR] [--tls-verify=false]\n"
	"                            [--max-layer-size SIZE] [--jobs N]";
const char usage_image_ls[] = "usage: kbuild-ns image ls [--json]";
const char usage_image_inspect[] = "usage: kbuild-ns image inspect REF";
const char usage_image_rm[] = "usage: kbuild-ns image rm REF...";
const char usage_image_prune[] = "usage: kbuild-ns image prune";
const char usage_image[] =
	"usage: kbuild-ns image import PATH | pull REF [--name NAME:TAG]... [OPTIONS]\n"
	"       kbuild-ns image ls [--json] | inspect REF | rm REF... | prune";

bool cmd_is_help(const char *arg)
{
	return !strcmp(arg, "-h") || !strcmp(arg, "--help");
}

int cmd_help_text(const char *usage, const char *page)
{
	printf("%s\nSee kbuild-ns help %s.\n", usage, page);
	return 0;
}

/* The global options (main.c), and how each may be spelled. */
static bool is_global(const char *a)
{
	static const char *const exact[] = { "-q", "--quiet", "--verbose", "--version", "-C", "--state-dir" };
	for (size_t i = 0; i < ARRAY_SIZE(exact); i++)
		if (!strcmp(a, exact[i]))
			return true;
	if (!strncmp(a, "--state-dir=", 12) || (!strncmp(a, "-C", 2) && a[2]))
		return true;
	return a[0] == '-' && a[1] == 'v' && strspn(a + 1, "v") == strlen(a + 1);    /* -v, -vv, … */
}

const char *cmd_global_hint(const char *cmd, const char *arg)
{
	static char buf[200];
	if (!is_global(arg))
		return NULL;
	/* The option without its value ("-C/x" is -C, "--state-dir=/x" is
	 * --state-dir); those two take a DIR. */
	bool dir = arg[1] == 'C' || !strncmp(arg, "--state-dir", 11);
	int n = arg[1] == 'C' ? 2 : (int)strcspn(arg, "=");
	snprintf(buf, sizeof buf, "%.*s is a global option: put it before the command (kbuild-ns %.*s%s %s ...)", n,
		 arg, n, arg, dir ? " DIR" : "", cmd);
	return buf;
}

/* Each line of text, prefixed. */
void cmd_print_lines(FILE *f, const char *prefix, const char *text)
{
	while (*text) {
		size_t n = strcspn(text, "\n");
		fprintf(f, "%s%.*s\n", prefix, (int)n, text);
		text += n + (text[n] == '\n');
	}
}

int cmd_fail(const char *cmd, const kb_error *e)
{
	fprintf(stderr, "kbuild-ns: %s: %s\n", cmd, e->msg[0] ? e->msg : "failed");
	/* A sandbox step the host refused (user namespaces disabled,
	 * AppArmor, no overlay in a user namespace, a masked /proc, …):
	 * doctor's explanation and fix, indented. */
	const char *advice = kb_err_exit(e) == KB_EXIT_FAIL ? rt_probe_advice(e->errnum, e->msg) : NULL;
	if (advice)
		cmd_print_lines(stderr, "  ", advice);
	return kb_err_exit(e);
}

int cmd_failx(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "kbuild-ns: %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return KB_EXIT_FAIL;
}

int cmd_usage(const char *usage, const char *fmt, ...)
{
	va_list ap;
	fputs("kbuild-ns: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s\n", usage);
	return KB_EXIT_FAIL;
}

/* After getopt returned '?': name the option it choked on; a global
 * option out of place says where it goes. */
const char *cmd_bad_option(const char *cmd, int argc, char **argv)
{
	static char buf[160];
	const char *a = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
	/* Inside a cluster ("-vv") getopt has not moved past the word yet. */
	if (optopt && optind < argc && argv[optind][0] == '-' && argv[optind][1] != '-' &&
	    strchr(argv[optind] + 1, optopt))
		a = argv[optind];
	const char *hint = cmd_global_hint(cmd, a);
	if (hint)
		return hint;
	if (optopt && !(a[0] == '-' && a[1] == '-'))
		snprintf(buf, sizeof buf, "option -%c: unknown, or missing its argument", optopt);
	else
		snprintf(buf, sizeof buf, "option %.100s: unknown, or missing its argument", a);
	return buf;
}

int cmd_unexpected(const char *cmd, const char *usage, const char *arg)
{
	const char *hint = cmd_global_hint(cmd, arg);
	if (hint)
		return cmd_usage(usage, "%s: %s", cmd, hint);
	return cmd_usage(usage, "%s: unexpected argument %s", cmd, arg);
}
