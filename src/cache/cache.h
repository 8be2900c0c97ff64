/* The CI cache of a checkout's data sandbox: `kbuild-ns cache export`,
 * `import` and `key`.
 *
 * A runner's cache (actions/cache, GitLab's cache:) can neither capture
 * nor restore a data sandbox as it lies on disk: whiteouts are 0/0
 * character devices, opaque directories are xattrs, owners may be
 * subordinate ids.  So it travels as one tar.zst shaped like an OCI layer:
 *
 *   kbuild-ns-cache.json        first: format, state key and version, the
 *                               image id, profile, architecture, branch,
 *                               counts
 *   upper/...                   the persistent overlay layer: whiteouts as
 *                               ".wh.NAME", opaque directories as
 *                               ".wh..wh..opq", owners as the numeric ids
 *                               inside the namespace
 *   snapshot/_output/...        the build's outputs and Go's caches
 *
 * members sorted by name, mtimes kept as they are (Go evicts cache
 * entries by mtime: clamping them would empty the cache at the first
 * `go` command).  zstd level 3, multi-threaded, long-distance matching
 * with a window of 2^27 (so `zstd -d` and `tar --zstd` read it without
 * flags), a content checksum.  Streamed both ways in bounded memory.
 *
 * Import goes through the same unpacker as image import (extract.c), so
 * a poisoned cache meets the hostile-archive defences; a cache made for
 * another image or state version is refused unless forced. */
#pragma once
#include "base/util.h"
#include "runtime/error.h"
#include <jansson.h>

#define CACHE_FORMAT 1
#define CACHE_META "kbuild-ns-cache.json"
#define CACHE_MAX_VERSION_RECORD (16u << 10)    /* the version step's record, carried when no longer */

typedef struct cache_counts {
	uint64_t entries, files, bytes, whiteouts, opaques, skipped;
} cache_counts;

/* For the checkout in the current directory, with its image (the one a
 * make would use, --image given as image or NULL). */
int cache_export(const char *state_dir, const char *image, const char *path, cache_counts *ret, kb_error *e);
int cache_import(const char *state_dir, const char *image, const char *path, bool force, cache_counts *ret,
		 kb_error *e);
/* "kbuild-ns-<16 hex>": a CI cache key from the image id, the state
 * version, the architecture and the branch. */
int cache_key(const char *state_dir, const char *image, char **ret, kb_error *e);
/* The description a cache at fd (size bytes, named path in messages)
 * starts with: its first member must be CACHE_META, a JSON object of
 * format CACHE_FORMAT (import.c; fuzz/fuzz-cache-meta.c reads it too). */
int cache_read_meta(int fd, uint64_t size, const char *path, json_t **ret, kb_error *e);

/* What export and import share (cache.c): the checkout's profile, data
 * sandbox and image id. */
typedef struct cache_target {
	struct kb_profile *prof;
	struct kb_data *data;
	char image_id[72];          /* "sha256:<hex>" */
	char arch[32];
} cache_target;
int cache_target_open(const char *state_dir, const char *image, bool create, cache_target *t, kb_error *e);
void cache_target_close(cache_target *t);
/* EOPNOTSUPP when the state directory is on overlayfs (a copied root,
 * no upper layer: cache.c says why). */
int cache_refuse_copied_root(const char *state_dir, kb_error *e);
