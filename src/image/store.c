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

/* ---- who holds what (users/, store.h) ---- */

/* Our command line, NULs as spaces, the program's directory left out. */
static void own_cmdline(char *buf, size_t len)
{
	char raw[512];
	_cleanup_close_ int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, raw, sizeof raw - 1) : -1;

	if (n <= 0) {
		snprintf(buf, len, "kbuild-ns");
		return;
	}
	while (n > 0 && raw[n - 1] == 0)
		n--;
	raw[n] = 0;
	const char *slash = strrchr(raw, '/');    /* in argv[0]: it ends at the first NUL */
	const char *prog = slash ? slash + 1 : raw;
	for (ssize_t i = 0; i < n; i++)
		if (raw[i] == 0 || raw[i] == '\n')
			raw[i] = ' ';
	snprintf(buf, len, "%s", prog);
}

/* Say, in users/, who holds a lock under key (information only: a
 * failure leaves the waiters a plainer line).  Made under a temporary
 * name and flocked before it gets its real one, so that no sweep takes
 * it for stale. */
static void register_user(kb_store *s, const char *key, const char *where)
{
	size_t slot = 0;
	while (slot < ARRAY_SIZE(s->user_fd) && s->user_fd[slot] >= 0)
		slot++;
	if (slot == ARRAY_SIZE(s->user_fd) || (s->users_fd < 0 && open_dir_at(s->fd, "users", &s->users_fd) < 0))
		return;
	char cmd[512];
	own_cmdline(cmd, sizeof cmd);
	_cleanup_free_ char *cwd = where ? NULL : getcwd(NULL, 0);
	_cleanup_free_ char *text = xasprintf("%d\n%s\n%s\n", (int)getpid(), cmd, where ? where : cwd ? cwd : "?");
	for (int attempt = 0; attempt < 20; attempt++) {
		unsigned rnd;
		if (getentropy(&rnd, sizeof rnd) < 0)
			rnd = (unsigned)attempt * 2654435761u;
		_cleanup_free_ char *tmp = xasprintf(".new-%d-%08x", (int)getpid(), rnd);
		char *name = xasprintf("%s.%d.%08x", key, (int)getpid(), rnd);
		int fd = openat(s->users_fd, tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0 || flock(fd, LOCK_EX) < 0 || write_all(fd, text, strlen(text)) < 0 ||
		    renameat(s->users_fd, tmp, s->users_fd, name) < 0) {
			int err = errno;
			if (fd >= 0) {
				(void)unlinkat(s->users_fd, tmp, 0);
				close(fd);
			}
			free(name);
			if (err == EEXIST)
				continue;
			return;
		}
		s->user_fd[slot] = fd;
		s->user_name[slot] = name;
		return;
	}
}

/* Remove users/ entries whose writer is gone (their flock is free). */
static void sweep_users(kb_store *s)
{
	DIR *d = s->users_fd >= 0 ? opendir_at(s->users_fd) : NULL;
	struct dirent *de;

	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		int fd = openat(s->users_fd, de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
		if (fd >= 0 && flock(fd, LOCK_SH | LOCK_NB) == 0)
			(void)unlinkat(s->users_fd, de->d_name, 0);
		if (fd >= 0)
			close(fd);
	}
	if (d)
		closedir(d);
}

void store_holder(kb_store *s, const char *key, char *buf, size_t len)
{
	size_t kl = strlen(key);
	DIR *d;
	struct dirent *de;

	snprintf(buf, len, "another kbuild-ns");
	if (s->users_fd < 0)
		s->users_fd = openat(s->fd, "users", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (s->users_fd < 0 || !(d = opendir_at(s->users_fd)))
		return;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, key, kl) || de->d_name[kl] != '.')
			continue;
		char text[1024] = "";
		_cleanup_close_ int fd = openat(s->users_fd, de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
		if (fd < 0 || flock(fd, LOCK_SH | LOCK_NB) == 0)
			continue;    /* gone, or its writer is */
		ssize_t n = pread(fd, text, sizeof text - 1, 0);
		text[n > 0 ? n : 0] = 0;
		char *cmd = strchr(text, '\n'), *where = cmd ? strchr(cmd + 1, '\n') : NULL;
		if (!where)
			continue;
		*cmd++ = 0;
		*where++ = 0;
		where[strcspn(where, "\n")] = 0;
		snprintf(buf, len, "kbuild-ns pid %s (%s, in %s)", text, cmd, where);
		break;
	}
	closedir(d);
}

static int take_lock(kb_store *s, int fd, int mode, const char *what)
{
	if (flock(fd, mode | LOCK_NB) == 0)
		return 0;
	if (errno != EWOULDBLOCK)
		return -errno;
	if (s->notify) {
		/* The long holders, imports, say who they are. */
		char who[600], msg[800];
		store_holder(s, "import", who, sizeof who);
		snprintf(msg, sizeof msg, "waiting for %s, held by %s", what, who);
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
	for (size_t i = 0; i < ARRAY_SIZE(s->user_fd); i++) {
		if (s->user_name[i])
			(void)unlinkat(s->users_fd, s->user_name[i], 0);
		if (s->user_fd[i] >= 0)
			close(s->user_fd[i]);
		free(s->user_name[i]);
	}
	int *fds[] = { &s->work_fd, &s->work_lock_fd, &s->blobs_fd, &s->layers_fd, &s->images_fd,
		       &s->tmp_fd, &s->lock_fd, &s->import_lock_fd, &s->use_fd, &s->users_fd, &s->fd };
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
	s->use_fd = s->users_fd = s->user_fd[0] = s->user_fd[1] = -1;
	s->notify = notify;
	s->lock_mode = mode;
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
	/* users/ is made by the first that registers; read it if there. */
	s->users_fd = openat(s->fd, "users", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if ((r = take_lock(s, s->lock_fd, mode, "the image store")) < 0)
		return kb_err(e, -r, "store lock %s/lock", s->root);
	store_clean_tmp(s);
	sweep_users(s);
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
	register_user(s, "import", NULL);
	return 0;
}

void store_unlock(kb_store *s)
{
	(void)flock(s->lock_fd, LOCK_UN);
}

int store_relock(kb_store *s, kb_error *e)
{
	int r = take_lock(s, s->lock_fd, s->lock_mode, "the image store");
	return r < 0 ? kb_err(e, -r, "store lock %s/lock", s->root) : 0;
}

static int open_image_lock(kb_store *s, const kb_digest *id, kb_error *e)
{
	_cleanup_free_ char *name = xasprintf("%s.lock", id->hex);
	int fd = openat(s->images_fd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	return fd >= 0 ? fd : kb_err(e, errno, "image sha256:%.12s: lock %s/images/%s", id->hex, s->root, name);
}

int store_use_image(kb_store *s, const kb_digest *id, const char *where, kb_error *e)
{
	int fd = open_image_lock(s, id, e);
	if (fd < 0)
		return fd;
	/* Shared with other builds.  `image rm` holds it exclusively only
	 * together with the store lock, which we hold: not for long. */
	while (flock(fd, LOCK_SH) < 0)
		if (errno != EINTR) {
			int err = errno;
			close(fd);
			return kb_err(e, err, "image sha256:%.12s: lock", id->hex);
		}
	if (s->use_fd >= 0)
		close(s->use_fd);
	s->use_fd = fd;
	register_user(s, id->hex, where);
	return 0;
}

int store_claim_image(kb_store *s, const kb_digest *id, const char *what, int *ret_fd, bool *ret_waited,
		      kb_error *e)
{
	int r;

	*ret_waited = false;
	for (;;) {
		int fd = open_image_lock(s, id, e);
		if (fd < 0)
			return fd;
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			*ret_fd = fd;
			return 0;
		}
		if (errno != EWOULDBLOCK) {
			int err = errno;
			close(fd);
			return kb_err(e, err, "image %s: lock", what);
		}
		if (s->notify) {
			char who[600], msg[900];
			store_holder(s, id->hex, who, sizeof who);
			snprintf(msg, sizeof msg, "image %s is in use by %s: waiting for it to end", what, who);
			s->notify(msg);
		}
		/* Wait without the store lock, so that other commands (other
		 * builds among them) may go on using the store meanwhile. */
		store_unlock(s);
		while (flock(fd, LOCK_EX) < 0 && errno == EINTR)
			;
		close(fd);
		*ret_waited = true;
		if ((r = store_relock(s, e)) < 0)
			return r;
	}
}

void store_drop_image_lock(kb_store *s, const kb_digest *id)
{
	_cleanup_free_ char *name = xasprintf("%s.lock", id->hex);
	(void)unlinkat(s->images_fd, name, 0);
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
