/* The image store (store.h): its directories, locks and atomic publishing. */
#include "image/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/fs.h>

static int open_dir_at(int dirfd, const char *name, int *ret)
{
	if (mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
		return -errno;
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	*ret = fd;
	return 0;
}

static int take_lock(kb_store *s, int fd, int mode, const char *what)
{
	if (flock(fd, mode | LOCK_NB) == 0)
		return 0;
	if (errno != EWOULDBLOCK)
		return -errno;
	if (s->notify) {
		char msg[160];
		snprintf(msg, sizeof msg, "waiting for %s held by another kbuild-ns process", what);
		s->notify(msg);
	}
	while (flock(fd, mode) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

void store_close(kb_store *s)
{
	if (!s)
		return;
	if (s->work_name) {
		(void)rm_rf_at(s->tmp_fd, s->work_name);
		_cleanup_free_ char *lk = xasprintf("%s.lock", s->work_name);
		(void)unlinkat(s->tmp_fd, lk, 0);
		free(s->work_name);
	}
	int *fds[] = { &s->work_fd, &s->work_lock_fd, &s->blobs_fd, &s->layers_fd, &s->images_fd,
		       &s->tmp_fd, &s->lock_fd, &s->import_lock_fd, &s->fd };
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
		if (*fds[i] >= 0)
			close(*fds[i]);
	free(s->root);
	free(s);
}

int store_open(const char *state_dir, int mode, void (*notify)(const char *), kb_store **ret, kb_error *e)
{
	_cleanup_(store_closep) kb_store *s = calloc(1, sizeof *s);
	int r, sfd;

	if (!s)
		return kb_err_oom(e, "store");
	s->fd = s->blobs_fd = s->layers_fd = s->images_fd = s->tmp_fd = -1;
	s->lock_fd = s->import_lock_fd = s->work_fd = s->work_lock_fd = -1;
	s->notify = notify;
	s->root = xasprintf("%s/store", state_dir);
	if ((r = mkdir_p_at(AT_FDCWD, state_dir, 0700)) < 0)
		return kb_err(e, -r, "state directory %s", state_dir);
	if ((r = open_dir_at(AT_FDCWD, s->root, &s->fd)) < 0)
		return kb_err(e, -r, "store %s", s->root);
	if ((r = open_dir_at(s->fd, "blobs", &sfd)) < 0)
		return kb_err(e, -r, "store %s/blobs", s->root);
	r = open_dir_at(sfd, "sha256", &s->blobs_fd);
	close(sfd);
	if (r < 0)
		return kb_err(e, -r, "store %s/blobs/sha256", s->root);
	if ((r = open_dir_at(s->fd, "layers", &s->layers_fd)) < 0 ||
	    (r = open_dir_at(s->fd, "images", &s->images_fd)) < 0 ||
	    (r = open_dir_at(s->fd, "tmp", &s->tmp_fd)) < 0)
		return kb_err(e, -r, "store %s", s->root);
	s->lock_fd = openat(s->fd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (s->lock_fd < 0)
		return kb_err(e, errno, "store lock %s/lock", s->root);
	if ((r = take_lock(s, s->lock_fd, mode, "the image store")) < 0)
		return kb_err(e, -r, "store lock %s/lock", s->root);
	store_clean_tmp(s);
	*ret = steal_ptr(s);
	return 0;
}

int store_lock_import(kb_store *s, kb_error *e)
{
	int r;
	s->import_lock_fd = openat(s->fd, "import.lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (s->import_lock_fd < 0)
		return kb_err(e, errno, "store lock %s/import.lock", s->root);
	if ((r = take_lock(s, s->import_lock_fd, LOCK_EX, "the import lock")) < 0)
		return kb_err(e, -r, "store lock %s/import.lock", s->root);
	return 0;
}

void store_clean_tmp(kb_store *s)
{
	DIR *d = opendir_at(s->tmp_fd);
	struct dirent *de;

	if (!d) {
		return;
	}
	while ((de = readdir(d))) {
		const char *n = de->d_name;
		size_t len = strlen(n);
		if (n[0] == '.' || (s->work_name && !strncmp(n, s->work_name, strlen(s->work_name))))
			continue;
		if (len > 5 && !strcmp(n + len - 5, ".lock")) {
			/* A lock nobody holds: its owner died.  Remove the work
			 * directory first, then the lock. */
			int fd = openat(s->tmp_fd, n, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
			if (fd < 0)
				continue;
			if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
				_cleanup_free_ char *dir = strndup(n, len - 5);
				if (dir)
					(void)rm_rf_at(s->tmp_fd, dir);
				(void)unlinkat(s->tmp_fd, n, 0);
			}
			close(fd);
			continue;
		}
		/* A work directory without its lock file is an orphan too (the
		 * lock is made first and removed last). */
		_cleanup_free_ char *lk = xasprintf("%s.lock", n);
		if (faccessat(s->tmp_fd, lk, F_OK, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
			(void)rm_rf_at(s->tmp_fd, n);
	}
	closedir(d);
}

int store_workdir(kb_store *s, kb_error *e)
{
	if (s->work_fd >= 0)
		return 0;
	for (int attempt = 0; attempt < 100; attempt++) {
		unsigned rnd;
		if (getentropy(&rnd, sizeof rnd) < 0)
			rnd = (unsigned)getpid() * 2654435761u + (unsigned)attempt;
		_cleanup_free_ char *name = xasprintf("w%d-%08x", (int)getpid(), rnd);
		_cleanup_free_ char *lk = xasprintf("%s.lock", name);
		int lfd = openat(s->tmp_fd, lk, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (lfd < 0 && errno == EEXIST)
			continue;
		if (lfd < 0)
			return kb_err(e, errno, "store %s/tmp", s->root);
		struct stat a, b;
		/* A cleaner may have taken and removed the lock between our
		 * create and our flock; then it is not ours any more. */
		if (flock(lfd, LOCK_EX) < 0 || fstat(lfd, &a) < 0 ||
		    fstatat(s->tmp_fd, lk, &b, AT_SYMLINK_NOFOLLOW) < 0 || a.st_ino != b.st_ino) {
			close(lfd);
			continue;
		}
		if (mkdirat(s->tmp_fd, name, 0700) < 0) {
			int err = errno;
			(void)unlinkat(s->tmp_fd, lk, 0);
			close(lfd);
			if (err == EEXIST)
				continue;
			return kb_err(e, err, "store %s/tmp/%s", s->root, name);
		}
		s->work_fd = openat(s->tmp_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (s->work_fd < 0) {
			int err = errno;
			(void)rm_rf_at(s->tmp_fd, name);
			(void)unlinkat(s->tmp_fd, lk, 0);
			close(lfd);
			return kb_err(e, err, "store %s/tmp/%s", s->root, name);
		}
		s->work_lock_fd = lfd;
		s->work_name = steal_ptr(name);
		return 0;
	}
	return kb_errx(e, EEXIST, "store %s/tmp: cannot make a work directory", s->root);
}

bool store_has_layer(kb_store *s, const kb_digest *d)
{
	struct stat st;
	return fstatat(s->layers_fd, d->hex, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

int store_publish_layer(kb_store *s, const char *name, const kb_digest *d, kb_error *e)
{
	/* RENAME_NOREPLACE: a layer, once published, is never replaced. */
	if (syscall(SYS_renameat2, s->work_fd, name, s->layers_fd, d->hex, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno == EEXIST) {
		(void)rm_rf_at(s->work_fd, name);
		return 0;
	}
	return kb_err(e, errno, "layer sha256:%.12s: publish", d->hex);
}

int store_write_file(kb_store *s, int dirfd, const char *name, const void *data, size_t len, kb_error *e)
{
	int r = store_workdir(s, e);
	if (r < 0)
		return r;
	_cleanup_free_ char *tmp = xasprintf("f-%s", name);
	_cleanup_close_ int fd = openat(s->work_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return kb_err(e, errno, "store: write %s", name);
	if ((r = write_all(fd, data, len)) < 0 || fsync(fd) < 0)
		r = r < 0 ? r : -errno;
	if (r == 0 && renameat(s->work_fd, tmp, dirfd, name) < 0)
		r = -errno;
	if (r < 0) {
		(void)unlinkat(s->work_fd, tmp, 0);
		return kb_err(e, -r, "store: write %s", name);
	}
	return 0;
}

int store_put_blob(kb_store *s, const kb_digest *d, const void *data, size_t len, kb_error *e)
{
	if (faccessat(s->blobs_fd, d->hex, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	int r = store_write_file(s, s->blobs_fd, d->hex, data, len, e);
	return r < 0 ? r : 1;
}

int store_read_blob(kb_store *s, const kb_digest *d, size_t max, char **ret, size_t *ret_len, kb_error *e)
{
	int r = read_file_at(s->blobs_fd, d->hex, max, ret, ret_len);
	if (r < 0)
		return kb_errx(e, -r, "blob sha256:%.12s: %s", d->hex, read_file_strerror(r));
	return 0;
}

int store_remove_layer(kb_store *s, const char *hex, kb_error *e)
{
	/* Move the layer out of sight first, then delete it: a killed
	 * removal leaves a stale work directory, never a half-deleted layer. */
	int r = store_workdir(s, e);
	if (r < 0)
		return r;
	_cleanup_free_ char *name = xasprintf("del-%s", hex);
	if (renameat(s->layers_fd, hex, s->work_fd, name) < 0)
		return errno == ENOENT ? 0 : kb_err(e, errno, "layer sha256:%.12s: remove", hex);
	r = rm_rf_at(s->work_fd, name);
	return r < 0 ? kb_err(e, -r, "layer sha256:%.12s: remove", hex) : 0;
}
