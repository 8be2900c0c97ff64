/* The copied root (build/flatroot.c): what a layer entry is in either
 * whiteout form, and the merge of layers into one directory as
 * overlayfs shows them: whiteouts, opaque directories, replacements,
 * the layer's own hard links, modes and mtimes. */
#include "unit.h"
#include "build/flatroot.h"
#include "image/store.h"

#include <sys/sysmacros.h>
#include <sys/xattr.h>

static void test_classify(void **state)
{
	(void)state;
	const char *t = NULL;
	assert_int_equal(flatroot_classify("a", S_IFREG, 0, true, &t), FLATROOT_ENTRY);
	assert_int_equal(flatroot_classify(".wh.a", S_IFREG, 0, true, &t), FLATROOT_WHITEOUT);
	assert_string_equal(t, "a");
	assert_int_equal(flatroot_classify(".wh..wh..opq", S_IFREG, 0, true, &t), FLATROOT_OPAQUE);
	assert_int_equal(flatroot_classify(".wh..wh.plnk", S_IFDIR, 0, true, &t), FLATROOT_SKIP);
	assert_int_equal(flatroot_classify(".wh.", S_IFREG, 0, true, &t), FLATROOT_SKIP);
	assert_int_equal(flatroot_classify(".wh...", S_IFREG, 0, true, &t), FLATROOT_SKIP);
	/* Overlay form: only a 0/0 character device is a whiteout, and a
	 * ".wh." name is an ordinary entry there (never made by import). */
	t = NULL;
	assert_int_equal(flatroot_classify("b", S_IFCHR, makedev(0, 0), false, &t), FLATROOT_WHITEOUT);
	assert_string_equal(t, "b");
	assert_int_equal(flatroot_classify("c", S_IFCHR, makedev(1, 3), false, &t), FLATROOT_ENTRY);
	assert_int_equal(flatroot_classify(".wh.d", S_IFREG, 0, false, &t), FLATROOT_ENTRY);
}

static int mkdir_at(int d, const char *p, mode_t m)
{
	return mkdirat(d, p, m);
}

static int setxattr_at(int d, const char *p, const char *name, const char *val)
{
	int fd = openat(d, p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = fd < 0 ? -1 : fsetxattr(fd, name, val, strlen(val), 0);
	if (fd >= 0)
		close(fd);
	return r;
}

/* Two layers in the given form: the lower has keep, gone, gonedir/x,
 * opq/old, repl (a file) and a linked pair; the upper removes gone and
 * gonedir, makes opq opaque with opq/new, replaces repl by a directory,
 * and adds a hard-linked pair of its own. */
static void make_layers(int l0, int l1, bool oci)
{
	write_at(l0, "keep", "keep", 0);
	write_at(l0, "gone", "gone", 0);
	assert_int_equal(mkdir_at(l0, "gonedir", 0755), 0);
	write_at(l0, "gonedir/x", "x", 0);
	assert_int_equal(mkdir_at(l0, "opq", 0755), 0);
	write_at(l0, "opq/old", "old", 0);
	write_at(l0, "repl", "file", 0);
	assert_int_equal(mkdir_at(l0, "ro", 0555), 0);

	if (oci) {
		write_at(l1, ".wh.gone", "", 0);
		write_at(l1, ".wh.gonedir", "", 0);
		assert_int_equal(mkdir_at(l1, "opq", 0700), 0);
		write_at(l1, "opq/.wh..wh..opq", "", 0);
		assert_int_equal(fsetxattr(l1, STORE_XATTR_LAYER_FORM, "oci", 3, 0), 0);
	} else {
		assert_int_equal(mknodat(l1, "gone", S_IFCHR | 0600, makedev(0, 0)), 0);
		assert_int_equal(mknodat(l1, "gonedir", S_IFCHR | 0600, makedev(0, 0)), 0);
		assert_int_equal(mkdir_at(l1, "opq", 0700), 0);
		assert_int_equal(setxattr_at(l1, "opq", "user.overlay.opaque", "y"), 0);
	}
	write_at(l1, "opq/new", "new", 0);
	assert_int_equal(mkdir_at(l1, "repl", 0750), 0);
	write_at(l1, "repl/in", "in", 0);
	write_at(l1, "a", "linked", 0);
	assert_int_equal(linkat(l1, "a", l1, "b", 0), 0);
}

static void check_merged(int dst)
{
	struct stat a, b;
	char buf[16] = "";
	assert_int_equal(faccessat(dst, "keep", F_OK, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_not_equal(faccessat(dst, "gone", F_OK, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_not_equal(faccessat(dst, "gonedir", F_OK, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_not_equal(faccessat(dst, "opq/old", F_OK, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(faccessat(dst, "opq/new", F_OK, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_not_equal(faccessat(dst, "opq/.wh..wh..opq", F_OK, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(fstatat(dst, "repl", &a, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISDIR(a.st_mode));
	assert_int_equal(a.st_mode & 07777, 0750);
	assert_int_equal(fstatat(dst, "ro", &a, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(a.st_mode & 07777, 0555);
	assert_int_equal(fstatat(dst, "a", &a, 0), 0);
	assert_int_equal(fstatat(dst, "b", &b, 0), 0);
	assert_true(a.st_ino == b.st_ino);
	int fd = openat(dst, "keep", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof buf - 1), 4);
	close(fd);
	assert_string_equal(buf, "keep");
	char xv[4];
	assert_true(fgetxattr(dst, STORE_XATTR_LAYER_FORM, xv, sizeof xv) < 0);
}

static void merge_form(bool oci)
{
	char *t = tmpdir_new();
	int tfd = open(t, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(tfd >= 0);
	assert_int_equal(mkdir_at(tfd, "l0", 0755), 0);
	assert_int_equal(mkdir_at(tfd, "l1", 0755), 0);
	assert_int_equal(mkdir_at(tfd, "root", 0755), 0);
	int l[2] = { openat(tfd, "l0", O_RDONLY | O_DIRECTORY), openat(tfd, "l1", O_RDONLY | O_DIRECTORY) };
	int dst = openat(tfd, "root", O_RDONLY | O_DIRECTORY);
	make_layers(l[0], l[1], oci);
	flatroot_stats st;
	kb_error e = { 0 };
	if (flatroot_merge(dst, l, 2, &st, &e) < 0)
		fail_msg("flatroot_merge: %s", e.msg);
	assert_int_equal(st.whiteouts, 2);
	assert_int_equal(st.opaques, 1);
	assert_int_equal(st.hardlinks, 1);
	check_merged(dst);
	/* The source layers are untouched (no link into them). */
	struct stat s;
	assert_int_equal(fstatat(l[1], "a", &s, 0), 0);
	assert_int_equal(s.st_nlink, 2);
	close(l[0]);
	close(l[1]);
	close(dst);
	close(tfd);
	(void)chmod_nofollow_at(AT_FDCWD, t, 0700);
	tmpdir_free(t);
}

static void test_merge_oci(void **state)
{
	(void)state;
	merge_form(true);
}

static void test_merge_overlay(void **state)
{
	(void)state;
	merge_form(false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_merge_oci),
		cmocka_unit_test(test_merge_overlay),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
