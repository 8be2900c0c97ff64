/* Our own incremental tree sync, in place of upstream's rsync container.
 *
 * sync_mirror: make dst an exact copy of src (sync-in): quick check by
 * size and mtime (and, with opts->resend_since, ctime), files copied with
 * copy_file_range, symlinks verbatim, modes and mtimes kept, what src
 * lacks deleted.  rules->in decides as rsync's filter rules do
 * (filter.h), with one difference: what the sending side does not send
 * (an exclude or a hide rule) is also kept in the snapshot, where rsync
 * --delete would delete what is only hidden; what the receiving side
 * protects (exclude, protect) is kept too.
 *
 * sync_copy_out: bring back from src what rules->out lets the sending
 * side send (copy-out): nothing in dst is deleted, no empty directory is
 * made (rsync's --prune-empty-dirs), files land 0755 when any x bit is
 * set and 0644 otherwise, whatever the umask.  A host directory where the
 * build has a file, or a file or symlink where it has a directory, is
 * left alone and counted in skipped; a write that fails (a read-only
 * mount, a directory of another owner or whose owner bits forbid
 * writing, a full disk) fails the copy-out, naming the host path.
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
#include "build/filter.h"
#include "build/sync-seen.h"

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
	uint64_t modes;             /* files whose mode alone was set (sync-in) */
	uint64_t reused;            /* snapshot directories not listed again: as a sync-in left them */
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
	/* sync-in: record the listings of the snapshot directories it leaves
	 * as it found them, and use the previous record's (seen_load);
	 * copy-out: use this record's, or without one the previous record's
	 * (sync-seen.h).  NULL: none. */
	struct sync_seen *seen;
} sync_opts;

int sync_mirror(int srcfd, int dstfd, const sync_opts *o, sync_stats *st, kb_error *e);
int sync_copy_out(int srcfd, int dstfd, const sync_opts *o, sync_stats *st, kb_error *e);
void sync_rules_free(sync_rules *r);
