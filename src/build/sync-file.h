/* The sync's file operations, for sync.c: directories opened below a root
 * without ever following a symlink (with openat2, or one component at a
 * time without it), and files and symlinks written whole.
 *
 * A regular file is written unnamed (O_TMPFILE) and linked in when it is
 * complete: at its name when there was none, else at a temporary name
 * renamed over the old file, which stays whole until then.  A kill leaves
 * the old file or the new one, never a part; at most, between the link and
 * the rename, a whole file under a temporary name.  Where the file system
 * has no O_TMPFILE, the file is written under a temporary name, removed on
 * every error.  Temporary names are ".~kbsync.<pid>.<n>" (sfile_is_tmp):
 * the sync never sends them, never brings them back, and removes them
 * from the snapshot. */
#pragma once
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

typedef struct sfile_ctx {
	atomic_uint seq;            /* temporary names */
	atomic_bool no_tmpfile;     /* the destination has no O_TMPFILE */
	/* A create refused (EACCES) in a directory we own: chmod it 0700
	 * and try again (sync-in: its mode comes from the source, and its
	 * job puts it back).  Copy-out never changes the user's modes. */
	bool open_up;
} sfile_ctx;

/* One of our temporary names? */
bool sfile_is_tmp(const char *name);

/* The directory rel (plain names joined by "/"; "" for root itself) below
 * root, for reading: -ELOOP when a symlink is on the way, -ENOTDIR when a
 * file is, -ENOENT, or another negative errno. */
int sfile_open_dir(int root, const char *rel);

/* Copy the regular file sfd/name to dfd/name, whole, with the times of
 * ss and the given mode (the caller's umask applies: the sync runs under
 * umask 0).  fresh: dfd had no entry of that name.  *ret_bytes: the
 * bytes written. */
int sfile_copy(sfile_ctx *c, int sfd, int dfd, const char *name, mode_t mode, const struct stat *ss, bool fresh,
	       uint64_t *ret_bytes);

/* Are sfd/name and dfd/name symlinks with the same target? */
bool sfile_same_link(int sfd, int dfd, const char *name);
/* Make dfd/name the symlink sfd/name (its target verbatim, the times of
 * ss).  ds: dfd/name's stat when it exists, else NULL.  1 when written,
 * 0 when it already was that link. */
int sfile_link(sfile_ctx *c, int sfd, int dfd, const char *name, const struct stat *ss, const struct stat *ds);
