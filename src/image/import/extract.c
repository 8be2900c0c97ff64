/* Unpacking one layer into overlay form (extract.h), as if the archive
 * were hostile. */
#include "image/import/extract.h"
#include "image/import/tarindex.h"
#include "image/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <linux/openat2.h>
#include <archive.h>
#include <archive_entry.h>

#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"
#define XATTR_OPAQUE "user.overlay.opaque"
#define XATTR_OVERRIDE "user.containers.override_stat"

typedef struct xctx {
	int root;
	const extract_opts *o;
	const char *what;
	zstream *z;
	kb_error *e;
	extract_stats *st;
	void (*progress)(void *, uint64_t);
	void *progress_ctx;
	uint64_t last_report;

	/* The parent directory of the previous member: most archives list a
	 * directory's entries together, so this saves one openat2 per file.
	 * Dropped whenever anything is removed, since a removal is the only
	 * way an already-resolved path can come to mean something else. */
	char *cache_path;
	int cache_fd;

	bool padded;             /* zeros after the end were handed to libarchive */
	char **opaque;           /* sorted paths of opaque directories in this layer */
	size_t n_opaque, cap_opaque;
} xctx;

char *extract_clean_path(const char *p, kb_error *e)
{
	if (strlen(p) >= PATH_MAX) {
		kb_errx(e, ENAMETOOLONG, "member %.60s…: path too long", p);
		return NULL;
	}
	char *out = tar_path_clean(p, true);
	if (!out && errno == EPERM)
		kb_errx(e, EPERM, "member %.200s: path has a \"..\" component", p);
	else if (!out)
		kb_err_oom(e, "member path");
	return out;
}

static int openat2_in_root(int root, const char *path, int flags)
{
	/* RESOLVE_IN_ROOT treats root as "/" for the whole walk: absolute
	 * symlinks restart at root and ".." cannot climb above it — the
	 * kernel does what chroot would, race-free.  Magic links
	 * (/proc/self/fd/...) are refused outright. */
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int fd;
	do
		fd = (int)syscall(SYS_openat2, root, path[0] ? path : ".", &how, sizeof how);
	while (fd < 0 && errno == EAGAIN);
	return fd;
}

static void cache_drop(xctx *x)
{
	if (x->cache_fd >= 0)
		close(x->cache_fd);
	x->cache_fd = -1;
	free(x->cache_path);
	x->cache_path = NULL;
}

/* Remove whatever is at parent/name (never following it).  parent is
 * usually the cached fd, so the cache is dropped only afterwards. */
static int remove_entry(xctx *x, int parent, const char *name)
{
	int r = rm_rf_at(parent, name);
	cache_drop(x);
	return r;
}

/* Open directory `dir` (relative to root), creating missing components
 * as 0755 directories.  The fd is borrowed from the cache. */
static int open_dir(xctx *x, const char *dir, const char *member, int *ret)
{
	if (x->cache_path && !strcmp(x->cache_path, dir)) {
		*ret = x->cache_fd;
		return 0;
	}
	cache_drop(x);
	int fd = openat2_in_root(x->root, dir, O_PATH | O_DIRECTORY);
	if (fd < 0 && errno == ENOENT) {
		/* Walk prefix by prefix, each resolved from the root again, and
		 * make what is missing with mkdirat on the resolved parent (a
		 * single name: nothing there is followed). */
		_cleanup_free_ char *buf = strdup(dir);
		_cleanup_close_ int cur = openat2_in_root(x->root, "", O_PATH | O_DIRECTORY);
		if (!buf || cur < 0)
			return kb_err(x->e, errno ? errno : ENOMEM, "%s: member %s", x->what, member);
		for (char *s = buf;;) {
			char *slash = strchr(s, '/');
			if (slash)
				*slash = 0;
			const char *comp = strrchr(buf, '/') ? strrchr(buf, '/') + 1 : buf;
			int next = openat2_in_root(x->root, buf, O_PATH | O_DIRECTORY);
			if (next < 0 && errno == ENOENT) {
				if (mkdirat(cur, comp, 0755) < 0) {
					if (errno == EEXIST)
						return kb_errx(x->e, ENOENT, "%s: member %s: parent %s is a dangling symbolic link",
							       x->what, member, buf);
					return kb_err(x->e, errno, "%s: member %s: mkdir %s", x->what, member, buf);
				}
				next = openat2_in_root(x->root, buf, O_PATH | O_DIRECTORY);
			}
			if (next < 0)
				return kb_err(x->e, errno, "%s: member %s: parent %s", x->what, member, buf);
			close(cur);
			cur = next;
			if (!slash)
				break;
			*slash = '/';
			s = slash + 1;
		}
		fd = steal_fd(cur);
	}
	if (fd < 0)
		return kb_err(x->e, errno, "%s: member %s: parent directory", x->what, member);
	x->cache_fd = fd;
	x->cache_path = strdup(dir);
	if (!x->cache_path) {
		cache_drop(x);
		return kb_err_oom(x->e, x->what);
	}
	*ret = fd;
	return 0;
}

/* A create at parent/name failed: if something is in the way, remove it
 * (never following it) and resolve the parent again, so the caller can
 * retry; any other failure is the member's error. */
static int make_room(xctx *x, const char *dir, const char *name, const char *member, int *pfd)
{
	int r;
	if (errno != EEXIST)
		return kb_err(x->e, errno, "%s: member %s", x->what, member);
	if ((r = remove_entry(x, *pfd, name)) < 0)
		return kb_err(x->e, -r, "%s: member %s: remove", x->what, member);
	return open_dir(x, dir, member, pfd);
}

static void split(char *path, const char **dir, const char **base)
{
	char *slash = strrchr(path, '/');
	if (slash) {
		*slash = 0;
		*dir = path;
		*base = slash + 1;
	} else {
		*dir = "";
		*base = path;
	}
}

static int opaque_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_opaque(xctx *x, const char *dir)
{
	return x->n_opaque && bsearch(&dir, x->opaque, x->n_opaque, sizeof *x->opaque, opaque_cmp);
}

static int add_opaque(xctx *x, const char *dir)
{
	if (is_opaque(x, dir))
		return 0;
	if (x->n_opaque == x->cap_opaque) {
		size_t c = x->cap_opaque ? 2 * x->cap_opaque : 16;
		char **n = realloc(x->opaque, c * sizeof *n);
		if (!n)
			return -ENOMEM;
		x->opaque = n;
		x->cap_opaque = c;
	}
	char *d = strdup(dir);
	if (!d)
		return -ENOMEM;
	size_t i = 0;
	while (i < x->n_opaque && strcmp(x->opaque[i], d) < 0)
		i++;
	memmove(x->opaque + i + 1, x->opaque + i, (x->n_opaque - i) * sizeof *x->opaque);
	x->opaque[i] = d;
	x->n_opaque++;
	return 0;
}

/* Opaque marker: set the xattr on the directory and drop the plain
 * whiteouts already made in it (they would be redundant). */
static int do_opaque(xctx *x, const char *dir, const char *member)
{
	int pfd, r;
	if ((r = open_dir(x, dir, member, &pfd)) < 0)
		return r;
	_cleanup_close_ int fd = openat2_in_root(x->root, dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return kb_err(x->e, errno, "%s: member %s", x->what, member);
	if (x->o->oci_whiteouts) {
		int m = openat(fd, WH_OPAQUE, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (m < 0)
			return kb_err(x->e, errno, "%s: member %s", x->what, member);
		close(m);
	} else if (fsetxattr(fd, XATTR_OPAQUE, "y", 1, 0) < 0)
		return kb_err(x->e, errno, "%s: member %s: set %s", x->what, member, XATTR_OPAQUE);
	if (add_opaque(x, dir) < 0)
		return kb_err_oom(x->e, x->what);
	x->st->opaques++;
	DIR *d = opendir_at(fd);
	struct dirent *de;
	if (!d) {
		return kb_err(x->e, errno, "%s: member %s", x->what, member);
	}
	while ((de = readdir(d))) {
		struct stat s;
		if (x->o->oci_whiteouts) {
			if (!strncmp(de->d_name, WH_PREFIX, 4) && strcmp(de->d_name, WH_OPAQUE) &&
			    unlinkat(fd, de->d_name, 0) == 0)
				x->st->whiteouts--;
			continue;
		}
		if (de->d_type != DT_CHR && de->d_type != DT_UNKNOWN)
			continue;
		if (fstatat(fd, de->d_name, &s, AT_SYMLINK_NOFOLLOW) == 0 && S_ISCHR(s.st_mode) && s.st_rdev == 0) {
			(void)unlinkat(fd, de->d_name, 0);
			x->st->whiteouts--;
		}
	}
	closedir(d);
	cache_drop(x);
	return 0;
}

/* OCI form (extract_opts.oci_whiteouts): NAME, if this layer made it,
 * goes as the 0/0 device would have replaced it, and an empty
 * ".wh.NAME" says the rest. */
static int oci_whiteout(xctx *x, const char *dir, const char *name, const char *member, int pfd)
{
	char wh[NAME_MAX + 8];
	int r, fd;
	if (strlen(name) > NAME_MAX - 4)
		return kb_errx(x->e, ENAMETOOLONG, "%s: member %s", x->what, member);
	snprintf(wh, sizeof wh, WH_PREFIX "%s", name);
	struct stat st;
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if ((r = remove_entry(x, pfd, name)) < 0)
			return kb_err(x->e, -r, "%s: member %s: remove", x->what, member);
		if ((r = open_dir(x, dir, member, &pfd)) < 0)
			return r;
	}
	if ((fd = openat(pfd, wh, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0)
		return kb_err(x->e, errno, "%s: member %s", x->what, member);
	close(fd);
	x->st->whiteouts++;
	return 0;
}

static int do_whiteout(xctx *x, const char *dir, const char *name, const char *member)
{
	int pfd, r;
	if (!name[0] || !strcmp(name, ".") || !strcmp(name, ".."))
		return kb_errx(x->e, EPERM, "%s: member %s: invalid whiteout name", x->what, member);
	if (is_opaque(x, dir))
		return 0;    /* the opaque directory hides the lower entry already */
	if ((r = open_dir(x, dir, member, &pfd)) < 0)
		return r;
	if (x->o->oci_whiteouts)
		return oci_whiteout(x, dir, name, member, pfd);
	/* A 0/0 character device is overlayfs' whiteout; since Linux 5.8 any
	 * user may create one (no CAP_MKNOD needed). */
	while (mknodat(pfd, name, S_IFCHR | 0, makedev(0, 0)) < 0) {
		if ((r = make_room(x, dir, name, member, &pfd)) < 0)
			return r;
	}
	x->st->whiteouts++;
	return 0;
}

/* Set the metadata a layer keeps beyond what the disk can hold. */
static bool needs_override(xctx *x, struct archive_entry *ent)
{
	mode_t mode = archive_entry_mode(ent) & 07777;
	bool dir = archive_entry_filetype(ent) == AE_IFDIR;
	/* Record what the disk does not show: an owner other than root, a
	 * setuid/setgid bit, or a mode relax_modes widened. */
	return archive_entry_uid(ent) != 0 || archive_entry_gid(ent) != 0 || (mode & 06000) ||
	       (x->o->relax_modes && (mode | (dir ? 0700 : 0600)) != mode);
}

static int set_meta(xctx *x, int fd, struct archive_entry *ent, const char *member)
{
	mode_t mode = archive_entry_mode(ent) & 07777;
	la_int64_t uid = archive_entry_uid(ent), gid = archive_entry_gid(ent);
	const char *name;
	const void *val;
	size_t len;

	if (needs_override(x, ent)) {
		char buf[64];
		int n = snprintf(buf, sizeof buf, "%lld:%lld:0%o", (long long)uid, (long long)gid, (unsigned)mode);
		if (fsetxattr(fd, XATTR_OVERRIDE, buf, (size_t)n, 0) < 0)
			return kb_err(x->e, errno, "%s: member %s: set %s", x->what, member, XATTR_OVERRIDE);
	}
	archive_entry_xattr_reset(ent);
	while (archive_entry_xattr_next(ent, &name, &val, &len) == ARCHIVE_OK) {
		/* Only plain user xattrs: overlay's own and our metadata xattrs
		 * coming from content would change what the mount shows, and
		 * security./trusted. ones need privileges we do not have. */
		if (strncmp(name, "user.", 5) || !strncmp(name, "user.overlay.", 13) ||
		    !strncmp(name, "user.containers.", 16) || !strcmp(name, "user.rootlesscontainers"))
			continue;
		if (fsetxattr(fd, name, val, len, 0) < 0 && errno != ENOTSUP && errno != E2BIG && errno != ERANGE)
			return kb_err(x->e, errno, "%s: member %s: set xattr %s", x->what, member, name);
	}
	return 0;
}

static void entry_times(struct archive_entry *ent, struct timespec ts[2])
{
	ts[1].tv_sec = archive_entry_mtime(ent);
	ts[1].tv_nsec = archive_entry_mtime_nsec(ent);
	ts[0] = ts[1];
}

static mode_t disk_mode(xctx *x, struct archive_entry *ent, bool dir)
{
	/* setuid/setgid never reach the disk: a setuid file owned by us
	 * would be a gift to anyone who can run it outside the sandbox. */
	mode_t m = archive_entry_mode(ent) & 01777;
	if (x->o->relax_modes)
		m |= dir ? 0700 : 0600;
	return m;
}

static void report(xctx *x)
{
	uint64_t b = zstream_in_bytes(x->z);
	if (x->progress && b - x->last_report >= (4u << 20)) {
		x->last_report = b;
		x->progress(x->progress_ctx, b);
	}
}

static int do_file(xctx *x, struct archive *a, struct archive_entry *ent, const char *dir,
		   const char *name, const char *member)
{
	int pfd, r;
	if ((r = open_dir(x, dir, member, &pfd)) < 0)
		return r;
	/* O_EXCL|O_NOFOLLOW: a new inode every time; whatever was there (a
	 * symlink, a hard link to another file) is removed, not written to.
	 * With umask 0 the mode is exact, and the fd stays writable even for
	 * a 0444 file. */
	int fd;
	while ((fd = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    disk_mode(x, ent, false))) < 0) {
		if ((r = make_room(x, dir, name, member, &pfd)) < 0)
			return r;
	}
	_cleanup_close_ int cfd = fd;
	const void *buf;
	size_t len;
	la_int64_t off;
	uint64_t end = 0;
	for (;;) {
		int ar = archive_read_data_block(a, &buf, &len, &off);
		if (ar == ARCHIVE_EOF)
			break;
		if (ar != ARCHIVE_OK) {
			if (kb_err_set(x->e))
				return -EIO;
			return kb_errx(x->e, EIO, "%s: member %s: %s", x->what, member, archive_error_string(a));
		}
		/* pwrite at the block's offset leaves holes of sparse files. */
		const char *p = buf;
		size_t left = len;
		while (left) {
			ssize_t n = pwrite(fd, p, left, off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return kb_err(x->e, errno, "%s: member %s: write", x->what, member);
			p += n;
			left -= (size_t)n;
			off += n;
		}
		if ((uint64_t)off > end)
			end = (uint64_t)off;
		report(x);
	}
	uint64_t size = (uint64_t)archive_entry_size(ent);
	if (size > end && ftruncate(fd, (off_t)size) < 0)
		return kb_err(x->e, errno, "%s: member %s: truncate", x->what, member);
	if ((r = set_meta(x, fd, ent, member)) < 0)
		return r;
	struct timespec ts[2];
	entry_times(ent, ts);
	(void)futimens(fd, ts);
	x->st->files++;
	x->st->bytes += size;
	return 0;
}

static int do_dir(xctx *x, struct archive_entry *ent, const char *dir, const char *name, const char *member)
{
	int pfd, r;
	mode_t m = disk_mode(x, ent, true);

	if (!name[0]) {    /* the layer root itself ("./") */
		if (fchmod(x->root, m) < 0)
			return kb_err(x->e, errno, "%s: member %s", x->what, member);
		return set_meta(x, x->root, ent, member);
	}
	if ((r = open_dir(x, dir, member, &pfd)) < 0)
		return r;
	while (mkdirat(pfd, name, m) < 0) {
		struct stat s;
		if (errno != EEXIST)
			return kb_err(x->e, errno, "%s: member %s", x->what, member);
		if (fstatat(pfd, name, &s, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(s.st_mode)) {
			/* Already made, implicitly or by an earlier member: keep its
			 * contents, take the new mode. */
			if ((r = chmod_nofollow_at(pfd, name, m)) < 0)    /* never through a symlink */
				return kb_err(x->e, -r, "%s: member %s", x->what, member);
			break;
		}
		if ((r = remove_entry(x, pfd, name)) < 0)
			return kb_err(x->e, -r, "%s: member %s: remove", x->what, member);
		if ((r = open_dir(x, dir, member, &pfd)) < 0)
			return r;
	}
	x->st->dirs++;
	if (!needs_override(x, ent) && archive_entry_xattr_count(ent) == 0)
		return 0;
	_cleanup_close_ int fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return kb_err(x->e, errno, "%s: member %s", x->what, member);
	return set_meta(x, fd, ent, member);
}

static int do_symlink(xctx *x, struct archive_entry *ent, const char *dir, const char *name, const char *member)
{
	const char *target = archive_entry_symlink(ent);
	int pfd, r;
	if (!target || !target[0])
		return kb_errx(x->e, EINVAL, "%s: member %s: symbolic link without a target", x->what, member);
	if ((r = open_dir(x, dir, member, &pfd)) < 0)
		return r;
	/* The target is stored verbatim: it is only ever followed inside the
	 * sandbox, or by us under RESOLVE_IN_ROOT. */
	while (symlinkat(target, pfd, name) < 0) {
		if ((r = make_room(x, dir, name, member, &pfd)) < 0)
			return r;
	}
	struct timespec ts[2];
	entry_times(ent, ts);
	(void)utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW);
	x->st->symlinks++;
	return 0;
}

static int do_hardlink(xctx *x, struct archive_entry *ent, const char *dir, const char *name, const char *member)
{
	kb_error te = { 0 };
	_cleanup_free_ char *target = extract_clean_path(archive_entry_hardlink(ent), &te);
	const char *tdir, *tbase;
	int pfd, r;

	if (!target) {
		*x->e = te;
		kb_err_prefix(x->e, "%s: member %s: hard link target", x->what, member);
		return -EPERM;
	}
	if (!target[0])
		return kb_errx(x->e, EPERM, "%s: member %s: hard link to the layer root", x->what, member);
	split(target, &tdir, &tbase);
	/* Resolved inside the root like any path: a link can only ever name
	 * a file of this layer.  linkat without AT_SYMLINK_FOLLOW links a
	 * symlink itself, never what it points to. */
	_cleanup_close_ int tfd = openat2_in_root(x->root, tdir, O_PATH | O_DIRECTORY);
	struct stat s;
	if (tfd < 0 || fstatat(tfd, tbase, &s, AT_SYMLINK_NOFOLLOW) < 0)
		return kb_errx(x->e, ENOENT, "%s: member %s: hard link target %s is not in this layer",
			       x->what, member, archive_entry_hardlink(ent));
	if (S_ISDIR(s.st_mode))
		return kb_errx(x->e, EPERM, "%s: member %s: hard link to a directory", x->what, member);
	if ((r = open_dir(x, dir, member, &pfd)) < 0)
		return r;
	while (linkat(tfd, tbase, pfd, name, 0) < 0) {
		if (errno != EEXIST)
			return kb_err(x->e, errno, "%s: member %s: link", x->what, member);
		struct stat n;
		if (fstatat(pfd, name, &n, AT_SYMLINK_NOFOLLOW) == 0 && n.st_ino == s.st_ino && n.st_dev == s.st_dev)
			break;    /* already that very file */
		if ((r = remove_entry(x, pfd, name)) < 0)
			return kb_err(x->e, -r, "%s: member %s: remove", x->what, member);
		if ((r = open_dir(x, dir, member, &pfd)) < 0)
			return r;
	}
	x->st->hardlinks++;
	return 0;
}

static int do_fifo(xctx *x, struct archive_entry *ent, const char *dir, const char *name, const char *member)
{
	int pfd, r;
	if ((r = open_dir(x, dir, member, &pfd)) < 0)
		return r;
	while (mkfifoat(pfd, name, disk_mode(x, ent, false)) < 0) {
		if ((r = make_room(x, dir, name, member, &pfd)) < 0)
			return r;
	}
	x->st->fifos++;
	return 0;
}

static int do_entry(xctx *x, struct archive *a, struct archive_entry *ent)
{
	const char *raw = archive_entry_pathname(ent);
	if (!raw)
		return kb_errx(x->e, EINVAL, "%s: member without a name", x->what);
	_cleanup_free_ char *path = extract_clean_path(raw, x->e);
	const char *dir, *base;
	if (!path) {
		kb_err_prefix(x->e, "%s", x->what);
		return -EPERM;
	}
	split(path, &dir, &base);
	x->st->entries++;

	if (!strncmp(base, WH_PREFIX, 4)) {
		if (!strcmp(base, WH_OPAQUE))
			return do_opaque(x, dir, raw);
		if (!strncmp(base, WH_PREFIX WH_PREFIX, 8))
			return 0;    /* other AUFS bookkeeping (.wh..wh.plnk): no meaning here */
		return do_whiteout(x, dir, base + 4, raw);
	}
	if (archive_entry_hardlink(ent))
		return do_hardlink(x, ent, dir, base, raw);
	switch (archive_entry_filetype(ent)) {
	case AE_IFREG:
		return do_file(x, a, ent, dir, base, raw);
	case AE_IFDIR:
		return do_dir(x, ent, dir, base, raw);
	case AE_IFLNK:
		return do_symlink(x, ent, dir, base, raw);
	case AE_IFIFO:
		return do_fifo(x, ent, dir, base, raw);
	case AE_IFSOCK:
		x->st->skipped_sockets++;
		return 0;
	case AE_IFCHR:
	case AE_IFBLK:
		/* Real devices cannot be made without privilege, and a build has
		 * no use for them: the sandbox's /dev is its own. */
		x->st->skipped_devices++;
		return 0;
	default:
		return kb_errx(x->e, EINVAL, "%s: member %s: unknown file type", x->what, raw);
	}
}

static la_ssize_t read_cb(struct archive *a, void *ctx, const void **buf)
{
	xctx *x = ctx;
	if (x->o->cancel && *x->o->cancel) {
		kb_errx(x->e, ECANCELED, "%s: cancelled", x->what);
		archive_set_error(a, ECANCELED, "cancelled");
		return -1;
	}
	ssize_t n = zstream_read(x->z, buf, x->e);
	if (n < 0) {
		archive_set_error(a, EIO, "%s", x->e->msg);
		return -1;
	}
	if (n == 0 && !x->padded) {
		/* Some writers (umoci < 0.4.8's insert, opencontainers/umoci#436)
		 * end a layer right after the last member's data, without its
		 * padding or the end-of-archive blocks.  libarchive wants both;
		 * give it zeros.  They are not part of the stream, so the
		 * digests still cover exactly the bytes stored, and a layer
		 * truncated in earnest still fails its diff_id check. */
		static const char zeros[1536];
		x->padded = true;
		*buf = zeros;
		return (la_ssize_t)sizeof zeros;
	}
	return n;
}

int extract_tar(zstream *z, int rootfd, const extract_opts *o, const char *what,
		void (*progress)(void *ctx, uint64_t bytes), void *progress_ctx,
		extract_stats *st, kb_error *e)
{
	xctx x = {
		.root = rootfd, .o = o, .what = what, .z = z, .e = e, .st = st,
		.progress = progress, .progress_ctx = progress_ctx, .cache_fd = -1,
	};
	struct archive *a = archive_read_new();
	struct archive_entry *ent;
	int r = 0;

	if (!a)
		return kb_err_oom(e, what);
	memset(st, 0, sizeof *st);
	archive_read_support_format_tar(a);
	if (archive_read_open(a, &x, NULL, read_cb, NULL) != ARCHIVE_OK) {
		r = kb_err_set(e) ? -EIO : kb_errx(e, EINVAL, "%s: %s", what, archive_error_string(a));
		goto out;
	}
	for (;;) {
		int ar = archive_read_next_header(a, &ent);
		if (ar == ARCHIVE_EOF)
			break;
		if (ar == ARCHIVE_WARN)
			ar = ARCHIVE_OK;    /* e.g. an unknown pax keyword: keep going */
		if (ar != ARCHIVE_OK) {
			r = kb_err_set(e) ? -EIO : kb_errx(e, EINVAL, "%s: not a valid tar stream (%s)", what,
							   archive_error_string(a));
			goto out;
		}
		if ((r = do_entry(&x, a, ent)) < 0)
			goto out;
		report(&x);
	}
	/* The digests must cover every byte, including padding after the
	 * tar end marker. */
	if ((r = zstream_drain(z, e)) < 0)
		goto out;
	if (o->oci_whiteouts && fsetxattr(rootfd, STORE_XATTR_LAYER_FORM, "oci", 3, 0) < 0)
		r = kb_err(e, errno, "%s: set %s", what, STORE_XATTR_LAYER_FORM);
out:
	archive_read_free(a);
	cache_drop(&x);
	for (size_t i = 0; i < x.n_opaque; i++)
		free(x.opaque[i]);
	free(x.opaque);
	return r < 0 ? r : 0;
}
