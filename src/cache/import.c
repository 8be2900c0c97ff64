/* cache import (cache.h): check a cache's description, unpack it with
 * the layer unpacker into a new data sandbox beside the live one, and put
 * that in place with one rename. */
#include "cache/cache.h"
#include "build/data.h"
#include "build/profile.h"
#include "image/import/extract.h"
#include "runtime/isolate.h"
#include "runtime/userns.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define MAX_META (64u << 10)
#define UNPACK_DIR "cache.tmp"

static uint64_t size_cap(void)
{
	const char *v = getenv("KBUILD_NS_MAX_LAYER_SIZE");
	uint64_t cap = 64ull << 30;
	if (v && *v)
		(void)parse_size(v, &cap);
	return cap;
}

static la_ssize_t read_cb(struct archive *a, void *arg, const void **buf)
{
	(void)a;
	kb_error e = { 0 };
	ssize_t n = zstream_read(arg, buf, &e);
	return n < 0 ? -1 : n;
}

int cache_read_meta(int fd, uint64_t size, const char *path, json_t **ret, kb_error *e)
{
	_cleanup_(zstream_freep) zstream *z = NULL;
	struct archive *a = archive_read_new();
	struct archive_entry *en;
	char buf[MAX_META + 1];
	int r;

	if (!a)
		return kb_err_oom(e, path);
	if ((r = zstream_open(&z, fd, 0, size, ZS_DETECT, size_cap(), path, e)) < 0) {
		archive_read_free(a);
		return r;
	}
	archive_read_support_format_tar(a);
	if (archive_read_open(a, z, NULL, read_cb, NULL) != ARCHIVE_OK || archive_read_next_header(a, &en) != ARCHIVE_OK)
		r = kb_errx(e, EINVAL, "%s: not a kbuild-ns cache (not a tar, or a tar.zst, stream)", path);
	else if (strcmp(archive_entry_pathname(en), CACHE_META) || archive_entry_size(en) > (la_int64_t)MAX_META)
		r = kb_errx(e, EINVAL, "%s: not a kbuild-ns cache (its first member is not %s)", path, CACHE_META);
	la_ssize_t n = r == 0 ? archive_read_data(a, buf, MAX_META) : 0;
	if (r == 0 && n < 0)
		r = kb_errx(e, EINVAL, "%s: %s", path, archive_error_string(a));
	archive_read_free(a);
	if (r < 0)
		return r;
	json_t *m = json_loadb(buf, (size_t)n, 0, NULL);
	if (!json_is_object(m) || json_integer_value(json_object_get(m, "format")) != CACHE_FORMAT) {
		json_decref(m);
		return kb_errx(e, EINVAL, "%s: %s is not a format-%d cache description", path, CACHE_META, CACHE_FORMAT);
	}
	*ret = m;
	return 0;
}

/* The ready mark to give the imported layer: the one the exported state
 * had (its init: the profile, and the digest of the tree's Dockerfile
 * steps), so that a build of the same tree keeps the layer rather than
 * resetting it to run the init again; a cache without one (or with one
 * that is not a short line) gets the profile's name, which a tree with a
 * Dockerfile does not take as ready. */
static const char *ready_mark(json_t *m, const cache_target *t)
{
	const char *r = json_string_value(json_object_get(m, "ready"));
	size_t n = r ? strlen(r) : 0;
	if (!n || n > 1024)
		return t->prof->name;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)r[i] < 0x20 || r[i] == 0x7f)
			return t->prof->name;
	return r;
}

/* The version step's record (version.h), kept only when the cache was
 * made on this machine in this boot: the record's test compares the
 * checkout's ctimes with a moment on the exporting machine's clock,
 * which says nothing on another machine's (or after a reboot, when the
 * clock may have been set).  The record is checked again when used (its
 * digest names the image, the checkout, the variables). */
static int keep_version_record(json_t *m, kb_data *inc, kb_error *e)
{
	json_t *vs = json_object_get(m, "version_step");
	const char *boot = json_string_value(json_object_get(vs, "boot"));
	const char *rec = json_string_value(json_object_get(vs, "record"));
	char here[64];
	data_boot_id(here);
	if (!boot || !rec || !here[0] || strcmp(boot, here) || strlen(rec) > CACHE_MAX_VERSION_RECORD)
		return 0;
	return data_write_version_record(inc, rec, strlen(rec), e);
}

/* A cache made for another image or state version would give a build
 * that mixes the two: refused unless forced. */
static int check_meta(json_t *m, const cache_target *t, const char *path, bool force, kb_error *e)
{
	const char *img = json_string_value(json_object_get(m, "image"));
	const char *ver = json_string_value(json_object_get(m, "version"));
	if (force)
		return 0;
	if (!img || strcmp(img, t->image_id))
		return kb_errx(e, EINVAL, "%s: made for image %.19s…, this checkout builds with %.19s… (--force to "
			       "import it anyway)", path, img ? img : "(none)", t->image_id);
	if (!ver || strcmp(ver, t->data->version))
		return kb_errx(e, EINVAL, "%s: made for state version %s, this checkout's is %s (--force to import "
			       "it anyway)", path, ver ? ver : "(none)", t->data->version);
	return 0;
}

/* ---- unpacking, in a child: root of its own user namespace ---- */

typedef struct unpack_job {
	const char *path;
	const char *dir;             /* where to unpack (made empty) */
	extract_stats st;
	kb_error e;
} unpack_job;

static int unpack(unpack_job *j)
{
	kb_error ue = { 0 };
	/* As in image import: root of a namespace that maps only us, so
	 * whiteouts, opaque xattrs and read-only directories all work and the
	 * files are still ours outside; else relaxed modes. */
	extract_opts o = { .relax_modes = rt_userns_enter_self(&ue) < 0 };
	struct stat st;
	int r;

	umask(0);
	_cleanup_close_ int fd = open(j->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	_cleanup_close_ int root = open(j->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &st) < 0)
		return kb_err(&j->e, errno, "%s", j->path);
	if (!S_ISREG(st.st_mode))
		return kb_errx(&j->e, EINVAL, "%s: not a regular file", j->path);
	if (root < 0)
		return kb_err(&j->e, errno, "%s", j->dir);
	_cleanup_(zstream_freep) zstream *z = NULL;
	if ((r = zstream_open(&z, fd, 0, (uint64_t)st.st_size, ZS_DETECT, size_cap(), j->path, &j->e)) < 0)
		return r;
	return extract_tar(z, root, &o, j->path, NULL, NULL, &j->st, &j->e);
}

static int unpack_in_child(unpack_job *j, kb_error *e)
{
	fflush(NULL);
	pid_t pid = fork();
	int st;
	if (pid < 0)
		return kb_err(e, errno, "cache: fork");
	if (pid == 0)
		_exit(unpack(j) < 0 ? 1 : 0);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return kb_err(e, errno, "cache: wait");
	if (kb_err_set(&j->e)) {
		*e = j->e;
		return j->e.errnum ? -j->e.errnum : -EIO;
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return kb_errx(e, EIO, "cache: the unpacking process failed (status %#x)", st);
	return 0;
}

/* ---- into the new data sandbox ---- */

/* The unpacked cache holds upper/, snapshot/_output/ and the description;
 * anything else is not a cache of ours. */
static int check_top(int ufd, const char *path, kb_error *e)
{
	DIR *d = opendir_at(ufd);
	struct dirent *de;
	int r = 0;
	if (!d)
		return kb_err(e, errno, "cache");
	while (r == 0 && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, "upper") &&
		    strcmp(de->d_name, "snapshot") && strcmp(de->d_name, CACHE_META))
			r = kb_errx(e, EINVAL, "%s: member %s: not part of a kbuild-ns cache", path, de->d_name);
	closedir(d);
	return r;
}

static int move_in(kb_data *inc, const char *path, kb_error *e)
{
	_cleanup_close_ int ufd = openat(inc->dirfd, UNPACK_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	_cleanup_close_ int sfd = -1, snap = open(inc->snapshot, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;
	int r;

	if (ufd < 0 || snap < 0)
		return kb_err(e, errno, "%s", inc->dir);
	if ((r = check_top(ufd, path, e)) < 0)
		return r;
	if (fstatat(ufd, "upper", &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
		return kb_errx(e, EINVAL, "%s: no upper/ directory: not a kbuild-ns cache", path);
	if (renameat2(ufd, "upper", AT_FDCWD, inc->upper, RENAME_EXCHANGE) < 0)
		return kb_err(e, errno, "%s", inc->upper);
	if ((sfd = openat(ufd, "snapshot", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)) >= 0 &&
	    fstatat(sfd, "_output", &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (!S_ISDIR(st.st_mode))
			return kb_errx(e, EINVAL, "%s: snapshot/_output is not a directory", path);
		if (renameat(sfd, "_output", snap, "_output") < 0)
			return kb_err(e, errno, "%s/_output", inc->snapshot);
	}
	return data_rm_tree(inc->dirfd, UNPACK_DIR, e);
}

int cache_import(const char *state_dir, const char *image, const char *path, bool force, cache_counts *ret,
		 kb_error *e)
{
	_cleanup_(data_freep) kb_data *inc = NULL;
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	cache_target t;
	json_t *meta = NULL;
	struct stat st;
	int r;

	if (fd < 0 || fstat(fd, &st) < 0)
		return kb_err(e, errno, "%s", path);
	if (!S_ISREG(st.st_mode))
		return kb_errx(e, EINVAL, "%s: not a regular file", path);
	if ((r = cache_refuse_copied_root(state_dir, e)) < 0)
		return r;
	unpack_job *j = rt_iso_shared(sizeof *j);
	if (!j)
		return kb_err(e, errno, "cache");
	if ((r = cache_target_open(state_dir, image, true, &t, e)) == 0 && (r = cache_read_meta(fd, (uint64_t)st.st_size, path, &meta, e)) == 0 &&
	    (r = check_meta(meta, &t, path, force, e)) == 0 && (r = data_lock(t.data, true, NULL, e)) == 0 &&
	    (r = data_open_incoming(t.data, &inc, e)) == 0) {
		_cleanup_free_ char *dir = xasprintf("%s/" UNPACK_DIR, inc->dir);
		*j = (unpack_job){ .path = path, .dir = dir };
		if (mkdir(dir, 0700) < 0)
			r = kb_err(e, errno, "%s", dir);
		else if ((r = unpack_in_child(j, e)) == 0 && (r = move_in(inc, path, e)) == 0 &&
			 (r = data_mark_ready(inc, ready_mark(meta, &t), e)) == 0 &&
			 (r = keep_version_record(meta, inc, e)) == 0)
			r = data_exchange(t.data, inc, e);
	}
	if (r < 0 && inc)
		data_discard(inc);
	if (r == 0)
		*ret = (cache_counts){ .entries = j->st.entries, .files = j->st.files, .bytes = j->st.bytes,
				       .whiteouts = j->st.whiteouts, .opaques = j->st.opaques };
	json_decref(meta);
	rt_iso_shared_free(j, sizeof *j);
	cache_target_close(&t);
	return r;
}
