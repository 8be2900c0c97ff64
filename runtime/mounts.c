/* The build sandbox's file system (mounts.h): overlay root, /proc, /dev,
 * /sys, /tmp, binds and pivot_root, in the order they happen.  /proc is
 * a fresh one, or inside a container that masks parts of its own, the
 * outer one bound read-only (fresh_proc says why). */
#include "mounts.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/magic.h>
#include <linux/openat2.h>

/* Resolve (creating what is missing) a mount point inside the new root.
 * The image's own symlinks are honoured but kept inside the root, as
 * they would be after pivot_root: RESOLVE_IN_ROOT. */
static int mountpoint_at(int rootfd, const char *path, bool dir, kb_error *err)
{
	struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	char buf[4096];
	int fd;

	if (strlen(path) >= sizeof buf)
		return kb_err(err, ENAMETOOLONG, "mount point %.80s", path);
	fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof how);
	if (fd >= 0)
		return fd;
	if (errno != ENOENT)
		return kb_err(err, errno, "mount point %s", path);
	/* Create it: parents as directories, the last one as asked. */
	strcpy(buf, path);
	for (char *p = buf + 1;; p++) {
		bool last = *p == 0;
		if (*p != '/' && !last)
			continue;
		*p = 0;
		int pfd;
		char *slash = strrchr(buf, '/');
		const char *name = slash + 1;
		*slash = 0;
		pfd = (int)syscall(SYS_openat2, rootfd, buf[0] ? buf : "/", &how, sizeof how);
		*slash = '/';
		if (pfd < 0)
			return kb_err(err, errno, "mount point %s", buf);
		int r = (last && !dir) ? openat(pfd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644)
				       : mkdirat(pfd, name, 0755);
		int e = errno;
		if (r > 0 && last && !dir)
			close(r);
		close(pfd);
		if (r < 0 && e != EEXIST)
			return kb_err(err, e, "mount point %s", buf);
		if (last)
			break;
		*p = '/';
	}
	fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof how);
	if (fd < 0)
		return kb_err(err, errno, "mount point %s", path);
	return fd;
}

/* Bind src (host) onto path inside the root, through fds so that no
 * path is resolved twice: open_tree + move_mount (Linux 5.2). */
static int bind_into(int rootfd, const char *src, const char *path, bool recursive, bool ro, kb_error *err)
{
	struct stat st;
	if (stat(src, &st) < 0)
		return kb_err(err, errno, "bind %s", src);
	int tfd = mountpoint_at(rootfd, path, S_ISDIR(st.st_mode), err);
	if (tfd < 0)
		return -1;
	int mfd = open_tree(AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0));
	if (mfd < 0) {
		close(tfd);
		return kb_err(err, errno, "bind %s on %s", src, path);
	}
	if (ro) {
		/* A bind mount does not take MS_RDONLY on creation, and a remount
		 * would miss submounts; mount_setattr with AT_RECURSIVE (5.12)
		 * makes the whole tree read-only in one call. */
		struct mount_attr a = { .attr_set = MOUNT_ATTR_RDONLY };
		if (mount_setattr(mfd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &a, sizeof a) < 0) {
			close(mfd);
			close(tfd);
			return kb_err(err, errno, "read-only bind of %s", src);
		}
	}
	int r = move_mount(mfd, "", tfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
	int e = errno;
	close(mfd);
	close(tfd);
	if (r < 0)
		return kb_err(err, e, "bind %s on %s", src, path);
	return 0;
}

static int mount_at(int rootfd, const char *path, const char *fstype, unsigned long flags, const char *data,
		    kb_error *err)
{
	int tfd = mountpoint_at(rootfd, path, true, err);
	if (tfd < 0)
		return -1;
	char target[64];
	snprintf(target, sizeof target, "/proc/self/fd/%d", tfd);
	int r = mount(fstype, target, fstype, flags, data);
	int e = errno;
	close(tfd);
	if (r < 0)
		return kb_err(err, e, "mount %s on %s", fstype, path);
	return 0;
}

/* Overlay root.  "volatile" (Linux 5.10) skips the sync of the upper
 * filesystem that an overlay unmount otherwise does (ovl_sync_fs): at
 * the end of every run that is a sync of the whole host filesystem, often
 * hundreds of milliseconds.  The caller handles the crash case.
 *
 * With the new mount API each lower layer is one fsconfig
 * call ("lowerdir+", Linux 6.8), so there is no 4096-byte limit on the
 * option string; older kernels get a single mount(2) option string. */
static int mount_overlay(const rt_spec *s, kb_error *err)
{
	int fd = fsopen("overlay", FSOPEN_CLOEXEC);
	if (fd >= 0) {
		/* On kernels before overlayfs had its own fs_context (6.5) the
		 * legacy adapter accepts any key and only CMD_CREATE fails; so
		 * any failure up to the superblock means "use mount(2)". */
		bool ok = true;
		for (size_t i = 0; ok && i < s->n_lowers; i++)
			ok = fsconfig(fd, FSCONFIG_SET_STRING, "lowerdir+", s->lowers[i], 0) == 0;
		/* userxattr: whiteouts and opaque markers are user.overlay.*
		 * xattrs, the only kind an unprivileged mounter may use. */
		ok = ok && fsconfig(fd, FSCONFIG_SET_STRING, "upperdir", s->upper, 0) == 0 &&
		     fsconfig(fd, FSCONFIG_SET_STRING, "workdir", s->work, 0) == 0 &&
		     fsconfig(fd, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) == 0 &&
		     (!s->volatile_upper || fsconfig(fd, FSCONFIG_SET_FLAG, "volatile", NULL, 0) == 0) &&
		     fsconfig(fd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0;
		if (ok) {
			int mfd = fsmount(fd, FSMOUNT_CLOEXEC, 0);
			int e = errno;
			close(fd);
			if (mfd < 0)
				return kb_err(err, e, "mount overlay on %s", s->rootdir);
			int r = move_mount(mfd, "", AT_FDCWD, s->rootdir, MOVE_MOUNT_F_EMPTY_PATH);
			e = errno;
			close(mfd);
			if (r < 0)
				return kb_err(err, e, "mount overlay on %s", s->rootdir);
			return 0;
		}
		close(fd);
	}
	size_t len = 64 + strlen(s->upper) + strlen(s->work);
	for (size_t i = 0; i < s->n_lowers; i++)
		len += strlen(s->lowers[i]) + 1;
	char *opts = malloc(len);
	if (!opts)
		return kb_err_oom(err, "overlay options");
	char *p = opts + sprintf(opts, "userxattr,%supperdir=%s,workdir=%s,lowerdir=",
				 s->volatile_upper ? "volatile," : "", s->upper, s->work);
	for (size_t i = 0; i < s->n_lowers; i++)
		p += sprintf(p, "%s%s", i ? ":" : "", s->lowers[i]);
	if (strlen(opts) >= 4096) {
		free(opts);
		return kb_err(err, E2BIG, "overlay of %zu layers: the option string exceeds a page and this kernel "
			    "has no lowerdir+", s->n_lowers);
	}
	int r = mount("overlay", s->rootdir, "overlay", 0, opts);
	int e = errno;
	free(opts);
	if (r < 0)
		return kb_err(err, e, "mount overlay on %s", s->rootdir);
	return 0;
}

/* A plain root: the directory bound on rootdir, so that pivot_root has
 * a mount point to take.  Used where the state directory is on overlayfs
 * (a container's root file system): the kernel takes no upper layer
 * there, since overlayfs's dentries revalidate as a network file
 * system's do, and params.c (ovl_mount_dir_check, ovl_dentry_remote)
 * refuses such a file system as upperdir ("not supported as upperdir").
 * Writes then land in the directory itself. */
static int mount_plain_root(const rt_spec *s, kb_error *err)
{
	if (mount(s->plain_root, s->rootdir, NULL, MS_BIND | MS_REC, NULL) < 0)
		return kb_err(err, errno, "bind %s on %s", s->plain_root, s->rootdir);
	return 0;
}

/* /proc/sys read-only: a read-only clone of the fresh proc's own sys,
 * moved over it.  Made from fds alone: a path string such as
 * "$rootdir/proc/sys" would be resolved by the host, which follows an
 * image's /proc symlink out of the root (/proc -> /home/you, or
 * ../../../..) and would bind that host directory into the sandbox. */
static int proc_sys_ro(int rootfd, kb_error *err)
{
	/* Resolved in the root as mount_at resolved it; the walk crosses
	 * into the proc just mounted there, which fstatfs confirms. */
	int pfd = mountpoint_at(rootfd, "/proc", true, err);
	int mfd = -1, tfd = -1, r = -1;
	struct statfs sf;
	if (pfd < 0)
		return -1;
	if (fstatfs(pfd, &sf) < 0 || sf.f_type != PROC_SUPER_MAGIC) {
		r = kb_errx(err, EINVAL, "mount point /proc: not the proc just mounted there");
		goto out;
	}
	mfd = open_tree(pfd, "sys", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_SYMLINK_NOFOLLOW);
	if (mfd < 0) {
		r = kb_err(err, errno, "bind /proc/sys");
		goto out;
	}
	/* A bind mount does not take MS_RDONLY on creation; mount_setattr
	 * (5.12) sets it on the clone before it is attached. */
	struct mount_attr a = { .attr_set = MOUNT_ATTR_RDONLY };
	if (mount_setattr(mfd, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof a) < 0) {
		r = kb_err(err, errno, "read-only bind of /proc/sys");
		goto out;
	}
	tfd = openat(pfd, "sys", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (tfd < 0 || move_mount(mfd, "", tfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		r = kb_err(err, errno, "bind /proc/sys");
	else
		r = 0;
out:
	if (tfd >= 0)
		close(tfd);
	if (mfd >= 0)
		close(mfd);
	close(pfd);
	return r;
}

/* A fresh proc for the new pid namespace, made detached (fsopen,
 * fsmount: Linux 5.2) before anything else is mounted, so that a refusal
 * costs nothing to undo.  The kernel allows it to an unprivileged
 * mounter only when the proc it can already see is fully visible
 * (fs/namespace.c, mount_too_revealing and mnt_already_visible, checked
 * in fsmount as in mount(2)): a container runtime's binds over
 * /proc/kcore, /proc/keys, ... and a read-only /proc/sys make it fail
 * with EPERM.  That failure gets RT_CODE_PROC_MASKED; rt_run then starts
 * again without a pid namespace and binds the outer /proc instead.
 * Returns the mount's fd; -ENOSYS (a kernel without fsopen) means "use
 * mount(2) later". */
static int fresh_proc(kb_error *err)
{
	int fd = fsopen("proc", FSOPEN_CLOEXEC);
	if (fd < 0)
		return errno == ENOSYS ? -ENOSYS : kb_err(err, errno, "mount proc (fsopen)");
	if (fsconfig(fd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
		int e = errno;
		close(fd);
		return kb_err(err, e, "mount proc (fsconfig)");
	}
	int mfd = fsmount(fd, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
	int e = errno;
	close(fd);
	if (mfd >= 0)
		return mfd;
	if (e == EPERM)
		return kb_err_code(err, RT_CODE_PROC_MASKED, e, "mount proc: the kernel refuses a fresh /proc "
				   "where parts of this one are masked");
	return kb_err(err, e, "mount proc");
}

/* The fresh proc (pfd from fresh_proc, or -ENOSYS: mount(2) it now) on
 * /proc, then /proc/sys read-only: sysctls are for the host's
 * administrator. */
static int attach_proc(int rootfd, int pfd, kb_error *err)
{
	if (pfd == -ENOSYS) {
		if (mount_at(rootfd, "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, err) < 0)
			return -1;
		return proc_sys_ro(rootfd, err);
	}
	int tfd = mountpoint_at(rootfd, "/proc", true, err);
	if (tfd < 0)
		return -1;
	int r = move_mount(pfd, "", tfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
	int e = errno;
	close(tfd);
	if (r < 0)
		return kb_err(err, e, "mount proc on /proc");
	return proc_sys_ro(rootfd, err);
}

static int make_dev(int rootfd, kb_error *err)
{
	static const char *const nodes[] = { "null", "zero", "full", "random", "urandom", "tty" };
	/* A tmpfs mounted in a user namespace is implicitly nodev, and
	 * mknod of a real device needs CAP_MKNOD in the initial namespace:
	 * so each node is a bind mount of the host's (bubblewrap's way). */
	if (mount_at(rootfd, "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=1m", err) < 0)
		return -1;
	for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++) {
		char src[32], dst[32];
		snprintf(src, sizeof src, "/dev/%s", nodes[i]);
		snprintf(dst, sizeof dst, "/dev/%s", nodes[i]);
		if (bind_into(rootfd, src, dst, false, false, err) < 0)
			return -1;
	}
	/* A devpts instance of our own: ptys made inside are not the host's,
	 * and the host's ptys are not visible.  ptmxmode=0666 so the ptmx
	 * node is usable; gid= is left out since gid 5 may not be mapped. */
	if (mount_at(rootfd, "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620", err) < 0 ||
	    mount_at(rootfd, "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", err) < 0)
		return -1;
	static const char *const links[][2] = {
		{ "pts/ptmx", "ptmx" }, { "/proc/self/fd", "fd" }, { "/proc/self/fd/0", "stdin" },
		{ "/proc/self/fd/1", "stdout" }, { "/proc/self/fd/2", "stderr" },
	};
	int dfd = mountpoint_at(rootfd, "/dev", true, err);
	if (dfd < 0)
		return -1;
	for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
		if (symlinkat(links[i][0], dfd, links[i][1]) < 0 && errno != EEXIST) {
			int e = errno;
			close(dfd);
			return kb_err(err, e, "symlink /dev/%s", links[i][1]);
		}
	close(dfd);
	return 0;
}

int rt_build_root(const rt_spec *s, bool bind_proc, kb_error *err)
{
	int pfd = -ENOSYS;

	/* 1. Nothing we mount may propagate back to the host: the mount
	 * namespace is a copy whose mounts may still be shared with the
	 * parent's peer groups until made private. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return kb_err(err, errno, "make / private");

	/* 2. A fresh proc for the new pid namespace, first (fresh_proc): we
	 * own that namespace's user namespace, so the kernel allows it unless
	 * the /proc we see is partly masked. */
	if (!bind_proc && (pfd = fresh_proc(err)) < 0 && pfd != -ENOSYS)
		return -1;

	/* 3. The root: the image's layers under the persistent data layer
	 * (or a plain directory: mount_plain_root). */
	int r = -1, rootfd = -1;
	if ((s->plain_root ? mount_plain_root(s, err) : mount_overlay(s, err)) < 0)
		goto out;
	rootfd = open(s->rootdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		r = kb_err(err, errno, "open %s", s->rootdir);
		goto out;
	}

	/* 4. /proc.  Without a pid namespace of our own (bind_proc), the
	 * outer /proc shows the right pids: bound recursively, since a
	 * non-recursive bind of a tree whose submounts are locked (the
	 * runtime's masks, inherited from a more privileged mount namespace)
	 * is refused (fs/namespace.c, do_loopback and has_locked_children), and
	 * read-only as a whole: setting MOUNT_ATTR_RDONLY on locked mounts is
	 * allowed, clearing it would not be. */
	if ((bind_proc ? bind_into(rootfd, "/proc", "/proc", true, true, err) : attach_proc(rootfd, pfd, err)) < 0)
		goto out;
	/* 5. /dev */
	if (make_dev(rootfd, err) < 0)
		goto out;
	/* 6. /sys: the host's, read-only (sysfs can only be mounted fresh by
	 * the owner of the network namespace, which --network host is not). */
	if (bind_into(rootfd, "/sys", "/sys", true, true, err) < 0)
		goto out;
	/* 7. /tmp */
	if (mount_at(rootfd, "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", err) < 0)
		goto out;
	/* 8. The checkout and the caller's binds. */
	for (size_t i = 0; i < s->n_binds; i++)
		if (bind_into(rootfd, s->binds[i].src, s->binds[i].dst, true, s->binds[i].ro, err) < 0)
			goto out;
	/* 9. Name resolution only where there is a network to resolve on. */
	if (s->net_host) {
		if (access("/etc/resolv.conf", R_OK) == 0 &&
		    bind_into(rootfd, "/etc/resolv.conf", "/etc/resolv.conf", false, true, err) < 0)
			goto out;
		if (access("/etc/hosts", R_OK) == 0 && bind_into(rootfd, "/etc/hosts", "/etc/hosts", false, true, err) < 0)
			goto out;
	}
	/* 10. pivot_root(".", "."): the new root is stacked over the old one,
	 * which a lazy unmount then detaches, so no path to the host's tree
	 * remains (pivot_root(2), "NOTES"). */
	if (fchdir(rootfd) < 0)
		r = kb_err(err, errno, "chdir %s", s->rootdir);
	else if (syscall(SYS_pivot_root, ".", ".") < 0)
		r = kb_err(err, errno, "pivot_root to %s", s->rootdir);
	else if (umount2(".", MNT_DETACH) < 0)
		r = kb_err(err, errno, "detach the old root");
	else if (chdir("/") < 0)
		r = kb_err(err, errno, "chdir /");
	else
		r = 0;
out:
	if (pfd >= 0)
		close(pfd);
	if (rootfd >= 0)
		close(rootfd);
	return r;
}
