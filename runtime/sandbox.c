/* rt_run: the sandbox's life, top to bottom in the order it happens.
 *
 *   monitor (the caller's process, outside)
 *     clone(NEWUSER|NEWNS|NEWPID|NEWIPC|NEWUTS[|NEWNET])
 *     write the id maps, release the child
 *     forward signals, relay the pty, wait, return the status
 *   init (pid 1 inside)
 *     build the root (mounts.c), hostname, loopback, pty
 *     fork the command, then reap every child until the command ends
 *   command
 *     setsid, controlling tty, chdir, capabilities, no_new_privs,
 *     seccomp, execve
 *
 * Errors between clone and execve travel back over a close-on-exec pipe
 * as one message; a successful execve closes the pipe, which the monitor
 * sees as end-of-file. */
#include "sandbox.h"
#include "mounts.h"
#include "term.h"
#include "userns.h"
#include "caps.h"
#include "seccomp-filter.h"

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
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

/* Signals the monitor and init pass on to the command. */
static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };

static void sigset_forwarded(sigset_t *set)
{
	sigemptyset(set);
	for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
		sigaddset(set, forwarded[i]);
	sigaddset(set, SIGCHLD);
}

/* Report an error to the monitor and end this process. */
static _Noreturn void die_err(int errfd, const rt_error *e)
{
	if (write(errfd, e, sizeof *e) < 0) { /* the monitor is gone: nobody to tell */ }
	_exit(e->code);
}

static _Noreturn void die(int errfd, int code, int errnum, const char *fmt, ...)
{
	rt_error e = { .code = code, .errnum = errnum };
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(e.msg, sizeof e.msg, fmt, ap);
	va_end(ap);
	if (errnum && n >= 0 && (size_t)n < sizeof e.msg)
		snprintf(e.msg + n, sizeof e.msg - (size_t)n, ": %s", strerror(errnum));
	die_err(errfd, &e);
}

static int status_code(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return 125;
}

/* ---- command ---- */

static _Noreturn void exec_command(const rt_spec *s, int errfd, const char *pts)
{
	sigset_t none;
	const char *step = NULL;
	int r;

	/* Start from default dispositions and an empty mask: both survive
	 * execve, and we blocked signals for signalfd. */
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	/* A session of its own: the pty (when there is one) becomes its
	 * controlling terminal, and ^C reaches its whole job. */
	setsid();
	if (pts) {
		int fd = open(pts, O_RDWR | O_NOCTTY);
		if (fd < 0 || ioctl(fd, TIOCSCTTY, 0) < 0)
			die(errfd, 125, errno, "controlling terminal %s", pts);
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	if (chdir(s->cwd ? s->cwd : "/") < 0)
		die(errfd, 125, errno, "working directory %s", s->cwd);

	/* Last, in this order: capabilities (needs CAP_SETPCAP, so before
	 * dropping it), no_new_privs (inside rt_caps_limit), then seccomp,
	 * which an unprivileged process may only load under no_new_privs. */
	if ((r = rt_caps_limit(!s->user_host, &step)) < 0)
		die(errfd, 125, -r, "capabilities (%s)", step);
	if (!s->no_seccomp && (r = s->seccomp_bpf ? rt_seccomp_load_bpf(s->seccomp_bpf, s->seccomp_len, &step)
						 : rt_seccomp_apply(&step)) < 0)
		die(errfd, 125, -r, "seccomp (%s)", step);

	/* execvpe would search the PATH of this (the host's) environment:
	 * the command is looked up in the sandbox's own. */
	environ = (char **)s->envp;
	execvp(s->argv[0], s->argv);
	int e = errno;
	die(errfd, e == ENOENT || e == ENOTDIR ? 127 : 126, e, "%s", s->argv[0]);
}

typedef struct command_arg {
	const rt_spec *s;
	int errfd;
	const char *pts;
} command_arg;

static int command_main(void *arg)
{
	const command_arg *a = arg;
	exec_command(a->s, a->errfd, a->pts);
}

/* Start the command as posix_spawn starts a program: CLONE_VM | CLONE_VFORK,
 * on a stack of its own.  Init's page tables are not copied (fork cost
 * 0.2 ms more per run here, the copy's teardown at execve included) and init
 * sleeps until the command has called execve or died.  Sharing the memory
 * is safe because init is single-threaded and waits; everything per
 * process or per thread the command changes (dispositions, mask, session,
 * fds, cwd, capabilities, no_new_privs, seccomp) is its own: no
 * CLONE_SIGHAND, CLONE_FILES, CLONE_FS or CLONE_THREAD. */
static pid_t start_command(const rt_spec *s, int errfd, const char *pts)
{
	static _Alignas(16) char stack[256 * 1024];
	command_arg a = { .s = s, .errfd = errfd, .pts = pts };
	return clone(command_main, stack + sizeof stack, CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
}

/* ---- init (pid 1) ---- */

static _Noreturn void init_main(const rt_spec *s, int errfd, int ptysock)
{
	rt_info info = { 0 };
	rt_error err = { 0 };
	char pts[64] = "";
	sigset_t set;

	prctl(PR_SET_NAME, "kbuild-ns-init");
	/* If the monitor dies, so does the sandbox: pid 1's death takes every
	 * process of the namespace with it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (rt_build_root(s, &info, &err) < 0)
		die_err(errfd, &err);
	if (s->hostname && sethostname(s->hostname, strlen(s->hostname)) < 0)
		die(errfd, 125, errno, "hostname %s", s->hostname);
	if (!s->net_host) {
		int r = rt_loopback_up();
		if (r < 0)
			die(errfd, 125, -r, "bring up the loopback interface");
	}
	if (s->tty) {
		/* The pty comes from our own devpts instance; its master goes to
		 * the monitor, which relays it to the user's terminal. */
		int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, pts, sizeof pts) != 0)
			die(errfd, 125, errno, "open a pty");
		int r = rt_send_fd(ptysock, m);
		if (r < 0)
			die(errfd, 125, -r, "pass the pty to the monitor");
		close(m);
	}
	close(ptysock);
	if (s->fn) {
		char msg[256] = "";
		int r = s->fn(s->fn_arg, msg, sizeof msg);
		if (r < 0)
			die(errfd, 125, -r, "%s", msg);
		_exit(0);
	}

	pid_t cmd = start_command(s, errfd, s->tty ? pts : NULL);
	if (cmd < 0)
		die(errfd, 125, errno, "fork");
	close(errfd);
	/* No one may ptrace pid 1 (with CAP_SYS_PTRACE dropped in the
	 * command, a non-dumpable init is out of its reach). */
	prctl(PR_SET_DUMPABLE, 0);

	sigset_forwarded(&set);
	int sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0)
		_exit(125);
	for (;;) {
		struct signalfd_siginfo si;
		if (read(sfd, &si, sizeof si) != sizeof si) {
			if (errno == EINTR)
				continue;
			_exit(125);
		}
		if (si.ssi_signo != SIGCHLD) {
			/* To the command's whole process group (it is a session
			 * leader), as a terminal would: a shell waiting for its
			 * child gets ^C only together with that child. */
			if (kill(-cmd, (int)si.ssi_signo) < 0)
				kill(cmd, (int)si.ssi_signo);
			continue;
		}
		/* Reap everything: orphans are reparented to us. */
		int st;
		pid_t p;
		while ((p = waitpid(-1, &st, WNOHANG)) > 0)
			if (p == cmd)
				_exit(status_code(st));
	}
}

/* ---- monitor ---- */

typedef struct relay {
	int master;              /* -1 without a pty */
	bool in_open;
} relay;

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

int rt_run(const rt_spec *s, int *ret_status, rt_info *info, rt_error *err)
{
	int sync_p[2], err_p[2], sock[2] = { -1, -1 };
	sigset_t set, old;
	struct termios saved;
	bool raw = false;
	rt_info dummy;

	memset(err, 0, sizeof *err);
	if (!info)
		info = &dummy;
	if (pipe2(sync_p, O_CLOEXEC) < 0 || pipe2(err_p, O_CLOEXEC) < 0) {
		snprintf(err->msg, sizeof err->msg, "pipe: %s", strerror(errno));
		err->code = 125;
		return -1;
	}
	if (s->tty && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sock) < 0) {
		snprintf(err->msg, sizeof err->msg, "socketpair: %s", strerror(errno));
		err->code = 125;
		return -1;
	}
	/* Block the signals we handle before cloning, so none is lost between
	 * clone and signalfd on either side. */
	sigset_forwarded(&set);
	sigprocmask(SIG_BLOCK, &set, &old);

	int flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
	if (!s->net_host)
		flags |= CLONE_NEWNET;
	/* A raw clone with no new stack behaves like fork(); glibc's clone()
	 * wrapper would want a stack and a function. */
	pid_t pid = (pid_t)syscall(SYS_clone, (unsigned long)flags | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid < 0) {
		int e = errno;
		sigprocmask(SIG_SETMASK, &old, NULL);
		snprintf(err->msg, sizeof err->msg, "create namespaces (clone): %s", strerror(e));
		err->code = 125;
		err->errnum = e;
		return -1;
	}
	if (pid == 0) {
		char go;
		close(sync_p[1]);
		close(err_p[0]);
		if (sock[0] >= 0)
			close(sock[0]);
		/* Wait until the monitor has written our id maps: before that we
		 * are "nobody" and every mount would fail. */
		if (read(sync_p[0], &go, 1) != 1)
			_exit(125);
		close(sync_p[0]);
		init_main(s, err_p[1], sock[1]);
	}
	close(sync_p[0]);
	close(err_p[1]);
	if (sock[1] >= 0)
		close(sock[1]);

	/* The maps: root inside by default, or the caller's own ids. */
	const char *step = NULL;
	int r;
	if (s->user_host) {
		r = rt_userns_map_ids(pid, s->uid, s->gid, s->uid, s->gid, &step);
	} else if (s->range) {
		r = rt_userns_map_range(pid, s->uid, s->gid, s->range, &step);
		if (r < 0) {
			/* Like crun: a helper that refuses is not fatal; one id
			 * is always ours to map.  The caller says so. */
			info->range_failed = true;
			info->range_errnum = -r;
			info->range_step = step;
			r = rt_userns_map_single(pid, s->uid, s->gid, &step);
		}
	} else {
		r = rt_userns_map_single(pid, s->uid, s->gid, &step);
	}
	if (r < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		sigprocmask(SIG_SETMASK, &old, NULL);
		snprintf(err->msg, sizeof err->msg, "write %s of the sandbox: %s", step, strerror(-r));
		err->code = 125;
		err->errnum = -r;
		return -1;
	}
	if (write(sync_p[1], "g", 1) != 1) { /* the child died: waitpid below tells */ }
	close(sync_p[1]);

	relay rl = { .master = -1, .in_open = true };
	if (s->tty) {
		rl.master = rt_recv_fd(sock[0]);
		close(sock[0]);
		if (rl.master >= 0) {
			rt_term_copy_size(STDIN_FILENO, rl.master);
			raw = rt_term_raw(STDIN_FILENO, &saved) == 0;
		}
	}

	int sfd = signalfd(-1, &set, SFD_CLOEXEC);
	rt_error child_err = { 0 };
	size_t got = 0;
	bool err_open = true, have_status = false;
	int st = 0;
	/* Until the sandbox has ended, its error pipe has closed (every
	 * writer exec'd or exited) and the pty has drained. */
	while (sfd >= 0 && !(have_status && !err_open && rl.master < 0)) {
		struct pollfd pf[4] = {
			{ .fd = sfd, .events = POLLIN },
			{ .fd = err_open ? err_p[0] : -1, .events = POLLIN },
			{ .fd = rl.master, .events = POLLIN },
			{ .fd = rl.master >= 0 && rl.in_open ? STDIN_FILENO : -1, .events = POLLIN },
		};
		if (poll(pf, 4, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pf[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof si) == sizeof si) {
				int sig = (int)si.ssi_signo;
				if (sig == SIGCHLD) {
					if (waitpid(pid, &st, WNOHANG) == pid)
						have_status = true;
				} else if (sig == SIGWINCH && rl.master >= 0) {
					/* The kernel then signals the pty's foreground job. */
					rt_term_copy_size(STDIN_FILENO, rl.master);
				} else {
					kill(pid, sig);    /* init passes it to the command */
				}
			}
		}
		if (pf[1].revents) {
			ssize_t n = read(err_p[0], (char *)&child_err + got, sizeof child_err - got);
			if (n > 0)
				got += (size_t)n;
			else if (n == 0 || errno != EINTR)
				err_open = false;
		}
		if (pf[2].revents) {
			bool open_flag = true;
			pump(rl.master, STDOUT_FILENO, &open_flag);
			if (!open_flag) {    /* EIO: every slave fd is closed */
				close(rl.master);
				rl.master = -1;
			}
		}
		if (pf[3].revents) {
			pump(STDIN_FILENO, rl.master, &rl.in_open);
			if (!rl.in_open) {
				/* The outer input ended: say so to the inner terminal
				 * the way a user would, with its EOF character. */
				struct termios t;
				char eof = tcgetattr(rl.master, &t) == 0 ? (char)t.c_cc[VEOF] : 4;
				if (write(rl.master, &eof, 1) < 0) { /* the sandbox is gone */ }
			}
		}
	}
	if (!have_status)
		waitpid(pid, &st, 0);
	if (raw)
		rt_term_restore(STDIN_FILENO, &saved);
	if (rl.master >= 0)
		close(rl.master);
	if (sfd >= 0)
		close(sfd);
	close(err_p[0]);
	sigprocmask(SIG_SETMASK, &old, NULL);

	if (got == sizeof child_err) {
		*err = child_err;
		return -1;
	}
	*ret_status = status_code(st);
	return 0;
}
