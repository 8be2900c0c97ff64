/* rt_isolate and rt_call_mapped (isolate.h): a child in new user and
 * mount namespaces that runs a function of ours on detached clones of
 * some host directories. */
#include "isolate.h"
#include "child.h"
#include "userns.h"
#include "runns.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_DIRS RT_ISO_MAX_DIRS

/* The child's report, ahead of the caller's shared area. */
typedef struct iso_hdr {
	bool fallback;              /* no user namespaces, or no new mount API: run in process */
	kb_error err;               /* the child's set-up error, or fn's */
} iso_hdr;

#define HDR_SIZE ((sizeof(iso_hdr) + 63) & ~(size_t)63)

static iso_hdr *hdr_of(void *shared)
{
	return (iso_hdr *)((char *)shared - HDR_SIZE);
}

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

/* The child's namespaces: its own user namespace (mapped by itself, or by
 * the parent through the setuid helpers when up/down are given) and the
 * mount namespace it owns, made private. */
static int enter_namespaces(iso_hdr *h, const int *up, const int *down, int nsfd)
{
	uid_t uid = getuid();
	gid_t gid = getgid();

	/* The run's user namespace, mapped already (runns.h): a mount
	 * namespace of our own under it.  Where setns is refused (a seccomp
	 * profile may allow unshare and not setns), one of our own. */
	if (nsfd >= 0 && setns(nsfd, CLONE_NEWUSER) == 0) {
		close(nsfd);
		if (unshare(CLONE_NEWNS) < 0)
			return kb_err(&h->err, errno, "unshare a mount namespace");
	} else if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) {
		/* A new user namespace first: it owns the mount namespace
		 * made with it, which is what lets an unprivileged process
		 * clone and remount (mount_namespaces(7): CAP_SYS_ADMIN in
		 * the owning user ns). */
		h->fallback = !up && (errno == EPERM || errno == EINVAL || errno == ENOSPC || errno == EACCES);
		return kb_err(&h->err, errno, "unshare user and mount namespaces");
	} else if (up) {
		/* Root inside is the caller, 1..N the subordinate range: the
		 * namespace's capabilities then reach files of those ids too. */
		char c = 1;
		if (write(up[1], &c, 1) != 1 || read(down[0], &c, 1) != 1 || c != 1)
			return kb_errx(&h->err, EPERM, "map the subordinate ids");
	} else if (rt_userns_map_ids(0, uid, uid, gid, gid, &h->err) < 0) {
		/* The caller's own ids, and only them: files written keep
		 * their owner, and no other id of the host means anything. */
		return -1;
	}
	/* Nothing we do here may reach the host's mount table. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return kb_err(&h->err, errno, "make / private");
	return 0;
}

/* A detached copy of the tree at path (AT_RECURSIVE: with any mounts
 * below it, which the kernel would otherwise refuse to split from a
 * locked parent).  Read-only is a property of this copy alone: the host's
 * mount stays as it was. */
static int clone_dir(iso_hdr *h, const rt_iso_dir *d)
{
	int fd = (int)syscall(SYS_open_tree, AT_FDCWD, d->path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
	if (fd < 0) {
		h->fallback = errno == ENOSYS;    /* before Linux 5.2 */
		return kb_err(&h->err, errno, "clone %s", d->path);
	}
	if (d->ro) {
		struct mount_attr a = { .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV };
		if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof a) < 0) {
			h->fallback = errno == ENOSYS;    /* before Linux 5.12 */
			int en = errno;
			close(fd);
			return kb_err(&h->err, en, "read-only clone of %s", d->path);
		}
	}
	return fd;
}

/* What the child is given besides the directories. */
typedef struct iso_call {
	rt_iso_fn fn;
	void *arg;
	void *shared;
	int keep_fd;                /* an fd of the caller's that fn uses, or -1 */
	int nsfd;                   /* the run's user namespace to join, or -1 */
	int go_fd;                  /* made ahead: wait here for the word to run fn, or -1 */
	pid_t parent;
} iso_call;

static int child(const rt_iso_dir *dirs, size_t n, const iso_call *c, const int *up, const int *down)
{
	iso_hdr *h = hdr_of(c->shared);
	int fds[MAX_DIRS];

	/* Die with the caller: a sync must not outlive the make that asked,
	 * nor hold its lock (an inherited fd) once it is gone. */
	if (!rt_die_with_parent(c->parent, -1))
		return 1;
	/* Nothing else of the caller's: no fd it inherited (child.h), none
	 * of its own but the mapping pipes and the one fn was promised. */
	int keep[] = { up ? up[1] : -1, down ? down[0] : -1, c->keep_fd, c->nsfd, c->go_fd };
	(void)rt_close_fds(keep, 5);
	/* Made ahead, it waits while a build runs in the same user
	 * namespace, and holds the trees fn writes: not dumpable, so that
	 * no process of that namespace may ptrace it or reach its fds
	 * through /proc (that takes CAP_SYS_PTRACE where its memory was
	 * made, the host's user namespace: ptrace(2), "Ptrace access mode
	 * checking"). */
	if (c->go_fd >= 0)
		(void)prctl(PR_SET_DUMPABLE, 0);
	if (enter_namespaces(h, up, down, c->nsfd) < 0)
		return 1;
	for (size_t i = 0; i < n; i++)
		if ((fds[i] = clone_dir(h, &dirs[i])) < 0)
			return 1;
	if (c->go_fd >= 0) {
		char go;
		if (read(c->go_fd, &go, 1) != 1 || go != 'g')
			return 0;    /* not wanted after all: nothing done */
	}
	return c->fn(c->arg, fds, c->shared, &h->err) < 0 ? 1 : 0;
}

static int in_process(const rt_iso_dir *dirs, size_t n, rt_iso_fn fn, void *arg, void *shared, kb_error *err)
{
	int fds[MAX_DIRS];
	size_t i;
	int r = 0;

	for (i = 0; i < n && r == 0; i++)
		if ((fds[i] = open(dirs[i].path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
			r = kb_err(err, errno, "open %s", dirs[i].path);
	if (r < 0)
		i--;
	else
		r = fn(arg, fds, shared, err);
	while (i-- > 0)
		close(fds[i]);
	return r;
}

/* With a range, the parent maps it (only the setuid helpers may): the
 * child says when its namespace exists on up, and waits for down. */
static void map_child(pid_t pid, const rt_idrange *range, int up, int down, iso_hdr *h)
{
	char c = 0;
	if (read(up, &c, 1) == 1 && c == 1) {
		c = rt_userns_map_range(pid, getuid(), getgid(), range, &h->err) == 0 ? 1 : 0;
		(void)!write(down, &c, 1);    /* a dead child: the wait tells */
	}
}

/* The child's end: its report, its death, or its status. */
static int child_result(pid_t pid, iso_hdr *h, kb_error *err)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return kb_err(err, errno, "wait for the sandbox");
	if (kb_err_set(&h->err)) {
		*err = h->err;
		return h->err.errnum ? -h->err.errnum : -EIO;
	}
	if (WIFSIGNALED(st))
		return kb_errx(err, EINTR, "sandbox killed by signal %d", WTERMSIG(st));
	if (WEXITSTATUS(st) != 0)
		return kb_errx(err, EIO, "sandbox: exit status %d", WEXITSTATUS(st));
	return 0;
}

/* The child's result; where it could make no user namespace, fn runs
 * in this process instead (*ret_isolated false). */
static int finish(pid_t pid, const rt_iso_dir *dirs, size_t n, rt_iso_fn fn, void *arg, void *shared,
		  bool *ret_isolated, kb_error *err)
{
	iso_hdr *h = hdr_of(shared);
	int r = child_result(pid, h, err);
	if (h->fallback) {
		*err = (kb_error){ 0 };
		return in_process(dirs, n, fn, arg, shared, err);
	}
	*ret_isolated = true;
	return r;
}

static int isolate(const rt_iso_dir *dirs, size_t n, int keep_fd, int nsfd, const rt_idrange *range, rt_iso_fn fn,
		   void *arg, void *shared, bool *ret_isolated, kb_error *err)
{
	iso_hdr *h = hdr_of(shared);
	iso_call c = { .fn = fn, .arg = arg, .shared = shared, .keep_fd = keep_fd, .nsfd = nsfd, .go_fd = -1,
		       .parent = getpid() };
	int up[2] = { -1, -1 }, down[2] = { -1, -1 };

	*ret_isolated = false;
	if (n > MAX_DIRS)
		return kb_errx(err, E2BIG, "sandbox: too many directories");
	*h = (iso_hdr){ 0 };
	if (range && (pipe2(up, O_CLOEXEC) < 0 || pipe2(down, O_CLOEXEC) < 0)) {
		int en = errno;
		for (int i = 0; i < 2; i++) {
			if (up[i] >= 0)
				close(up[i]);
			if (down[i] >= 0)
				close(down[i]);
		}
		return kb_err(err, en, "sandbox: pipe");
	}
	pid_t pid = fork();
	if (pid == 0)
		_exit(child(dirs, n, &c, range ? up : NULL, range ? down : NULL));
	int en = errno;
	if (range) {
		close(up[1]);
		close(down[0]);
		if (pid > 0)
			map_child(pid, range, up[0], down[1], h);
		close(up[0]);
		close(down[1]);
	}
	if (pid < 0)
		return kb_err(err, en, "sandbox: fork");
	return finish(pid, dirs, n, fn, arg, shared, ret_isolated, err);
}

int rt_isolate(const rt_iso_dir *dirs, size_t n, const rt_idrange *range, rt_iso_fn fn, void *arg, void *shared,
	       bool *ret_isolated, kb_error *err)
{
	return isolate(dirs, n, -1, -1, range, fn, arg, shared, ret_isolated, err);
}

int rt_isolate_in(rt_runns *ns, const rt_iso_dir *dirs, size_t n, rt_iso_fn fn, void *arg, void *shared,
		  bool *ret_isolated, kb_error *err)
{
	return isolate(dirs, n, -1, ns ? ns->fd : -1, NULL, fn, arg, shared, ret_isolated, err);
}

/* ---- made ahead ---- */

void rt_isolate_ahead(rt_iso_ahead *a, rt_runns *ns, const rt_iso_dir *dirs, size_t n, rt_iso_fn fn, void *arg,
		      void *shared)
{
	int go[2];
	*a = (rt_iso_ahead){ .ns = ns, .n = n, .fn = fn, .arg = arg, .shared = shared, .go_w = -1 };
	if (n > MAX_DIRS)
		return;
	memcpy(a->dirs, dirs, n * sizeof *dirs);
	/* Only in the run's user namespace, which needs no maps written for
	 * it: the point is to have nothing left to do but fn. */
	if (!ns || ns->fd < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, go) < 0)
		return;
	iso_call c = { .fn = fn, .arg = arg, .shared = shared, .keep_fd = -1, .nsfd = ns->fd, .go_fd = go[1],
		       .parent = getpid() };
	*hdr_of(shared) = (iso_hdr){ 0 };
	pid_t pid = fork();
	if (pid == 0) {
		close(go[0]);
		_exit(child(a->dirs, n, &c, NULL, NULL));
	}
	close(go[1]);
	if (pid < 0) {
		close(go[0]);
		return;
	}
	a->pid = pid;
	a->go_w = go[0];
}

int rt_isolate_go(rt_iso_ahead *a, bool run, bool *ret_isolated, kb_error *err)
{
	*ret_isolated = false;
	if (a->pid <= 0)
		return run ? rt_isolate_in(a->ns, a->dirs, a->n, a->fn, a->arg, a->shared, ret_isolated, err) : 0;
	/* A child that died waiting (a ^C meant for the build, say) cannot
	 * take the word (MSG_NOSIGNAL: an error, not SIGPIPE): made again. */
	bool sent = run && send(a->go_w, "g", 1, MSG_NOSIGNAL) == 1;
	close(a->go_w);
	a->go_w = -1;
	pid_t pid = a->pid;
	a->pid = 0;
	if (!sent) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return run ? rt_isolate_in(a->ns, a->dirs, a->n, a->fn, a->arg, a->shared, ret_isolated, err) : 0;
	}
	return finish(pid, a->dirs, a->n, a->fn, a->arg, a->shared, ret_isolated, err);
}

/* ---- work on files of subordinate ids ---- */

typedef struct mapped_call {
	int (*fn)(void *arg, kb_error *e);
	void *arg;
} mapped_call;

static int mapped_fn(void *arg, const int *fds, void *shared, kb_error *e)
{
	const mapped_call *m = arg;
	(void)fds, (void)shared;
	return m->fn(m->arg, e);
}

int rt_call_mapped(const rt_idrange *range, int keep_fd, int (*fn)(void *arg, kb_error *e), void *arg, kb_error *err)
{
	/* rt_isolate's set-up with no directory handed over: a child in
	 * new namespaces with the range mapped. */
	mapped_call m = { fn, arg };
	bool isolated;
	void *shared = rt_iso_shared(1);
	if (!shared)
		return kb_err(err, errno, "map the subordinate ids");
	int r = isolate(NULL, 0, keep_fd, -1, range, mapped_fn, &m, shared, &isolated, err);
	rt_iso_shared_free(shared, 1);
	return r;
}
