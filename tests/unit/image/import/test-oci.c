/* oci: oci_plan over OCI layouts built here (blobs named by their real
 * sha256), OCI archives and classic docker-save archives: one manifest,
 * nested indexes, platform choice (host default, --platform, no match),
 * names from annotations and RepoTags; refused input: empty index, an
 * index of artifacts only, malformed JSON, wrongly typed fields (the
 * message names the field), digest and size mismatches.  Also oci_name_normalize,
 * oci_config_check and oci_rootfs_config. */
#include "image/import/sha256.h"
#include "unit.h"
#include "image/import/oci.h"
#include "image/image.h"

#define MT_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_LAYER "application/vnd.oci.image.layer.v1.tar+gzip"

static char *dir;
static int dfd = -1;
static kb_platform host;
static const char *other;    /* an architecture that is not the host's */

static int setup(void **state)
{
	dir = tmpdir_new();
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	platform_host(&host);
	other = strcmp(host.arch, "s390x") ? "s390x" : "ppc64le";
	return 0;
}

static int teardown(void **state)
{
	close(dfd);
	tmpdir_free(dir);
	return 0;
}

static kb_digest dg(const char *s)
{
	kb_digest d;
	sha256_buf(s, strlen(s), &d);
	return d;
}

/* A new layout directory dir/name with oci-layout and blobs/sha256/. */
static const char *layout(const char *name)
{
	assert_int_equal(run("mkdir -p %s/%s/blobs/sha256", dir, name), 0);
	char *p = xasprintf("%s/oci-layout", name);
	write_at(dfd, p, "{\"imageLayoutVersion\":\"1.0.0\"}", 0);
	free(p);
	return name;
}

static void put(const char *lay, const char *name, const char *content)
{
	char *p = xasprintf("%s/%s", lay, name);
	write_at(dfd, p, content, 0);
	free(p);
}

/* Store content as a blob; returns its descriptor (extra: more fields). */
static char *blob(const char *lay, const char *mt, const char *extra, const char *content)
{
	kb_digest d = dg(content);
	char *name = xasprintf("blobs/sha256/%s", d.hex);
	put(lay, name, content);
	free(name);
	return xasprintf("{\"mediaType\":\"%s\",\"digest\":\"sha256:%s\",\"size\":%zu%s%s}",
			 mt, d.hex, strlen(content), extra[0] ? "," : "", extra);
}

/* An image config for linux/arch[/variant] with n diff_ids. */
static char *config(const char *arch, const char *variant, int n, const char *cfg)
{
	char ids[1024] = "";
	for (int i = 0; i < n; i++) {
		char s[16];
		snprintf(s, sizeof s, "diff-%d", i);
		size_t l = strlen(ids);
		snprintf(ids + l, sizeof ids - l, "%s\"sha256:%s\"", i ? "," : "", dg(s).hex);
	}
	return xasprintf("{\"architecture\":\"%s\",%s%s%s\"os\":\"linux\",\"created\":\"2024-01-02T03:04:05Z\","
			 "\"config\":%s,\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[%s]}}",
			 arch, variant ? "\"variant\":\"" : "", variant ? variant : "", variant ? "\"," : "",
			 cfg ? cfg : "{\"Env\":[\"PATH=/bin\"],\"Cmd\":[\"sh\"]}", ids);
}

/* A manifest blob with that config and n layers; returns its descriptor. */
static char *image(const char *lay, const char *arch, const char *variant, int n, const char *desc_extra)
{
	char *cfg = config(arch, variant, n, NULL), *cd = blob(lay, MT_CONFIG, "", cfg);
	char layers[2048] = "";
	for (int i = 0; i < n; i++) {
		char s[16];
		snprintf(s, sizeof s, "layer-%d", i);
		size_t l = strlen(layers);
		snprintf(layers + l, sizeof layers - l, "%s{\"mediaType\":\"%s\",\"digest\":\"sha256:%s\",\"size\":%d}",
			 i ? "," : "", MT_LAYER, dg(s).hex, 100 + i);
	}
	char *m = xasprintf("{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":%s,\"layers\":[%s]}", MT_MANIFEST, cd, layers);
	char *d = blob(lay, MT_MANIFEST, desc_extra, m);
	free(cfg);
	free(cd);
	free(m);
	return d;
}

static char *plat(const char *arch, const char *variant)
{
	return xasprintf("\"platform\":{\"os\":\"linux\",\"architecture\":\"%s\"%s%s%s}", arch,
			 variant ? ",\"variant\":\"" : "", variant ? variant : "", variant ? "\"" : "");
}

/* Write index.json listing the given descriptors (frees them). */
static void index_of(const char *lay, char *d1, char *d2)
{
	char *idx = xasprintf("{\"schemaVersion\":2,\"mediaType\":\"%s\",\"manifests\":[%s%s%s]}",
			      MT_INDEX, d1 ? d1 : "", d2 ? "," : "", d2 ? d2 : "");
	put(lay, "index.json", idx);
	free(idx);
	free(d1);
	free(d2);
}

typedef struct planned {
	int r;
	image_format fmt;
	image_plan **p;
	size_t n;
	kb_error e;
} planned;

/* oci_plan on dir/name; want NULL = the host's platform, not explicit. */
static planned plan(const char *name, const char *want)
{
	planned pl = { 0 };
	char *p = xasprintf("%s/%s", dir, name);
	kb_source *src = NULL;
	plan_opts o = { .want = host };

	if (want) {
		assert_int_equal(platform_parse(want, &o.want, &pl.e), 0);
		o.want_explicit = true;
	}
	pl.r = source_open(p, dfd, &src, &pl.e);
	if (pl.r == 0)
		pl.r = oci_plan(src, &o, &pl.fmt, &pl.p, &pl.n, &pl.e);
	source_free(src);
	free(p);
	return pl;
}

static void plan_free(planned *pl)
{
	if (pl->r == 0) {
		for (size_t i = 0; i < pl->n; i++)
			image_plan_free(pl->p[i]);
		free(pl->p);
	}
}

static planned plan_ok(const char *name, const char *want)
{
	planned pl = plan(name, want);
	if (pl.r < 0)
		fail_msg("oci_plan(%s): %s", name, pl.e.msg);
	return pl;
}

/* oci_plan must fail, and its message contain each of the texts. */
static void plan_fails(const char *name, const char *want, const char *text, const char *text2)
{
	planned pl = plan(name, want);
	if (pl.r >= 0)
		fail_msg("oci_plan(%s) succeeded, expected: %s", name, text);
	assert_contains(pl.e.msg, text);
	if (text2)
		assert_contains(pl.e.msg, text2);
}

static void test_single(void **state)
{
	const char *L = layout("single");
	char *md = image(L, host.arch, host.variant[0] ? host.variant : NULL, 2, "");
	index_of(L, strdup(md), NULL);
	planned pl = plan_ok("single", NULL);
	assert_int_equal(pl.fmt, FMT_OCI);
	assert_int_equal(pl.n, 1);
	image_plan *p = pl.p[0];
	assert_int_equal(p->n_names, 0);
	assert_true(platform_match(&host, &p->platform));
	assert_string_equal(p->platform.arch, host.arch);
	assert_true(p->has_manifest);
	assert_contains(md, p->manifest_digest.hex);
	kb_digest d;
	sha256_buf(p->manifest, p->manifest_len, &d);
	assert_string_equal(d.hex, p->manifest_digest.hex);
	sha256_buf(p->config, p->config_len, &d);
	assert_string_equal(d.hex, p->config_digest.hex);
	assert_int_equal(p->n_layers, 2);
	for (int i = 0; i < 2; i++) {
		char s[16];
		snprintf(s, sizeof s, "layer-%d", i);
		layer_plan *l = &p->layers[i];
		assert_true(l->has_digest);
		assert_string_equal(l->digest.hex, dg(s).hex);
		assert_int_equal(l->size, 100 + i);
		assert_string_equal(l->media_type, MT_LAYER);
		char *member = xasprintf("blobs/sha256/%s", dg(s).hex);
		assert_string_equal(l->member, member);
		free(member);
		snprintf(s, sizeof s, "diff-%d", i);
		assert_true(l->has_diff_id);
		assert_string_equal(l->diff_id.hex, dg(s).hex);
	}
	plan_free(&pl);
	free(md);
}

static void test_nested_index(void **state)
{
	const char *L = layout("nested");
	char *pa = plat(host.arch, NULL), *po = plat(other, NULL);
	char *m1 = image(L, other, NULL, 1, po), *m2 = image(L, host.arch, NULL, 3, pa);
	char *inner = xasprintf("{\"schemaVersion\":2,\"mediaType\":\"%s\",\"manifests\":[%s,%s]}", MT_INDEX, m1, m2);
	index_of(L, blob(L, MT_INDEX, "\"annotations\":{\"io.containerd.image.name\":"
			 "\"docker.io/library/busybox:1.36\",\"org.opencontainers.image.ref.name\":\"1.36\"}",
			 inner), NULL);
	planned pl = plan_ok("nested", NULL);
	assert_int_equal(pl.n, 1);
	assert_int_equal(pl.p[0]->n_names, 1);
	assert_string_equal(pl.p[0]->names[0], "docker.io/library/busybox:1.36");
	assert_string_equal(pl.p[0]->platform.arch, host.arch);
	assert_int_equal(pl.p[0]->n_layers, 3);
	plan_free(&pl);
	free(inner);
	free(m1);
	free(m2);
	free(pa);
	free(po);
}

static void test_platforms(void **state)
{
	const char *L = layout("multi");
	char *pa = plat(host.arch, NULL), *pb = plat("arm64", "v8");
	bool host_is_arm = !strcmp(host.arch, "arm64");
	index_of(L, image(L, host_is_arm ? "amd64" : host.arch, NULL, 1, host_is_arm ? "" : pa),
		 image(L, "arm64", "v8", 2, pb));
	planned pl = plan_ok("multi", "linux/arm64");
	assert_int_equal(pl.n, 1);
	assert_string_equal(pl.p[0]->platform.arch, "arm64");
	assert_string_equal(pl.p[0]->platform.variant, "v8");
	assert_int_equal(pl.p[0]->n_layers, 2);
	plan_free(&pl);
	if (!host_is_arm) {
		pl = plan_ok("multi", NULL);
		assert_string_equal(pl.p[0]->platform.arch, host.arch);
		assert_int_equal(pl.p[0]->n_layers, 1);
		plan_free(&pl);
		char *want = xasprintf("linux/%s", host.arch), *avail = xasprintf("available: linux/%s, linux/arm64/v8", host.arch);
		pl = plan_ok("multi", want);
		assert_string_equal(pl.p[0]->platform.arch, host.arch);
		plan_free(&pl);
		plan_fails("multi", "linux/riscv64", "no image for platform linux/riscv64", avail);
		free(want);
		free(avail);
	}
	plan_fails("multi", "linux/arm64/v7", "no image for platform linux/arm64/v7", NULL);
	free(pa);
	free(pb);

	/* Nothing for the host, and no --platform: still an error. */
	L = layout("foreign");
	pa = plat(other, NULL);
	pb = plat("mips64le", NULL);
	index_of(L, image(L, other, NULL, 1, pa), image(L, "mips64le", NULL, 1, pb));
	plan_fails("foreign", NULL, "no image for platform linux/", "mips64le");
	free(pa);
	free(pb);

	/* A lone manifest for another platform, named so in the index: no
	 * choice is offered, so it is taken (as docker load takes it), but
	 * not when another --platform is asked for. */
	L = layout("lone-foreign");
	pb = plat("mips64le", NULL);
	index_of(L, image(L, "mips64le", NULL, 1, pb), NULL);
	pl = plan_ok("lone-foreign", NULL);
	assert_string_equal(pl.p[0]->platform.arch, "mips64le");
	plan_free(&pl);
	plan_fails("lone-foreign", "linux/riscv64", "no image for platform linux/riscv64", "mips64le");
	free(pb);

	/* A lone manifest without platform information: its config decides. */
	L = layout("lone");
	index_of(L, image(L, other, NULL, 1, ""), NULL);
	pl = plan_ok("lone", NULL);    /* accepted: the index offered no choice */
	assert_string_equal(pl.p[0]->platform.arch, other);
	plan_free(&pl);
	plan_fails("lone", "linux/mips64le", "image is for linux/", "not linux/mips64le");
}

static void test_names(void **state)
{
	const char *L = layout("names");
	index_of(L, image(L, host.arch, NULL, 1, "\"annotations\":{\"org.opencontainers.image.ref.name\":\"example.com/a/b:2\"}"),
		 image(L, host.arch, NULL, 2, "\"annotations\":{\"org.opencontainers.image.ref.name\":\"latest\"}"));
	planned pl = plan_ok("names", NULL);
	assert_int_equal(pl.n, 2);
	assert_int_equal(pl.p[0]->n_names, 1);
	assert_string_equal(pl.p[0]->names[0], "example.com/a/b:2");
	assert_int_equal(pl.p[1]->n_names, 0);    /* a bare tag names nothing */
	plan_free(&pl);

	/* Docker 25+: an OCI archive whose manifest.json carries RepoTags. */
	L = layout("docker25");
	char *md = image(L, host.arch, NULL, 1, "\"annotations\":{\"org.opencontainers.image.ref.name\":\"v1\"}");
	char *cfg = config(host.arch, NULL, 1, NULL);
	char *mj = xasprintf("[{\"Config\":\"blobs/sha256/%s\",\"RepoTags\":[\"myimg:v1\",\"other\"],"
			     "\"Layers\":[\"blobs/sha256/%s\"]}]", dg(cfg).hex, dg("layer-0").hex);
	put(L, "manifest.json", mj);
	index_of(L, md, NULL);
	assert_int_equal(run("cd %s && tar -C docker25 -cf docker25.tar . && gzip -c docker25.tar > docker25.tar.gz", dir), 0);
	static const char *forms[] = { "docker25", "docker25.tar", "docker25.tar.gz" };
	for (size_t i = 0; i < ARRAY_SIZE(forms); i++) {
		pl = plan_ok(forms[i], NULL);
		assert_int_equal(pl.fmt, FMT_OCI);
		assert_int_equal(pl.n, 1);
		assert_int_equal(pl.p[0]->n_names, 2);
		assert_string_equal(pl.p[0]->names[0], "myimg:v1");
		assert_string_equal(pl.p[0]->names[1], "other:latest");
		plan_free(&pl);
	}
	free(cfg);
	free(mj);
}

static void test_refused(void **state)
{
	const char *L = layout("empty");
	index_of(L, NULL, NULL);
	plan_fails("empty", NULL, "index.json", "empty index");

	L = layout("malformed");
	put(L, "index.json", "{\"schemaVersion\":2,\"manifests\":[");
	plan_fails("malformed", NULL, "index.json", "malformed JSON");
	put(L, "index.json", "[]");
	plan_fails("malformed", NULL, "index.json", "expected a JSON object");
	put(L, "oci-layout", "{}");
	plan_fails("malformed", NULL, "oci-layout", "imageLayoutVersion");

	L = layout("badmanifest");
	index_of(L, blob(L, MT_MANIFEST, "", "{\"config\": nope}"), NULL);
	plan_fails("badmanifest", NULL, "manifest sha256:", "malformed JSON");

	/* Indexes nested 4 deep are fine, 5 are refused. */
	L = layout("deep");
	char *d = image(L, host.arch, NULL, 1, "");
	for (int depth = 1; depth <= 5; depth++) {
		char *idx = xasprintf("{\"schemaVersion\":2,\"manifests\":[%s]}", d);
		free(d);
		d = blob(L, MT_INDEX, "", idx);
		free(idx);
		if (depth == 4) {
			index_of(L, strdup(d), NULL);
			planned pl = plan_ok("deep", NULL);
			assert_int_equal(pl.n, 1);
			plan_free(&pl);
		}
	}
	index_of(L, d, NULL);
	plan_fails("deep", NULL, "nested more than 4 deep", NULL);

	assert_int_equal(run("mkdir -p %s/notlayout", dir), 0);
	plan_fails("notlayout", NULL, "not an OCI image layout", NULL);

	/* Only an artifact and an attestation (platform unknown/unknown):
	 * no image, which must not import as a success with nothing in it
	 * (found by fuzz-oci-plan). */
	L = layout("artifacts");
	index_of(L, blob(L, "application/vnd.example.signature.v1+json", "", "{}"),
		 blob(L, MT_MANIFEST, "\"platform\":{\"os\":\"unknown\",\"architecture\":\"unknown\"}", "{}"));
	plan_fails("artifacts", NULL, "index.json", "no image manifest");
}

/* t with every "@K" replaced by v (frees t). */
static char *subst(char *t, const char *k, const char *v)
{
	char *at;
	while ((at = strstr(t, k))) {
		char *n = xasprintf("%.*s%s%s", (int)(at - t), t, v, at + strlen(k));
		free(t);
		t = n;
	}
	return t;
}

/* Wrongly typed fields: the message names the document and the field.
 * Templates: @C = the config's descriptor, @L = a layer's, @M and @N =
 * the manifest's digest (hex) and size, @D = a diff_id. */
#define LAYER_DESC "{\"mediaType\":\"" MT_LAYER "\",\"digest\":\"sha256:" \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\",\"size\":1}"
#define IDX_OK "{\"manifests\":[{\"digest\":\"sha256:@M\",\"size\":@N}]}"
#define MAN_OK "{\"config\":@C,\"layers\":[@L]}"
#define CFG(arch, ids, cfg) "{\"architecture\":" arch ",\"os\":\"linux\",\"config\":" cfg \
	",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":" ids "}}"
#define CFG_OK CFG("\"amd64\"", "[\"@D\"]", "{}")

static void test_wrong_types(void **state)
{
	static const struct { const char *idx, *man, *cfg, *what, *field; } cases[] = {
		{ "{\"manifests\":[{\"digest\":\"sha256:@M\",\"size\":\"@N\"}]}", MAN_OK, CFG_OK,
		  "index.json", "\"size\" must be a non-negative integer" },
		{ "{\"manifests\":[{\"digest\":\"sha256:@M\",\"size\":-1}]}", MAN_OK, CFG_OK,
		  "index.json", "\"size\" must be a non-negative integer" },
		{ "{\"manifests\":[{\"digest\":\"sha512:@M@M\",\"size\":@N}]}", MAN_OK, CFG_OK,
		  "index.json", "unsupported algorithm" },
		{ "{\"manifests\":[{\"digest\":\"sha256:@M\",\"size\":@N,\"platform\":{\"os\":[\"linux\"],"
		  "\"architecture\":\"amd64\"}}]}", MAN_OK, CFG_OK, "index.json", "field \"os\" must be a string" },
		{ "{\"manifests\":{\"0\":{}}}", MAN_OK, CFG_OK, "index.json", "field \"manifests\" must be an array" },
		{ IDX_OK, "{\"config\":@C,\"layers\":{\"0\":@L}}", CFG_OK, "manifest sha256:", "field \"layers\" must be an array" },
		{ IDX_OK, "{\"layers\":[@L]}", CFG_OK, "manifest sha256:", "missing field \"config\"" },
		{ IDX_OK, "{\"config\":@C,\"layers\":[{\"digest\":\"sha256:../../../../etc/passwd\",\"size\":1}]}", CFG_OK,
		  "manifest sha256:", "not 64 lowercase hex digits" },
		{ IDX_OK, "{\"config\":@C,\"layers\":[@L,@L]}", CFG_OK, "config sha256:", "1 diff_id for 2 layers" },
		{ IDX_OK, MAN_OK, CFG("\"amd64\"", "[1]", "{}"), "config sha256:", "rootfs.diff_ids must be an array of strings" },
		{ IDX_OK, MAN_OK, CFG("\"amd64\"", "[\"@D\"]", "{\"Env\":\"PATH=/bin\"}"), "config sha256:", "field \"Env\" must be an array" },
		{ IDX_OK, MAN_OK, CFG("\"amd64\"", "[\"@D\"]", "{\"Env\":[\"A=1\",2]}"), "config sha256:",
		  "field \"Env\" must be an array of strings" },
		{ IDX_OK, MAN_OK, CFG("\"amd64\"", "[\"@D\"]", "{\"Cmd\":\"sh -c true\"}"), "config sha256:", "field \"Cmd\" must be an array" },
		{ IDX_OK, MAN_OK, CFG("\"amd64\"", "[\"@D\"]", "{\"User\":0}"), "config sha256:", "field \"User\" must be a string" },
		{ IDX_OK, MAN_OK, CFG("64", "[\"@D\"]", "{}"), "config sha256:", "field \"architecture\" must be a string" },
		{ IDX_OK, MAN_OK, "{\"architecture\":\"amd64\",\"os\":\"linux\"}", "config sha256:", "missing field \"rootfs\"" },
		{ IDX_OK, MAN_OK, "{\"architecture\":\"amd64\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"@D\"]}}",
		  "config sha256:", "missing field \"os\"" },
		{ IDX_OK, MAN_OK, "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"tarball\",\"diff_ids\":[\"@D\"]}}",
		  "config sha256:", "rootfs.type" },
		{ IDX_OK, MAN_OK, CFG("\"amd64\"", "[\"sha256:x\"]", "{}"), "config sha256:", "diff_id 0" },
		{ IDX_OK, MAN_OK, CFG("\"amd64\"", "{}", "{}"), "config sha256:", "field \"diff_ids\" must be an array" },
		{ IDX_OK, MAN_OK, "[1,2]", "config sha256:", "expected a JSON object" },
		{ IDX_OK, MAN_OK, "{\"os\":", "config sha256:", "malformed JSON" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char name[16], size[24];
		snprintf(name, sizeof name, "types%zu", i);
		const char *L = layout(name);
		char *cfg = subst(strdup(cases[i].cfg), "@D", "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
		char *cd = blob(L, MT_CONFIG, "", cfg);
		char *m = subst(subst(strdup(cases[i].man), "@C", cd), "@L", LAYER_DESC);
		free(blob(L, MT_MANIFEST, "", m));
		snprintf(size, sizeof size, "%zu", strlen(m));
		char *idx = subst(subst(strdup(cases[i].idx), "@M", dg(m).hex), "@N", size);
		put(L, "index.json", idx);
		plan_fails(name, "linux/amd64", cases[i].what, cases[i].field);
		free(cfg); free(cd); free(m); free(idx);
	}
}

static void test_mismatch(void **state)
{
	/* The manifest's blob holds other bytes than its digest says. */
	const char *L = layout("mism");
	char *md = image(L, host.arch, NULL, 1, "");
	kb_digest d;
	memcpy(d.hex, strstr(md, "sha256:") + 7, 64);
	d.hex[64] = 0;
	char *name = xasprintf("%s/blobs/sha256/%s", L, d.hex), *buf;
	size_t len;
	assert_int_equal(read_file_at(dfd, name, 1 << 20, &buf, &len), 0);
	buf[len - 1] = ' ';    /* same size, other bytes */
	write_at(dfd, name, buf, len);
	free(buf);
	index_of(L, md, NULL);
	plan_fails("mism", NULL, "digest mismatch", d.hex);
	free(name);

	/* The config's blob likewise. */
	L = layout("cmism");
	char *cfg = config(host.arch, NULL, 0, NULL), *cd = blob(L, MT_CONFIG, "", cfg);
	name = xasprintf("blobs/sha256/%s", dg(cfg).hex);
	cfg[strlen(cfg) - 2] = ' ';    /* same size, other bytes */
	put(L, name, cfg);
	char *m = xasprintf("{\"schemaVersion\":2,\"config\":%s,\"layers\":[]}", cd);
	index_of(L, blob(L, MT_MANIFEST, "", m), NULL);
	plan_fails("cmism", NULL, "digest mismatch", "expected sha256:");
	free(name); free(cfg); free(cd); free(m);

	/* The descriptor's size disagrees with the blob. */
	L = layout("smism");
	md = image(L, host.arch, NULL, 1, "");
	char *sz = strstr(md, "\"size\":");
	sz[7] = sz[7] == '9' ? '8' : (char)(sz[7] + 1);
	index_of(L, md, NULL);
	plan_fails("smism", NULL, "size mismatch", NULL);

	/* The manifest's blob is missing. */
	L = layout("missing");
	md = image(L, host.arch, NULL, 1, "");
	memcpy(d.hex, strstr(md, "sha256:") + 7, 64);
	name = xasprintf("%s/blobs/sha256/%s", L, d.hex);
	assert_int_equal(unlinkat(dfd, name, 0), 0);
	index_of(L, md, NULL);
	plan_fails("missing", NULL, d.hex, NULL);
	free(name);
}

/* Classic docker save: manifest.json, <hex>.json configs, <id>/layer.tar. */
static void test_docker_save(void **state)
{
	char *cfg = config(host.arch, NULL, 2, NULL);
	kb_digest c = dg(cfg);
	char *cname = xasprintf("%s.json", c.hex);
	char *mj = xasprintf("[{\"Config\":\"%s\",\"RepoTags\":[\"busybox\",\"registry.k8s.io/build-image/kube-cross:v1.31.0-go1.22.5-bullseye.0\",\"bad name\"],"
			     "\"Layers\":[\"aaa/layer.tar\",\"bbb/layer.tar\"]}]", cname);
	char *path = xasprintf("%s/save.tar", dir);
	int fd = tw_open(path);
	TW(fd, .name = "aaa/layer.tar", .data = "not really a tar");
	TW(fd, .name = "bbb/layer.tar", .data = "neither");
	TW(fd, .name = cname, .data = cfg);
	TW(fd, .name = "manifest.json", .data = mj);
	TW(fd, .name = "repositories", .data = "{}");
	tw_close(fd);

	planned pl = plan_ok("save.tar", NULL);
	assert_int_equal(pl.fmt, FMT_DOCKER);
	assert_int_equal(pl.n, 1);
	image_plan *p = pl.p[0];
	assert_int_equal(p->n_names, 2);
	assert_string_equal(p->names[0], "busybox:latest");
	assert_string_equal(p->names[1], "registry.k8s.io/build-image/kube-cross:v1.31.0-go1.22.5-bullseye.0");
	assert_false(p->has_manifest);
	assert_string_equal(p->config_digest.hex, c.hex);
	assert_int_equal(p->n_layers, 2);
	assert_string_equal(p->layers[0].member, "aaa/layer.tar");
	assert_string_equal(p->layers[1].member, "bbb/layer.tar");
	assert_false(p->layers[0].has_digest);
	assert_true(p->layers[1].has_diff_id);
	assert_string_equal(p->layers[1].diff_id.hex, dg("diff-1").hex);
	plan_free(&pl);
	plan_fails("save.tar", "linux/mips64le", "manifest.json: no image for platform linux/mips64le", NULL);

	/* The config file's name is its digest: other bytes are refused. */
	fd = tw_open(path);
	cfg[strlen(cfg) - 2] = ' ';
	TW(fd, .name = cname, .data = cfg);
	TW(fd, .name = "manifest.json", .data = mj);
	tw_close(fd);
	plan_fails("save.tar", NULL, "digest mismatch", c.hex);

	/* Wrongly typed manifest.json fields. */
	fd = tw_open(path);
	TW(fd, .name = "manifest.json", .data = "[{\"Config\":\"x.json\",\"Layers\":\"a/layer.tar\"}]");
	tw_close(fd);
	plan_fails("save.tar", NULL, "manifest.json entry 0", "field \"Layers\" must be an array");
	fd = tw_open(path);
	TW(fd, .name = "manifest.json", .data = "[]");
	tw_close(fd);
	plan_fails("save.tar", NULL, "manifest.json", "no images");
	free(cfg); free(cname); free(mj); free(path);
}

static void test_rootfs(void **state)
{
	char *path = xasprintf("%s/rootfs.tar", dir);
	int fd = tw_open(path);
	TW(fd, .name = "etc/", .type = '5');
	TW(fd, .name = "etc/hostname", .data = "box\n");
	tw_close(fd);
	planned pl = plan_ok("rootfs.tar", NULL);
	assert_int_equal(pl.fmt, FMT_ROOTFS);
	assert_int_equal(pl.n, 1);
	assert_int_equal(pl.p[0]->n_layers, 1);
	assert_null(pl.p[0]->layers[0].member);
	assert_null(pl.p[0]->config);
	assert_string_equal(pl.p[0]->platform.arch, host.arch);
	plan_free(&pl);
	pl = plan_ok("rootfs.tar", "linux/arm64/v8");
	assert_string_equal(pl.p[0]->platform.arch, "arm64");
	assert_string_equal(pl.p[0]->platform.variant, "v8");
	plan_free(&pl);
	free(path);
}

static void test_name_normalize(void **state)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "busybox", "busybox:latest" }, { "busybox:1.36", "busybox:1.36" },
		{ "kube-cross:v1.31.0-go1.22.5-bullseye.0", "kube-cross:v1.31.0-go1.22.5-bullseye.0" },
		{ "registry.k8s.io/build-image/kube-cross", "registry.k8s.io/build-image/kube-cross:latest" },
		{ "localhost:5000/foo", "localhost:5000/foo:latest" },
		{ "localhost:5000/foo:1", "localhost:5000/foo:1" },
		{ "foo@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		  "foo@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ "", NULL }, { "/foo", NULL }, { "foo/", NULL }, { "foo:", NULL }, { ":tag", NULL },
		{ "foo//bar", NULL }, { "../x", NULL }, { "a/../b", NULL }, { "foo bar", NULL },
		{ "foo\nbar", NULL }, { "foo;rm", NULL }, { "foo$x", NULL },
		/* Repositories are lower-case, as docker has them; a registry
		 * host and a tag may have upper case. */
		{ "Foo:1", NULL }, { "kube-Cross:v1", NULL }, { "a.io/Team/x:1", NULL },
		{ "Registry.Example.com/team/x:1", "Registry.Example.com/team/x:1" },
		{ "foo:V1.0-RC1", "foo:V1.0-RC1" }, { "localhost:5000/foo:TAG", "localhost:5000/foo:TAG" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *got = oci_name_normalize(cases[i].in);
		if (!cases[i].out && got)
			fail_msg("oci_name_normalize(\"%s\") = \"%s\", expected NULL", cases[i].in, got);
		if (cases[i].out && !got)
			fail_msg("oci_name_normalize(\"%s\") = NULL, expected \"%s\"", cases[i].in, cases[i].out);
		if (got)
			assert_string_equal(got, cases[i].out);
		free(got);
	}
	char long_name[300];
	memset(long_name, 'a', sizeof long_name - 1);
	long_name[299] = 0;
	assert_null(oci_name_normalize(long_name));
}

/* A refused name says why when it is the case of its letters. */
static void test_name_why(void **state)
{
	const char *why = NULL;
	assert_null(oci_name_normalize_why("Kube-Cross:v1", &why));
	assert_contains(why, "lower-case");
	assert_null(oci_name_normalize_why("foo bar", &why));
	assert_contains(why, "not a valid image name");
}

/* The header promises trimming ("trims, adds :latest"). */
static void test_name_trim(void **state)
{
	char *got = oci_name_normalize("  busybox:1.36\n");
	assert_non_null(got);
	assert_string_equal(got, "busybox:1.36");
	free(got);
}

/* What the config says fills in the plan. */
static void test_config_check(void **state)
{
	image_plan p = { 0 };
	layer_plan layers[2];
	kb_error e = { 0 };
	memset(layers, 0, sizeof layers);
	p.layers = layers;
	p.n_layers = 2;
	char *cfg = config("arm64", "v8", 2, "{\"Env\":[\"A=1\"],\"Entrypoint\":null,\"Cmd\":[\"sh\"],\"WorkingDir\":\"/w\",\"User\":\"1:1\"}");
	assert_int_equal(oci_config_check(&p, cfg, strlen(cfg), &e), 0);
	assert_string_equal(p.platform.os, "linux");
	assert_string_equal(p.platform.arch, "arm64");
	assert_string_equal(p.platform.variant, "v8");
	assert_true(layers[1].has_diff_id);
	assert_string_equal(layers[1].diff_id.hex, dg("diff-1").hex);
	free(cfg);
}

static void test_rootfs_config(void **state)
{
	image_plan *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
	kb_error e = { 0 };
	assert_non_null(a);
	assert_non_null(b);
	a->layers = calloc(1, sizeof *a->layers);
	b->layers = calloc(1, sizeof *b->layers);
	a->n_layers = b->n_layers = 1;
	a->layers[0].diff_id = b->layers[0].diff_id = dg("rootfs");
	assert_int_equal(platform_parse("linux/arm64/v8", &a->platform, &e), 0);
	b->platform = a->platform;
	assert_int_equal(oci_rootfs_config(a, &e), 0);
	assert_int_equal(oci_rootfs_config(b, &e), 0);
	assert_int_equal(a->config_len, b->config_len);
	assert_memory_equal(a->config, b->config, a->config_len);
	assert_string_equal(a->config_digest.hex, b->config_digest.hex);
	kb_digest d;
	sha256_buf(a->config, a->config_len, &d);
	assert_string_equal(d.hex, a->config_digest.hex);
	assert_contains(a->config, dg("rootfs").hex);
	assert_contains(a->config, "\"variant\":\"v8\"");
	assert_contains(a->config, "PATH=");
	assert_null(strstr(a->config, "created"));
	/* It passes our own check. */
	image_plan c = { 0 };
	layer_plan l = { 0 };
	c.layers = &l;
	c.n_layers = 1;
	assert_int_equal(oci_config_check(&c, a->config, a->config_len, &e), 0);
	assert_string_equal(l.diff_id.hex, dg("rootfs").hex);
	/* Another layer, another id. */
	b->layers[0].diff_id = dg("other");
	assert_int_equal(oci_rootfs_config(b, &e), 0);
	assert_string_not_equal(a->config_digest.hex, b->config_digest.hex);
	image_plan_free(a);
	image_plan_free(b);
	image_plan_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single),
		cmocka_unit_test(test_nested_index),
		cmocka_unit_test(test_platforms),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_mismatch),
		cmocka_unit_test(test_docker_save),
		cmocka_unit_test(test_rootfs),
		cmocka_unit_test(test_name_normalize),
		cmocka_unit_test(test_name_why),
		cmocka_unit_test(test_name_trim),
		cmocka_unit_test(test_config_check),
		cmocka_unit_test(test_rootfs_config),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
