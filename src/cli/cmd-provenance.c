/* kbuild-ns provenance verify FILE [--key PUB] [--base DIR]: re-hash a
 * release's subjects (and check its signature) against the record
 * `kbuild-ns release` wrote.  Runs in kbuild-ns-image, which links
 * libcrypto. */
#include "cli/cmd.h"
#include "release/provenance.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <string.h>

static const char usage_provenance[] = "usage: kbuild-ns provenance verify FILE [--key PUBKEY] [--base DIR]";

#define SHOWN 64

static int verify(const char *file, const char *key, const char *base)
{
	prov_mismatch m[SHOWN];
	size_t n = 0;
	kb_error e = { 0 };
	_cleanup_close_ int bfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (bfd < 0)
		return cmd_failx("provenance", "%s: %s", base, strerror(errno));
	if (prov_verify(file, bfd, key, m, SHOWN, &n, &e) < 0)
		return cmd_fail("provenance", &e);
	/* One line per subject that does not match. */
	for (size_t i = 0; i < n && i < SHOWN; i++)
		fprintf(stderr, "kbuild-ns: provenance: %s: %s\n", m[i].name, m[i].why);
	if (n > SHOWN)
		fprintf(stderr, "kbuild-ns: provenance: … and %zu more\n", n - SHOWN);
	if (n)
		return KB_EXIT_FAIL;
	printf("%s: every subject matches%s\n", file, key ? "; the signature verifies" : "");
	return 0;
}

int cmd_provenance(kb_ctx *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "base", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *key = NULL, *base = ".";
	int ch;

	(void)c;
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'k': key = optarg; break;
		case 'b': base = optarg; break;
		case 'h':
			return cmd_help_text(usage_provenance, "provenance");
		default:
			return cmd_usage(usage_provenance, "provenance: %s", cmd_bad_option("provenance", argc, argv));
		}
	}
	if (optind >= argc || strcmp(argv[optind], "verify"))
		return cmd_usage(usage_provenance, "provenance: %s", optind >= argc ? "no subcommand given"
										  : "unknown subcommand");
	if (optind + 2 != argc)
		return cmd_usage(usage_provenance, "provenance verify: give exactly one FILE");
	return verify(argv[optind + 1], key, base);
}
