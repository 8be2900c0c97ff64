/* ref: Docker's normalisation of image references (docker.io, library/,
 * index.docker.io, registries with ports, digests; a long short form
 * whose full name parses back), the grammar's
 * refusals, the loopback test for plain HTTP, the name matching pull on
 * demand relies on; regconf: the user's registries.conf (pull policy,
 * mirror lists, longest-prefix sections, its errors). */
#include "unit.h"
#include "image/image.h"
#include "image/ref.h"
#include "image/regconf.h"

static void check(const char *in, const char *name, const char *domain, const char *path)
{
	image_ref r;
	kb_error e = { 0 };
	if (ref_parse(in, &r, &e) < 0)
		fail_msg("ref_parse(\"%s\"): %s", in, e.msg);
	char *n = ref_name(&r);
	assert_string_equal(n, name);
	assert_string_equal(r.domain, domain);
	assert_string_equal(r.path, path);
	free(n);
	ref_clear(&r);
}

static void test_normalise(void **state)
{
	check("busybox", "docker.io/library/busybox:latest", "docker.io", "library/busybox");
	check("busybox:1.36", "docker.io/library/busybox:1.36", "docker.io", "library/busybox");
	check("library/busybox", "docker.io/library/busybox:latest", "docker.io", "library/busybox");
	check("someone/tool:2", "docker.io/someone/tool:2", "docker.io", "someone/tool");
	check("index.docker.io/busybox", "docker.io/library/busybox:latest", "docker.io", "library/busybox");
	check("docker.io/busybox", "docker.io/library/busybox:latest", "docker.io", "library/busybox");
	check("registry.k8s.io/build-image/kube-cross:v1.31.0-go1.22.5-bullseye.0",
	      "registry.k8s.io/build-image/kube-cross:v1.31.0-go1.22.5-bullseye.0", "registry.k8s.io",
	      "build-image/kube-cross");
	check("localhost/app", "localhost/app:latest", "localhost", "app");
	check("localhost:5000/a/b_c__d-e.f:t", "localhost:5000/a/b_c__d-e.f:t", "localhost:5000", "a/b_c__d-e.f");
	check("127.0.0.1:5000/x", "127.0.0.1:5000/x:latest", "127.0.0.1:5000", "x");
	check("[::1]:5000/x:1", "[::1]:5000/x:1", "[::1]:5000", "x");
	check("Registry.Example/x", "Registry.Example/x:latest", "Registry.Example", "x");
	check("ghcr.io/o/x@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	      "ghcr.io/o/x@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "ghcr.io", "o/x");
	check("ghcr.io/o/x:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	      "ghcr.io/o/x:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "ghcr.io", "o/x");
	/* Found by fuzz-registry-conf: a short name whose full form is over
	 * 335 characters parsed, and ref_name's output then did not (a bound
	 * on the input that did not hold the normalised form). */
	char in[400], want[500];
	memset(in, 'a', 200);
	snprintf(in + 200, sizeof in - 200, ":%s@sha256:%s", "t123456789012345678901234567890123456789012345678901234567890",
		 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	snprintf(want, sizeof want, "docker.io/library/%s", in);
	char *path = xasprintf("library/%.200s", in);
	check(in, want, "docker.io", path);
	check(want, want, "docker.io", path);
	free(path);
	/* ... and an image pulled under that full name is stored under it
	 * (names were once capped at 255 characters, tag included). */
	char *stored = oci_name_normalize(want);
	assert_non_null(stored);
	assert_string_equal(stored, want);
	free(stored);
	char over[REF_FULL_MAX + 2];
	memset(over, 'a', sizeof over - 1);
	over[sizeof over - 1] = 0;
	assert_null(oci_name_normalize(over));
	assert_string_equal(ref_api_host("docker.io"), "registry-1.docker.io");
	assert_string_equal(ref_api_host("ghcr.io"), "ghcr.io");
}

static void test_refused(void **state)
{
	static const char *bad[] = {
		"", "UPPER", "docker.io/Library/busybox", "x:", "x:-tag", "x@sha256:12", "x@md5:00", "a//b",
		"-a/b", "a-/b", "a/b-", "a..b/c", "host:port/x", "ex ample/x", "a/.b", "a/b:t/c",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		image_ref r;
		kb_error e = { 0 };
		if (ref_parse(bad[i], &r, &e) == 0)
			fail_msg("ref_parse(\"%s\") accepted it as %s/%s", bad[i], r.domain, r.path);
		assert_true(kb_err_set(&e));
	}
}

static void test_loopback(void **state)
{
	static const char *yes[] = { "localhost", "localhost:5000", "LOCALHOST", "127.0.0.1", "127.0.0.1:5000",
				     "127.1.2.3:80", "[::1]", "[::1]:5000" };
	static const char *no[] = { "128.0.0.1", "127.0.0.1.example", "localhost.example:5000", "10.0.0.1:5000",
				    "[::2]:5000", "127.256.0.1", "example.com", "192.0.2.1:9" };
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++)
		if (!host_is_loopback(yes[i]))
			fail_msg("%s should be loopback", yes[i]);
	for (size_t i = 0; i < ARRAY_SIZE(no); i++)
		if (host_is_loopback(no[i]))
			fail_msg("%s should not be loopback", no[i]);
}

static void test_matches(void **state)
{
	assert_true(ref_name_matches("registry.k8s.io/build-image/kube-cross:v1", "kube-cross:v1"));
	assert_true(ref_name_matches("registry.k8s.io/build-image/kube-cross:v1", "build-image/kube-cross:v1"));
	assert_true(ref_name_matches("docker.io/library/busybox:latest", "busybox"));
	assert_true(ref_name_matches("127.0.0.1:5000/x:1", "127.0.0.1:5000/x:1"));
	assert_false(ref_name_matches("registry.k8s.io/build-image/kube-cross:v1", "cross:v1"));
	assert_false(ref_name_matches("registry.k8s.io/build-image/kube-cross:v2", "kube-cross:v1"));
	assert_false(ref_name_matches("docker.io/me/cross:v1", "kube-cross:v1"));
}

static reg_conf *load(const char *dir, const char *text, kb_error *e)
{
	char *p = xasprintf("%s/registries.conf", dir);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, text, strlen(text)), 0);
	close(fd);
	reg_conf *c = NULL;
	if (regconf_load(p, &c, e) < 0)
		c = NULL;
	free(p);
	return c;
}

static void test_regconf(void **state)
{
	char *d = tmpdir_new();
	kb_error e = { 0 };
	reg_conf *c = load(d, "# comment\npull = never\n\n[registry.k8s.io]\nmirror = 127.0.0.1:5000\n"
			   "mirror = mirror.example/k8s\n[registry.k8s.io/build-image]\nmirror = m2.example\n"
			   "[127.0.0.1:5000]\ninsecure = true\ncert-dir = /etc/certs\n", &e);
	if (!c)
		fail_msg("%s", e.msg);
	assert_int_equal(c->pull, PULL_NEVER);
	const reg_section *s = regconf_find(c, "registry.k8s.io/pause");
	assert_non_null(s);
	assert_int_equal(s->n_mirrors, 2);
	assert_string_equal(s->mirrors[0], "127.0.0.1:5000");
	assert_string_equal(s->mirrors[1], "mirror.example/k8s");
	s = regconf_find(c, "registry.k8s.io/build-image/kube-cross");
	assert_string_equal(s->prefix, "registry.k8s.io/build-image");
	assert_null(regconf_find(c, "registry.k8s.iox/y"));
	assert_null(regconf_find(c, "127.0.0.1:50001/y"));
	s = regconf_find(c, "127.0.0.1:5000");
	assert_int_equal(s->insecure, 1);
	assert_string_equal(s->cert_dir, "/etc/certs");
	regconf_free(c);

	static const char *bad[][2] = {
		{ "pull = sometimes\n", "pull sometimes" },
		{ "mirror = x\n", "unknown key \"mirror\"" },
		{ "[a]\nmirror = https://x\n", "expected HOST[:PORT][/PATH]" },
		{ "[a]\nmirror = user:pw@x\n", "expected HOST[:PORT][/PATH]" },
		{ "[a]\ninsecure = yes\n", "must be true or false" },
		{ "[a]\ncert-dir = rel\n", "absolute path" },
		{ "[a\n", "expected \"[REGISTRY]\"" },
		{ "[a]\nfoo\n", ":2: expected \"key = value\"" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		kb_error be = { 0 };
		assert_null(load(d, bad[i][0], &be));
		assert_contains(be.msg, bad[i][1]);
	}
	pull_policy p;
	assert_int_equal(pull_policy_parse("always", &p), 0);
	assert_int_equal(p, PULL_ALWAYS);
	assert_int_equal(pull_policy_parse("sometimes", &p), -EINVAL);
	tmpdir_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalise),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_loopback),
		cmocka_unit_test(test_matches),
		cmocka_unit_test(test_regconf),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
