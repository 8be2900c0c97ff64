/* extract: tar streams written here (tests/unit/unit.h's tar writer, so
 * hostile members are possible) unpacked with extract_tar into a fresh
 * root: regular files, directories, symlinks, hard links, FIFOs and
 * their modes; whiteouts (0/0 char devices) and opaque directories
 * (xattr, earlier whiteouts removed, later ones dropped);
 * user.containers.override_stat for other owners and setuid bits;
 * devices skipped; ".." members refused, absolute names kept inside;
 * symlink escapes (absolute, relative, chained), symlinks as final
 * component, hard links out of the layer and symlink loops never touch
 * the canary directory beside the root; extract_clean_path. */
#include "unit.h"
#include "image/import/extract.h"
#include "image/store.h"

#include <dirent.h>
#include <limits.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

static char *dir;
static int rootfd = -1;
static extract_stats st;
static kb_error err;

static int setup(void **state)
{
	umask(0);    /* extract_tar gives exact modes only under umask 0 */
	dir = tmpdir_new();
	assert_int_equal(run("cd %s && mkdir root && mkdir -m 0750 outside && printf SECRET > outside/secret && "
			     "chmod 0640 outside/secret", dir), 0);
	char *r = xasprintf("%s/root", dir);
	rootfd = open(r, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(rootfd >= 0);
	free(r);
	memset(&err, 0, sizeof err);
	return 0;
}

/* Empty the root again (between the cases of one test). */
static void reset_root(void)
{
	close(rootfd);
	char *r = xasprintf("%s/root", dir);
	assert_int_equal(rm_rf_at(AT_FDCWD, r), 0);
	assert_int_equal(mkdir(r, 0755), 0);
	rootfd = open(r, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(rootfd >= 0);
	free(r);
	memset(&err, 0, sizeof err);
}

static int teardown(void **state)
{
	close(rootfd);
	tmpdir_free(dir);
	return 0;
}

/* Path of a name under the root (or, with "../", beside it). */
static const char *rp(const char *rel)
{
	static char buf[4][PATH_MAX];
	static int i;
	i = (i + 1) % 4;
	snprintf(buf[i], sizeof buf[i], "%s/root/%s", dir, rel);
	return buf[i];
}

static int tar_start(void)
{
	char *p = xasprintf("%s/t.tar", dir);
	int fd = tw_open(p);
	free(p);
	return fd;
}

/* Close the tar and unpack it; checks the stream was read to its end. */
static int extract_o(int fd, const extract_opts *o)
{
	tw_close(fd);
	/* Trailing padding, as tar's 10 kB records leave it. */
	assert_int_equal(run("head -c 4096 /dev/zero >> %s/t.tar", dir), 0);
	char *p = xasprintf("%s/t.tar", dir);
	int tfd = open(p, O_RDONLY | O_CLOEXEC);
	struct stat s;
	zstream *z;
	assert_true(tfd >= 0 && fstat(tfd, &s) == 0);
	assert_int_equal(zstream_open(&z, tfd, 0, (uint64_t)s.st_size, ZS_DETECT | ZS_HASH_IN | ZS_HASH_OUT, 0,
				      "layer test", &err), 0);
	int r = extract_tar(z, rootfd, o, "layer test", NULL, NULL, &st, &err);
	if (r == 0)
		assert_int_equal(zstream_in_bytes(z), s.st_size);
	zstream_free(z);
	close(tfd);
	free(p);
	return r;
}

static int extract(int fd)
{
	return extract_o(fd, &(extract_opts){ 0 });
}

static void extract_ok(int fd)
{
	if (extract(fd) < 0)
		fail_msg("extract_tar failed: %s", err.msg);
}

/* Nothing outside the root changed: outside/ holds only the unchanged
 * secret, and the temp dir only root/, outside/ and the tar. */
static void check_outside(void)
{
	char *o = xasprintf("%s/outside", dir), *s = xasprintf("%s/outside/secret", dir);
	static const char *want[] = { "root", "outside", "t.tar" };
	struct stat sb;
	char buf[16] = "";
	DIR *d = opendir(o);
	struct dirent *de;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, "secret"))
			fail_msg("%s/%s appeared outside the root", o, de->d_name);
	closedir(d);
	assert_int_equal(lstat(s, &sb), 0);
	assert_int_equal(sb.st_mode, S_IFREG | 0640);
	assert_int_equal(sb.st_nlink, 1);
	assert_int_equal(lstat(o, &sb), 0);
	assert_int_equal(sb.st_mode, S_IFDIR | 0750);
	int fd = open(s, O_RDONLY);
	assert_int_equal(read(fd, buf, sizeof buf), 6);
	close(fd);
	assert_string_equal(buf, "SECRET");
	d = opendir(dir);
	while ((de = readdir(d))) {
		bool ok = de->d_name[0] == '.';
		for (size_t i = 0; i < ARRAY_SIZE(want); i++)
			ok = ok || !strcmp(de->d_name, want[i]);
		if (!ok)
			fail_msg("%s/%s appeared beside the root", dir, de->d_name);
	}
	closedir(d);
	free(o);
	free(s);
}

static void expect_content(const char *rel, const char *content)
{
	char buf[256] = "";
	struct stat sb;
	assert_int_equal(lstat(rp(rel), &sb), 0);
	if (!S_ISREG(sb.st_mode))
		fail_msg("%s is not a regular file", rel);
	int fd = open(rp(rel), O_RDONLY);
	assert_true(fd >= 0);
	assert_true(read(fd, buf, sizeof buf - 1) >= 0);
	close(fd);
	assert_string_equal(buf, content);
}

static mode_t mode_of(const char *rel)
{
	struct stat sb;
	if (lstat(rp(rel), &sb) < 0)
		fail_msg("%s: missing", rel);
	return sb.st_mode;
}

static bool exists(const char *rel)
{
	struct stat sb;
	return lstat(rp(rel), &sb) == 0;
}

/* The xattr's value, or "" when absent. */
static const char *xattr(const char *rel, const char *name)
{
	static char buf[128];
	ssize_t n = lgetxattr(rp(rel), name, buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = 0;
	return buf;
}

static void test_basic(void **state)
{
	int fd = tar_start();
	TW(fd, .name = "./", .type = '5', .mode = 0751);
	TW(fd, .name = "etc/", .type = '5', .mode = 0750);
	TW(fd, .name = "etc/passwd", .data = "root:x:0:0\n", .mode = 0640);
	TW(fd, .name = "bin/tool", .data = "#!/bin/sh\n", .mode = 0755);    /* implicit bin/ */
	TW(fd, .name = "etc/ro", .data = "ro", .mode = 0444);
	TW(fd, .name = "tmp/", .type = '5', .mode = 01777);
	TW(fd, .name = "lnk", .type = '2', .link = "etc/passwd");
	TW(fd, .name = "abs", .type = '2', .link = "/nowhere/at/all");
	TW(fd, .name = "etc/hard", .type = '1', .link = "etc/passwd");
	TW(fd, .name = "run/fifo", .type = '6', .mode = 0620);
	TW(fd, .name = "empty", .data = "");
	extract_ok(fd);
	expect_content("etc/passwd", "root:x:0:0\n");
	expect_content("bin/tool", "#!/bin/sh\n");
	expect_content("etc/hard", "root:x:0:0\n");
	expect_content("empty", "");
	assert_int_equal(mode_of("") & 07777, 0751);
	assert_int_equal(mode_of("etc"), S_IFDIR | 0750);
	assert_int_equal(mode_of("bin"), S_IFDIR | 0755);
	assert_int_equal(mode_of("etc/passwd"), S_IFREG | 0640);
	assert_int_equal(mode_of("bin/tool"), S_IFREG | 0755);
	assert_int_equal(mode_of("etc/ro"), S_IFREG | 0444);
	assert_int_equal(mode_of("tmp"), S_IFDIR | 01777);
	assert_int_equal(mode_of("run/fifo"), S_IFIFO | 0620);
	assert_true(S_ISLNK(mode_of("lnk")));
	char buf[64] = "";
	assert_int_equal(readlink(rp("abs"), buf, sizeof buf), 15);
	assert_string_equal(buf, "/nowhere/at/all");
	struct stat a, b;
	assert_int_equal(lstat(rp("etc/passwd"), &a), 0);
	assert_int_equal(lstat(rp("etc/hard"), &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	assert_int_equal(a.st_nlink, 2);
	assert_int_equal(a.st_mtim.tv_sec, 1700000000);
	assert_int_equal(a.st_uid, getuid());
	assert_string_equal(xattr("etc/passwd", "user.containers.override_stat"), "");
	assert_int_equal(st.files, 4);
	assert_int_equal(st.dirs, 2);    /* etc, tmp ("./" is the root) */
	assert_int_equal(st.symlinks, 2);
	assert_int_equal(st.hardlinks, 1);
	assert_int_equal(st.fifos, 1);
	assert_int_equal(st.entries, 11);
	assert_int_equal(st.bytes, 11 + 10 + 2);
	check_outside();
}

static void test_whiteouts(void **state)
{
	int fd = tar_start();
	TW(fd, .name = "a/.wh.x");
	TW(fd, .name = ".wh.gone");
	TW(fd, .name = "d/.wh.early");
	TW(fd, .name = "d/keep", .data = "keep");
	TW(fd, .name = "d/.wh..wh..opq");
	TW(fd, .name = "d/.wh.late");              /* redundant in an opaque dir */
	TW(fd, .name = "d/sub/.wh.deep");          /* not directly in d: kept */
	TW(fd, .name = ".wh..wh.plnk");            /* AUFS bookkeeping: ignored */
	extract_ok(fd);
	struct stat sb;
	static const char *wh[] = { "a/x", "gone", "d/sub/deep" };
	for (size_t i = 0; i < ARRAY_SIZE(wh); i++) {
		assert_int_equal(lstat(rp(wh[i]), &sb), 0);
		assert_true(S_ISCHR(sb.st_mode));
		assert_int_equal(sb.st_rdev, makedev(0, 0));
	}
	assert_false(exists("d/early"));
	assert_false(exists("d/late"));
	assert_false(exists("d/.wh.late"));
	assert_false(exists(".wh..wh.plnk"));
	assert_false(exists("d/.wh..wh..opq"));
	expect_content("d/keep", "keep");
	assert_string_equal(xattr("d", "user.overlay.opaque"), "y");
	assert_string_equal(xattr("a", "user.overlay.opaque"), "");
	assert_int_equal(st.whiteouts, 3);
	assert_int_equal(st.opaques, 1);
	check_outside();
}

/* A whiteout over an entry made earlier in the same layer replaces it. */
static void test_whiteout_replaces(void **state)
{
	int fd = tar_start();
	TW(fd, .name = "a/x", .data = "x");
	TW(fd, .name = "a/dir/f", .data = "f");
	TW(fd, .name = "a/.wh.x");
	TW(fd, .name = "a/.wh.dir");
	extract_ok(fd);
	assert_true(S_ISCHR(mode_of("a/x")));
	assert_true(S_ISCHR(mode_of("a/dir")));
	assert_int_equal(st.whiteouts, 2);
}

/* OCI form (a store on overlayfs): whiteouts and the opaque marker stay
 * as empty ".wh." files, with the same replacements and redundancies as
 * in overlay form, and the layer's root is marked. */
static void test_whiteouts_oci(void **state)
{
	int fd = tar_start();
	TW(fd, .name = "a/x", .data = "x");
	TW(fd, .name = "a/.wh.x");                 /* replaces a/x */
	TW(fd, .name = ".wh.gone");
	TW(fd, .name = "d/.wh.early");
	TW(fd, .name = "d/keep", .data = "keep");
	TW(fd, .name = "d/.wh..wh..opq");
	TW(fd, .name = "d/.wh.late");              /* redundant in an opaque dir */
	TW(fd, .name = ".wh..wh.plnk");            /* AUFS bookkeeping: ignored */
	if (extract_o(fd, &(extract_opts){ .oci_whiteouts = true }) < 0)
		fail_msg("extract_tar failed: %s", err.msg);
	assert_false(exists("a/x"));
	assert_true(S_ISREG(mode_of("a/.wh.x")));
	assert_true(S_ISREG(mode_of(".wh.gone")));
	assert_true(S_ISREG(mode_of("d/.wh..wh..opq")));
	assert_false(exists("d/.wh.early"));
	assert_false(exists("d/.wh.late"));
	assert_false(exists(".wh..wh.plnk"));
	expect_content("d/keep", "keep");
	assert_string_equal(xattr("d", "user.overlay.opaque"), "");
	assert_string_equal(xattr("", STORE_XATTR_LAYER_FORM), "oci");
	assert_int_equal(st.whiteouts, 2);
	assert_int_equal(st.opaques, 1);
	check_outside();
}

static void test_override_stat(void **state)
{
	int fd = tar_start();
	TW(fd, .name = "home/u/", .type = '5', .mode = 02775, .uid = 1000, .gid = 1000);
	TW(fd, .name = "home/u/f", .data = "f", .uid = 1000, .gid = 100);
	TW(fd, .name = "bin/su", .data = "su", .mode = 04755);
	TW(fd, .name = "bin/wall", .data = "w", .mode = 02755, .gid = 5);
	TW(fd, .name = "plain", .data = "p", .pax = "SCHILY.xattr.user.note=hi\n"
	   "SCHILY.xattr.user.containers.override_stat=0:0:04755\nSCHILY.xattr.user.overlay.opaque=y");
	extract_ok(fd);
	assert_string_equal(xattr("home/u", "user.containers.override_stat"), "1000:1000:02775");
	assert_int_equal(mode_of("home/u"), S_IFDIR | 0775);
	assert_string_equal(xattr("home/u/f", "user.containers.override_stat"), "1000:100:0644");
	assert_string_equal(xattr("bin/su", "user.containers.override_stat"), "0:0:04755");
	assert_int_equal(mode_of("bin/su"), S_IFREG | 0755);    /* no setuid on disk */
	assert_string_equal(xattr("bin/wall", "user.containers.override_stat"), "0:5:02755");
	assert_int_equal(mode_of("bin/wall"), S_IFREG | 0755);
	/* Plain user xattrs come through; ours and overlay's do not. */
	assert_string_equal(xattr("plain", "user.note"), "hi");
	assert_string_equal(xattr("plain", "user.containers.override_stat"), "");
	assert_string_equal(xattr("plain", "user.overlay.opaque"), "");
}

static void test_devices(void **state)
{
	int fd = tar_start();
	TW(fd, .name = "dev/null", .type = '3', .major = 1, .minor = 3, .mode = 0666);
	TW(fd, .name = "dev/sda", .type = '4', .major = 8, .minor = 0, .mode = 0660);
	TW(fd, .name = "dev/zero", .type = '3', .major = 0, .minor = 0);
	TW(fd, .name = "after", .data = "a");
	extract_ok(fd);
	assert_false(exists("dev/null"));
	assert_false(exists("dev/sda"));
	assert_false(exists("dev/zero"));
	assert_int_equal(st.skipped_devices, 3);
	expect_content("after", "a");
}

static void test_relax_modes(void **state)
{
	int fd = tar_start();
	TW(fd, .name = "ro/", .type = '5', .mode = 0555);
	TW(fd, .name = "ro/f", .data = "f", .mode = 0444);
	TW(fd, .name = "ro/x", .data = "x", .mode = 0111);
	assert_int_equal(extract_o(fd, &(extract_opts){ .relax_modes = true }), 0);
	assert_int_equal(mode_of("ro"), S_IFDIR | 0755);
	assert_int_equal(mode_of("ro/f"), S_IFREG | 0644);
	assert_int_equal(mode_of("ro/x"), S_IFREG | 0711);
}

static void test_dotdot(void **state)
{
	static const char *bad[] = { "../outside/pwned", "a/../../outside/pwned", "a/b/../../../pwned", ".." };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		reset_root();
		int fd = tar_start();
		TW(fd, .name = "first", .data = "1");
		TW(fd, .name = bad[i], .data = "PWNED");
		assert_int_equal(extract(fd), -EPERM);
		assert_contains(err.msg, "layer test");
		assert_contains(err.msg, "\"..\"");
		check_outside();
	}
	assert_false(exists("pwned"));
}

static void test_absolute(void **state)
{
	int fd = tar_start();
	TW(fd, .name = "/", .type = '5', .mode = 0755);
	TW(fd, .name = "/abs/file", .data = "abs");
	TW(fd, .name = "//twice//x", .data = "x");
	extract_ok(fd);
	expect_content("abs/file", "abs");
	expect_content("twice/x", "x");
	check_outside();
}

/* Symlinks to outside, absolute, relative or chained, resolve inside. */
static void test_symlink_escape(void **state)
{
	char *outside = xasprintf("%s/outside", dir);
	int fd = tar_start();
	TW(fd, .name = "slash", .type = '2', .link = "/");
	TW(fd, .name = "up", .type = '2', .link = "../../../../../../../../..");
	TW(fd, .name = "d/chain", .type = '2', .link = "../up/..");
	TW(fd, .name = "d/chain2", .type = '2', .link = "chain/up/slash");
	TW(fd, .name = "slash/etc/a", .data = "a");
	TW(fd, .name = "up/outside/b", .data = "b");
	TW(fd, .name = "d/chain/outside/c", .data = "c");
	TW(fd, .name = "d/chain2/outside/d", .data = "d");
	extract_ok(fd);
	expect_content("etc/a", "a");
	expect_content("outside/b", "b");
	expect_content("outside/c", "c");
	expect_content("outside/d", "d");
	check_outside();

	/* A link to the real outside directory by its absolute host path:
	 * inside the root that path does not exist. */
	fd = tar_start();
	TW(fd, .name = "hostpath", .type = '2', .link = outside);
	TW(fd, .name = "hostpath/pwned", .data = "PWNED");
	memset(&err, 0, sizeof err);
	int r = extract(fd);
	if (r == 0)    /* allowed only if it landed inside */
		assert_true(exists("hostpath/pwned"));
	check_outside();
	free(outside);
}

/* An existing symlink as the last component is replaced, never followed. */
static void test_final_symlink(void **state)
{
	char *secret = xasprintf("%s/outside/secret", dir), *odir = xasprintf("%s/outside", dir);
	int fd = tar_start();
	TW(fd, .name = "f", .type = '2', .link = secret);
	TW(fd, .name = "g", .type = '2', .link = "../outside/secret");
	TW(fd, .name = "h", .type = '2', .link = "../../outside/secret");
	TW(fd, .name = "dd", .type = '2', .link = odir);
	TW(fd, .name = "ff", .type = '2', .link = "../outside/fifo");
	TW(fd, .name = "wh", .type = '2', .link = "../outside/secret");
	TW(fd, .name = "f", .data = "PWNED-f");
	TW(fd, .name = "g", .data = "PWNED-g");
	TW(fd, .name = "src", .data = "src");
	TW(fd, .name = "h", .type = '1', .link = "src");
	TW(fd, .name = "dd", .type = '5', .mode = 0700);
	TW(fd, .name = "ff", .type = '6');
	TW(fd, .name = ".wh.wh");
	extract_ok(fd);
	expect_content("f", "PWNED-f");
	expect_content("g", "PWNED-g");
	expect_content("h", "src");
	assert_int_equal(mode_of("dd"), S_IFDIR | 0700);
	assert_true(S_ISFIFO(mode_of("ff")));
	assert_true(S_ISCHR(mode_of("wh")));
	check_outside();
	free(secret);
	free(odir);
}

/* A file that is hard-linked elsewhere is replaced, not written into. */
static void test_hardlink_rewrite(void **state)
{
	int fd = tar_start();
	TW(fd, .name = "a", .data = "A");
	TW(fd, .name = "b", .type = '1', .link = "a");
	TW(fd, .name = "b", .data = "B");
	TW(fd, .name = "a2", .type = '1', .link = "a");
	TW(fd, .name = "a2", .type = '1', .link = "a");    /* again: same file */
	extract_ok(fd);
	expect_content("a", "A");
	expect_content("b", "B");
	expect_content("a2", "A");
}

static void test_hardlink_outside(void **state)
{
	char *secret = xasprintf("%s/outside/secret", dir), *odir = xasprintf("%s/outside", dir);
	const char *targets[] = { "../outside/secret", secret, "sd/secret", "up/outside/secret", "etc", "", "nothere" };
	for (size_t i = 0; i < ARRAY_SIZE(targets); i++) {
		reset_root();
		int fd = tar_start();
		TW(fd, .name = "sd", .type = '2', .link = odir);
		TW(fd, .name = "up", .type = '2', .link = "../..");
		TW(fd, .name = "etc/", .type = '5');
		TW(fd, .name = "hl", .type = '1', .link = targets[i]);
		memset(&err, 0, sizeof err);
		if (extract(fd) == 0)
			fail_msg("hard link to \"%s\" was accepted", targets[i]);
		assert_contains(err.msg, "hl");
		assert_false(exists("hl"));
		check_outside();
	}
	free(secret);
	free(odir);
}

static void test_symlink_loop(void **state)
{
	int fd = tar_start();
	TW(fd, .name = "loop1", .type = '2', .link = "loop2");
	TW(fd, .name = "loop2", .type = '2', .link = "/loop1");
	TW(fd, .name = "loop1/f", .data = "f");
	assert_true(extract(fd) < 0);
	assert_contains(err.msg, "loop1/f");
	check_outside();
}

static void test_bad_streams(void **state)
{
	static const char *bad_wh[] = { ".wh.", "d/.wh..", "x/y/.wh." };
	for (size_t i = 0; i < ARRAY_SIZE(bad_wh); i++) {
		reset_root();
		int fd = tar_start();
		TW(fd, .name = bad_wh[i]);
		assert_true(extract(fd) < 0);
		assert_contains(err.msg, "whiteout");
	}
	/* Cut inside a file's data. */
	int fd = tar_start();
	char big[5000];
	memset(big, 'z', sizeof big);
	TW(fd, .name = "big", .data = big, .len = sizeof big);
	close(fd);
	assert_int_equal(run("cd %s && head -c 2048 t.tar > t2 && mv t2 t.tar", dir), 0);
	char *p = xasprintf("%s/t.tar", dir);
	int tfd = open(p, O_RDONLY | O_CLOEXEC);
	zstream *z;
	memset(&err, 0, sizeof err);
	assert_int_equal(zstream_open(&z, tfd, 0, 2048, ZS_DETECT, 0, "layer test", &err), 0);
	assert_true(extract_tar(z, rootfd, &(extract_opts){ 0 }, "layer test", NULL, NULL, &st, &err) < 0);
	assert_contains(err.msg, "layer test");
	zstream_free(z);
	/* Not a tar at all. */
	write_at(AT_FDCWD, p, "this is not a tar archive, just some text that goes on for a while", 0);
	close(tfd);
	tfd = open(p, O_RDONLY | O_CLOEXEC);
	memset(&err, 0, sizeof err);
	assert_int_equal(zstream_open(&z, tfd, 0, 66, ZS_DETECT, 0, "layer test", &err), 0);
	assert_true(extract_tar(z, rootfd, &(extract_opts){ 0 }, "layer test", NULL, NULL, &st, &err) < 0);
	assert_contains(err.msg, "layer test");
	zstream_free(z);
	close(tfd);
	free(p);
}

static void test_cancel(void **state)
{
	_Atomic int cancel = 1;
	int fd = tar_start();
	TW(fd, .name = "f", .data = "f");
	assert_true(extract_o(fd, &(extract_opts){ .cancel = &cancel }) < 0);
	assert_int_equal(err.errnum, ECANCELED);
	assert_contains(err.msg, "cancelled");
	assert_false(exists("f"));
}

static void test_gzip_layer(void **state)
{
	int fd = tar_start();
	TW(fd, .name = "z/f", .data = "zipped");
	tw_close(fd);
	assert_int_equal(run("cd %s && gzip -n t.tar && mv t.tar.gz t.tar", dir), 0);
	char *p = xasprintf("%s/t.tar", dir);
	int tfd = open(p, O_RDONLY | O_CLOEXEC);
	struct stat s;
	zstream *z;
	assert_true(tfd >= 0 && fstat(tfd, &s) == 0);
	assert_int_equal(zstream_open(&z, tfd, 0, (uint64_t)s.st_size, ZS_DETECT, 0, "layer test", &err), 0);
	assert_int_equal(extract_tar(z, rootfd, &(extract_opts){ 0 }, "layer test", NULL, NULL, &st, &err), 0);
	assert_int_equal(zstream_kind(z), ZS_GZIP);
	zstream_free(z);
	close(tfd);
	free(p);
	expect_content("z/f", "zipped");
}

static void test_clean_path(void **state)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "", "" }, { "/", "" }, { "./", "" }, { ".", "" }, { "a", "a" }, { "/a//b/./c/", "a/b/c" },
		{ "./etc/passwd", "etc/passwd" }, { "...", "..." }, { "..a", "..a" }, { "a..", "a.." },
		{ "a/../b", NULL }, { "..", NULL }, { "../a", NULL }, { "a/..", NULL }, { "/../a", NULL },
		{ "usr/../../etc/shadow", NULL },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		kb_error e = { 0 };
		char *got = extract_clean_path(cases[i].in, &e);
		if (cases[i].out) {
			if (!got)
				fail_msg("extract_clean_path(\"%s\") failed: %s", cases[i].in, e.msg);
			assert_string_equal(got, cases[i].out);
		} else {
			if (got)
				fail_msg("extract_clean_path(\"%s\") = \"%s\", expected NULL", cases[i].in, got);
			assert_int_equal(e.errnum, EPERM);
			assert_contains(e.msg, "\"..\"");
			assert_contains(e.msg, cases[i].in);    /* the whole member */
		}
		free(got);
	}
	char *longp = malloc(PATH_MAX + 10);
	memset(longp, 'a', PATH_MAX + 9);
	longp[PATH_MAX + 9] = 0;
	kb_error e = { 0 };
	assert_null(extract_clean_path(longp, &e));
	assert_int_equal(e.errnum, ENAMETOOLONG);
	free(longp);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_basic), T(test_whiteouts), T(test_whiteouts_oci), T(test_whiteout_replaces), T(test_override_stat), T(test_devices),
		T(test_relax_modes), T(test_dotdot), T(test_absolute),
		T(test_symlink_escape), T(test_final_symlink), T(test_hardlink_rewrite),
		T(test_hardlink_outside), T(test_symlink_loop), T(test_bad_streams), T(test_cancel),
		T(test_gzip_layer), T(test_clean_path),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
