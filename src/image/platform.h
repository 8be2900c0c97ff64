/* OS/architecture/variant, as OCI indexes and image configs spell them. */
#pragma once
#include "base/util.h"
#include "runtime/error.h"

typedef struct kb_platform {
	char os[32];
	char arch[32];
	char variant[32];
} kb_platform;

/* Parse "linux/amd64" or "linux/arm64/v8". */
int platform_parse(const char *s, kb_platform *ret, kb_error *e);
/* The machine we run on, in Go's GOARCH names (x86_64 -> amd64). */
void platform_host(kb_platform *ret);
/* Does candidate c satisfy the wanted platform w?  An empty variant on
 * either side matches any variant; arm64 treats "v8" as the default. */
bool platform_match(const kb_platform *w, const kb_platform *c);
/* "linux/arm64/v8" into buf. */
const char *platform_str(const kb_platform *p, char *buf, size_t len);
/* Map a uname machine name to a GOARCH name ("x86_64" -> "amd64");
 * unknown names are returned unchanged. */
const char *platform_goarch(const char *machine, const char **ret_variant);
