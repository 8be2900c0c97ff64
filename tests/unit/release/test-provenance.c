/* The release's provenance (release/provenance.c): the statement's form
 * and order, verification of subjects, the DSSE envelope with Ed25519
 * and ECDSA P-256 keys, and refusals. */
#include "unit.h"
#include "release/provenance.h"

#include <openssl/evp.h>
#include <openssl/pem.h>

typedef struct fx {
	char *dir;
	int fd;
} fx;

static int setup(void **state)
{
	fx *f = calloc(1, sizeof *f);
	assert_non_null(f);
	f->dir = tmpdir_new();
	f->fd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(f->fd >= 0);
	assert_int_equal(run("mkdir -p %s/_output/release-tars %s/_output/release-images/amd64", f->dir, f->dir), 0);
	write_at(f->fd, "_output/release-tars/kubernetes.tar.gz", "tarball\n", 0);
	write_at(f->fd, "_output/release-tars/kubernetes-client-linux-amd64.tar.gz", "client\n", 0);
	write_at(f->fd, "_output/release-images/amd64/kube-apiserver.tar", "image\n", 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;
	close(f->fd);
	tmpdir_free(f->dir);
	free(f);
	return 0;
}

/* A record of the three files, added out of order. */
static provenance *make_record(fx *f)
{
	kb_error e = { 0 };
	provenance *p = prov_new();
	assert_non_null(p);
	assert_int_equal(prov_add_file(p, f->fd, "_output/release-tars/kubernetes.tar.gz", NULL, &e), 0);
	assert_int_equal(prov_add_file(p, f->fd, "_output/release-images/amd64/kube-apiserver.tar", "sha256:abc", &e), 0);
	assert_int_equal(prov_add_file(p, f->fd, "_output/release-tars/kubernetes-client-linux-amd64.tar.gz", NULL, &e), 0);
	assert_int_equal(prov_add_dep(p, NULL, "git+file:///src", "gitCommit", "0123abcd", NULL, NULL, &e), 0);
	json_object_set_new(prov_external(p), "command", json_pack("[s,s]", "make", "quick-release"));
	prov_set_run(p, "0.1.0", 1700000000, 1700000100);
	return p;
}

static void test_statement(void **state)
{
	fx *f = *state;
	kb_error e = { 0 };
	provenance *p = make_record(f);
	char *text = prov_statement(p, &e);
	assert_non_null(text);
	json_t *j = json_loads(text, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "_type")), "https://in-toto.io/Statement/v1");
	assert_string_equal(json_string_value(json_object_get(j, "predicateType")), "https://slsa.dev/provenance/v1");
	json_t *sub = json_object_get(j, "subject");
	assert_int_equal(json_array_size(sub), 3);
	/* Sorted by name, whatever the order they were added in. */
	assert_string_equal(json_string_value(json_object_get(json_array_get(sub, 0), "name")),
			    "_output/release-images/amd64/kube-apiserver.tar");
	assert_string_equal(json_string_value(json_object_get(json_array_get(sub, 2), "name")),
			    "_output/release-tars/kubernetes.tar.gz");
	/* sha256 of "tarball\n". */
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_array_get(sub, 2), "digest"), "sha256")),
			    "db54a0dc0e228817bfd5fe0b45b84e7bf15e9459baca4c358a981c2b9cdfdc8a");
	json_t *pred = json_object_get(j, "predicate");
	assert_string_equal(json_string_value(json_object_get(json_object_get(pred, "buildDefinition"), "buildType")),
			    PROV_BUILD_TYPE);
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(pred, "runDetails"),
									       "metadata"), "startedOn")),
			    "2023-11-14T22:13:20Z");
	json_decref(j);
	free(text);
	prov_free(p);
}

static void test_verify(void **state)
{
	fx *f = *state;
	kb_error e = { 0 };
	prov_mismatch m[8];
	size_t n = 9;
	provenance *p = make_record(f);
	int tfd = openat(f->fd, "_output/release-tars", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(tfd >= 0);
	assert_int_equal(prov_write(p, tfd, "kbuild-ns.provenance.json", NULL, &e), 0);
	close(tfd);
	prov_free(p);
	char *rec = xasprintf("%s/_output/release-tars/kbuild-ns.provenance.json", f->dir);
	assert_int_equal(prov_verify(rec, f->fd, NULL, m, 8, &n, &e), 0);
	assert_int_equal(n, 0);

	/* One byte changed, one file gone: one line each. */
	write_at(f->fd, "_output/release-tars/kubernetes.tar.gz", "tarbalL\n", 0);
	assert_int_equal(unlinkat(f->fd, "_output/release-tars/kubernetes-client-linux-amd64.tar.gz", 0), 0);
	assert_int_equal(prov_verify(rec, f->fd, NULL, m, 8, &n, &e), 0);
	assert_int_equal(n, 2);
	assert_string_equal(m[0].name, "_output/release-tars/kubernetes-client-linux-amd64.tar.gz");
	assert_string_equal(m[0].why, "missing");
	assert_contains(m[1].why, "recorded");

	/* A directory on a subject's way swapped for a symlink (to a copy
	 * that matches): not followed, a mismatch, not a pass. */
	write_at(f->fd, "_output/release-tars/kubernetes.tar.gz", "tarball\n", 0);
	assert_int_equal(run("cp -a %s/_output/release-images %s/elsewhere && rm -rf %s/_output/release-images && "
			     "ln -s ../elsewhere %s/_output/release-images", f->dir, f->dir, f->dir, f->dir), 0);
	assert_int_equal(prov_verify(rec, f->fd, NULL, m, 8, &n, &e), 0);
	assert_int_equal(n, 2);
	assert_string_equal(m[0].name, "_output/release-images/amd64/kube-apiserver.tar");
	assert_contains(m[0].why, "symbolic link");

	/* Not a statement; a subject that climbs out. */
	write_at(f->fd, "bad.json", "{\"_type\":\"x\"}", 0);
	char *bad = xasprintf("%s/bad.json", f->dir);
	assert_true(prov_verify(bad, f->fd, NULL, m, 8, &n, &e) < 0);
	assert_contains(e.msg, "not an in-toto Statement v1");
	e = (kb_error){ 0 };
	p = prov_new();
	assert_int_equal(prov_add_file(p, f->fd, "../etc/passwd", NULL, &e), -EINVAL);
	prov_free(p);
	free(bad);
	free(rec);
}

/* A key of the given kind into dir/name.key and dir/name.pub. */
static void make_key(fx *f, const char *name, int type)
{
	EVP_PKEY *k = NULL;
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(type, NULL);
	assert_non_null(c);
	assert_int_equal(EVP_PKEY_keygen_init(c), 1);
	if (type == EVP_PKEY_EC)
		assert_int_equal(EVP_PKEY_CTX_set_ec_paramgen_curve_nid(c, NID_X9_62_prime256v1), 1);
	assert_int_equal(EVP_PKEY_keygen(c, &k), 1);
	char *kp = xasprintf("%s/%s.key", f->dir, name), *pp = xasprintf("%s/%s.pub", f->dir, name);
	FILE *kf = fopen(kp, "w"), *pf = fopen(pp, "w");
	assert_true(kf && pf);
	assert_int_equal(PEM_write_PrivateKey(kf, k, NULL, NULL, 0, NULL, NULL), 1);
	assert_int_equal(PEM_write_PUBKEY(pf, k), 1);
	fclose(kf);
	fclose(pf);
	EVP_PKEY_free(k);
	EVP_PKEY_CTX_free(c);
	free(kp);
	free(pp);
}

static void check_signed(fx *f, const char *name)
{
	kb_error e = { 0 };
	prov_mismatch m[4];
	size_t n = 9;
	char *key = xasprintf("%s/%s.key", f->dir, name), *pub = xasprintf("%s/%s.pub", f->dir, name);
	char *env = xasprintf("%s/rec.dsse.json", f->dir), *plain = xasprintf("%s/rec.json", f->dir);
	provenance *p = make_record(f);
	assert_int_equal(prov_write(p, f->fd, "rec.json", key, &e), 0);
	prov_free(p);
	assert_int_equal(prov_verify(env, f->fd, pub, m, 4, &n, &e), 0);
	assert_int_equal(n, 0);
	/* A plain statement does not pass for a signed one. */
	assert_true(prov_verify(plain, f->fd, pub, m, 4, &n, &e) < 0);
	assert_contains(e.msg, "not signed");
	e = (kb_error){ 0 };
	/* Another key does not verify. */
	make_key(f, "other", EVP_PKEY_ED25519);
	char *other = xasprintf("%s/other.pub", f->dir);
	assert_true(prov_verify(env, f->fd, other, m, 4, &n, &e) < 0);
	assert_contains(e.msg, "no signature verifies");
	free(other);
	free(key);
	free(pub);
	free(env);
	free(plain);
}

static void test_dsse(void **state)
{
	fx *f = *state;
	size_t len = 0;
	char *pae = dsse_pae("http://example.com/HelloWorld", "hello world", 11, &len);
	/* The DSSE protocol's own example. */
	assert_string_equal(pae, "DSSEv1 29 http://example.com/HelloWorld 11 hello world");
	assert_int_equal(len, strlen(pae));
	free(pae);
	make_key(f, "ed", EVP_PKEY_ED25519);
	check_signed(f, "ed");
	make_key(f, "ec", EVP_PKEY_EC);
	check_signed(f, "ec");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_statement, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dsse, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
