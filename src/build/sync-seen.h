/* What sync-in saw, for the copy-out after the build and the next
 * command's sync-in.
 *
 * Copy-out has to find every file the build wrote that its rules send,
 * and the kube rules' zz_generated.* and generated.proto may be anywhere:
 * it lists every snapshot directory, moments after sync-in listed them
 * all.  So sync-in leaves, for each directory it finished without
 * changing, that listing with the directory's device, inode and ctime
 * (and reads those it changed once more after its pass, past a new mark);
 * copy-out stats the directory and, when all three are unchanged, takes
 * the listing instead of reading the directory again (one stat in place
 * of an open, two getdents64 and a close).
 *
 * Why an unchanged ctime means unchanged entries: making, removing or
 * renaming an entry sets its directory's ctime from the file system's
 * clock, and no process can set a ctime (utimensat sets atime and mtime
 * only).  Two changes within one tick of that clock can share a ctime,
 * so sync-in first gives the snapshot's top a fresh ctime (a chmod to
 * its own mode), the mark, and records only directories whose ctime is
 * before it: every change after that gets a ctime at or after the mark,
 * from the same clock at the same granularity, never the recorded one.
 * Only a clock set back to that very ctime could hide a change; the sync
 * mark (data.h) trusts the same clock.  A file rewritten in place leaves
 * its directory alone: copy-out still stats every file its rules send.
 *
 * The next command's sync-in uses them the same way for the snapshot's
 * side of its walk: kept in the state directory (seen_save, seen_load),
 * a record stays true for as long as its directory's ctime is the one
 * recorded, however old the file.  It also records and reuses the
 * checkout's directories when the checkout is on the snapshot's file
 * system (the same device): the mark is then on their clock too.  On
 * another file system they are always listed: their clock is not ours
 * to mark (nor, on NFS, this machine's).
 *
 * The sync sandboxes are child processes, so the listings live in a
 * shared anonymous mapping: sync-in's child writes it, the copy-out's
 * child (forked after) reads it.  Bounded: past SEEN_CAP bytes no more
 * directories are recorded, and those are listed as before. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#define SEEN_CAP ((size_t)64 << 20)

typedef struct seen_entry {
	const char *name;
	unsigned char type;         /* DT_*, never DT_UNKNOWN in a record */
} seen_entry;

typedef struct sync_seen sync_seen;

/* Whose directory a record is. */
typedef enum seen_side {
	SEEN_SNAPSHOT,
	SEEN_CHECKOUT,              /* only on the snapshot's file system: its clock is marked */
} seen_side;

/* NULL when the mapping cannot be made: the sync works without. */
sync_seen *seen_new(void);
void seen_free(sync_seen *s);

/* ---- sync-in (any thread) ---- */

/* Forget what an earlier pass recorded. */
void seen_reset(sync_seen *s);
/* Record directory rel, whose stat st was taken after its last change,
 * with its n entries; false when the area is full (not recorded).  same
 * (a snapshot record): its entries are those of the checkout record the
 * same job just made for rel, and are not written twice. */
bool seen_add(sync_seen *s, seen_side side, const char *rel, const struct stat *st, const seen_entry *v, size_t n,
	      bool same);
/* The pass finished without failure: the record may be used. */
void seen_done(sync_seen *s);
/* Has this command's pass finished its record (copy-out takes it; else
 * the previous one's)? */
bool seen_finished(const sync_seen *s);

/* ---- kept between commands (a cache: any failure means no record) ---- */

/* Write a finished record to dirfd/name (a new file renamed in place),
 * unless it holds just what seen_load read: the pass reused (sync_stats)
 * as many directories as both have. */
int seen_save(const sync_seen *s, uint64_t reused, int dirfd, const char *name);
/* Write len bytes of records (the area's layout) as the file
 * dirfd/name: seen_save's writer, and the fuzz target's (fuzz/). */
int seen_write(int dirfd, const char *name, const void *records, size_t len);
/* Read the record dirfd/name left, checked whole, as the previous one. */
void seen_load(sync_seen *s, int dirfd, const char *name);

/* ---- lookups: copy-out in this pass's record (alone, in the previous),
 * sync-in in the previous ---- */

typedef struct seen_index seen_index;

/* An index of the finished record (copy-out), or of the previous one
 * (sync-in, prev); NULL without one. */
seen_index *seen_index_new(const sync_seen *s);
seen_index *seen_index_prev(const sync_seen *s);
void seen_index_free(seen_index *ix);
/* The listing of rel when st (the directory now) is the one recorded:
 * *ret_v (malloc'd; names point into the record) and *ret_n. */
bool seen_lookup(const seen_index *ix, seen_side side, const char *rel, const struct stat *st, seen_entry **ret_v,
		 size_t *ret_n);
