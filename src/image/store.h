/* The image store under $STATE/store (DESIGN §4):
 *
 *   blobs/sha256/<hex>   manifests and configs
 *   layers/<hex>/        one unpacked layer per diff_id, overlay form
 *   images/<hex>.json    image records, named by config digest
 *   tmp/                 work in progress: one directory per running
 *                        command, each guarded by a lock file; the next
 *                        command removes those whose owner is gone
 *   lock                 flock: shared while layers are in use (import,
 *                        ls, inspect, run), exclusive to delete (rm, prune)
 *   import.lock          flock: one import at a time, so a layer two
 *                        imports share is unpacked once
 *
 * Everything becomes visible by rename(2) from tmp/, so a killed command
 * leaves nothing half-written where readers look. */
#pragma once
#include "base/digest.h"
#include <sys/file.h>

typedef struct kb_store {
	char *root;
	int fd, blobs_fd, layers_fd, images_fd, tmp_fd;
	int lock_fd, import_lock_fd;
	int work_fd, work_lock_fd;   /* this command's private dir in tmp/ */
	char *work_name;
	/* Called with a message before blocking on a lock; may be NULL. */
	void (*notify)(const char *msg);
} kb_store;

/* Open (creating if needed) the store in state_dir, take the store lock
 * in `mode` (LOCK_SH or LOCK_EX) and clear leftovers of dead commands. */
int store_open(const char *state_dir, int mode, void (*notify)(const char *), kb_store **ret, kb_error *e);
/* Serialise imports (blocking, with a notice). */
int store_lock_import(kb_store *s, kb_error *e);
/* This command's private work directory in tmp/, made on first use. */
int store_workdir(kb_store *s, kb_error *e);
bool store_has_layer(kb_store *s, const kb_digest *d);
/* Move workdir/name to layers/<hex>; an existing layer wins. */
int store_publish_layer(kb_store *s, const char *name, const kb_digest *d, kb_error *e);
/* Write blobs/sha256/<hex> (atomically) unless present: 1 if written,
 * 0 if it was there already. */
int store_put_blob(kb_store *s, const kb_digest *d, const void *data, size_t len, kb_error *e);
/* Delete layers/<hex> (moved into tmp/ first). */
int store_remove_layer(kb_store *s, const char *hex, kb_error *e);
int store_read_blob(kb_store *s, const kb_digest *d, size_t max, char **ret, size_t *ret_len, kb_error *e);
/* Write dirfd/name through the work directory, fsync, rename. */
int store_write_file(kb_store *s, int dirfd, const char *name, const void *data, size_t len, kb_error *e);
/* Remove the stale work directories of commands that are gone. */
void store_clean_tmp(kb_store *s);
void store_close(kb_store *s);
static inline void store_closep(kb_store **s) { store_close(*s); }
