/* The tree sync behind sync-in and copy-out (see sync.h).
 *
 * A few threads share a stack of directory jobs.  A job lists its
 * directory on both sides (getdents64, sorted), settles every entry that
 * is not a directory itself, makes or checks each subdirectory and pushes
 * it as a new job.  A directory's own mode and times are set at the end of
 * its job: only that job adds or removes entries in it, so nothing later
 * changes its mtime again.  A queued job holds its directory's fds, opened
 * from the parent's by one name (at most MAX_HELD_FDS held in all); past
 * that bound, or when the parent's are gone, it reopens them from the
 * roots by path, never through a symlink (sync-file.c).  Either way a
 * symlink swapped in for a directory while we work can never take a write
 * outside the tree.  Files are written by sync-file.c too, whole.
 *
 * A directory whose listing a sync kept (sync-seen.h) and whose inode and
 * ctime are unchanged is not read again: its listing is taken from the
 * record.  Copy-out then does not even open it, unless a file in it is
 * to be read, and queues its subdirectories by path. */
#include "build/sync.h"
#include "build/sync-file.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#define MAX_DEPTH_PATH 4096
#define MAX_THREADS 15
/* Directory fds parent jobs may hold open for queued children: opening a
 * child by its one name from the parent is cheaper than resolving its
 * whole path from the top; beyond this, children resolve the path. */
#define MAX_HELD_FDS 512

typedef struct job {
	struct job *next;
	int sfd, dfd;               /* opened by the parent job, or -1 */
	bool has_meta;              /* set the directory's mode and times at the end */
	mode_t mode;
	struct timespec atime, mtime;
	char rel[];                 /* "" for the top */
} job;

typedef struct walk {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	job *stack;
	size_t pending;             /* jobs queued or running */
	bool failed;
	kb_error err;
	int srcfd, dstfd;
	const sync_opts *o;
	void (*fn)(struct walk *, job *);
	pthread_t threads[MAX_THREADS];
	int n_threads, max_threads;
	atomic_uint_fast64_t checked, copied, deleted, bytes, skipped, modes, reused;
	sfile_ctx files;            /* temporary names; O_TMPFILE or not */
	atomic_int held;            /* fds held by queued jobs */
	sync_seen *seen;            /* sync-in: where to record listings, or NULL */
	bool same_fs;               /* sync-in: the checkout is on the snapshot's file system: its listings are kept too */
	struct timespec seen_mark;  /* sync-in: record directories whose ctime is before it */
	job *later;                 /* sync-in: snapshot directories it changed, listed again after the pass */
	size_t n_later;
	seen_index *index;          /* copy-out: sync-in's listings; sync-in: the last one's; or NULL */
} walk;

/* ---- filters (filter.h) ---- */

/* A snapshot entry the checkout does not send is kept: hidden or
 * excluded on the sending side (the tree's generators decide what is
 * stale), or protected on the receiving side. */
static bool kept(const sync_rules *r, const char *path, bool is_dir)
{
	return filter_hides(&r->in, path, is_dir) || filter_protects(&r->in, path, is_dir);
}

/* ---- small helpers ---- */

static void fail(walk *w, int errnum, const char *what, const char *path)
{
	pthread_mutex_lock(&w->mu);
	if (!w->failed)
		kb_err(&w->err, errnum, "%s %s", what, path[0] ? path : ".");
	w->failed = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

/* A path past MAX_DEPTH_PATH (the kernel's PATH_MAX): a tree that deep
 * cannot be named, so it is not synced, and says so in one short line. */
static void fail_long(walk *w, const char *what, const char *rel)
{
	pthread_mutex_lock(&w->mu);
	if (!w->failed)
		kb_errx(&w->err, ENAMETOOLONG, "%s %.60s…: a tree too deep (paths longer than %d bytes)", what, rel,
			MAX_DEPTH_PATH - 1);
	w->failed = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

static void logc(walk *w, const char *kind, const char *path)
{
	if (!w->o->log)
		return;
	pthread_mutex_lock(&w->mu);
	w->o->log(kind, path);
	pthread_mutex_unlock(&w->mu);
}

static int join(char *buf, const char *rel, const char *name)
{
	int n = rel[0] ? snprintf(buf, MAX_DEPTH_PATH, "%s/%s", rel, name) : snprintf(buf, MAX_DEPTH_PATH, "%s", name);
	return n < 0 || n >= MAX_DEPTH_PATH ? -ENAMETOOLONG : 0;
}

static bool same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* ---- directory listings ---- */

typedef seen_entry entry;    /* a name and its DT_* type */

typedef struct listing {
	entry *v;
	size_t n;
	char *names;
} listing;

static void listing_free(listing *l)
{
	free(l->v);
	free(l->names);
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const entry *)a)->name, ((const entry *)b)->name);
}

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/* Every entry but . and .., sorted by name.  Names are kept in one buffer
 * that grows by doubling; entries point into it once it is complete. */
static int list_dir(int fd, listing *ret)
{
	size_t cap = 1 << 15, used = 0, n = 0;
	char *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (cap - used < 1 << 14) {
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
		long got = syscall(SYS_getdents64, fd, buf + used, cap - used);
		if (got < 0) {
			int r = -errno;
			free(buf);
			return r;
		}
		if (got == 0)
			break;
		used += (size_t)got;
	}
	for (size_t off = 0; off < used; off += ((struct linux_dirent64 *)(buf + off))->d_reclen)
		n++;
	entry *v = malloc((n ? n : 1) * sizeof *v);
	if (!v) {
		free(buf);
		return -ENOMEM;
	}
	size_t k = 0;
	for (size_t off = 0; off < used; off += ((struct linux_dirent64 *)(buf + off))->d_reclen) {
		struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
		if (d->d_name[0] == '.' && (!d->d_name[1] || (d->d_name[1] == '.' && !d->d_name[2])))
			continue;
		v[k++] = (entry){ .name = d->d_name, .type = d->d_type };
	}
	qsort(v, k, sizeof *v, cmp_entry);
	*ret = (listing){ .v = v, .n = k, .names = buf };
	return 0;
}

/* ---- the job stack ---- */

/* One name below an open directory, never following a symlink: a
 * single component, so nothing can lead outside (as RESOLVE_BENEATH). */
static int open_child(int pfd, const char *name)
{
	return openat(pfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
}

/* A job for directory rel, without fds yet; NULL without memory. */
static job *job_new(const char *rel)
{
	size_t len = strlen(rel);
	job *j = calloc(1, sizeof *j + len + 1);
	if (j) {
		j->sfd = j->dfd = -1;
		memcpy(j->rel, rel, len + 1);
	}
	return j;
}

/* Queue directory rel; with pfds (the parent's source and destination
 * fds; copy-out passes -1 for the destination, opened only when a file
 * lands) and name, its fds are opened now while the budget allows. */
static int push_at(walk *w, const char *rel, const struct stat *meta, const int *pfds, const char *name)
{
	job *j = job_new(rel);
	if (!j)
		return -ENOMEM;
	if (pfds && atomic_load(&w->held) < MAX_HELD_FDS) {
		j->sfd = open_child(pfds[0], name);
		j->dfd = j->sfd >= 0 && pfds[1] >= 0 ? open_child(pfds[1], name) : -1;
		if (j->dfd < 0 && j->sfd >= 0 && pfds[1] >= 0) {
			close(j->sfd);
			j->sfd = -1;
		}
		if (j->sfd >= 0)
			atomic_fetch_add(&w->held, 2);
	}
	if (meta) {
		j->has_meta = true;
		j->mode = meta->st_mode & 07777;
		j->atime = meta->st_atim;
		j->mtime = meta->st_mtim;
	}
	pthread_mutex_lock(&w->mu);
	j->next = w->stack;
	w->stack = j;
	w->pending++;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return 0;
}

static int push(walk *w, const char *rel, const struct stat *meta)
{
	return push_at(w, rel, meta, NULL, NULL);
}

static void free_job(walk *w, job *j)
{
	if (j->sfd >= 0) {
		close(j->sfd);
		if (j->dfd >= 0)
			close(j->dfd);
		atomic_fetch_sub(&w->held, 2);
	}
	free(j);
}

static void *worker(void *arg);

/* Take jobs until none is queued or running.  Extra threads start lazily
 * as jobs pile up, so a small tree never pays for thread creation. */
static void work(walk *w)
{
	for (;;) {
		pthread_mutex_lock(&w->mu);
		while (!w->stack && w->pending && !w->failed)
			pthread_cond_wait(&w->cv, &w->mu);
		if (!w->stack || w->failed) {
			pthread_mutex_unlock(&w->mu);
			return;
		}
		job *j = w->stack;
		w->stack = j->next;
		if (w->stack && w->stack->next && w->n_threads < w->max_threads &&
		    pthread_create(&w->threads[w->n_threads], NULL, worker, w) == 0)
			w->n_threads++;
		pthread_mutex_unlock(&w->mu);
		w->fn(w, j);
		free_job(w, j);
		pthread_mutex_lock(&w->mu);
		if (--w->pending == 0)
			pthread_cond_broadcast(&w->cv);
		pthread_mutex_unlock(&w->mu);
	}
}

static void *worker(void *arg)
{
	work(arg);
	return NULL;
}

/* Work the queued jobs (pending of them) to the end, on up to
 * max_threads more threads, and join those. */
static void drain(walk *w)
{
	w->n_threads = 0;
	work(w);
	/* n_threads only grows under the lock while work() runs; every
	 * thread has returned from work() once it is joined. */
	pthread_mutex_lock(&w->mu);
	int started = w->n_threads;
	pthread_mutex_unlock(&w->mu);
	for (int i = 0; i < started; i++)
		pthread_join(w->threads[i], NULL);
}

static void free_jobs(walk *w, job **list)
{
	while (*list) {
		job *j = *list;
		*list = j->next;
		free_job(w, j);
	}
}

static int run_pool(walk *w, sync_stats *st, kb_error *e)
{
	int n = w->o->threads > 0 ? w->o->threads : cpu_count() < 2 ? 2 : cpu_count();
	w->max_threads = n - 1 > MAX_THREADS ? MAX_THREADS : n - 1;
	int r = push(w, "", NULL);
	if (r < 0)
		return kb_err(e, -r, "sync");
	/* Files and directories are made with their final modes (one
	 * fchmod less each); the umask is the process's, put back below. */
	mode_t old_mask = umask(0);
	drain(w);
	umask(old_mask);
	free_jobs(w, &w->stack);    /* left over after a failure */
	*st = (sync_stats){ .checked = w->checked, .copied = w->copied, .deleted = w->deleted,
			    .bytes = w->bytes, .skipped = w->skipped, .modes = w->modes, .reused = w->reused };
	if (w->failed) {
		*e = w->err;
		return -(w->err.errnum ? w->err.errnum : EIO);
	}
	return 0;
}

/* ---- copying one entry (sync-file.c), counted ---- */

static int copy_file(walk *w, int sfd, int dfd, const char *name, mode_t mode, const struct stat *ss, bool fresh)
{
	uint64_t done = 0;
	int r = sfile_copy(&w->files, sfd, dfd, name, mode, ss, fresh, &done);
	if (r < 0)
		return r;
	atomic_fetch_add(&w->bytes, done);
	atomic_fetch_add(&w->copied, 1);
	return 0;
}

static int copy_link(walk *w, int sfd, int dfd, const char *name, bool have, const struct stat *ss,
		     const struct stat *ds)
{
	int r = sfile_link(&w->files, sfd, dfd, name, ss, have ? ds : NULL);
	if (r > 0)
		atomic_fetch_add(&w->copied, 1);
	return r;
}

/* ---- sync-in: mirror ---- */

/* A file the build rewrote and gave its size and mtime back passes the
 * quick check; its ctime, which no one can set, says it changed after the
 * last sync's mark (sync.h). */
static bool changed_since_sync(const walk *w, const struct stat *ds)
{
	const struct timespec *t = w->o->resend_since;
	return t && ts_cmp(&ds->st_ctim, t) >= 0;
}

static void mirror_entry(walk *w, int sfd, int dfd, const char *rel, const entry *se, const entry *de)
{
	const int pfds[2] = { sfd, dfd };
	char path[MAX_DEPTH_PATH];
	struct stat ss, ds;
	const char *name = se->name;
	int r;

	if (join(path, rel, name) < 0)
		return fail_long(w, "sync:", rel);
	bool have = de != NULL;
	if (fstatat(sfd, name, &ss, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return;    /* gone since the listing: the next sync sees it */
		return fail(w, errno, "sync: read", path);
	}
	if (filter_hides(&w->o->rules->in, path, S_ISDIR(ss.st_mode)))
		return;
	atomic_fetch_add(&w->checked, 1);
	if (have && S_ISDIR(ss.st_mode) && de->type == DT_DIR) {
		ds.st_mode = S_IFDIR;    /* its job checks mode and times on its own fd */
	} else if (have && fstatat(dfd, name, &ds, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT)
			return fail(w, errno, "sync: snapshot", path);
		have = false;
	}
	/* A different kind of entry is replaced whole. */
	if (have && (ss.st_mode & S_IFMT) != (ds.st_mode & S_IFMT) &&
	    !(S_ISREG(ss.st_mode) && S_ISLNK(ds.st_mode))) {    /* rename replaces a symlink itself */
		if ((r = rm_rf_at(dfd, name)) < 0)
			return fail(w, -r, "sync: remove", path);
		have = false;
	}
	if (S_ISREG(ss.st_mode)) {
		if (have && S_ISREG(ds.st_mode) && ds.st_size == ss.st_size && same_time(&ds.st_mtim, &ss.st_mtim) &&
		    !changed_since_sync(w, &ds)) {
			if ((ds.st_mode & 07777) != (ss.st_mode & 07777) &&
			    chmod_nofollow_at(dfd, name, ss.st_mode & 07777) == 0) {
				atomic_fetch_add(&w->modes, 1);
				logc(w, ".", path);
			}
			return;
		}
		if ((r = copy_file(w, sfd, dfd, name, ss.st_mode & 07777, &ss, !have)) < 0)
			return fail(w, -r, "sync: copy", path);
		logc(w, ">", path);
	} else if (S_ISLNK(ss.st_mode)) {
		if ((r = copy_link(w, sfd, dfd, name, have, &ss, &ds)) < 0)
			return fail(w, -r, "sync: symlink", path);
		if (r > 0)
			logc(w, ">", path);
	} else if (S_ISDIR(ss.st_mode)) {
		if (!have) {
			if (mkdirat(dfd, name, 0700) < 0 && errno != EEXIST)
				return fail(w, errno, "sync: mkdir", path);
			logc(w, "cd", path);
		}
		if ((r = push_at(w, path, &ss, pfds, name)) < 0)
			return fail(w, -r, "sync", path);
	} else {
		atomic_fetch_add(&w->skipped, 1);    /* sockets, fifos, devices: rsync -a as a user skips them too */
	}
}

/* The directory's mode and times, at the end of its job; true when it
 * needed neither, so that *ds is its stat after its last change. */
static bool set_dir_meta(walk *w, int dfd, const job *j, struct stat *ds)
{
	if (!j->has_meta || fstat(dfd, ds) < 0)
		return false;
	bool same = true;
	if ((ds->st_mode & 07777) != j->mode) {
		same = false;
		if (fchmod(dfd, j->mode) < 0) {
			fail(w, errno, "sync: chmod", j->rel);
			return false;
		}
	}
	struct timespec ts[2] = { j->atime, j->mtime };
	if (!same_time(&ds->st_mtim, &j->mtime)) {
		same = false;
		if (futimens(dfd, ts) < 0)
			fail(w, errno, "sync: set times of", j->rel);
	}
	return same;
}

/* For copy-out and the next sync-in (sync-seen.h): a directory's
 * listing L, read after the mark, may be kept with st, its stat taken
 * after L's last change (the snapshot's: at the job's end; the
 * checkout's, which sync-in does not change: before L was read).  A
 * ctime before the mark says nothing changed it since the pass began, so
 * L is still exact. */
static bool recordable(const walk *w, const struct stat *st, const listing *L)
{
	if (ts_cmp(&st->st_ctim, &w->seen_mark) >= 0)
		return false;
	for (size_t i = 0; i < L->n; i++)
		if (L->v[i].type == DT_UNKNOWN)
			return false;    /* the file system does not say: listed each time */
	return true;
}

static bool same_listing(const listing *a, const listing *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].type != b->v[i].type || (a->v[i].name != b->v[i].name && strcmp(a->v[i].name, b->v[i].name)))
			return false;
	return true;
}

/* Both sides of a job: the snapshot's listing D with ds, its stat after
 * the job's last change; the checkout's S with sst, taken before S was
 * read (sync-in does not change it), when s_stat.  Where both are kept
 * and alike (most directories), D is not written twice.  True when the
 * snapshot's directory changed during the pass (this job made, removed
 * or renamed an entry in it, or set its mode or times): it is listed
 * again once the pass is over (relist_later). */
static bool record_listings(walk *w, const job *j, const listing *S, const struct stat *sst, bool s_stat,
			    const listing *D, const struct stat *ds, bool d_stat)
{
	bool s_kept = s_stat && recordable(w, sst, S) &&
		      seen_add(w->seen, SEEN_CHECKOUT, j->rel, sst, S->v, S->n, false);
	if (!d_stat || ts_cmp(&ds->st_ctim, &w->seen_mark) >= 0)
		return j->rel[0] != '\0';    /* the top: its ctime is the mark's own */
	if (recordable(w, ds, D))
		(void)seen_add(w->seen, SEEN_SNAPSHOT, j->rel, ds, D->v, D->n, s_kept && same_listing(S, D));
	return false;
}

/* Queue rel to be listed again after the pass (relist_later). */
static void defer(walk *w, const char *rel)
{
	job *j = job_new(rel);
	if (!j)
		return;    /* not recorded: listed again by the next sync */
	pthread_mutex_lock(&w->mu);
	j->next = w->later;
	w->later = j;
	w->n_later++;
	pthread_mutex_unlock(&w->mu);
}

/* The directory's listing as a sync left it, if st says it is still the
 * one recorded (sync-seen.h): the last command's sync-in's for sync-in,
 * this command's for copy-out. */
static bool reuse_from(walk *w, seen_side side, const char *rel, const struct stat *st, listing *ret)
{
	if (!w->index || !seen_lookup(w->index, side, rel, st, &ret->v, &ret->n))
		return false;
	ret->names = NULL;
	atomic_fetch_add(&w->reused, 1);
	return true;
}

/* The same for a snapshot directory, statted here: by fd, or with -1 by
 * j->rel's path, when every directory on the way is one a listing named
 * a directory. */
static bool reuse_listing(walk *w, const job *j, int fd, listing *ret)
{
	struct stat st;
	return w->index &&
	       (fd >= 0 ? fstat(fd, &st) : fstatat(w->srcfd, j->rel[0] ? j->rel : ".", &st, AT_SYMLINK_NOFOLLOW)) == 0 &&
	       reuse_from(w, SEEN_SNAPSHOT, j->rel, &st, ret);
}

static void mirror_job(walk *w, job *j)
{
	_cleanup_close_ int own_s = -1, own_d = -1;
	int sfd = j->sfd, dfd = j->dfd;
	listing S = { 0 }, D = { 0 };
	int r;

	if (sfd < 0 && (sfd = own_s = sfile_open_dir(w->srcfd, j->rel)) < 0)
		return sfd == -ENOENT ? (void)0 : fail(w, -sfd, "sync: open", j->rel);
	if (dfd < 0 && (dfd = own_d = sfile_open_dir(w->dstfd, j->rel)) < 0)
		return fail(w, -dfd, "sync: open snapshot", j->rel);
	/* The checkout's directory is statted before it is read, when its
	 * listing may be kept or taken (same_fs). */
	struct stat sst;
	bool s_stat = w->same_fs && (w->index || w->seen) && fstat(sfd, &sst) == 0;
	if ((!(s_stat && reuse_from(w, SEEN_CHECKOUT, j->rel, &sst, &S)) && (r = list_dir(sfd, &S)) < 0) ||
	    (!reuse_listing(w, j, dfd, &D) && (r = list_dir(dfd, &D)) < 0)) {
		listing_free(&S);
		return fail(w, -r, "sync: list", j->rel);
	}
	size_t a = 0, b = 0;
	while ((a < S.n || b < D.n) && !w->failed) {
		if (a < S.n && sfile_is_tmp(S.v[a].name)) {
			a++;    /* left in the checkout by a killed copy-out: not a source */
			continue;
		}
		int c = a >= S.n ? 1 : b >= D.n ? -1 : strcmp(S.v[a].name, D.v[b].name);
		if (c > 0) {
			/* Only in the snapshot: deleted, unless a filter keeps it. */
			char path[MAX_DEPTH_PATH];
			const entry *de = &D.v[b++];
			if (join(path, j->rel, de->name) < 0) {
				fail_long(w, "sync:", j->rel);
				break;
			}
			if (kept(w->o->rules, path, de->type == DT_DIR))
				continue;
			if (de->type == DT_UNKNOWN) {
				struct stat st;
				if (fstatat(dfd, de->name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) &&
				    kept(w->o->rules, path, true))
					continue;
			}
			if ((r = rm_rf_at(dfd, de->name)) < 0) {
				fail(w, -r, "sync: delete", path);
				break;
			}
			atomic_fetch_add(&w->deleted, 1);
			logc(w, "*deleting", path);
		} else {
			mirror_entry(w, sfd, dfd, j->rel, &S.v[a], c == 0 ? &D.v[b] : NULL);
			a++;
			if (c == 0)
				b++;
		}
	}
	struct stat ds;
	bool d_stat = set_dir_meta(w, dfd, j, &ds);
	if (w->seen && !w->failed && record_listings(w, j, &S, &sst, s_stat, &D, &ds, d_stat))
		defer(w, j->rel);
	listing_free(&S);
	listing_free(&D);
}

/* The mark for the listings sync-in records: a fresh ctime from the
 * snapshot's own file system (a chmod of its top to the mode it has),
 * so that clock and granularity are those of the ctimes compared; the
 * checkout's directories too when they are on that file system
 * (same_fs).  past: later than every ctime given before (ctime_past).
 * The top is opened first: the sync sandbox hands an O_PATH fd
 * (open_tree), on which fchmod fails with EBADF. */
static int touch_mode(int fd, void *mode)
{
	return fchmod(fd, *(mode_t *)mode);
}

static bool take_mark(walk *w, bool past)
{
	struct stat st;
	_cleanup_close_ int fd = sfile_open_dir(w->dstfd, "");
	if (fd < 0 || fstat(fd, &st) < 0)
		return false;
	mode_t mode = st.st_mode & 07777;
	if (past)
		return ctime_past(fd, touch_mode, &mode, &w->seen_mark) == 0;
	if (touch_mode(fd, &mode) < 0 || fstat(fd, &st) < 0)
		return false;
	w->seen_mark = st.st_ctim;
	return true;
}

/* A snapshot directory the pass changed, listed again now that no job
 * writes the snapshot any more; kept when its ctime is before the new
 * mark, under the same rule as the others (recordable).  A failure here
 * only means it is not kept. */
static void relist_job(walk *w, job *j)
{
	_cleanup_close_ int fd = sfile_open_dir(w->dstfd, j->rel);
	listing D = { 0 };
	struct stat st;
	if (fd >= 0 && fstat(fd, &st) == 0 && list_dir(fd, &D) == 0 && recordable(w, &st, &D))
		(void)seen_add(w->seen, SEEN_SNAPSHOT, j->rel, &st, D.v, D.n, false);
	listing_free(&D);
}

/* After a pass that made, removed or renamed entries (an initial sync
 * makes every directory), list the directories it changed once more, so
 * that the next command finds them all kept and not only those this pass
 * left alone.  The new mark is taken after the pass's last change and
 * before these listings, later than the ctime of every change before it
 * (ctime_past: at once with fine-grained timestamps, else within a tick
 * of the coarse clock).  Then a change after one of these listings gets
 * a ctime at or after the mark, never the one recorded. */
static void relist_later(walk *w)
{
	if (!w->later || !take_mark(w, true))
		return;    /* no mark (a clock that does not move): nothing more kept */
	w->stack = w->later;
	w->later = NULL;
	w->pending = w->n_later;
	w->fn = relist_job;
	drain(w);
}

/* Are the checkout's directories on the snapshot's file system, where
 * the mark's clock is theirs?  (A record made elsewhere never matches:
 * its device is another.) */
static bool same_fs(int srcfd, int dstfd)
{
	struct stat s, d;
	return fstat(srcfd, &s) == 0 && fstat(dstfd, &d) == 0 && s.st_dev == d.st_dev;
}

int sync_mirror(int srcfd, int dstfd, const sync_opts *o, sync_stats *st, kb_error *e)
{
	walk w = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER,
		   .srcfd = srcfd, .dstfd = dstfd, .o = o, .fn = mirror_job, .files.open_up = true, .seen = o->seen };
	w.index = seen_index_prev(w.seen);
	w.same_fs = w.seen && same_fs(srcfd, dstfd);
	if (w.seen) {
		seen_reset(w.seen);
		if (!take_mark(&w, false))
			w.seen = NULL;    /* nothing recorded: copy-out lists every directory */
	}
	int r = run_pool(&w, st, e);
	if (r == 0 && w.seen) {
		relist_later(&w);
		seen_done(w.seen);
	}
	free_jobs(&w, &w.later);    /* after a failed pass */
	seen_index_free(w.index);
	return r;
}

/* ---- copy-out ---- */

/* The listings copy-out may take: this command's sync-in's, or, with
 * none (kbuild-ns copy-output alone), the last one's, kept in the state
 * (a record holds for as long as its directory's ctime is the one
 * recorded, however old). */
static seen_index *out_index(const sync_seen *s)
{
	seen_index *ix = seen_index_new(s);
	return ix ? ix : seen_index_prev(s);
}

/* A write into the checkout that failed: the host path and the cause
 * (what: "cannot write in " for a directory, "" for a file). */
static void fail_dst(walk *w, int errnum, const char *what, const char *rel)
{
	const char *top = w->o->dst_path ? w->o->dst_path : ".";
	pthread_mutex_lock(&w->mu);
	if (!w->failed)
		kb_err(&w->err, errnum, "%s%s%s%s", what, top, rel[0] ? "/" : "", rel);
	w->failed = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

/* Copy-out writes into the checkout as its owner would.  The sync
 * sandbox's root is the caller with the capabilities of its own user
 * namespace, and the kernel lets those write into the caller's own
 * directories whatever their mode (CAP_DAC_OVERRIDE over a mapped
 * owner): a directory whose owner bits say no is refused here.  Other
 * owners and read-only mounts the kernel refuses by itself. */
static int may_write_dir(int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_uid == geteuid() && (st.st_mode & (S_IWUSR | S_IXUSR)) != (S_IWUSR | S_IXUSR))
		return -EACCES;
	return 0;
}

/* The checkout directory for rel, made (0755, whatever the umask) only
 * now that a file is to land in it: copy-out makes no empty directory.
 * A symlink or a file on the way is not followed: -ELOOP or -ENOTDIR,
 * the deliberate skip.  Any other error is a failure, already reported. */
static int out_dir(walk *w, const char *rel)
{
	int fd = sfile_open_dir(w->dstfd, rel);
	if (fd == -ENOTDIR || fd == -ELOOP)
		return fd;
	if (fd != -ENOENT) {
		if (fd < 0)
			fail_dst(w, -fd, "", rel);
		return fd;
	}
	char parent[MAX_DEPTH_PATH];
	snprintf(parent, sizeof parent, "%s", rel);
	char *slash = strrchr(parent, '/');
	const char *name = slash ? slash + 1 : rel;
	if (slash)
		*slash = 0;
	else
		parent[0] = 0;
	_cleanup_close_ int pfd = slash ? out_dir(w, parent) : sfile_open_dir(w->dstfd, "");
	if (pfd < 0) {
		if (!slash)
			fail_dst(w, -pfd, "", "");
		return pfd;
	}
	int r = may_write_dir(pfd);
	if (r == 0 && mkdirat(pfd, name, 0755) < 0 && errno != EEXIST)    /* exact: the pool's umask is 0 */
		r = -errno;
	if (r < 0) {
		fail_dst(w, -r, "cannot write in ", parent);
		return r;
	}
	fd = sfile_open_dir(w->dstfd, rel);
	if (fd < 0 && fd != -ENOTDIR && fd != -ELOOP)
		fail_dst(w, -fd, "", rel);
	return fd;
}

/* The checkout's directory for job j, opened once, when the first file
 * is to land in it; -1 after a skip or a failure. */
static int out_job_dir(walk *w, const job *j, const char *path)
{
	int fd = out_dir(w, j->rel);
	if (fd == -ENOTDIR || fd == -ELOOP) {
		/* A file or a symlink on the host where the build has a
		 * directory: leave the host alone, say so. */
		atomic_fetch_add(&w->skipped, 1);
		logc(w, "!skipped (not a directory on the host)", path);
	}
	return fd < 0 ? -1 : fd;
}

/* Before the first write into job j's directory: may_write_dir, once. */
static bool out_writable(walk *w, const job *j, int dfd, int *state)
{
	if (*state == 0)
		*state = may_write_dir(dfd) < 0 ? -1 : 1;
	if (*state < 0)
		fail_dst(w, EACCES, "cannot write in ", j->rel);
	return *state > 0;
}

static void out_job(walk *w, job *j)
{
	_cleanup_close_ int own_s = -1;
	int sfd = j->sfd;
	_cleanup_close_ int dfd = -1;
	const sync_rules *ru = w->o->rules;
	listing S = { 0 };
	char path[MAX_DEPTH_PATH];
	int r, writable = 0;

	/* Reused, the directory is opened only if a file is to be read. */
	if (!reuse_listing(w, j, j->sfd, &S)) {
		if (sfd < 0 && (sfd = own_s = sfile_open_dir(w->srcfd, j->rel)) < 0)
			return sfd == -ENOENT ? (void)0 : fail(w, -sfd, "copy-out: open", j->rel);
		if ((r = list_dir(sfd, &S)) < 0)
			return fail(w, -r, "copy-out: list", j->rel);
	}
	for (size_t i = 0; i < S.n && !w->failed; i++) {
		const entry *se = &S.v[i];
		struct stat ss, ds;
		if (sfile_is_tmp(se->name))
			continue;    /* left by a killed sync-in; the next one removes it */
		if (join(path, j->rel, se->name) < 0) {
			fail_long(w, "copy-out:", j->rel);
			break;
		}
		if (se->type == DT_DIR) {
			/* With sync-in's listings most directories are not
			 * opened at all: one stat of the path decides. */
			const int pfds[2] = { sfd, -1 };
			if (!filter_hides(&ru->out, path, true) &&
			    (r = push_at(w, path, NULL, sfd >= 0 && !w->index ? pfds : NULL, se->name)) < 0)
				fail(w, -r, "copy-out", path);
			continue;
		}
		if (se->type != DT_REG && se->type != DT_LNK && se->type != DT_UNKNOWN)
			continue;
		if (filter_hides(&ru->out, path, false))
			continue;
		/* A reused directory is not opened to compare: its path leads
		 * through directories a listing named (reuse_listing). */
		if ((sfd >= 0 ? fstatat(sfd, se->name, &ss, AT_SYMLINK_NOFOLLOW)
			      : fstatat(w->srcfd, path, &ss, AT_SYMLINK_NOFOLLOW)) < 0 ||
		    !(S_ISREG(ss.st_mode) || S_ISLNK(ss.st_mode)))
			continue;
		atomic_fetch_add(&w->checked, 1);
		if (dfd < 0 && (dfd = out_job_dir(w, j, path)) < 0)
			break;
		bool have = fstatat(dfd, se->name, &ds, AT_SYMLINK_NOFOLLOW) == 0;
		if (have && S_ISDIR(ds.st_mode)) {
			atomic_fetch_add(&w->skipped, 1);    /* never delete on the host */
			logc(w, "!skipped (a directory on the host)", path);
			continue;
		}
		mode_t mode = ss.st_mode & 0111 ? 0755 : 0644;    /* rsync under umask 0022 as upstream forces it */
		if (S_ISREG(ss.st_mode) && have && S_ISREG(ds.st_mode) && ds.st_size == ss.st_size &&
		    same_time(&ds.st_mtim, &ss.st_mtim)) {
			if ((ds.st_mode & 07777) != mode)
				(void)chmod_nofollow_at(dfd, se->name, mode);
			continue;
		}
		/* Something to read: the directory, opened once. */
		if (sfd < 0 && (sfd = own_s = sfile_open_dir(w->srcfd, j->rel)) < 0) {
			if (sfd != -ENOENT)
				fail(w, -sfd, "copy-out: open", j->rel);
			break;
		}
		if (S_ISLNK(ss.st_mode)) {
			bool same = have && S_ISLNK(ds.st_mode) && sfile_same_link(sfd, dfd, se->name);
			if (!same && !out_writable(w, j, dfd, &writable))
				break;
			if ((r = copy_link(w, sfd, dfd, se->name, have, &ss, &ds)) < 0)
				fail_dst(w, -r, "", path);
			else if (r > 0)
				logc(w, ">", path);
			continue;
		}
		if (!out_writable(w, j, dfd, &writable))
			break;
		if ((r = copy_file(w, sfd, dfd, se->name, mode, &ss, !have)) < 0)
			fail_dst(w, -r, "", path);
		else
			logc(w, ">", path);
	}
	listing_free(&S);
}

int sync_copy_out(int srcfd, int dstfd, const sync_opts *o, sync_stats *st, kb_error *e)
{
	walk w = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER,
		   .srcfd = srcfd, .dstfd = dstfd, .o = o, .fn = out_job, .index = out_index(o->seen) };
	int r = run_pool(&w, st, e);
	seen_index_free(w.index);
	return r;
}

void sync_rules_free(sync_rules *r)
{
	filter_list_free(&r->in);
	filter_list_free(&r->out);
}
