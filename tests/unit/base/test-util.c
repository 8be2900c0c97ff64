/* The fd-relative helpers of base/util.c: those that guard the host, rm_rf_at
 * (never follows a symlink, opens read-only directories, and removes
 * trees of any depth with a few fds) and the chmod helpers (never change
 * what a symlink points to, even one swapped in after a check); and the
 * two the state's records rest on, write_file_replace and ctime_past.
 *
 * Linked with -Wl,--wrap=fstatat: a test can arm __wrap_fstatat to swap
 * a directory for a symlink right after the code under test looked at
 * it, the race a build or a second process could win. */
#include "unit.h"

#include <limits.h>
#include <sys/resource.h>

/* ---- the swap ---- */

int __real_fstatat(int dirfd, const char *path, struct stat *st, int flags);

static struct {
	const char *name;           /* the entry to swap after its stat, or NULL */
	int dirfd;
	const char *target;         /* what the symlink then points to */
	bool done;
} swap;

int __wrap_fstatat(int dirfd, const char *path, struct stat *st, int flags);
int __wrap_fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
	int r = __real_fstatat(dirfd, path, st, flags);
	if (r == 0 && swap.name && !swap.done && dirfd == swap.dirfd && !strcmp(path, swap.name)) {
		swap.done = true;
		/* The directory the caller just saw becomes a symlink. */
		if (unlinkat(dirfd, path, AT_REMOVEDIR) == 0)
			(void)symlinkat(swap.target, dirfd, path);
	}
	return r;
}

static mode_t mode_of(const char *dir, const char *name)
{
	char p[4096];
	struct stat st;
	snprintf(p, sizeof p, "%s/%s", dir, name);
	assert_int_equal(lstat(p, &st), 0);
	return st.st_mode & 07777;
}

/* rm_rf_at looks at a read-only directory (it must open it up), and in
 * that moment it becomes a symlink to a read-only directory elsewhere: the
 * directory elsewhere keeps its mode, and stays. */
static void test_rm_swap_never_chmods_through(void **state)
{
	(void)state;
	char *t = tmpdir_new();
	int fd = open(t, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(mkdirat(fd, "outside", 0500), 0);
	assert_int_equal(mkdirat(fd, "victim", 0500), 0);
	swap.name = "victim";
	swap.dirfd = fd;
	swap.target = "outside";
	swap.done = false;
	(void)rm_rf_at(fd, "victim");
	swap.name = NULL;
	assert_int_equal(mode_of(t, "outside"), 0500);
	close(fd);
	assert_int_equal(chmod_nofollow_at(AT_FDCWD, t, 0700), 0);
	tmpdir_free(t);
}

/* chmod_nofollow_at refuses a symlink and changes a directory of mode
 * 0000 (which cannot even be opened for reading). */
static void test_chmod_nofollow(void **state)
{
	(void)state;
	char *t = tmpdir_new();
	int fd = open(t, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(mkdirat(fd, "target", 0500), 0);
	assert_int_equal(symlinkat("target", fd, "link"), 0);
	assert_int_equal(chmod_nofollow_at(fd, "link", 0777), -ELOOP);
	assert_int_equal(mode_of(t, "target"), 0500);
	assert_int_equal(mkdirat(fd, "closed", 0), 0);
	assert_int_equal(chmod_nofollow_at(fd, "closed", 0750), 0);
	assert_int_equal(mode_of(t, "closed"), 0750);
	assert_int_equal(chmod_nofollow_at(fd, "absent", 0750), -ENOENT);
	close(fd);
	tmpdir_free(t);
}

/* Read-only and closed directories, files of every mode, and symlinks
 * to a directory outside (which is not entered, and stays whole). */
static void test_rm_keeps_outside(void **state)
{
	(void)state;
	char *t = tmpdir_new();
	assert_int_equal(run("set -e; cd %s; mkdir -p outside/keep tree/a/b tree/c/d;"
			     "echo x >outside/keep/f; echo y >tree/a/b/f; chmod 000 tree/a/b/f;"
			     "ln -s ../../outside tree/a/out; ln -s %s/outside/keep tree/c/abs;"
			     "chmod 555 tree/a/b; chmod 000 tree/c/d; chmod 500 tree/a; chmod 555 outside", t, t), 0);
	int fd = open(t, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(rm_rf_at(fd, "tree"), 0);
	assert_int_equal(faccessat(fd, "tree", F_OK, AT_SYMLINK_NOFOLLOW), -1);
	assert_int_equal(faccessat(fd, "outside/keep/f", F_OK, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(mode_of(t, "outside"), 0555);
	/* A symlink itself is removed, not what it points to. */
	assert_int_equal(symlinkat("outside", fd, "ln"), 0);
	assert_int_equal(rm_rf_at(fd, "ln"), 0);
	assert_int_equal(faccessat(fd, "outside/keep/f", F_OK, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(rm_rf_at(fd, "absent"), 0);
	close(fd);
	tmpdir_free(t);
}

/* A chain of depth directories below dirfd/name (some read-only), with a
 * file at the bottom; built by fd, one level at a time. */
static void make_chain(int dirfd, const char *name, int depth)
{
	assert_int_equal(mkdirat(dirfd, name, 0755), 0);
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	for (int i = 0; i < depth; i++) {
		assert_int_equal(mkdirat(fd, "d", 0755), 0);
		int next = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		assert_true(next >= 0);
		if (i % 100 == 50)
			assert_int_equal(fchmod(fd, 0555), 0);
		close(fd);
		fd = next;
	}
	write_at(fd, "bottom", "b", 0);
	close(fd);
}

/* 1500 levels with only 64 fds allowed: the removal succeeds.  (A
 * recursion holding an fd per level stops with EMFILE.) */
static void test_rm_deep_few_fds(void **state)
{
	(void)state;
	char *t = tmpdir_new();
	int fd = open(t, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	make_chain(fd, "deep", 1500);
	struct rlimit old, low;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = 64;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	int r = rm_rf_at(fd, "deep");
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_int_equal(r, 0);
	assert_int_equal(faccessat(fd, "deep", F_OK, AT_SYMLINK_NOFOLLOW), -1);
	close(fd);
	tmpdir_free(t);
}

/* A wide directory: many subdirectories, each listed once. */
static void test_rm_wide(void **state)
{
	(void)state;
	char *t = tmpdir_new();
	assert_int_equal(run("set -e; cd %s; mkdir w; cd w; for i in $(seq 300); do mkdir -p d$i/x; "
			     "echo $i >d$i/x/f; done", t), 0);
	int fd = open(t, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(rm_rf_at(fd, "w"), 0);
	assert_int_equal(faccessat(fd, "w", F_OK, AT_SYMLINK_NOFOLLOW), -1);
	close(fd);
	tmpdir_free(t);
}

/* File times order by seconds, then nanoseconds (a same-second pair is
 * where the sync mark and the version walk decide). */
static void test_ts_cmp(void **state)
{
	(void)state;
	struct timespec a = { 10, 500 }, b = { 10, 499 }, c = { 9, 999999999 }, d = { 10, 500 };
	assert_true(ts_cmp(&a, &b) > 0);
	assert_true(ts_cmp(&b, &a) < 0);
	assert_true(ts_cmp(&c, &b) < 0);
	assert_true(ts_cmp(&a, &c) > 0);
	assert_int_equal(ts_cmp(&a, &d), 0);
}

static int touch_chmod(int fd, void *arg)
{
	(void)arg;
	return fchmod(fd, 0644);
}

static int touch_none(int fd, void *arg)
{
	(void)fd;
	(void)arg;
	return 0;
}

static int touch_fails(int fd, void *arg)
{
	(void)fd;
	(void)arg;
	errno = EPERM;
	return -1;
}

/* ctime_past gives a ctime later than one handed out just before to
 * another file: a single touch may get the very same one (the coarse
 * floor both come from).  A touch that changes nothing never moves it
 * (-ETIME, after its second of tries); a failing touch says why. */
static void test_ctime_past(void **state)
{
	(void)state;
	char *t = tmpdir_new();
	int dfd = open(t, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	int a = openat(dfd, "a", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	int b = openat(dfd, "b", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(a >= 0 && b >= 0);
	struct stat sb;
	struct timespec got;
	for (int i = 0; i < 20; i++) {
		assert_int_equal(fchmod(b, 0644), 0);
		assert_int_equal(fstat(b, &sb), 0);
		assert_int_equal(ctime_past(a, touch_chmod, NULL, &got), 0);
		assert_true(ts_cmp(&got, &sb.st_ctim) > 0);
	}
	assert_int_equal(ctime_past(a, touch_fails, NULL, &got), -EPERM);
	assert_int_equal(ctime_past(a, touch_none, NULL, &got), -ETIME);
	close(a);
	close(b);
	close(dfd);
	tmpdir_free(t);
}

/* write_file_replace: the pieces one after the other, the old file
 * replaced, no temporary name left, also when the rename fails; a name
 * too long for a temporary name is refused before anything is made. */
static void test_write_file_replace(void **state)
{
	(void)state;
	char *t = tmpdir_new();
	int dfd = open(t, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	struct iovec iov[2] = { { "head,", 5 }, { "body", 4 } };
	assert_int_equal(run("echo old >%s/f && mkdir %s/d", t, t), 0);
	assert_int_equal(write_file_replace(dfd, "f", iov, 2), 0);
	assert_int_equal(run("[ \"$(cat %s/f)\" = head,body ] && [ ! -e %s/.f.tmp ]", t, t), 0);
	assert_int_equal(write_file_replace(dfd, "d", iov, 2), -EISDIR);
	assert_int_equal(run("[ -d %s/d ] && [ ! -e %s/.d.tmp ]", t, t), 0);
	char name[NAME_MAX];
	memset(name, 'n', sizeof name - 1);
	name[sizeof name - 1] = '\0';
	assert_int_equal(write_file_replace(dfd, name, iov, 2), -ENAMETOOLONG);
	assert_int_equal(run("[ $(ls -A %s | wc -l) = 2 ]", t), 0);
	close(dfd);
	tmpdir_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rm_swap_never_chmods_through),
		cmocka_unit_test(test_chmod_nofollow),
		cmocka_unit_test(test_rm_keeps_outside),
		cmocka_unit_test(test_ts_cmp),
		cmocka_unit_test(test_rm_deep_few_fds),
		cmocka_unit_test(test_rm_wide),
		cmocka_unit_test(test_ctime_past),
		cmocka_unit_test(test_write_file_replace),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
