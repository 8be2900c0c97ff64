/* probe: runs INSIDE a kbuild-ns sandbox and checks one property per
 * sub-command.  Built statically (no dependency on the image's libc):
 *
 *	gcc -static -O2 -o probe tests/helpers/probe.c
 *
 * It prints one line: "ok" or "ok: details" when the property holds,
 * otherwise the reason, and exits 0 (holds), 1 (does not hold) or 2
 * (usage, or the probe itself could not run the check).  The checks
 * that expect a refusal take an optional errno name (EPERM) that the
 * failure must carry; without it any failure is accepted and named.
 *
 *	probe pid1 [COMM]        we are not pid 1; prints pid 1's comm (and
 *	                         checks it is COMM)
 *	probe no-host-procs [N]  at most N (default 4) processes in /proc
 *	probe maps               uid_map, gid_map, setgroups, our ids
 *	probe caps [BND [EFF]]   Cap* lines of /proc/self/status (and checks
 *	                         CapBnd and CapEff, hex)
 *	probe nnp                NoNewPrivs: 1
 *	probe seccomp            Seccomp: 2 (filter mode)
 *	probe keyctl [ERRNO]     keyctl(KEYCTL_GET_KEYRING_ID) is refused
 *	probe unshare-user [ERRNO]  unshare(CLONE_NEWUSER) is refused
 *	probe mount [ERRNO]      mounting a tmpfs on /tmp is refused
 *	probe ptrace1 [ERRNO]    ptrace(PTRACE_ATTACH, 1) is refused
 *	probe enosys             an unknown syscall and clone3 give ENOSYS
 *	probe ro PATH            PATH is on a read-only mount, and writing
 *	                         it (a file) or creating a file in it (a
 *	                         directory) fails (EROFS, mostly)
 *	probe net-lo-only        the only network interface is lo
 *	probe connect HOST PORT  a TCP connection to HOST:PORT fails
 *	probe tiocsti [ERRNO]    ioctl(0, TIOCSTI) is refused, also with
 *	                         junk in the upper 32 bits of the command
 *	probe euid               prints our ids and capabilities (always ok)
 *	probe setuid PATH        exec of PATH (a setuid/setgid copy of this
 *	                         probe) gains no id and no capability
 *	probe reap               an orphaned grandchild is reaped by pid 1
 *	probe signal [SECS]      prints "waiting", waits for SIGTERM, SIGINT,
 *	                         SIGHUP, SIGQUIT, SIGUSR1 or SIGUSR2, prints
 *	                         "got SIGTERM" and exits 128+N (143); exits 1
 *	                         after SECS (default 30) seconds
 *	probe winsize            prints "ROWS COLS" of stdin's terminal
 *	probe istty              stdin is a terminal (exit 1, "not a tty",
 *	                         if not)
 *	probe fds                only fds 0, 1 and 2 are open (the listing's
 *	                         own aside); prints the others and where
 *	                         they lead
 *
 * The setuid check.  A sandbox must not let a setuid-root program raise
 * the caller's privilege (no_new_privs, plus the kernel ignoring setuid
 * bits of files whose owner is unmapped).  The test makes a copy of this
 * probe that is setuid and owned by another id than the one the probe
 * runs as (e.g. in a subuid sandbox: owned by root inside, probe run with
 * --user host; or, from the host, a copy owned by root in a bind-mounted
 * directory), then runs `probe setuid /that/copy`.  The probe execs the
 * copy as `COPY euid`, reads the ids and capability sets it reports and
 * fails if any id or capability was gained.  When the copy's owner is
 * our own euid the check is vacuous and the ok line says so. */
#ifndef _GNU_SOURCE     /* automake passes -D_GNU_SOURCE=1 */
#define _GNU_SOURCE 1
#endif
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/keyctl.h>

#ifndef __NR_clone3
#define __NR_clone3 435
#endif

#define _unused_ __attribute__((unused))
#define PATH_MAX_PROBE 4096

enum { OK = 0, FAIL = 1, ERR = 2 };

static int say(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int say(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	return code;
}

static const char *errname(int e)
{
	const char *n = strerrorname_np(e);
	return n ? n : "E?";
}

/* Read a small file into buf (NUL-terminated, trailing newline cut). */
static bool slurp(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0;
	ssize_t n;

	if (fd < 0)
		return false;
	while (len < size - 1 && (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = 0;
	while (len && buf[len - 1] == '\n')
		buf[--len] = 0;
	return true;
}

/* The value after "NAME:" in /proc/self/status, as text. */
static bool status_field(const char *name, char *out, size_t size)
{
	char buf[8192];
	size_t nl = strlen(name);

	if (!slurp("/proc/self/status", buf, sizeof buf))
		return false;
	for (char *p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, name, nl) && p[nl] == ':') {
			p += nl + 1;
			p += strspn(p, " \t");
			size_t len = strcspn(p, "\n");
			snprintf(out, size, "%.*s", (int)len, p);
			return true;
		}
	return false;
}

/* A call that must fail: report its errno (checked against want, an
 * errno name, when given). */
static int refused(const char *what, long r, int err, const char *want)
{
	if (r >= 0)
		return say(FAIL, "%s succeeded (returned %ld)", what, r);
	if (want && strcmp(want, errname(err)))
		return say(FAIL, "%s failed with %s, expected %s", what, errname(err), want);
	return say(OK, "ok: %s: %s", what, errname(err));
}

/* ---- processes ---- */

static int cmd_pid1(char **argv)
{
	char comm[64];
	pid_t pid = getpid();

	if (pid == 1)
		return say(FAIL, "the probe is pid 1: the sandbox has no init");
	if (!slurp("/proc/1/comm", comm, sizeof comm))
		return say(ERR, "/proc/1/comm: %s", strerror(errno));
	if (argv[0] && strcmp(comm, argv[0]))
		return say(FAIL, "pid 1 is \"%s\", expected \"%s\"", comm, argv[0]);
	return say(OK, "ok: pid %d, pid 1 is %s", (int)pid, comm);
}

static int cmd_no_host_procs(char **argv)
{
	long max = argv[0] ? strtol(argv[0], NULL, 10) : 4;
	char list[2048] = "", comm[64], path[300];
	int count = 0;
	size_t len = 0;
	DIR *d = opendir("/proc");
	struct dirent *e;

	if (!d)
		return say(ERR, "/proc: %s", strerror(errno));
	while ((e = readdir(d))) {
		if (strspn(e->d_name, "0123456789") != strlen(e->d_name))
			continue;
		snprintf(path, sizeof path, "/proc/%s/comm", e->d_name);
		if (!slurp(path, comm, sizeof comm))
			continue;       /* gone meanwhile */
		count++;
		if (len < sizeof list - 1)
			len += (size_t)snprintf(list + len, sizeof list - len, "%s%s %s", count > 1 ? ", " : "",
						e->d_name, comm);
	}
	closedir(d);
	if (count > max)
		return say(FAIL, "%d processes visible (at most %ld expected): %s", count, max, list);
	return say(OK, "ok: %d processes: %s", count, list);
}

/* Fork a child that forks a grandchild and exits at once: the grandchild
 * is orphaned and reparented to the pid namespace's init (or the nearest
 * subreaper).  It reports its new parent and exits; its zombie must then
 * disappear, which only happens if that parent waits for it. */
static int cmd_reap(_unused_ char **argv)
{
	int p[2], st;
	pid_t gc = 0, newparent = 0;
	char path[64], line[256];

	if (pipe(p) < 0)
		return say(ERR, "pipe: %s", strerror(errno));
	pid_t child = fork();
	if (child < 0)
		return say(ERR, "fork: %s", strerror(errno));
	if (child == 0) {
		pid_t parent = getpid();
		gc = fork();
		if (gc == 0) {
			for (int i = 0; i < 2000 && getppid() == parent; i++)
				usleep(1000);
			newparent = getppid();
			if (write(p[1], &newparent, sizeof newparent) < 0)
				_exit(1);
			_exit(0);
		}
		if (write(p[1], &gc, sizeof gc) < 0)
			_exit(1);
		_exit(gc > 0 ? 0 : 1);
	}
	close(p[1]);
	if (waitpid(child, &st, 0) != child || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return say(ERR, "the middle child failed");
	if (read(p[0], &gc, sizeof gc) != sizeof gc || read(p[0], &newparent, sizeof newparent) != sizeof newparent)
		return say(ERR, "the grandchild did not report");
	close(p[0]);
	if (newparent == getpid())
		return say(FAIL, "the probe itself became the reaper: it is pid 1 (no init) or a subreaper");

	snprintf(path, sizeof path, "/proc/%d/stat", (int)gc);
	for (int i = 0; i < 300; i++) {         /* up to 3 s */
		if (!slurp(path, line, sizeof line))
			return say(OK, "ok: orphan %d was reparented to %d and reaped", (int)gc, (int)newparent);
		usleep(10000);
	}
	/* "PID (comm) S PPID …": the state after the last ')' */
	char *s = strrchr(line, ')');
	return say(FAIL, "orphan %d (parent %d) still there after 3 s, state %c", (int)gc, (int)newparent,
		   s && s[1] ? s[2] : '?');
}

static int cmd_signal(char **argv)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM };
	unsigned secs = argv[0] ? (unsigned)strtoul(argv[0], NULL, 10) : 30;
	sigset_t set;
	int sig;

	/* Blocked and fetched with sigwait: no handler, no race between
	 * printing "waiting" and being ready. */
	sigemptyset(&set);
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		sigaddset(&set, sigs[i]);
	sigprocmask(SIG_BLOCK, &set, NULL);
	alarm(secs);
	say(OK, "waiting");
	if (sigwait(&set, &sig) != 0)
		return say(ERR, "sigwait failed");
	if (sig == SIGALRM)
		return say(FAIL, "timeout: no signal in %u s", secs);
	say(OK, "got SIG%s", sigabbrev_np(sig));
	return 128 + sig;
}

/* ---- ids, capabilities, seccomp ---- */

static int cmd_maps(_unused_ char **argv)
{
	static const char *const files[] = { "uid_map", "gid_map", "setgroups" };
	char buf[1024], path[64];

	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(path, sizeof path, "/proc/self/%s", files[i]);
		if (!slurp(path, buf, sizeof buf))
			return say(ERR, "%s: %s", path, strerror(errno));
		/* "         0       1000          1\n" → "0 1000 1"; lines
		 * joined by "; " */
		printf("%s: ", files[i]);
		bool space = false, first = true;
		for (char *c = buf; *c; c++) {
			if (*c == '\n') {
				fputs("; ", stdout);
				space = false, first = true;
			} else if (*c == ' ' || *c == '\t') {
				space = !first;
			} else {
				if (space)
					putchar(' ');
				putchar(*c);
				space = false, first = false;
			}
		}
		putchar('\n');
	}
	return say(OK, "ok: uid %u gid %u", (unsigned)getuid(), (unsigned)getgid());
}

static int cmd_caps(char **argv)
{
	static const char *const names[] = { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb" };
	char v[64], bnd[64] = "", eff[64] = "";

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (!status_field(names[i], v, sizeof v))
			return say(ERR, "/proc/self/status has no %s", names[i]);
		printf("%s: %s\n", names[i], v);
		if (!strcmp(names[i], "CapBnd"))
			snprintf(bnd, sizeof bnd, "%s", v);
		if (!strcmp(names[i], "CapEff"))
			snprintf(eff, sizeof eff, "%s", v);
	}
	if (argv[0] && strtoull(argv[0], NULL, 16) != strtoull(bnd, NULL, 16))
		return say(FAIL, "CapBnd is %s, expected %s", bnd, argv[0]);
	if (argv[0] && argv[1] && strtoull(argv[1], NULL, 16) != strtoull(eff, NULL, 16))
		return say(FAIL, "CapEff is %s, expected %s", eff, argv[1]);
	return say(OK, "ok");
}

static int expect_status(const char *name, const char *want)
{
	char v[64];
	if (!status_field(name, v, sizeof v))
		return say(ERR, "/proc/self/status has no %s", name);
	if (strcmp(v, want))
		return say(FAIL, "%s: %s, expected %s", name, v, want);
	return say(OK, "ok: %s: %s", name, v);
}

static int cmd_nnp(_unused_ char **argv) { return expect_status("NoNewPrivs", "1"); }

static int cmd_seccomp(_unused_ char **argv)
{
	char n[32];
	if (status_field("Seccomp_filters", n, sizeof n))
		printf("Seccomp_filters: %s\n", n);
	return expect_status("Seccomp", "2");
}

static int cmd_euid(_unused_ char **argv)
{
	uid_t r, e, s;
	gid_t rg, eg, sg;
	char prm[64] = "?", eff[64] = "?";

	getresuid(&r, &e, &s);
	getresgid(&rg, &eg, &sg);
	status_field("CapPrm", prm, sizeof prm);
	status_field("CapEff", eff, sizeof eff);
	return say(OK, "ruid=%u euid=%u suid=%u rgid=%u egid=%u sgid=%u CapPrm=%s CapEff=%s", (unsigned)r,
		   (unsigned)e, (unsigned)s, (unsigned)rg, (unsigned)eg, (unsigned)sg, prm, eff);
}

static bool parse_kv(const char *line, const char *key, unsigned long long *ret, int base)
{
	char pat[32];
	snprintf(pat, sizeof pat, " %s=", key);
	const char *p = strstr(line, pat);
	if (!p)
		return false;
	*ret = strtoull(p + strlen(pat), NULL, base);
	return true;
}

static int cmd_setuid(char **argv)
{
	struct stat sb;
	struct statvfs vfs;
	int p[2], st;
	char out[512] = " ";
	size_t len = 1;
	ssize_t n;

	if (stat(argv[0], &sb) < 0)
		return say(ERR, "%s: %s", argv[0], strerror(errno));
	if (!(sb.st_mode & (S_ISUID | S_ISGID)))
		return say(ERR, "%s is neither setuid nor setgid (mode %04o)", argv[0], (unsigned)(sb.st_mode & 07777));
	if (pipe(p) < 0)
		return say(ERR, "pipe: %s", strerror(errno));
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		execl(argv[0], argv[0], "euid", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	while (len < sizeof out - 1 && (n = read(p[0], out + len, sizeof out - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = 0;
	close(p[0]);
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return say(ERR, "%s euid: did not run (status %#x)", argv[0], pid < 0 ? -1 : st);

	unsigned long long euid, egid, prm, eff;
	if (!parse_kv(out, "euid", &euid, 10) || !parse_kv(out, "egid", &egid, 10) ||
	    !parse_kv(out, "CapPrm", &prm, 16) || !parse_kv(out, "CapEff", &eff, 16))
		return say(ERR, "%s euid: unexpected output \"%s\"", argv[0], out + 1);
	char v[64] = "0";
	status_field("CapPrm", v, sizeof v);
	unsigned long long my_prm = strtoull(v, NULL, 16);
	uid_t my_euid = geteuid();
	gid_t my_egid = getegid();

	if (euid != my_euid || egid != my_egid)
		return say(FAIL, "%s raised its ids: euid %llu egid %llu (ours: %u %u)", argv[0], euid, egid,
			   (unsigned)my_euid, (unsigned)my_egid);
	if ((prm | eff) & ~my_prm)
		return say(FAIL, "%s gained capabilities: CapPrm %llx CapEff %llx (ours: CapPrm %llx)", argv[0], prm,
			   eff, my_prm);
	bool nosuid = statvfs(argv[0], &vfs) == 0 && (vfs.f_flag & ST_NOSUID);
	return say(OK, "ok: %s (owner %u, mode %04o%s) ran with euid %llu egid %llu CapPrm %llx%s", argv[0],
		   (unsigned)sb.st_uid, (unsigned)(sb.st_mode & 07777), nosuid ? ", on a nosuid mount" : "", euid, egid,
		   prm, sb.st_uid == my_euid ? " (vacuous: the owner is our own euid)" : "");
}

/* ---- refused calls ---- */

static int cmd_keyctl(char **argv)
{
	errno = 0;
	long r = syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0);
	return refused("keyctl", r, errno, argv[0]);
}

static int cmd_unshare_user(char **argv)
{
	errno = 0;
	long r = unshare(CLONE_NEWUSER);
	return refused("unshare(CLONE_NEWUSER)", r, errno, argv[0]);
}

static int cmd_mount(char **argv)
{
	errno = 0;
	long r = mount("tmpfs", "/tmp", "tmpfs", 0, NULL);
	int err = errno;
	if (r == 0)
		umount2("/tmp", MNT_DETACH);
	return refused("mount tmpfs on /tmp", r, err, argv[0]);
}

static int cmd_ptrace1(char **argv)
{
	errno = 0;
	long r = ptrace(PTRACE_ATTACH, 1, NULL, NULL);
	int err = errno;
	if (r == 0) {                   /* undo: let init run again */
		waitpid(1, NULL, __WALL);
		ptrace(PTRACE_DETACH, 1, NULL, NULL);
	}
	return refused("ptrace(PTRACE_ATTACH, 1)", r, err, argv[0]);
}

static int cmd_enosys(_unused_ char **argv)
{
	errno = 0;
	long r = syscall(999);
	if (r >= 0 || errno != ENOSYS)
		return say(FAIL, "syscall 999: %s, expected ENOSYS", r >= 0 ? "succeeded" : errname(errno));
	errno = 0;
	r = syscall(__NR_clone3, NULL, 0);
	if (r >= 0 || errno != ENOSYS)
		return say(FAIL, "clone3: %s, expected ENOSYS", r >= 0 ? "succeeded" : errname(errno));
	return say(OK, "ok: syscall 999 and clone3: ENOSYS");
}

static int cmd_tiocsti(char **argv)
{
	char c = '#';           /* if it ever got through: a shell comment */

	errno = 0;
	long r = ioctl(0, TIOCSTI, &c);
	if (r >= 0 || (argv[0] && strcmp(argv[0], errname(errno))))
		return refused("ioctl(0, TIOCSTI)", r, errno, argv[0]);
	int err = errno;
#if __SIZEOF_LONG__ == 8
	/* the kernel truncates the command to 32 bits; the filter must too */
	errno = 0;
	r = syscall(SYS_ioctl, 0, (1UL << 32) | TIOCSTI, &c);
	if (r >= 0 || (argv[0] && strcmp(argv[0], errname(errno))))
		return refused("ioctl(0, TIOCSTI | 1<<32)", r, errno, argv[0]);
#endif
	return say(OK, "ok: ioctl(0, TIOCSTI): %s%s", errname(err), isatty(0) ? "" : " (stdin is not a terminal)");
}

/* ---- filesystem and network ---- */

/* Read-only: the mount holding PATH says so (statvfs ST_RDONLY, which
 * reflects both a read-only superblock and a read-only bind mount), and a
 * write attempt fails.  The attempt's errno is EROFS on most filesystems,
 * but procfs and sysfs answer ENOENT (no such name to create) or EACCES
 * (files owned by an unmapped root) before they look at the mount, so any
 * failure counts once the mount is read-only; the errno is printed. */
static int cmd_ro(char **argv)
{
	struct stat sb;
	struct statvfs vfs;
	char name[4096];
	int fd, err;

	if (stat(argv[0], &sb) < 0 || statvfs(argv[0], &vfs) < 0)
		return say(ERR, "%s: %s", argv[0], strerror(errno));
	if (S_ISDIR(sb.st_mode)) {
		snprintf(name, sizeof name, "%s/.probe-ro-%d", argv[0], (int)getpid());
		fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		err = errno;
		if (fd >= 0) {
			close(fd);
			unlink(name);
			return say(FAIL, "created %s", name);
		}
	} else {
		/* no O_TRUNC: a wrong PATH must not lose its content */
		fd = open(argv[0], O_WRONLY | O_APPEND | O_CLOEXEC);
		err = errno;
		if (fd >= 0) {
			close(fd);
			return say(FAIL, "%s opened for writing", argv[0]);
		}
	}
	if (!(vfs.f_flag & ST_RDONLY))
		return say(FAIL, "%s is on a read-write mount (the write failed with %s)", argv[0], errname(err));
	return say(OK, "ok: %s: read-only mount, write: %s", argv[0], errname(err));
}

static int cmd_net_lo_only(_unused_ char **argv)
{
	struct if_nameindex *ifs = if_nameindex();
	char list[1024] = "";
	size_t len = 0;
	bool other = false;

	if (!ifs)
		return say(ERR, "if_nameindex: %s", strerror(errno));
	for (struct if_nameindex *i = ifs; i->if_index; i++) {
		other |= strcmp(i->if_name, "lo") != 0;
		if (len < sizeof list - 1)
			len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", len ? " " : "", i->if_name);
	}
	if_freenameindex(ifs);
	if (other)
		return say(FAIL, "interfaces: %s", list);
	return say(OK, "ok: interfaces: %s", list[0] ? list : "(none)");
}

static int cmd_connect(char **argv)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	socklen_t sl;
	long port = strtol(argv[1], NULL, 10);
	char where[128];
	int err = 0;

	if (port <= 0 || port > 65535)
		return say(ERR, "bad port %s", argv[1]);
	/* numeric only: a static binary cannot use NSS */
	if (inet_pton(AF_INET, argv[0], &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		sl = sizeof *in4;
	} else if (inet_pton(AF_INET6, argv[0], &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		sl = sizeof *in6;
	} else {
		return say(ERR, "%s: not a numeric address", argv[0]);
	}
	snprintf(where, sizeof where, ss.ss_family == AF_INET6 ? "[%s]:%ld" : "%s:%ld", argv[0], port);
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return say(OK, "ok: socket: %s", errname(errno));
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0) {
		err = errno;
		if (err == EINPROGRESS) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };
			socklen_t el = sizeof err;
			if (poll(&pfd, 1, 3000) == 0) {
				close(fd);
				return say(OK, "ok: connect %s: timed out", where);
			}
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
		}
	}
	close(fd);
	if (!err)
		return say(FAIL, "connected to %s", where);
	return say(OK, "ok: connect %s: %s", where, errname(err));
}

/* ---- terminal ---- */

static int cmd_winsize(_unused_ char **argv)
{
	struct winsize ws;
	if (ioctl(0, TIOCGWINSZ, &ws) < 0)
		return say(FAIL, "TIOCGWINSZ on stdin: %s", errname(errno));
	return say(OK, "%u %u", (unsigned)ws.ws_row, (unsigned)ws.ws_col);
}

static int cmd_istty(_unused_ char **argv)
{
	if (!isatty(0))
		return say(FAIL, "not a tty");
	return say(OK, "tty");
}

/* ---- inherited file descriptors ---- */

static int cmd_fds(_unused_ char **argv)
{
	char extra[2048] = "";
	size_t len = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	if (!d)
		return say(ERR, "/proc/self/fd: %s", errname(errno));
	while ((e = readdir(d))) {
		char *end, link[PATH_MAX_PROBE], path[64];
		long fd = strtol(e->d_name, &end, 10);
		if (*end || end == e->d_name || fd <= 2 || fd == dirfd(d))
			continue;
		snprintf(path, sizeof path, "/proc/self/fd/%ld", fd);
		ssize_t n = readlink(path, link, sizeof link - 1);
		link[n > 0 ? n : 0] = 0;
		len += (size_t)snprintf(extra + len, len < sizeof extra ? sizeof extra - len : 0, " %ld->%s", fd, link);
		if (len >= sizeof extra)
			len = sizeof extra - 1;
	}
	closedir(d);
	if (len)
		return say(FAIL, "open beyond 0 1 2:%s", extra);
	return say(OK, "ok: only 0 1 2");
}

static const struct {
	const char *name;
	int (*fn)(char **argv);
	int min, max;           /* number of arguments */
} cmds[] = {
	{ "pid1", cmd_pid1, 0, 1 },
	{ "no-host-procs", cmd_no_host_procs, 0, 1 },
	{ "maps", cmd_maps, 0, 0 },
	{ "caps", cmd_caps, 0, 2 },
	{ "nnp", cmd_nnp, 0, 0 },
	{ "seccomp", cmd_seccomp, 0, 0 },
	{ "keyctl", cmd_keyctl, 0, 1 },
	{ "unshare-user", cmd_unshare_user, 0, 1 },
	{ "mount", cmd_mount, 0, 1 },
	{ "ptrace1", cmd_ptrace1, 0, 1 },
	{ "enosys", cmd_enosys, 0, 0 },
	{ "ro", cmd_ro, 1, 1 },
	{ "net-lo-only", cmd_net_lo_only, 0, 0 },
	{ "connect", cmd_connect, 2, 2 },
	{ "tiocsti", cmd_tiocsti, 0, 1 },
	{ "euid", cmd_euid, 0, 0 },
	{ "setuid", cmd_setuid, 1, 1 },
	{ "reap", cmd_reap, 0, 0 },
	{ "signal", cmd_signal, 0, 1 },
	{ "winsize", cmd_winsize, 0, 0 },
	{ "istty", cmd_istty, 0, 0 },
	{ "fds", cmd_fds, 0, 0 },
};

int main(int argc, char **argv)
{
	if (argc >= 2)
		for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
			if (!strcmp(argv[1], cmds[i].name)) {
				if (argc - 2 < cmds[i].min || argc - 2 > cmds[i].max)
					break;
				return cmds[i].fn(argv + 2);
			}
	fprintf(stderr, "usage: probe COMMAND [ARGS] (commands:");
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		fprintf(stderr, " %s", cmds[i].name);
	fprintf(stderr, "; see the comment at the top of tests/helpers/probe.c)\n");
	return ERR;
}
