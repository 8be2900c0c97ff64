/* Small helpers shared by every module (util.h). */
#include "base/util.h"
#include "runtime/error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>

/* The one place below main that ends the program: the x* allocators
 * have no error to return, and a program that cannot allocate a path
 * name has nothing sensible left to do.  One line, the usual status. */
_Noreturn static void out_of_memory(void)
{
	static const char msg[] = "kbuild-ns: out of memory\n";
	(void)!write(STDERR_FILENO, msg, sizeof msg - 1);
	_exit(KB_EXIT_FAIL);
}

char *xasprintf(const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (!s)
		out_of_memory();
	return s;
}

char *xstrdup(const char *s)
{
	char *d = strdup(s);
	if (!d)
		out_of_memory();
	return d;
}

int parse_size(const char *s, uint64_t *ret)
{
	char *end;
	unsigned shift = 0;

	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	}
	if (*end == 'i' || *end == 'B')    /* tolerate "64MiB", "64MB" */
		end += (*end == 'i' && end[1] == 'B') ? 2 : 1;
	if (*end)
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*ret = (uint64_t)v << shift;
	return 0;
}

const char *human_size(uint64_t n, char *buf, size_t len)
{
	static const char *unit[] = { "B", "kB", "MB", "GB", "TB" };
	double v = (double)n;
	unsigned i = 0;

	while (v >= 1000 && i + 1 < ARRAY_SIZE(unit)) {
		v /= 1000;
		i++;
	}
	if (i == 0)
		snprintf(buf, len, "%llu B", (unsigned long long)n);
	else
		snprintf(buf, len, "%.1f %s", v, unit[i]);
	return buf;
}

int write_file_replace(int dirfd, const char *name, const struct iovec *iov, size_t n)
{
	char tmp[NAME_MAX + 1];
	int len = snprintf(tmp, sizeof tmp, ".%s.tmp", name);
	if (len < 0 || (size_t)len >= sizeof tmp)
		return -ENAMETOOLONG;
	_cleanup_close_ int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	int r = 0;
	for (size_t i = 0; i < n && r == 0; i++)
		r = write_all(fd, iov[i].iov_base, iov[i].iov_len);
	if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		r = -errno;
	if (r < 0)
		(void)unlinkat(dirfd, tmp, 0);
	return r;
}

int ctime_past(int fd, int (*touch)(int fd, void *arg), void *arg, struct timespec *ret)
{
	struct stat first, now;
	if (touch(fd, arg) < 0 || fstat(fd, &first) < 0)
		return -errno;
	for (int i = 0; i < 1000; i++) {
		if (touch(fd, arg) < 0 || fstat(fd, &now) < 0)
			return -errno;
		if (ts_cmp(&now.st_ctim, &first.st_ctim) > 0) {
			*ret = now.st_ctim;
			return 0;
		}
		struct timespec ms = { 0, 1000000 };
		(void)nanosleep(&ms, NULL);
	}
	return -ETIME;
}

int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int read_file_at(int dirfd, const char *path, size_t max, char **ret, size_t *ret_len)
{
	/* O_NONBLOCK: opening a FIFO for reading blocks until a writer
	 * comes (fifo(7)), and a checkout or an archive may hold one where
	 * a file is expected; a device may block too.  Non-blocking, the
	 * open returns at once and the type is checked before any read;
	 * for the regular file that passes, O_NONBLOCK changes nothing. */
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	struct stat st;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((uint64_t)st.st_size > max)
		return -EFBIG;
	_cleanup_free_ char *buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	buf[got] = 0;
	*ret = steal_ptr(buf);
	if (ret_len)
		*ret_len = got;
	return 0;
}

const char *read_file_strerror(int r)
{
	return r == -EINVAL ? "not a regular file" : strerror(-r);
}

bool disk_write_error(int errnum)
{
	return errnum == ENOSPC || errnum == EDQUOT || errnum == EROFS;
}

int write_file_atomic(int dirfd, const char *name, const void *data, size_t len)
{
	_cleanup_free_ char *tmp = xasprintf(".%s.tmp.%d", name, (int)getpid());
	_cleanup_close_ int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	int r;

	if (fd < 0)
		return -errno;
	r = write_all(fd, data, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		r = -errno;
	if (r < 0)
		(void)unlinkat(dirfd, tmp, 0);
	return r;
}

int mkdir_p_at(int dirfd, const char *path, mode_t mode)
{
	_cleanup_free_ char *p = strdup(path);
	if (!p)
		return -ENOMEM;
	for (char *s = p + 1; ; s++) {
		if (*s == '/' || *s == 0) {
			char c = *s;
			*s = 0;
			if (mkdirat(dirfd, p, mode) < 0 && errno != EEXIST)
				return -errno;
			*s = c;
			if (!c)
				break;
		}
	}
	return 0;
}

/* fchmodat2(2) (Linux 6.6) has one number on every architecture; older
 * headers lack it. */
#ifndef __NR_fchmodat2
#define __NR_fchmodat2 452
#endif

int chmod_fd(int fd, mode_t mode)
{
	/* fchmod refuses O_PATH fds.  fchmodat2 with AT_EMPTY_PATH changes
	 * the open file itself; before Linux 6.6 (ENOSYS), the fd's
	 * /proc/self/fd link does the same: the kernel resolves it to the
	 * open file, not to a path, so nothing swapped in meanwhile counts. */
	if (syscall(__NR_fchmodat2, fd, "", mode, AT_EMPTY_PATH) == 0)
		return 0;
	int first = errno;
	char link[40];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	if (chmod(link, mode) == 0)
		return 0;
	return errno == ENOENT ? -first : -errno;    /* no /proc: the first cause */
}

int chmod_nofollow_at(int dirfd, const char *name, mode_t mode)
{
	/* One lookup, never following: what is changed is what was opened,
	 * whatever the name points to by then. */
	_cleanup_close_ int fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return -errno;
	if (S_ISLNK(st.st_mode))
		return -ELOOP;
	return chmod_fd(fd, mode);
}

/* ---- rm -rf ----
 *
 * Iterative, with at most three fds open whatever the depth: a tree a
 * build or an image layer made can be thousands of levels deep, and a
 * recursion holding one fd per level ends in EMFILE.  The walk holds the
 * directory it empties; it goes down by one name (O_NOFOLLOW: a symlink
 * is removed, never entered) and back up through "..", checking that ".."
 * is the directory it came from (a directory moved meanwhile would lead
 * elsewhere: the removal stops).  Per level it keeps only the names of
 * the subdirectories still to remove.  Directories are opened up (u+rwx)
 * through their fd before they are read, since layers and Go's module
 * cache hold read-only ones. */

typedef struct rm_level {
	dev_t dev;
	ino_t ino;
	char *name;                 /* its name in the parent (NULL at the top) */
	char *subdirs;              /* names still to remove, NUL-separated */
	size_t len, off;
} rm_level;

/* A readable fd for the directory behind the O_PATH fd pfd, made u+rwx
 * first when it is not: "." resolves to pfd's own inode, not to a name. */
static int enter_dir(int pfd, const struct stat *st)
{
	if ((st->st_mode & 0700) != 0700)
		(void)chmod_fd(pfd, (st->st_mode & 07777) | 0700);    /* not ours: the open tells */
	int fd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int add_name(rm_level *l, size_t *cap, const char *name)
{
	size_t n = strlen(name) + 1;
	if (l->len + n > *cap) {
		size_t c = *cap ? *cap * 2 : 256;
		while (c < l->len + n)
			c *= 2;
		char *p = realloc(l->subdirs, c);
		if (!p)
			return -ENOMEM;
		l->subdirs = p;
		*cap = c;
	}
	memcpy(l->subdirs + l->len, name, n);
	l->len += n;
	return 0;
}

/* Remove every entry of fd but its subdirectories, whose names go to l. */
static int empty_level(int fd, rm_level *l)
{
	DIR *d = opendir_at(fd);
	struct dirent *de;
	size_t cap = 0;
	int r = 0;

	if (!d)
		return -errno;
	while (r == 0 && (errno = 0, de = readdir(d))) {
		const char *n = de->d_name;
		struct stat st;
		if (n[0] == '.' && (!n[1] || (n[1] == '.' && !n[2])))
			continue;
		bool dir = de->d_type == DT_DIR;
		if (de->d_type == DT_UNKNOWN)
			dir = fstatat(fd, n, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
		if (!dir && unlinkat(fd, n, 0) == 0)
			continue;
		if (dir || errno == EISDIR)    /* EISDIR: a directory by now */
			r = add_name(l, &cap, n);
		else if (errno != ENOENT)
			r = -errno;
	}
	if (r == 0 && errno)
		r = -errno;
	closedir(d);
	return r;
}

/* cur/name, not followed: 1 with an O_PATH fd in *ret_pfd when it is a
 * directory; 0 when it was something else (then unlinked) or is gone. */
static int path_or_unlink(int cur, const char *name, int *ret_pfd, struct stat *st)
{
	int pfd = openat(cur, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0)
		return errno == ENOENT ? 0 : -errno;
	int r = fstat(pfd, st) < 0 ? -errno : 1;
	if (r == 1 && !S_ISDIR(st->st_mode))
		r = unlinkat(cur, name, 0) < 0 && errno != ENOENT ? -errno : 0;
	if (r != 1) {
		close(pfd);
		return r;
	}
	*ret_pfd = pfd;
	return 1;
}

/* Go down into cur/name: *ret_fd is its readable fd, or -1 when the entry
 * was not a directory (then it is removed) or is gone. */
static int descend(int cur, const char *name, rm_level *l, int *ret_fd)
{
	_cleanup_close_ int pfd = -1;
	struct stat st;
	*ret_fd = -1;
	int r = path_or_unlink(cur, name, &pfd, &st);
	if (r <= 0)
		return r;
	int fd = enter_dir(pfd, &st);
	if (fd < 0)
		return fd;
	*l = (rm_level){ .dev = st.st_dev, .ino = st.st_ino, .name = strdup(name) };
	if (!l->name) {
		close(fd);
		return -ENOMEM;
	}
	*ret_fd = fd;
	return 0;
}

/* From cur (level l, emptied) back up to its parent p, by "..", checked;
 * then remove l's directory.  *cur becomes the parent's fd. */
static int climb(int *cur, const rm_level *l, const rm_level *p)
{
	struct stat st;
	int up = openat(*cur, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (up < 0)
		return -errno;
	close(*cur);
	*cur = up;
	if (fstat(up, &st) < 0)
		return -errno;
	if (st.st_dev != p->dev || st.st_ino != p->ino)
		return -ESTALE;    /* moved while we worked: stop here */
	return unlinkat(up, l->name, AT_REMOVEDIR) < 0 && errno != ENOENT ? -errno : 0;
}

/* Empty the directory behind the O_PATH fd top (stat st). */
static int rm_tree(int top, const struct stat *st)
{
	rm_level *lv = calloc(16, sizeof *lv);
	size_t depth = 1, cap = 16;
	int cur = -1, r;

	if (!lv)
		return -ENOMEM;
	lv[0] = (rm_level){ .dev = st->st_dev, .ino = st->st_ino };
	if ((r = cur = enter_dir(top, st)) < 0)
		goto out;
	r = empty_level(cur, &lv[0]);
	while (r == 0) {
		if (depth == cap) {
			rm_level *nl = realloc(lv, 2 * cap * sizeof *lv);
			if (!nl) {
				r = -ENOMEM;
				break;
			}
			lv = nl;
			cap *= 2;
		}
		rm_level *l = &lv[depth - 1];
		if (l->off >= l->len) {
			if (depth == 1)
				break;
			r = climb(&cur, l, &lv[depth - 2]);
			free(l->name);
			free(l->subdirs);
			depth--;
			continue;
		}
		const char *name = l->subdirs + l->off;
		l->off += strlen(name) + 1;
		int fd;
		if ((r = descend(cur, name, &lv[depth], &fd)) < 0 || fd < 0)
			continue;
		close(cur);
		cur = fd;
		depth++;
		r = empty_level(cur, &lv[depth - 1]);
	}
out:
	if (cur >= 0)
		close(cur);
	for (size_t i = 0; i < depth; i++) {
		free(lv[i].name);
		free(lv[i].subdirs);
	}
	free(lv);
	return r;
}

int rm_rf_at(int dirfd, const char *name)
{
	_cleanup_close_ int pfd = -1;
	struct stat st;
	int r = path_or_unlink(dirfd, name, &pfd, &st);

	if (r <= 0)
		return r;
	r = rm_tree(pfd, &st);
	if (r == 0 && unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		r = -errno;
	return r;
}

int cpu_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : (int)n;
}

DIR *opendir_at(int fd)
{
	int d = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d < 0)
		return NULL;
	DIR *dir = fdopendir(d);
	if (!dir)
		close(d);
	return dir;
}

char *str_trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = 0;
	return s;
}

char *conf_next_line(char **cur, unsigned *ln)
{
	while (*cur) {
		char *line = *cur, *next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		*cur = next;
		(*ln)++;
		char *s = str_trim(line);
		if (*s && *s != '#')
			return s;
	}
	return NULL;
}

char *conf_split(char *line, char **ret_key, char **ret_val)
{
	char *eq = strchr(line, '=');
	if (!eq)
		return NULL;
	*eq = 0;
	*ret_key = str_trim(line);
	*ret_val = str_trim(eq + 1);
	return eq;
}
