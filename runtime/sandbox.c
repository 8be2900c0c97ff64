/* rt_run: the sandbox's life, top to bottom in the order it happens.
 *
 *   monitor (the caller's process, outside)
 *     clone(NEWUSER|NEWNS|NEWPID|NEWIPC|NEWUTS), or in the run's user
 *     namespace the same without NEWUSER through a middle process
 *     write the id maps, release the child
 *     forward signals, relay the pty, wait, return the status
 *   init (pid 1 inside)
 *     unshare(NEWNET) while the maps are written
 *     build the root (mounts.c), hostname, loopback, pty
 *     fork the command, then reap every child until the command ends
 *   command
 *     setsid, controlling tty, close inherited fds, chdir, capabilities,
 *     no_new_privs, seccomp, execve
 *
 * Errors between clone and execve travel back over a close-on-exec pipe
 * as one message; a successful execve closes the pipe, which the monitor
 * sees as end-of-file.
 *
 * Inside a container that masks parts of /proc the kernel refuses the
 * fresh proc a new pid namespace needs (mounts.c, fresh_proc).  Then the
 * sandbox is made again without NEWPID, with the outer /proc bound
 * read-only ("proc-bound" below): init is no longer pid 1, so it makes
 * itself the subreaper of the command's tree (orphans still come to it),
 * the command dies with it (PR_SET_PDEATHSIG), and what the command left
 * running is killed when it ends or when the monitor dies, as the end of
 * a pid namespace would. */
#include "sandbox.h"
#include "child.h"
#include "mounts.h"
#include "term.h"
#include "userns.h"
#include "caps.h"
#include "seccomp-filter.h"
#include "runns.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

/* Signals the monitor and init pass on to the command. */
static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };

/* Found once per process: this /proc is masked, so every later sandbox
 * goes straight to the proc-bound way (no failed first try each time). */
static bool proc_masked;

static void sigset_forwarded(sigset_t *set)
{
	sigemptyset(set);
	for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
		sigaddset(set, forwarded[i]);
	sigaddset(set, SIGCHLD);
}

/* Report an error to the monitor and end this process.  The error goes
 * over the pipe whole, as the same kb_error the caller gets. */
static _Noreturn void die_err(int errfd, const kb_error *e)
{
	(void)!write(errfd, e, sizeof *e);    /* the monitor may be gone: nobody to tell */
	_exit(kb_err_exit(e));
}

static _Noreturn void die(int errfd, int code, int errnum, const char *fmt, ...) _printf_(4, 5);
static _Noreturn void die(int errfd, int code, int errnum, const char *fmt, ...)
{
	kb_error e = { 0 };
	va_list ap;
	va_start(ap, fmt);
	kb_verr(&e, code, errnum, fmt, ap);
	va_end(ap);
	die_err(errfd, &e);
}

static int status_code(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return KB_EXIT_SIGNAL + WTERMSIG(st);
	return KB_EXIT_FAIL;
}

/* ---- command ---- */

static _Noreturn void exec_command(const rt_spec *s, int errfd, const char *pts, bool proc_bound)
{
	sigset_t none;
	kb_error e = { 0 };

	/* Without a pid namespace, init's death would not take the command
	 * with it: the parent-death signal does (it survives execve). */
	if (proc_bound)
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);

	/* Start from default dispositions and an empty mask: both survive
	 * execve, and we blocked signals for signalfd. */
	for (int sig = 1; sig < NSIG; sig++)
		(void)signal(sig, SIG_DFL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);

	/* A session of its own: the pty (when there is one) becomes its
	 * controlling terminal, and ^C reaches its whole job. */
	(void)setsid();
	if (pts) {
		int fd = open(pts, O_RDWR | O_NOCTTY);
		if (fd < 0 || ioctl(fd, TIOCSCTTY, 0) < 0)
			die(errfd, KB_EXIT_FAIL, errno, "controlling terminal %s", pts);
		(void)dup2(fd, 0);
		(void)dup2(fd, 1);
		(void)dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	/* Init closed what kbuild-ns inherited; whatever init itself still
	 * holds stays out too.  The error pipe is close-on-exec. */
	(void)rt_close_fds(&errfd, 1);
	if (chdir(s->cwd ? s->cwd : "/") < 0)
		die(errfd, KB_EXIT_FAIL, errno, "working directory %s", s->cwd);

	/* Last, in this order: capabilities (needs CAP_SETPCAP, so before
	 * dropping it), no_new_privs (inside rt_caps_limit), then seccomp,
	 * which an unprivileged process may only load under no_new_privs. */
	if (rt_caps_limit(!s->user_host, &e) < 0)
		die_err(errfd, &e);
	if (!s->no_seccomp && (s->seccomp_bpf ? rt_seccomp_load_bpf(s->seccomp_bpf, s->seccomp_len, &e)
					      : rt_seccomp_apply(&e)) < 0)
		die_err(errfd, &e);

	/* execvpe would search the PATH of this (the host's) environment:
	 * the command is looked up in the sandbox's own. */
	environ = (char **)s->envp;
	execvp(s->argv[0], s->argv);
	int en = errno;
	die(errfd, en == ENOENT || en == ENOTDIR ? KB_EXIT_NOT_FOUND : KB_EXIT_CANNOT_EXEC, en, "%s", s->argv[0]);
}

typedef struct command_arg {
	const rt_spec *s;
	int errfd;
	const char *pts;
	bool proc_bound;
} command_arg;

static int command_main(void *arg)
{
	const command_arg *a = arg;
	exec_command(a->s, a->errfd, a->pts, a->proc_bound);
}

/* Start the command as posix_spawn starts a program: CLONE_VM | CLONE_VFORK,
 * on a stack of its own.  Init's page tables are not copied (fork cost
 * 0.2 ms more per run here, the copy's teardown at execve included) and init
 * sleeps until the command has called execve or died.  Sharing the memory
 * is safe because init is single-threaded and waits; everything per
 * process or per thread the command changes (dispositions, mask, session,
 * fds, cwd, capabilities, no_new_privs, seccomp) is its own: no
 * CLONE_SIGHAND, CLONE_FILES, CLONE_FS or CLONE_THREAD. */
static pid_t start_command(const rt_spec *s, int errfd, const char *pts, bool proc_bound)
{
	static _Alignas(16) char stack[256 * 1024];
	command_arg a = { .s = s, .errfd = errfd, .pts = pts, .proc_bound = proc_bound };
	return clone(command_main, stack + sizeof stack, CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
}

/* ---- init (pid 1) ---- */

/* Proc-bound only: kill what the command left behind, as the end of pid 1
 * would have.  Init is the subreaper, so each round's orphans are its
 * children by the time the killed parent is reaped; the rounds end when
 * none is left.  /proc/thread-self/children needs CONFIG_PROC_CHILDREN;
 * without it only the command's process group is reached. */
static void kill_leftovers(pid_t cmd)
{
	(void)kill(-cmd, SIGKILL);
	for (int round = 0; round < 64; round++) {
		char buf[4096];
		int fd = open("/proc/thread-self/children", O_RDONLY | O_CLOEXEC);
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
		if (fd >= 0)
			close(fd);
		if (n <= 0)
			break;
		buf[n] = 0;
		for (char *p = buf, *end; *p; p = end) {
			long pid = strtol(p, &end, 10);
			if (end == p)
				break;
			if (pid > 0 && kill((pid_t)pid, SIGKILL) == 0)
				(void)waitpid((pid_t)pid, NULL, 0);
		}
	}
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

static _Noreturn void init_main(const rt_spec *s, int errfd, int ptysock, int startfd, bool proc_bound)
{
	kb_error err = { 0 };
	char pts[64] = "";
	sigset_t set;
	pid_t monitor_pid = getppid();

	(void)prctl(PR_SET_NAME, "kbuild-ns-init");
	/* Not pid 1: orphans go to the nearest subreaper, which is then us. */
	if (proc_bound)
		(void)prctl(PR_SET_CHILD_SUBREAPER, 1);
	if (rt_build_root(s, proc_bound, &err) < 0)
		die_err(errfd, &err);
	if (s->hostname && sethostname(s->hostname, strlen(s->hostname)) < 0)
		die(errfd, KB_EXIT_FAIL, errno, "hostname %s", s->hostname);
	if (!s->net_host) {
		int r = rt_loopback_up();
		if (r < 0)
			die(errfd, KB_EXIT_FAIL, -r, "bring up the loopback interface");
	}
	if (s->tty) {
		/* The pty comes from our own devpts instance; its master goes to
		 * the monitor, which relays it to the user's terminal. */
		int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, pts, sizeof pts) != 0)
			die(errfd, KB_EXIT_FAIL, errno, "open a pty");
		int r = rt_send_fd(ptysock, m);
		if (r < 0)
			die(errfd, KB_EXIT_FAIL, -r, "pass the pty to the monitor");
		close(m);
	}
	close(ptysock);
	/* The root is ready; the command waits for the monitor's word that
	 * what it needs is done too (before_start).  End-of-file: it failed,
	 * or the monitor died. */
	if (startfd >= 0) {
		char go;
		if (read(startfd, &go, 1) != 1)
			_exit(KB_EXIT_FAIL);
		close(startfd);
	}
	if (s->fn) {
		if (s->fn(s->fn_arg, &err) < 0)
			die_err(errfd, &err);
		_exit(0);
	}

	sigset_forwarded(&set);
	if (proc_bound) {
		/* The monitor's death would end only init and the command
		 * (PR_SET_PDEATHSIG SIGKILL), not what the command started,
		 * with no pid namespace to end with init.  So init takes SIGPWR
		 * instead, through its signalfd, and kills the whole tree
		 * first.  A monitor already gone sent nothing: look. */
		sigset_t pwr;
		sigemptyset(&pwr);
		sigaddset(&pwr, SIGPWR);
		sigaddset(&set, SIGPWR);
		(void)sigprocmask(SIG_BLOCK, &pwr, NULL);
		(void)prctl(PR_SET_PDEATHSIG, SIGPWR);
		if (getppid() != monitor_pid)
			_exit(KB_EXIT_FAIL);
	}
	pid_t cmd = start_command(s, errfd, s->tty ? pts : NULL, proc_bound);
	if (cmd < 0)
		die(errfd, KB_EXIT_FAIL, errno, "fork");
	close(errfd);
	/* No one may ptrace pid 1 (with CAP_SYS_PTRACE dropped in the
	 * command, a non-dumpable init is out of its reach). */
	(void)prctl(PR_SET_DUMPABLE, 0);

	int sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0)
		_exit(KB_EXIT_FAIL);
	for (;;) {
		struct signalfd_siginfo si;
		if (read(sfd, &si, sizeof si) != sizeof si) {
			if (errno == EINTR)
				continue;
			_exit(KB_EXIT_FAIL);
		}
		if (si.ssi_signo == SIGPWR && proc_bound) {
			kill_leftovers(cmd);
			_exit(KB_EXIT_SIGNAL + SIGKILL);
		}
		if (si.ssi_signo != SIGCHLD) {
			/* To the command's whole process group (it is a session
			 * leader), as a terminal would: a shell waiting for its
			 * child gets ^C only together with that child. */
			if (kill(-cmd, (int)si.ssi_signo) < 0)
				(void)kill(cmd, (int)si.ssi_signo);
			continue;
		}
		/* Reap everything: orphans are reparented to us. */
		int st;
		pid_t p;
		while ((p = waitpid(-1, &st, WNOHANG)) > 0)
			if (p == cmd) {
				if (proc_bound)
					kill_leftovers(cmd);
				_exit(status_code(st));
			}
	}
}

/* ---- monitor ---- */

/* What the monitor holds while the sandbox runs. */
typedef struct monitor {
	pid_t pid;               /* init */
	int sync_w;              /* one byte releases init once its maps are written;
				  * held open until init is reaped (rt_die_with_parent) */
	int err_r;               /* init's and the command's error report, or EOF */
	int sock;                /* brings the pty master (tty only), else -1 */
	int start_w;             /* one byte lets the command start (before_start only), else -1 */
	int master;              /* the pty master, -1 without one */
	bool in_open;            /* the user's input has not ended */
	bool joined;             /* in the run's user namespace: its maps are written */
	sigset_t set, old;       /* the signals we take through signalfd; the caller's mask */
} monitor;

static void close_pair(int p[2])
{
	for (int i = 0; i < 2; i++)
		if (p[i] >= 0) {
			close(p[i]);
			p[i] = -1;
		}
}

/* The channels between the monitor and init: [0] is the reading end,
 * [1] the writing end (the monitor reads err and writes sync and start;
 * sock carries the pty master, [0] the monitor's). */
typedef struct chans {
	int sync[2], err[2], sock[2], start[2];
} chans;

static void close_chans(chans *c)
{
	close_pair(c->sync);
	close_pair(c->err);
	close_pair(c->sock);
	close_pair(c->start);
}

/* init's first steps, in the child, whichever way it was cloned. */
static _Noreturn void init_child(const rt_spec *s, chans *c, bool proc_bound)
{
	char go;
	close(c->sync[1]);
	close(c->err[0]);
	if (c->sock[0] >= 0)
		close(c->sock[0]);
	if (c->start[0] >= 0)
		close(c->start[0]);
	/* If the monitor dies, so does the sandbox: pid 1's death takes
	 * every process of the namespace with it.  The monitor holds the
	 * sync pipe's write end until it has reaped us, so its hangup tells
	 * a death that came before we asked. */
	if (!rt_die_with_parent(0, c->sync[0]))
		_exit(KB_EXIT_FAIL);
	/* Nothing kbuild-ns inherited goes further (child.h), nor its own
	 * fds (the checkout's lock would outlive it in an orphan): only our
	 * channels stay (sync, error, pty, start). */
	int keep[] = { c->sync[0], c->err[1], c->sock[1], c->start[1] };
	(void)rt_close_fds(keep, 4);
	/* The network namespace is made here rather than by the clone:
	 * making one (its loopback device, its sysctls) takes about a
	 * millisecond, which in the clone is the monitor's time, and here
	 * overlaps the monitor writing our id maps.  A process has every
	 * capability in the user namespace it was cloned into from the start,
	 * maps or not (user_namespaces(7)), and the network namespace it makes
	 * is owned by that user namespace, as the clone's would be: a fresh
	 * sysfs needs that. */
	if (!s->net_host && unshare(CLONE_NEWNET) < 0)
		die(c->err[1], KB_EXIT_FAIL, errno, "create a network namespace");
	/* Wait until the monitor has written our id maps: before that we
	 * are "nobody" and every mount would fail.  (In the run's user
	 * namespace, the word is already in the pipe.) */
	if (read(c->sync[0], &go, 1) != 1)
		_exit(KB_EXIT_FAIL);
	close(c->sync[0]);
	init_main(s, c->err[1], c->sock[1], c->start[1], proc_bound);
}

/* Joining the run's user namespace (rt_spec.userns) takes a middle
 * process: only a process inside a user namespace can make namespaces it
 * owns, and setns(CLONE_NEWUSER) is one-way, so the monitor cannot be
 * that process.  The middle shares the monitor's memory and the monitor
 * sleeps meanwhile (CLONE_VM | CLONE_VFORK, as posix_spawn): it joins,
 * unshares the other namespaces (CLONE_NEWPID applies to its next
 * child, which becomes pid 1), and clones init with CLONE_PARENT, so that
 * init is the monitor's child, as in the one-clone way, and the middle
 * ends at once. */
typedef struct join_arg {
	const rt_spec *s;
	chans *c;
	int nsfd, flags;
	bool proc_bound;
	pid_t pid;                  /* init */
	int errnum;
	bool joined;                /* setns succeeded */
} join_arg;

static int join_main(void *arg)
{
	join_arg *a = arg;
	/* setns(CLONE_NEWUSER) gives the caller every capability in the
	 * namespace it joins, which a process whose euid owns a child
	 * namespace of its own may do (user_namespaces(7)); it needs a
	 * process that shares neither its thread group nor its fs_struct. */
	if (setns(a->nsfd, CLONE_NEWUSER) < 0) {
		a->errnum = errno;
		return 1;
	}
	a->joined = true;
	if (unshare(a->flags) < 0) {
		a->errnum = errno;
		return 1;
	}
	/* A raw clone with no new stack: init gets a copy of this memory
	 * (the monitor's, with this stack) and goes on from here. */
	pid_t pid = (pid_t)syscall(SYS_clone, (unsigned long)CLONE_PARENT | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid == 0)
		init_child(a->s, a->c, a->proc_bound);
	a->pid = pid;
	a->errnum = pid < 0 ? errno : 0;
	return 0;
}

/* A kernel or a seccomp profile that refuses setns to us: every later
 * sandbox of this process makes its own user namespace, as before. */
static bool join_refused;

static pid_t clone_joined(const rt_spec *s, chans *c, int nsfd, int flags, bool proc_bound, int *ret_errno)
{
	/* init runs on a copy of this stack: room for it as on a main
	 * thread's (only the pages it touches are ever allocated). */
	const size_t size = 8 << 20;
	join_arg a = { .s = s, .c = c, .nsfd = nsfd, .flags = flags, .proc_bound = proc_bound, .pid = -1 };
	char *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
			   -1, 0);
	if (stack == MAP_FAILED) {
		*ret_errno = errno;
		return -1;
	}
	pid_t mid = clone(join_main, stack + size, CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
	if (mid < 0)
		a.errnum = errno;
	else
		while (waitpid(mid, NULL, 0) < 0 && errno == EINTR)
			;
	munmap(stack, size);
	if (!a.joined && mid > 0 && (a.errnum == EPERM || a.errnum == EINVAL || a.errnum == ENOSYS))
		join_refused = true;
	*ret_errno = a.errnum;
	return a.pid;
}

/* Make the channels, clone init into its new namespaces and send it on
 * its way; the monitor keeps its ends. */
static int start(const rt_spec *s, monitor *m, bool proc_bound, kb_error *err)
{
	chans c = { { -1, -1 }, { -1, -1 }, { -1, -1 }, { -1, -1 } };
	int nsfd = s->userns && !join_refused ? s->userns->fd : -1;

	/* start is a socket so that the monitor's word to an init that has
	 * died meanwhile is an error (MSG_NOSIGNAL), not SIGPIPE. */
	if (pipe2(c.sync, O_CLOEXEC) < 0 || pipe2(c.err, O_CLOEXEC) < 0 ||
	    (s->tty && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, c.sock) < 0) ||
	    (s->before_start && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, c.start) < 0)) {
		int en = errno;
		close_chans(&c);
		return kb_err(err, en, "sandbox: pipe");
	}
	/* Block the signals we handle before cloning, so none is lost between
	 * clone and signalfd on either side. */
	sigset_forwarded(&m->set);
	(void)sigprocmask(SIG_BLOCK, &m->set, &m->old);

	/* The network namespace comes later: init makes it (init_child). */
	int flags = CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS;
	if (!proc_bound)
		flags |= CLONE_NEWPID;
	pid_t pid = -1;
	int en = 0;
	bool joined = false;
	if (nsfd >= 0) {
		/* The maps are written: init need not wait for them. */
		(void)!write(c.sync[1], "g", 1);
		pid = clone_joined(s, &c, nsfd, flags, proc_bound, &en);
		joined = pid > 0;
		if (pid < 0 && join_refused) {
			/* A fresh pipe: the word in this one is for a joined init. */
			close_pair(c.sync);
			if (pipe2(c.sync, O_CLOEXEC) < 0)
				en = errno;
			else
				nsfd = -1;
		}
	}
	if (nsfd < 0)
		/* A raw clone with no new stack behaves like fork(); glibc's
		 * clone() wrapper would want a stack and a function. */
		pid = (pid_t)syscall(SYS_clone, (unsigned long)(flags | CLONE_NEWUSER) | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid == 0)
		init_child(s, &c, proc_bound);
	if (pid < 0) {
		if (!en)
			en = errno;
		(void)sigprocmask(SIG_SETMASK, &m->old, NULL);
		close_chans(&c);
		return kb_err(err, en, nsfd >= 0 ? "create namespaces in the run's user namespace"
					       : "create namespaces (clone)");
	}
	close(c.sync[0]);
	close(c.err[1]);
	if (c.sock[1] >= 0)
		close(c.sock[1]);
	if (c.start[1] >= 0)
		close(c.start[1]);
	*m = (monitor){ .pid = pid, .sync_w = c.sync[1], .err_r = c.err[0], .sock = c.sock[0], .start_w = c.start[0],
			.master = -1, .in_open = true, .joined = joined, .set = m->set, .old = m->old };
	return 0;
}

/* init's id maps: root inside is the caller (and 1..N the subordinate
 * range, when there is one), or with --user host the caller's own ids. */
static int write_maps(const rt_spec *s, pid_t pid, rt_info *info, kb_error *err)
{
	if (s->user_host)
		return rt_userns_map_ids(pid, s->uid, s->gid, s->uid, s->gid, err);
	if (s->range) {
		if (rt_userns_map_range(pid, s->uid, s->gid, s->range, &info->range_err) == 0)
			return 0;
		/* Like crun: a helper that refuses is not fatal; one id is
		 * always ours to map.  The caller says so. */
		info->range_failed = true;
	}
	return rt_userns_map_single(pid, s->uid, s->gid, err);
}

static void pump(int from, int to, bool *open_flag)
{
	char buf[8192];
	ssize_t n = read(from, buf, sizeof buf);
	if (n <= 0) {
		if (n == 0 || (errno != EINTR && errno != EAGAIN))
			*open_flag = false;
		return;
	}
	for (ssize_t off = 0; off < n;) {
		ssize_t w = write(to, buf + off, (size_t)(n - off));
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		off += w;
	}
}

/* One signal for the monitor: init's end, a window size change (the
 * kernel then signals the pty's foreground job), or one to pass on (init
 * gives it to the command).  True when init has ended, with its status. */
static bool on_signal(monitor *m, int sfd, int *st)
{
	struct signalfd_siginfo si;
	if (read(sfd, &si, sizeof si) != sizeof si)
		return false;
	int sig = (int)si.ssi_signo;
	if (sig == SIGCHLD)
		return waitpid(m->pid, st, WNOHANG) == m->pid;
	if (sig == SIGWINCH && m->master >= 0)
		rt_term_copy_size(STDIN_FILENO, m->master);
	else if (sig != SIGWINCH)
		(void)kill(m->pid, sig);
	return false;
}

/* The outer input ended: say so to the inner terminal the way a user
 * would, with its EOF character. */
static void send_eof(int master)
{
	struct termios t;
	char eof = tcgetattr(master, &t) == 0 ? (char)t.c_cc[VEOF] : 4;
	(void)!write(master, &eof, 1);    /* the sandbox may be gone */
}

/* Until the sandbox has ended, its error pipe has closed (every writer
 * exec'd or exited) and the pty has drained: forward signals, relay the
 * pty, collect an error report.  Returns init's wait status. */
static int watch(monitor *m, kb_error *report, size_t *got)
{
	int sfd = signalfd(-1, &m->set, SFD_CLOEXEC);
	bool err_open = true, have_status = false;
	int st = 0;

	while (sfd >= 0 && !(have_status && !err_open && m->master < 0)) {
		struct pollfd pf[4] = {
			{ .fd = sfd, .events = POLLIN },
			{ .fd = err_open ? m->err_r : -1, .events = POLLIN },
			{ .fd = m->master, .events = POLLIN },
			{ .fd = m->master >= 0 && m->in_open ? STDIN_FILENO : -1, .events = POLLIN },
		};
		if (poll(pf, 4, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if ((pf[0].revents & POLLIN) && on_signal(m, sfd, &st))
			have_status = true;
		if (pf[1].revents) {
			ssize_t n = read(m->err_r, (char *)report + *got, sizeof *report - *got);
			if (n > 0)
				*got += (size_t)n;
			else if (n == 0 || errno != EINTR)
				err_open = false;
		}
		if (pf[2].revents) {
			bool open_flag = true;
			pump(m->master, STDOUT_FILENO, &open_flag);
			if (!open_flag) {    /* EIO: every slave fd is closed */
				close(m->master);
				m->master = -1;
			}
		}
		if (pf[3].revents) {
			pump(STDIN_FILENO, m->master, &m->in_open);
			if (!m->in_open)
				send_eof(m->master);
		}
	}
	if (!have_status)
		(void)waitpid(m->pid, &st, 0);
	if (sfd >= 0)
		close(sfd);
	return st;
}

/* A sandbox that will not run: init killed and reaped, the channels
 * closed, the caller's signal mask back. */
static int abandon(monitor *m, int r)
{
	(void)kill(m->pid, SIGKILL);
	(void)waitpid(m->pid, NULL, 0);
	(void)sigprocmask(SIG_SETMASK, &m->old, NULL);
	close(m->sync_w);
	close(m->err_r);
	if (m->sock >= 0)
		close(m->sock);
	if (m->start_w >= 0)
		close(m->start_w);
	return r;
}

/* The caller's hooks run with the caller's signal mask but SIGCHLD still
 * blocked: init's end must stay pending for watch(), which takes it
 * through a signalfd. */
static void hook_mask(const monitor *m, bool enter)
{
	sigset_t mask = m->old;
	sigaddset(&mask, SIGCHLD);
	if (enter) {
		(void)sigprocmask(SIG_SETMASK, &mask, NULL);
		return;
	}
	(void)sigprocmask(SIG_SETMASK, &m->set, NULL);
	(void)sigprocmask(SIG_BLOCK, &m->old, NULL);
}

/* The caller's work beside init's (rt_spec.before_start).  Done once
 * per rt_run (*done), even when the sandbox is made again proc-bound. */
static int before_start(const rt_spec *s, monitor *m, bool *done, kb_error *err)
{
	if (!*done) {
		hook_mask(m, true);
		int r = s->before_start(s->before_arg, err);
		hook_mask(m, false);
		if (r < 0)
			return r;
		*done = true;
	}
	/* An init that died meanwhile has said why on its error pipe. */
	(void)send(m->start_w, "g", 1, MSG_NOSIGNAL);
	close(m->start_w);
	m->start_w = -1;
	return 0;
}

/* One sandbox, start to end (rt_run). */
static int run_once(const rt_spec *s, bool proc_bound, bool *hook_done, int *ret_status, rt_info *info,
		    kb_error *err)
{
	monitor m;
	struct termios saved;
	bool raw = false;
	int r;

	*info = (rt_info){ .proc_bound = proc_bound };
	if ((r = start(s, &m, proc_bound, err)) < 0)
		return r;
	if (!m.joined) {
		if ((r = write_maps(s, m.pid, info, err)) < 0)
			return abandon(&m, r);
		(void)!write(m.sync_w, "g", 1);    /* if init died, the wait tells */
		if (s->userns)
			rt_runns_adopt(s->userns, m.pid, info->range_failed, &info->range_err);
	} else if (s->userns->range_failed) {
		info->range_failed = true;
		info->range_err = s->userns->range_err;
	}
	if (s->before_start && (r = before_start(s, &m, hook_done, err)) < 0)
		return abandon(&m, r);
	if (s->after_start) {
		hook_mask(&m, true);
		s->after_start(s->after_arg);
		hook_mask(&m, false);
	}
	if (s->tty) {
		m.master = rt_recv_fd(m.sock);
		close(m.sock);
		if (m.master >= 0) {
			rt_term_copy_size(STDIN_FILENO, m.master);
			raw = rt_term_raw(STDIN_FILENO, &saved) == 0;
		}
	}
	kb_error report = { 0 };
	size_t got = 0;
	int st = watch(&m, &report, &got);
	close(m.sync_w);
	if (raw)
		rt_term_restore(STDIN_FILENO, &saved);
	if (m.master >= 0)
		close(m.master);
	close(m.err_r);
	(void)sigprocmask(SIG_SETMASK, &m.old, NULL);

	if (got == sizeof report) {
		*err = report;
		return report.errnum ? -report.errnum : -EIO;
	}
	*ret_status = status_code(st);
	return 0;
}

int rt_run(const rt_spec *s, int *ret_status, rt_info *info, kb_error *err)
{
	rt_info dummy;
	kb_error first = { 0 };
	bool hook_done = false;

	if (!info)
		info = &dummy;
	if (proc_masked)
		return run_once(s, true, &hook_done, ret_status, info, err);
	int r = run_once(s, false, &hook_done, ret_status, info, &first);
	if (r < 0 && first.code == RT_CODE_PROC_MASKED) {
		/* Nothing was mounted yet (fresh_proc comes first) and the
		 * namespaces died with init: start again, proc-bound. */
		proc_masked = true;
		return run_once(s, true, &hook_done, ret_status, info, err);
	}
	if (r < 0)
		*err = first;
	return r;
}
