/* zstream: plain/gzip/zstd detection by magic bytes (not name), output
 * identical to the input of gzip(1)/zstd(1), both digests and byte
 * counts, byte ranges inside a bigger file, multi-member gzip (also with
 * a member boundary at the reader's 256 KiB buffer edge) and multi-frame
 * zstd, truncated and corrupt streams, garbage after the end, the size
 * cap (EFBIG) and a range that runs past the end of the file. */
#include "image/import/sha256.h"
#include "unit.h"
#include "image/import/zstream.h"

static char *dir;
static int dfd = -1;
static unsigned char *data;          /* 3 MiB test payload */
static const size_t data_len = 3u << 20;

/* Half noise, half text: gzip and zstd really work, in several blocks. */
static void make_data(void)
{
	uint32_t x = 2463534242u;
	data = malloc(data_len);
	assert_non_null(data);
	for (size_t i = 0; i < data_len; i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		data[i] = (i / 4096) % 2 ? (unsigned char)x : (unsigned char)("kbuild-ns "[i % 10]);
	}
}

static int setup(void **state)
{
	dir = tmpdir_new();
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	make_data();
	write_at(dfd, "data", data, data_len);
	assert_int_equal(run("cd %s && gzip -n -c data > data.gz && zstd -q -c data > data.zst && "
			     "head -c 100000 data > a && tail -c 70000 data > b && "
			     "gzip -n -c a > a.gz && gzip -n -c b > b.gz && cat a.gz b.gz > ab.gz && "
			     "zstd -q -c a > a.zst && zstd -q -c b > b.zst && cat a.zst b.zst > ab.zst", dir), 0);
	return 0;
}

static int teardown(void **state)
{
	close(dfd);
	tmpdir_free(dir);
	free(data);
	return 0;
}

static char *slurp(const char *name, size_t *len)
{
	char *buf;
	assert_int_equal(read_file_at(dfd, name, 64u << 20, &buf, len), 0);
	return buf;
}

typedef struct result {
	int r;
	unsigned char *out;
	size_t len;
	zs_kind kind;
	kb_digest din, dout;
	uint64_t in_bytes;
	kb_error e;
} result;

/* Read name[off, off+len) (len 0 = to the end) through a zstream. */
static result rd(const char *name, uint64_t off, uint64_t len, unsigned flags, uint64_t cap)
{
	result res = { 0 };
	struct stat st;
	const void *p;
	ssize_t n;
	zstream *z = NULL;
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	if (!len)
		len = (uint64_t)st.st_size - off;
	res.r = zstream_open(&z, fd, off, len, flags, cap, "layer sha256:0123456789ab", &res.e);
	if (res.r == 0) {
		res.kind = zstream_kind(z);
		while ((n = zstream_read(z, &p, &res.e)) > 0) {
			res.out = realloc(res.out, res.len + (size_t)n);
			assert_non_null(res.out);
			memcpy(res.out + res.len, p, (size_t)n);
			res.len += (size_t)n;
		}
		res.r = (int)n;
		if (n == 0) {
			zstream_digest_in(z, &res.din);
			zstream_digest_out(z, &res.dout);
			res.in_bytes = zstream_in_bytes(z);
			assert_int_equal(zstream_out_bytes(z), res.len);
		}
	}
	zstream_free(z);
	close(fd);
	return res;
}

static void check_ok(result *res, const void *want, size_t want_len, zs_kind kind)
{
	if (res->r != 0)
		fail_msg("read failed: %d %s", res->r, res->e.msg);
	assert_int_equal(res->kind, kind);
	assert_int_equal(res->len, want_len);
	assert_memory_equal(res->out, want, want_len);
	kb_digest d;
	sha256_buf(want, want_len, &d);
	assert_string_equal(res->dout.hex, d.hex);
	free(res->out);
	res->out = NULL;
}

static void check_file_digest(const result *res, const char *name)
{
	size_t len;
	char *buf = slurp(name, &len);
	kb_digest d;
	sha256_buf(buf, len, &d);
	assert_string_equal(res->din.hex, d.hex);
	assert_int_equal(res->in_bytes, len);
	free(buf);
}

static void check_err(result *res, int err, const char *text)
{
	if (res->r != -err)
		fail_msg("expected %d, got %d (%s)", -err, res->r, res->e.msg);
	assert_contains(res->e.msg, "layer sha256:0123456789ab");
	assert_contains(res->e.msg, text);
	free(res->out);
}

#define ALL (ZS_DETECT | ZS_HASH_IN | ZS_HASH_OUT)

static void test_plain(void **state)
{
	result r = rd("data", 0, 0, ALL, 0);
	check_ok(&r, data, data_len, ZS_PLAIN);
	check_file_digest(&r, "data");
	assert_string_equal(r.din.hex, r.dout.hex);
	/* Only the input hash asked for: the output digest is the same bytes. */
	r = rd("data", 0, 0, ZS_HASH_IN, 0);
	check_ok(&r, data, data_len, ZS_PLAIN);
	assert_string_equal(zs_kind_name(ZS_PLAIN), "uncompressed");
}

static void test_gzip(void **state)
{
	result r = rd("data.gz", 0, 0, ALL, 0);
	check_ok(&r, data, data_len, ZS_GZIP);
	check_file_digest(&r, "data.gz");
	assert_string_equal(zs_kind_name(ZS_GZIP), "gzip");
}

static void test_zstd(void **state)
{
	result r = rd("data.zst", 0, 0, ALL, 0);
	check_ok(&r, data, data_len, ZS_ZSTD);
	check_file_digest(&r, "data.zst");
	assert_string_equal(zs_kind_name(ZS_ZSTD), "zstd");
}

/* Without ZS_DETECT compressed bytes come out as they are. */
static void test_no_detect(void **state)
{
	size_t len;
	char *gz = slurp("data.gz", &len);
	result r = rd("data.gz", 0, 0, ZS_HASH_IN | ZS_HASH_OUT, 0);
	check_ok(&r, gz, len, ZS_PLAIN);
	free(gz);
}

/* A member of a bigger file (a layer inside a tar), wrapped in junk. */
static void test_range(void **state)
{
	size_t len;
	char *gz = slurp("data.gz", &len);
	char *buf = malloc(len + 1000);
	assert_non_null(buf);
	memset(buf, 'J', 500);
	memcpy(buf + 500, gz, len);
	memset(buf + 500 + len, 'T', 500);
	write_at(dfd, "wrapped", buf, len + 1000);
	result r = rd("wrapped", 500, len, ALL, 0);
	check_ok(&r, data, data_len, ZS_GZIP);
	check_file_digest(&r, "data.gz");
	r = rd("wrapped", 100, 200, ALL, 0);
	check_ok(&r, buf + 100, 200, ZS_PLAIN);
	free(buf);
	free(gz);
}

static void test_empty(void **state)
{
	write_at(dfd, "empty", "", 0);
	result r = rd("empty", 0, 0, ALL, 0);
	check_ok(&r, "", 0, ZS_PLAIN);
	assert_string_equal(r.din.hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_int_equal(run("cd %s && gzip -n -c empty > empty.gz && zstd -q -c empty > empty.zst", dir), 0);
	r = rd("empty.gz", 0, 0, ALL, 0);
	check_ok(&r, "", 0, ZS_GZIP);
	r = rd("empty.zst", 0, 0, ALL, 0);
	check_ok(&r, "", 0, ZS_ZSTD);
}

static void test_multi_member(void **state)
{
	unsigned char *ab = malloc(170000);
	assert_non_null(ab);
	memcpy(ab, data, 100000);
	memcpy(ab + 100000, data + data_len - 70000, 70000);
	result r = rd("ab.gz", 0, 0, ALL, 0);
	check_ok(&r, ab, 170000, ZS_GZIP);
	check_file_digest(&r, "ab.gz");
	r = rd("ab.zst", 0, 0, ALL, 0);
	check_ok(&r, ab, 170000, ZS_ZSTD);
	free(ab);
}

/* A second gzip member may start anywhere, also where the reader's input
 * buffer (256 KiB) ends with only its first magic byte: pad the first
 * member's header with an FNAME field so that it ends at chosen offsets
 * around 262144 (262143 once failed as "garbage after the end"). */
static void test_member_boundary(void **state)
{
	size_t alen, blen;
	write_at(dfd, "noise", data + 4096, 255000);    /* noise: stored blocks */
	assert_int_equal(run("cd %s && gzip -n -c noise > noise.gz", dir), 0);
	char *a = slurp("noise.gz", &alen), *b = slurp("b.gz", &blen);
	unsigned char *want = malloc(255000 + 70000);
	assert_non_null(want);
	memcpy(want, data + 4096, 255000);
	memcpy(want + 255000, data + data_len - 70000, 70000);
	assert_true(alen < 262140);
	for (size_t end = 262140; end <= 262148; end++) {
		size_t pad = end - alen;    /* name bytes incl. its NUL */
		char *f = malloc(end + blen);
		assert_non_null(f);
		memcpy(f, a, 10);
		f[3] |= 0x08;               /* FLG.FNAME */
		memset(f + 10, 'n', pad - 1);
		f[10 + pad - 1] = 0;
		memcpy(f + 10 + pad, a + 10, alen - 10);
		memcpy(f + end, b, blen);
		write_at(dfd, "boundary.gz", f, end + blen);
		free(f);
		result r = rd("boundary.gz", 0, 0, ALL, 0);
		if (r.r != 0)
			fail_msg("second member at offset %zu: %s", end, r.e.msg);
		check_ok(&r, want, 255000 + 70000, ZS_GZIP);
	}
	free(want);
	free(a);
	free(b);
}

static void test_truncated(void **state)
{
	struct stat st;
	assert_int_equal(fstatat(dfd, "data.gz", &st, 0), 0);
	result r = rd("data.gz", 0, (uint64_t)st.st_size / 2, ALL, 0);
	check_err(&r, EINVAL, "truncated gzip stream");
	/* Only the trailer's size field missing. */
	r = rd("data.gz", 0, (uint64_t)st.st_size - 4, ALL, 0);
	check_err(&r, EINVAL, "gzip");
	assert_int_equal(fstatat(dfd, "data.zst", &st, 0), 0);
	r = rd("data.zst", 0, (uint64_t)st.st_size / 2, ALL, 0);
	check_err(&r, EINVAL, "truncated zstd stream");
	r = rd("data.zst", 0, (uint64_t)st.st_size - 3, ALL, 0);
	check_err(&r, EINVAL, "zstd");
}

static void test_garbage_after(void **state)
{
	assert_int_equal(run("cd %s && (cat a.gz; printf 'hello') > junk.gz && (cat a.gz; printf 'x') > junk1.gz && "
			     "(cat a.zst; printf 'hello world') > junk.zst", dir), 0);
	result r = rd("junk.gz", 0, 0, ALL, 0);
	check_err(&r, EINVAL, "garbage after the end of the gzip stream");
	r = rd("junk1.gz", 0, 0, ALL, 0);
	check_err(&r, EINVAL, "garbage after the end of the gzip stream");
	r = rd("junk.zst", 0, 0, ALL, 0);
	check_err(&r, EINVAL, "zstd");
}

static void test_corrupt(void **state)
{
	size_t len;
	char *gz = slurp("a.gz", &len);
	gz[len / 2] ^= 0x55;
	write_at(dfd, "bad.gz", gz, len);
	result r = rd("bad.gz", 0, 0, ALL, 0);
	check_err(&r, EINVAL, "corrupt gzip stream");
	gz[len / 2] ^= 0x55;
	gz[len - 6] ^= 0x01;    /* CRC32 */
	write_at(dfd, "badcrc.gz", gz, len);
	r = rd("badcrc.gz", 0, 0, ALL, 0);
	check_err(&r, EINVAL, "checksum mismatch");
	free(gz);

	char *zs = slurp("a.zst", &len);
	zs[len / 2] ^= 0x55;
	write_at(dfd, "bad.zst", zs, len);
	r = rd("bad.zst", 0, 0, ALL, 0);
	check_err(&r, EINVAL, "corrupt zstd stream");
	free(zs);
}

static void test_cap(void **state)
{
	static const char *files[] = { "data", "data.gz", "data.zst" };
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		result r = rd(files[i], 0, 0, ALL, data_len);
		check_ok(&r, data, data_len, i == 0 ? ZS_PLAIN : i == 1 ? ZS_GZIP : ZS_ZSTD);
		r = rd(files[i], 0, 0, ALL, data_len - 1);
		check_err(&r, EFBIG, "exceeds the limit");
		/* The cap stops the stream early, not after inflating it all. */
		assert_true(r.len < data_len);
		r = rd(files[i], 0, 0, ALL, 1000);
		check_err(&r, EFBIG, "--max-layer-size");
	}
}

static void test_past_end(void **state)
{
	result r = rd("a", 0, 200000, ALL, 0);
	check_err(&r, EIO, "truncated");
	r = rd("a.gz", 0, 200000, ALL, 0);
	check_err(&r, EIO, "file ends early");
}

static void test_drain(void **state)
{
	int fd = openat(dfd, "data.zst", O_RDONLY | O_CLOEXEC);
	zstream *z;
	kb_error e = { 0 };
	kb_digest d;
	struct stat st;

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(zstream_open(&z, fd, 0, (uint64_t)st.st_size, ALL, 0, "x", &e), 0);
	assert_int_equal(zstream_drain(z, &e), 0);
	assert_int_equal(zstream_out_bytes(z), data_len);
	zstream_digest_out(z, &d);
	kb_digest want;
	sha256_buf(data, data_len, &want);
	assert_string_equal(d.hex, want.hex);
	zstream_free(z);
	zstream_free(NULL);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_gzip),
		cmocka_unit_test(test_zstd),
		cmocka_unit_test(test_no_detect),
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_multi_member),
		cmocka_unit_test(test_member_boundary),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_garbage_after),
		cmocka_unit_test(test_corrupt),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_past_end),
		cmocka_unit_test(test_drain),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
