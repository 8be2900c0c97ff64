/* SHA-256 through OpenSSL: in the import library only, which is linked
 * by kbuild-ns-image alone; the commands that start sandboxes never hash
 * (cli/cmd-image.c says why). */
#pragma once
#include "base/digest.h"

typedef struct sha256_ctx sha256_ctx;
sha256_ctx *sha256_new(void);
void sha256_update(sha256_ctx *c, const void *p, size_t n);
void sha256_final(sha256_ctx *c, kb_digest *ret);
void sha256_free(sha256_ctx *c);
static inline void sha256_freep(sha256_ctx **c) { sha256_free(*c); }
/* One-shot digest of a buffer. */
void sha256_buf(const void *p, size_t n, kb_digest *ret);
