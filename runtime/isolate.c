#include "isolate.h"
#include "userns.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_DIRS 8

/* How the child's set-up went, ahead of the caller's area. */
typedef struct iso_hdr {
	int errnum;                 /* 0: set up; else the step below failed */
	bool fallback;              /* no user namespaces, or no new mount API: run in process */
	char step[200];
} iso_hdr;

#define HDR_SIZE ((sizeof(iso_hdr) + 63) & ~(size_t)63)

void *rt_iso_shared(size_t len)
{
	void *p = mmap(NULL, HDR_SIZE + len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : (char *)p + HDR_SIZE;
}

void rt_iso_shared_free(void *p, size_t len)
{
	if (p)
		munmap((char *)p - HDR_SIZE, HDR_SIZE + len);
}

static int setup_fail(iso_hdr *h, int errnum, const char *what, const char *path)
{
	h->errnum = errnum;
	snprintf(h->step, sizeof h->step, "%s%s%s", what, path ? " " : "", path ? path : "");
	return 125;
}

/* With a range, the parent maps it (only the setuid helpers may): the
 * child says when its namespace exists on up[1] and waits for down[0]. */
static int child(const rt_iso_dir *dirs, size_t n, rt_iso_fn fn, void *arg, void *shared, const int *up,
		 const int *down)
{
	iso_hdr *h = (iso_hdr *)((char *)shared - HDR_SIZE);
	int fds[MAX_DIRS];
	uid_t uid = getuid();
	gid_t gid = getgid();
	const char *step = NULL;
	int r;

	/* Die with the caller: a sync must not outlive the make that asked. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* A new user namespace first: it owns the mount namespace made with
	 * it, which is what lets an unprivileged process clone and remount
	 * (mount_namespaces(7): CAP_SYS_ADMIN in the owning user ns). */
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) {
		h->fallback = !up && (errno == EPERM || errno == EINVAL || errno == ENOSPC || errno == EACCES);
		return setup_fail(h, errno, "unshare user and mount namespaces", NULL);
	}
	if (up) {
		/* Root inside is the caller, 1..N the subordinate range: the
		 * namespace's capabilities then reach files of those ids too. */
		char c = 1;
		if (write(up[1], &c, 1) != 1 || read(down[0], &c, 1) != 1 || c != 1)
			return setup_fail(h, EPERM, "map the subordinate ids", NULL);
	} else if ((r = rt_userns_map_ids(0, uid, uid, gid, gid, &step)) < 0) {
		/* The caller's own ids, and only them: files written keep
		 * their owner, and no other id of the host means anything. */
		return setup_fail(h, -r, step, NULL);
	}
	/* Nothing we do here may reach the host's mount table. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return setup_fail(h, errno, "make / private", NULL);
	for (size_t i = 0; i < n; i++) {
		/* A detached copy of the tree (AT_RECURSIVE: with any mounts
		 * below it, which the kernel would otherwise refuse to split
		 * from a locked parent).  Read-only is a property of this copy
		 * alone: the host's mount stays as it was. */
		fds[i] = (int)syscall(SYS_open_tree, AT_FDCWD, dirs[i].path,
				      OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
		if (fds[i] < 0) {
			h->fallback = errno == ENOSYS;    /* before Linux 5.2 */
			return setup_fail(h, errno, "clone", dirs[i].path);
		}
		if (dirs[i].ro) {
			struct mount_attr a = { .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV };
			if (syscall(SYS_mount_setattr, fds[i], "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof a) < 0) {
				h->fallback = errno == ENOSYS;    /* before Linux 5.12 */
				return setup_fail(h, errno, "read-only clone of", dirs[i].path);
			}
		}
	}
	return fn(arg, fds, shared);
}

static int in_process(const rt_iso_dir *dirs, size_t n, rt_iso_fn fn, void *arg, void *shared, rt_error *err)
{
	int fds[MAX_DIRS];
	size_t i;
	for (i = 0; i < n; i++) {
		fds[i] = open(dirs[i].path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fds[i] < 0) {
			err->code = 125;
			err->errnum = errno;
			snprintf(err->msg, sizeof err->msg, "open %s: %s", dirs[i].path, strerror(errno));
			break;
		}
	}
	int r = i == n ? fn(arg, fds, shared) : -1;
	while (i-- > 0)
		close(fds[i]);
	return r;
}

int rt_isolate(const rt_iso_dir *dirs, size_t n, const rt_idrange *range, rt_iso_fn fn, void *arg, void *shared,
	       bool *ret_isolated, rt_error *err)
{
	iso_hdr *h = (iso_hdr *)((char *)shared - HDR_SIZE);
	int st, up[2] = { -1, -1 }, down[2] = { -1, -1 };

	*ret_isolated = false;
	if (n > MAX_DIRS) {
		*err = (rt_error){ .code = 125, .errnum = E2BIG };
		snprintf(err->msg, sizeof err->msg, "isolate: too many directories");
		return -1;
	}
	memset(h, 0, sizeof *h);
	if (range && (pipe2(up, O_CLOEXEC) < 0 || pipe2(down, O_CLOEXEC) < 0)) {
		*err = (rt_error){ .code = 125, .errnum = errno };
		snprintf(err->msg, sizeof err->msg, "pipe: %s", strerror(errno));
		for (int i = 0; i < 2; i++) {
			if (up[i] >= 0)
				close(up[i]);
			if (down[i] >= 0)
				close(down[i]);
		}
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		*err = (rt_error){ .code = 125, .errnum = errno };
		snprintf(err->msg, sizeof err->msg, "fork: %s", strerror(errno));
		for (int i = 0; range && i < 2; i++)
			close(up[i]), close(down[i]);
		return -1;
	}
	if (pid == 0)
		_exit(child(dirs, n, fn, arg, shared, range ? up : NULL, range ? down : NULL));
	if (range) {
		const char *step = "newuidmap";
		char c = 0;
		close(up[1]);
		close(down[0]);
		if (read(up[0], &c, 1) == 1 && c == 1) {
			int r = rt_userns_map_range(pid, getuid(), getgid(), range, &step);
			c = r == 0 ? 1 : 0;
			if (r < 0)
				snprintf(h->step, sizeof h->step, "%s", step);
			(void)!write(down[1], &c, 1);
		}
		close(up[0]);
		close(down[1]);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			*err = (rt_error){ .code = 125, .errnum = errno };
			snprintf(err->msg, sizeof err->msg, "wait: %s", strerror(errno));
			return -1;
		}
	if (h->fallback)
		return in_process(dirs, n, fn, arg, shared, err);
	if (h->errnum) {
		*err = (rt_error){ .code = 125, .errnum = h->errnum };
		snprintf(err->msg, sizeof err->msg, "%s: %s", h->step, strerror(h->errnum));
		return -1;
	}
	*ret_isolated = true;
	if (WIFSIGNALED(st)) {
		*err = (rt_error){ .code = 125, .errnum = EINTR };
		snprintf(err->msg, sizeof err->msg, "killed by signal %d", WTERMSIG(st));
		return -1;
	}
	return WEXITSTATUS(st);
}

/* ---- work on files of subordinate ids ---- */

typedef struct mapped_call {
	int (*fn)(void *arg);
	void *arg;
} mapped_call;

static int mapped_fn(void *arg, const int *fds, void *shared)
{
	const mapped_call *m = arg;
	(void)fds, (void)shared;
	return m->fn(m->arg) == 0 ? 0 : 1;
}

int rt_call_mapped(const rt_idrange *range, int (*fn)(void *arg), void *arg, rt_error *err)
{
	/* rt_isolate's set-up with no directory handed over: a child in
	 * new namespaces with the range mapped. */
	mapped_call m = { fn, arg };
	bool isolated;
	void *shared = rt_iso_shared(1);
	if (!shared) {
		*err = (rt_error){ .code = 125, .errnum = errno };
		snprintf(err->msg, sizeof err->msg, "map the subordinate ids: %s", strerror(errno));
		return -1;
	}
	int r = rt_isolate(NULL, 0, range, mapped_fn, &m, shared, &isolated, err);
	rt_iso_shared_free(shared, 1);
	if (r > 0) {
		*err = (rt_error){ .code = 125, .errnum = EPERM };
		snprintf(err->msg, sizeof err->msg, "failed even with the subordinate ids mapped");
	}
	return r == 0 ? 0 : -1;
}
