/* The filter engine (filter.c): rsync's FILTER RULES, case by case from
 * rsync(1) (each expectation also checked against rsync 3.2 with
 * `rsync -a --filter=RULE src/ dst/`; tests/integration/filter-rsync.t
 * compares whole trees against the rsync installed). */
#include "unit.h"
#include "build/filter.h"

/* The first rule of rules (a NULL-terminated list) that decides for the
 * sending side: 'x' hidden, 'i' sent by a rule, '.' no rule matched. */
static char send_verdict(const char *const *rules, const char *path, bool dir)
{
	filter_list l = { 0 };
	kb_error e = { 0 };
	for (size_t i = 0; rules[i]; i++)
		assert_int_equal(filter_add(&l, rules[i], "test", &e), 0);
	const filter_rule *r = filter_first(&l, true, path, dir);
	char v = !r ? '.' : r->flags & FILTER_INCLUDE ? 'i' : 'x';
	filter_list_free(&l);
	return v;
}

static bool m(const char *rule, const char *path, bool dir)
{
	const char *const rules[] = { rule, NULL };
	return send_verdict(rules, path, dir) != '.';
}

static void test_parse(void **state)
{
	(void)state;
	filter_list l = { 0 };
	kb_error e = { 0 };
	assert_int_equal(filter_add(&l, "- /_output/", "build/common.sh:457", &e), 0);
	assert_int_equal(filter_add(&l, "H zz_generated.*", "x", &e), 0);
	assert_int_equal(filter_add(&l, "include,! foo", "x", &e), 0);
	assert_int_equal(filter_add(&l, "-_a b", "x", &e), 0);            /* "_" separates too; the blank is the pattern's */
	assert_int_equal(filter_add(&l, "P,p x", "x", &e), 0);
	assert_int_equal(filter_add(&l, "-s y", "x", &e), 0);
	assert_int_equal(filter_add(&l, "- /", "x", &e), 0);              /* matches only the top, which is never asked */
	assert_int_equal(l.n, 7);
	assert_string_equal(l.v[0].pattern, "_output");
	assert_true(l.v[0].flags & FILTER_ANCHORED && l.v[0].flags & FILTER_DIR);
	assert_true((l.v[0].flags & (FILTER_SENDER | FILTER_RECEIVER)) == (FILTER_SENDER | FILTER_RECEIVER));
	assert_string_equal(l.v[0].origin, "build/common.sh:457");
	assert_string_equal(l.v[0].text, "- /_output/");
	assert_true((l.v[1].flags & (FILTER_SENDER | FILTER_RECEIVER)) == FILTER_SENDER);
	assert_true(l.v[2].flags & FILTER_INCLUDE && l.v[2].flags & FILTER_NEGATE);
	assert_string_equal(l.v[3].pattern, "a b");
	assert_true((l.v[4].flags & (FILTER_SENDER | FILTER_RECEIVER)) == FILTER_RECEIVER);
	assert_true(l.v[4].flags & FILTER_PERISHABLE);
	assert_true((l.v[5].flags & (FILTER_SENDER | FILTER_RECEIVER)) == FILTER_SENDER);
	assert_false(filter_rule_matches(&l.v[6], "x", true));

	/* Refused, naming the rule. */
	static const char *const bad[] = { ". /etc/rules", ": .filter", "merge x", "dir-merge x", "!", "clear",
					   "-/ /etc/passwd", "-x user.foo", "-C", "Hs x", "- ", "-", "x foo", "-!,p */",
					   "+foo" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		e = (kb_error){ 0 };
		assert_int_equal(filter_add(&l, bad[i], "x", &e), -EINVAL);
		assert_contains(e.msg, bad[i]);
	}
	assert_int_equal(l.n, 7);
	filter_list_free(&l);
}

static void test_match(void **state)
{
	(void)state;
	/* No "/" and no "**": the last component, at any depth. */
	assert_true(m("- *.o", "a/b/c.o", false));
	assert_true(m("- foo", "x/foo", true));
	assert_false(m("- foo", "foo/x", false));
	/* A trailing "/": directories only. */
	assert_true(m("- foo/", "a/foo", true));
	assert_false(m("- foo/", "a/foo", false));
	/* A leading "/": the whole path from the top. */
	assert_true(m("- /foo", "foo", false));
	assert_false(m("- /foo", "a/foo", false));
	assert_true(m("- /_output/", "_output", true));
	assert_false(m("- /_output/", "a/_output", true));
	/* A "/" inside: that many trailing components. */
	assert_true(m("- foo/bar", "x/foo/bar", false));
	assert_false(m("- foo/bar", "x/xfoo/bar", false));
	assert_true(m("- foo/*/bar", "foo/q/bar", false));
	assert_true(m("- foo/*/bar", "a/foo/q/bar", false));
	assert_false(m("- foo/*/bar", "foo/q/r/bar", false));
	/* "*" stays in a component, "**" does not, "?" is one character. */
	assert_true(m("- /src/*.c", "src/a.c", false));
	assert_false(m("- /src/*.c", "src/x/a.c", false));
	assert_true(m("- /foo/**/bar", "foo/x/y/bar", false));
	assert_false(m("- /foo/**/bar", "foo/bar", false));    /* "**" between two "/" wants one level */
	assert_true(m("- **/baz", "baz", false));              /* a leading "**" may match nothing */
	assert_true(m("- **/baz", "foo/bar/baz", false));
	assert_true(m("- d1/**/file.c", "x/d1/d2/file.c", false));
	assert_true(m("- /_output/dockerized/bin/**", "_output/dockerized/bin/linux/amd64/kubectl", false));
	assert_false(m("- /_output/dockerized/bin/**", "_output/dockerized/go/bin/x", false));
	assert_false(m("- /_output/dockerized/go/**", "_output/dockerized/go", true));
	assert_true(m("- ab?", "x/abc", false));
	assert_false(m("- ab?", "ab/c", false));
	/* "dir/" and "***": the directory and all below it. */
	assert_true(m("- d1/***", "d1", true));
	assert_false(m("- d1/***", "d1", false));
	assert_true(m("- d1/***", "d1/d2/f", false));
	assert_true(m("- /staging/***/Godeps/**", "staging/src/k8s.io/x/Godeps/Godeps.json", false));
	assert_false(m("- /staging/***/Godeps/**", "staging/Godeps/Godeps.json", false));
	/* Classes, ranges, negation, escapes. */
	assert_true(m("- a[b-c]?", "acd", false));
	assert_false(m("- a[b-c]?", "aad", false));
	assert_true(m("- [!a]*", "b.o", false));
	assert_false(m("- [!a]*", "abc", false));
	assert_true(m("- [^a]*", "b.o", false));
	assert_true(m("- [[:digit:]]*", "9lives", false));
	assert_false(m("- [[:digit:]]*", "lives9", false));
	assert_false(m("- [[:nosuch:]]*", "a", false));
	assert_true(m("- []a]", "]", false));
	assert_true(m("- weird\\[1]/", "weird[1]", true));    /* "[" made literal */
	assert_true(m("- star\\*", "star*", false));
	assert_false(m("- star\\*", "starx", false));
	assert_true(m("- a\\b", "a\\b", false));            /* no wildcard: the backslash is literal */
	/* "!": when the pattern does not match; with "/" on a file too. */
	assert_true(m("-! */", "a/file", false));
	assert_false(m("-! */", "a/dir", true));
}

static void test_order_and_sides(void **state)
{
	(void)state;
	/* First match wins: an include before the exclude keeps .c files. */
	const char *const c_only[] = { "+ */", "+ *.c", "- *", NULL };
	assert_int_equal(send_verdict(c_only, "src/a.c", false), 'i');
	assert_int_equal(send_verdict(c_only, "src/a.h", false), 'x');
	assert_int_equal(send_verdict(c_only, "src", true), 'i');
	const char *const late[] = { "- *", "+ *.c", NULL };
	assert_int_equal(send_verdict(late, "a.c", false), 'x');
	/* The 2017 copy-out: binaries and generated files come back, staging
	 * Godeps too, the top Godeps/Godeps.json not (only the directory is
	 * named). */
	const char *const out2017[] = { "- /_temp/", "+ /vendor/", "+ /Godeps/", "+ /staging/***/Godeps/**",
					"+ /_output/dockerized/bin/**", "+ zz_generated.*", "+ generated.proto",
					"+ *.pb.go", "+ types.go", "+ */", "- /**", NULL };
	assert_int_equal(send_verdict(out2017, "Godeps", true), 'i');
	assert_int_equal(send_verdict(out2017, "Godeps/Godeps.json", false), 'x');
	assert_int_equal(send_verdict(out2017, "staging/src/k8s.io/code-generator/Godeps/Godeps.json", false), 'i');
	assert_int_equal(send_verdict(out2017, "_output/dockerized/bin/linux/amd64/kubectl", false), 'i');
	assert_int_equal(send_verdict(out2017, "_temp", true), 'x');
	assert_int_equal(send_verdict(out2017, "pkg/apis/demo/v1/zz_generated.deepcopy.go", false), 'i');
	assert_int_equal(send_verdict(out2017, "pkg/apis/demo/v1/doc.go", false), 'x');

	/* Sides: H and S send-side only, P and R receive-side only. */
	filter_list l = { 0 };
	kb_error e = { 0 };
	assert_int_equal(filter_add(&l, "S types.go", "t", &e), 0);
	assert_int_equal(filter_add(&l, "H *.go", "t", &e), 0);
	assert_int_equal(filter_add(&l, "R a/*.o", "t", &e), 0);
	assert_int_equal(filter_add(&l, "P *.o", "t", &e), 0);
	assert_int_equal(filter_add(&l, "- /_output/", "t", &e), 0);
	assert_true(filter_hides(&l, "pkg/x.go", false));
	assert_false(filter_hides(&l, "pkg/types.go", false));
	assert_false(filter_protects(&l, "pkg/x.go", false));
	assert_true(filter_protects(&l, "b/x.o", false));
	assert_false(filter_protects(&l, "a/x.o", false));
	assert_false(filter_hides(&l, "b/x.o", false));
	assert_true(filter_hides(&l, "_output", true) && filter_protects(&l, "_output", true));
	filter_list_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_order_and_sides),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
