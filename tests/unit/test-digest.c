/* digest: digest_parse accepts only "sha256:" + 64 lowercase hex digits
 * and names the refused string in its message; digest_hex_valid and
 * digest_short; SHA-256 one-shot and incremental against the FIPS 180-2
 * vectors ("" and "abc"). */
#include "unit.h"
#include "digest.h"

#define HEX_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define HEX_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

static void test_parse_ok(void **state)
{
	kb_digest d;
	kb_error e = { 0 };

	assert_int_equal(digest_parse("sha256:" HEX_ABC, &d, &e), 0);
	assert_string_equal(d.hex, HEX_ABC);
	assert_false(kb_err_set(&e));
}

/* Each string must be refused with EINVAL, and the message must quote it
 * (its first 60 characters: long strings may be cut). */
static void refuse(const char *s, const char *why)
{
	kb_digest d;
	kb_error e = { 0 };
	char head[61];

	memset(&d, 'Z', sizeof d);
	int r = digest_parse(s, &d, &e);
	if (r != -EINVAL)
		fail_msg("digest_parse(\"%s\") returned %d, expected -EINVAL", s, r);
	assert_int_equal(e.errnum, EINVAL);
	snprintf(head, sizeof head, "%s", s);
	assert_contains(e.msg, head);
	if (why)
		assert_contains(e.msg, why);
	assert_int_equal(d.hex[0], 'Z');    /* untouched on failure */
}

static void test_parse_refused(void **state)
{
	refuse("sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
	       "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e", "sha256");
	refuse("md5:d41d8cd98f00b204e9800998ecf8427e", "sha256");
	refuse("sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD", "hex");
	refuse("sha256:Ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "hex");
	refuse("sha256:" "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a", "hex");
	refuse("sha256:" HEX_ABC "0", "hex");
	refuse("sha256:", NULL);
	refuse("sha256:../../x", NULL);
	refuse("sha256:../../../../../../../../../../../../../../../../../../../../../etc/passwd", NULL);
	refuse("sha256:" "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f2001/ad", NULL);
	refuse("sha256:" "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f2001 ad", NULL);
	refuse("sha256" HEX_ABC, "algorithm");
	refuse(HEX_ABC, "algorithm");
	refuse("SHA256:" HEX_ABC, NULL);
	refuse("sha256 :" HEX_ABC, NULL);
	refuse(":" HEX_ABC, NULL);
	refuse("", NULL);
}

static void test_parse_null(void **state)
{
	kb_digest d;
	kb_error e = { 0 };

	assert_int_equal(digest_parse(NULL, &d, &e), -EINVAL);
	assert_true(kb_err_set(&e));
	assert_contains(e.msg, "digest");
}

/* A hex string with an embedded NUL must not pass as 64 digits. */
static void test_parse_embedded_nul(void **state)
{
	char s[80] = "sha256:" HEX_ABC;
	kb_digest d;
	kb_error e = { 0 };

	s[7 + 10] = 0;
	assert_int_equal(digest_parse(s, &d, &e), -EINVAL);
}

static void test_hex_valid(void **state)
{
	assert_true(digest_hex_valid(HEX_ABC));
	assert_true(digest_hex_valid(HEX_EMPTY));
	assert_false(digest_hex_valid(""));
	assert_false(digest_hex_valid(HEX_ABC "a"));
	assert_false(digest_hex_valid("ba7816bf"));
	assert_false(digest_hex_valid("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"));
	assert_false(digest_hex_valid("ga7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
	assert_false(digest_hex_valid("../../x"));
}

static void test_short(void **state)
{
	kb_digest d;
	char buf[24];

	memcpy(d.hex, HEX_ABC, sizeof d.hex);
	assert_string_equal(digest_short(&d, buf), "sha256:ba7816bf8f01");
}

static void test_sha256_oneshot(void **state)
{
	kb_digest d;

	sha256_buf("", 0, &d);
	assert_string_equal(d.hex, HEX_EMPTY);
	sha256_buf("abc", 3, &d);
	assert_string_equal(d.hex, HEX_ABC);
	/* FIPS 180-2, two-block message. */
	const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	sha256_buf(m, strlen(m), &d);
	assert_string_equal(d.hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_sha256_incremental(void **state)
{
	kb_digest d;
	sha256_ctx *c = sha256_new();

	assert_non_null(c);
	sha256_final(c, &d);
	sha256_free(c);
	assert_string_equal(d.hex, HEX_EMPTY);

	c = sha256_new();
	assert_non_null(c);
	sha256_update(c, "a", 1);
	sha256_update(c, "", 0);
	sha256_update(c, "bc", 2);
	sha256_final(c, &d);
	sha256_free(c);
	assert_string_equal(d.hex, HEX_ABC);

	/* One million 'a' in uneven pieces (FIPS 180-2 vector 3). */
	static char buf[1000];
	memset(buf, 'a', sizeof buf);
	c = sha256_new();
	assert_non_null(c);
	size_t left = 1000000;
	for (size_t piece = 1; left; piece = piece % 997 + 1) {
		size_t n = piece < left ? piece : left;
		sha256_update(c, buf, n);
		left -= n;
	}
	sha256_final(c, &d);
	sha256_free(c);
	assert_string_equal(d.hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	sha256_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_refused),
		cmocka_unit_test(test_parse_null),
		cmocka_unit_test(test_parse_embedded_nul),
		cmocka_unit_test(test_hex_valid),
		cmocka_unit_test(test_short),
		cmocka_unit_test(test_sha256_oneshot),
		cmocka_unit_test(test_sha256_incremental),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
