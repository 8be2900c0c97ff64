/* Our own incremental tree sync, in place of upstream's rsync container.
 *
 * sync_mirror: make dst an exact copy of src (sync-in): quick check by
 * size and mtime, files copied with copy_file_range (new files at their
 * names, replaced ones through a temporary name), symlinks verbatim,
 * modes and mtimes kept, what src lacks deleted; paths matched by
 * rules->exclude are neither sent nor deleted.
 *
 * sync_copy_out: bring back from src the files matched by rules->include
 * and not by rules->out_exclude (copy-out): nothing in dst is deleted,
 * no empty directory is made, files land 0755 when any x bit is set and
 * 0644 otherwise, whatever the umask.
 *
 * Both walk the tree with a few threads, one directory per job, and take
 * directory fds from the caller (the sync sandbox hands a read-only clone
 * of the source).  Neither follows a symlink in either tree. */
#pragma once
#include "base/util.h"
#include "runtime/error.h"

/* ---- filters ----
 *
 * Path patterns for the sync filters, a small subset of rsync's:
 *   "/x/y"  anchored at the tree's top;  "name"  the last component, anywhere;
 *   "a/b"   (a slash inside, none in front) the tail of the path, anywhere;
 *   "*" and "?" stay inside one component, "**" crosses "/";
 *   a trailing "/" matches directories only.
 * Paths handed in are relative to the top, without a leading "/". */
typedef struct pattern_list {
	char **v;
	size_t n;
} pattern_list;

/* Add one pattern (copied).  -EINVAL for an empty one, -ENOMEM. */
int pattern_add(pattern_list *l, const char *pat);
void pattern_list_free(pattern_list *l);
bool pattern_match(const char *pat, const char *path, bool is_dir);
/* True when some pattern of l matches. */
bool pattern_any(const pattern_list *l, const char *path, bool is_dir);
/* True when everything below directory path is matched by an anchored
 * pattern that ends in slash-star-star (a walk need not go in at all). */
bool pattern_covers_below(const pattern_list *l, const char *dirpath);

/* ---- the sync ---- */

typedef struct sync_rules {
	pattern_list exclude;       /* sync-in: never sent, never deleted */
	pattern_list include;       /* copy-out: what comes back */
	pattern_list out_exclude;   /* copy-out: never, even if included */
} sync_rules;

typedef struct sync_stats {
	uint64_t checked;           /* entries compared */
	uint64_t copied;            /* files and symlinks written */
	uint64_t deleted;           /* entries removed (sync-in) */
	uint64_t bytes;             /* file bytes written */
	uint64_t skipped;           /* special files not copied */
} sync_stats;

/* One change, for KUBE_VERBOSE >= 6: kind is ">" (sent), "cd" (directory
 * made), "*deleting", "." (metadata only).  Called under a lock. */
typedef void (*sync_log_fn)(const char *kind, const char *path);

typedef struct sync_opts {
	const sync_rules *rules;
	int threads;                /* 0: one per CPU, at least 2 */
	sync_log_fn log;            /* NULL: quiet */
} sync_opts;

int sync_mirror(int srcfd, int dstfd, const sync_opts *o, sync_stats *st, kb_error *e);
int sync_copy_out(int srcfd, int dstfd, const sync_opts *o, sync_stats *st, kb_error *e);
void sync_rules_free(sync_rules *r);
