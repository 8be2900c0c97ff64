/* The sync's file operations (sync-file.h): opening directories below a
 * root, and writing files and symlinks whole. */
#include "build/sync-file.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- directories ---- */

/* Without openat2 (Linux before 5.6, or a seccomp profile that answers
 * ENOSYS): one component at a time, each opened O_NOFOLLOW | O_DIRECTORY
 * from the one before, so that a symlink anywhere on the path stops the
 * walk (ELOOP) as RESOLVE_NO_SYMLINKS does.  A single openat of "a/b/c"
 * with O_NOFOLLOW would follow symlinks in every component but the last:
 * a symlink the build brought back, then a directory of that name, would
 * take copy-out's writes anywhere the user can write. */
static int open_dir_walk(int root, const char *rel)
{
	char comp[NAME_MAX + 1];
	int fd = openat(root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (const char *p = rel; fd >= 0 && *p;) {
		const char *end = strchrnul(p, '/');
		size_t n = (size_t)(end - p);
		if (n == 0 || n > NAME_MAX || (n <= 2 && !strncmp(p, "..", n))) {
			close(fd);
			return n > NAME_MAX ? -ENAMETOOLONG : -EXDEV;    /* never made by us: refuse */
		}
		memcpy(comp, p, n);
		comp[n] = 0;
		int next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		int err = errno;
		close(fd);
		fd = next;
		errno = err;
		p = *end ? end + 1 : end;
	}
	return fd < 0 ? -errno : fd;
}

static atomic_bool no_openat2;

int sfile_open_dir(int root, const char *rel)
{
	struct open_how how = {
		.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	if (atomic_load(&no_openat2))
		return open_dir_walk(root, rel);
	int fd = (int)syscall(SYS_openat2, root, rel[0] ? rel : ".", &how, sizeof how);
	if (fd < 0 && errno == ENOSYS) {
		atomic_store(&no_openat2, true);
		return open_dir_walk(root, rel);
	}
	return fd < 0 ? -errno : fd;
}

/* ---- files ---- */

#define TMP_PREFIX ".~kbsync."

bool sfile_is_tmp(const char *name)
{
	return !strncmp(name, TMP_PREFIX, sizeof TMP_PREFIX - 1);
}

static void tmp_name(sfile_ctx *c, char buf[64])
{
	snprintf(buf, 64, TMP_PREFIX "%d.%u", (int)getpid(), atomic_fetch_add(&c->seq, 1));
}

/* All of in into out, from the start; the times of ss. */
static int copy_data(int in, int out, const struct stat *ss, uint64_t *ret_done)
{
	uint64_t done = 0;
	bool plain = false;
	for (;;) {
		ssize_t n;
		if (!plain) {
			n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
			if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP) &&
			    done == 0) {
				plain = true;    /* across file systems on old kernels, or a special fs */
				continue;
			}
		} else {
			char buf[1 << 16];
			n = read(in, buf, sizeof buf);
			if (n > 0 && write_all(out, buf, (size_t)n) < 0)
				n = -1;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += (uint64_t)n;
	}
	struct timespec ts[2] = { ss->st_atim, ss->st_mtim };
	if (futimens(out, ts) < 0)
		return -errno;
	*ret_done = done;
	return 0;
}

/* Give the finished O_TMPFILE fd the name dfd/name (which must not
 * exist).  Its /proc/self/fd link needs no capability (open(2));
 * AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH before Linux 6.10. */
static int link_tmpfile(int fd, int dfd, const char *name)
{
	char link[40];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, link, dfd, name, AT_SYMLINK_FOLLOW) == 0)
		return 0;
	if (errno != ENOENT)    /* ENOENT: no /proc */
		return -errno;
	if (linkat(fd, "", dfd, name, AT_EMPTY_PATH) == 0)
		return 0;
	return errno == ENOENT ? -EOPNOTSUPP : -errno;    /* ENOENT: not allowed either */
}

/* An unnamed file in dfd (O_TMPFILE): a kill at any point leaves nothing
 * behind.  -EOPNOTSUPP when the file system has no O_TMPFILE. */
static int open_tmpfile(sfile_ctx *c, int dfd, mode_t mode)
{
	int fd = openat(dfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, mode);
	if (fd < 0 && errno == EACCES && c->open_up) {
		/* A read-only directory we own (sfile_ctx.open_up). */
		(void)fchmod(dfd, 0700);
		fd = openat(dfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, mode);
	}
	if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL))
		return -EOPNOTSUPP;    /* EISDIR: a kernel without O_TMPFILE sees O_DIRECTORY */
	return fd < 0 ? -errno : fd;
}

/* The file is whole before it has a name: written unnamed, then linked
 * at its name (a new file) or at a temporary name renamed over the old
 * one (so the old stays whole until the new one is).  A kill leaves the
 * old file or the new one, never a part; at most, between link and
 * rename, a whole file under a temporary name, which the next sync-in
 * removes.  -EOPNOTSUPP: no O_TMPFILE here, nothing was changed. */
static int copy_unnamed(sfile_ctx *c, int in, int dfd, const char *name, mode_t mode, const struct stat *ss,
			bool fresh, uint64_t *done)
{
	char tmp[64];
	_cleanup_close_ int out = open_tmpfile(c, dfd, mode);
	int r;
	if (out < 0)
		return out;
	if ((r = copy_data(in, out, ss, done)) < 0)
		return r;
	if (fresh && (r = link_tmpfile(out, dfd, name)) != -EEXIST)
		return r;
	tmp_name(c, tmp);
	if ((r = link_tmpfile(out, dfd, tmp)) < 0)
		return r;
	if (renameat(dfd, tmp, dfd, name) < 0) {
		r = -errno;
		(void)unlinkat(dfd, tmp, 0);
	}
	return r;
}

/* Where O_TMPFILE is missing: written under a temporary name and renamed,
 * the temporary name removed on every error. */
static int copy_named(sfile_ctx *c, int in, int dfd, const char *name, mode_t mode, const struct stat *ss,
		      uint64_t *done)
{
	char tmp[64];
	tmp_name(c, tmp);
	_cleanup_close_ int out = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (out < 0 && errno == EACCES && c->open_up) {
		(void)fchmod(dfd, 0700);    /* as in open_tmpfile */
		out = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	}
	if (out < 0)
		return -errno;
	int r = copy_data(in, out, ss, done);
	if (r == 0 && renameat(dfd, tmp, dfd, name) < 0)
		r = -errno;
	if (r < 0)
		(void)unlinkat(dfd, tmp, 0);
	return r;
}

int sfile_copy(sfile_ctx *c, int sfd, int dfd, const char *name, mode_t mode, const struct stat *ss, bool fresh,
	       uint64_t *ret_bytes)
{
	_cleanup_close_ int in = openat(sfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	uint64_t done = 0;
	int r = -EOPNOTSUPP;
	if (in < 0)
		return -errno;
	if (!atomic_load(&c->no_tmpfile) &&
	    (r = copy_unnamed(c, in, dfd, name, mode, ss, fresh, &done)) == -EOPNOTSUPP)
		atomic_store(&c->no_tmpfile, true);
	if (r == -EOPNOTSUPP)
		r = lseek(in, 0, SEEK_SET) < 0 ? -errno : copy_named(c, in, dfd, name, mode, ss, &done);
	if (r == 0)
		*ret_bytes = done;
	return r;
}

bool sfile_same_link(int sfd, int dfd, const char *name)
{
	char a[PATH_MAX], b[PATH_MAX];
	ssize_t n = readlinkat(sfd, name, a, sizeof a);
	ssize_t m = n >= 0 ? readlinkat(dfd, name, b, sizeof b) : -1;
	return n >= 0 && m == n && !memcmp(a, b, (size_t)n);
}

int sfile_link(sfile_ctx *c, int sfd, int dfd, const char *name, const struct stat *ss, const struct stat *ds)
{
	char target[PATH_MAX], old[PATH_MAX], tmp[64];
	ssize_t n = readlinkat(sfd, name, target, sizeof target - 1);
	if (n < 0)
		return -errno;
	target[n] = 0;
	struct timespec ts[2] = { ss->st_atim, ss->st_mtim };
	if (ds && S_ISLNK(ds->st_mode)) {
		ssize_t m = readlinkat(dfd, name, old, sizeof old - 1);
		if (m == n && !memcmp(old, target, (size_t)n)) {
			if (ds->st_mtim.tv_sec != ss->st_mtim.tv_sec || ds->st_mtim.tv_nsec != ss->st_mtim.tv_nsec)
				(void)utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW);
			return 0;
		}
	}
	/* A symlink is whole when made; the rename replaces the old entry
	 * in one step. */
	tmp_name(c, tmp);
	if (symlinkat(target, dfd, tmp) < 0)
		return -errno;
	(void)utimensat(dfd, tmp, ts, AT_SYMLINK_NOFOLLOW);
	if (renameat(dfd, tmp, dfd, name) < 0) {
		int r = -errno;
		(void)unlinkat(dfd, tmp, 0);
		return r;
	}
	return 1;
}
