/* Registry credentials from the files Docker and podman write
 * (`docker login`, `podman login`, `skopeo login`):
 *
 *   $REGISTRY_AUTH_FILE, else ${XDG_RUNTIME_DIR}/containers/auth.json,
 *   then ${XDG_CONFIG_HOME:-~/.config}/containers/auth.json, then
 *   ${DOCKER_CONFIG:-~/.docker}/config.json
 *
 * the first file with an "auths" entry for the registry wins.  Only the
 * "auth" field (base64 of USER:PASSWORD) is read; credential helpers
 * ("credHelpers", "credsStore") are not run, and a registry that only
 * has one is reached anonymously (out_verbose says so).  Nothing here
 * ever prints a credential, and no message carries one. */
#pragma once
#include "base/util.h"
#include "runtime/error.h"

typedef struct reg_creds {
	char *user;
	char *pass;
	char *file;                  /* where they were found (for messages) */
} reg_creds;

/* Credentials for domain ("docker.io", "host:port") and repository
 * path: an entry for "domain/path…" (containers' per-repository keys)
 * beats one for the domain.  0 with ret empty when there are none; a
 * negative errno only for an unreadable or malformed file. */
int creds_find(const char *domain, const char *path, reg_creds *ret, kb_error *e);
void creds_clear(reg_creds *c);
/* Standard base64 (for Basic auth headers); the result is malloc'd. */
char *base64_encode(const void *data, size_t len);
