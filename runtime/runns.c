/* The run's user namespace (runns.h). */
#include "runns.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

void rt_runns_adopt(rt_runns *u, pid_t pid, bool range_failed, const kb_error *range_err)
{
	char path[64];
	if (u->fd >= 0)
		return;
	snprintf(path, sizeof path, "/proc/%d/ns/user", (int)pid);
	/* Without it (a /proc without ns/, a file descriptor limit), each
	 * sandbox makes its own, as before. */
	u->fd = open(path, O_RDONLY | O_CLOEXEC);
	u->range_failed = range_failed;
	if (range_failed)
		u->range_err = *range_err;
}

void rt_runns_end(rt_runns *u)
{
	if (u->fd >= 0)
		close(u->fd);
	u->fd = -1;
}
