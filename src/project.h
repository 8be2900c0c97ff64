/* A checkout's data layer: $STATE/projects/<key>-<version>/ with the
 * overlay upper/ and work/, the root/ mount point and a lock.
 *
 * key     = first 10 hex digits of md5("$HOSTNAME:<physical checkout>:<branch>"),
 *           as upstream's build/common.sh computes it (so CI jobs on one
 *           host and branch switches get separate state);
 * version = our state-format version and the cross image tag. */
#pragma once
#include "error.h"

#define PROJECT_FORMAT "s1"

typedef struct kb_project {
	char *checkout;          /* physical path */
	char *branch;            /* "" for a detached HEAD or no git */
	char key[11];
	char *cross_tag;         /* build/build-image/cross/VERSION, or NULL */
	bool kube;               /* Kubernetes-shaped checkout */
	char *version;
	char *dir;               /* $STATE/projects/<key>-<version> */
	char *state_dir;
	int dirfd, lock_fd;
} kb_project;

/* With create, the state directory is made and the other versions of
 * this key dropped, with remove (rm_rf_at when NULL; the command layer
 * passes one that can also remove files of subordinate ids); without,
 * dirfd is -1 when there is no state yet. */
int project_open(const char *state_dir, const char *checkout, bool create, int (*remove)(int, const char *),
		 kb_project **ret, kb_error *e);
/* Take the checkout's lock; with wait, block (after notify); else fail. */
int project_lock(kb_project *p, bool wait, void (*notify)(const char *), kb_error *e);
/* Make upper/, work/ and root/ (first use) and get the data layer ready
 * for a sandbox.  The overlay is mounted "volatile" (no sync at unmount),
 * so after a host crash during a run the upper may have lost writes.
 * Two marks tell: the kernel's own (work/work/incompat/volatile), there
 * from a mount until project_done, and ours, in-use, which holds the boot
 * id of the last boot that used the layer, written (and synced) once per
 * boot rather than every run.  The kernel's mark with ours from another
 * boot is a sandbox that was running when that boot ended: the layer is
 * reset (*ret_reset says so).  With ours from this boot it only means a
 * killed kbuild-ns, whose writes the page cache still has. */
/* idmap names the id mapping ("single" or "range:START:COUNT"); a data
 * layer made with another one cannot be reused: a single-id layer is
 * reset, a range one is refused (its files belong to subordinate ids).
 * An empty idmap (--user host) fits any layer. */
int project_prepare(kb_project *p, const char *idmap, bool *ret_reset, kb_error *e);
/* A sandbox on the data layer has ended (or never started): remove the
 * kernel's volatile mark, which would also block the next mount. */
void project_done(kb_project *p);
/* The profile's init was applied to the data layer (the "ready" mark);
 * without it the layer is reset and init runs again. */
bool project_ready(const kb_project *p);
int project_reset_data(kb_project *p, kb_error *e);
int project_mark_ready(kb_project *p, const char *profile, kb_error *e);
/* meta.json: what ran last, for kbuild-ns status. */
int project_write_meta(kb_project *p, const char *image, const char *image_id, const char *command, int status);
void project_free(kb_project *p);
static inline void project_freep(kb_project **p) { project_free(*p); }
/* md5 hex of s, first n digits (n <= 32). */
void project_key(const char *s, char *out, size_t n);
