/* Image references as Docker reads them ("busybox", "ghcr.io/o/x:1",
 * "localhost:5000/a@sha256:…"): the registry's domain, the repository
 * path, a tag and/or a digest.  A first component with no "." or ":" that
 * is not "localhost" is a Docker Hub path: docker.io, with "library/" in
 * front of a one-component name.  No network here: kbuild-ns uses this to
 * decide what to pull and under which name, kbuild-ns-image to pull it. */
#pragma once
#include "base/digest.h"

#define REF_MAX 255              /* Docker's limit on a whole name */
/* The longest whole reference: a REF_MAX name, ":" and a 128-character
 * tag, "@sha256:" and 64 hex digits (456). */
#define REF_FULL_MAX (REF_MAX + 1 + 128 + 8 + DIGEST_HEX_LEN)

typedef struct image_ref {
	char *domain;                /* "docker.io", "registry.k8s.io", "127.0.0.1:5000" */
	char *path;                  /* "library/busybox", "build-image/kube-cross" */
	char *tag;                   /* NULL with a digest and no tag */
	bool has_digest;
	kb_digest digest;
} image_ref;

/* Parse and normalise; ":latest" when neither tag nor digest is given. */
int ref_parse(const char *s, image_ref *ret, kb_error *e);
void ref_clear(image_ref *r);
/* The full name, "domain/path:tag", "domain/path@sha256:…" or both. */
char *ref_name(const image_ref *r);
/* The host to send API requests to: Docker Hub's is registry-1.docker.io. */
const char *ref_api_host(const char *domain);
/* localhost, 127.0.0.0/8 or ::1, with or without a port (Docker's
 * default insecure registries): plain HTTP is allowed there. */
bool host_is_loopback(const char *hostport);
/* Whether the image the build looks for as `want` (as image_find matches:
 * the whole name, or a name ending in "/want") is stored as `name`. */
bool ref_name_matches(const char *name, const char *want);
