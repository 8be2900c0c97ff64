/* tarindex: tar_path_clean, tar_header_valid, and tar_index_build /
 * tar_index_find over archives made by GNU tar (gnu, pax and ustar
 * formats, names and link targets over 100 characters) and by hand
 * (skopeo's "<id>/layer.tar -> ../<hex>.tar" symlinks, hard links,
 * symlink loops and chains, escaping links, ".." members, pax size
 * records, duplicates, pax edge cases); truncated archives, bad checksums and the
 * max_members limit (-E2BIG). */
#include "unit.h"
#include "image/import/tarindex.h"

static char *dir;
static int dfd = -1;

static int setup(void **state)
{
	dir = tmpdir_new();
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	return 0;
}

static int teardown(void **state)
{
	close(dfd);
	tmpdir_free(dir);
	return 0;
}

/* Start writing dir/name with unit.h's tar writer. */
static int tar_create(const char *name)
{
	char *p = xasprintf("%s/%s", dir, name);
	int fd = tw_open(p);
	free(p);
	return fd;
}

/* Index dir/name; returns the build's result, *fd stays open for reads. */
static int index_file(const char *name, size_t max, tar_index **t, int *fd, kb_error *e)
{
	*fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
	assert_true(*fd >= 0);
	return tar_index_build(*fd, max, t, e);
}

static tar_index *must_index(const char *name, int *fd)
{
	tar_index *t = NULL;
	kb_error e = { 0 };
	int r = index_file(name, 1000, &t, fd, &e);
	if (r < 0)
		fail_msg("indexing %s: %s", name, e.msg);
	return t;
}

/* Find name, check it is a regular file and holds content. */
static void expect_file(tar_index *t, int fd, const char *name, const char *content)
{
	const tar_member *m = tar_index_find(t, name);
	if (!m)
		fail_msg("%s not found", name);
	assert_int_equal(m->type, TM_FILE);
	assert_int_equal(m->size, strlen(content));
	char buf[256] = "";
	assert_int_equal(pread(fd, buf, m->size, (off_t)m->off), (ssize_t)m->size);
	assert_string_equal(buf, content);
}

static void test_path_clean(void **state)
{
	static const struct { const char *in, *out; } cases[] = {
		{ ".", "" }, { "./", "" }, { "", "" }, { "/", "" }, { "a", "a" },
		{ "./a//b/", "a/b" }, { "/abs//x/./y", "abs/x/y" }, { "a/../b", "b" },
		{ "a/b/../../c", "c" }, { "a/./b/.", "a/b" }, { "a/b/..", "a" },
		{ "...", "..." }, { "..a/b..", "..a/b.." }, { "a/.../b", "a/.../b" },
		{ "../x", NULL }, { "..", NULL }, { "/..", NULL }, { "a/../../x", NULL },
		{ "a/b/../../..", NULL }, { "./../x", NULL },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *got = tar_path_clean(cases[i].in, false);
		if (!cases[i].out) {
			if (got)
				fail_msg("tar_path_clean(\"%s\") = \"%s\", expected NULL", cases[i].in, got);
		} else {
			if (!got)
				fail_msg("tar_path_clean(\"%s\") = NULL, expected \"%s\"", cases[i].in, cases[i].out);
			assert_string_equal(got, cases[i].out);
		}
		free(got);
	}
	/* Names to be made on disk: the same cleaning, but any ".." refused. */
	char *got = tar_path_clean("./a//b/.", true);
	assert_string_equal(got, "a/b");
	free(got);
	errno = 0;
	assert_null(tar_path_clean("a/../b", true));
	assert_int_equal(errno, EPERM);
}

static void test_header_valid(void **state)
{
	unsigned char b[512];
	int fd = tar_create("one.tar");
	TW(fd, .name = "hello.txt", .data = "hello\n");
	tw_close(fd);
	fd = openat(dfd, "one.tar", O_RDONLY);
	assert_int_equal(pread(fd, b, 512, 0), 512);
	assert_true(tar_header_valid(b));
	b[0] ^= 1;
	assert_false(tar_header_valid(b));
	b[0] ^= 1;
	b[148] = '9';    /* not octal: the checksum reads as a different number */
	assert_false(tar_header_valid(b));
	assert_int_equal(pread(fd, b, 512, 1024), 512);    /* end-of-archive block */
	assert_false(tar_header_valid(b));
	close(fd);

	/* GNU tar's own headers (checksum "%06o\0 " style). */
	write_at(dfd, "x", "x", 1);
	assert_int_equal(run("cd %s && tar -cf gnu1.tar x", dir), 0);
	fd = openat(dfd, "gnu1.tar", O_RDONLY);
	assert_int_equal(pread(fd, b, 512, 0), 512);
	assert_true(tar_header_valid(b));
	close(fd);
}

static void test_gnu_tar(void **state)
{
	assert_int_equal(run("cd %s && mkdir -p src/dir && printf A > src/a.txt && printf B > src/dir/b.txt && "
			     "ln -s a.txt src/lnk && ln -s dir/b.txt src/dir/../lnk2 && ln src/a.txt src/hard && "
			     "tar -C src -cf basic.tar .", dir), 0);
	int fd;
	tar_index *t = must_index("basic.tar", &fd);
	/* ./ ./dir ./dir/b.txt ./a.txt ./hard ./lnk ./lnk2 */
	assert_int_equal(tar_index_count(t), 7);
	for (size_t i = 0; i < tar_index_count(t); i++) {
		const tar_member *m = tar_index_at(t, i);
		assert_false(m->name[0] == '/' || !strncmp(m->name, "./", 2) || strstr(m->name, "//"));
	}
	assert_null(tar_index_at(t, 7));
	expect_file(t, fd, "a.txt", "A");
	expect_file(t, fd, "./dir//b.txt", "B");
	expect_file(t, fd, "/dir/b.txt", "B");
	expect_file(t, fd, "hard", "A");
	expect_file(t, fd, "lnk", "A");
	expect_file(t, fd, "lnk2", "B");
	const tar_member *m = tar_index_find(t, "dir");
	assert_non_null(m);
	assert_int_equal(m->type, TM_DIR);
	assert_non_null(tar_index_find(t, ""));    /* "./" itself */
	assert_null(tar_index_find(t, "missing"));
	assert_null(tar_index_find(t, "a.txt/x"));
	tar_index_free(t);
	close(fd);
}

/* Names and link targets longer than 100 characters, in each format. */
static void test_long_names(void **state)
{
	const char *deep = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/"
			   "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
	const char *file = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
			   "ffffffffffffffffffffffffffffff.txt";    /* 112: too long even for ustar */
	assert_int_equal(run("cd %s && mkdir -p long/%s && printf DEEP > long/%s/f && printf LONG > long/%s && "
			     "ln -s %s/f long/deeplink && ln -s %s long/filelink",
			     dir, deep, deep, file, deep, file), 0);
	static const char *formats[] = { "gnu", "pax", "ustar" };
	for (size_t i = 0; i < ARRAY_SIZE(formats); i++) {
		bool ustar = !strcmp(formats[i], "ustar");
		int fd;
		if (ustar)    /* ustar holds neither the 112-character name nor the long link */
			assert_int_equal(run("cd %s/long && tar --format=ustar -cf ../long-ustar.tar %s",
					     dir, deep), 0);
		else
			assert_int_equal(run("cd %s/long && tar --format=%s -cf ../long-%s.tar .",
					     dir, formats[i], formats[i]), 0);
		char *name = xasprintf("long-%s.tar", formats[i]), *f = xasprintf("%s/f", deep);
		tar_index *t = must_index(name, &fd);
		expect_file(t, fd, f, "DEEP");
		const tar_member *m = tar_index_find(t, deep);
		assert_non_null(m);
		assert_int_equal(m->type, TM_DIR);
		if (!ustar) {
			expect_file(t, fd, "deeplink", "DEEP");    /* link target of 155 characters */
			expect_file(t, fd, file, "LONG");
			expect_file(t, fd, "filelink", "LONG");
		}
		tar_index_free(t);
		close(fd);
		free(name);
		free(f);
	}
}

/* docker save by skopeo: each <id>/layer.tar is a symlink to ../<hex>.tar. */
static void test_skopeo_symlink(void **state)
{
	const char *hex = "3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a";
	char *blob = xasprintf("%s.tar", hex), *up = xasprintf("../%s.tar", hex), *abs = xasprintf("/%s.tar", hex);
	int fd = tar_create("skopeo.tar");
	TW(fd, .name = blob, .data = "LAYER-BYTES");
	TW(fd, .name = "0123abcd/", .type = '5');
	TW(fd, .name = "0123abcd/layer.tar", .type = '2', .link = up);
	TW(fd, .name = "0123abcd/VERSION", .data = "1.0");
	TW(fd, .name = "abs/layer.tar", .type = '2', .link = abs);
	TW(fd, .name = "esc/layer.tar", .type = '2', .link = "../../etc/passwd");
	TW(fd, .name = "dangling/layer.tar", .type = '2', .link = "../nothere.tar");
	TW(fd, .name = "todir", .type = '2', .link = "0123abcd");
	tw_close(fd);

	tar_index *t = must_index("skopeo.tar", &fd);
	expect_file(t, fd, "0123abcd/layer.tar", "LAYER-BYTES");
	const tar_member *m = tar_index_find(t, "0123abcd/layer.tar");
	assert_string_equal(m->name, blob);    /* the member the link resolved to */
	expect_file(t, fd, "abs/layer.tar", "LAYER-BYTES");
	assert_null(tar_index_find(t, "esc/layer.tar"));
	assert_null(tar_index_find(t, "dangling/layer.tar"));
	m = tar_index_find(t, "todir");
	assert_non_null(m);
	assert_int_equal(m->type, TM_DIR);
	/* The symlink members themselves are indexed as such. */
	m = tar_index_at(t, 2);
	assert_int_equal(m->type, TM_SYMLINK);
	assert_string_equal(m->link, up);
	assert_int_equal(m->size, 0);
	tar_index_free(t);
	close(fd);
	free(blob);
	free(up);
	free(abs);
}

static void test_hardlink_and_loops(void **state)
{
	int fd = tar_create("links.tar");
	TW(fd, .name = "./data/f", .data = "FILE");
	TW(fd, .name = "h1", .type = '1', .link = "./data/f");
	TW(fd, .name = "h2", .type = '1', .link = "h1");
	TW(fd, .name = "l1", .type = '2', .link = "l2");
	TW(fd, .name = "l2", .type = '2', .link = "l1");
	TW(fd, .name = "self", .type = '2', .link = "./self");
	char name[16], link[16];
	/* c0 -> c1 -> ... -> c15 -> data/f (16 links), and d0 -> ... -> d14 -> data/f */
	for (int i = 0; i < 16; i++) {
		snprintf(name, sizeof name, "c%d", i);
		snprintf(link, sizeof link, i == 15 ? "data/f" : "c%d", i + 1);
		TW(fd, .name = name, .type = '2', .link = link);
	}
	for (int i = 0; i < 15; i++) {
		snprintf(name, sizeof name, "d%d", i);
		snprintf(link, sizeof link, i == 14 ? "data/f" : "d%d", i + 1);
		TW(fd, .name = name, .type = '2', .link = link);
	}
	TW(fd, .name = "e0", .type = '2', .link = "c0");    /* 17 links */
	tw_close(fd);

	tar_index *t = must_index("links.tar", &fd);
	expect_file(t, fd, "h1", "FILE");
	expect_file(t, fd, "h2", "FILE");
	assert_null(tar_index_find(t, "l1"));
	assert_null(tar_index_find(t, "self"));
	expect_file(t, fd, "d0", "FILE");    /* 15 hops */
	assert_null(tar_index_find(t, "e0"));
	tar_index_free(t);
	close(fd);
}

/* ".." members are never lookup targets; later duplicates win; a pax
 * size record overrides the header's size. */
static void test_odd_members(void **state)
{
	int fd = tar_create("odd.tar");
	TW(fd, .name = "../evil", .data = "EVIL");
	TW(fd, .name = "x/../../evil2", .data = "EVIL");
	TW(fd, .name = "dup", .data = "first");
	TW(fd, .name = "dup", .data = "second");
	tw_header(fd, "PaxHeaders/big", 'x', 0644, 0, 0, 12, NULL, 0, 0);
	tw_block(fd, "12 size=600\n", 12);
	tw_header(fd, "big", '0', 0644, 0, 0, 0, NULL, 0, 0);    /* header says 0 */
	char big[600];
	memset(big, 'b', sizeof big);
	tw_block(fd, big, sizeof big);
	TW(fd, .name = "after", .data = "AFTER");
	tw_close(fd);

	tar_index *t = must_index("odd.tar", &fd);
	assert_int_equal(tar_index_count(t), 4);    /* dup, dup, big, after */
	assert_null(tar_index_find(t, "../evil"));
	assert_null(tar_index_find(t, "evil"));
	assert_null(tar_index_find(t, "evil2"));
	expect_file(t, fd, "dup", "second");
	const tar_member *m = tar_index_find(t, "big");
	assert_non_null(m);
	assert_int_equal(m->size, 600);
	expect_file(t, fd, "after", "AFTER");
	tar_index_free(t);
	close(fd);
}

/* Found while fuzzing: a pax record length near ULONG_MAX wrapped the
 * bounds check and read before the buffer (UBSan: pointer overflow); a
 * pax size was applied to the extended header after it instead of to
 * the member, which then misread the rest of the archive. */
static void test_pax_edges(void **state)
{
	int fd = tar_create("paxwrap.tar");
	/* 13 + (2^64 - 13) wraps to 0: the check must not index d[-1]. */
	static const char wrap[] = "13 comment=x\n18446744073709551603 k=v\n";
	tw_header(fd, "PaxHeaders/w", 'x', 0644, 0, 0, sizeof wrap - 1, NULL, 0, 0);
	tw_block(fd, wrap, sizeof wrap - 1);
	TW(fd, .name = "file", .data = "FILE");
	tw_close(fd);
	tar_index *t = must_index("paxwrap.tar", &fd);
	expect_file(t, fd, "file", "FILE");
	tar_index_free(t);
	close(fd);

	/* x (size=5), then a GNU long name of its own size, then the member. */
	fd = tar_create("paxthenlong.tar");
	tw_header(fd, "PaxHeaders/s", 'x', 0644, 0, 0, 10, NULL, 0, 0);
	tw_block(fd, "10 size=5\n", 10);
	char name[150];
	memset(name, 'l', sizeof name - 1);
	name[sizeof name - 1] = 0;
	tw_header(fd, "././@LongLink", 'L', 0644, 0, 0, sizeof name, NULL, 0, 0);
	tw_block(fd, name, sizeof name);
	tw_header(fd, "short", '0', 0644, 0, 0, 0, NULL, 0, 0);    /* header says 0 */
	tw_block(fd, "FIVE!", 5);
	TW(fd, .name = "after", .data = "AFTER");
	tw_close(fd);
	t = must_index("paxthenlong.tar", &fd);
	expect_file(t, fd, name, "FIVE!");
	expect_file(t, fd, "after", "AFTER");
	tar_index_free(t);
	close(fd);
}

static void test_broken(void **state)
{
	tar_index *t = NULL;
	kb_error e = { 0 };
	int fd;
	char big[10000];
	memset(big, 'z', sizeof big);
	write_at(dfd, "big", big, sizeof big);
	write_at(dfd, "small", "small", 0);
	assert_int_equal(run("cd %s && tar -cf full.tar big small && head -c 3000 full.tar > trunc.tar && "
			     "head -c 11776 full.tar > noend.tar", dir), 0);

	assert_int_equal(index_file("trunc.tar", 1000, &t, &fd, &e), -EINVAL);
	assert_contains(e.msg, "runs past the end");
	close(fd);

	/* Cut right after the last member: no end blocks, as GNU tar allows. */
	t = must_index("noend.tar", &fd);
	assert_int_equal(tar_index_count(t), 2);
	tar_index_free(t);
	close(fd);

	/* A corrupt header in the middle (the second member's, after 1 + 20 blocks). */
	size_t len;
	char *buf;
	assert_int_equal(read_file_at(dfd, "full.tar", 1 << 20, &buf, &len), 0);
	buf[21 * 512 + 1] ^= 0x20;
	write_at(dfd, "badsum.tar", buf, len);
	free(buf);
	memset(&e, 0, sizeof e);
	t = NULL;
	assert_int_equal(index_file("badsum.tar", 1000, &t, &fd, &e), -EINVAL);
	assert_contains(e.msg, "bad tar header at offset 10752");
	assert_null(t);
	close(fd);

	/* A GNU long-name record of 100 kB. */
	fd = tar_create("hugename.tar");
	char *name = malloc(100001);
	memset(name, 'n', 100000);
	name[100000] = 0;
	TW(fd, .name = name, .data = "x", .gnu = true);
	tw_close(fd);
	free(name);
	memset(&e, 0, sizeof e);
	assert_int_equal(index_file("hugename.tar", 1000, &t, &fd, &e), -EINVAL);
	assert_contains(e.msg, "extended header too long");
	close(fd);
}

static void test_max_members(void **state)
{
	tar_index *t = NULL;
	kb_error e = { 0 };
	int fd;

	assert_int_equal(run("cd %s && mkdir many && cd many && touch 1 2 3 4 5 6 7 8 9 10 && "
			     "tar -cf ../many.tar 1 2 3 4 5 6 7 8 9 10", dir), 0);
	assert_int_equal(index_file("many.tar", 5, &t, &fd, &e), -E2BIG);
	assert_contains(e.msg, "more than 5 members");
	close(fd);
	memset(&e, 0, sizeof e);
	assert_int_equal(index_file("many.tar", 10, &t, &fd, &e), 0);
	assert_int_equal(tar_index_count(t), 10);
	tar_index_free(t);
	tar_index_free(NULL);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_clean),
		cmocka_unit_test(test_header_valid),
		cmocka_unit_test(test_gnu_tar),
		cmocka_unit_test(test_long_names),
		cmocka_unit_test(test_skopeo_symlink),
		cmocka_unit_test(test_hardlink_and_loops),
		cmocka_unit_test(test_odd_members),
		cmocka_unit_test(test_pax_edges),
		cmocka_unit_test(test_broken),
		cmocka_unit_test(test_max_members),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
