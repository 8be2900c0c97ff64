/* jsontext: valid UTF-8 (RFC 3629's well-formed sequences, including the
 * edges E0 A0, ED 9F, F0 90, F4 8F) passes unchanged; every ill-formed byte
 * (a lone continuation byte, C0/C1, overlong forms, surrogates, F5..FF,
 * above U+10FFFF, a truncated sequence) becomes \xNN, and what follows a
 * bad byte is read afresh; json_text always yields a string jansson
 * accepts, and dumps it as JSON. */
#include "unit.h"
#include "base/jsontext.h"

#include <string.h>

static void check(const char *in, const char *want)
{
	char *got = json_text_escape(in);
	assert_non_null(got);
	if (strcmp(got, want))
		fail_msg("escape(\"%s\") = \"%s\", want \"%s\"", in, got, want);
	free(got);
	json_t *j = json_text(in);
	assert_non_null(j);
	assert_string_equal(json_string_value(j), want);
	json_decref(j);
}

static void test_valid(void **state)
{
	(void)state;
	static const char *const ok[] = {
		"", "plain ascii /home/ana/k8s", "caf\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
		"\xe0\xa0\x80", "\xed\x9f\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf", "\xc2\x80", "\xdf\xbf",
		"a\\xff stays as written",
	};
	for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
		assert_true(utf8_valid(ok[i]));
		check(ok[i], ok[i]);
	}
}

static void test_invalid(void **state)
{
	(void)state;
	check("/tmp/\xff\xfe", "/tmp/\\xff\\xfe");
	check("\x80", "\\x80");
	check("\xc0\xaf", "\\xc0\\xaf");                     /* overlong '/' */
	check("\xc1\xbf", "\\xc1\\xbf");
	check("\xe0\x80\xaf", "\\xe0\\x80\\xaf");             /* overlong */
	check("\xed\xa0\x80", "\\xed\\xa0\\x80");             /* a surrogate */
	check("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80");     /* above U+10FFFF */
	check("\xf5\x80\x80\x80", "\\xf5\\x80\\x80\\x80");
	check("ab\xe2\x82", "ab\\xe2\\x82");                  /* truncated at the end */
	check("\xe2\x82" "A", "\\xe2\\x82A");                 /* truncated, then ASCII */
	check("\xc3" "\xc3\xa9", "\\xc3\xc3\xa9");            /* a bad byte, then a good sequence */
	check("branch-\xff-\xc3\xa9", "branch-\\xff-\xc3\xa9");
	assert_false(utf8_valid("\xff"));
}

static void test_null_and_dump(void **state)
{
	(void)state;
	assert_null(json_text(NULL));
	json_t *o = json_pack("{s:o, s:o?}", "checkout", json_text("/w/\xff\xfe"), "image", json_text(NULL));
	assert_non_null(o);
	char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(s, "{\"checkout\":\"/w/\\\\xff\\\\xfe\",\"image\":null}");
	free(s);
	json_decref(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_null_and_dump),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
