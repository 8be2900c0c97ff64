/* A decompressing, digesting reader over a byte range of a file, or over
 * a stream of known length that a callback delivers (a registry's blob).
 *
 * Every blob is read through one of these: it hashes the stored bytes
 * (the blob digest), detects gzip or zstd by magic bytes (never by media
 * type or file name), inflates, hashes what comes out (the diff_id) and
 * stops at a size cap, so a decompression bomb ends in an error instead
 * of a full disk.  Memory is a few fixed buffers whatever the size. */
#pragma once
#include "base/digest.h"

typedef enum { ZS_PLAIN, ZS_GZIP, ZS_ZSTD } zs_kind;

enum {
	ZS_DETECT = 1 << 0,    /* sniff gzip/zstd magic; else read as is */
	ZS_HASH_IN = 1 << 1,   /* digest of the stored bytes */
	ZS_HASH_OUT = 1 << 2,  /* digest of the decompressed bytes */
};

typedef struct zstream zstream;

/* A source of stored bytes: up to n bytes into buf; the count, 0 at its
 * end, or a negative errno with e filled. */
typedef ssize_t (*zs_read_fn)(void *ctx, void *buf, size_t n, kb_error *e);

/* Read len bytes of fd starting at off.  cap limits the decompressed
 * size (0 = no limit).  what names the stream in error messages. */
int zstream_open(zstream **ret, int fd, uint64_t off, uint64_t len, unsigned flags,
		 uint64_t cap, const char *what, kb_error *e);
/* The same over len bytes that rd delivers in order (never asked for more
 * than len; an end before len is "truncated"). */
int zstream_open_reader(zstream **ret, zs_read_fn rd, void *rd_ctx, uint64_t len, unsigned flags,
			uint64_t cap, const char *what, kb_error *e);
/* Next chunk of decompressed data in *ret_buf: returns its length, 0 at
 * the end of the stream, negative errno on error. */
ssize_t zstream_read(zstream *z, const void **ret_buf, kb_error *e);
/* Read and discard to the end (so digests cover every byte). */
int zstream_drain(zstream *z, kb_error *e);
/* Valid after zstream_read returned 0. */
void zstream_digest_in(zstream *z, kb_digest *ret);
void zstream_digest_out(zstream *z, kb_digest *ret);
uint64_t zstream_in_bytes(const zstream *z);
uint64_t zstream_out_bytes(const zstream *z);
zs_kind zstream_kind(const zstream *z);
const char *zs_kind_name(zs_kind k);
void zstream_free(zstream *z);
static inline void zstream_freep(zstream **z) { zstream_free(*z); }
