/* Our own incremental tree sync, in place of upstream's rsync container.
 *
 * sync_mirror: make dst an exact copy of src (sync-in): quick check by
 * size and mtime (and, with opts->resend_since, ctime), files copied with
 * copy_file_range, symlinks verbatim, modes and mtimes kept, what src
 * lacks deleted; paths matched by rules->exclude are neither sent nor
 * deleted.
 *
 * sync_copy_out: bring back from src the files matched by rules->include
 * and not by rules->out_exclude (copy-out): nothing in dst is deleted,
 * no empty directory is made, files land 0755 when any x bit is set and
 * 0644 otherwise, whatever the umask.  A host directory where the build
 * has a file, or a file or symlink where it has a directory, is left
 * alone and counted in skipped; a write that fails (a read-only mount, a
 * directory of another owner or whose owner bits forbid writing, a full
 * disk) fails the copy-out, naming the host path.
 *
 * Files are written unnamed (O_TMPFILE) and linked in whole, at their
 * name or over the old file through a temporary name ".~kbsync.*": a kill
 * leaves whole files only.  Such names are never sent, never brought
 * back, and removed from the snapshot.
 *
 * Both walk the tree with a few threads, one directory per job, and take
 * directory fds from the caller (the sync sandbox hands a read-only clone
 * of the source).  Neither follows a symlink in either tree, with openat2
 * or without it (one component at a time).  A path longer than 4095 bytes
 * fails the sync with one short line. */
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
	uint64_t modes;             /* files whose mode alone was set (sync-in) */
} sync_stats;

/* One change, for KUBE_VERBOSE >= 6: kind is ">" (sent), "cd" (directory
 * made), "*deleting", "." (metadata only).  Called under a lock. */
typedef void (*sync_log_fn)(const char *kind, const char *path);

typedef struct sync_opts {
	const sync_rules *rules;
	int threads;                /* 0: one per CPU, at least 2 */
	sync_log_fn log;            /* NULL: quiet */
	/* sync-in: a file of dst whose ctime is at or after this time is sent
	 * again even when its size and mtime match (a build can put those
	 * back, not ctime).  The caller passes the ctime of a mark it set
	 * after the last sync that wrote anything, strictly later than every
	 * ctime that sync gave (data_sync_mark); NULL: size and mtime only. */
	const struct timespec *resend_since;
	const char *dst_path;       /* copy-out: dst's host path, for messages */
} sync_opts;

int sync_mirror(int srcfd, int dstfd, const sync_opts *o, sync_stats *st, kb_error *e);
int sync_copy_out(int srcfd, int dstfd, const sync_opts *o, sync_stats *st, kb_error *e);
void sync_rules_free(sync_rules *r);
