/* The image store under $STATE/store (DESIGN §4):
 *
 *   blobs/sha256/<hex>   manifests and configs
 *   layers/<hex>/        one unpacked layer per diff_id, overlay form
 *   images/<hex>.json    image records, named by config digest
 *   tmp/                 work in progress: one directory per running
 *                        command, each guarded by a lock file; the next
 *                        command removes those whose owner is gone
 *   lock                 flock: shared while reading or adding (import for
 *                        its whole length, ls, inspect, and a build while it
 *                        finds its image), exclusive to delete (rm, prune)
 *   import.lock          flock: one import at a time, so a layer two
 *                        imports share is unpacked once
 *   images/<hex>.lock    flock: shared by each build using the image, for
 *                        the whole build (the kernel must not see its
 *                        layers change under the overlay); `image rm` takes
 *                        it exclusively, waiting without the store lock
 *   users/<key>.<pid>.<n>  who holds a long lock, for the lines of those who
 *                        wait: "pid N", the command line and the checkout;
 *                        key is an image id or "import".  Each is flocked by
 *                        its writer; one nobody holds is stale and goes.
 *
 * So a build holds the store lock only while it looks its image up, and
 * `image rm B` or `image prune` need not wait for a build of image A:
 * they delete only what no image record refers to, and a build's image
 * keeps its record until `image rm` of that image gets its lock.
 *
 * Everything becomes visible by rename(2) from tmp/, so a killed command
 * leaves nothing half-written where readers look. */
#pragma once
#include "base/digest.h"

/* On a layer's root: "oci" when its whiteouts are ".wh." files, as a
 * store on overlayfs keeps them (import/extract.h says why). */
#define STORE_XATTR_LAYER_FORM "user.kbuild-ns.whiteouts"
#include <stdbool.h>
#include <sys/file.h>

typedef struct kb_store {
	char *root;
	int fd, blobs_fd, layers_fd, images_fd, tmp_fd;
	int lock_fd, import_lock_fd;
	int work_fd, work_lock_fd;   /* this command's private dir in tmp/ */
	char *work_name;
	int lock_mode;               /* LOCK_SH or LOCK_EX, as opened */
	int users_fd;                /* users/, or -1 */
	int use_fd;                  /* images/<hex>.lock held shared (store_use_image) */
	int user_fd[2];              /* our users/ files, flocked */
	char *user_name[2];
	/* Called with a message before blocking on a lock; may be NULL. */
	void (*notify)(const char *msg);
} kb_store;

/* Open (creating if needed) the store in state_dir, take the store lock
 * in `mode` (LOCK_SH or LOCK_EX) and clear leftovers of dead commands. */
int store_open(const char *state_dir, int mode, void (*notify)(const char *), kb_store **ret, kb_error *e);
/* Serialise imports (blocking, with a notice naming the import that
 * holds it); registers this import in users/. */
int store_lock_import(kb_store *s, kb_error *e);
/* Release, or take again (in the mode store_open took, with a notice),
 * the store lock; the store's fds stay open. */
void store_unlock(kb_store *s);
int store_relock(kb_store *s, kb_error *e);
/* A build uses the image id: images/<hex>.lock shared until store_close,
 * and a users/ entry saying who (where: the checkout).  Call with the
 * store lock held, so that no `image rm` is between its check and its
 * deletion. */
int store_use_image(kb_store *s, const kb_digest *id, const char *where, kb_error *e);
/* For `image rm`, with the store lock held exclusively: images/<hex>.lock
 * exclusively (*ret_fd).  While a build uses the image it says so through
 * notify, naming the build (what: how to name the image), lets the store
 * lock go, waits for the build to end, and takes both again;
 * *ret_waited then says the store may have changed meanwhile. */
int store_claim_image(kb_store *s, const kb_digest *id, const char *what, int *ret_fd, bool *ret_waited,
		      kb_error *e);
/* The image's lock file goes with its record (store lock exclusive). */
void store_drop_image_lock(kb_store *s, const kb_digest *id);
/* "pid N (COMMAND, in DIR)" of a live holder registered under key, or
 * "another kbuild-ns" when none says. */
void store_holder(kb_store *s, const char *key, char *buf, size_t len);
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
