/* `image import`: read the source, plan, unpack the missing layers in
 * parallel into the store's tmp/, check every digest, then publish the
 * layers, blobs and image records by rename. */
#pragma once
#include "image/import/oci.h"
#include "image/image.h"
#include "image/import/extract.h"

typedef struct import_opts {
	const char *path;
	const char *name;            /* --name, or NULL */
	plan_opts plat;
	uint64_t max_layer_size;     /* per-layer cap on the uncompressed stream */
	int jobs;                    /* parallel layer workers */
	bool relax_modes;            /* see extract_opts */
	bool progress;               /* show per-layer progress */
	/* Keep each layer's blob as the archive holds it (compressed or
	 * not) in blobs/sha256/ too, so that an image built on this one can
	 * carry its layers byte for byte (kbuild-ns release).  Auto: when
	 * the layers of the archive's images total at most keep_blobs_max. */
	enum { KEEP_BLOBS_AUTO, KEEP_BLOBS_YES, KEEP_BLOBS_NO } keep_blobs;
	uint64_t keep_blobs_max;
} import_opts;

typedef struct import_result {
	image_format format;
	image_rec **images;
	size_t n_images;
	size_t layers_unpacked, layers_present;
	size_t blobs_kept;           /* layer blobs added to blobs/sha256/ */
	uint64_t skipped_devices, skipped_sockets;
} import_result;

/* The store must be open (shared lock); takes the import lock itself. */
int kb_import(kb_store *s, const import_opts *o, import_result *ret, kb_error *e);
void import_result_clear(import_result *r);
