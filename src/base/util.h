/* Small helpers shared by every module: _cleanup_ attributes (systemd
 * style), steal_ptr/steal_fd, allocation that cannot fail, sizes, and
 * fd-relative file helpers (bounded reads, atomic writes, mkdir -p,
 * rm -rf).  Functions return 0 or a negative errno; they print nothing. */
#pragma once
#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/types.h>
#include <sys/uio.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)
#define _unused_ __attribute__((unused))
#ifndef _printf_
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#endif
#define ARRAY_SIZE(x) (sizeof(x) / sizeof((x)[0]))
/* Order of two file times: <0, 0, >0. */
static inline int ts_cmp(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec != b->tv_sec ? (a->tv_sec < b->tv_sec ? -1 : 1)
				      : (a->tv_nsec > b->tv_nsec) - (a->tv_nsec < b->tv_nsec);
}

static inline void freep(void *p) { free(*(void **)p); }
static inline void closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}
static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

/* Take ownership out of a _cleanup_ variable. */
#define steal_ptr(p) ({ __typeof__(p) _t = (p); (p) = NULL; _t; })
#define steal_fd(fd) ({ int _t = (fd); (fd) = -1; _t; })

/* Allocate or end the program with "kbuild-ns: out of memory" and status
 * 125: for the small strings (paths, messages) whose failure no caller
 * could handle better. */
char *xasprintf(const char *fmt, ...) _printf_(1, 2);
char *xstrdup(const char *s);
/* s without its leading blanks and tabs, its trailing ones and a CR cut
 * off in place: a line of a "key = value" file. */
char *str_trim(char *s);
/* The next line of such a file at *cur, split off in place: trimmed,
 * blank lines and "#" comments skipped, *ln counting every line; NULL at
 * the end.  conf_split cuts it at its first "=" into a trimmed key and
 * value and returns where the "=" was (for a caller that puts it back),
 * or NULL when there is none. */
char *conf_next_line(char **cur, unsigned *ln);
char *conf_split(char *line, char **ret_key, char **ret_val);
/* Parse "123", "64M", "2G" (powers of 1024); -EINVAL/-ERANGE on error. */
int parse_size(const char *s, uint64_t *ret);
/* "1.5 MB" style human size into buf. */
const char *human_size(uint64_t n, char *buf, size_t len);
/* Read a whole small file at dirfd/path, refusing more than max bytes
 * (-EFBIG) and anything but a regular file (-EINVAL: a FIFO, a device or
 * a directory; never blocks on opening one). */
int read_file_at(int dirfd, const char *path, size_t max, char **ret, size_t *ret_len);
/* The cause to print for read_file_at's error r: "not a regular file"
 * for -EINVAL, strerror otherwise. */
const char *read_file_strerror(int r);
/* A write the file system itself refused: full (ENOSPC), over quota
 * (EDQUOT) or read-only (EROFS).  Such an error is about the tree, not
 * the file, so the message should name the tree (the state directory,
 * the store, the checkout). */
bool disk_write_error(int errnum);
/* Write data to dirfd/name through a temporary name, fsync, rename. */
int write_file_atomic(int dirfd, const char *name, const void *data, size_t len);
/* Write the n pieces of iov, one after the other, to dirfd/name through
 * the temporary name .NAME.tmp and rename: never half a file under NAME,
 * but no fsync (a record or a cache that a crash may lose).  One name,
 * not one per process: the caller holds a lock on the directory, and a
 * name a kill left behind is taken over (O_TRUNC) by the next write. */
int write_file_replace(int dirfd, const char *name, const struct iovec *iov, size_t n);
/* Give fd a ctime later than every ctime its file system handed out
 * before the call, in *ret: touch(fd, arg), a change that sets the ctime
 * (futimens, or a chmod to the mode it has), until the ctime moves past
 * the first touch's.  File times come from a coarse clock (a tick is a
 * jiffy, up to 10 ms) on kernels without fine-grained timestamps; with
 * them, a queried inode's next change gets a finer, later time, and the
 * second touch moves at once.  -ETIME when it does not move in a second. */
int ctime_past(int fd, int (*touch)(int fd, void *arg), void *arg, struct timespec *ret);
/* mkdir -p relative to dirfd (paths are our own, not archive content). */
int mkdir_p_at(int dirfd, const char *path, mode_t mode);
/* rm -rf of dirfd/name without following symlinks; ENOENT is success.
 * Iterative: a few fds whatever the depth.  Stops at the first entry it
 * cannot remove. */
int rm_rf_at(int dirfd, const char *name);
/* chmod of the file fd refers to (an O_PATH fd too), never of a name. */
int chmod_fd(int fd, mode_t mode);
/* chmod of dirfd/name without following a symlink, even one swapped in
 * after the caller looked: -ELOOP for a symlink. */
int chmod_nofollow_at(int dirfd, const char *name, mode_t mode);
/* write(2) until all of buf is written (EINTR retried). */
int write_all(int fd, const void *buf, size_t len);
/* A fresh DIR stream on directory fd (not dup(): a dup shares the file
 * offset, so a second listing of the same fd would come back empty). */
DIR *opendir_at(int fd);
/* Number of online CPUs, at least 1. */
int cpu_count(void);
