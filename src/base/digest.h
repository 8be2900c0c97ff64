/* Content digests.  Only sha256 is accepted: it is what every OCI and
 * Docker image uses, and refusing anything else keeps blob names to one
 * safe shape (64 lowercase hex digits, no '/' or '..'). */
#pragma once
#include "base/util.h"
#include "runtime/error.h"

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
