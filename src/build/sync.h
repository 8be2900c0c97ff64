/* Our own incremental tree sync, in place of upstream's rsync container.
 *
 * sync_mirror: make dst an exact copy of src (sync-in): quick check by
 * size and mtime, files copied with copy_file_range (new files at their
 * names, replaced ones through a temporary name), symlinks verbatim,
 * modes and mtimes kept, what src lacks deleted.  rules->in decides as
 * rsync's filter rules do (filter.h), with one difference: what the
 * sending side does not send (an exclude or a hide rule) is also kept in
 * the snapshot, where rsync --delete would delete what is only hidden;
 * what the receiving side protects (exclude, protect) is kept too.
 *
 * sync_copy_out: bring back from src what rules->out lets the sending
 * side send (copy-out): nothing in dst is deleted, no empty directory is
 * made (rsync's --prune-empty-dirs), files land 0755 when any x bit is
 * set and 0644 otherwise, whatever the umask.
 *
 * Both walk the tree with a few threads, one directory per job, and take
 * directory fds from the caller (the sync sandbox hands a read-only clone
 * of the source).  Neither follows a symlink in either tree. */
#pragma once
#include "base/util.h"
#include "runtime/error.h"
#include "build/filter.h"

/* ---- the sync ---- */

/* rsync filter rules (filter.h), one list per direction. */
typedef struct sync_rules {
	filter_list in;             /* sync-in: the checkout sends, the snapshot keeps */
	filter_list out;            /* copy-out: the snapshot sends */
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
