/* The decompressing, digesting reader every blob goes through (zstream.h). */
#include "image/import/sha256.h"
#include "image/import/zstream.h"

#include <errno.h>
#include <string.h>
#include <isa-l/igzip_lib.h>
#include <zstd.h>

#define IN_SIZE (256 * 1024)
#define OUT_SIZE (1024 * 1024)

struct zstream {
	int fd;                     /* pread from here, unless rd is set */
	zs_read_fn rd;
	void *rd_ctx;
	uint64_t pos, end;          /* next file offset to read, end of range */
	unsigned flags;
	zs_kind kind;
	uint64_t cap, in_bytes, out_bytes;
	bool eof;                   /* decompressed stream has ended */
	char what[160];

	sha256_ctx *hin, *hout;
	kb_digest din, dout;
	bool finished;

	unsigned char *in;          /* compressed buffer (gzip/zstd) */
	size_t in_pos, in_len;
	unsigned char *out;
	struct inflate_state *gz;
	bool gz_member_done;        /* a gzip member ended; another may follow */
	ZSTD_DStream *zs;
	size_t zs_last;             /* last ZSTD_decompressStream hint; 0 = frame done */
};

const char *zs_kind_name(zs_kind k)
{
	return k == ZS_GZIP ? "gzip" : k == ZS_ZSTD ? "zstd" : "uncompressed";
}

/* Read the next stored bytes into buf, hashing them. */
static ssize_t src_read(zstream *z, void *buf, size_t n, kb_error *e)
{
	if (z->pos >= z->end)
		return 0;
	if (n > z->end - z->pos)
		n = (size_t)(z->end - z->pos);
	for (;;) {
		ssize_t r = z->rd ? z->rd(z->rd_ctx, buf, n, e) : pread(z->fd, buf, n, (off_t)z->pos);
		if (r < 0 && z->rd)
			return r;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return kb_err(e, errno, "%s: read", z->what);
		if (r == 0 && z->rd)
			return kb_errx(e, EIO, "%s: ends early (truncated): %llu of %llu bytes", z->what,
				       (unsigned long long)z->pos, (unsigned long long)z->end);
		if (r == 0)
			return kb_errx(e, EIO, "%s: file ends early (truncated)", z->what);
		z->pos += (uint64_t)r;
		z->in_bytes += (uint64_t)r;
		if (z->hin)
			sha256_update(z->hin, buf, (size_t)r);
		return r;
	}
}

static int fill_in(zstream *z, kb_error *e)
{
	if (z->in_pos < z->in_len)
		return 1;
	ssize_t n = src_read(z, z->in, IN_SIZE, e);
	if (n < 0)
		return (int)n;
	z->in_pos = 0;
	z->in_len = (size_t)n;
	return n > 0;
}

static int zs_init(zstream *z, uint64_t off, uint64_t len, unsigned flags, uint64_t cap, const char *what,
		   kb_error *e);

int zstream_open(zstream **ret, int fd, uint64_t off, uint64_t len, unsigned flags,
		 uint64_t cap, const char *what, kb_error *e)
{
	zstream *z = calloc(1, sizeof *z);
	if (!z)
		return kb_err_oom(e, what);
	z->fd = fd;
	int r = zs_init(z, off, len, flags, cap, what, e);
	if (r == 0)
		*ret = z;
	return r;
}

int zstream_open_reader(zstream **ret, zs_read_fn rd, void *rd_ctx, uint64_t len, unsigned flags,
			uint64_t cap, const char *what, kb_error *e)
{
	zstream *z = calloc(1, sizeof *z);
	if (!z)
		return kb_err_oom(e, what);
	z->fd = -1;
	z->rd = rd;
	z->rd_ctx = rd_ctx;
	int r = zs_init(z, 0, len, flags, cap, what, e);
	if (r == 0)
		*ret = z;
	return r;
}

/* Buffers, digests and the decompressor; frees z on failure. */
static int zs_init(zstream *z, uint64_t off, uint64_t len, unsigned flags, uint64_t cap, const char *what,
		   kb_error *e)
{
	z->pos = off;
	z->end = off + len;
	z->flags = flags;
	z->cap = cap;
	snprintf(z->what, sizeof z->what, "%s", what);
	z->out = malloc(OUT_SIZE);
	if (!z->out)
		goto nomem;
	if ((flags & ZS_HASH_IN) && !(z->hin = sha256_new()))
		goto nomem;
	if (flags & ZS_DETECT) {
		z->in = malloc(IN_SIZE);
		if (!z->in)
			goto nomem;
		int r = fill_in(z, e);
		if (r < 0) {
			zstream_free(z);
			return r;
		}
		if (z->in_len >= 2 && z->in[0] == 0x1f && z->in[1] == 0x8b)
			z->kind = ZS_GZIP;
		else if (z->in_len >= 4 && !memcmp(z->in, "\x28\xb5\x2f\xfd", 4))
			z->kind = ZS_ZSTD;
	}
	/* For a plain stream both digests are the same bytes: hash once. */
	if ((flags & ZS_HASH_OUT) && (z->kind != ZS_PLAIN || !z->hin) && !(z->hout = sha256_new()))
		goto nomem;
	if (z->kind == ZS_GZIP) {
		z->gz = malloc(sizeof *z->gz);
		if (!z->gz)
			goto nomem;
		isal_inflate_init(z->gz);
		z->gz->crc_flag = ISAL_GZIP;    /* parse header, verify CRC32 and ISIZE */
	} else if (z->kind == ZS_ZSTD) {
		z->zs = ZSTD_createDStream();
		if (!z->zs)
			goto nomem;
		/* A hostile frame may ask for a huge window; 2^27 is zstd's own
		 * default limit and what `zstd --long` produces. */
		ZSTD_DCtx_setParameter(z->zs, ZSTD_d_windowLogMax, 27);
		z->zs_last = 1;
	}
	return 0;
nomem:
	zstream_free(z);
	return kb_err_oom(e, what);
}

static ssize_t read_plain(zstream *z, kb_error *e)
{
	/* Bytes sniffed at open time come first. */
	if (z->in && z->in_pos < z->in_len) {
		size_t n = z->in_len - z->in_pos;
		memcpy(z->out, z->in + z->in_pos, n);
		z->in_pos = z->in_len;
		return (ssize_t)n;
	}
	return src_read(z, z->out, OUT_SIZE, e);
}

static ssize_t read_gzip(zstream *z, kb_error *e)
{
	struct inflate_state *s = z->gz;

	for (;;) {
		int r = fill_in(z, e);
		if (r < 0)
			return r;
		if (z->gz_member_done) {
			if (r == 0)
				return 0;    /* clean end after a complete member */
			/* Another member follows (pigz, concatenated gzip) or junk.
			 * Its two magic bytes may straddle the buffer's end. */
			if (z->in_len - z->in_pos < 2 && z->pos < z->end) {
				size_t left = z->in_len - z->in_pos;
				memmove(z->in, z->in + z->in_pos, left);
				ssize_t n = src_read(z, z->in + left, IN_SIZE - left, e);
				if (n < 0)
					return (int)n;
				z->in_pos = 0;
				z->in_len = left + (size_t)n;
			}
			if (z->in_len - z->in_pos < 2 ||
			    z->in[z->in_pos] != 0x1f || z->in[z->in_pos + 1] != 0x8b)
				return kb_errx(e, EINVAL, "%s: garbage after the end of the gzip stream", z->what);
			isal_inflate_reset(s);
			s->crc_flag = ISAL_GZIP;
			z->gz_member_done = false;
		}
		if (r == 0)
			return kb_errx(e, EINVAL, "%s: truncated gzip stream", z->what);
		s->next_in = z->in + z->in_pos;
		s->avail_in = (uint32_t)(z->in_len - z->in_pos);
		s->next_out = z->out;
		s->avail_out = OUT_SIZE;
		int st = isal_inflate(s);
		z->in_pos = z->in_len - s->avail_in;
		if (st != ISAL_DECOMP_OK)
			return kb_errx(e, EINVAL, "%s: corrupt gzip stream (%s)", z->what,
				       st == ISAL_INCORRECT_CHECKSUM ? "checksum mismatch" :
				       st == ISAL_INVALID_BLOCK ? "invalid block" :
				       st == ISAL_INVALID_SYMBOL ? "invalid symbol" :
				       st == ISAL_INVALID_LOOKBACK ? "invalid distance" :
				       st == ISAL_UNSUPPORTED_METHOD ? "unsupported method" : "bad header");
		if (s->block_state == ISAL_BLOCK_FINISH)
			z->gz_member_done = true;
		size_t n = OUT_SIZE - s->avail_out;
		if (n > 0)
			return (ssize_t)n;
	}
}

static ssize_t read_zstd(zstream *z, kb_error *e)
{
	for (;;) {
		int r = fill_in(z, e);
		if (r < 0)
			return r;
		if (r == 0) {
			if (z->zs_last != 0)
				return kb_errx(e, EINVAL, "%s: truncated zstd stream", z->what);
			return 0;
		}
		ZSTD_inBuffer ib = { z->in, z->in_len, z->in_pos };
		ZSTD_outBuffer ob = { z->out, OUT_SIZE, 0 };
		size_t h = ZSTD_decompressStream(z->zs, &ob, &ib);
		z->in_pos = ib.pos;
		if (ZSTD_isError(h))
			return kb_errx(e, EINVAL, "%s: corrupt zstd stream (%s)", z->what, ZSTD_getErrorName(h));
		z->zs_last = h;
		if (ob.pos > 0)
			return (ssize_t)ob.pos;
	}
}

ssize_t zstream_read(zstream *z, const void **ret_buf, kb_error *e)
{
	ssize_t n;

	if (z->eof)
		return 0;
	switch (z->kind) {
	case ZS_GZIP: n = read_gzip(z, e); break;
	case ZS_ZSTD: n = read_zstd(z, e); break;
	default:      n = read_plain(z, e); break;
	}
	if (n < 0)
		return n;
	if (n == 0) {
		z->eof = true;
		return 0;
	}
	z->out_bytes += (uint64_t)n;
	if (z->cap && z->out_bytes > z->cap) {
		return kb_errx(e, EFBIG, "%s: uncompressed size exceeds the limit of %llu bytes (--max-layer-size)",
			       z->what, (unsigned long long)z->cap);
	}
	if (z->hout)
		sha256_update(z->hout, z->out, (size_t)n);
	*ret_buf = z->out;
	return n;
}

int zstream_drain(zstream *z, kb_error *e)
{
	const void *b;
	ssize_t n;
	while ((n = zstream_read(z, &b, e)) > 0)
		;
	return (int)n;
}

static void finish(zstream *z)
{
	if (z->finished)
		return;
	z->finished = true;
	if (z->hin)
		sha256_final(z->hin, &z->din);
	if (z->hout)
		sha256_final(z->hout, &z->dout);
	else if (z->hin)
		z->dout = z->din;
}

void zstream_digest_in(zstream *z, kb_digest *ret) { finish(z); *ret = z->din; }
void zstream_digest_out(zstream *z, kb_digest *ret) { finish(z); *ret = z->dout; }
uint64_t zstream_in_bytes(const zstream *z) { return z->in_bytes; }
uint64_t zstream_out_bytes(const zstream *z) { return z->out_bytes; }
zs_kind zstream_kind(const zstream *z) { return z->kind; }

void zstream_free(zstream *z)
{
	if (!z)
		return;
	sha256_free(z->hin);
	sha256_free(z->hout);
	free(z->in);
	free(z->out);
	free(z->gz);
	ZSTD_freeDStream(z->zs);
	free(z);
}
