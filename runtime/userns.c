/* User namespaces and id maps (userns.h): single-id maps written
 * ourselves, subordinate ranges through newuidmap/newgidmap. */
#include "userns.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <spawn.h>

extern char **environ;
#include <sys/xattr.h>

/* The process whose maps are written, for messages. */
static const char *who(pid_t pid)
{
	return pid ? "the sandbox" : "this process";
}

static int write_proc(pid_t pid, const char *file, const char *text)
{
	char path[64];
	if (pid)
		snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
	else
		snprintf(path, sizeof path, "/proc/self/%s", file);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, text, strlen(text));
	int r = n < 0 ? -errno : (size_t)n != strlen(text) ? -EIO : 0;
	close(fd);
	return r;
}

int rt_userns_map_single(pid_t pid, uid_t uid, gid_t gid, kb_error *e)
{
	return rt_userns_map_ids(pid, 0, uid, 0, gid, e);
}

int rt_userns_map_ids(pid_t pid, uid_t in_uid, uid_t uid, gid_t in_gid, gid_t gid, kb_error *e)
{
	char map[64];
	int r;

	/* Since Linux 3.19 an unprivileged process must deny setgroups(2)
	 * before it may write a gid_map (CVE-2014-8989: otherwise it could
	 * drop a group used to deny it access).  ENOENT: older kernel. */
	r = write_proc(pid, "setgroups", "deny");
	if (r < 0 && r != -ENOENT)
		return kb_err(e, -r, "write setgroups of %s", who(pid));
	/* One line, one id: the only map an unprivileged process may write
	 * for itself (user_namespaces(7), "Defining user and group ID
	 * mappings"). */
	snprintf(map, sizeof map, "%u %u 1\n", (unsigned)in_uid, (unsigned)uid);
	if ((r = write_proc(pid, "uid_map", map)) < 0)
		return kb_err(e, -r, "write uid_map of %s", who(pid));
	snprintf(map, sizeof map, "%u %u 1\n", (unsigned)in_gid, (unsigned)gid);
	if ((r = write_proc(pid, "gid_map", map)) < 0)
		return kb_err(e, -r, "write gid_map of %s", who(pid));
	return 0;
}

int rt_userns_enter_self(kb_error *e)
{
	uid_t uid = getuid();
	gid_t gid = getgid();

	/* unshare(CLONE_NEWUSER) fails with EINVAL in a multi-threaded
	 * process, so this must run before any thread is started. */
	if (unshare(CLONE_NEWUSER) < 0)
		return kb_err(e, errno, "create a user namespace (unshare)");
	return rt_userns_map_single(0, uid, gid, e);
}

/* Find name (and uid) in an /etc/subuid-style file: "who:start:count". */
bool rt_subid_range(const char *file, const char *name, uid_t uid, unsigned long *ret_start,
			unsigned long *ret_count, unsigned long *max_end)
{
	FILE *f = fopen(file, "re");
	char line[256], num[16];
	bool found = false;

	snprintf(num, sizeof num, "%u", (unsigned)uid);
	while (f && fgets(line, sizeof line, f)) {
		char who[128];
		unsigned long start, count;
		if (sscanf(line, "%127[^:\n]:%lu:%lu", who, &start, &count) != 3)
			continue;
		if (start + count > *max_end)
			*max_end = start + count;
		if (!found && count > 0 && ((name && !strcmp(who, name)) || !strcmp(who, num))) {
			*ret_start = start;
			*ret_count = count;
			found = true;
		}
	}
	if (f)
		fclose(f);
	return found;
}

/* A helper counts when it can raise our privilege: setuid root, or file
 * capabilities (Fedora ships newuidmap with cap_setuid=ep). */
bool rt_idmap_helper(const char *name, char *path, size_t len)
{
	const char *env = getenv("PATH");
	char dirs[1024];
	snprintf(dirs, sizeof dirs, "%s:/usr/bin:/bin:/usr/sbin:/sbin", env ? env : "");
	for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		struct stat st;
		snprintf(path, len, "%s/%s", d, name);
		if (*d != '/' || stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		/* In a user namespace that does not map the host's root, a
		 * setuid-root file shows the overflow uid: it cannot help then. */
		if ((st.st_mode & S_ISUID) && st.st_uid == 0)
			return true;
		return getxattr(path, "security.capability", NULL, 0) > 0;
	}
	path[0] = 0;
	return false;
}


/* Start newuidmap or newgidmap: "0 <own id> 1" and "1 <start> <count>".
 * posix_spawn (vfork underneath) rather than fork: no copy of a large
 * parent, and the two helpers run side by side. */
static int spawn_helper(const char *path, pid_t pid, unsigned long own, unsigned long start, unsigned long count,
			pid_t *ret)
{
	char a[5][24];
	snprintf(a[0], sizeof a[0], "%d", (int)pid);
	snprintf(a[1], sizeof a[1], "%lu", own);
	snprintf(a[2], sizeof a[2], "%lu", start);
	snprintf(a[3], sizeof a[3], "%lu", count);
	char *argv[] = { (char *)path, a[0], "0", a[1], "1", "1", a[2], a[3], NULL };
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	/* Its complaints would be a second error line; ours names it. */
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
	/* A setuid helper has no use for what kbuild-ns inherited (child.h). */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
	int r = posix_spawn(ret, path, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	return -r;
}

static int wait_helper(pid_t h)
{
	int st;
	while (waitpid(h, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EPERM;
}

int rt_userns_map_range(pid_t pid, uid_t uid, gid_t gid, const rt_idrange *r, kb_error *e)
{
	/* newuidmap/newgidmap are setuid helpers that check /etc/subuid and
	 * /etc/subgid for us; each writes its map file in one go, as a map
	 * can be written only once.  setgroups stays allowed: newgidmap may
	 * map groups since it is privileged. */
	pid_t hu = -1, hg = -1;
	int eu = spawn_helper(r->uidmap, pid, uid, r->uid_start, r->uid_count, &hu);
	int eg = spawn_helper(r->gidmap, pid, gid, r->gid_start, r->gid_count, &hg);
	if (hu > 0)
		eu = wait_helper(hu);
	if (hg > 0)
		eg = wait_helper(hg);
	if (eu < 0)
		return kb_err(e, -eu, "map the subordinate uids of %s (newuidmap)", who(pid));
	if (eg < 0)
		return kb_err(e, -eg, "map the subordinate gids of %s (newgidmap)", who(pid));
	return 0;
}
