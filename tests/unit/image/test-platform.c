/* platform: parsing "OS/ARCH[/VARIANT]" (and refusing bad forms with a
 * message that names the string), platform_str, platform_match (the
 * arm64 "v8" default, empty variants on either side), platform_goarch's
 * uname -> GOARCH mapping and platform_host. */
#include "unit.h"
#include "image/platform.h"

#include <sys/utsname.h>

static kb_platform P(const char *os, const char *arch, const char *variant)
{
	kb_platform p;
	memset(&p, 0, sizeof p);
	snprintf(p.os, sizeof p.os, "%s", os);
	snprintf(p.arch, sizeof p.arch, "%s", arch);
	snprintf(p.variant, sizeof p.variant, "%s", variant);
	return p;
}

static void test_parse_ok(void **state)
{
	kb_platform p;
	kb_error e = { 0 };
	char buf[100];

	assert_int_equal(platform_parse("linux/amd64", &p, &e), 0);
	assert_string_equal(p.os, "linux");
	assert_string_equal(p.arch, "amd64");
	assert_string_equal(p.variant, "");
	assert_string_equal(platform_str(&p, buf, sizeof buf), "linux/amd64");

	assert_int_equal(platform_parse("linux/arm64/v8", &p, &e), 0);
	assert_string_equal(p.os, "linux");
	assert_string_equal(p.arch, "arm64");
	assert_string_equal(p.variant, "v8");
	assert_string_equal(platform_str(&p, buf, sizeof buf), "linux/arm64/v8");

	assert_int_equal(platform_parse("windows/386", &p, &e), 0);
	assert_string_equal(p.os, "windows");
	assert_string_equal(p.arch, "386");
	assert_false(kb_err_set(&e));
}

static void test_parse_bad(void **state)
{
	static const char *bad[] = {
		"", "linux", "linux/", "/amd64", "/", "//", "linux//amd64", "linux/amd64/",
		"linux/arm64/v8/extra", "linux/arm64//", "Linux/amd64", "linux/AMD64",
		"linux/amd 64", " linux/amd64", "linux/amd64 ", "linux/../amd64",
		"linux/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		kb_platform p = P("keep", "keep", "keep");
		kb_error e = { 0 };
		int r = platform_parse(bad[i], &p, &e);
		if (r != -EINVAL)
			fail_msg("platform_parse(\"%s\") returned %d, expected -EINVAL", bad[i], r);
		char quoted[80];
		snprintf(quoted, sizeof quoted, strlen(bad[i]) > 60 ? "\"%.60s" : "\"%s\"", bad[i]);
		assert_contains(e.msg, quoted);
		assert_string_equal(p.os, "keep");    /* untouched on failure */
	}
}

static void test_str_truncates(void **state)
{
	kb_platform p = P("linux", "arm64", "v8");
	char small[8];

	platform_str(&p, small, sizeof small);
	assert_string_equal(small, "linux/a");
}

static void test_match(void **state)
{
	kb_platform amd = P("linux", "amd64", ""), arm = P("linux", "arm64", ""),
		    armv8 = P("linux", "arm64", "v8"), armv9 = P("linux", "arm64", "v9"),
		    arm32 = P("linux", "arm", ""), armv7 = P("linux", "arm", "v7"),
		    armv6 = P("linux", "arm", "v6"), win = P("windows", "amd64", ""),
		    amdv3 = P("linux", "amd64", "v3");

	assert_true(platform_match(&amd, &amd));
	assert_false(platform_match(&amd, &arm));
	assert_false(platform_match(&arm, &amd));
	assert_false(platform_match(&amd, &win));
	assert_false(platform_match(&win, &amd));
	/* arm64: no variant means v8, both ways. */
	assert_true(platform_match(&arm, &armv8));
	assert_true(platform_match(&armv8, &arm));
	assert_true(platform_match(&armv8, &armv8));
	assert_false(platform_match(&armv9, &arm));
	assert_false(platform_match(&arm, &armv9));
	assert_false(platform_match(&armv8, &armv9));
	/* Elsewhere an empty variant on either side matches any variant. */
	assert_true(platform_match(&arm32, &armv7));
	assert_true(platform_match(&armv7, &arm32));
	assert_false(platform_match(&armv7, &armv6));
	assert_true(platform_match(&amd, &amdv3));
	assert_true(platform_match(&amdv3, &amd));
	assert_false(platform_match(&arm32, &arm));
}

static void test_goarch(void **state)
{
	static const struct { const char *m, *arch, *variant; } map[] = {
		{ "x86_64", "amd64", "" }, { "aarch64", "arm64", "v8" }, { "arm64", "arm64", "v8" },
		{ "armv7l", "arm", "v7" }, { "armv6l", "arm", "v6" }, { "i686", "386", "" },
		{ "i386", "386", "" }, { "ppc64le", "ppc64le", "" }, { "s390x", "s390x", "" },
		{ "riscv64", "riscv64", "" }, { "loongarch64", "loong64", "" },
		{ "mips64", "mips64", "" },    /* unknown: unchanged */
	};
	for (size_t i = 0; i < ARRAY_SIZE(map); i++) {
		const char *v = "unset";
		assert_string_equal(platform_goarch(map[i].m, &v), map[i].arch);
		assert_string_equal(v, map[i].variant);
	}
	assert_string_equal(platform_goarch("x86_64", NULL), "amd64");
}

static void test_host(void **state)
{
	kb_platform h;
	struct utsname u;
	const char *v;

	assert_int_equal(uname(&u), 0);
	platform_host(&h);
	assert_string_equal(h.os, "linux");
	assert_string_equal(h.arch, platform_goarch(u.machine, &v));
	assert_string_equal(h.variant, v);
	assert_true(platform_match(&h, &h));
	if (!strcmp(u.machine, "x86_64"))
		assert_string_equal(h.arch, "amd64");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_str_truncates),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_goarch),
		cmocka_unit_test(test_host),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
