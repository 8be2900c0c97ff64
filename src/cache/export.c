/* cache export (cache.h): the data sandbox's upper layer and the
 * snapshot's _output as one sorted tar, through libzstd, to a file. */
#include "cache/cache.h"
#include "build/data.h"
#include "build/profile.h"
#include "runtime/isolate.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <zstd.h>

#define MAX_DEPTH 256                /* directories kept open at once */
#define OUT_CHUNK (1u << 20)

typedef struct link_seen {
	dev_t dev;
	ino_t ino;
	char *path;
} link_seen;

typedef struct exporter {
	struct archive *a;
	ZSTD_CCtx *z;
	int out;                     /* the file written */
	unsigned char *buf;          /* compressed output */
	const rt_idrange *range;     /* on-disk ids of a range-mapped layer, or NULL */
	bool identity;               /* in a namespace that maps the range: ids are inside ids */
	uid_t uid;                   /* the caller: root inside */
	gid_t gid;
	bool count_only;             /* the first pass: counts for the metadata */
	cache_counts n;              /* this pass's counts */
	cache_counts total;          /* the first pass's, for the description */
	link_seen *links;            /* files with more than one link, seen once */
	size_t n_links;
	kb_error *e;
} exporter;

/* ---- zstd under libarchive ---- */

static int flush_out(exporter *x, ZSTD_inBuffer *in, ZSTD_EndDirective mode)
{
	size_t left;
	do {
		ZSTD_outBuffer o = { x->buf, OUT_CHUNK, 0 };
		left = ZSTD_compressStream2(x->z, &o, in, mode);
		if (ZSTD_isError(left))
			return kb_errx(x->e, EIO, "cache: zstd: %s", ZSTD_getErrorName(left));
		if (write_all(x->out, x->buf, o.pos) < 0)
			return kb_err(x->e, errno, "cache: write");
	} while (mode == ZSTD_e_end ? left != 0 : in->pos < in->size);
	return 0;
}

static la_ssize_t write_cb(struct archive *a, void *arg, const void *data, size_t len)
{
	exporter *x = arg;
	ZSTD_inBuffer in = { data, len, 0 };
	(void)a;
	return flush_out(x, &in, ZSTD_e_continue) < 0 ? -1 : (la_ssize_t)len;
}

/* Level 3 on every core, long-distance matching in a 2^24 (16 MiB)
 * window, a content checksum.  The window is also what every import
 * allocates and faults in: 2^27, the most `zstd -d` and libarchive read
 * without options, made the archive of a 125 MB state of the 2017-shaped
 * tree 7% smaller than 2^24 but `zstd -d` of it 3x slower (0.64 against
 * 0.21 s; 0.27 against 0.05 s of it in the kernel, which fills the
 * larger buffer). */
static int start_zstd(exporter *x)
{
	if (!(x->z = ZSTD_createCCtx()) || !(x->buf = malloc(OUT_CHUNK)))
		return kb_err_oom(x->e, "cache");
	(void)ZSTD_CCtx_setParameter(x->z, ZSTD_c_compressionLevel, 3);
	(void)ZSTD_CCtx_setParameter(x->z, ZSTD_c_nbWorkers, cpu_count());    /* 0 without zstd threads: fine */
	(void)ZSTD_CCtx_setParameter(x->z, ZSTD_c_enableLongDistanceMatching, 1);
	(void)ZSTD_CCtx_setParameter(x->z, ZSTD_c_windowLog, 24);
	(void)ZSTD_CCtx_setParameter(x->z, ZSTD_c_checksumFlag, 1);
	return 0;
}

/* ---- one entry ---- */

/* The id inside the namespace of an id on disk: the caller is root, a
 * range-mapped layer's ids are 1..N; anything else belongs to nobody. */
static la_int64_t inside(const exporter *x, unsigned long id, bool is_gid)
{
	unsigned long self = is_gid ? x->gid : x->uid;
	unsigned long start = x->range ? (is_gid ? x->range->gid_start : x->range->uid_start) : 0;
	unsigned long count = x->range ? (is_gid ? x->range->gid_count : x->range->uid_count) : 0;
	if (x->identity)
		return id <= 65534 ? (la_int64_t)id : 65534;
	if (id == self)
		return 0;
	if (x->range && id >= start && id < start + count)
		return (la_int64_t)(id - start + 1);
	return 65534;
}

static struct archive_entry *entry_for(exporter *x, const char *path, const struct stat *st)
{
	struct archive_entry *en = archive_entry_new();
	if (!en)
		return NULL;
	archive_entry_set_pathname(en, path);
	archive_entry_set_mode(en, st->st_mode);
	archive_entry_set_uid(en, inside(x, st->st_uid, false));
	archive_entry_set_gid(en, inside(x, st->st_gid, true));
	archive_entry_set_mtime(en, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
	return en;
}

/* An empty regular file: the whiteout and opaque markers of a layer. */
static int put_marker(exporter *x, const char *path, const struct stat *st)
{
	x->n.entries++;
	if (x->count_only)
		return 0;
	struct stat m = *st;
	m.st_mode = S_IFREG | 0644;
	struct archive_entry *en = entry_for(x, path, &m);
	if (!en)
		return kb_err_oom(x->e, "cache");
	archive_entry_set_size(en, 0);
	int r = archive_write_header(x->a, en) == ARCHIVE_OK ? 0 : kb_errx(x->e, EIO, "cache: %s: %s", path,
									    archive_error_string(x->a));
	archive_entry_free(en);
	return r;
}

static int copy_data(exporter *x, int dfd, const char *name, const char *path)
{
	char buf[1 << 16];
	ssize_t n;
	_cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return kb_err(x->e, errno, "cache: %s", path);
	while ((n = read(fd, buf, sizeof buf)) > 0)
		if (archive_write_data(x->a, buf, (size_t)n) != n)
			return kb_errx(x->e, EIO, "cache: %s: %s", path, archive_error_string(x->a));
	return n < 0 ? kb_err(x->e, errno, "cache: %s", path) : 0;
}

/* A second name of a file already written: a hard link to it. */
static const char *first_name(exporter *x, const struct stat *st, const char *path)
{
	for (size_t i = 0; i < x->n_links; i++)
		if (x->links[i].dev == st->st_dev && x->links[i].ino == st->st_ino)
			return x->links[i].path;
	link_seen *nl = realloc(x->links, (x->n_links + 1) * sizeof *nl);
	if (nl) {
		x->links = nl;
		x->links[x->n_links++] = (link_seen){ st->st_dev, st->st_ino, xstrdup(path) };
	}
	return NULL;
}

static int put_entry(exporter *x, int dfd, const char *name, const char *path, const struct stat *st)
{
	const char *link = S_ISREG(st->st_mode) && st->st_nlink > 1 && !x->count_only ? first_name(x, st, path) : NULL;
	char target[4096];
	ssize_t tl = 0;
	int r = 0;

	x->n.entries++;
	if (S_ISREG(st->st_mode) && !link) {
		x->n.files++;
		x->n.bytes += (uint64_t)st->st_size;
	}
	if (x->count_only)
		return 0;
	if (S_ISLNK(st->st_mode) && (tl = readlinkat(dfd, name, target, sizeof target - 1)) < 0)
		return kb_err(x->e, errno, "cache: %s", path);
	struct archive_entry *en = entry_for(x, path, st);
	if (!en)
		return kb_err_oom(x->e, "cache");
	if (link) {
		archive_entry_set_hardlink(en, link);
		archive_entry_set_size(en, 0);
	} else if (S_ISLNK(st->st_mode)) {
		target[tl] = 0;
		archive_entry_set_symlink(en, target);
	} else if (S_ISREG(st->st_mode)) {
		archive_entry_set_size(en, st->st_size);
	}
	if (archive_write_header(x->a, en) != ARCHIVE_OK)
		r = kb_errx(x->e, EIO, "cache: %s: %s", path, archive_error_string(x->a));
	else if (S_ISREG(st->st_mode) && !link)
		r = copy_data(x, dfd, name, path);
	archive_entry_free(en);
	return r;
}

/* ---- the walk, sorted ----
 *
 * Members come in GNU tar's --sort=name order: depth first, each
 * directory's entries sorted as C compares bytes, by the names they
 * have in the archive (a whiteout "x" is ".wh.x", an opaque directory's
 * marker ".wh..wh..opq" one of its entries). */

typedef struct name {
	char *disk;                  /* NULL for the opaque marker */
	char *arc;                   /* the name in the archive */
} name;

static int by_arc(const void *a, const void *b)
{
	return strcmp(((const name *)a)->arc, ((const name *)b)->arc);
}

static void free_names(name *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].disk);
		free(v[i].arc);
	}
	free(v);
}

static int add_name(exporter *x, name **v, size_t *n, const char *disk, const char *arc)
{
	name *nv = realloc(*v, (*n + 1) * sizeof *nv);
	if (!nv)
		return kb_err_oom(x->e, "cache");
	*v = nv;
	nv[(*n)++] = (name){ disk ? xstrdup(disk) : NULL, xstrdup(arc) };
	return 0;
}

/* The entries of directory dfd, sorted by archive name; with opaque, its
 * marker among them. */
static int list_sorted(exporter *x, int dfd, const char *path, bool opaque, name **ret, size_t *ret_n)
{
	DIR *d = opendir_at(dfd);
	struct dirent *de;
	name *v = NULL;
	size_t n = 0;
	int r = 0;

	if (!d)
		return kb_err(x->e, errno, "cache: %s", path);
	if (opaque)
		r = add_name(x, &v, &n, NULL, ".wh..wh..opq");
	while (r == 0 && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		struct stat st;
		bool wh = (de->d_type == DT_CHR || de->d_type == DT_UNKNOWN) &&
			  fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISCHR(st.st_mode) &&
			  st.st_rdev == makedev(0, 0);
		_cleanup_free_ char *arc = wh ? xasprintf(".wh.%s", de->d_name) : xstrdup(de->d_name);
		r = add_name(x, &v, &n, de->d_name, arc);
	}
	closedir(d);
	if (r < 0) {
		free_names(v, n);
		return r;
	}
	qsort(v, n, sizeof *v, by_arc);
	*ret = v;
	*ret_n = n;
	return 0;
}

static bool opaque(int fd)
{
	char v[2];
	return fgetxattr(fd, "user.overlay.opaque", v, sizeof v) == 1 && v[0] == 'y';
}

static int walk(exporter *x, int dfd, const char *prefix, bool opq, int depth);
static int walk_dir(exporter *x, int dfd, const char *disk, const char *path, const struct stat *st, int depth);

static int walk_child(exporter *x, int dfd, const name *nm, const char *prefix, int depth)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", prefix, nm->arc);
	struct stat st;

	if (!nm->disk) {    /* the opaque marker, among the entries */
		x->n.opaques++;
		if (fstat(dfd, &st) < 0)
			return kb_err(x->e, errno, "cache: %s", prefix);
		return put_marker(x, path, &st);
	}
	if (fstatat(dfd, nm->disk, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return kb_err(x->e, errno, "cache: %s", path);
	if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {    /* overlay's whiteout */
		x->n.whiteouts++;
		return put_marker(x, path, &st);
	}
	if (!S_ISDIR(st.st_mode)) {
		if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode) && !S_ISFIFO(st.st_mode)) {
			x->n.skipped++;    /* sockets, devices: nothing a build keeps */
			return 0;
		}
		return put_entry(x, dfd, nm->disk, path, &st);
	}
	return walk_dir(x, dfd, nm->disk, path, &st, depth);
}

/* A directory: its entry, then what it holds. */
static int walk_dir(exporter *x, int dfd, const char *disk, const char *path, const struct stat *st, int depth)
{
	int r;
	if (depth >= MAX_DEPTH)
		return kb_errx(x->e, ELOOP, "cache: %s: more than %d directories deep", path, MAX_DEPTH);
	_cleanup_close_ int cfd = openat(dfd, disk, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (cfd < 0)
		return kb_err(x->e, errno, "cache: %s", path);
	if ((r = put_entry(x, dfd, disk, path, st)) < 0)
		return r;
	return walk(x, cfd, path, opaque(cfd), depth + 1);
}

static int walk(exporter *x, int dfd, const char *prefix, bool opq, int depth)
{
	name *names = NULL;
	size_t n = 0;
	int r = list_sorted(x, dfd, prefix, opq, &names, &n);
	for (size_t i = 0; i < n && r == 0; i++)
		r = walk_child(x, dfd, &names[i], prefix, depth);
	free_names(names, n);
	return r;
}

/* Both trees, in name order: snapshot/_output (when there is one), then
 * upper/ whole. */
static int walk_all(exporter *x, const kb_data *d)
{
	_cleanup_close_ int ufd = open(d->upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	_cleanup_close_ int sfd = open(d->snapshot, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st, ost;
	int r;

	if (ufd < 0 || fstat(ufd, &st) < 0)
		return kb_err(x->e, errno, "cache: %s", d->upper);
	if (sfd >= 0 && fstatat(sfd, "_output", &ost, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(ost.st_mode)) {
		struct stat sst;
		if (fstat(sfd, &sst) < 0)
			return kb_err(x->e, errno, "cache: %s", d->snapshot);
		if ((r = put_entry(x, sfd, ".", "snapshot", &sst)) < 0 ||
		    (r = walk_dir(x, sfd, "_output", "snapshot/_output", &ost, 0)) < 0)
			return r;
	}
	if ((r = put_entry(x, ufd, ".", "upper", &st)) < 0)
		return r;
	return walk(x, ufd, "upper", false, 0);
}

/* ---- the archive ---- */

static int put_meta(exporter *x, const cache_target *t)
{
	const cache_counts *n = &x->total;
	/* The ready mark says which init the layer had (the profile, and a
	 * digest of the tree's Dockerfile steps): an import puts the same
	 * one back, so that a build of the same tree keeps the layer. */
	_cleanup_free_ char *ready = data_ready_text(t->data);
	/* The version step's record, with this boot's id: its test compares
	 * the checkout's ctimes with a moment on this machine's clock, so an
	 * import keeps it only on the same machine in the same boot (import.c). */
	size_t vlen = 0;
	_cleanup_free_ char *vrec = data_read_version_record(t->data, &vlen);
	char boot[64];
	data_boot_id(boot);
	json_t *vs = vrec && vlen <= CACHE_MAX_VERSION_RECORD && boot[0] && !memchr(vrec, 0, vlen)
			     ? json_pack("{s:s, s:s}", "boot", boot, "record", vrec)
			     : NULL;
	json_t *m = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s?, s:o?, s:s, s:s, s:{s:I, s:I, s:I, s:I, s:I}}", "format", CACHE_FORMAT,
			      "key", t->data->key, "version", t->data->version, "image", t->image_id, "profile",
			      t->prof->name, "ready", ready, "version_step", vs, "arch", t->arch, "branch", t->prof->branch, "counts", "entries",
			      (json_int_t)n->entries, "files", (json_int_t)n->files, "bytes", (json_int_t)n->bytes,
			      "whiteouts", (json_int_t)n->whiteouts, "opaques", (json_int_t)n->opaques);
	_cleanup_free_ char *text = m ? json_dumps(m, JSON_SORT_KEYS | JSON_INDENT(2)) : NULL;
	json_decref(m);
	if (!text)
		return kb_err_oom(x->e, "cache");
	struct stat st = { .st_mode = S_IFREG | 0644, .st_uid = x->uid, .st_gid = x->gid };
	st.st_mtim.tv_sec = time(NULL);
	struct archive_entry *en = entry_for(x, CACHE_META, &st);
	if (!en)
		return kb_err_oom(x->e, "cache");
	archive_entry_set_size(en, (la_int64_t)strlen(text));
	int r = 0;
	if (archive_write_header(x->a, en) != ARCHIVE_OK ||
	    archive_write_data(x->a, text, strlen(text)) != (la_ssize_t)strlen(text))
		r = kb_errx(x->e, EIO, "cache: %s", archive_error_string(x->a));
	archive_entry_free(en);
	return r;
}

static int write_archive(exporter *x, const cache_target *t)
{
	int r;
	if ((r = start_zstd(x)) < 0)
		return r;
	if (!(x->a = archive_write_new()))
		return kb_err_oom(x->e, "cache");
	/* pax only where a field needs it (long names, nanosecond mtimes),
	 * no block padding beyond the tar format's own. */
	if (archive_write_set_format_pax_restricted(x->a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(x->a, 0) != ARCHIVE_OK ||
	    archive_write_open(x->a, x, NULL, write_cb, NULL) != ARCHIVE_OK)
		return kb_errx(x->e, EIO, "cache: %s", archive_error_string(x->a));
	if ((r = put_meta(x, t)) < 0 || (r = walk_all(x, t->data)) < 0)
		return r;
	if (archive_write_close(x->a) != ARCHIVE_OK)
		return kb_errx(x->e, EIO, "cache: %s", archive_error_string(x->a));
	ZSTD_inBuffer none = { NULL, 0, 0 };
	return flush_out(x, &none, ZSTD_e_end);
}

static void exporter_free(exporter *x)
{
	if (x->a)
		archive_write_free(x->a);
	ZSTD_freeCCtx(x->z);
	free(x->buf);
	for (size_t i = 0; i < x->n_links; i++)
		free(x->links[i].path);
	free(x->links);
}

/* In shared memory: the counts come back from rt_call_mapped's child. */
typedef struct export_job {
	const cache_target *t;
	const rt_idrange *range;
	bool mapped;
	int out;
	cache_counts n;
} export_job;

/* Counting pass, then the archive. */
static int export_run(void *arg, kb_error *e)
{
	export_job *j = arg;
	exporter x = { .out = j->out, .range = j->range, .identity = j->mapped, .uid = getuid(), .gid = getgid(),
		       .count_only = true, .e = e };
	int r = walk_all(&x, j->t->data);
	if (r == 0) {
		x.count_only = false;
		x.total = x.n;
		x.n = (cache_counts){ 0 };
		if ((r = write_archive(&x, j->t)) == 0)
			j->n = x.total;
	}
	exporter_free(&x);
	return r;
}

int cache_export(const char *state_dir, const char *image, const char *path, cache_counts *ret, kb_error *e)
{
	cache_target t;
	rt_idrange range;
	if (cache_refuse_copied_root(state_dir, e) < 0)
		return -EOPNOTSUPP;
	export_job *j = rt_iso_shared(sizeof *j);
	int r = j ? cache_target_open(state_dir, image, false, &t, e) : kb_err(e, errno, "cache");
	if (r == 0 && !data_ready(t.data))
		r = kb_errx(e, ENOENT, "no build state for checkout %s to export; run kbuild-ns make first", t.prof->checkout);
	/* Not while a build writes the layer. */
	if (r == 0)
		r = data_lock(t.data, true, NULL, e);
	_cleanup_free_ char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
	_cleanup_close_ int out = r == 0 ? open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644) : -1;
	if (r == 0 && out < 0)
		r = kb_err(e, errno, "%s", tmp);
	bool have_range = data_find_range(&range);
	if (j)
		*j = (export_job){ .t = &t, .range = have_range ? &range : NULL, .out = out };
	if (r == 0 && (r = export_run(j, e)) < 0 && have_range && (e->errnum == EACCES || e->errnum == EPERM)) {
		/* Files of subordinate ids the caller cannot read: once more,
		 * as root of a namespace that maps the range. */
		*e = (kb_error){ 0 };
		j->mapped = true;
		if (ftruncate(out, 0) < 0 || lseek(out, 0, SEEK_SET) < 0)
			r = kb_err(e, errno, "%s", tmp);
		else
			r = rt_call_mapped(&range, out, export_run, j, e);
	}
	if (r == 0 && (fsync(out) < 0 || rename(tmp, path) < 0))
		r = kb_err(e, errno, "%s", path);
	if (r < 0 && out >= 0)
		(void)unlink(tmp);
	if (r == 0)
		*ret = j->n;
	if (j)
		cache_target_close(&t);
	rt_iso_shared_free(j, sizeof *j);
	return r;
}
