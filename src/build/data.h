/* The data sandbox: a checkout's persistent build state, the classic
 * model's data container.  It lives in $STATE/projects/<key>-<version>/:
 *
 *   upper/ work/   the overlay's persistent top layer and its work dir
 *   root/          where the build sandbox's root is mounted
 *   snapshot/      the mirror of the checkout the build runs on
 *   lock           flock: one kbuild-ns per checkout at a time; holds its pid
 *   in-use         the boot id of the last boot that used the layer
 *   idmap          the id mapping the layer was made with
 *   ready          the profile's init was applied (its name)
 *   meta.json      what ran last, for `kbuild-ns status`
 *   synced         its ctime: later than every ctime the last sync-in that
 *                  wrote anything gave (data_sync_mark)
 *   snapshot.seen  the listings of the directories as the last sync-in
 *                  left them (sync-seen.h), a cache
 *   rootfs/        with the state directory on overlayfs, instead of
 *                  upper/: the image's layers merged into one directory,
 *                  the build's root (flatroot.h); rootfs.new/ while made
 *   rootfs-image   the image id rootfs/ was made from
 *
 * key     = first 10 hex digits of md5("$HOSTNAME:<physical checkout>:<branch>"),
 *           as upstream's build/common.sh computes it (so CI jobs on one
 *           host and branch switches get separate state);
 * version = our state-format version, the base version and the cross tag.
 *
 * This file and data.c are the only ones that spell those names. */
#pragma once
#include "base/util.h"
#include "runtime/error.h"
#include "runtime/userns.h"
#include "build/profile.h"
#include "build/sync-seen.h"
#include <jansson.h>

#define DATA_FORMAT "s1"
/* kbuild-ns release's data sandboxes: apart from make's, so that a
 * release (which starts from an empty data layer) and a make of the same
 * checkout never remove each other's state. */
#define DATA_FORMAT_RELEASE "r1"

typedef struct kb_data {
	char *state_dir;
	char key[11];
	char *version;
	char *dir;                  /* $STATE/projects/<key>-<version> */
	char *upper, *work, *root, *snapshot;   /* its directories */
	char *rootfs;               /* the copied root (flatroot.h), when used */
	int dirfd;                  /* -1 when opened without create and absent */
	int lock_fd;
} kb_data;

/* dirfd is -1 when there is no state yet; with create, data_create
 * follows. */
int data_open(const char *state_dir, const kb_profile *p, bool create, kb_data **ret, kb_error *e);
/* The same with another state format (DATA_FORMAT_RELEASE); only the
 * other versions of that format are dropped. */
int data_open_as(const char *state_dir, const kb_profile *p, const char *format, bool create, kb_data **ret,
		 kb_error *e);
/* Make the directory, when it is not there yet, and drop the other
 * versions of this key (a version change means a cold build, as upstream
 * deletes its old data containers).  A build calls it only once it is
 * about to use the directory, so that a run refused earlier (no image, a
 * bad option) leaves no empty state behind. */
int data_create(kb_data *d, kb_error *e);
/* Take the checkout's lock; with wait, block (after notify); else fail. */
int data_lock(kb_data *d, bool wait, void (*notify)(const char *), kb_error *e);
/* The pid of the kbuild-ns holding the lock, 0 when free, -1 when held
 * by a pid we cannot tell. */
long data_lock_holder(const kb_data *d);

/* Make upper/, work/, root/ and snapshot/ (first use) and get the data
 * layer ready for a sandbox.  The overlay is mounted "volatile" (no sync
 * at unmount), so after a host crash during a run the upper may have lost
 * writes.  Two marks tell: the kernel's own (work/work/incompat/volatile),
 * there from a mount until data_done, and ours, in-use, which holds the
 * boot id of the last boot that used the layer, written (and synced) once
 * per boot rather than every run.  The kernel's mark with ours from
 * another boot is a sandbox that was running when that boot ended: the
 * layer is reset (*ret_reset says so).  With ours from this boot it only
 * means a killed kbuild-ns, whose writes the page cache still has.
 *
 * idmap names the id mapping ("single" or "range:START:COUNT"); a data
 * layer made with another one is reset, and the snapshot emptied (their
 * files belong to other ids).
 * An empty idmap (--user host) fits any layer. */
int data_prepare(kb_data *d, const char *idmap, bool *ret_reset, kb_error *e);
/* A sandbox on the data layer has ended (or never started): remove the
 * kernel's volatile mark, which would also block the next mount. */
void data_done(kb_data *d);

/* The profile's init was applied (the "ready" mark); without it the layer
 * is reset and the init runs again. */
bool data_ready(const kb_data *d);
/* Ready, and for this mark (what data_mark_ready wrote): the profile, or
 * the profile and a digest of the tree's Dockerfile steps. */
bool data_ready_for(const kb_data *d, const char *mark);
/* The ready mark's text (what data_mark_ready wrote), or NULL. */
char *data_ready_text(const kb_data *d);
int data_reset(kb_data *d, kb_error *e);
/* Drop the ready mark: the init runs again (and resets the layer). */
void data_unready(kb_data *d);

/* The state directory (or its nearest existing parent) is on overlayfs,
 * as a container's root file system is: no overlay upper layer there. */
bool data_on_overlayfs(const char *state_dir);
/* The copied root, for a state directory on overlayfs (flatroot.h):
 * rootfs/ is there and was made from image_id.  A reset (data_reset,
 * clear_layer) removes it with upper/. */
bool data_rootfs_for(const kb_data *d, const char *image_id);
/* Remove rootfs/ and make an empty rootfs.new/ to merge the layers into. */
int data_rootfs_begin(kb_data *d, kb_error *e);
/* rootfs.new/ becomes rootfs/, made from image_id. */
int data_rootfs_commit(kb_data *d, const char *image_id, kb_error *e);
int data_mark_ready(kb_data *d, const char *mark, kb_error *e);

/* snapshot.seen (sync-seen.h): read into s before a sync-in, written
 * from s after one; a cache, so neither fails. */
void data_seen_load(const kb_data *d, sync_seen *s);
void data_seen_save(kb_data *d, const sync_seen *s, uint64_t reused);
/* The sync mark (sync.h, resend_since): its ctime in *ret, or zero when
 * there is none yet (then every file of the snapshot is suspect). */
int data_sync_mark(const kb_data *d, struct timespec *ret);
/* After a sync-in that wrote files or modes: set the mark, with a ctime
 * strictly later than any the sync gave (a clock tick at most). */
int data_set_sync_mark(kb_data *d, kb_error *e);
/* This boot's id (/proc/sys/kernel/random/boot_id), "" when unreadable:
 * times taken on this machine since it booted compare with file times. */
void data_boot_id(char buf[64]);
/* The version step's record (version.h): its text (at most 1 MB), or
 * NULL when there is none; written through a temporary name; dropped
 * before the step runs again, so a failed step leaves none. */
char *data_read_version_record(const kb_data *d, size_t *ret_len);
int data_write_version_record(kb_data *d, const char *text, size_t len, kb_error *e);
void data_drop_version_record(kb_data *d);
/* Empty the data layer and the snapshot (the lock held): a release
 * starts from nothing, and leaves nothing behind after a success. */
int data_clear(kb_data *d, kb_error *e);

/* meta.json: what ran last.  Written through a temporary name. */
int data_write_meta(kb_data *d, const kb_profile *p, const char *image, const char *image_id,
		    const char *command, int status, kb_error *e);
/* The record, or NULL when there is none (or it is unreadable). */
json_t *data_read_meta(const kb_data *d);
/* The idmap file's text, or NULL. */
char *data_read_idmap(const kb_data *d);

/* The state directories of this checkout (every version of its key), or
 * with all every checkout's, each locked, so that `clean` can check that
 * none is in use before it removes anything: EBUSY, naming the first one
 * in use and its holder, and none is held.  Removing them keeps the
 * locks to the end, so no run can start on one meanwhile. */
typedef struct data_states data_states;
int data_claim_states(const char *state_dir, const char *key, bool all, data_states **ret, kb_error *e);
size_t data_states_count(const data_states *s);
int data_remove_claimed(data_states *s, size_t *ret_removed, kb_error *e);
void data_states_free(data_states *s);
static inline void data_states_freep(data_states **s) { data_states_free(*s); }
/* Both at once: nothing is removed when one is in use. */
int data_remove_states(const char *state_dir, const char *key, bool all, size_t *ret_removed, kb_error *e);

/* A cache import builds a whole data sandbox beside this one
 * (<dir>.cache-new: upper/, work/, root/, snapshot/, the idmap, its own
 * lock held) and puts it in place with one rename (RENAME_EXCHANGE); the
 * old one is then removed.  A kill at any point leaves either the old
 * data sandbox or the new one; a leftover .cache-new goes with the next
 * run.  data_lock notices an exchange that happened while it waited. */
int data_open_incoming(const kb_data *d, kb_data **ret, kb_error *e);
int data_exchange(kb_data *d, kb_data *incoming, kb_error *e);
/* Remove an incoming data sandbox that will not be used. */
void data_discard(kb_data *incoming);

/* The caller's subordinate id range and helpers (/etc/subuid, /etc/subgid,
 * newuidmap, newgidmap), unless absent or KBUILD_NS_IDMAP=single. */
bool data_find_range(rt_idrange *r);
/* rm -rf of dirfd/name; files of subordinate ids (left by a range-mapped
 * build) are removed inside a user namespace that maps the caller's range,
 * whatever KBUILD_NS_IDMAP says. */
int data_rm_tree(int dirfd, const char *name, kb_error *e);

/* The data sandbox's one-time init, as the classic
 * build/build-image/Dockerfile applies the kube-build steps on top of
 * kube-cross: run by the build sandbox as its function (rt_spec.fn), as
 * root inside, on the finished root. */
typedef struct data_init {
	bool kube;                  /* the kube-build steps */
	const char *workdir;
	const char *localtime;      /* the host's /etc/localtime, or NULL */
	size_t localtime_len;
} data_init;
int data_init_run(void *arg, kb_error *e);

void data_free(kb_data *d);
static inline void data_freep(kb_data **d) { data_free(*d); }
/* md5 hex of s, first n digits (n <= 32). */
void data_key(const char *s, char *out, size_t n);
