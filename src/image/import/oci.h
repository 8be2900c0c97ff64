/* Reading image metadata: OCI index/manifest/config (also inside Docker
 * 25+ archives) and the classic docker-save manifest.json.  The result is
 * a plan: per image, its names, platform, config and the layer list with
 * the digests each layer must match.  Nothing here touches the store. */
#pragma once
#include "image/import/source.h"
#include "image/platform.h"
#include <jansson.h>

/* Limits on metadata size: real manifests are a few kB, configs rarely
 * over a few hundred kB. */
#define MAX_INDEX_SIZE (4u << 20)
#define MAX_MANIFEST_SIZE (4u << 20)
#define MAX_CONFIG_SIZE (16u << 20)
#define MAX_LAYERS 500            /* overlayfs' own limit on lower layers */

typedef enum { FMT_OCI, FMT_DOCKER, FMT_ROOTFS } image_format;

typedef struct layer_plan {
	char *member;            /* name in the source; NULL = the whole tar (rootfs) */
	char *media_type;
	bool has_digest;         /* digest and size known in advance */
	kb_digest digest;
	uint64_t size;
	bool has_diff_id;
	kb_digest diff_id;
} layer_plan;

typedef struct image_plan {
	char **names;
	size_t n_names;
	kb_platform platform;
	bool has_manifest;
	kb_digest manifest_digest;
	char *manifest;          /* raw manifest bytes (stored as a blob) */
	size_t manifest_len;
	kb_digest config_digest;
	char *config;            /* raw config bytes; NULL until made (rootfs) */
	size_t config_len;
	layer_plan *layers;
	size_t n_layers;
} image_plan;

typedef struct plan_opts {
	kb_platform want;
	bool want_explicit;      /* --platform given: a mismatch is an error */
} plan_opts;

/* Where the documents named by digest (indexes, manifests, configs) are
 * read from: an archive's blobs/sha256/, or a registry.  read checks
 * the digest and, unless size is UINT64_MAX, the size, and refuses more
 * than max bytes. */
typedef enum { BLOB_MANIFEST, BLOB_CONFIG } blob_kind;
typedef struct blob_reader {
	int (*read)(void *ctx, blob_kind kind, const kb_digest *d, uint64_t size, size_t max, char **ret,
		    size_t *ret_len, kb_error *e);
	void *ctx;
} blob_reader;

/* The document a registry returned for a reference: its bytes, its
 * Content-Type (may be NULL) and digest. */
typedef struct remote_root {
	const char *data;
	size_t len;
	const char *media_type;
	kb_digest digest;
} remote_root;

/* Work out which images the source holds. */
int oci_plan(kb_source *src, const plan_opts *o, image_format *ret_fmt,
	     image_plan ***ret, size_t *ret_n, kb_error *e);
/* The one image a registry reference names: root is an image manifest,
 * or an index or manifest list to pick the platform's manifest from
 * (other documents through br); the plan is named name.  A schema 1
 * manifest is refused. */
int oci_plan_remote(const blob_reader *br, const remote_root *root, const char *name, const plan_opts *o,
		    image_plan **ret, kb_error *e);
/* For a root filesystem tarball: the config of a one-layer image. */
int oci_rootfs_config(image_plan *p, kb_error *e);
/* Check an image config: rootfs.diff_ids, os, architecture and the
 * types of the fields we use.  Fills p->platform and diff_ids. */
int oci_config_check(image_plan *p, const char *cfg, size_t len, kb_error *e);
void image_plan_free(image_plan *p);
