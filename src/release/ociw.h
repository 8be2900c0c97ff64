/* Writing images the way a release needs them: the files a Dockerfile
 * adds become one layer (sorted, owners as given, every time the source
 * date), the configuration and manifest are compact JSON with sorted
 * keys, and an image archive is the tar `docker save` writes since Docker
 * 25 (an OCI layout, blobs/sha256/, index.json, oci-layout, plus the
 * classic manifest.json), its members sorted, 0:0, every time the source
 * date.  The base image's layer blobs go in unchanged. */
#pragma once
#include "base/digest.h"
#include "image/platform.h"
#include "release/tarw.h"
#include <jansson.h>

#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_OCI_LAYER "application/vnd.oci.image.layer.v1.tar"
#define MT_OCI_LAYER_GZIP MT_OCI_LAYER "+gzip"
#define MT_OCI_LAYER_ZSTD MT_OCI_LAYER "+zstd"

/* ---- the files a build adds ---- */

typedef struct fs_node {
	char *path;                  /* relative to "/", no leading or trailing "/" */
	char type;                   /* '0' file, '5' directory, '2' symlink */
	unsigned mode, uid, gid;
	uint64_t size;
	char *link;                  /* symlink target */
	int srcdir;                  /* a file's content: openat2(srcdir, src, RESOLVE_IN_ROOT); not owned */
	char *src;
	bool has_cap;
	unsigned char cap[20];       /* security.capability, v2 (VFS_CAP_REVISION_2) */
} fs_node;

typedef struct fs_tree {
	fs_node **v;
	size_t n;
} fs_tree;

fs_node *fs_find(const fs_tree *t, const char *path);
/* The node at path, new or emptied for reuse (the path is kept). */
fs_node *fs_put(fs_tree *t, const char *path);
void fs_free(fs_tree *t);

/* The tree as a layer tar (sorted by path, every mtime = mtime) into
 * sink; files are read through their srcdir/src now. */
int fs_write_layer(const fs_tree *t, long long mtime, tar_sink_fn sink, void *ctx, kb_error *e);

/* ---- an image ---- */

typedef struct oci_layer {
	kb_digest digest;
	uint64_t size;
	char media[64];
} oci_layer;

/* An image as its two JSON documents, with what an archive needs. */
typedef struct oci_image {
	char *config;
	size_t config_len;
	kb_digest config_digest;
	char *manifest;
	size_t manifest_len;
	kb_digest manifest_digest;
	oci_layer *layers;
	size_t n_layers;
	kb_platform platform;
} oci_image;

/* Seal: config (a JSON object, consumed) and the layer list into the
 * documents and their digests. */
int oci_image_make(json_t *config, const oci_layer *layers, size_t n, oci_image **ret, kb_error *e);
/* The same from stored documents (the docker stand-in's own store). */
int oci_image_parse(const char *manifest, size_t mlen, const char *config, size_t clen, oci_image **ret, kb_error *e);
void oci_image_free(oci_image *im);
static inline void oci_image_freep(oci_image **im) { oci_image_free(*im); }
/* A blob's media type from its first bytes (gzip, zstd, else a plain tar). */
const char *oci_layer_media(const unsigned char *head, size_t n);

/* "2023-11-14T22:13:20Z" for Unix time t. */
void oci_time(long long t, char buf[32]);

/* ---- an image archive ---- */

/* Where an archive's layer blobs come from: an open fd (the caller
 * closes nothing; the writer closes what it gets). */
typedef int (*blob_open_fn)(void *ctx, const kb_digest *d, kb_error *e);

typedef struct oci_tagged {
	const oci_image *im;
	char *const *tags;           /* fully qualified references */
	size_t n_tags;
} oci_tagged;

/* The archive of images (and their tags) into fd. */
int oci_write_archive(int fd, const oci_tagged *imgs, size_t n, long long mtime, blob_open_fn open_blob, void *ctx,
		      kb_error *e);
