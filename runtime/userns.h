/* User namespaces.  The runtime knows nothing of images: these helpers
 * only set up namespaces and id maps, and return a negative errno with
 * the error naming the step that failed. */
#pragma once
#include <stdbool.h>
#include <sys/types.h>
#include "error.h"

/* Move the calling (single-threaded!) process into a new user namespace
 * in which its own uid and gid are 0, and nothing else is mapped.  The
 * process is unchanged if the unshare itself failed. */
int rt_userns_enter_self(kb_error *e);
/* Write the single-id maps for process pid (its parent does this for a
 * child made with CLONE_NEWUSER). */
int rt_userns_map_single(pid_t pid, uid_t outer_uid, gid_t outer_gid, kb_error *e);
/* The same with explicit inside ids: in_uid inside is uid outside. */
int rt_userns_map_ids(pid_t pid, uid_t in_uid, uid_t uid, gid_t in_gid, gid_t gid, kb_error *e);

/* A subordinate id range and the helpers that may map it. */
typedef struct rt_idrange {
	unsigned long uid_start, uid_count, gid_start, gid_count;
	char uidmap[256], gidmap[256];   /* paths of newuidmap, newgidmap */
} rt_idrange;

/* Find name (or uid as a number) in an /etc/subuid-style file
 * ("who:start:count"); *max_end gets the end of the highest range seen. */
bool rt_subid_range(const char *file, const char *name, uid_t uid, unsigned long *ret_start,
		    unsigned long *ret_count, unsigned long *max_end);
/* Find a usable (setuid-root or file-capable) helper on PATH. */
bool rt_idmap_helper(const char *name, char *path, size_t len);
/* Map 0 to uid/gid and 1..count to the subordinate range, for child pid,
 * through newuidmap and newgidmap. */
int rt_userns_map_range(pid_t pid, uid_t uid, gid_t gid, const rt_idrange *r, kb_error *e);
