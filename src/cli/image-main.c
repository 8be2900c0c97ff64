/* kbuild-ns-image: the part of kbuild-ns that reads image archives and
 * registries, and the only one that links libarchive, libzstd, ISA-L,
 * OpenSSL and libcurl (see cmd-image.c for why).  kbuild-ns execs it for
 * `image import`, `image pull`, `provenance` and `cache`, and runs it as a
 * child to pull an image make, run or shell miss (build/ondemand.c), as
 *
 *   kbuild-ns-image [-q | -v...] --state-dir DIR COMMAND [ARGS...]
 *
 * after it has applied -C and checked the state directory; this is not an
 * interface for people, who run `kbuild-ns image import|pull`.  The
 * commands run with the pid, the arguments and the standard streams
 * kbuild-ns had. */
#include "cli/cmd.h"
#include "image/import/import.h"
#include "image/pull/pull.h"
#include "base/progress.h"
#include "base/words.h"
#include "runtime/userns.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define DEFAULT_MAX_LAYER_SIZE (64ull << 30)
#define MAX_NAMES 64
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
	static const char *names[MAX_NAMES];
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
			if (o->n_names >= MAX_NAMES)
				return -cmd_usage(usage_image_import, "image import: more than %d --name options", MAX_NAMES);
			names[o->n_names++] = optarg;
			o->names = names;
			break;
		case 'p':
			if (platform_parse(optarg, &o->plat.want, &e) < 0)
				return -cmd_fail("image import", &e);
			o->plat.want_explicit = true;
			break;
		case 'm':
			if (parse_size(optarg, &o->max_layer_size) < 0 || o->max_layer_size == 0)
				return -cmd_usage(usage_image_import, "image import: --max-layer-size %s: not a size (e.g. 64G)", optarg);
			break;
		case 'j':
			n = strtol(optarg, &end, 10);
			if (*end || n < 1 || n > 256)
				return -cmd_usage(usage_image_import, "image import: --jobs %s: not a number from 1 to 256", optarg);
			o->jobs = (int)n;
			break;
		case 'K':
		case 'N':
			o->keep_blobs = ch == 'K' ? KEEP_BLOBS_YES : KEEP_BLOBS_NO;
			break;
		case 'h':
			cmd_help_text(usage_image_import, "image");
			return 1;
		default:
			return -cmd_usage(usage_image_import, "image import: %s", cmd_bad_option("image import", argc, argv));
		}
	}
	if (optind >= argc)
		return -cmd_usage(usage_image_import, "image import: no PATH given");
	o->path = argv[optind++];
	if (optind < argc)
		return -cmd_usage(usage_image_import, "image import: unexpected argument %s", argv[optind]);
	return 0;
}

/* Unpack as root of a user namespace that maps only us: whiteouts,
 * opaque xattrs and read-only directories all work without any
 * privilege, and the files still belong to us outside. */
static void enter_userns(import_opts *o, const char *cmd)
{
	kb_error e = { 0 };
	int r = getenv("KBUILD_NS_NO_USERNS") ? kb_errx(&e, EPERM, "KBUILD_NS_NO_USERNS is set")    /* test hook */
					     : rt_userns_enter_self(&e);
	o->relax_modes = r < 0;
	if (r < 0)
		out_verbose("%s: no user namespace (%s); unpacking with relaxed modes", cmd, e.msg);
	else
		out_verbose("%s: unpacking in a user namespace (uid %u mapped to root)", cmd, (unsigned)getuid());
}

/* The settings import and pull share: the layer size cap from the
 * environment, the host's platform, the job count. */
static int common_defaults(import_opts *o, const char *cmd)
{
	const char *env = getenv("KBUILD_NS_MAX_LAYER_SIZE");
	*o = (import_opts){ .max_layer_size = DEFAULT_MAX_LAYER_SIZE, .jobs = cpu_count() };
	if (env && *env && parse_size(env, &o->max_layer_size) < 0)
		return cmd_failx(cmd, "KBUILD_NS_MAX_LAYER_SIZE=%s: not a size (e.g. 64G)", env);
	platform_host(&o->plat.want);
	return 0;
}

static void report(const import_result *res, double secs)
{
	if (res->skipped_devices || res->skipped_sockets)
		out_warn("image import: skipped %llu device %s and %llu %s: "
			 "they cannot be made without privilege and a build does not need them",
			 (unsigned long long)res->skipped_devices, plural(res->skipped_devices, "node", "nodes"),
			 (unsigned long long)res->skipped_sockets, plural(res->skipped_sockets, "socket", "sockets"));
	out_status("import: %s, %zu %s: %zu %s unpacked, %zu already present, in %.2f s", format_name(res->format),
		   res->n_images, plural(res->n_images, "image", "images"), res->layers_unpacked,
		   plural(res->layers_unpacked, "layer", "layers"), res->layers_present, secs);
	if (res->blobs_kept)
		out_verbose("image import: %zu layer %s kept as the archive holds them", res->blobs_kept,
			    plural(res->blobs_kept, "blob", "blobs"));
	for (size_t i = 0; i < res->n_images; i++) {
		printf("sha256:%s", res->images[i]->id.hex);
		for (size_t k = 0; k < res->images[i]->n_names; k++)
			printf(" %s", res->images[i]->names[k]);
		putchar('\n');
	}
}

int cmd_image_import(kb_ctx *c, int argc, char **argv)
{
	import_opts o;
	_cleanup_(store_closep) kb_store *s = NULL;
	kb_error e = { 0 };
	import_result res;
	int r;

	if ((r = common_defaults(&o, "image import")) != 0)
		return r;
	o.keep_blobs_max = DEFAULT_KEEP_BLOBS_MAX;
	const char *env = getenv("KBUILD_NS_KEEP_BLOBS_MAX");
	if (env && *env && parse_size(env, &o.keep_blobs_max) < 0)
		return cmd_failx("image import", "KBUILD_NS_KEEP_BLOBS_MAX=%s: not a size (e.g. 256M)", env);
	if ((r = parse_import(argc, argv, &o)) != 0)
		return r > 0 ? 0 : -r;
	enter_userns(&o, "image import");
	o.progress = out_get_mode() != OUT_QUIET;
	/* umask 0: files get exactly the archive's modes. */
	umask(0);
	if (store_open(c->state_dir, LOCK_SH, out_notify, &s, &e) < 0)
		return cmd_fail("image import", &e);
	double t0 = now_s();
	out_verbose("import: %s", o.path);
	if (kb_import(s, &o, &res, &e) < 0)
		return cmd_fail("image import", &e);
	report(&res, now_s() - t0);
	import_result_clear(&res);
	return 0;
}

/* The options of `image pull`; as parse_import. */
typedef struct pull_cli {
	pull_opts p;
	int error_fd;                /* --error-fd: the failure goes there (pull on demand) */
} pull_cli;

static int parse_tls_verify(const char *v, bool *no_verify)
{
	if (!v || !strcmp(v, "true"))
		*no_verify = false;
	else if (!strcmp(v, "false"))
		*no_verify = true;
	else
		return -1;
	return 0;
}

static int parse_pull(int argc, char **argv, pull_cli *o)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "platform", required_argument, NULL, 'p' },
		{ "cert-dir", required_argument, NULL, 'c' },
		{ "tls-verify", optional_argument, NULL, 't' },
		{ "max-layer-size", required_argument, NULL, 'm' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "connect-timeout", required_argument, NULL, 'T' },
		{ "error-fd", required_argument, NULL, 'E' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	kb_error e = { 0 };
	int ch;
	long n;
	char *end;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'n': o->p.name = optarg; break;
		case 'c': o->p.cert_dir = optarg; break;
		case 'p':
			if (platform_parse(optarg, &o->p.unpack.plat.want, &e) < 0)
				return -cmd_fail("image pull", &e);
			o->p.unpack.plat.want_explicit = true;
			break;
		case 't':
			if (parse_tls_verify(optarg, &o->p.no_tls_verify) < 0)
				return -cmd_usage(usage_image_pull, "image pull: --tls-verify=%s: true or false", optarg);
			break;
		case 'm':
			if (parse_size(optarg, &o->p.unpack.max_layer_size) < 0 || o->p.unpack.max_layer_size == 0)
				return -cmd_usage(usage_image_pull, "image pull: --max-layer-size %s: not a size (e.g. 64G)", optarg);
			break;
		case 'j': case 'T': case 'E':
			n = strtol(optarg, &end, 10);
			if (*end || n < (ch == 'E' ? 0 : 1) || n > (ch == 'j' ? 256 : 3600))
				return -cmd_usage(usage_image_pull, "image pull: %s %s: not a usable number", argv[optind - 1], optarg);
			if (ch == 'j')
				o->p.unpack.jobs = (int)n;
			else if (ch == 'T')
				o->p.connect_timeout = n;
			else
				o->error_fd = (int)n;
			break;
		case 'h':
			cmd_help_text(usage_image_pull, "image");
			return 1;
		default:
			return -cmd_usage(usage_image_pull, "image pull: %s", cmd_bad_option("image pull", argc, argv));
		}
	}
	if (optind >= argc)
		return -cmd_usage(usage_image_pull, "image pull: no image reference given");
	o->p.ref = argv[optind++];
	if (optind < argc)
		return -cmd_usage(usage_image_pull, "image pull: unexpected argument %s", argv[optind]);
	return 0;
}

static void report_pull(const pull_result *res, double secs)
{
	char hb[24];
	char db[24];
	if (res->r.skipped_devices || res->r.skipped_sockets)
		out_warn("pull: skipped %llu device node(s) and %llu socket(s): "
			 "they cannot be made without privilege and a build does not need them",
			 (unsigned long long)res->r.skipped_devices, (unsigned long long)res->r.skipped_sockets);
	out_status("pull: %s (%s%s%s): %zu layer(s) downloaded and unpacked (%s), %zu already present, in %.2f s",
		   res->name, digest_short(&res->digest, db), res->via ? ", from mirror " : "", res->via ? res->via : "",
		   res->r.layers_unpacked, human_size(res->r.bytes_read, hb, sizeof hb), res->r.layers_present, secs);
	for (size_t i = 0; i < res->r.n_images; i++) {
		printf("sha256:%s", res->r.images[i]->id.hex);
		for (size_t k = 0; k < res->r.images[i]->n_names; k++)
			printf(" %s", res->r.images[i]->names[k]);
		putchar('\n');
	}
}

/* With --error-fd, the failure is written there for kbuild-ns to say in
 * its own line (the image a build misses), not printed. */
static int pull_fail(const pull_cli *o, const kb_error *e)
{
	if (o->error_fd <= 2)
		return cmd_fail("image pull", e);
	char buf[1100];
	int n = snprintf(buf, sizeof buf, "%d %s", e->errnum, e->msg);
	(void)write_all(o->error_fd, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
	return kb_err_exit(e);
}

int cmd_image_pull(kb_ctx *c, int argc, char **argv)
{
	pull_cli o = { .error_fd = -1 };
	_cleanup_(store_closep) kb_store *s = NULL;
	_cleanup_(regconf_freep) reg_conf *conf = NULL;
	kb_error e = { 0 };
	pull_result res;
	int r;

	if ((r = common_defaults(&o.p.unpack, "image pull")) != 0)
		return r;
	o.p.connect_timeout = 15;
	if ((r = parse_pull(argc, argv, &o)) != 0)
		return r > 0 ? 0 : -r;
	if (regconf_load(NULL, &conf, &e) < 0)
		return pull_fail(&o, &e);
	o.p.conf = conf;
	enter_userns(&o.p.unpack, "image pull");
	o.p.unpack.progress = out_get_mode() != OUT_QUIET;
	o.p.unpack.path = o.p.ref;
	o.p.unpack.cmd = "pull";
	umask(0);
	if (store_open(c->state_dir, LOCK_SH, out_notify, &s, &e) < 0)
		return pull_fail(&o, &e);
	double t0 = now_s();
	out_verbose("pull: %s", o.p.ref);
	if (kb_pull(s, &o.p, &res, &e) < 0)
		return pull_fail(&o, &e);
	report_pull(&res, now_s() - t0);
	pull_result_clear(&res);
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
		{ "import", cmd_image_import }, { "pull", cmd_image_pull }, { "provenance", cmd_provenance },
		{ "cache", cmd_cache }, { "release", cmd_release },
	};
	int (*fn)(kb_ctx *, int, char **) = NULL;
	for (size_t k = 0; i < argc && k < ARRAY_SIZE(commands); k++)
		if (!strcmp(argv[i], commands[k].name))
			fn = commands[k].fn;
	if (!c.state_dir || c.state_dir[0] != '/' || !fn) {
		fputs("kbuild-ns-image: a part of kbuild-ns; use `kbuild-ns image import`, `image pull`, `release`, "
		      "`provenance` or `cache`\n", stderr);
		return KB_EXIT_FAIL;
	}
	out_init(c.verbosity);
	/* Before any thread: libcurl's global state. */
	if (fn == cmd_image_pull && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return cmd_failx("image pull", "libcurl could not be initialised");
	int r = fn(&c, argc - i, argv + i);
	fflush(stdout);
	if (ferror(stdout))
		return cmd_failx(!strcmp(argv[i], "import") ? "image import" : !strcmp(argv[i], "pull") ? "image pull" : argv[i], "writing to standard output failed");
	return r;
}
