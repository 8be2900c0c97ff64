/* The tree sync (sync.c; its filter engine is test-filter.c's): sync-in
 * mirrors exactly, keeps excluded paths, replaces changed kinds; copy-out
 * brings back only what the rules name, with fixed modes, and deletes
 * nothing. */
#include "unit.h"
#include "build/profile.h"
#include "build/sync.h"

#include <sys/time.h>

/* A small tree: files of two modes, a symlink, a deep dir, a read-only
 * dir, and top-level _output/_tmp that must be filtered. */
static void make_tree(const char *t)
{
	assert_int_equal(run("set -e; cd %s; mkdir -p src/a/b/c _output/x _tmp ro .git;"
			     "echo one > src/a/f; echo exe > src/a/b/tool; chmod 755 src/a/b/tool;"
			     "echo secret > src/a/p; chmod 600 src/a/p; ln -s ../a/f src/a/b/c/link;"
			     "echo r > ro/r; chmod 555 ro; echo out > _output/x/o; echo tmp > _tmp/t;"
			     "echo ref > .git/HEAD; touch -d '2001-02-03 04:05:06' src/a/f", t), 0);
}

static int sync_dirs(const char *src, const char *dst, bool out, sync_stats *st)
{
	int sfd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC), dfd = open(dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(sfd >= 0 && dfd >= 0);
	kb_profile *p = NULL;
	kb_error e = { 0 };
	assert_int_equal(profile_builtin("kube", false, &p, &e), 0);
	sync_opts o = { .rules = &p->rules, .threads = 3 };
	int r = out ? sync_copy_out(sfd, dfd, &o, st, &e) : sync_mirror(sfd, dfd, &o, st, &e);
	if (r < 0)
		print_message("# sync: %s\n", e.msg);
	profile_free(p);
	close(sfd);
	close(dfd);
	return r;
}

static void test_mirror(void **state)
{
	(void)state;
	char *t = tmpdir_new();
	char src[256], dst[256];
	sync_stats st;
	snprintf(src, sizeof src, "%s/src", t);
	snprintf(dst, sizeof dst, "%s/dst", t);
	assert_int_equal(run("mkdir %s %s", src, dst), 0);
	make_tree(src);
	/* The snapshot's own _output (the build's) and junk outside it. */
	assert_int_equal(run("mkdir -p %s/_output/keep && echo k > %s/_output/keep/k && echo j > %s/junk", dst, dst, dst), 0);

	assert_int_equal(sync_dirs(src, dst, false, &st), 0);
	assert_int_equal(st.deleted, 1);
	/* Same as rsync -a --delete with the classic filters would make. */
	assert_int_equal(run("cd %s && for f in src/a/f src/a/b/tool src/a/p ro/r .git/HEAD; do "
			     "[ \"$(stat -c '%%a %%s %%Y' $f)\" = \"$(stat -c '%%a %%s %%Y' %s/$f)\" ] || exit 1; done", src, dst), 0);
	assert_int_equal(run("[ \"$(readlink %s/src/a/b/c/link)\" = ../a/f ]", dst), 0);
	assert_int_equal(run("[ \"$(stat -c %%a %s/ro)\" = 555 ]", dst), 0);
	assert_int_equal(run("[ ! -e %s/junk ] && [ ! -e %s/_tmp ] && [ ! -e %s/_output/x ] && [ -f %s/_output/keep/k ]",
			     dst, dst, dst, dst), 0);

	/* No change: nothing copied. */
	assert_int_equal(sync_dirs(src, dst, false, &st), 0);
	assert_int_equal(st.copied, 0);
	assert_int_equal(st.deleted, 0);

	/* A changed file, a kind change (file -> dir), a deletion, and a
	 * new file in a read-only directory. */
	assert_int_equal(run("cd %s && echo two >> src/a/f && rm src/a/p && mkdir src/a/p && echo in > src/a/p/in &&"
			     " rm src/a/b/tool && chmod 755 ro && echo n > ro/new && chmod 555 ro", src), 0);
	assert_int_equal(sync_dirs(src, dst, false, &st), 0);
	assert_int_equal(run("diff -r --no-dereference %s/src %s/src && [ -f %s/ro/new ] && [ ! -e %s/src/a/b/tool ]", src, dst, dst, dst), 0);
	assert_int_equal(run("chmod -R u+w %s %s", src, dst), 0);
	tmpdir_free(t);
}

static void test_copy_out(void **state)
{
	(void)state;
	char *t = tmpdir_new();
	char snap[256], co[256];
	sync_stats st;
	snprintf(snap, sizeof snap, "%s/snap", t);
	snprintf(co, sizeof co, "%s/co", t);
	assert_int_equal(run("set -e; mkdir -p %s/co/build/build-image/cross %s/co/_output/dockerized/bin/linux/amd64;"
			     "echo v1 > %s/co/build/build-image/cross/VERSION; echo host > %s/co/_output/dockerized/bin/linux/amd64/stale",
			     t, t, t, t), 0);
	assert_int_equal(run("set -e; cd %s; mkdir -p snap/_output/dockerized/bin/linux/amd64 snap/_output/dockerized/go/cache "
			     "snap/pkg/apis snap/empty/dir snap/other; echo bin > snap/_output/dockerized/bin/linux/amd64/kubectl;"
			     "chmod 700 snap/_output/dockerized/bin/linux/amd64/kubectl; echo c > snap/_output/dockerized/go/cache/x;"
			     "echo g > snap/pkg/apis/zz_generated.deepcopy.go; chmod 600 snap/pkg/apis/zz_generated.deepcopy.go;"
			     "echo t > snap/pkg/apis/types.go; echo no > snap/other/README; echo p > snap/pkg/a.pb.go", t), 0);
	assert_int_equal(sync_dirs(snap, co, true, &st), 0);
	assert_int_equal(run("cd %s && [ \"$(stat -c %%a _output/dockerized/bin/linux/amd64/kubectl)\" = 755 ] &&"
			     " [ \"$(stat -c %%a pkg/apis/zz_generated.deepcopy.go)\" = 644 ] && [ -f pkg/apis/types.go ] &&"
			     " [ -f pkg/a.pb.go ] && [ -f _output/dockerized/bin/linux/amd64/stale ]", co), 0);
	assert_int_equal(run("cd %s && [ ! -e _output/dockerized/go ] && [ ! -e other ] && [ ! -e empty ]", co), 0);
	assert_int_equal(st.copied, 4);
	assert_int_equal(sync_dirs(snap, co, true, &st), 0);
	assert_int_equal(st.copied, 0);
	/* A file on the host where the build has a directory's worth: the
	 * host's file stays. */
	assert_int_equal(run("cd %s && rm -r pkg && echo mine > pkg", co), 0);
	assert_int_equal(sync_dirs(snap, co, true, &st), 0);
	assert_int_equal(run("[ \"$(cat %s/pkg)\" = mine ]", co), 0);
	assert_true(st.skipped >= 1);
	tmpdir_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mirror),
		cmocka_unit_test(test_copy_out),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
