/* kbuild-ns help [COMMAND]: show the manual page. */
#include "cli/cmd.h"

#include <errno.h>
#include <string.h>

static const char usage_help[] = "usage: kbuild-ns help [COMMAND]";

int cmd_help(kb_ctx *c, int argc, char **argv)
{
	(void)c;
	if (argc >= 2 && cmd_is_help(argv[1]))
		return cmd_help_text(usage_help, "help");
	if (argc > 2)
		return cmd_usage(usage_help, "help: one command at a time");
	if (argc == 2 && argv[1][0] == '-')
		return cmd_unexpected("help", usage_help, argv[1]);
	const char *topic = argc == 2 ? argv[1] : NULL;
	bool conf = topic && (!strcmp(topic, "conf") || !strcmp(topic, "kbuild-ns.conf"));
	_cleanup_free_ char *page = conf ? strdup("kbuild-ns.conf") :
				    topic && strcmp(topic, "kbuild-ns") ? xasprintf("kbuild-ns-%s", topic)
									: strdup("kbuild-ns");
	/* The pages of the tree this binary was built from come first, so a
	 * build directory never shows an older installed page. */
	const char *dirs[][2] = { { SRCMANDIR, "1" }, { SRCMANDIR, "7" }, { SRCMANDIR, "5" }, { MANDIR "/man1", "1" },
				  { MANDIR "/man7", "7" }, { MANDIR "/man5", "5" } };
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		_cleanup_free_ char *f = xasprintf("%s/%s.%s", dirs[i][0], page, dirs[i][1]);
		if (access(f, R_OK) < 0)
			continue;
		fflush(stdout);
		execlp("man", "man", "-l", f, (char *)NULL);
		execlp("mandoc", "mandoc", "-a", f, (char *)NULL);
		return cmd_failx("help", "cannot run man or mandoc to show %s: %s", f, strerror(errno));
	}
	if (topic)
		return cmd_failx("help", "no manual page for \"%s\" (kbuild-ns help lists the commands)", topic);
	return cmd_failx("help", "the manual page kbuild-ns(1) is not installed");
}
