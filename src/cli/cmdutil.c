/* What both programs' commands share: the error and usage lines, and the
 * image usage text (kbuild-ns prints it for ls, inspect, rm and prune;
 * kbuild-ns-image for import). */
#include "cli/cmd.h"
#include "runtime/probe.h"

#include <getopt.h>
#include <stdarg.h>
#include <string.h>

const char usage_image[] =
	"usage: kbuild-ns image import PATH [--name NAME:TAG] [--platform OS/ARCH] "
	"[--max-layer-size SIZE] [--jobs N] [--[no-]keep-blobs]\n"
	"       kbuild-ns image ls [--json] | inspect REF | rm REF... | prune";

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

/* After getopt returned '?': name the option it choked on. */
const char *cmd_bad_option(int argc, char **argv)
{
	static char buf[160];
	const char *a = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
	if (optopt && !(a[0] == '-' && a[1] == '-'))
		snprintf(buf, sizeof buf, "option -%c: unknown, or missing its argument", optopt);
	else
		snprintf(buf, sizeof buf, "option %.100s: unknown, or missing its argument", a);
	return buf;
}
