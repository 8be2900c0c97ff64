/* Shared by the commands that build: the caller's subordinate ids (run
 * and make: the build sandbox and the sync sandbox's retry; clean and the
 * removal of old states: files of those ids), and the sync's change list. */
#include "cmd.h"
#include "isolate.h"
#include "userns.h"
#include "sync.h"

#include <errno.h>
#include <pwd.h>
#include <string.h>

/* The id mapping: with a subordinate range in /etc/subuid and /etc/subgid
 * and the newuidmap/newgidmap helpers, root inside is the caller and ids
 * 1..N are the range, so an image's other users stay distinct; else one
 * id, the caller as root.  KBUILD_NS_IDMAP=single forces the latter. */
bool cmd_find_range(rt_idrange *r)
{
	const char *force = getenv("KBUILD_NS_IDMAP");
	unsigned long max_end = 0;
	if (force && !strcmp(force, "single"))
		return false;
	struct passwd *pw = getpwuid(getuid());
	const char *name = pw ? pw->pw_name : NULL;
	if (!rt_subid_range("/etc/subuid", name, getuid(), &r->uid_start, &r->uid_count, &max_end) ||
	    !rt_subid_range("/etc/subgid", name, getuid(), &r->gid_start, &r->gid_count, &max_end) ||
	    !rt_idmap_helper("newuidmap", r->uidmap, sizeof r->uidmap) ||
	    !rt_idmap_helper("newgidmap", r->gidmap, sizeof r->gidmap))
		return false;
	/* 65536 ids are what images use (nobody is 65534). */
	if (r->uid_count > 65536)
		r->uid_count = 65536;
	if (r->gid_count > 65536)
		r->gid_count = 65536;
	return true;
}

typedef struct rm_arg {
	int dirfd;
	const char *name;
} rm_arg;

static int rm_fn(void *arg)
{
	const rm_arg *a = arg;
	return rm_rf_at(a->dirfd, a->name);
}

int cmd_rm_tree(int dirfd, const char *name)
{
	int r = rm_rf_at(dirfd, name);
	if (r != -EACCES && r != -EPERM)
		return r;
	/* Files of subordinate ids, left by a build with an id range:
	 * removable only inside a user namespace that maps them. */
	rt_idrange range;
	rt_error rerr;
	rm_arg a = { dirfd, name };
	if (!cmd_find_range(&range))
		return r;
	return rt_call_mapped(&range, rm_fn, &a, &rerr) < 0 ? -(rerr.errnum ? rerr.errnum : EPERM) : 0;
}

static void show_change(const char *kind, const char *path)
{
	fprintf(stderr, "%s %s\n", kind, path);
}

sync_log_fn cmd_change_log(void)
{
	/* build/common.sh adds rsync's -iv at KUBE_VERBOSE >= 6. */
	const char *v = getenv("KUBE_VERBOSE");
	return v && atoi(v) >= 6 ? show_change : NULL;
}
