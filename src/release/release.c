/* `kbuild-ns release` (release.h): the flow, the build's fixed settings,
 * and the provenance record. */
#include "release/release-int.h"
#include "release/blobw.h"
#include "release/provenance.h"
#include "base/progress.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <openssl/pem.h>

#define RECORD "kbuild-ns.provenance.json"
#define RECORD_DSSE "kbuild-ns.provenance.dsse.json"

/* What crosses into the build, recorded as externalParameters.env when
 * set: build.c's allow-list and what a release adds. */
static const char *const recorded_env[] = {
	"GOPROXY", "KUBE_FASTBUILD", "KUBE_BUILDER_OS", "KUBE_VERBOSE", "KUBE_BUILD_WITH_COVERAGE",
	"KUBE_BUILD_PLATFORMS", "KUBE_CGO_OVERRIDES", "KUBE_STATIC_OVERRIDES", "FORCE_HOST_GO", "GO_VERSION",
	"GOTOOLCHAIN", "GOFLAGS", "GOGCFLAGS", "GOLDFLAGS", "SOURCE_DATE_EPOCH", "KUBE_RELEASE_RUN_TESTS",
	"KUBE_BUILD_CONFORMANCE", "KUBE_BUILD_PULL_LATEST_IMAGES", "KUBE_DOCKER_REGISTRY", "KUBE_DOCKER_IMAGE_TAG",
	"KUBE_BASE_IMAGE_REGISTRY",
};

/* Host variables a release passes on besides build.c's allow-list: those
 * upstream's packaging reads. */
static const char *const release_pass[] = {
	"KUBE_RELEASE_RUN_TESTS", "KUBE_BUILD_CONFORMANCE", "KUBE_BUILD_PULL_LATEST_IMAGES", "KUBE_DOCKER_REGISTRY",
	"KUBE_DOCKER_IMAGE_TAG", "KUBE_BASE_IMAGE_REGISTRY",
};

/* Copy-out rules (filter.h) put before the tree's own: the release's
 * outputs come back whatever the tree's rules say of _output/. */
static const char *const copy_out[] = { "+ /_output/", "+ /_output/release-tars/***", "+ /_output/release-images/***" };

void release_result_clear(release_result *r)
{
	for (size_t i = 0; i < r->n_problems; i++)
		free(r->problems[i]);
	free(r->problems);
	free(r->record);
	memset(r, 0, sizeof *r);
}

/* Our programs and scripts: next to kbuild-ns-image (a build tree, or
 * $(pkglibexecdir)), or in $KBUILD_NS_LIBEXEC_DIR. */
static int find_tools(rel *r)
{
	static const char *const files[3] = { "kbuild-ns-docker", "kbuild-ns-tar", "kbuild-ns-release-steps" };
	static const char *const dst[3] = { REL_BIN "/docker", REL_BIN "/tar", REL_STEPS };
	const char *env = getenv("KBUILD_NS_LIBEXEC_DIR");
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (env && *env)
		r->libexec = xstrdup(env);
	else if (n > 0 && (self[n] = 0, strrchr(self, '/')))
		r->libexec = strndup(self, (size_t)(strrchr(self, '/') - self));
	if (!r->libexec)
		return kb_errx(r->e, ENOENT, "cannot tell where kbuild-ns's programs are: set KBUILD_NS_LIBEXEC_DIR");
	for (int i = 0; i < 3; i++) {
		r->bind_src[i] = xasprintf("%s/%s", r->libexec, files[i]);
		if (access(r->bind_src[i], R_OK) < 0)
			return kb_err(r->e, errno, "%s (set KBUILD_NS_LIBEXEC_DIR to the directory that holds it)",
				      r->bind_src[i]);
		r->binds[i] = (rt_bind){ .src = r->bind_src[i], .dst = dst[i], .ro = true };
	}
	return 0;
}

/* A --sign-key that cannot sign is found now, not after the build. */
static int check_key(rel *r)
{
	const char *path = r->o->sign_key;
	if (!path)
		return 0;
	FILE *f = fopen(path, "re");
	EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
	int id = k ? EVP_PKEY_get_base_id(k) : 0;
	int err = errno;
	EVP_PKEY_free(k);
	if (f)
		fclose(f);
	if (!f)
		return kb_err(r->e, err, "--sign-key %s", path);
	if (id != EVP_PKEY_ED25519 && id != EVP_PKEY_EC)
		return kb_errx(r->e, EINVAL, "--sign-key %s: not an unencrypted PEM Ed25519 or ECDSA P-256 private key", path);
	return 0;
}

/* ---- the build's settings ---- */

static bool yes(const char *v)
{
	return v && (v[0] == 'y' || v[0] == 'Y') && !v[1];
}

/* Fixed values, and what --quick and the release's own variables mean,
 * over build.c's environment. */
static int set_env(rel *r)
{
	const char *tests = getenv("KUBE_RELEASE_RUN_TESTS"), *conf = getenv("KUBE_BUILD_CONFORMANCE");
	int rc = 0;
	const char *fixed[][2] = {
		{ "TZ", "UTC" }, { "LC_ALL", "C" }, { "USER", "root" }, { "LOGNAME", "root" },
		{ "GOTOOLCHAIN", "local" }, { "GOPROXY", "off" }, { "TAR", REL_BIN "/tar" },
		{ "KUBE_RELEASE_RUN_TESTS", r->o->quick ? "n" : tests ? tests : "y" },
		{ "KUBE_BUILD_CONFORMANCE", r->o->quick ? "n" : conf ? conf : "y" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(fixed) && rc == 0; i++)
		rc = build_setenv(r->b, fixed[i][0], fixed[i][1], r->e);
	if (rc == 0 && r->o->quick)
		rc = build_setenv(r->b, "KUBE_FASTBUILD", "true", r->e);
	for (size_t i = 0; i < ARRAY_SIZE(release_pass) && rc == 0; i++)
		if (getenv(release_pass[i]) && strcmp(release_pass[i], "KUBE_RELEASE_RUN_TESTS") &&
		    strcmp(release_pass[i], "KUBE_BUILD_CONFORMANCE"))
			rc = build_setenv(r->b, release_pass[i], getenv(release_pass[i]), r->e);
	/* NAME=VALUE among the make arguments: every step sees it, as make
	 * exports it to build/release.sh upstream. */
	for (size_t i = 0; i < r->o->n_make_args && rc == 0; i++) {
		const char *a = r->o->make_args[i], *eq = strchr(a, '=');
		if (eq && eq > a && strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") ==
					    (size_t)(eq - a)) {
			_cleanup_free_ char *name = strndup(a, (size_t)(eq - a));
			rc = name ? build_setenv(r->b, name, eq + 1, r->e) : kb_err_oom(r->e, "environment");
		}
	}
	return rc;
}

static const char *getenv_in(char *const *env, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; env && env[i]; i++)
		if (!strncmp(env[i], name, n) && env[i][n] == '=')
			return env[i] + n + 1;
	return NULL;
}

/* ---- the steps ---- */

static int step(rel *r, const char *what, char *const *argv)
{
	int status = 0, rc;
	out_status("Release: %s", what);
	if ((rc = build_run_argv(r->b, argv, NULL, 0, &status, r->e)) < 0)
		return rc;
	if (status) {
		snprintf(r->res->step, sizeof r->res->step, "%s", what);
		r->res->status = status;
	}
	return 0;
}

static int build_steps(rel *r)
{
	size_t n = r->o->n_make_args;
	_cleanup_free_ char **argv = calloc(n + 3, sizeof *argv);
	static char *test_argv[] = { "make", "test", NULL };
	static char *pkg_argv[] = { "bash", REL_STEPS, "package", NULL };
	int rc;
	if (!argv)
		return kb_err_oom(r->e, "release");
	argv[0] = "make";
	argv[1] = "cross";
	memcpy(argv + 2, r->o->make_args, n * sizeof *argv);
	if ((rc = step(r, r->o->quick ? "make cross (KUBE_FASTBUILD=true: this platform only)" : "make cross", argv)) < 0 ||
	    r->res->status)
		return rc;
	if (yes(getenv_in(r->f.env, "KUBE_RELEASE_RUN_TESTS")) && ((rc = step(r, "make test", test_argv)) < 0 || r->res->status))
		return rc;
	return step(r, "packaging (kube::release::package_tarballs)", pkg_argv);
}

/* The host's release-tars and release-images go before copy-out brings
 * the new ones: nothing stale is left to be taken for this release's. */
static int clear_outputs(rel *r)
{
	_cleanup_free_ char *out = xasprintf("%s/_output", r->f.checkout);
	_cleanup_close_ int fd = open(out, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	static const char *const dirs[] = { "release-tars", "release-images" };
	for (size_t i = 0; fd >= 0 && i < ARRAY_SIZE(dirs); i++) {
		int rc = rm_rf_at(fd, dirs[i]);
		if (rc < 0)
			return kb_err(r->e, -rc, "%s/%s", out, dirs[i]);
	}
	return 0;
}

/* ---- provenance ---- */

/* An image archive's manifest digest, from its index.json. */
static char *manifest_of(int dirfd, const char *path)
{
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct archive *a = fd >= 0 ? archive_read_new() : NULL;
	struct archive_entry *en;
	char *out = NULL;
	if (!a)
		return NULL;
	archive_read_support_format_tar(a);
	if (archive_read_open_fd(a, fd, 1 << 16) == ARCHIVE_OK)
		while (!out && archive_read_next_header(a, &en) == ARCHIVE_OK) {
			if (strcmp(archive_entry_pathname(en), "index.json") || archive_entry_size(en) > (1 << 20))
				continue;
			size_t len = (size_t)archive_entry_size(en);
			_cleanup_free_ char *buf = malloc(len + 1);
			if (!buf || archive_read_data(a, buf, len) != (la_ssize_t)len)
				break;
			json_t *j = json_loadb(buf, len, 0, NULL);
			const char *d = json_string_value(json_object_get(json_array_get(json_object_get(j, "manifests"), 0), "digest"));
			out = d ? xstrdup(d) : NULL;
			json_decref(j);
		}
	archive_read_free(a);
	return out;
}

/* Every file under dir (relative to the checkout), sorted by the record. */
static int add_subjects(rel *r, provenance *p, int cfd, const char *dir)
{
	_cleanup_close_ int dfd = openat(cfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	DIR *d = dfd >= 0 ? opendir_at(dfd) : NULL;
	struct dirent *de;
	int rc = 0;
	if (!d)
		return errno == ENOENT ? 0 : kb_err(r->e, errno, "%s/%s", r->f.checkout, dir);
	while (rc == 0 && (de = readdir(d))) {
		struct stat st;
		if (de->d_name[0] == '.' || !strcmp(de->d_name, RECORD) || !strcmp(de->d_name, RECORD_DSSE) ||
		    fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		_cleanup_free_ char *path = xasprintf("%s/%s", dir, de->d_name);
		if (S_ISDIR(st.st_mode)) {
			rc = add_subjects(r, p, cfd, path);
		} else if (S_ISREG(st.st_mode)) {
			size_t n = strlen(path);
			_cleanup_free_ char *m = n > 4 && !strcmp(path + n - 4, ".tar") ? manifest_of(cfd, path) : NULL;
			rc = prov_add_file(p, cfd, path, m, r->e);
		}
	}
	closedir(d);
	return rc;
}

static int add_deps(rel *r, provenance *p)
{
	const image_rec *im = r->f.image;
	char d[80], id[80];
	int rc = 0;
	bool url = r->origin && *r->origin && (strstr(r->origin, "://") || strchr(r->origin, '@'));
	_cleanup_free_ char *uri = url ? xasprintf("git+%s", r->origin) : NULL;
	if (r->has_git)
		rc = prov_add_dep(p, "source", uri, "gitCommit", r->head, r->describe && *r->describe ? "kbuildns_describe" : NULL,
				  r->describe, r->e);
	if (rc == 0 && r->dirhash)
		rc = prov_add_dep(p, "source-snapshot", NULL, "dirHash", r->dirhash, NULL, NULL, r->e);
	_cleanup_free_ char *iu = xasprintf("oci:%s", r->f.image_ref);
	snprintf(id, sizeof id, "sha256:%s", im->id.hex);
	if (rc == 0)
		rc = prov_add_dep(p, "build-image", iu, "sha256", im->has_manifest ? im->manifest.hex : im->id.hex,
				  "kbuildns_imageId", id, r->e);
	for (size_t i = 0; rc == 0 && i < r->n_bases; i++) {
		const image_rec *b = r->bases[i].rec;
		_cleanup_free_ char *bu = xasprintf("oci:%s", r->bases[i].name);
		snprintf(d, sizeof d, "%s", b->has_manifest ? b->manifest.hex : b->id.hex);
		rc = prov_add_dep(p, NULL, bu, "sha256", d, "kbuildns_platform", r->bases[i].platform, r->e);
	}
	return rc;
}

static int fill_parameters(rel *r, provenance *p)
{
	json_t *ext = prov_external(p), *in = prov_internal(p), *cmd = json_array(), *env = json_object(), *margs = json_array();
	char sde[32];
	snprintf(sde, sizeof sde, "%lld", r->sde);
	json_array_append_new(cmd, json_string("kbuild-ns"));
	/* Not --sign-key: signing is not part of the build (and the key's
	 * path is the host's). */
	for (size_t i = 0; i < r->o->argc; i++)
		if (!strcmp(r->o->argv[i], "--sign-key"))
			i++;
		else if (strncmp(r->o->argv[i], "--sign-key=", 11))
			json_array_append_new(cmd, json_string(r->o->argv[i]));
	for (size_t i = 0; i < r->o->n_make_args; i++)
		json_array_append_new(margs, json_string(r->o->make_args[i]));
	for (size_t i = 0; i < ARRAY_SIZE(recorded_env); i++) {
		const char *v = getenv_in(r->f.env, recorded_env[i]);
		if (v)
			json_object_set_new(env, recorded_env[i], json_string(v));
	}
	json_object_set_new(ext, "command", cmd);
	json_object_set_new(ext, "makeArguments", margs);
	json_object_set_new(ext, "quick", json_boolean(r->o->quick));
	json_object_set_new(ext, "allowDirty", json_boolean(r->o->allow_dirty));
	json_object_set_new(ext, "sourceDateEpoch", json_string(sde));
	json_object_set_new(ext, "env", env);
	json_t *git = json_pack("{s:s, s:s}", "describe", r->describe ? r->describe : "", "treeState",
				r->dirty && *r->dirty ? "dirty" : "clean");
	json_object_set_new(in, "network", json_string("none"));
	json_object_set_new(in, "hostname", json_string(REL_HOSTNAME));
	json_object_set_new(in, "uid", json_integer(0));
	json_object_set_new(in, "umask", json_string("0022"));
	json_object_set_new(in, "TZ", json_string("UTC"));
	json_object_set_new(in, "LC_ALL", json_string("C"));
	json_object_set_new(in, "dataLayer", json_string("fresh"));
	json_object_set_new(in, "sourceDateEpochFrom", json_string(r->sde_from));
	json_object_set_new(in, "imageLayerCompression", json_string(blobw_deflater()));
	json_object_set_new(in, "kubeGit", git);
	return 0;
}

static int write_record(rel *r)
{
	_cleanup_(prov_freep) provenance *p = prov_new();
	_cleanup_close_ int cfd = open(r->f.checkout, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;
	if (!p)
		return kb_err_oom(r->e, "provenance");
	if (cfd < 0)
		return kb_err(r->e, errno, "%s", r->f.checkout);
	if ((rc = add_subjects(r, p, cfd, "_output/release-tars")) < 0 ||
	    (rc = add_subjects(r, p, cfd, "_output/release-images")) < 0 || (rc = add_deps(r, p)) < 0 ||
	    (rc = fill_parameters(r, p)) < 0)
		return rc;
	prov_set_run(p, PACKAGE_VERSION, r->started, (long long)time(NULL));
	_cleanup_close_ int tfd = openat(cfd, "_output/release-tars", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tfd < 0)
		return kb_err(r->e, errno, "%s/_output/release-tars (the packaging made no tarballs)", r->f.checkout);
	if ((rc = prov_write(p, tfd, RECORD, r->o->sign_key, r->e)) < 0)
		return rc;
	r->res->record = xasprintf("_output/release-tars/%s", r->o->sign_key ? RECORD_DSSE : RECORD);
	return 0;
}

/* ---- the whole release ---- */

static int run(rel *r, const char *state_dir)
{
	static const build_release policy = { .data_format = DATA_FORMAT_RELEASE, .hostname = REL_HOSTNAME,
					       .path_prefix = REL_BIN, .copy_out = copy_out, .n_copy_out = ARRAY_SIZE(copy_out) };
	static char *record_argv[] = { "kbuild-ns", "release", NULL };
	char sde[32];
	int rc;

	r->bo = (build_opts){ .image = r->o->image, .no_wait = r->o->no_wait, .binds = r->binds, .n_binds = 4,
			      .argv = record_argv, .release = &policy };
	if ((rc = find_tools(r)) < 0 || (rc = check_key(r)) < 0 || (rc = build_open(state_dir, &r->bo, &r->b, r->e)) < 0)
		return rc;
	build_get_facts(r->b, &r->f);
	/* The store, read-only: the docker stand-in's base images. */
	r->binds[3] = (rt_bind){ .src = r->f.store->root, .dst = REL_STORE, .ro = true };
	if ((rc = build_prepare(r->b, r->e)) < 0 || (rc = set_env(r)) < 0)
		return rc;
	build_get_facts(r->b, &r->f);
	/* The preflight on the empty data layer: it needs only the image's
	 * tools, and a missing input is reported before the init's run. */
	if ((rc = rel_preflight(r)) < 0)
		return rc;
	if (r->res->n_problems)
		return -EINVAL;
	if ((rc = build_init(r->b, r->e)) < 0)
		return rc;
	snprintf(sde, sizeof sde, "%lld", r->sde);
	if ((rc = build_setenv(r->b, "SOURCE_DATE_EPOCH", sde, r->e)) < 0 || (rc = build_sync_in(r->b, r->e)) < 0 ||
	    (rc = rel_snapshot_modes(r)) < 0 ||
	    (r->dirty && *r->dirty && (rc = rel_dirhash(r)) < 0))
		return rc;
	build_get_facts(r->b, &r->f);
	if ((rc = build_steps(r)) < 0 || r->res->status)
		return rc;
	out_status("Release: copying the release tarballs and images back");
	if ((rc = clear_outputs(r)) < 0 || (rc = build_copy_out(r->b, r->e)) < 0 || (rc = write_record(r)) < 0)
		return rc;
	(void)build_record(r->b, 0, r->e);
	*r->e = (kb_error){ 0 };
	return build_discard(r->b, r->e);
}

int release_run(const char *state_dir, const release_opts *o, release_result *ret, kb_error *e)
{
	rel r = { .o = o, .res = ret, .e = e, .started = (long long)time(NULL) };
	memset(ret, 0, sizeof *ret);
	/* Upstream's build/common.sh forces it too: binaries 0755, files 0644. */
	umask(022);
	int rc = run(&r, state_dir);
	if (r.b && ret->status)
		(void)build_record(r.b, ret->status, &(kb_error){ 0 });
	build_close(r.b);
	rel_free_facts(&r);
	for (int i = 0; i < 3; i++)
		free(r.bind_src[i]);
	free(r.libexec);
	return rc;
}
