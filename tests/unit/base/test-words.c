/* words: word_distance (insertions, deletions, changes and neighbour
 * swaps each count 1; the work stops past max) and plural. */
#include "unit.h"
#include "base/words.h"

static void test_distance(void **state)
{
	(void)state;
	assert_int_equal(word_distance("image", "image", 2), 0);
	assert_int_equal(word_distance("imag", "image", 2), 1);       /* deletion */
	assert_int_equal(word_distance("imagee", "image", 2), 1);     /* insertion */
	assert_int_equal(word_distance("imbge", "image", 2), 1);      /* change */
	assert_int_equal(word_distance("imgae", "image", 2), 1);      /* swap */
	assert_int_equal(word_distance("no-wiat", "no-wait", 2), 1);
	assert_int_equal(word_distance("", "abc", 5), 3);
	assert_int_equal(word_distance("abc", "", 5), 3);
	/* Past max: max + 1, whatever the real distance. */
	assert_int_equal(word_distance("network", "bind", 2), 3);
	assert_int_equal(word_distance("a", "abcdefgh", 2), 3);
	assert_int_equal(word_distance("kube-cross:v1.0.0", "kube-crass:v1.0.0", 4), 1);
}

static void test_plural(void **state)
{
	(void)state;
	assert_string_equal(plural(0, "entry", "entries"), "entries");
	assert_string_equal(plural(1, "entry", "entries"), "entry");
	assert_string_equal(plural(2, "layer", "layers"), "layers");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_distance),
		cmocka_unit_test(test_plural),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
