/* kbuild-ns copy-output: copy-out alone, from the snapshot the last build
 * left (build/copy-output.sh). */
#include "cli/cmd.h"

#include <string.h>

static const char usage_copy[] = "usage: kbuild-ns copy-output";

int cmd_copy_output(kb_ctx *c, int argc, char **argv)
{
	_cleanup_(build_closep) kb_build *b = NULL;
	kb_error e = { 0 };

	if (argc > 1 && cmd_is_help(argv[1]))
		return cmd_help_text(usage_copy, "copy-output");
	if (argc > 1)
		return cmd_unexpected("copy-output", usage_copy, argv[1]);
	if (build_open_existing(c->state_dir, &b, &e) < 0 || build_copy_out(b, &e) < 0)
		return cmd_fail("copy-output", &e);
	return 0;
}
