/* Host probes for `kbuild-ns doctor`.  Each probe tries the real thing
 * where it can (see probe.h); the explanations and fixes live in
 * probe-explain.c so that `run` can print the same advice. */
#include "probe-internal.h"
#include "userns.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <linux/openat2.h>

/* A probe child that has not answered by then is killed: a hung NFS
 * server must not hang doctor. */
#define TRIAL_TIMEOUT_MS 3000

bool probe_forced(const char *id)
{
	const char *v = getenv(RT_PROBE_FAIL_ENV);
	size_t n = strlen(id);

	for (const char *p = v; p && *p; p += strcspn(p, ",")) {
		p += *p == ',';
		if (!strncmp(p, id, n) && (p[n] == ',' || p[n] == 0))
			return true;
	}
	return false;
}

/* ---- the namespace trial, run in a forked child ---- */

/* What the parent prepared in the temporary directory. */
typedef struct trial_setup {
	const char *dir;          /* NULL: no directory, overlay not tried */
	bool lower_whiteout;      /* l1/x is a whiteout over l2/x */
	bool lower_opaque;        /* l1/d is opaque over l2/d/y */
} trial_setup;

/* One result per part; err: 0 worked, > 0 the errno, -1 not tried.  The
 * child writes the whole struct back over a pipe. */
typedef struct trial_part {
	int err;
	char step[80];
} trial_part;

typedef struct trial_report {
	trial_part userns, overlay, lplus, proc;
	char label[128];          /* the AppArmor label inside the new user namespace */
} trial_report;

/* The step an error names, without the strerror text kb_err added (the
 * explanations print the cause themselves). */
static const char *step_of(kb_error *e)
{
	const char *why = strerror(e->errnum);
	size_t n = strlen(e->msg), w = strlen(why);
	if (e->errnum && n > w + 2 && !strcmp(e->msg + n - w, why) && !strncmp(e->msg + n - w - 2, ": ", 2))
		e->msg[n - w - 2] = 0;
	return e->msg;
}

static void part_fail(trial_part *t, int err, const char *step)
{
	t->err = err;
	snprintf(t->step, sizeof t->step, "%s", step);
}

static void try_overlay(const trial_setup *s, trial_part *t)
{
	if (probe_forced("overlay"))
		return part_fail(t, EPERM, "mount overlay");
	/* Relative paths from the probe directory (the child chdir'd there):
	 * no state directory path can upset the comma- and colon-separated
	 * option string.  userxattr: an unprivileged mounter may only use
	 * user.overlay.* xattrs (Linux 5.11, overlayfs.rst "Permission model").
	 *
	 * volatile (Linux 5.10): unmounting an overlay syncs the whole upper
	 * filesystem (ovl_sync_fs), which costs a journal commit, a quarter
	 * of a second on a slow disk, for files that are deleted next.  The
	 * retry without it keeps the answer right on a kernel without it. */
	if (mount("overlay", "m", "overlay", 0, "userxattr,volatile,lowerdir=l1:l2,upperdir=u,workdir=w") < 0 &&
	    mount("overlay", "m", "overlay", 0, "userxattr,lowerdir=l1:l2,upperdir=u,workdir=w") < 0)
		return part_fail(t, errno, "mount overlay");
	/* Use it the way a build does: a new file, a copy-up, a whiteout,
	 * and the layers' own whiteouts and opaque directories honoured. */
	int fd = open("m/new", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0)
		return part_fail(t, errno, "create a file in the overlay");
	close(fd);
	fd = open("m/g", O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0 || write(fd, "x", 1) != 1) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return part_fail(t, e, "copy up a file of a lower layer");
	}
	close(fd);
	if (unlink("m/f") < 0)
		return part_fail(t, errno, "remove a file of a lower layer (whiteout)");
	if (s->lower_whiteout && access("m/x", F_OK) == 0)
		return part_fail(t, EINVAL, "a whiteout in a lower layer is not honoured");
	if (s->lower_opaque && access("m/d/y", F_OK) == 0)
		return part_fail(t, EINVAL, "an opaque directory (user.overlay.opaque) in a lower layer is not honoured");
	if (umount2("m", 0) < 0)
		return part_fail(t, errno, "unmount overlay");
	t->err = 0;
}

/* The new mount API takes one lower layer per fsconfig call (Linux 6.8),
 * which lifts mount(2)'s one-page limit on the option string.  Kernels
 * 5.2 to 6.4 accept any key through the legacy adapter and only refuse
 * at FSCONFIG_CMD_CREATE, so the whole mount must be tried. */
static void try_lowerdir_plus(trial_part *t)
{
	if (probe_forced("lowerdir+"))
		return part_fail(t, EINVAL, "fsconfig lowerdir+");
	int fd = fsopen("overlay", FSOPEN_CLOEXEC);
	if (fd < 0)
		return part_fail(t, errno, "fsopen overlay");
	const char *step = "fsconfig lowerdir+";
	int r = fsconfig(fd, FSCONFIG_SET_STRING, "lowerdir+", "l1", 0);
	if (r == 0)
		r = fsconfig(fd, FSCONFIG_SET_STRING, "lowerdir+", "l2", 0);
	if (r == 0 && (r = fsconfig(fd, FSCONFIG_SET_STRING, "upperdir", "u2", 0)) < 0)
		step = "fsconfig upperdir";
	if (r == 0 && (r = fsconfig(fd, FSCONFIG_SET_STRING, "workdir", "w2", 0)) < 0)
		step = "fsconfig workdir";
	if (r == 0 && (r = fsconfig(fd, FSCONFIG_SET_FLAG, "userxattr", NULL, 0)) < 0)
		step = "fsconfig userxattr";
	if (r == 0)
		(void)fsconfig(fd, FSCONFIG_SET_FLAG, "volatile", NULL, 0);    /* see try_overlay */
	if (r == 0 && (r = fsconfig(fd, FSCONFIG_CMD_CREATE, NULL, NULL, 0)) < 0)
		step = "fsconfig create";
	if (r < 0) {
		int e = errno;
		close(fd);
		return part_fail(t, e, step);
	}
	int mfd = fsmount(fd, FSMOUNT_CLOEXEC, 0);
	int e = errno;
	close(fd);
	if (mfd < 0)
		return part_fail(t, e, "fsmount");
	r = move_mount(mfd, "", AT_FDCWD, "m", MOVE_MOUNT_F_EMPTY_PATH);
	e = errno;
	close(mfd);
	if (r < 0)
		return part_fail(t, e, "move_mount");
	(void)umount2("m", MNT_DETACH);
	t->err = 0;
}

/* A fresh proc for a new pid namespace.  The kernel allows it only when
 * the proc already visible is not partly hidden (fs/namespace.c,
 * mount_too_revealing): container runtimes mask /proc/kcore and friends
 * with bind mounts, which makes it fail with EPERM. */
static void try_proc(trial_part *t)
{
	if (probe_forced("proc"))
		return part_fail(t, EPERM, "mount proc");
	/* unshare(CLONE_NEWPID) only puts the children in the new namespace;
	 * proc shows the mounter's pid namespace, so a child must mount it. */
	if (unshare(CLONE_NEWPID) < 0)
		return part_fail(t, errno, "unshare pid namespace");
	pid_t pid = fork();
	if (pid < 0)
		return part_fail(t, errno, "fork into the pid namespace");
	if (pid == 0)
		_exit(mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0 ? errno & 0xff : 0);
	int st;
	if (waitpid(pid, &st, 0) < 0)
		return part_fail(t, errno, "wait for the pid namespace");
	if (!WIFEXITED(st))
		return part_fail(t, EIO, "mount proc (the child died)");
	if (WEXITSTATUS(st))
		return part_fail(t, WEXITSTATUS(st), "mount proc");
	t->err = 0;
}

static void read_label(char *buf, size_t len)
{
	buf[0] = 0;
	int fd = open("/proc/self/attr/apparmor/current", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fd = open("/proc/self/attr/current", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, len - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	buf[strcspn(buf, "\n")] = 0;
}

static void trial_child(const trial_setup *s, trial_report *r)
{
	uid_t uid = getuid();
	gid_t gid = getgid();

	r->overlay.err = r->lplus.err = r->proc.err = -1;
	if (probe_forced("userns"))
		return part_fail(&r->userns, EPERM, "unshare(CLONE_NEWUSER)");
	/* Only a single-threaded process may unshare(CLONE_NEWUSER): this
	 * is a fresh fork, so it is. */
	if (unshare(CLONE_NEWUSER) < 0)
		return part_fail(&r->userns, errno, "unshare(CLONE_NEWUSER)");
	/* Ubuntu moves a process that makes a user namespace without a
	 * profile allowing it into "unprivileged_userns", visible here. */
	read_label(r->label, sizeof r->label);
	kb_error err = { 0 };
	if (rt_userns_map_single(0, uid, gid, &err) < 0)
		return part_fail(&r->userns, err.errnum, step_of(&err));
	/* The sandbox makes these too, in the same clone. */
	if (unshare(CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET) < 0)
		return part_fail(&r->userns, errno, "unshare ipc, uts and network namespaces");
	r->userns.err = 0;

	if (unshare(CLONE_NEWNS) < 0) {
		part_fail(&r->overlay, errno, "unshare mount namespace");
		r->proc = r->overlay;
		return;
	}
	/* A mount namespace made by a less privileged user namespace already
	 * turns shared mounts into slaves (mount_namespaces(7)); private
	 * states the intent: nothing tried here is seen outside. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		part_fail(&r->overlay, errno, "make / private");
		r->proc = r->overlay;
		return;
	}
	if (s->dir && chdir(s->dir) == 0) {
		try_overlay(s, &r->overlay);
		try_lowerdir_plus(&r->lplus);
	}
	try_proc(&r->proc);
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Fork, run the trial, read its report.  -errno when no report came. */
static int run_trial(const trial_setup *s, trial_report *ret)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		return -e;
	}
	if (pid == 0) {
		trial_report r = { 0 };
		close(p[0]);
		trial_child(s, &r);
		_exit(write(p[1], &r, sizeof r) == (ssize_t)sizeof r ? 0 : 1);
	}
	close(p[1]);
	trial_report r = { 0 };
	size_t got = 0;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		long left = TRIAL_TIMEOUT_MS - ms_since(&t0);
		struct pollfd pf = { .fd = p[0], .events = POLLIN };
		int n = left > 0 ? poll(&pf, 1, (int)left) : 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		ssize_t k = read(p[0], (char *)&r + got, sizeof r - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		got += (size_t)k;
		if (got == sizeof r)
			break;
	}
	close(p[0]);
	if (got < sizeof r)
		(void)kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	if (got < sizeof r)
		return -ETIMEDOUT;
	*ret = r;
	return 0;
}

/* ---- the temporary directory ---- */

/* rm -rf without following symlinks.  Overlay's work directory is made
 * mode 0, so directories get u+rwx first (they are ours). */
static void rm_tree_at(int dfd, const char *name)
{
	struct stat st;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		(void)fchmodat(dfd, name, 0700, 0);
		int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
		if (!d && fd >= 0)
			close(fd);
		struct dirent *de;
		while (d && (de = readdir(d)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
				rm_tree_at(dirfd(d), de->d_name);
		if (d)
			closedir(d);
		(void)unlinkat(dfd, name, AT_REMOVEDIR);
	} else {
		(void)unlinkat(dfd, name, 0);
	}
}

/* The nearest existing directory at or above path, into base. */
static void existing_base(const char *path, char *base, size_t len)
{
	struct stat st;
	snprintf(base, len, "%s", path);
	for (;;) {
		if (stat(base, &st) == 0 && S_ISDIR(st.st_mode))
			return;
		char *slash = strrchr(base, '/');
		if (!slash)
			break;
		if (slash == base) {
			base[1] = 0;
			return;
		}
		*slash = 0;
	}
	snprintf(base, len, ".");
}

static int touch_at(int dfd, const char *name)
{
	int fd = openat(dfd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* The layout the overlay trial uses, as the store would have it:
 *   l1/ (top):  g, x = whiteout, d/ opaque
 *   l2/:        f, x, d/y
 *   u/ w/ m/ for mount(2), u2/ w2/ for the new mount API. */
static int prepare_layers(int dfd, trial_setup *s)
{
	static const char *const dirs[] = { "l1", "l2", "u", "w", "m", "u2", "w2", "l2/d", "l1/d" };
	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
		if (mkdirat(dfd, dirs[i], 0755) < 0)
			return -errno;
	int r;
	if ((r = touch_at(dfd, "l1/g")) < 0 || (r = touch_at(dfd, "l2/f")) < 0 || (r = touch_at(dfd, "l2/x")) < 0 ||
	    (r = touch_at(dfd, "l2/d/y")) < 0)
		return r;
	s->lower_whiteout = mknodat(dfd, "l1/x", S_IFCHR | 0644, makedev(0, 0)) == 0;
	int d = openat(dfd, "l1/d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	s->lower_opaque = d >= 0 && fsetxattr(d, "user.overlay.opaque", "y", 1, 0) == 0;
	if (d >= 0)
		close(d);
	return 0;
}

/* ---- the probes ---- */

static void probe_kernel(rt_probe *p)
{
	struct utsname u;
	unsigned maj = 0, min = 0;

	if (uname(&u) < 0) {
		probe_set(p, RT_PROBE_UNKNOWN, errno, "uname: %s", strerror(errno));
		return;
	}
	sscanf(u.release, "%u.%u", &maj, &min);
	if (maj > 5 || (maj == 5 && min >= 12))
		probe_set(p, RT_PROBE_OK, 0, "Linux %s on %s", u.release, u.machine);
	else
		probe_set(p, RT_PROBE_NOTE, 0,
			  "Linux %s on %s is older than 5.12: read-only binds need mount_setattr (5.12); "
			  "the other checks tell what works", u.release, u.machine);
}

static void probe_openat2(rt_probe *p)
{
	/* The store's unpacker and the sandbox's mount points resolve every
	 * path with RESOLVE_IN_ROOT (Linux 5.6); there is no fallback. */
	struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	int fd = probe_forced("openat2") ? (errno = ENOSYS, -1)
					 : (int)syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof how);
	if (fd >= 0) {
		close(fd);
		probe_set(p, RT_PROBE_OK, 0, "openat2 with RESOLVE_IN_ROOT works");
		return;
	}
	explain_openat2(p, errno);
}

static void probe_subids(rt_probe *p)
{
	struct passwd *pw = getpwuid(getuid());
	const char *name = pw ? pw->pw_name : NULL;
	char up[PATH_MAX], gp[PATH_MAX];
	unsigned long us = 0, uc = 0, gs = 0, gc = 0, max_end = 0;
	bool hu = rt_idmap_helper("newuidmap", up, sizeof up), hg = rt_idmap_helper("newgidmap", gp, sizeof gp);
	bool ru = rt_subid_range("/etc/subuid", name, getuid(), &us, &uc, &max_end);
	bool rg = rt_subid_range("/etc/subgid", name, getuid(), &gs, &gc, &max_end);

	if (probe_forced("subids"))
		hu = false;
	if (hu && hg && ru && rg) {
		probe_set(p, RT_PROBE_OK, 0, "newuidmap and newgidmap, uids %lu-%lu, gids %lu-%lu: a range of ids can be mapped",
			  us, us + uc - 1, gs, gs + gc - 1);
		return;
	}
	explain_subids(p, name, hu ? NULL : up[0] ? up : "newuidmap", hg ? NULL : gp[0] ? gp : "newgidmap", ru, rg,
		       max_end);
}

static void probe_xattrs(int dfd, const char *shown, rt_probe *p)
{
	struct statfs sf;
	unsigned long magic = fstatfs(dfd, &sf) == 0 ? (unsigned long)sf.f_type : 0;
	int e = 0;
	const char *what = NULL;

	if (touch_at(dfd, "file") < 0) {
		e = errno;
		what = "create a file";
	} else {
		/* Opaque markers go on directories, the original owner and mode
		 * (user.containers.override_stat) on files: try both. */
		int fd = openat(dfd, "file", O_RDONLY | O_CLOEXEC);
		if (probe_forced("xattrs"))
			e = EOPNOTSUPP, what = "setxattr user.kbuild-ns.probe";
		else if (fd < 0 || fsetxattr(fd, "user.kbuild-ns.probe", "1", 1, 0) < 0 ||
			 fsetxattr(dfd, "user.kbuild-ns.probe", "1", 1, 0) < 0)
			e = errno, what = "setxattr user.kbuild-ns.probe";
		/* Whiteouts are character devices 0/0, which anyone may make
		 * since Linux 5.8 (vfs_mknod's whiteout exception). */
		else if (mknodat(dfd, "whiteout", S_IFCHR | 0644, makedev(0, 0)) < 0)
			e = errno, what = "mknod a whiteout (character device 0/0)";
		if (fd >= 0)
			close(fd);
	}
	if (!e) {
		probe_set(p, RT_PROBE_OK, 0, "%s is on %s, which keeps user.* xattrs and whiteouts", shown, fs_name(magic));
		return;
	}
	explain_xattrs(p, e, what, shown, magic);
}

static void probe_apparmor(rt_probe *p, const host_facts *h, const trial_report *r)
{
	bool forced = probe_forced("apparmor");
	long v = forced ? 1 : h->aa_restrict;
	/* Under the restriction unshare still works, but AppArmor moves the
	 * process into its "unprivileged_userns" profile (the label the trial
	 * saw) and the namespace has no capabilities: the first failure is
	 * EPERM or EACCES writing the map or mounting. */
	bool denied = forced || strstr(r->label, "unprivileged_userns");
	const trial_part *parts[] = { &r->userns, &r->overlay, &r->proc };
	for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
		if (v == 1 && (parts[i]->err == EPERM || parts[i]->err == EACCES))
			denied = true;
	if (v < 0)
		probe_set(p, RT_PROBE_OK, 0, "no AppArmor restriction on user namespaces in this kernel");
	else if (v == 0)
		probe_set(p, RT_PROBE_OK, 0, "kernel.apparmor_restrict_unprivileged_userns is 0");
	else if (!denied)
		probe_set(p, RT_PROBE_OK, 0, "kernel.apparmor_restrict_unprivileged_userns is 1, "
			  "but the profile %s runs under allows user namespaces", h->label[0] ? h->label : "kbuild-ns");
	else
		explain_apparmor(p, h);
}

/* untried: why a part that was not tried was not. */
static void probe_from_part(rt_probe *p, const trial_part *t, const host_facts *h, const char *untried,
			    const char *ok_text, const char *dir, const char *shown, unsigned long magic)
{
	if (t->err == 0) {
		probe_set(p, RT_PROBE_OK, 0, "%s", ok_text);
	} else if (t->err < 0) {
		probe_set(p, RT_PROBE_UNKNOWN, 0, "not tried: %s", untried);
	} else if (!strcmp(p->id, "overlay")) {
		explain_overlay(p, h, t->err, t->step, shown, magic);
	} else if (!strcmp(p->id, "lowerdir+") && magic == OVERLAYFS_SUPER_MAGIC && !strcmp(t->step, "fsconfig upperdir")) {
		/* Both lowerdir+ keys were taken (overlayfs checks keys as they
		 * come since it has its own fs_context); only the upper layer on
		 * the state directory's overlayfs was refused, which the overlay
		 * probe tells. */
		probe_set(p, RT_PROBE_OK, 0, "%s", ok_text);
	} else if (!strcmp(p->id, "lowerdir+")) {
		explain_lowerdir_plus(p, t->err, t->step, strlen(dir));
	} else {
		explain_proc(p, h, t->err, t->step);
	}
}

static const char *const ids[RT_PROBE_COUNT] = {
	[RT_PROBE_KERNEL] = "kernel", [RT_PROBE_USERNS] = "userns", [RT_PROBE_APPARMOR] = "apparmor",
	[RT_PROBE_XATTRS] = "xattrs", [RT_PROBE_OVERLAY] = "overlay", [RT_PROBE_LOWERDIR_PLUS] = "lowerdir+",
	[RT_PROBE_PROC] = "proc", [RT_PROBE_OPENAT2] = "openat2", [RT_PROBE_SUBIDS] = "subids",
};

void rt_probe_all(const char *dir, rt_probe out[RT_PROBE_COUNT])
{
	host_facts h;
	char base[PATH_MAX], shown[PATH_MAX + 64], tmp[PATH_MAX + 32];
	trial_setup s = { 0 };
	trial_report r = { 0 };
	int dfd = -1;

	memset(out, 0, sizeof(rt_probe) * RT_PROBE_COUNT);
	for (int i = 0; i < RT_PROBE_COUNT; i++)
		out[i].id = ids[i];
	facts_read(&h);
	probe_kernel(&out[RT_PROBE_KERNEL]);
	probe_openat2(&out[RT_PROBE_OPENAT2]);
	probe_subids(&out[RT_PROBE_SUBIDS]);

	/* The filesystem probes run where the data will live.  A state
	 * directory that does not exist yet is not made: its nearest
	 * existing parent is where it would be made, on the same filesystem
	 * unless a mount point lies between. */
	if (!dir || !*dir)
		dir = "/tmp";
	existing_base(dir, base, sizeof base);
	if (!strcmp(base, dir))
		snprintf(shown, sizeof shown, "%s", dir);
	else
		snprintf(shown, sizeof shown, "%s (where %s will be made)", base, dir);
	snprintf(tmp, sizeof tmp, "%s%s.kbuild-ns-doctor.XXXXXX", base, base[strlen(base) - 1] == '/' ? "" : "/");
	unsigned long magic = 0;
	if (!mkdtemp(tmp)) {
		explain_xattrs(&out[RT_PROBE_XATTRS], errno, "create a directory", shown, 0);
		tmp[0] = 0;
	} else if ((dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		explain_xattrs(&out[RT_PROBE_XATTRS], errno, "open a directory", shown, 0);
	} else {
		struct statfs sf;
		if (fstatfs(dfd, &sf) == 0)
			magic = (unsigned long)sf.f_type;
		probe_xattrs(dfd, shown, &out[RT_PROBE_XATTRS]);
		if (prepare_layers(dfd, &s) == 0)
			s.dir = tmp;
	}

	int e = run_trial(&s, &r);
	if (e < 0) {
		probe_set(&out[RT_PROBE_USERNS], RT_PROBE_UNKNOWN, -e, "the probe process did not report: %s", strerror(-e));
		r.userns.err = -1;
		r.overlay.err = r.lplus.err = r.proc.err = -1;
	} else if (r.userns.err == 0) {
		probe_set(&out[RT_PROBE_USERNS], RT_PROBE_OK, 0, "a user namespace with a single-id map works");
	} else {
		explain_userns(&out[RT_PROBE_USERNS], &h, r.userns.err, r.userns.step, r.label);
	}
	probe_apparmor(&out[RT_PROBE_APPARMOR], &h, &r);
	const char *untried = e < 0 ? "the probe process did not report" :
			      r.userns.err > 0 ? "it needs a user namespace" : "no directory to try it in";
	probe_from_part(&out[RT_PROBE_OVERLAY], &r.overlay, &h, untried,
			"overlayfs with userxattr mounts in a user namespace, upper on the state filesystem", dir, shown, magic);
	probe_from_part(&out[RT_PROBE_LOWERDIR_PLUS], &r.lplus, &h, untried,
			"overlayfs takes lower layers one by one (lowerdir+)", dir, shown, magic);
	probe_from_part(&out[RT_PROBE_PROC], &r.proc, &h, untried,
			"a fresh /proc mounts in a new pid namespace", dir, shown, magic);
	if (dfd >= 0)
		close(dfd);
	if (tmp[0])
		rm_tree_at(AT_FDCWD, tmp);
	/* Say which probes the test hook changed: a forced result must
	 * never be mistaken for the host's. */
	for (int i = 0; i < RT_PROBE_COUNT; i++)
		if (probe_forced(out[i].id) && out[i].state != RT_PROBE_OK) {
			size_t n = strlen(out[i].finding);
			snprintf(out[i].finding + n, sizeof out[i].finding - n, " [forced by %s]", RT_PROBE_FAIL_ENV);
		}
}
