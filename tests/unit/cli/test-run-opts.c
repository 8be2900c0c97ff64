/* The options of make, run and shell (cli/cmd-run.c): make's own scan
 * takes our leading options and leaves make's arguments whole; mistakes
 * that make could only answer with its usage get a line of our own. */
#include "unit.h"
#include "cli/cmd.h"

/* A writable argv, as a program gets one (--bind is split in place).
 * The copies live until the group's teardown frees them. */
static char **copies[64];
static size_t n_copies;

static char **dupv(char **v)
{
	size_t n = 0;
	while (v[n])
		n++;
	char **d = calloc(n + 1, sizeof *d);
	assert_non_null(d);
	assert_true(n_copies < ARRAY_SIZE(copies));
	for (size_t i = 0; i < n; i++)
		d[i] = xstrdup(v[i]);
	return copies[n_copies++] = d;
}

static int free_copies(void **state)
{
	(void)state;
	for (size_t i = 0; i < n_copies; i++) {
		for (size_t k = 0; copies[i][k]; k++)
			free(copies[i][k]);
		free(copies[i]);
	}
	n_copies = 0;
	return 0;
}
#define ARGV(...) dupv((char *[]){ __VA_ARGS__, NULL })

static int argc_of(char **v)
{
	int n = 0;
	while (v[n])
		n++;
	return n;
}

static int parse_make(char **argv, int argc, run_opts *o, kb_error *e)
{
	*e = (kb_error){ 0 };
	return make_parse(o, argc, argv, e);
}

/* o->argv, joined with "|". */
static char *joined(const run_opts *o)
{
	char *s = xstrdup("");
	for (size_t i = 0; o->argv && o->argv[i]; i++) {
		char *n = xasprintf("%s%s%s", s, i ? "|" : "", o->argv[i]);
		free(s);
		s = n;
	}
	return s;
}

static void expect_make(char **argv, int argc, const char *want)
{
	run_opts o;
	kb_error e;
	if (parse_make(argv, argc, &o, &e) < 0)
		fail_msg("make_parse: %s", e.msg);
	char *got = joined(&o);
	assert_string_equal(got, want);
	free(got);
	run_opts_free(&o);
}

static void test_make_args(void **state)
{
	(void)state;
	/* The first word that is not ours starts make's arguments. */
	char **a1 = ARGV("make", "-j4", "cross");
	expect_make(a1, 3, "make|-j4|cross");
	char **a2 = ARGV("make");
	expect_make(a2, 1, "make");
	/* make's own long options are not ours; neither is what follows
	 * (but see test_make_mistakes: ours there is refused, not passed). */
	char **a3 = ARGV("make", "--keep-going", "--", "--image", "x");
	expect_make(a3, 5, "make|--keep-going|--|--image|x");
	/* "--" ends ours; empty arguments survive (no upstream truncation). */
	char **a4 = ARGV("make", "--no-wait", "--", "--image", "", "WHAT=cmd/x");
	expect_make(a4, 6, "make|--image||WHAT=cmd/x");
}

static void test_make_options(void **state)
{
	(void)state;
	run_opts o;
	kb_error e;
	char **a = ARGV("make", "--image", "img:1", "-e", "A=1", "--network=host", "--bind", "/x:/y:ro",
			"--user", "host", "--source", "bind", "--no-copy-output", "--seccomp=unconfined", "all");
	assert_int_equal(parse_make(a, argc_of(a), &o, &e), 0);
	assert_string_equal(o.b.image, "img:1");
	assert_int_equal(o.b.n_envs, 1);
	assert_string_equal(o.b.envs[0], "A=1");
	assert_true(o.b.net_host && o.b.user_host && o.b.bind_source && o.b.no_copy && o.b.no_seccomp);
	assert_int_equal(o.b.n_binds, 1);
	assert_string_equal(o.b.binds[0].src, "/x");
	assert_string_equal(o.b.binds[0].dst, "/y");
	assert_true(o.b.binds[0].ro);
	char *got = joined(&o);
	assert_string_equal(got, "make|all");
	free(got);
	run_opts_free(&o);

	char **h = ARGV("make", "--help", "all");
	assert_int_equal(parse_make(h, 3, &o, &e), 0);
	assert_true(o.help);
	run_opts_free(&o);
}

static void expect_make_error(char **argv, int argc, const char *msg)
{
	run_opts o;
	kb_error e;
	assert_int_equal(parse_make(argv, argc, &o, &e), -EINVAL);
	assert_contains(e.msg, msg);
	run_opts_free(&o);
}

static void test_make_errors(void **state)
{
	(void)state;
	char **a1 = ARGV("make", "-e");
	expect_make_error(a1, 2, "option -e: missing its argument");
	char **a2 = ARGV("make", "--image");
	expect_make_error(a2, 2, "option --image: missing its argument");
	char **a3 = ARGV("make", "--no-wait=yes");
	expect_make_error(a3, 2, "option --no-wait: takes no argument");
	char **a4 = ARGV("make", "--network", "bridge");
	expect_make_error(a4, 3, "--network bridge: must be none or host");
	char **a5 = ARGV("make", "--bind", "relative:dst");
	expect_make_error(a5, 3, "--bind: expected SRC:DST[:ro]");
	char **a6 = ARGV("make", "--seccomp", "default");
	expect_make_error(a6, 3, "only \"unconfined\"");
}

/* The words after `make` that make has no option for, and that look like
 * a mistake: a global option out of place, one of ours mistyped or after
 * make's arguments.  make's own options, whole or abbreviated, and -q,
 * -v, -C (make's too: question mode, version, directory) go to make. */
static void test_make_mistakes(void **state)
{
	(void)state;
	char **a1 = ARGV("make", "--imag", "x", "all");
	expect_make_error(a1, 4, "unknown option --imag: did you mean --image?");
	char **a2 = ARGV("make", "--imgae=x");
	expect_make_error(a2, 2, "unknown option --imgae: did you mean --image?");
	char **a3 = ARGV("make", "--no-wiat");
	expect_make_error(a3, 2, "did you mean --no-wait?");
	char **a4 = ARGV("make", "--no-copy");
	expect_make_error(a4, 2, "did you mean --no-copy-output?");
	char **a5 = ARGV("make", "--sorce", "bind");
	expect_make_error(a5, 3, "did you mean --source?");
	char **a6 = ARGV("make", "all", "--image", "x");
	expect_make_error(a6, 4, "--image must come before make's arguments");
	char **a7 = ARGV("make", "all", "--netwrk=host");
	expect_make_error(a7, 3, "did you mean --network? (kbuild-ns's options go before make's arguments)");
	char **a8 = ARGV("make", "--state-dir", "/s", "all");
	expect_make_error(a8, 4, "--state-dir is a global option: put it before the command");
	char **a9 = ARGV("make", "all", "--verbose");
	expect_make_error(a9, 3, "--verbose is a global option");

	/* make's, untouched. */
	char **b1 = ARGV("make", "-q", "all");
	expect_make(b1, 3, "make|-q|all");
	char **b2 = ARGV("make", "-v");
	expect_make(b2, 2, "make|-v");
	char **b3 = ARGV("make", "-C", "sub", "--quiet", "--jobs=4", "--keep", "--dry-run");
	expect_make(b3, 7, "make|-C|sub|--quiet|--jobs=4|--keep|--dry-run");
	/* --env is ours; after make's arguments it is make's --environment-overrides. */
	char **b4 = ARGV("make", "all", "--env", "--version", "--e");
	expect_make(b4, 5, "make|all|--env|--version|--e");
	/* Far from any of ours: make's to refuse. */
	char **b5 = ARGV("make", "--frobnicate");
	expect_make(b5, 2, "make|--frobnicate");
	/* After an explicit "--", nothing is looked at. */
	char **b6 = ARGV("make", "--", "--imag", "--state-dir");
	expect_make(b6, 4, "make|--imag|--state-dir");
	char **b7 = ARGV("make", "all", "--", "--image");
	expect_make(b7, 4, "make|all|--|--image");
}

static void test_run_mistakes(void **state)
{
	(void)state;
	run_opts o;
	kb_error e = { 0 };
	char **a = ARGV("run", "--imgae", "x", "ls");
	assert_int_equal(run_parse(&o, "run", 4, a, &e), -EINVAL);
	assert_contains(e.msg, "run: unknown option --imgae: did you mean --image?");
	e = (kb_error){ 0 };
	char **b = ARGV("shell", "-q");
	assert_int_equal(run_parse(&o, "shell", 2, b, &e), -EINVAL);
	assert_contains(e.msg, "-q is a global option: put it before the command (kbuild-ns -q shell ...)");
	e = (kb_error){ 0 };
	char **c = ARGV("run", "-vv", "ls");
	assert_int_equal(run_parse(&o, "run", 3, c, &e), -EINVAL);
	assert_contains(e.msg, "-vv is a global option");
	e = (kb_error){ 0 };
	char **d = ARGV("run", "--state-dir=/x", "ls");
	assert_int_equal(run_parse(&o, "run", 3, d, &e), -EINVAL);
	assert_contains(e.msg, "--state-dir is a global option: put it before the command (kbuild-ns --state-dir DIR run");
	/* The command's own options are its own. */
	char **f = ARGV("run", "ls", "-q", "--imag");
	assert_int_equal(run_parse(&o, "run", 4, f, &e), 0);
}

static void test_run_and_shell(void **state)
{
	(void)state;
	run_opts o;
	kb_error e = { 0 };
	char **a = ARGV("run", "--image", "i", "--", "sh", "-c", "exit 7");
	assert_int_equal(run_parse(&o, "run", 6, a, &e), 0);
	assert_string_equal(o.argv[0], "sh");
	assert_string_equal(o.argv[2], "exit 7");
	assert_false(o.b.shell);
	/* Options stop at the command: its -e is its own. */
	char **b = ARGV("run", "grep", "-e", "x");
	assert_int_equal(run_parse(&o, "run", 4, b, &e), 0);
	assert_int_equal(o.b.n_envs, 0);
	char **c = ARGV("run");
	assert_int_equal(run_parse(&o, "run", 1, c, &e), -EINVAL);
	assert_contains(e.msg, "no command given");
	e = (kb_error){ 0 };
	char **d = ARGV("shell");
	assert_int_equal(run_parse(&o, "shell", 1, d, &e), 0);
	assert_true(o.b.shell);
	assert_null(o.argv);
	char **f = ARGV("shell", "ls");
	assert_int_equal(run_parse(&o, "shell", 2, f, &e), -EINVAL);
	assert_contains(e.msg, "takes no command");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_make_args),
		cmocka_unit_test(test_make_options),
		cmocka_unit_test(test_make_errors),
		cmocka_unit_test(test_make_mistakes),
		cmocka_unit_test(test_run_mistakes),
		cmocka_unit_test(test_run_and_shell),
	};
	return cmocka_run_group_tests(tests, NULL, free_copies);
}
