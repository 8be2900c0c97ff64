/* The docker stand-in's own image store, in place of a Docker daemon's:
 * what `buildx build --load`, `docker build -t` and `docker tag` keep,
 * for the `save`, `rmi`, `tag`, `images` and `inspect` that follow in the
 * same release.  It lives in the build sandbox (/run/kbuild-ns/images, on
 * the release's fresh data layer), so each release starts with it empty.
 *
 *   ROOT/blobs/sha256/<hex>   configurations, manifests, layers built here
 *   ROOT/tags.json            {"<fully qualified reference>": "sha256:<manifest>"}
 *   ROOT/lock                 flock: tags.json is read, changed and renamed under it
 *   ROOT/tmp/                 layers being written
 *
 * Base layers are not copied in: their blobs are read from kbuild-ns's
 * store when an archive is written. */
#pragma once
#include "release/ociw.h"
#include "image/store.h"

typedef struct dstore {
	int fd, blobs_fd, tmp_fd;
	kb_store *base;              /* kbuild-ns's store (base layer blobs) */
} dstore;

int dstore_open(const char *root, kb_store *base, dstore **ret, kb_error *e);
void dstore_close(dstore *d);
static inline void dstore_closep(dstore **d) { dstore_close(*d); }

/* Keep an image under tags (fully qualified): its documents, and the
 * layer blob tmp/<layer> (moved in) when not NULL. */
int dstore_load(dstore *d, const oci_image *im, const char *layer, char *const *tags, size_t n, kb_error *e);
/* The image a reference (a tag, or an id or its first digits) names. */
int dstore_find(dstore *d, const char *ref, oci_image **ret, kb_error *e);
/* The tags that point at manifest m (fully qualified), sorted. */
int dstore_tags_of(dstore *d, const kb_digest *m, char ***ret, size_t *ret_n, kb_error *e);
/* rmi: drop a tag, or every tag of an image given by id; ENOENT when
 * there is no such image.  *ret_untagged lists what went. */
int dstore_untag(dstore *d, const char *ref, char ***ret_untagged, size_t *ret_n, kb_error *e);
int dstore_tag(dstore *d, const char *src, const char *dst, kb_error *e);
/* Every tag with its manifest, {"<ref>": "sha256:..."}. */
json_t *dstore_all(dstore *d, kb_error *e);
/* A blob_open_fn: blobs built here, then the base store's. */
int dstore_open_blob(void *ctx, const kb_digest *dg, kb_error *e);
