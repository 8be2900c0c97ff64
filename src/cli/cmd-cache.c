/* kbuild-ns cache export FILE | import FILE [--force] | key: the
 * checkout's data sandbox as one file a CI cache can carry.  Runs in
 * kbuild-ns-image, which links libzstd and libarchive. */
#include "cli/cmd.h"
#include "base/progress.h"
#include "cache/cache.h"

#include <getopt.h>
#include <string.h>

static const char usage_cache[] =
	"usage: kbuild-ns cache export FILE [--image REF]\n"
	"       kbuild-ns cache import FILE [--force] [--image REF]\n"
	"       kbuild-ns cache key [--image REF]";

static void report(const char *what, const char *path, const cache_counts *n)
{
	char b[32];
	out_status("%s %s: %llu entr%s, %llu file%s (%s), %llu whiteout%s, %llu opaque director%s", what, path,
		   (unsigned long long)n->entries, n->entries == 1 ? "y" : "ies", (unsigned long long)n->files,
		   n->files == 1 ? "" : "s", human_size(n->bytes, b, sizeof b), (unsigned long long)n->whiteouts,
		   n->whiteouts == 1 ? "" : "s", (unsigned long long)n->opaques, n->opaques == 1 ? "y" : "ies");
}

int cmd_cache(kb_ctx *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "image", required_argument, NULL, 'i' },
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *image = NULL;
	bool force = false;
	kb_error e = { 0 };
	cache_counts n = { 0 };
	int ch;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'i': image = optarg; break;
		case 'f': force = true; break;
		case 'h':
			return cmd_help_text(usage_cache, "cache");
		default:
			return cmd_usage(usage_cache, "cache: %s", cmd_bad_option("cache", argc, argv));
		}
	}
	const char *sub = optind < argc ? argv[optind] : NULL;
	int rest = argc - optind - 1;
	if (sub && !strcmp(sub, "key") && rest == 0) {
		char *key = NULL;
		if (cache_key(c->state_dir, image, &key, &e) < 0)
			return cmd_fail("cache key", &e);
		printf("%s\n", key);
		free(key);
		return 0;
	}
	if (sub && (!strcmp(sub, "export") || !strcmp(sub, "import")) && rest == 1) {
		const char *path = argv[optind + 1];
		bool out = sub[0] == 'e';
		if (!out && force)
			out_warn("cache import: --force: the image and state version are not checked");
		int r = out ? cache_export(c->state_dir, image, path, &n, &e)
			    : cache_import(c->state_dir, image, path, force, &n, &e);
		if (r < 0)
			return cmd_fail(out ? "cache export" : "cache import", &e);
		report(out ? "Exported to" : "Imported from", path, &n);
		return 0;
	}
	return cmd_usage(usage_cache, "cache: %s", !sub ? "no subcommand given" :
						  strcmp(sub, "key") && strcmp(sub, "export") && strcmp(sub, "import")
							  ? "unknown subcommand" : "wrong number of arguments");
}
