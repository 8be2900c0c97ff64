/* digest: digest_parse accepts only "sha256:" + 64 lowercase hex digits
 * and names the refused string in its message; digest_hex_valid and
 * digest_short; SHA-256 one-shot and incremental against the FIPS 180-2
 * vectors ("" and "abc").  The built-in MD5 (md5.c) against the RFC 1321
 * test suite, against OpenSSL's MD5 for every length up to three blocks in
 * uneven pieces, and data_key on a known checkout string. */
#include "image/import/sha256.h"
#include "unit.h"
#include "base/digest.h"
#include "base/md5.h"
#include "build/data.h"

#include <openssl/evp.h>

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

static void hex16(const unsigned char *md, char out[33])
{
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* RFC 1321 appendix A.5, "Test suite". */
static void test_md5_rfc1321(void **state)
{
	static const struct { const char *in, *hex; } v[] = {
		{ "", "d41d8cd98f00b204e9800998ecf8427e" },
		{ "a", "0cc175b9c0f1b6a831c399e269772661" },
		{ "abc", "900150983cd24fb0d6963f7d28e17f72" },
		{ "message digest", "f96b697d7cb7938d525a2f31aaf161d0" },
		{ "abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b" },
		{ "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
		  "d174ab98d277d9f5a5611c2c9f419d9f" },
		{ "1234567890123456789012345678901234567890123456789012345678901234567890123456789"
		  "0", "57edf4a22be3c955ac49da2e2107b67a" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		unsigned char md[MD5_LEN];
		char hex[33];
		md5_buf(v[i].in, strlen(v[i].in), md);
		hex16(md, hex);
		if (strcmp(hex, v[i].hex))
			fail_msg("MD5(\"%s\") = %s, expected %s", v[i].in, hex, v[i].hex);
	}
}

/* Every length from 0 to 200 bytes (the padding's edge cases at 55, 56,
 * 63, 64, 119, 120 included), fed in pieces of 1 to 67 bytes, against
 * OpenSSL. */
static void test_md5_lengths(void **state)
{
	unsigned char data[200];
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (unsigned char)(i * 131 + 7);
	for (size_t len = 0; len <= sizeof data; len++) {
		unsigned char want[EVP_MAX_MD_SIZE], got[MD5_LEN];
		unsigned wl = 0;
		assert_int_equal(EVP_Digest(data, len, want, &wl, EVP_md5(), NULL), 1);
		assert_int_equal(wl, MD5_LEN);
		for (size_t piece = 1; piece <= 67; piece += 11) {
			md5_ctx c;
			md5_init(&c);
			for (size_t off = 0; off < len; off += piece)
				md5_update(&c, data + off, len - off < piece ? len - off : piece);
			md5_final(&c, got);
			if (memcmp(got, want, MD5_LEN))
				fail_msg("MD5 of %zu bytes in pieces of %zu differs from OpenSSL's", len, piece);
		}
	}
}

/* The key upstream's build/common.sh computes:
 *   echo -n "$HOSTNAME:$KUBE_ROOT:$BRANCH" | md5sum | cut -c 1-10 */
static void test_data_key(void **state)
{
	char key[33];
	data_key("builder:/home/me/go/src/k8s.io/kubernetes:master", key, 10);
	assert_string_equal(key, "2f68e2e09f");
	data_key("", key, 32);
	assert_string_equal(key, "d41d8cd98f00b204e9800998ecf8427e");
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
		cmocka_unit_test(test_md5_rfc1321),
		cmocka_unit_test(test_md5_lengths),
		cmocka_unit_test(test_data_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
