/* MD5 (RFC 1321), for one thing only: the checkout key upstream's
 * build/common.sh computes with md5sum (project.c).  Not for security:
 * image content is checked with SHA-256.  Built in so that the commands
 * that start sandboxes need no crypto library: loading libcrypto and its
 * first use cost about 1 ms per run. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define MD5_LEN 16

typedef struct md5_ctx {
	uint32_t h[4];
	uint64_t len;            /* bytes so far */
	unsigned char buf[64];   /* a partial block */
} md5_ctx;

void md5_init(md5_ctx *c);
void md5_update(md5_ctx *c, const void *p, size_t n);
void md5_final(md5_ctx *c, unsigned char out[MD5_LEN]);
/* One-shot digest of a buffer. */
void md5_buf(const void *p, size_t n, unsigned char out[MD5_LEN]);
