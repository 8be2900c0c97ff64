/* `image import`: read the source, plan, unpack the missing layers in
 * parallel into the store's tmp/, check every digest, then publish the
 * layers, blobs and image records by rename.
 *
 * The second half (import_plans: jobs, the worker pool, publishing and
 * rollback) is shared with `image pull` (image/pull/pull.c): only where a
 * layer's stored bytes come from differs, and a layer_feed says that. */
#pragma once
#include "image/import/oci.h"
#include "image/image.h"
#include "image/import/extract.h"

typedef struct import_opts {
	const char *path;
	const char *const *names;    /* --name, each time it was given */
	size_t n_names;
	plan_opts plat;
	uint64_t max_layer_size;     /* per-layer cap on the uncompressed stream */
	int jobs;                    /* parallel layer workers */
	bool relax_modes;            /* see extract_opts */
	bool progress;               /* show per-layer progress */
	const char *cmd;             /* for progress lines: "import" (NULL) or "pull" */
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
	uint64_t bytes_read;         /* stored bytes of the layers unpacked */
} import_result;

/* The stored bytes of one layer: a byte range of a file (read is NULL),
 * or len bytes a reader delivers. */
typedef struct layer_input {
	int fd;
	bool own_fd;
	uint64_t off, len;
	zs_read_fn read;
	void *read_ctx;
} layer_input;

/* Where layers come from.  open fills *in for worker w (0 to jobs-1, one
 * layer at a time each); close is called after every successful open,
 * with ok false when the layer was abandoned, and may fail a layer whose
 * source reports a problem at its end (a transfer with bytes left over). */
typedef struct layer_feed {
	int (*open)(void *ctx, int w, const layer_plan *lp, const char *label, layer_input *in, kb_error *e);
	int (*close)(void *ctx, int w, layer_input *in, bool ok, kb_error *e);
	/* Called once every layer is unpacked and checked, before anything
	 * else is published (may be NULL): the last chance to fail, and to
	 * complete the image_source given to import_plans. */
	int (*ready)(void *ctx, kb_error *e);
	void *ctx;
	/* Publish each layer as soon as it is checked, and keep it when the
	 * whole fails: a later run resumes from there (pull). */
	bool publish_early;
	/* The archive the layers come from, or NULL (pull): only then can
	 * their blobs be kept as the archive holds them (keep_blobs). */
	struct kb_source *src;
} layer_feed;

/* The store must be open (shared lock); takes the import lock itself. */
int kb_import(kb_store *s, const import_opts *o, import_result *ret, kb_error *e);
/* Unpack the plans' missing layers from f, check them, publish them and
 * the records.  The caller holds the import lock and has the work
 * directory; o's path and name are not used.  Records get source (may
 * be NULL; copied). */
int import_plans(kb_store *s, image_plan **plans, size_t n_plans, image_format fmt, const layer_feed *f,
		 const import_opts *o, const image_source *source, import_result *ret, kb_error *e);
void import_result_clear(import_result *r);
