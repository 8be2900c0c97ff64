/* The data sandbox's state (build/data.c): key and version, the
 * directories, the id-mapping and crash marks that reset the layer, the
 * ready mark, the record, the lock and the removal of states. */
#include "unit.h"
#include "build/data.h"

#include <sys/file.h>

typedef struct fixture {
	char *state;
	kb_profile prof;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof *f);
	assert_non_null(f);
	f->state = tmpdir_new();
	f->prof = (kb_profile){ .checkout = "/src/k8s", .branch = "main", .cross_tag = "v1.0.0-go1.19-bookworm.0",
				.base_version = "5", .name = "kube", .kube = true };
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	tmpdir_free(f->state);
	free(f);
	return 0;
}

static kb_data *open_data(fixture *f, bool create)
{
	kb_data *d = NULL;
	kb_error e = { 0 };
	if (data_open(f->state, &f->prof, create, &d, &e) < 0)
		fail_msg("data_open: %s", e.msg);
	return d;
}

static bool exists(const kb_data *d, const char *name)
{
	return faccessat(d->dirfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

static void prepare(kb_data *d, const char *idmap, bool want_reset)
{
	kb_error e = { 0 };
	bool reset = !want_reset;
	if (data_prepare(d, idmap, &reset, &e) < 0)
		fail_msg("data_prepare: %s", e.msg);
	assert_int_equal(reset, want_reset);
}

static void test_key_version(void **state)
{
	fixture *f = *state;
	char key[11], want[11];

	/* md5("$HOSTNAME:<checkout>:<branch>"), as build/common.sh. */
	setenv("HOSTNAME", "builder", 1);
	data_key("builder:/src/k8s:main", want, 10);
	kb_data *d = open_data(f, false);
	assert_string_equal(d->key, want);
	assert_string_equal(d->version, "s1-5-v1.0.0-go1.19-bookworm.0");
	assert_int_equal(d->dirfd, -1);    /* not made without create */
	char *dir = xasprintf("%s/projects/%s-%s", f->state, want, d->version);
	assert_string_equal(d->dir, dir);
	free(dir);
	data_free(d);

	/* Another branch, another key; a generic checkout's version. */
	f->prof.branch = "other";
	f->prof.cross_tag = f->prof.base_version = NULL;
	d = open_data(f, true);
	data_key("builder:/src/k8s:other", key, 10);
	assert_string_equal(d->key, key);
	assert_string_not_equal(d->key, want);
	assert_string_equal(d->version, "s1-generic");
	assert_true(d->dirfd >= 0);
	data_free(d);
}

static void test_prepare_and_ready(void **state)
{
	fixture *f = *state;
	kb_error e = { 0 };
	kb_data *d = open_data(f, true);

	prepare(d, "single", false);
	assert_true(exists(d, "upper") && exists(d, "work") && exists(d, "root") && exists(d, "snapshot"));
	assert_true(exists(d, "in-use"));
	char *idmap = data_read_idmap(d);
	assert_string_equal(idmap, "single");
	free(idmap);
	assert_false(data_ready(d));
	assert_false(data_ready_for(d, "kube"));
	assert_int_equal(data_mark_ready(d, "kube", &e), 0);
	assert_true(data_ready(d));
	/* Ready for what the mark says only: a Dockerfile's steps changed. */
	assert_true(data_ready_for(d, "kube"));
	assert_false(data_ready_for(d, "kube dockerfile 0123"));
	assert_int_equal(data_mark_ready(d, "kube dockerfile 0123", &e), 0);
	assert_true(data_ready_for(d, "kube dockerfile 0123"));
	assert_false(data_ready_for(d, "kube"));
	assert_int_equal(data_mark_ready(d, "kube", &e), 0);

	/* The same mapping again: nothing is reset. */
	write_at(d->dirfd, "upper/kept", "x", 0);
	prepare(d, "single", false);
	assert_true(exists(d, "upper/kept") && data_ready(d));
	/* --user host fits any layer. */
	prepare(d, "", false);
	assert_true(exists(d, "upper/kept"));

	/* Another mapping: the layer's files belong to other ids, reset. */
	prepare(d, "range:100000:65536", true);
	assert_false(exists(d, "upper/kept"));
	assert_false(data_ready(d));
	idmap = data_read_idmap(d);
	assert_string_equal(idmap, "range:100000:65536");
	free(idmap);

	/* data_reset empties the layer and drops the ready mark first. */
	write_at(d->dirfd, "upper/again", "x", 0);
	assert_int_equal(data_mark_ready(d, "kube", &e), 0);
	assert_int_equal(data_reset(d, &e), 0);
	assert_false(exists(d, "upper/again") || data_ready(d));
	assert_true(exists(d, "upper") && exists(d, "work"));
	data_free(d);
}

/* The kernel's volatile mark left in work/ means a sandbox did not end
 * cleanly: with our in-use mark from another boot, the host crashed
 * during a run (reset); from this boot, kbuild-ns was killed (keep). */
static void test_crash_marks(void **state)
{
	fixture *f = *state;
	kb_data *d = open_data(f, true);

	prepare(d, "single", false);
	write_at(d->dirfd, "upper/kept", "x", 0);
	assert_int_equal(run("mkdir -p %s/work/work/incompat/volatile", d->dir), 0);
	prepare(d, "single", false);
	assert_true(exists(d, "upper/kept"));
	assert_false(exists(d, "work/work/incompat"));    /* removed: it would block the mount */

	assert_int_equal(run("mkdir -p %s/work/work/incompat/volatile", d->dir), 0);
	write_at(d->dirfd, "in-use", "0000-another-boot", 0);
	prepare(d, "single", true);
	assert_false(exists(d, "upper/kept"));
	assert_false(exists(d, "work/work/incompat"));

	/* No kernel mark: another boot's in-use alone resets nothing. */
	write_at(d->dirfd, "upper/kept", "x", 0);
	write_at(d->dirfd, "in-use", "0000-another-boot", 0);
	prepare(d, "single", false);
	assert_true(exists(d, "upper/kept"));
	data_done(d);
	data_free(d);
}

static void test_meta(void **state)
{
	fixture *f = *state;
	kb_error e = { 0 };
	kb_data *d = open_data(f, true);

	assert_null(data_read_meta(d));
	assert_int_equal(data_write_meta(d, &f->prof, "kube-cross:x", "abc", "make all", 2, &e), 0);
	json_t *m = data_read_meta(d);
	assert_non_null(m);
	assert_string_equal(json_string_value(json_object_get(m, "last_command")), "make all");
	assert_int_equal(json_integer_value(json_object_get(m, "last_status")), 2);
	assert_string_equal(json_string_value(json_object_get(m, "checkout")), "/src/k8s");
	json_decref(m);
	assert_false(exists(d, ".meta.json.tmp"));
	data_free(d);
}

static void test_lock(void **state)
{
	fixture *f = *state;
	kb_error e = { 0 };
	kb_data *a = open_data(f, true), *b = open_data(f, true);

	assert_int_equal(data_lock_holder(a), 0);
	assert_int_equal(data_lock(a, false, NULL, &e), 0);
	assert_int_equal(data_lock_holder(b), getpid());
	/* flock locks belong to the open file: a second open conflicts. */
	assert_int_equal(data_lock(b, false, NULL, &e), -EBUSY);
	assert_contains(e.msg, "in use by another kbuild-ns");
	data_free(a);
	assert_int_equal(data_lock_holder(b), 0);
	data_free(b);
}

static void test_remove_states(void **state)
{
	fixture *f = *state;
	kb_error e = { 0 };
	size_t n = 9;

	kb_data *mine = open_data(f, true);
	f->prof.cross_tag = "v2";    /* a second version of the same key */
	kb_data *v2 = open_data(f, true);
	/* A new version drops the others at open: it is already gone. */
	assert_int_equal(access(mine->dir, F_OK), -1);
	f->prof.checkout = "/src/other";
	kb_data *other = open_data(f, true);

	/* In use: left, and reported. */
	assert_int_equal(data_lock(v2, false, NULL, &e), 0);
	assert_int_equal(data_remove_states(f->state, v2->key, false, &n, &e), -EBUSY);
	assert_int_equal(n, 0);
	assert_contains(e.msg, "in use by a running kbuild-ns");
	data_free(v2);
	e = (kb_error){ 0 };
	assert_int_equal(data_remove_states(f->state, mine->key, false, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_int_equal(access(other->dir, F_OK), 0);    /* another checkout's */
	assert_int_equal(data_remove_states(f->state, NULL, true, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_int_equal(access(other->dir, F_OK), -1);
	data_free(other);
	data_free(mine);
}

/* clean checks every lock before it removes anything: with one state in
 * use, none goes; claimed states keep their locks until removed, so a
 * run that waited for one finds it gone and says so. */
static void test_claim_states(void **state)
{
	fixture *f = *state;
	kb_error e = { 0 };
	data_states *s = NULL;
	size_t n = 9;

	kb_data *a = open_data(f, true);
	f->prof.checkout = "/src/other";
	kb_data *b = open_data(f, true);
	assert_int_equal(data_lock(b, false, NULL, &e), 0);
	assert_int_equal(data_claim_states(f->state, NULL, true, &s, &e), -EBUSY);
	assert_null(s);
	assert_contains(e.msg, b->dir);
	assert_int_equal(access(a->dir, F_OK), 0);    /* not in use, but kept */
	data_free(b);

	e = (kb_error){ 0 };
	assert_int_equal(data_claim_states(f->state, NULL, true, &s, &e), 0);
	assert_int_equal(data_states_count(s), 2);
	b = open_data(f, true);
	assert_int_equal(data_lock(b, false, NULL, &e), -EBUSY);    /* claimed */
	e = (kb_error){ 0 };
	assert_int_equal(data_remove_claimed(s, &n, &e), 0);
	assert_int_equal(n, 2);
	assert_int_equal(access(a->dir, F_OK), -1);
	data_free(b);
	data_states_free(s);
	data_free(a);
}

/* A release's state (DATA_FORMAT_RELEASE) lives beside make's: neither
 * drops the other, a new version drops only its own kind, clean removes
 * both, and data_clear empties the layer and the snapshot. */
static void test_release_state(void **state)
{
	fixture *f = *state;
	kb_error e = { 0 };
	kb_data *rel = NULL, *rel2 = NULL;
	size_t n = 0;

	kb_data *make = open_data(f, true);
	assert_int_equal(data_open_as(f->state, &f->prof, DATA_FORMAT_RELEASE, true, &rel, &e), 0);
	assert_string_equal(rel->version, "r1-5-v1.0.0-go1.19-bookworm.0");
	assert_int_equal(access(make->dir, F_OK), 0);
	kb_data *again = open_data(f, true);    /* make's open leaves the release's */
	assert_int_equal(access(rel->dir, F_OK), 0);
	data_free(again);

	prepare(rel, "single", false);
	assert_int_equal(mkdirat(rel->dirfd, "snapshot/src", 0755), 0);
	assert_int_equal(mkdirat(rel->dirfd, "upper/etc", 0755), 0);
	assert_int_equal(data_mark_ready(rel, "kube", &e), 0);
	assert_int_equal(data_clear(rel, &e), 0);
	assert_false(data_ready(rel));
	assert_int_equal(faccessat(rel->dirfd, "snapshot/src", F_OK, 0), -1);
	assert_int_equal(faccessat(rel->dirfd, "upper/etc", F_OK, 0), -1);
	assert_int_equal(faccessat(rel->dirfd, "snapshot", F_OK, 0), 0);

	f->prof.cross_tag = "v2";    /* a new version: drops its own kind only */
	assert_int_equal(data_open_as(f->state, &f->prof, DATA_FORMAT_RELEASE, true, &rel2, &e), 0);
	assert_int_equal(access(rel->dir, F_OK), -1);
	assert_int_equal(access(make->dir, F_OK), 0);
	assert_int_equal(data_remove_states(f->state, make->key, false, &n, &e), 0);
	assert_int_equal(n, 2);
	data_free(rel2);
	data_free(rel);
	data_free(make);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_key_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prepare_and_ready, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_marks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_meta, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_states, setup, teardown),
		cmocka_unit_test_setup_teardown(test_claim_states, setup, teardown),
		cmocka_unit_test_setup_teardown(test_release_state, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
