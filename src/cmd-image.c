/* kbuild-ns image import | ls | inspect | rm | prune */
#include "cmd.h"
#include "import.h"
#include "progress.h"
#include "userns.h"

#include <errno.h>
#include <getopt.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define DEFAULT_MAX_LAYER_SIZE (64ull << 30)

static const char usage_image[] =
	"usage: kbuild-ns image import PATH [--name NAME:TAG] [--platform OS/ARCH] "
	"[--max-layer-size SIZE] [--jobs N]\n"
	"       kbuild-ns image ls [--json] | inspect REF | rm REF... | prune";

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

static int do_import(kb_ctx *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "platform", required_argument, NULL, 'p' },
		{ "max-layer-size", required_argument, NULL, 'm' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	import_opts o = { .max_layer_size = DEFAULT_MAX_LAYER_SIZE, .jobs = cpu_count() };
	kb_error e = { 0 };
	const char *env = getenv("KBUILD_NS_MAX_LAYER_SIZE"), *step = NULL;
	int ch, r;

	if (env && *env && parse_size(env, &o.max_layer_size) < 0)
		return cmd_failx("import", "KBUILD_NS_MAX_LAYER_SIZE=%s: not a size (e.g. 64G)", env);
	platform_host(&o.plat.want);
	/* GNU getopt permutes: options may come before or after PATH.  Its
	 * own messages are off: ours carry the "kbuild-ns:" prefix. */
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			o.name = optarg;
			break;
		case 'p':
			if (platform_parse(optarg, &o.plat.want, &e) < 0)
				return cmd_fail("import", &e);
			o.plat.want_explicit = true;
			break;
		case 'm':
			if (parse_size(optarg, &o.max_layer_size) < 0 || o.max_layer_size == 0)
				return cmd_usage(usage_image, "import: --max-layer-size %s: not a size (e.g. 64G)", optarg);
			break;
		case 'j': {
			char *end;
			long n = strtol(optarg, &end, 10);
			if (*end || n < 1 || n > 256)
				return cmd_usage(usage_image, "import: --jobs %s: not a number from 1 to 256", optarg);
			o.jobs = (int)n;
			break;
		}
		case 'h':
			printf("%s\nSee kbuild-ns help image.\n", usage_image);
			return 0;
		default:
			return cmd_usage(usage_image, "import: %s", cmd_bad_option(argc, argv));
		}
	}
	if (optind >= argc)
		return cmd_usage(usage_image, "import: no PATH given");
	o.path = argv[optind++];
	if (optind < argc)
		return cmd_usage(usage_image, "import: unexpected argument %s", argv[optind]);

	/* Unpack as root of a user namespace that maps only us: whiteouts,
	 * opaque xattrs and read-only directories all work without any
	 * privilege, and the files still belong to us outside. */
	if (getenv("KBUILD_NS_NO_USERNS")) {    /* test hook: force the fallback */
		r = -EPERM;
		step = "KBUILD_NS_NO_USERNS";
	} else {
		r = rt_userns_enter_self(&step);
	}
	o.relax_modes = r < 0;
	if (r < 0)
		out_verbose("import: no user namespace (%s: %s); unpacking with relaxed modes", step, strerror(-r));
	else
		out_verbose("import: unpacking in a user namespace (uid %u mapped to root)", (unsigned)getuid());
	o.progress = out_get_mode() != OUT_QUIET;

	_cleanup_(store_closep) kb_store *s = NULL;
	/* umask 0: files get exactly the archive's modes. */
	umask(0);
	if (store_open(c->state_dir, LOCK_SH, out_notify, &s, &e) < 0)
		return cmd_fail("import", &e);
	double t0 = now_s();
	import_result res;
	out_verbose("import: %s", o.path);
	if (kb_import(s, &o, &res, &e) < 0)
		return cmd_fail("import", &e);
	if (res.skipped_devices || res.skipped_sockets)
		out_warn("import: skipped %llu device node(s) and %llu socket(s): "
			 "they cannot be made without privilege and a build does not need them",
			 (unsigned long long)res.skipped_devices, (unsigned long long)res.skipped_sockets);
	out_status("import: %s, %zu image(s): %zu layer(s) unpacked, %zu already present, in %.2f s",
		   format_name(res.format), res.n_images, res.layers_unpacked, res.layers_present, now_s() - t0);
	for (size_t i = 0; i < res.n_images; i++) {
		printf("sha256:%s", res.images[i]->id.hex);
		for (size_t k = 0; k < res.images[i]->n_names; k++)
			printf(" %s", res.images[i]->names[k]);
		putchar('\n');
	}
	import_result_clear(&res);
	return 0;
}

static int do_ls(kb_ctx *c, int argc, char **argv)
{
	bool json = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else
			return cmd_usage(usage_image, "ls: unexpected argument %s", argv[i]);
	}
	_cleanup_(store_closep) kb_store *s = NULL;
	kb_error e = { 0 };
	image_rec **l;
	size_t n;
	if (store_open(c->state_dir, LOCK_SH, out_notify, &s, &e) < 0 || image_list(s, &l, &n, &e) < 0)
		return cmd_fail("image ls", &e);
	if (json) {
		json_t *a = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(a, image_json(s, l[i], false));
		json_dumpf(a, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(a);
	} else {
		printf("%-50s %-12s %-14s %6s %10s\n", "NAME", "ID", "PLATFORM", "LAYERS", "SIZE");
		for (size_t i = 0; i < n; i++) {
			char pb[100], sb[24];
			platform_str(&l[i]->platform, pb, sizeof pb);
			human_size(image_size(l[i]), sb, sizeof sb);
			for (size_t k = 0; k < (l[i]->n_names ? l[i]->n_names : 1); k++)
				printf("%-50s %.12s %-14s %6zu %10s\n", l[i]->n_names ? l[i]->names[k] : "<none>",
				       l[i]->id.hex, pb, l[i]->n_layers, sb);
		}
	}
	image_list_free(l, n);
	return 0;
}

static int do_inspect(kb_ctx *c, int argc, char **argv)
{
	if (argc != 2)
		return cmd_usage(usage_image, "inspect: give exactly one image reference");
	_cleanup_(store_closep) kb_store *s = NULL;
	_cleanup_(image_rec_freep) image_rec *r = NULL;
	kb_error e = { 0 };
	if (store_open(c->state_dir, LOCK_SH, out_notify, &s, &e) < 0 || image_find(s, argv[1], &r, &e) < 0)
		return cmd_fail("image inspect", &e);
	json_t *j = image_json(s, r, true);
	json_dumpf(j, stdout, JSON_INDENT(2));
	putchar('\n');
	json_decref(j);
	return 0;
}

static int do_rm(kb_ctx *c, int argc, char **argv)
{
	if (argc < 2)
		return cmd_usage(usage_image, "rm: give at least one image reference");
	_cleanup_(store_closep) kb_store *s = NULL;
	kb_error e = { 0 };
	/* Exclusive: nothing may be using a layer we are about to delete. */
	if (store_open(c->state_dir, LOCK_EX, out_notify, &s, &e) < 0)
		return cmd_fail("image rm", &e);
	for (int i = 1; i < argc; i++) {
		_cleanup_(image_rec_freep) image_rec *r = NULL;
		if (image_find(s, argv[i], &r, &e) < 0 || image_remove(s, r, &e) < 0)
			return cmd_fail("image rm", &e);
		printf("Deleted sha256:%s\n", r->id.hex);
	}
	return 0;
}

static int do_prune(kb_ctx *c, int argc, char **argv)
{
	if (argc != 1)
		return cmd_usage(usage_image, "prune: unexpected argument %s", argv[1]);
	_cleanup_(store_closep) kb_store *s = NULL;
	kb_error e = { 0 };
	prune_stats st;
	if (store_open(c->state_dir, LOCK_EX, out_notify, &s, &e) < 0 || image_prune(s, &st, &e) < 0)
		return cmd_fail("image prune", &e);
	printf("Removed %llu unused layer(s) and %llu unused blob(s)\n",
	       (unsigned long long)st.layers, (unsigned long long)st.blobs);
	return 0;
}

int cmd_image(kb_ctx *c, int argc, char **argv)
{
	if (argc < 2)
		return cmd_usage(usage_image, "image: no subcommand given");
	const char *sub = argv[1];
	if (!strcmp(sub, "-h") || !strcmp(sub, "--help")) {
		printf("%s\nSee kbuild-ns help image.\n", usage_image);
		return 0;
	}
	if (!strcmp(sub, "import"))
		return do_import(c, argc - 1, argv + 1);
	if (!strcmp(sub, "ls") || !strcmp(sub, "list"))
		return do_ls(c, argc - 1, argv + 1);
	if (!strcmp(sub, "inspect"))
		return do_inspect(c, argc - 1, argv + 1);
	if (!strcmp(sub, "rm") || !strcmp(sub, "remove"))
		return do_rm(c, argc - 1, argv + 1);
	if (!strcmp(sub, "prune"))
		return do_prune(c, argc - 1, argv + 1);
	return cmd_usage(usage_image, "image: unknown subcommand \"%s\"", sub);
}
