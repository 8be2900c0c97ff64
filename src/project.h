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
	int dirfd, lock_fd;
} kb_project;

int project_open(const char *state_dir, const char *checkout, kb_project **ret, kb_error *e);
/* Take the checkout's lock; with wait, block (after notify); else fail. */
int project_lock(kb_project *p, bool wait, void (*notify)(const char *), kb_error *e);
/* Make upper/, work/ and root/ (first use) and mark the data layer in
 * use.  The overlay is mounted "volatile" (no sync at unmount), so after
 * a host crash during a run the upper may have lost writes: the mark
 * holds the boot id, and a mark left by another boot resets the layer
 * (*ret_reset says so).  A mark from this boot only means a killed
 * process, whose writes the page cache still has. */
/* idmap names the id mapping ("single" or "range:START:COUNT"); a data
 * layer made with another one cannot be reused: a single-id layer is
 * reset, a range one is refused (its files belong to subordinate ids).
 * An empty idmap (--user host) fits any layer. */
int project_prepare(kb_project *p, const char *idmap, bool *ret_reset, kb_error *e);
/* The run ended: remove the in-use mark. */
void project_done(kb_project *p);
void project_free(kb_project *p);
static inline void project_freep(kb_project **p) { project_free(*p); }
/* md5 hex of s, first n digits (n <= 32). */
void project_key(const char *s, char *out, size_t n);
