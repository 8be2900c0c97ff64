/* kbuild-ns-image: the part of kbuild-ns that reads image archives, and
 * the only one that links libarchive, libzstd, ISA-L and OpenSSL (see
 * cmd-image.c for why).  kbuild-ns execs it for `image import` as
 *
 *   kbuild-ns-image [-q | -v...] --state-dir DIR import [ARGS...]
 *
 * after it has applied -C and checked the state directory; this is not an
 * interface for people, who run `kbuild-ns image import`. */
#include "cmd.h"
#include "progress.h"

#include <string.h>

int main(int argc, char **argv)
{
	kb_ctx c = { 0 };
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-q"))
			c.verbosity = -1;
		else if (!strcmp(argv[i], "-v"))
			c.verbosity++;
		else if (!strcmp(argv[i], "--state-dir") && i + 1 < argc)
			c.state_dir = argv[++i];
		else
			break;
	}
	if (!c.state_dir || c.state_dir[0] != '/' || i >= argc || strcmp(argv[i], "import")) {
		fputs("kbuild-ns-image: a part of kbuild-ns; use `kbuild-ns image import`\n", stderr);
		return EXIT_KB_FAIL;
	}
	out_init(c.verbosity);
	int r = cmd_image_import(&c, argc - i, argv + i);
	fflush(stdout);
	if (ferror(stdout))
		return cmd_failx("image", "writing to standard output failed");
	return r;
}
