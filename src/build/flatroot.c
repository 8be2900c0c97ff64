/* The copied root (flatroot.h): the image's layers merged into one
 * directory as overlayfs would show them. */
#include "build/flatroot.h"
#include "base/util.h"
#include "build/data.h"
#include "image/store.h"
#include "runtime/isolate.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <search.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"
#define XATTR_OPAQUE "user.overlay.opaque"

typedef struct link_ent {
	ino_t ino;
	char *path;                  /* its copy, relative to the root */
} link_ent;

typedef struct fr {
	int root;
	bool oci;                    /* this layer's whiteouts are ".wh." files */
	void *links;                 /* tsearch tree of link_ent: this layer's hard links */
	char path[PATH_MAX];         /* the directory being merged, relative to the root */
	size_t plen;
	flatroot_stats *st;
	kb_error *e;
} fr;

flatroot_kind flatroot_classify(const char *name, mode_t mode, dev_t rdev, bool oci, const char **ret_target)
{
	const char *t = name;
	if (oci) {
		if (strncmp(name, WH_PREFIX, 4))
			return FLATROOT_ENTRY;
		if (!strcmp(name, WH_OPAQUE))
			return FLATROOT_OPAQUE;
		t = name + 4;
		if (!strncmp(t, WH_PREFIX, 4) || !*t || !strcmp(t, ".") || !strcmp(t, ".."))
			return FLATROOT_SKIP;
	} else if (!S_ISCHR(mode) || rdev != 0) {
		return FLATROOT_ENTRY;
	}
	*ret_target = t;
	return FLATROOT_WHITEOUT;
}

bool flatroot_layer_oci(int fd)
{
	char v[8];
	ssize_t n = fgetxattr(fd, STORE_XATTR_LAYER_FORM, v, sizeof v);
	return n == 3 && !memcmp(v, "oci", 3);
}

bool flatroot_layer_path_oci(const char *path)
{
	char v[8];
	ssize_t n = getxattr(path, STORE_XATTR_LAYER_FORM, v, sizeof v);
	return n == 3 && !memcmp(v, "oci", 3);
}

static bool overlay_opaque(int fd)
{
	char v[4];
	return fgetxattr(fd, XATTR_OPAQUE, v, sizeof v) == 1 && v[0] == 'y';
}

static int link_cmp(const void *a, const void *b)
{
	ino_t x = ((const link_ent *)a)->ino, y = ((const link_ent *)b)->ino;
	return x < y ? -1 : x > y;
}

static void link_free(void *p)
{
	link_ent *l = p;
	free(l->path);
	free(l);
}

/* The file's bytes: copy_file_range (a reflink where the file system
 * below has them), read and write where the kernel will not. */
static int copy_data(int in, int out, off_t size)
{
	char buf[65536];
	while (size > 0) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)(size > (1 << 30) ? (1 << 30) : size), 0);
		if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
			/* The plain loop, from where copy_file_range stopped (it
			 * moved both offsets). */
			ssize_t m;
			while ((m = read(in, buf, sizeof buf)) > 0)
				if (write_all(out, buf, (size_t)m) < 0)
					return -errno;
			return m < 0 ? -errno : 0;
		}
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		size -= n;
	}
	return 0;
}

/* Mode, the user.* xattrs overlayfs would show (not its own, nor the
 * store's layer mark), and times: what the layer's entry has. */
static int copy_meta(int sfd, int dfd, const struct stat *s)
{
	char names[4096], val[4096];
	ssize_t n = flistxattr(sfd, names, sizeof names);
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(names + i) + 1) {
		const char *nm = names + i;
		if (strncmp(nm, "user.", 5) || !strncmp(nm, "user.overlay.", 13) || !strcmp(nm, STORE_XATTR_LAYER_FORM))
			continue;
		ssize_t vl = fgetxattr(sfd, nm, val, sizeof val);
		if (vl >= 0 && fsetxattr(dfd, nm, val, (size_t)vl, 0) < 0 && errno != ENOTSUP)
			return -errno;
	}
	struct timespec t[2] = { s->st_atim, s->st_mtim };
	if (fchmod(dfd, s->st_mode & 07777) < 0 || futimens(dfd, t) < 0)
		return -errno;
	return 0;
}

static int merge_dir(fr *f, int src, int dst);

static int push(fr *f, const char *name, size_t *old)
{
	size_t l = strlen(name);
	if (f->plen + l + 2 >= sizeof f->path)
		return kb_errx(f->e, ENAMETOOLONG, "copied root: %s/%s: path too long", f->path, name);
	*old = f->plen;
	f->plen += (size_t)sprintf(f->path + f->plen, "%s%s", f->plen ? "/" : "", name);
	return 0;
}

static int copy_dir(fr *f, int src, int dst, const char *name, const struct stat *s, bool have)
{
	size_t old = 0;
	int r;
	if (!have && mkdirat(dst, name, 0700) < 0)
		return kb_err(f->e, errno, "copied root: mkdir %s/%s", f->path, name);
	_cleanup_close_ int sfd = openat(src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_close_ int dfd = openat(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0 || dfd < 0)
		return kb_err(f->e, errno, "copied root: %s/%s", f->path, name);
	if ((r = push(f, name, &old)) < 0 || (r = merge_dir(f, sfd, dfd)) < 0)
		return r;
	f->path[f->plen = old] = 0;
	if ((r = copy_meta(sfd, dfd, s)) < 0)
		return kb_err(f->e, -r, "copied root: %s/%s", f->path, name);
	f->st->dirs++;
	return 0;
}

/* A regular file: a hard link to its copy when the layer linked it to
 * one already copied (the layer's own links, kept as links). */
static int copy_file(fr *f, int src, int dst, const char *name, const struct stat *s)
{
	link_ent key = { .ino = s->st_ino }, **found = s->st_nlink > 1 ? tfind(&key, &f->links, link_cmp) : NULL;
	if (found) {
		if (linkat(f->root, (*found)->path, dst, name, 0) < 0)
			return kb_err(f->e, errno, "copied root: link %s/%s", f->path, name);
		f->st->hardlinks++;
		return 0;
	}
	_cleanup_close_ int sfd = openat(src, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_close_ int dfd = openat(dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	int r;
	if (sfd < 0 || dfd < 0)
		return kb_err(f->e, errno, "copied root: %s/%s", f->path, name);
	if ((r = copy_data(sfd, dfd, s->st_size)) < 0 || (r = copy_meta(sfd, dfd, s)) < 0)
		return kb_err(f->e, -r, "copied root: %s/%s", f->path, name);
	f->st->files++;
	f->st->bytes += (uint64_t)s->st_size;
	if (s->st_nlink > 1) {
		link_ent *l = calloc(1, sizeof *l);
		if (!l)
			return kb_err_oom(f->e, "copied root");
		l->ino = s->st_ino;
		l->path = xasprintf("%s%s%s", f->path, f->plen ? "/" : "", name);
		if (!tsearch(l, &f->links, link_cmp)) {
			link_free(l);
			return kb_err_oom(f->e, "copied root");
		}
	}
	return 0;
}

/* One entry of the layer over what the layers below gave: a directory
 * merges with a directory below; anything else replaces what was there. */
static int copy_entry(fr *f, int src, int dst, const char *name)
{
	struct stat s, old;
	int r;
	if (fstatat(src, name, &s, AT_SYMLINK_NOFOLLOW) < 0)
		return kb_err(f->e, errno, "copied root: %s/%s", f->path, name);
	bool have = fstatat(dst, name, &old, AT_SYMLINK_NOFOLLOW) == 0;
	if (have && (!S_ISDIR(s.st_mode) || !S_ISDIR(old.st_mode))) {
		if ((r = rm_rf_at(dst, name)) < 0)
			return kb_err(f->e, -r, "copied root: replace %s/%s", f->path, name);
		have = false;
	}
	struct timespec t[2] = { s.st_atim, s.st_mtim };
	char target[PATH_MAX];
	ssize_t n;
	switch (s.st_mode & S_IFMT) {
	case S_IFDIR:
		return copy_dir(f, src, dst, name, &s, have);
	case S_IFREG:
		return copy_file(f, src, dst, name, &s);
	case S_IFLNK:
		if ((n = readlinkat(src, name, target, sizeof target - 1)) < 0)
			return kb_err(f->e, errno, "copied root: %s/%s", f->path, name);
		target[n] = 0;
		if (symlinkat(target, dst, name) < 0)
			return kb_err(f->e, errno, "copied root: symlink %s/%s", f->path, name);
		f->st->symlinks++;
		break;
	case S_IFIFO:
		if (mkfifoat(dst, name, s.st_mode & 07777) < 0)
			return kb_err(f->e, errno, "copied root: fifo %s/%s", f->path, name);
		f->st->others++;
		break;
	default:
		return 0;    /* the store keeps no devices or sockets */
	}
	(void)utimensat(dst, name, t, AT_SYMLINK_NOFOLLOW);
	return 0;
}

/* Empty dst: an opaque directory hides all the layers below gave. */
static int clear_dir(fr *f, int dst)
{
	DIR *d = opendir_at(dst);
	struct dirent *de;
	int r = 0;
	if (!d)
		return kb_err(f->e, errno, "copied root: %s", f->path);
	while (r == 0 && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && (r = rm_rf_at(dst, de->d_name)) < 0)
			kb_err(f->e, -r, "copied root: %s/%s", f->path, de->d_name);
	closedir(d);
	return r;
}

/* The layer's directory src over dst: its opaque marker first, then
 * its whiteouts, then its entries (a layer may name an entry it also
 * whites out only as a replacement, which the second pass then makes). */
static int merge_dir(fr *f, int src, int dst)
{
	DIR *d = opendir_at(src);
	struct dirent *de;
	int r = 0;
	if (!d)
		return kb_err(f->e, errno, "copied root: layer directory %s", f->path);
	bool opaque = f->oci ? faccessat(src, WH_OPAQUE, F_OK, AT_SYMLINK_NOFOLLOW) == 0 : overlay_opaque(src);
	if (opaque) {
		f->st->opaques++;
		r = clear_dir(f, dst);
	}
	for (int pass = 0; r == 0 && pass < 2; pass++) {
		rewinddir(d);
		while (r == 0 && (de = readdir(d))) {
			const char *nm = de->d_name, *target = NULL;
			struct stat s = { 0 };
			if (!strcmp(nm, ".") || !strcmp(nm, ".."))
				continue;
			if (!f->oci && (de->d_type == DT_CHR || de->d_type == DT_UNKNOWN) &&
			    fstatat(src, nm, &s, AT_SYMLINK_NOFOLLOW) < 0)
				r = kb_err(f->e, errno, "copied root: %s/%s", f->path, nm);
			flatroot_kind k = flatroot_classify(nm, s.st_mode, s.st_rdev, f->oci, &target);
			if (r < 0 || (pass == 0) != (k == FLATROOT_WHITEOUT) || (pass == 1 && k != FLATROOT_ENTRY))
				continue;
			if (pass == 0) {
				f->st->whiteouts++;
				if ((r = rm_rf_at(dst, target)) < 0)
					kb_err(f->e, -r, "copied root: whiteout %s/%s", f->path, target);
			} else {
				r = copy_entry(f, src, dst, nm);
			}
		}
	}
	closedir(d);
	return r;
}

int flatroot_merge(int dstfd, const int *layers, size_t n, flatroot_stats *st, kb_error *e)
{
	fr f = { .root = dstfd, .st = st, .e = e };
	int r = 0;

	memset(st, 0, sizeof *st);
	/* Modes are the layers' own; restored, since without user
	 * namespaces rt_isolate runs this in kbuild-ns itself. */
	mode_t old_umask = umask(0);
	for (size_t i = 0; r == 0 && i < n; i++) {
		f.oci = flatroot_layer_oci(layers[i]);
		f.plen = 0;
		f.path[0] = 0;
		r = merge_dir(&f, layers[i], dstfd);
		tdestroy(f.links, link_free);
		f.links = NULL;
	}
	umask(old_umask);
	return r;
}

/* ---- the data sandbox's copy ---- */

/* In the child: fds[0] the store's layers/ (read-only), fds[1] the data
 * sandbox's directory. */
static int merge_in_child(void *arg, const int *fds, void *shared, kb_error *e)
{
	const flatroot_args *a = arg;
	int *lfd = calloc(a->n_layers ? a->n_layers : 1, sizeof *lfd);
	int r = 0;
	size_t i;

	if (!lfd)
		return kb_err_oom(e, "copied root");
	for (i = 0; i < a->n_layers && r == 0; i++)
		if ((lfd[i] = openat(fds[0], a->layers[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
			r = kb_err(e, errno, "layer %s", a->layers[i]);
	if (r < 0)
		i--;
	_cleanup_close_ int dst = r == 0 ? openat(fds[1], "rootfs.new", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
	if (r == 0 && dst < 0)
		r = kb_err(e, errno, "copied root: rootfs.new");
	if (r == 0)
		r = flatroot_merge(dst, lfd, a->n_layers, shared, e);
	while (i-- > 0)
		close(lfd[i]);
	free(lfd);
	return r;
}

int flatroot_ensure(const flatroot_args *a, bool *ret_made, flatroot_stats *ret_st, long *ret_ms, kb_error *e)
{
	struct timespec t0, t1;
	bool isolated;
	int r;

	*ret_made = false;
	if (data_rootfs_for(a->data, a->image_id))
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	data_unready(a->data);
	if ((r = data_rootfs_begin(a->data, e)) < 0)
		return r;
	flatroot_stats *st = rt_iso_shared(sizeof *st);
	if (!st)
		return kb_err(e, errno, "copied root");
	rt_iso_dir dirs[] = { { a->layers_dir, true }, { a->data->dir, false } };
	r = rt_isolate(dirs, 2, a->range, merge_in_child, (void *)a, st, &isolated, e);
	*ret_st = *st;
	rt_iso_shared_free(st, sizeof *st);
	if (r < 0) {
		kb_err_prefix(e, "state %s", a->data->dir);
		return r;
	}
	if ((r = data_rootfs_commit(a->data, a->image_id, e)) < 0)
		return r;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	*ret_ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	*ret_made = true;
	return 0;
}
