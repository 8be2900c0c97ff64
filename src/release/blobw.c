/* A layer blob being written (blobw.h): hash, deflate, hash, write. */
#include "release/blobw.h"

#include <errno.h>
#include <string.h>

int blobw_open(blobw *b, int fd, bool gzip, kb_error *e)
{
	memset(b, 0, sizeof *b);
	b->fd = fd;
	b->gzip = gzip;
	b->plain = sha256_new();
	b->packed = gzip ? sha256_new() : NULL;
	if (!b->plain || (gzip && !b->packed)) {
		blobw_free(b);
		return kb_err_oom(e, "layer");
	}
	/* windowBits 15 + 16: a gzip wrapper (zlib's header: no name, no
	 * time), memLevel 8 as gzip. */
	if (gzip && deflateInit2(&b->z, BLOBW_LEVEL, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		blobw_free(b);
		return kb_errx(e, ENOMEM, "layer: zlib deflateInit2 failed");
	}
	b->z_open = gzip;
	return 0;
}

static int put(blobw *b, const void *p, size_t n, kb_error *e)
{
	if (b->packed)
		sha256_update(b->packed, p, n);
	b->packed_n += n;
	int r = write_all(b->fd, p, n);
	return r < 0 ? kb_err(e, -r, "layer blob") : 0;
}

static int deflate_some(blobw *b, int flush, kb_error *e)
{
	int zr;
	do {
		b->z.next_out = b->out;
		b->z.avail_out = sizeof b->out;
		zr = deflate(&b->z, flush);
		if (zr == Z_STREAM_ERROR)
			return kb_errx(e, EIO, "layer: deflate failed");
		size_t have = sizeof b->out - b->z.avail_out;
		int r = have ? put(b, b->out, have, e) : 0;
		if (r < 0)
			return r;
	} while (b->z.avail_out == 0 || (flush == Z_FINISH && zr != Z_STREAM_END));
	return 0;
}

int blobw_write(void *ctx, const void *p, size_t n, kb_error *e)
{
	blobw *b = ctx;
	sha256_update(b->plain, p, n);
	b->plain_n += n;
	if (!b->gzip)
		return put(b, p, n, e);
	while (n) {
		/* avail_in is an unsigned int: feed at most 1 GiB at a time. */
		size_t chunk = n < (1u << 30) ? n : 1u << 30;
		b->z.next_in = (unsigned char *)(uintptr_t)p;
		b->z.avail_in = (unsigned)chunk;
		int r = deflate_some(b, Z_NO_FLUSH, e);
		if (r < 0)
			return r;
		p = (const char *)p + chunk;
		n -= chunk;
	}
	return 0;
}

int blobw_close(blobw *b, kb_digest *ret_diff_id, kb_digest *ret_digest, uint64_t *ret_size, kb_error *e)
{
	int r = 0;
	if (b->gzip) {
		b->z.next_in = NULL;
		b->z.avail_in = 0;
		r = deflate_some(b, Z_FINISH, e);
	}
	if (r == 0) {
		sha256_final(b->plain, ret_diff_id);
		if (b->gzip)
			sha256_final(b->packed, ret_digest);
		else
			*ret_digest = *ret_diff_id;
		*ret_size = b->packed_n;
	}
	blobw_free(b);
	return r;
}

void blobw_free(blobw *b)
{
	if (b->z_open)
		deflateEnd(&b->z);
	b->z_open = false;
	sha256_free(b->plain);
	sha256_free(b->packed);
	b->plain = b->packed = NULL;
}

const char *blobw_deflater(void)
{
	static char buf[64];
	snprintf(buf, sizeof buf, "zlib %s level %d", zlibVersion(), BLOBW_LEVEL);
	return buf;
}
