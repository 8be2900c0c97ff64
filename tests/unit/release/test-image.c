/* The release's image writer: the tar writer (tarw.c), Docker's names
 * (baseimg.c), setcap's text (dfcopy.c), and Dockerfiles built on a base
 * image in a store made here (dfbuild.c, ociw.c): the layer's order,
 * modes and xattr, the configuration, base blobs unchanged, the same
 * bytes twice, and the refusals. */
#include "unit.h"
#include "release/dfbuild.h"
#include "release/baseimg.h"
#include "release/blobw.h"
#include "image/import/sha256.h"

#include <archive.h>
#include <archive_entry.h>

/* ---- tar ---- */

static int mem_sink(void *ctx, const void *p, size_t n, kb_error *e)
{
	FILE *f = ctx;
	(void)e;
	return fwrite(p, 1, n, f) == n ? 0 : -EIO;
}

static void test_tar_entries(void **state)
{
	(void)state;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	tarw w;
	kb_error e = { 0 };
	unsigned char cap[20] = { 1, 0, 0, 2, 0, 4 };
	tar_xattr x = { "security.capability", cap, sizeof cap };
	char longp[300];
	memset(longp, 'a', sizeof longp - 1);
	longp[sizeof longp - 1] = 0;
	longp[100] = '/';
	tarw_init(&w, mem_sink, f);
	assert_int_equal(tarw_header(&w, &(tar_entry){ .path = "usr", .type = '5', .mode = 0755, .mtime = 1700000000 }, &e), 0);
	assert_int_equal(tarw_header(&w, &(tar_entry){ .path = "usr/bin", .type = '0', .mode = 0755, .size = 3,
						     .mtime = 1700000000, .xattrs = &x, .n_xattrs = 1 }, &e), 0);
	assert_int_equal(tarw_data(&w, "abc", 3, &e), 0);
	assert_int_equal(tarw_header(&w, &(tar_entry){ .path = longp, .type = '2', .mode = 0777, .link = "x" }, &e), 0);
	assert_int_equal(tarw_finish(&w, &e), 0);
	fclose(f);
	assert_int_equal(len % 512, 0);

	struct archive *a = archive_read_new();
	struct archive_entry *en;
	archive_read_support_format_tar(a);
	assert_int_equal(archive_read_open_memory(a, buf, len), ARCHIVE_OK);
	assert_int_equal(archive_read_next_header(a, &en), ARCHIVE_OK);
	assert_string_equal(archive_entry_pathname(en), "usr/");
	assert_int_equal(archive_entry_mtime(en), 1700000000);
	assert_int_equal(archive_read_next_header(a, &en), ARCHIVE_OK);
	assert_string_equal(archive_entry_pathname(en), "usr/bin");
	assert_int_equal(archive_entry_uid(en), 0);
	assert_string_equal(archive_entry_uname(en) ? archive_entry_uname(en) : "", "");
	const char *name;
	const void *val;
	size_t vlen;
	assert_int_equal(archive_entry_xattr_reset(en), 1);
	assert_int_equal(archive_entry_xattr_next(en, &name, &val, &vlen), ARCHIVE_OK);
	assert_string_equal(name, "security.capability");
	assert_int_equal(vlen, 20);
	assert_memory_equal(val, cap, 20);
	assert_int_equal(archive_read_next_header(a, &en), ARCHIVE_OK);
	assert_string_equal(archive_entry_pathname(en), longp);
	assert_int_equal(archive_read_next_header(a, &en), ARCHIVE_EOF);
	archive_read_free(a);
	free(buf);
}

/* ---- names and capabilities ---- */

static void test_docker_names(void **state)
{
	(void)state;
	static const char *const cases[][3] = {
		{ "busybox", "docker.io/library/busybox:latest", "busybox:latest" },
		{ "arm64v8/busybox", "docker.io/arm64v8/busybox:latest", "arm64v8/busybox:latest" },
		{ "docker.io/library/busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36" },
		{ "gcr.io/distroless/static-debian12", "gcr.io/distroless/static-debian12:latest",
		  "gcr.io/distroless/static-debian12:latest" },
		{ "localhost:5000/x:1", "localhost:5000/x:1", "localhost:5000/x:1" },
		{ "registry.k8s.io/pause@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		  "registry.k8s.io/pause@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", NULL },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *full = docker_ref_full(cases[i][0]);
		assert_non_null(full);
		assert_string_equal(full, cases[i][1]);
		if (cases[i][2]) {
			char *fam = docker_ref_familiar(cases[i][0]);
			assert_string_equal(fam, cases[i][2]);
			free(fam);
		}
		free(full);
	}
	assert_null(docker_ref_full("a b"));
	assert_null(docker_ref_full("x@sha256:12"));
	assert_string_equal(docker_ref_tag("docker.io/library/busybox:1.36"), "1.36");
}

static void test_caps(void **state)
{
	(void)state;
	unsigned char c[20];
	kb_error e = { 0 };
	/* struct vfs_cap_data v2: magic 0x02000001 (effective), permitted bit 10. */
	static const unsigned char want[20] = { 0x01, 0, 0, 0x02, 0, 0x04, 0, 0 };
	assert_int_equal(df_caps_v2("cap_net_bind_service=+ep", c, &e), 1);
	assert_memory_equal(c, want, 20);
	assert_int_equal(df_caps_v2("cap_net_bind_service+ep", c, &e), 1);
	assert_memory_equal(c, want, 20);
	assert_int_equal(df_caps_v2("cap_net_bind_service,cap_sys_admin+p", c, &e), 1);
	assert_int_equal(c[0], 0);        /* not effective */
	assert_int_equal(c[5], 0x04);
	assert_int_equal(c[6], 0x20);     /* bit 21 */
	assert_int_equal(df_caps_v2("cap_bpf=ep", c, &e), 1);
	assert_int_equal(c[12], 0x80);    /* bit 39: the second word */
	assert_int_equal(df_caps_v2("cap_net_bind_service=", c, &e), 0);
	assert_true(df_caps_v2("cap_nope=+ep", c, &e) < 0);
	assert_contains(e.msg, "cap_nope");
}

/* ---- Dockerfiles on a store made here ---- */

typedef struct fx {
	char *dir;
	int dfd;
	kb_store *store;
	kb_digest base_layer;        /* the base's layer blob */
	kb_digest base_diff;
} fx;

/* The base image: one gzip layer (etc/passwd, usr/local/bin/ 0750,
 * bin -> usr/bin), config with Env and Cmd, named base:1, linux/amd64,
 * its blobs kept. */
static void make_base(fx *f)
{
	kb_error e = { 0 };
	char path[600];
	snprintf(path, sizeof path, "%s/blob", f->dir);
	assert_int_equal(run("mkdir -p %s/l/etc %s/l/usr/local/bin %s/l/usr/bin && echo root:x:0:0 >%s/l/etc/passwd && "
			     "chmod 0750 %s/l/usr/local/bin && ln -s usr/bin %s/l/bin", f->dir, f->dir, f->dir, f->dir, f->dir,
			     f->dir), 0);
	fs_tree t = { 0 };
	const char *dirs[] = { "etc", "usr", "usr/local", "usr/local/bin", "usr/bin" };
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		fs_node *n = fs_put(&t, dirs[i]);
		n->type = '5';
		n->mode = !strcmp(dirs[i], "usr/local/bin") ? 0750 : 0755;
	}
	fs_node *n = fs_put(&t, "etc/passwd");
	n->type = '0';
	n->mode = 0644;
	n->size = 11;
	n->srcdir = f->dfd;
	n->src = xstrdup("l/etc/passwd");
	n = fs_put(&t, "bin");
	n->type = '2';
	n->mode = 0777;
	n->link = xstrdup("usr/bin");
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	blobw w;
	uint64_t size;
	assert_int_equal(blobw_open(&w, fd, true, &e), 0);
	assert_int_equal(fs_write_layer(&t, 1600000000, blobw_write, &w, &e), 0);
	assert_int_equal(blobw_close(&w, &f->base_diff, &f->base_layer, &size, &e), 0);
	close(fd);
	fs_free(&t);
	assert_int_equal(run("mv %s/blob %s/state/store/blobs/sha256/%s && mv %s/l %s/state/store/layers/%s", f->dir, f->dir,
			     f->base_layer.hex, f->dir, f->dir, f->base_diff.hex), 0);

	char *cfg = xasprintf("{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Env\":[\"PATH=/usr/bin\"],"
			      "\"Cmd\":[\"/bin/sh\"]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:%s\"]},"
			      "\"history\":[{\"created_by\":\"base\"}],\"container_config\":{}}", f->base_diff.hex);
	image_rec rec = { .n_layers = 1, .platform = { "linux", "amd64", "" } };
	char *names[] = { "base:1" };
	layer_rec lr = { .diff_id = f->base_diff, .digest = f->base_layer, .size = size };
	sha256_buf(cfg, strlen(cfg), &rec.id);
	rec.names = names;
	rec.n_names = 1;
	rec.layers = &lr;
	assert_int_equal(store_put_blob(f->store, &rec.id, cfg, strlen(cfg), &e) >= 0, 1);
	assert_int_equal(image_save(f->store, &rec, &e), 0);
	free(cfg);
}

static int setup(void **state)
{
	fx *f = calloc(1, sizeof *f);
	kb_error e = { 0 };
	f->dir = tmpdir_new();
	f->dfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char *sd = xasprintf("%s/state", f->dir);
	assert_int_equal(store_open(sd, LOCK_SH, NULL, &f->store, &e), 0);
	free(sd);
	make_base(f);
	assert_int_equal(run("mkdir -p %s/ctx/dir/sub %s/tmp && printf 'binary' >%s/ctx/app && chmod 0700 %s/ctx/app && "
			     "echo a >%s/ctx/dir/sub/a && ln -s a %s/ctx/dir/sub/link", f->dir, f->dir, f->dir, f->dir, f->dir,
			     f->dir), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;
	store_close(f->store);
	close(f->dfd);
	tmpdir_free(f->dir);
	free(f);
	return 0;
}

/* Build Dockerfile text in the context; r is df_build's result. */
static int build(fx *f, const char *text, char *const *args, size_t n_args, df_result *res, kb_error *e)
{
	char *df = xasprintf("%s/Dockerfile", f->dir), *ctx = xasprintf("%s/ctx", f->dir), *tmp = xasprintf("%s/tmp", f->dir);
	write_at(f->dfd, "Dockerfile", text, 0);
	int tfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	kb_platform amd64 = { "linux", "amd64", "" };
	df_build_opts o = { .dockerfile = df, .context = ctx, .platform = &amd64, .build_args = args,
			    .n_build_args = n_args, .mtime = 1700000000, .store = f->store, .tmpfd = tfd };
	int r = df_build(&o, res, e);
	free(df);
	free(ctx);
	free(tmp);
	close(tfd);
	return r;
}

/* The entries of the layer blob tmp/<name>: "path mode uid xattr-len". */
static char *layer_listing(fx *f, const df_result *res)
{
	char *p = xasprintf("%s/tmp/%s", f->dir, res->layer_name), *out = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&out, &len);
	struct archive *a = archive_read_new();
	struct archive_entry *en;
	archive_read_support_filter_gzip(a);
	archive_read_support_format_tar(a);
	assert_int_equal(archive_read_open_filename(a, p, 1 << 16), ARCHIVE_OK);
	while (archive_read_next_header(a, &en) == ARCHIVE_OK) {
		const char *name;
		const void *val;
		size_t vlen = 0;
		if (archive_entry_xattr_reset(en))
			archive_entry_xattr_next(en, &name, &val, &vlen);
		fprintf(m, "%s %o %d %zu %lld\n", archive_entry_pathname(en), (unsigned)archive_entry_perm(en),
			(int)archive_entry_uid(en), vlen, (long long)archive_entry_mtime(en));
	}
	archive_read_free(a);
	fclose(m);
	free(p);
	return out;
}

static const char multi_stage[] =
	"ARG BASEIMAGE\n"
	"ARG SETCAP_IMAGE\n"
	"FROM --platform=linux/$BUILDARCH ${SETCAP_IMAGE}\n"
	"ARG BINARY\n"
	"COPY --chmod=755 ${BINARY} /set_cap_binary\n"
	"RUN [\"setcap\", \"cap_net_bind_service=+ep\", \"/set_cap_binary\"]\n"
	"FROM --platform=linux/$TARGETARCH \"${BASEIMAGE}\"\n"
	"ARG BINARY\n"
	"ENV A=1 B=\"two words\"\n"
	"COPY --from=0 /set_cap_binary /usr/local/bin/${BINARY}\n"
	"COPY dir /opt/\n"
	"COPY ${BINARY} /bin/\n"
	"WORKDIR /srv/data\n"
	"ENTRYPOINT [\"/usr/local/bin/app\"]\n";

static void test_build_setcap(void **state)
{
	fx *f = *state;
	char *args[] = { "BASEIMAGE=base:1", "SETCAP_IMAGE=no/such-setcap:1", "BINARY=app", "UNUSED=x" };
	df_result res;
	kb_error e = { 0 };
	if (build(f, multi_stage, args, ARRAY_SIZE(args), &res, &e) < 0)
		fail_msg("%s", e.msg);
	/* Sorted; parents with the base's modes; bin/ followed to usr/bin;
	 * the setcap stage needed no setcap image. */
	char *l = layer_listing(f, &res);
	assert_string_equal(l, "opt/ 755 0 0 1700000000\n"
			       "opt/sub/ 755 0 0 1700000000\n"
			       "opt/sub/a 644 0 0 1700000000\n"
			       "opt/sub/link 777 0 0 1700000000\n"
			       "srv/ 755 0 0 1700000000\n"
			       "srv/data/ 755 0 0 1700000000\n"
			       "usr/ 755 0 0 1700000000\n"
			       "usr/bin/ 755 0 0 1700000000\n"
			       "usr/bin/app 700 0 0 1700000000\n"
			       "usr/local/ 755 0 0 1700000000\n"
			       "usr/local/bin/ 750 0 0 1700000000\n"
			       "usr/local/bin/app 755 0 20 1700000000\n");
	free(l);
	json_t *c = json_loadb(res.image->config, res.image->config_len, 0, NULL);
	char *env = json_dumps(json_object_get(json_object_get(c, "config"), "Env"), JSON_COMPACT);
	assert_string_equal(env, "[\"PATH=/usr/bin\",\"A=1\",\"B=two words\"]");
	free(env);
	assert_true(json_is_null(json_object_get(json_object_get(c, "config"), "Cmd")));
	assert_string_equal(json_string_value(json_object_get(json_object_get(c, "config"), "WorkingDir")), "/srv/data");
	assert_string_equal(json_string_value(json_object_get(c, "created")), "2023-11-14T22:13:20Z");
	assert_int_equal(json_array_size(json_object_get(json_object_get(c, "rootfs"), "diff_ids")), 2);
	assert_int_equal(json_array_size(json_object_get(c, "history")), 2);
	assert_null(json_object_get(c, "container_config"));
	json_decref(c);
	/* The base's layer blob, unchanged, first. */
	assert_int_equal(res.image->n_layers, 2);
	assert_string_equal(res.image->layers[0].digest.hex, f->base_layer.hex);
	assert_string_equal(res.image->layers[0].media, MT_OCI_LAYER_GZIP);
	kb_digest first = res.image->manifest_digest;
	int tfd = openat(f->dfd, "tmp", O_RDONLY | O_DIRECTORY);
	df_result_clear(&res, tfd);
	/* Twice: the same bytes. */
	assert_int_equal(build(f, multi_stage, args, ARRAY_SIZE(args), &res, &e), 0);
	assert_string_equal(res.image->manifest_digest.hex, first.hex);
	df_result_clear(&res, tfd);
	close(tfd);
}

static void test_build_refusals(void **state)
{
	fx *f = *state;
	static const char *const cases[][2] = {
		{ "FROM base:1\nRUN apt-get install -y x\n", "Dockerfile:2: RUN apt-get install -y x: kbuild-ns runs no container" },
		{ "FROM nope:1\nCOPY app /\n", "base image nope:1: not in the store; import it: kbuild-ns image import ARCHIVE" },
		{ "FROM base:1\nCOPY missing /\n", "missing: not found in the build context" },
		{ "FROM base:1\nCOPY *.go /\n", "wildcards are not supported" },
		{ "FROM base:1\nHEALTHCHECK CMD true\n", "HEALTHCHECK is not supported" },
		{ "FROM base:1\nCOPY --chown=nobody app /\n", "only numeric UID[:GID]" },
		{ "FROM base:1\nADD http://example.com/x /\n", "downloads are not possible" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		df_result res;
		kb_error e = { 0 };
		assert_true(build(f, cases[i][0], NULL, 0, &res, &e) < 0);
		assert_contains(e.msg, cases[i][1]);
	}
	/* A base only for another platform: the error says which it has. */
	df_result res;
	kb_error e = { 0 };
	assert_true(build(f, "FROM --platform=linux/arm64 base:1\nCOPY app /\n", NULL, 0, &res, &e) < 0);
	assert_contains(e.msg, "not in the store for linux/arm64 (it has linux/amd64)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tar_entries),
		cmocka_unit_test(test_docker_names),
		cmocka_unit_test(test_caps),
		cmocka_unit_test_setup_teardown(test_build_setcap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_build_refusals, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
