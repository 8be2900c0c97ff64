/* Content digests.  Only sha256 is accepted: it is what every OCI and
 * Docker image uses, and refusing anything else keeps blob names to one
 * safe shape (64 lowercase hex digits, no '/' or '..'). */
#pragma once
#include "error.h"

#define DIGEST_HEX_LEN 64

typedef struct kb_digest {
	char hex[DIGEST_HEX_LEN + 1];
} kb_digest;

/* Parse "sha256:<64 hex>"; anything else is refused with a message that
 * names the string. */
int digest_parse(const char *s, kb_digest *ret, kb_error *e);
/* True when s is exactly 64 lowercase hex digits. */
bool digest_hex_valid(const char *s);
/* Short form for messages: "sha256:3f2a1b0c9d8e". */
const char *digest_short(const kb_digest *d, char buf[static 24]);

/* SHA-256 (sha256.c, OpenSSL): in the image library only, linked by
 * kbuild-ns-image; the commands that start sandboxes never hash. */
typedef struct sha256_ctx sha256_ctx;
sha256_ctx *sha256_new(void);
void sha256_update(sha256_ctx *c, const void *p, size_t n);
void sha256_final(sha256_ctx *c, kb_digest *ret);
void sha256_free(sha256_ctx *c);
static inline void sha256_freep(sha256_ctx **c) { sha256_free(*c); }
/* One-shot digest of a buffer. */
void sha256_buf(const void *p, size_t n, kb_digest *ret);
