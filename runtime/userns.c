#include "userns.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

int rt_userns_map_single(pid_t pid, uid_t uid, gid_t gid, const char **ret_step)
{
	return rt_userns_map_ids(pid, 0, uid, 0, gid, ret_step);
}

int rt_userns_map_ids(pid_t pid, uid_t in_uid, uid_t uid, gid_t in_gid, gid_t gid, const char **ret_step)
{
	char map[64];
	int r;

	/* Since Linux 3.19 an unprivileged process must deny setgroups(2)
	 * before it may write a gid_map (CVE-2014-8989: otherwise it could
	 * drop a group used to deny it access).  ENOENT: older kernel. */
	r = write_proc(pid, "setgroups", "deny");
	if (r < 0 && r != -ENOENT) {
		*ret_step = "setgroups";
		return r;
	}
	/* One line, one id: the only map an unprivileged process may write
	 * for itself (user_namespaces(7), "Defining user and group ID
	 * mappings"). */
	snprintf(map, sizeof map, "%u %u 1\n", (unsigned)in_uid, (unsigned)uid);
	if ((r = write_proc(pid, "uid_map", map)) < 0) {
		*ret_step = "uid_map";
		return r;
	}
	snprintf(map, sizeof map, "%u %u 1\n", (unsigned)in_gid, (unsigned)gid);
	if ((r = write_proc(pid, "gid_map", map)) < 0) {
		*ret_step = "gid_map";
		return r;
	}
	return 0;
}

int rt_userns_enter_self(const char **ret_step)
{
	uid_t uid = getuid();
	gid_t gid = getgid();

	/* unshare(CLONE_NEWUSER) fails with EINVAL in a multi-threaded
	 * process, so this must run before any thread is started. */
	if (unshare(CLONE_NEWUSER) < 0) {
		*ret_step = "unshare";
		return -errno;
	}
	return rt_userns_map_single(0, uid, gid, ret_step);
}
