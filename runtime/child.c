/* rt_close_fds and rt_die_with_parent (child.h): the first steps of
 * every child of the runtime. */
#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef __NR_close_range
#define __NR_close_range 436
#endif

#define MAX_KEEP 8

/* One record of getdents64(2); glibc has no header for the raw call. */
struct dirent64_raw {
	uint64_t ino;
	int64_t off;
	unsigned short reclen;
	unsigned char type;
	char name[];
};

static bool kept(int fd, const int *keep, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (keep[i] == fd)
			return true;
	return false;
}

/* "17" → 17; -1 for "." and "..". */
static int fd_number(const char *s)
{
	int v = 0;
	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (INT_MAX - 9) / 10)
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

/* One pass over /proc/self/fd, closing what is neither kept nor the
 * listing's own fd.  Closing entries already read does not disturb the
 * listing (proc resumes at the next fd number), yet a second pass is
 * made until one closes nothing.  -errno when /proc cannot be read. */
static int close_listed(const int *keep, size_t n)
{
	for (;;) {
		int dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			return -errno;
		_Alignas(8) char buf[4096];
		bool closed = false;
		long got;
		while ((got = syscall(SYS_getdents64, dfd, buf, sizeof buf)) > 0)
			for (long off = 0; off < got;) {
				const struct dirent64_raw *d = (const void *)(buf + off);
				int fd = fd_number(d->name);
				off += d->reclen;
				if (fd > 2 && fd != dfd && !kept(fd, keep, n)) {
					(void)close(fd);
					closed = true;
				}
			}
		int e = got < 0 ? errno : 0;
		(void)close(dfd);
		if (e)
			return -e;
		if (!closed)
			return 0;
	}
}

/* Without /proc: every number below the fd limit (an fd at or above the
 * soft limit cannot have been opened since it was set). */
static void close_below_limit(const int *keep, size_t n)
{
	struct rlimit rl;
	long max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < INT_MAX
			   ? (long)rl.rlim_cur : 1L << 20;
	for (long fd = 3; fd < max; fd++)
		if (!kept((int)fd, keep, n))
			(void)close((int)fd);
}

int rt_close_fds(const int *keep, size_t n)
{
	int k[MAX_KEEP];
	size_t m = 0;

	/* The kept fds, sorted: the gaps between them are the ranges. */
	for (size_t i = 0; i < n; i++) {
		if (keep[i] < 3 || kept(keep[i], k, m))
			continue;
		if (m == MAX_KEEP)
			return -E2BIG;
		size_t j = m++;
		for (; j > 0 && k[j - 1] > keep[i]; j--)
			k[j] = k[j - 1];
		k[j] = keep[i];
	}
	unsigned lo = 3;
	bool ok = true;
	for (size_t i = 0; ok && i <= m; i++) {
		unsigned hi = i < m ? (unsigned)k[i] - 1 : ~0U;
		if (hi >= lo)
			ok = syscall(__NR_close_range, lo, hi, 0) == 0;
		if (i < m)
			lo = (unsigned)k[i] + 1;
	}
	if (ok)
		return 0;
	/* ENOSYS before Linux 5.9, or whatever a container's seccomp profile
	 * answers: the ranges closed so far stay closed, the rest by hand. */
	if (close_listed(k, m) < 0)
		close_below_limit(k, m);
	return 0;
}

/* ---- the parent's death ---- */

/* KBUILD_NS_TEST_PDEATH_WAIT=FILE: hold the child until FILE exists. */
static void test_gate(void)
{
	const char *f = getenv("KBUILD_NS_TEST_PDEATH_WAIT");
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	for (int i = 0; f && *f && i < 6000 && access(f, F_OK) < 0; i++)
		(void)nanosleep(&tick, NULL);
}

bool rt_die_with_parent(pid_t ppid, int hup_fd)
{
	test_gate();
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (hup_fd < 0)
		return getppid() == ppid;
	/* A pipe reports POLLHUP to its reader once every write end is
	 * closed, as the parent's end is when it dies. */
	struct pollfd pf = { .fd = hup_fd, .events = 0 };
	int r;
	while ((r = poll(&pf, 1, 0)) < 0 && errno == EINTR)
		;
	return !(r > 0 && (pf.revents & (POLLHUP | POLLERR)));
}
