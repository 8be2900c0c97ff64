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
