/* What `image import PATH` reads from (source.h): a layout directory or
 * a (possibly compressed) tar file, member by member. */
#include "image/import/source.h"
#include "image/import/sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/openat2.h>

/* An image archive has a handful of members per layer; a tar with more
 * than this many is a root filesystem, and we stop indexing it. */
#define MAX_ARCHIVE_MEMBERS 100000

void span_close(kb_span *sp)
{
	if (sp->own_fd && sp->fd >= 0)
		close(sp->fd);
	sp->fd = -1;
	sp->own_fd = false;
}

struct kb_hash_job {
	pthread_t thread;
	int fd;
	atomic_int cancel;
	int err;
	kb_digest digest;
};

static void *hash_thread(void *arg)
{
	kb_hash_job *h = arg;
	sha256_ctx *c = sha256_new();
	unsigned char *buf = malloc(1 << 20);
	off_t off = 0;
	ssize_t n = 0;

	if (!c || !buf)
		h->err = ENOMEM;
	while (!h->err && !atomic_load(&h->cancel) && (n = pread(h->fd, buf, 1 << 20, off)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			h->err = errno;
			break;
		}
		sha256_update(c, buf, (size_t)n);
		off += n;
	}
	if (c && !h->err)
		sha256_final(c, &h->digest);
	sha256_free(c);
	free(buf);
	return NULL;
}

void source_hash_start(kb_source *s)
{
	if (s->file_fd < 0 || s->hash)
		return;
	kb_hash_job *h = calloc(1, sizeof *h);
	if (!h)
		return;
	h->fd = s->file_fd;
	/* SCHED_IDLE from its first instruction (a policy Linux applies to
	 * one thread): it runs only on a core nothing else wants. */
	pthread_attr_t at;
	struct sched_param sp = { 0 };
	pthread_attr_init(&at);
	(void)pthread_attr_setinheritsched(&at, PTHREAD_EXPLICIT_SCHED);
	(void)pthread_attr_setschedpolicy(&at, SCHED_IDLE);
	(void)pthread_attr_setschedparam(&at, &sp);
	int r = pthread_create(&h->thread, &at, hash_thread, h);
	if (r != 0)    /* explicit scheduling refused: an ordinary thread */
		r = pthread_create(&h->thread, NULL, hash_thread, h);
	pthread_attr_destroy(&at);
	if (r != 0) {
		free(h);
		return;
	}
	s->hash = h;
}

/* The thread's result: 0 and the digest, or a negative errno. */
static int hash_join(kb_source *s, kb_digest *ret)
{
	kb_hash_job *h = s->hash;
	if (!h)
		return -ENOMEM;
	/* Now its result is waited for: an ordinary thread again, or on a
	 * busy machine it would wait for an idle core that never comes. */
	struct sched_param sp = { 0 };
	(void)pthread_setschedparam(h->thread, SCHED_OTHER, &sp);
	pthread_join(h->thread, NULL);
	s->hash = NULL;
	int err = h->err;
	if (ret)
		*ret = h->digest;
	free(h);
	return -err;
}

int source_hash_wait(kb_source *s, kb_digest *ret, kb_error *e)
{
	if (s->file_fd < 0)
		return 0;
	source_hash_start(s);
	int r = hash_join(s, ret);
	if (r < 0)
		return kb_err(e, -r, "%s: hashing the archive", s->path);
	return 1;
}

void source_free(kb_source *s)
{
	if (!s)
		return;
	if (s->hash) {
		atomic_store(&s->hash->cancel, 1);
		(void)hash_join(s, NULL);
	}
	if (s->file_fd >= 0)
		close(s->file_fd);
	if (s->dirfd >= 0)
		close(s->dirfd);
	if (s->fd >= 0)
		close(s->fd);
	tar_index_free(s->idx);
	free(s->path);
	free(s->real_path);
	free(s);
}

/* Inflate the wrapped archive into an unnamed temporary file. */
static int inflate_to_tmp(kb_source *s, int fd, uint64_t size, int tmpfd, kb_error *e)
{
	_cleanup_(zstream_freep) zstream *z = NULL;
	_cleanup_close_ int out = openat(tmpfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	const void *buf;
	ssize_t n;
	int r;

	if (out < 0)
		return kb_err(e, errno, "%s: temporary file for the inflated archive", s->path);
	r = zstream_open(&z, fd, 0, size, ZS_DETECT, 0, s->path, e);
	if (r < 0)
		return r;
	s->wrapper = zstream_kind(z);
	while ((n = zstream_read(z, &buf, e)) > 0)
		if ((r = write_all(out, buf, (size_t)n)) < 0)
			return kb_err(e, -r, "%s: writing the inflated archive", s->path);
	if (n < 0)
		return (int)n;
	s->fd = steal_fd(out);
	s->size = zstream_out_bytes(z);
	return 0;
}

int source_open(const char *path, int tmpfd, kb_source **ret, kb_error *e)
{
	_cleanup_(source_freep) kb_source *s = calloc(1, sizeof *s);
	struct stat st;
	unsigned char head[512];
	int r;

	if (!s)
		return kb_err_oom(e, path);
	s->dirfd = s->fd = s->file_fd = -1;
	s->path = strdup(path);
	if (!s->path)
		return kb_err_oom(e, path);
	/* O_NONBLOCK: a FIFO would block the open until a writer comes;
	 * the type is checked first (regular files ignore the flag). */
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0)
		return kb_err(e, errno, "%s", path);
	if (!(s->real_path = realpath(path, NULL)))
		return kb_err(e, errno, "%s", path);
	if (S_ISDIR(st.st_mode)) {
		s->dirfd = steal_fd(fd);
		*ret = steal_ptr(s);
		return 0;
	}
	if (!S_ISREG(st.st_mode))
		return kb_errx(e, EINVAL, "%s: not a regular file or directory", path);
	if ((s->file_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0)
		return kb_err(e, errno, "%s", path);

	ssize_t n = pread(fd, head, sizeof head, 0);
	if (n < 0)
		return kb_err(e, errno, "%s", path);
	if ((n >= 2 && head[0] == 0x1f && head[1] == 0x8b) ||
	    (n >= 4 && !memcmp(head, "\x28\xb5\x2f\xfd", 4))) {
		if ((r = inflate_to_tmp(s, fd, (uint64_t)st.st_size, tmpfd, e)) < 0)
			return r;
		n = pread(s->fd, head, sizeof head, 0);
	} else {
		s->fd = steal_fd(fd);
		s->size = (uint64_t)st.st_size;
	}
	if (n < (ssize_t)sizeof head || !tar_header_valid(head))
		return kb_errx(e, EINVAL, "%s: not a tar archive (optionally gzip or zstd compressed) "
			       "or an OCI layout directory", path);

	kb_error ie = { 0 };
	r = tar_index_build(s->fd, MAX_ARCHIVE_MEMBERS, &s->idx, &ie);
	if (r == -E2BIG)
		s->idx = NULL;    /* a big root filesystem: no image metadata to look up */
	else if (r < 0) {
		kb_err_prefix(&ie, "%s", path);
		*e = ie;
		return r;
	}
	*ret = steal_ptr(s);
	return 0;
}

static int open_beneath(int dirfd, const char *name)
{
	/* Names come from image metadata: refuse anything that would leave
	 * the layout directory, whether by ".." or by a symlink.  Non-
	 * blocking, so that a FIFO planted as a member does not hang us in
	 * open(2); source_find refuses it by its type. */
	struct open_how how = {
		.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	return (int)syscall(SYS_openat2, dirfd, name, &how, sizeof how);
}

int source_find(kb_source *s, const char *name, kb_span *ret, kb_error *e)
{
	if (s->dirfd >= 0) {
		struct stat st;
		int fd = open_beneath(s->dirfd, name);
		if (fd < 0 && errno == EXDEV)
			return kb_errx(e, EXDEV, "%s: %s: path leads outside the layout directory", s->path, name);
		if (fd < 0)
			return kb_err(e, errno, "%s: %s", s->path, name);
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			close(fd);
			return kb_errx(e, EINVAL, "%s: %s: not a regular file", s->path, name);
		}
		*ret = (kb_span){ .fd = fd, .own_fd = true, .off = 0, .len = (uint64_t)st.st_size };
		return 0;
	}
	const tar_member *m = s->idx ? tar_index_find(s->idx, name) : NULL;
	if (!m)
		return kb_errx(e, ENOENT, "%s: %s: not in the archive", s->path, name);
	if (m->type != TM_FILE)
		return kb_errx(e, EINVAL, "%s: %s: not a regular file in the archive", s->path, name);
	*ret = (kb_span){ .fd = s->fd, .own_fd = false, .off = m->off, .len = m->size };
	return 0;
}

bool source_has(kb_source *s, const char *name)
{
	kb_span sp;
	kb_error e = { 0 };
	/* Present but unusable (a FIFO, a directory, a link leading out)
	 * counts as present: reading it then says what is wrong, rather
	 * than taking the archive for another format. */
	if (source_find(s, name, &sp, &e) < 0)
		return e.errnum != ENOENT;
	span_close(&sp);
	return true;
}

static int read_span(const char *name, kb_span *sp, const kb_digest *d, uint64_t size,
		     size_t max, char **ret, size_t *ret_len, kb_error *e)
{
	_cleanup_(zstream_freep) zstream *z = NULL;
	_cleanup_free_ char *buf = NULL;
	const void *p;
	ssize_t n;
	size_t len = 0;
	int r;

	if (size != UINT64_MAX && sp->len != size)
		return kb_errx(e, EINVAL, "%s: size mismatch (expected %llu, got %llu)", name,
			       (unsigned long long)size, (unsigned long long)sp->len);
	if (sp->len > max)
		return kb_errx(e, EFBIG, "%s: %llu bytes, more than the %zu allowed for metadata", name,
			       (unsigned long long)sp->len, max);
	buf = malloc(sp->len + 1);
	if (!buf)
		return kb_err_oom(e, name);
	r = zstream_open(&z, sp->fd, sp->off, sp->len, d ? ZS_HASH_IN : 0, 0, name, e);
	if (r < 0)
		return r;
	while ((n = zstream_read(z, &p, e)) > 0) {
		memcpy(buf + len, p, (size_t)n);
		len += (size_t)n;
	}
	if (n < 0)
		return (int)n;
	buf[len] = 0;
	if (d) {
		kb_digest got;
		zstream_digest_in(z, &got);
		if (strcmp(got.hex, d->hex))
			return kb_errx(e, EINVAL, "%s: digest mismatch (expected sha256:%s, got sha256:%s)",
				       name, d->hex, got.hex);
	}
	*ret = steal_ptr(buf);
	if (ret_len)
		*ret_len = len;
	return 0;
}

int source_read(kb_source *s, const char *name, size_t max, char **ret, size_t *ret_len, kb_error *e)
{
	kb_span sp;
	int r = source_find(s, name, &sp, e);
	if (r < 0)
		return r;
	r = read_span(name, &sp, NULL, UINT64_MAX, max, ret, ret_len, e);
	span_close(&sp);
	return r;
}

int source_read_blob(kb_source *s, const kb_digest *d, uint64_t size, size_t max,
		     char **ret, size_t *ret_len, kb_error *e)
{
	_cleanup_free_ char *name = xasprintf("blobs/sha256/%s", d->hex);
	kb_span sp;
	int r = source_find(s, name, &sp, e);
	if (r < 0)
		return r;
	char what[32];
	snprintf(what, sizeof what, "blob sha256:%.12s", d->hex);
	r = read_span(what, &sp, d, size, max, ret, ret_len, e);
	span_close(&sp);
	return r;
}
