/* kbuild-ns-image: the part of kbuild-ns that reads image archives, and
 * the only one that links libarchive, libzstd, ISA-L and OpenSSL (see
 * cmd-image.c for why).  kbuild-ns execs it for `image import` as
 *
 *   kbuild-ns-image [-q | -v...] --state-dir DIR import [ARGS...]
 *
 * after it has applied -C and checked the state directory; this is not an
 * interface for people, who run `kbuild-ns image import`.  The command
 * itself (cmd_image_import) is below main's helpers: it runs with the pid,
 * the arguments and the standard streams kbuild-ns had. */
#include "cli/cmd.h"
#include "image/import/import.h"
#include "base/progress.h"
#include "runtime/userns.h"

#include <errno.h>
#include <getopt.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define DEFAULT_MAX_LAYER_SIZE (64ull << 30)
/* Layer blobs are kept when an archive's layers total at most this
 * (base images of release builds; see import.h). */
#define DEFAULT_KEEP_BLOBS_MAX (256ull << 20)

static const char *format_name(image_format f)
{
	return f == FMT_OCI ? "OCI image" : f == FMT_DOCKER ? "docker-save archive" : "root filesystem tarball";
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The options of `image import`; 1 after --help, a usage error's exit
 * status (negative) after printing it. */
static int parse_import(int argc, char **argv, import_opts *o)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "platform", required_argument, NULL, 'p' },
		{ "max-layer-size", required_argument, NULL, 'm' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "keep-blobs", no_argument, NULL, 'K' },
		{ "no-keep-blobs", no_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	kb_error e = { 0 };
	int ch;

	/* GNU getopt permutes: options may come before or after PATH.  Its
	 * own messages are off: ours carry the "kbuild-ns:" prefix. */
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		char *end;
		long n;
		switch (ch) {
		case 'n':
			o->name = optarg;
			break;
		case 'p':
			if (platform_parse(optarg, &o->plat.want, &e) < 0)
				return -cmd_fail("import", &e);
			o->plat.want_explicit = true;
			break;
		case 'm':
			if (parse_size(optarg, &o->max_layer_size) < 0 || o->max_layer_size == 0)
				return -cmd_usage(usage_image, "import: --max-layer-size %s: not a size (e.g. 64G)", optarg);
			break;
		case 'j':
			n = strtol(optarg, &end, 10);
			if (*end || n < 1 || n > 256)
				return -cmd_usage(usage_image, "import: --jobs %s: not a number from 1 to 256", optarg);
			o->jobs = (int)n;
			break;
		case 'K':
		case 'N':
			o->keep_blobs = ch == 'K' ? KEEP_BLOBS_YES : KEEP_BLOBS_NO;
			break;
		case 'h':
			printf("%s\nSee kbuild-ns help image.\n", usage_image);
			return 1;
		default:
			return -cmd_usage(usage_image, "import: %s", cmd_bad_option(argc, argv));
		}
	}
	if (optind >= argc)
		return -cmd_usage(usage_image, "import: no PATH given");
	o->path = argv[optind++];
	if (optind < argc)
		return -cmd_usage(usage_image, "import: unexpected argument %s", argv[optind]);
	return 0;
}

/* Unpack as root of a user namespace that maps only us: whiteouts,
 * opaque xattrs and read-only directories all work without any
 * privilege, and the files still belong to us outside. */
static void enter_userns(import_opts *o)
{
	kb_error e = { 0 };
	int r = getenv("KBUILD_NS_NO_USERNS") ? kb_errx(&e, EPERM, "KBUILD_NS_NO_USERNS is set")    /* test hook */
					     : rt_userns_enter_self(&e);
	o->relax_modes = r < 0;
	if (r < 0)
		out_verbose("import: no user namespace (%s); unpacking with relaxed modes", e.msg);
	else
		out_verbose("import: unpacking in a user namespace (uid %u mapped to root)", (unsigned)getuid());
}

static void report(const import_result *res, double secs)
{
	if (res->skipped_devices || res->skipped_sockets)
		out_warn("import: skipped %llu device node(s) and %llu socket(s): "
			 "they cannot be made without privilege and a build does not need them",
			 (unsigned long long)res->skipped_devices, (unsigned long long)res->skipped_sockets);
	out_status("import: %s, %zu image(s): %zu layer(s) unpacked, %zu already present, in %.2f s",
		   format_name(res->format), res->n_images, res->layers_unpacked, res->layers_present, secs);
	if (res->blobs_kept)
		out_verbose("import: %zu layer blob(s) kept as the archive holds them", res->blobs_kept);
	for (size_t i = 0; i < res->n_images; i++) {
		printf("sha256:%s", res->images[i]->id.hex);
		for (size_t k = 0; k < res->images[i]->n_names; k++)
			printf(" %s", res->images[i]->names[k]);
		putchar('\n');
	}
}

int cmd_image_import(kb_ctx *c, int argc, char **argv)
{
	import_opts o = { .max_layer_size = DEFAULT_MAX_LAYER_SIZE, .jobs = cpu_count(),
			  .keep_blobs_max = DEFAULT_KEEP_BLOBS_MAX };
	_cleanup_(store_closep) kb_store *s = NULL;
	const char *env = getenv("KBUILD_NS_MAX_LAYER_SIZE");
	kb_error e = { 0 };
	import_result res;
	int r;

	if (env && *env && parse_size(env, &o.max_layer_size) < 0)
		return cmd_failx("import", "KBUILD_NS_MAX_LAYER_SIZE=%s: not a size (e.g. 64G)", env);
	env = getenv("KBUILD_NS_KEEP_BLOBS_MAX");
	if (env && *env && parse_size(env, &o.keep_blobs_max) < 0)
		return cmd_failx("import", "KBUILD_NS_KEEP_BLOBS_MAX=%s: not a size (e.g. 256M)", env);
	platform_host(&o.plat.want);
	if ((r = parse_import(argc, argv, &o)) != 0)
		return r > 0 ? 0 : -r;
	enter_userns(&o);
	o.progress = out_get_mode() != OUT_QUIET;
	/* umask 0: files get exactly the archive's modes. */
	umask(0);
	if (store_open(c->state_dir, LOCK_SH, out_notify, &s, &e) < 0)
		return cmd_fail("import", &e);
	double t0 = now_s();
	out_verbose("import: %s", o.path);
	if (kb_import(s, &o, &res, &e) < 0)
		return cmd_fail("import", &e);
	report(&res, now_s() - t0);
	import_result_clear(&res);
	return 0;
}

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
	static const struct { const char *name; int (*fn)(kb_ctx *, int, char **); } commands[] = {
		{ "import", cmd_image_import }, { "provenance", cmd_provenance }, { "cache", cmd_cache },
		{ "release", cmd_release },
	};
	int (*fn)(kb_ctx *, int, char **) = NULL;
	for (size_t k = 0; i < argc && k < ARRAY_SIZE(commands); k++)
		if (!strcmp(argv[i], commands[k].name))
			fn = commands[k].fn;
	if (!c.state_dir || c.state_dir[0] != '/' || !fn) {
		fputs("kbuild-ns-image: a part of kbuild-ns; use `kbuild-ns image import`, `release`, `provenance` or "
		      "`cache`\n", stderr);
		return KB_EXIT_FAIL;
	}
	out_init(c.verbosity);
	int r = fn(&c, argc - i, argv + i);
	fflush(stdout);
	if (ferror(stdout))
		return cmd_failx("image", "writing to standard output failed");
	return r;
}
