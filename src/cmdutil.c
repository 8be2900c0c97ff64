/* What every command program shares: the error and usage lines, and the
 * image usage text (kbuild-ns prints it for ls, inspect, rm and prune;
 * kbuild-ns-image for import). */
#include "cmd.h"

#include <getopt.h>
#include <stdarg.h>
#include <string.h>

const char usage_image[] =
	"usage: kbuild-ns image import PATH [--name NAME:TAG] [--platform OS/ARCH] "
	"[--max-layer-size SIZE] [--jobs N]\n"
	"       kbuild-ns image ls [--json] | inspect REF | rm REF... | prune";

int cmd_fail(const char *cmd, const kb_error *e)
{
	fprintf(stderr, "kbuild-ns: %s: %s\n", cmd, e->msg[0] ? e->msg : "failed");
	return EXIT_KB_FAIL;
}

int cmd_failx(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "kbuild-ns: %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_KB_FAIL;
}

int cmd_usage(const char *usage, const char *fmt, ...)
{
	va_list ap;
	fputs("kbuild-ns: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s\n", usage);
	return EXIT_KB_FAIL;
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
