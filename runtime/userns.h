/* User namespaces.  The runtime knows nothing of images: these helpers
 * only set up namespaces and id maps, and return a negative errno and the
 * name of the step that failed. */
#pragma once
#include <stdbool.h>
#include <sys/types.h>

/* Move the calling (single-threaded!) process into a new user namespace
 * in which its own uid and gid are 0, and nothing else is mapped.  On
 * failure *ret_step names the step ("unshare", "setgroups", "uid_map",
 * "gid_map") and the process is unchanged if the unshare itself failed. */
int rt_userns_enter_self(const char **ret_step);
/* Write the single-id maps for process pid (its parent does this for a
 * child made with CLONE_NEWUSER). */
int rt_userns_map_single(pid_t pid, uid_t outer_uid, gid_t outer_gid, const char **ret_step);
/* The same with explicit inside ids: in_uid inside is uid outside. */
int rt_userns_map_ids(pid_t pid, uid_t in_uid, uid_t uid, gid_t in_gid, gid_t gid, const char **ret_step);
