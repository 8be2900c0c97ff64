/* The data sandbox (data.h): its state directory, lock, crash marks,
 * init, record and removal. */
#include "build/data.h"
#include "base/jsontext.h"
#include "base/md5.h"
#include "runtime/isolate.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <linux/magic.h>

/* The names in a state directory (data.h). */
#define DF_UPPER "upper"
#define DF_WORK "work"
#define DF_ROOT "root"
#define DF_SNAPSHOT "snapshot"
#define DF_LOCK "lock"
#define DF_IN_USE "in-use"
#define DF_IDMAP "idmap"
#define DF_READY "ready"
#define DF_META "meta.json"
#define DF_SYNCED "synced"
#define DF_SEEN "snapshot.seen"
#define DF_VERSION "version-step"
#define DF_ROOTFS "rootfs"
#define DF_ROOTFS_NEW "rootfs.new"
#define DF_ROOTFS_IMAGE "rootfs-image"

void data_free(kb_data *d)
{
	if (!d)
		return;
	if (d->lock_fd >= 0)
		close(d->lock_fd);
	if (d->dirfd >= 0)
		close(d->dirfd);
	free(d->state_dir);
	free(d->version);
	free(d->dir);
	free(d->upper);
	free(d->work);
	free(d->root);
	free(d->snapshot);
	free(d->rootfs);
	free(d);
}

void data_key(const char *s, char *out, size_t n)
{
	unsigned char md[MD5_LEN];
	static const char hx[] = "0123456789abcdef";

	md5_buf(s, strlen(s), md);
	for (size_t i = 0; i < n && i / 2 < MD5_LEN; i++)
		out[i] = hx[(md[i / 2] >> (i % 2 ? 0 : 4)) & 15];
	out[n] = 0;
}

/* ---- open, lock ---- */

/* A state directory of key (<key>-<any version>)? */
static bool of_key(const char *name, const char *key)
{
	return !strncmp(name, key, 10) && name[10] == '-';
}

/* The holder's pid from a lock file, "" when it cannot be read. */
static void holder_pid(int lfd, char pid[32])
{
	ssize_t n = pread(lfd, pid, 31, 0);
	pid[n > 0 ? n : 0] = 0;
	pid[strcspn(pid, "\n")] = 0;
}

/* Remove projects/<name> unless a kbuild-ns holds its lock (then EBUSY,
 * naming the holder). */
static int remove_state(int pfd, const char *pdir, const char *name, kb_error *e)
{
	_cleanup_free_ char *lk = xasprintf("%s/" DF_LOCK, name);
	_cleanup_close_ int lfd = openat(pfd, lk, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (lfd >= 0 && flock(lfd, LOCK_EX | LOCK_NB) < 0) {
		char pid[32];
		holder_pid(lfd, pid);
		return kb_errx(e, EBUSY, "state %s/%s: in use by a running kbuild-ns%s%s%s", pdir, name,
			       pid[0] ? " (pid " : "", pid, pid[0] ? ")" : "");
	}
	int r = data_rm_tree(pfd, name, e);
	if (r < 0)
		kb_err_prefix(e, "state %s/%s", pdir, name);
	return r;
}

/* ---- claiming states for removal (clean) ---- */

typedef struct claimed {
	char *name;
	int lock_fd;
} claimed;

struct data_states {
	char *pdir;
	int pfd;
	claimed *v;
	size_t n;
};

void data_states_free(data_states *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		if (s->v[i].lock_fd >= 0)
			close(s->v[i].lock_fd);
		free(s->v[i].name);
	}
	free(s->v);
	if (s->pfd >= 0)
		close(s->pfd);
	free(s->pdir);
	free(s);
}

/* Lock projects/<name>, making its lock file if it has none (else a run
 * starting now could take a lock we do not hold). */
static int claim_one(data_states *s, const char *name, kb_error *e)
{
	_cleanup_free_ char *lk = xasprintf("%s/" DF_LOCK, name);
	_cleanup_close_ int lfd = openat(s->pfd, lk, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lfd >= 0 && flock(lfd, LOCK_EX | LOCK_NB) < 0) {
		char pid[32];
		holder_pid(lfd, pid);
		return kb_errx(e, EBUSY, "state %s/%s: in use by a running kbuild-ns%s%s%s", s->pdir, name,
			       pid[0] ? " (pid " : "", pid, pid[0] ? ")" : "");
	}
	claimed *nv = realloc(s->v, (s->n + 1) * sizeof *nv);
	if (!nv)
		return kb_err_oom(e, "state");
	s->v = nv;
	s->v[s->n++] = (claimed){ .name = xstrdup(name), .lock_fd = steal_fd(lfd) };
	return 0;
}

int data_claim_states(const char *state_dir, const char *key, bool all, data_states **ret, kb_error *e)
{
	_cleanup_(data_states_freep) data_states *s = calloc(1, sizeof *s);
	struct dirent *de;
	int r = 0;

	if (!s)
		return kb_err_oom(e, "state");
	s->pdir = xasprintf("%s/projects", state_dir);
	s->pfd = open(s->pdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->pfd < 0 && errno != ENOENT)
		return kb_err(e, errno, "%s", s->pdir);
	DIR *d = s->pfd >= 0 ? opendir_at(s->pfd) : NULL;
	if (s->pfd >= 0 && !d)
		return kb_err(e, errno, "%s", s->pdir);
	while (d && r == 0 && (de = readdir(d)))
		if (de->d_name[0] != '.' && (all || of_key(de->d_name, key)))
			r = claim_one(s, de->d_name, e);
	if (d)
		closedir(d);
	if (r < 0)
		return r;
	*ret = steal_ptr(s);
	return 0;
}

size_t data_states_count(const data_states *s)
{
	return s->n;
}

int data_remove_claimed(data_states *s, size_t *ret_removed, kb_error *e)
{
	int rc = 0;

	*ret_removed = 0;
	for (size_t i = 0; i < s->n; i++) {
		/* Go on past one that fails: the others may go. */
		int r = data_rm_tree(s->pfd, s->v[i].name, e);
		if (r < 0)
			kb_err_prefix(e, "state %s/%s", s->pdir, s->v[i].name);
		if (r < 0 && rc == 0)
			rc = r;
		else if (r == 0)
			(*ret_removed)++;
	}
	return rc;
}

int data_remove_states(const char *state_dir, const char *key, bool all, size_t *ret_removed, kb_error *e)
{
	_cleanup_(data_states_freep) data_states *s = NULL;
	int r;

	*ret_removed = 0;
	if ((r = data_claim_states(state_dir, key, all, &s, e)) < 0)
		return r;
	return data_remove_claimed(s, ret_removed, e);
}

/* A new version (a new cross tag, or a new state format) means a cold
 * build, as upstream deletes its old data containers: remove the other
 * versions of this key, unless a run holds one (the next run tries
 * again). */
static void drop_other_versions(const kb_data *d)
{
	_cleanup_free_ char *pdir = xasprintf("%s/projects", d->state_dir);
	_cleanup_free_ char *mine = xasprintf("%s-%s", d->key, d->version);
	_cleanup_close_ int pfd = open(pdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir = pfd >= 0 ? opendir_at(pfd) : NULL;
	struct dirent *de;

	while (dir && (de = readdir(dir))) {
		/* Only the versions of our own kind of state, named by the
		 * format's first letter ("s" make's, "r" a release's): the two
		 * live side by side. */
		if (!of_key(de->d_name, d->key) || !strcmp(de->d_name, mine) || de->d_name[11] != d->version[0])
			continue;
		kb_error ignored = { 0 };
		(void)remove_state(pfd, pdir, de->d_name, &ignored);
	}
	if (dir)
		closedir(dir);
}

int data_open(const char *state_dir, const kb_profile *p, bool create, kb_data **ret, kb_error *e)
{
	return data_open_as(state_dir, p, DATA_FORMAT, create, ret, e);
}

int data_open_as(const char *state_dir, const kb_profile *p, const char *format, bool create, kb_data **ret,
		 kb_error *e)
{
	_cleanup_(data_freep) kb_data *d = calloc(1, sizeof *d);
	char hn[256] = "";
	int r;

	if (!d)
		return kb_err_oom(e, "state");
	d->dirfd = d->lock_fd = -1;
	/* Upstream hashes bash's $HOSTNAME, which bash sets whether or not it
	 * is exported; take the kernel's name when the environment lacks it
	 * (cron, env -i), so the key does not change with the caller. */
	const char *host = getenv("HOSTNAME");
	if (!host || !*host) {
		(void)gethostname(hn, sizeof hn - 1);
		host = hn;
	}
	_cleanup_free_ char *in = xasprintf("%s:%s:%s", host, p->checkout, p->branch);
	data_key(in, d->key, 10);
	d->version = p->base_version ? xasprintf("%s-%s-%s", format, p->base_version, p->cross_tag)
				     : xasprintf("%s-%s", format, p->cross_tag ? p->cross_tag : "generic");
	d->state_dir = xstrdup(state_dir);
	d->dir = xasprintf("%s/projects/%s-%s", state_dir, d->key, d->version);
	d->upper = xasprintf("%s/" DF_UPPER, d->dir);
	d->work = xasprintf("%s/" DF_WORK, d->dir);
	d->root = xasprintf("%s/" DF_ROOT, d->dir);
	d->snapshot = xasprintf("%s/" DF_SNAPSHOT, d->dir);
	d->rootfs = xasprintf("%s/" DF_ROOTFS, d->dir);
	d->dirfd = open(d->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (d->dirfd < 0 && errno != ENOENT)
		return kb_err(e, errno, "state %s", d->dir);
	if (create && (r = data_create(d, e)) < 0)
		return r;
	*ret = steal_ptr(d);
	return 0;
}

int data_create(kb_data *d, kb_error *e)
{
	int r;
	/* Every time: a version another run held last time goes now. */
	drop_other_versions(d);
	if (d->dirfd >= 0)
		return 0;
	if ((r = mkdir_p_at(AT_FDCWD, d->dir, 0700)) < 0)
		return kb_err(e, -r, "state %s", d->dir);
	d->dirfd = open(d->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (d->dirfd < 0)
		return kb_err(e, errno, "state %s", d->dir);
	return 0;
}

/* The holder's pid, for status and for those who wait. */
static int lock_taken(kb_data *d)
{
	char pid[24];
	int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
	if (ftruncate(d->lock_fd, 0) == 0)
		(void)!pwrite(d->lock_fd, pid, (size_t)n, 0);    /* information only */
	return 0;
}

/* Is the lock we hold still the state directory's own?  A cache import
 * exchanges the whole directory for a new one (data_exchange): whoever
 * waited on the old lock must start again on the new directory. */
static bool lock_current(const kb_data *d)
{
	struct stat held, now;
	_cleanup_free_ char *path = xasprintf("%s/" DF_LOCK, d->dir);
	return fstat(d->lock_fd, &held) == 0 && lstat(path, &now) == 0 && held.st_dev == now.st_dev &&
	       held.st_ino == now.st_ino;
}

static int reopen(kb_data *d, kb_error *e)
{
	close(d->lock_fd);
	close(d->dirfd);
	d->lock_fd = -1;
	d->dirfd = open(d->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	/* Gone: `clean` removes a state while it holds its lock. */
	if (d->dirfd < 0 && errno == ENOENT)
		return kb_errx(e, ENOENT, "state %s: removed (kbuild-ns clean) while this one waited; run it again",
			       d->dir);
	return d->dirfd < 0 ? kb_err(e, errno, "state %s", d->dir) : 0;
}

static int lock_once(kb_data *d, bool wait, void (*notify)(const char *), kb_error *e);

int data_lock(kb_data *d, bool wait, void (*notify)(const char *), kb_error *e)
{
	int r;
	for (int tries = 0; tries < 8; tries++) {
		if ((r = lock_once(d, wait, notify, e)) < 0 || lock_current(d))
			return r;
		if ((r = reopen(d, e)) < 0)
			return r;
		notify = NULL;    /* said once is enough */
	}
	return kb_errx(e, EAGAIN, "state %s: replaced again and again while we waited", d->dir);
}

static int lock_once(kb_data *d, bool wait, void (*notify)(const char *), kb_error *e)
{
	d->lock_fd = openat(d->dirfd, DF_LOCK, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (d->lock_fd < 0)
		return kb_err(e, errno, "lock %s/" DF_LOCK, d->dir);
	/* The kernel refuses, or worse, misbehaves, if one upper/work pair is
	 * mounted twice at once (overlayfs.rst, "Sharing and copying layers"):
	 * one sandbox per checkout at a time. */
	if (flock(d->lock_fd, LOCK_EX | LOCK_NB) == 0)
		return lock_taken(d);
	if (errno != EWOULDBLOCK)
		return kb_err(e, errno, "lock %s/" DF_LOCK, d->dir);
	if (!wait)
		return kb_errx(e, EBUSY, "state %s: in use by another kbuild-ns (--no-wait given)", d->dir);
	if (notify) {
		char pid[32];
		holder_pid(d->lock_fd, pid);
		_cleanup_free_ char *m = xasprintf("waiting for another kbuild-ns using %s%s%s%s", d->dir,
						   pid[0] ? " (pid " : "", pid, pid[0] ? ")" : "");
		notify(m);
	}
	while (flock(d->lock_fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return kb_err(e, errno, "lock %s/" DF_LOCK, d->dir);
	return lock_taken(d);
}

long data_lock_holder(const kb_data *d)
{
	_cleanup_close_ int fd = d->dirfd >= 0 ? openat(d->dirfd, DF_LOCK, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) : -1;
	char buf[32] = "";
	if (fd < 0 || flock(fd, LOCK_SH | LOCK_NB) == 0)
		return 0;
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	buf[n > 0 ? n : 0] = 0;
	long pid = atol(buf);
	return pid > 0 ? pid : -1;
}

/* ---- the data layer's marks ---- */

void data_boot_id(char buf[64])
{
	/* Not read_file_at: a /proc file says its size is 0. */
	_cleanup_close_ int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, 63) : -1;
	buf[n > 0 ? n : 0] = 0;
	buf[strcspn(buf, "\n")] = 0;
}

/* The kernel's own mark of a volatile overlay: work/work/incompat/volatile,
 * made at mount and left behind at unmount; while it exists the kernel
 * refuses to mount the layer again (overlayfs.rst, "Volatile mount").
 * It is there while a sandbox uses the data layer and after one that
 * ended without data_done: a killed kbuild-ns, or a host crash.  Says
 * whether it is there; with drop, removes it. */
static bool volatile_mark(kb_data *d, bool drop)
{
	_cleanup_close_ int wfd = openat(d->dirfd, DF_WORK, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	bool found = false;

	if (wfd < 0)
		return false;
	if (fstatat(wfd, "incompat", &st, AT_SYMLINK_NOFOLLOW) == 0) {
		found = true;
		if (drop)
			(void)rm_rf_at(wfd, "incompat");
	}
	if (fstatat(wfd, "work", &st, AT_SYMLINK_NOFOLLOW) < 0)
		return found;
	if ((st.st_mode & 0700) != 0700)
		(void)fchmodat(wfd, "work", 0700, 0);    /* overlay leaves it mode 000 */
	_cleanup_close_ int wwfd = openat(wfd, "work", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (wwfd >= 0 && fstatat(wwfd, "incompat", &st, AT_SYMLINK_NOFOLLOW) == 0) {
		found = true;
		if (drop)
			(void)rm_rf_at(wwfd, "incompat");
	}
	return found;
}

/* Empty the data layer: "ready" goes first, so that a kill in the middle
 * leaves an unready layer, which the next run resets again. */
static int clear_layer(kb_data *d, const char *why, kb_error *e)
{
	int r;
	(void)unlinkat(d->dirfd, DF_READY, 0);
	(void)unlinkat(d->dirfd, DF_ROOTFS_IMAGE, 0);
	if ((r = data_rm_tree(d->dirfd, DF_UPPER, e)) < 0 || (r = data_rm_tree(d->dirfd, DF_WORK, e)) < 0 ||
	    (r = data_rm_tree(d->dirfd, DF_ROOTFS, e)) < 0 || (r = data_rm_tree(d->dirfd, DF_ROOTFS_NEW, e)) < 0) {
		kb_err_prefix(e, "state %s: %s", d->dir, why);
		return r;
	}
	return 0;
}

int data_prepare(kb_data *d, const char *idmap, bool *ret_reset, kb_error *e)
{
	static const char *const dirs[] = { DF_UPPER, DF_WORK, DF_ROOT, DF_SNAPSHOT };
	static const mode_t modes[] = { 0755, 0700, 0700, 0755 };    /* upper is the root's "/" */
	_cleanup_free_ char *mark = NULL, *old = NULL;
	char boot[64];
	int r;

	*ret_reset = false;
	data_boot_id(boot);
	/* See data.h.  No mark at all is a new layer. */
	bool have_mark = read_file_at(d->dirfd, DF_IN_USE, 64, &mark, NULL) == 0;
	bool this_boot = have_mark && !strcmp(mark, boot);
	if (have_mark && !this_boot && volatile_mark(d, false)) {
		if ((r = clear_layer(d, "reset after a host crash", e)) < 0)
			return r;
		*ret_reset = true;
	}
	if (idmap[0] && read_file_at(d->dirfd, DF_IDMAP, 256, &old, NULL) == 0 && strcmp(old, idmap)) {
		/* The snapshot too: the builds wrote into it with the old ids,
		 * and files of a range's ids are out of reach of a single map
		 * (they would show as nobody); a cold build, then. */
		if ((r = clear_layer(d, "reset for a new id mapping", e)) < 0)
			return r;
		if ((r = data_rm_tree(d->dirfd, DF_SNAPSHOT, e)) < 0) {
			kb_err_prefix(e, "state %s: reset for a new id mapping", d->dir);
			return r;
		}
		*ret_reset = true;
	}
	if (idmap[0] && (!old || strcmp(old, idmap)) &&
	    (r = write_file_atomic(d->dirfd, DF_IDMAP, idmap, strlen(idmap))) < 0)
		return kb_err(e, -r, "state %s/" DF_IDMAP, d->dir);
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
		if (mkdirat(d->dirfd, dirs[i], modes[i]) < 0 && errno != EEXIST)
			return kb_err(e, errno, "state %s/%s", d->dir, dirs[i]);
	/* Left by a kbuild-ns killed in this boot (whose writes the page
	 * cache still holds); we hold the lock, so it may go. */
	volatile_mark(d, true);
	/* Once per boot, and durable (the file, then its name) before the
	 * overlay is mounted: after a crash the next boot must find it. */
	if (!this_boot && ((r = write_file_atomic(d->dirfd, DF_IN_USE, boot, strlen(boot))) < 0 ||
			   (r = fsync(d->dirfd) < 0 ? -errno : 0) < 0))
		return kb_err(e, -r, "state %s/" DF_IN_USE, d->dir);
	return 0;
}

void data_done(kb_data *d)
{
	volatile_mark(d, true);
}

bool data_ready(const kb_data *d)
{
	return d->dirfd >= 0 && faccessat(d->dirfd, DF_READY, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

bool data_ready_for(const kb_data *d, const char *mark)
{
	_cleanup_free_ char *text = NULL;
	return d->dirfd >= 0 && read_file_at(d->dirfd, DF_READY, 4096, &text, NULL) == 0 && !strcmp(text, mark);
}

char *data_ready_text(const kb_data *d)
{
	char *text = NULL;
	if (d->dirfd < 0 || read_file_at(d->dirfd, DF_READY, 4096, &text, NULL) < 0)
		return NULL;
	return text;
}

int data_reset(kb_data *d, kb_error *e)
{
	int r = clear_layer(d, "reset the data layer", e);
	if (r < 0)
		return r;
	if (mkdirat(d->dirfd, DF_UPPER, 0755) < 0 || mkdirat(d->dirfd, DF_WORK, 0700) < 0)
		return kb_err(e, errno, "state %s: reset the data layer", d->dir);
	return 0;
}

/* statfs of the directory, or of its nearest parent that exists (the
 * state directory is made only when a build starts). */
bool data_on_overlayfs(const char *state_dir)
{
	_cleanup_free_ char *dir = xstrdup(state_dir);
	struct statfs sf;
	char *slash;
	int r;

	while ((r = statfs(dir, &sf)) < 0 && (slash = strrchr(dir, '/')) && slash != dir)
		*slash = 0;
	return r == 0 && (unsigned long)sf.f_type == OVERLAYFS_SUPER_MAGIC;
}

bool data_rootfs_for(const kb_data *d, const char *image_id)
{
	_cleanup_free_ char *text = NULL;
	return d->dirfd >= 0 && read_file_at(d->dirfd, DF_ROOTFS_IMAGE, 256, &text, NULL) == 0 &&
	       !strcmp(text, image_id) && faccessat(d->dirfd, DF_ROOTFS, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

void data_unready(kb_data *d)
{
	(void)unlinkat(d->dirfd, DF_READY, 0);
}

int data_rootfs_begin(kb_data *d, kb_error *e)
{
	int r;
	(void)unlinkat(d->dirfd, DF_ROOTFS_IMAGE, 0);
	if ((r = data_rm_tree(d->dirfd, DF_ROOTFS, e)) < 0 || (r = data_rm_tree(d->dirfd, DF_ROOTFS_NEW, e)) < 0) {
		kb_err_prefix(e, "state %s", d->dir);
		return r;
	}
	if (mkdirat(d->dirfd, DF_ROOTFS_NEW, 0755) < 0)
		return kb_err(e, errno, "state %s/" DF_ROOTFS_NEW, d->dir);
	return 0;
}

int data_rootfs_commit(kb_data *d, const char *image_id, kb_error *e)
{
	int r;
	if (renameat(d->dirfd, DF_ROOTFS_NEW, d->dirfd, DF_ROOTFS) < 0)
		return kb_err(e, errno, "state %s/" DF_ROOTFS, d->dir);
	if ((r = write_file_atomic(d->dirfd, DF_ROOTFS_IMAGE, image_id, strlen(image_id))) < 0)
		return kb_err(e, -r, "state %s/" DF_ROOTFS_IMAGE, d->dir);
	return 0;
}

int data_clear(kb_data *d, kb_error *e)
{
	int r = data_reset(d, e);
	if (r == 0 && (r = data_rm_tree(d->dirfd, DF_SNAPSHOT, e)) < 0)
		kb_err_prefix(e, "state %s", d->dir);
	if (r == 0 && mkdirat(d->dirfd, DF_SNAPSHOT, 0755) < 0)
		r = kb_err(e, errno, "state %s/" DF_SNAPSHOT, d->dir);
	return r;
}

int data_mark_ready(kb_data *d, const char *profile, kb_error *e)
{
	int r = write_file_atomic(d->dirfd, DF_READY, profile, strlen(profile));
	return r < 0 ? kb_err(e, -r, "state %s/" DF_READY, d->dir) : 0;
}

/* ---- the version step's record ---- */

char *data_read_version_record(const kb_data *d, size_t *ret_len)
{
	char *text = NULL;
	if (d->dirfd < 0 || read_file_at(d->dirfd, DF_VERSION, 1 << 20, &text, ret_len) < 0)
		return NULL;
	return text;
}

int data_write_version_record(kb_data *d, const char *text, size_t len, kb_error *e)
{
	int r = write_file_atomic(d->dirfd, DF_VERSION, text, len);
	return r < 0 ? kb_err(e, -r, "state %s/" DF_VERSION, d->dir) : 0;
}

void data_drop_version_record(kb_data *d)
{
	if (d->dirfd >= 0)
		(void)unlinkat(d->dirfd, DF_VERSION, 0);
}

/* ---- the sync mark ---- */

void data_seen_load(const kb_data *d, sync_seen *s)
{
	if (d->dirfd >= 0)
		seen_load(s, d->dirfd, DF_SEEN);
}

void data_seen_save(kb_data *d, const sync_seen *s, uint64_t reused)
{
	if (d->dirfd >= 0)
		(void)seen_save(s, reused, d->dirfd, DF_SEEN);
}

int data_sync_mark(const kb_data *d, struct timespec *ret)
{
	struct stat st;
	*ret = (struct timespec){ 0 };    /* no mark: every file is suspect */
	if (d->dirfd < 0 || fstatat(d->dirfd, DF_SYNCED, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	*ret = st.st_ctim;
	return 0;
}

static int touch_times(int fd, void *arg)
{
	(void)arg;
	return futimens(fd, NULL);
}

int data_set_sync_mark(kb_data *d, kb_error *e)
{
	/* Every file the sync wrote has a ctime at or before now; the mark's
	 * must be later than all of them, or the next sync would send them
	 * again: at most a tick's wait, and only after a sync that wrote
	 * something. */
	_cleanup_close_ int fd = openat(d->dirfd, DF_SYNCED, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	struct timespec mark;
	int r = fd < 0 ? -errno : ctime_past(fd, touch_times, NULL, &mark);
	if (r == -ETIME)
		return kb_errx(e, EIO, "state %s/" DF_SYNCED ": the file system's clock does not move", d->dir);
	return r < 0 ? kb_err(e, -r, "state %s/" DF_SYNCED, d->dir) : 0;
}

/* ---- the record ---- */

int data_write_meta(kb_data *d, const kb_profile *p, const char *image, const char *image_id,
		    const char *command, int status, kb_error *e)
{
	/* Bytes, not necessarily UTF-8 (json_text escapes them). */
	json_t *j = json_pack("{s:o, s:o, s:o, s:o?, s:s?, s:o?, s:i, s:I}", "checkout", json_text(p->checkout),
			      "branch", json_text(p->branch), "version", json_text(d->version), "image", json_text(image),
			      "image_id", image_id, "last_command", json_text(command), "last_status", status,
			      "last_time", (json_int_t)time(NULL));
	if (!j)
		return kb_err_oom(e, "state " DF_META);
	_cleanup_free_ char *text = json_dumps(j, JSON_INDENT(2));
	json_decref(j);
	if (!text)
		return kb_err_oom(e, "state " DF_META);
	/* Information only: never half a file, but without the fsync
	 * write_file_atomic pays on every run. */
	struct iovec iov = { text, strlen(text) };
	int r = write_file_replace(d->dirfd, DF_META, &iov, 1);
	return r < 0 ? kb_err(e, -r, "state %s/" DF_META, d->dir) : 0;
}

json_t *data_read_meta(const kb_data *d)
{
	_cleanup_free_ char *text = NULL;
	if (d->dirfd < 0 || read_file_at(d->dirfd, DF_META, 1 << 20, &text, NULL) < 0)
		return NULL;
	return json_loads(text, 0, NULL);
}

char *data_read_idmap(const kb_data *d)
{
	char *text = NULL;
	if (d->dirfd < 0 || read_file_at(d->dirfd, DF_IDMAP, 256, &text, NULL) < 0)
		return NULL;
	return text;
}

/* ---- a data sandbox made elsewhere (cache import) ---- */

#define INCOMING ".cache-new"

int data_open_incoming(const kb_data *d, kb_data **ret, kb_error *e)
{
	static const char *const dirs[] = { DF_UPPER, DF_WORK, DF_ROOT, DF_SNAPSHOT };
	static const mode_t modes[] = { 0755, 0700, 0700, 0755 };
	_cleanup_(data_freep) kb_data *n = calloc(1, sizeof *n);
	_cleanup_free_ char *pdir = xasprintf("%s/projects", d->state_dir);
	_cleanup_free_ char *name = xasprintf("%s-%s" INCOMING, d->key, d->version);
	_cleanup_close_ int pfd = open(pdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r;

	if (!n)
		return kb_err_oom(e, "state");
	if (pfd < 0)
		return kb_err(e, errno, "%s", pdir);
	/* One left by an import that was killed: gone, unless it is being
	 * made right now (then EBUSY naming its holder). */
	if ((r = remove_state(pfd, pdir, name, e)) < 0)
		return r;
	*n = (kb_data){ .dirfd = -1, .lock_fd = -1, .state_dir = xstrdup(d->state_dir), .version = xstrdup(d->version),
			.dir = xasprintf("%s/%s", pdir, name) };
	memcpy(n->key, d->key, sizeof n->key);
	n->upper = xasprintf("%s/" DF_UPPER, n->dir);
	n->work = xasprintf("%s/" DF_WORK, n->dir);
	n->root = xasprintf("%s/" DF_ROOT, n->dir);
	n->snapshot = xasprintf("%s/" DF_SNAPSHOT, n->dir);
	if (mkdirat(pfd, name, 0700) < 0 || (n->dirfd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return kb_err(e, errno, "%s", n->dir);
	/* Held while it is made: a make that starts meanwhile leaves it be. */
	if ((r = lock_once(n, false, NULL, e)) < 0)
		return r;
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
		if (mkdirat(n->dirfd, dirs[i], modes[i]) < 0)
			return kb_err(e, errno, "%s/%s", n->dir, dirs[i]);
	_cleanup_free_ char *idmap = data_read_idmap(d);
	if (idmap && (r = write_file_atomic(n->dirfd, DF_IDMAP, idmap, strlen(idmap))) < 0)
		return kb_err(e, -r, "%s/" DF_IDMAP, n->dir);
	*ret = steal_ptr(n);
	return 0;
}

/* Remove a whole state directory by its path (an incoming one that will
 * not be used, or the old one after an exchange). */
static void discard(const kb_data *d, const char *dir)
{
	_cleanup_free_ char *pdir = xasprintf("%s/projects", d->state_dir);
	_cleanup_close_ int pfd = open(pdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	kb_error ignored = { 0 };
	if (pfd >= 0)
		(void)data_rm_tree(pfd, strrchr(dir, '/') + 1, &ignored);
}

void data_discard(kb_data *incoming)
{
	discard(incoming, incoming->dir);
}

int data_exchange(kb_data *d, kb_data *incoming, kb_error *e)
{
	/* One rename: whoever looks finds the old data sandbox or the new
	 * one, whole, never a mix (RENAME_EXCHANGE, Linux 3.15). */
	if (renameat2(AT_FDCWD, incoming->dir, AT_FDCWD, d->dir, RENAME_EXCHANGE) < 0) {
		if (errno != ENOENT || renameat2(AT_FDCWD, incoming->dir, AT_FDCWD, d->dir, RENAME_NOREPLACE) < 0)
			return kb_err(e, errno, "state %s: put the imported data sandbox in place", d->dir);
		return 0;
	}
	/* The old one is now under the incoming name: remove it (its files
	 * may belong to subordinate ids).  A failure here costs disk space,
	 * not consistency: the next make removes it as another version. */
	discard(d, incoming->dir);
	return 0;
}

/* ---- ids ---- */

/* The caller's range and the helpers, whatever KBUILD_NS_IDMAP says. */
static bool subid_range(rt_idrange *r)
{
	unsigned long max_end = 0;
	struct passwd *pw = getpwuid(getuid());
	const char *name = pw ? pw->pw_name : NULL;
	if (!rt_subid_range("/etc/subuid", name, getuid(), &r->uid_start, &r->uid_count, &max_end) ||
	    !rt_subid_range("/etc/subgid", name, getuid(), &r->gid_start, &r->gid_count, &max_end) ||
	    !rt_idmap_helper("newuidmap", r->uidmap, sizeof r->uidmap) ||
	    !rt_idmap_helper("newgidmap", r->gidmap, sizeof r->gidmap))
		return false;
	/* 65536 ids are what images use (nobody is 65534). */
	if (r->uid_count > 65536)
		r->uid_count = 65536;
	if (r->gid_count > 65536)
		r->gid_count = 65536;
	return true;
}

bool data_find_range(rt_idrange *r)
{
	const char *force = getenv("KBUILD_NS_IDMAP");
	if (force && !strcmp(force, "single"))
		return false;
	/* With a subordinate range in /etc/subuid and /etc/subgid and the
	 * newuidmap/newgidmap helpers, root inside is the caller and ids
	 * 1..N are the range, so an image's other users stay distinct; else
	 * one id, the caller as root. */
	return subid_range(r);
}

typedef struct rm_arg {
	int dirfd;
	const char *name;
} rm_arg;

static int rm_mapped(void *arg, kb_error *e)
{
	const rm_arg *a = arg;
	int r = rm_rf_at(a->dirfd, a->name);
	return r < 0 ? kb_err(e, -r, "remove %s with the subordinate ids mapped", a->name) : 0;
}

int data_rm_tree(int dirfd, const char *name, kb_error *e)
{
	int r = rm_rf_at(dirfd, name);
	if (r != -EACCES && r != -EPERM)
		return r < 0 ? kb_err(e, -r, "remove %s", name) : 0;
	/* Files of subordinate ids, left by a build with an id range:
	 * removable only inside a user namespace that maps them. */
	rt_idrange range;
	rm_arg a = { dirfd, name };
	/* Not data_find_range: KBUILD_NS_IDMAP=single chooses how the next
	 * build maps ids, and the files a range-mapped build left are ours
	 * to remove all the same (a switch to single resets the layer). */
	if (!subid_range(&range))
		return kb_err(e, -r, "remove %s (files of other ids, and no subordinate id range to map them: "
			      "remove as root)", name);
	return rt_call_mapped(&range, dirfd, rm_mapped, &a, e);
}

/* ---- the init ---- */

/* Write path inside the sandbox's root, replacing what is there (a
 * symlink too: /etc/localtime is one in Debian images). */
static int put_file(const char *path, const void *data, size_t n, mode_t mode, kb_error *e)
{
	(void)unlink(path);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0 || write_all(fd, data, n) < 0 || fchmod(fd, mode) < 0)
		return kb_err(e, errno, "init of the data layer: %s", path);
	return 0;
}

/* mkdir -p, then the exact mode (the umask would trim 01777). */
static int make_dir(const char *path, mode_t mode, kb_error *e)
{
	int r = mkdir_p_at(AT_FDCWD, path, 0755);
	if (r == 0 && chmod(path, mode) < 0)
		r = -errno;
	return r < 0 ? kb_err(e, -r, "init of the data layer: %s", path) : 0;
}

int data_init_run(void *arg, kb_error *e)
{
	const data_init *d = arg;
	static const char gitconfig[] = "[user]\n\temail = nobody@k8s.io\n\tname = kube-build-image\n";
	int r;

	if ((r = make_dir(d->workdir, 0755, e)) < 0 || !d->kube)
		return r;
	/* build/build-image/Dockerfile, in its order: the marker scripts test
	 * for, a world-writable /var/run/kubernetes for integration tests,
	 * the system git identity, the host's timezone; kube-cross's sticky
	 * TMPDIR.  /usr/local/go/pkg and $GOPATH are not made world-writable:
	 * the build is root here (or the caller's own id with --user host,
	 * which owns every file of the layers), and a recursive chmod would
	 * copy the whole toolchain up into the data layer. */
	if ((r = put_file("/kube-build-image", "", 0, 0644, e)) < 0 ||
	    (r = make_dir("/var/run/kubernetes", 0777, e)) < 0 || (r = make_dir("/tmp.k8s", 01777, e)) < 0 ||
	    (r = make_dir("/etc", 0755, e)) < 0 ||
	    (r = put_file("/etc/gitconfig", gitconfig, sizeof gitconfig - 1, 0644, e)) < 0)
		return r;
	if (d->localtime && (r = put_file("/etc/localtime", d->localtime, d->localtime_len, 0644, e)) < 0)
		return r;
	return 0;
}
