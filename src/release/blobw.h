/* A layer blob being written: the tar stream is hashed (its diff_id),
 * compressed with zlib's gzip at one fixed level, and the compressed
 * bytes hashed (the blob's digest) on their way to a file.  zlib writes
 * a gzip header with no name and a zero time; the level, the zlib
 * version and the header's OS byte are the only other inputs, so one
 * build of kbuild-ns always writes the same bytes for the same tar
 * (other deflaters, pigz or igzip, would not: release-airgap.md §1.5). */
#pragma once
#include "base/digest.h"
#include "image/import/sha256.h"
#include <zlib.h>

#define BLOBW_LEVEL 6                /* gzip's default: what BuildKit and `gzip` use */

typedef struct blobw {
	int fd;
	bool gzip;
	z_stream z;
	bool z_open;
	sha256_ctx *plain, *packed;
	uint64_t plain_n, packed_n;
	unsigned char out[1 << 16];
} blobw;

/* gzip false: the blob is the tar itself (digest == diff_id). */
int blobw_open(blobw *b, int fd, bool gzip, kb_error *e);
/* A tar_sink_fn. */
int blobw_write(void *ctx, const void *p, size_t n, kb_error *e);
int blobw_close(blobw *b, kb_digest *ret_diff_id, kb_digest *ret_digest, uint64_t *ret_size, kb_error *e);
/* Release what an unfinished blobw holds (after an error). */
void blobw_free(blobw *b);
/* "zlib <version> level <n>": what to record about the deflater. */
const char *blobw_deflater(void);
