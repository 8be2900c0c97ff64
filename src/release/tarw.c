/* The tar writer (tarw.h): ustar headers, pax records where needed. */
#include "release/tarw.h"

#include <errno.h>
#include <string.h>

#define BLOCK 512
#define USTAR_MAX_SIZE 077777777777ull    /* 11 octal digits */
#define USTAR_MAX_ID 07777777u            /* 7 octal digits */

static const char zeros[BLOCK * 2];

void tarw_init(tarw *w, tar_sink_fn sink, void *ctx)
{
	*w = (tarw){ .sink = sink, .ctx = ctx };
}

/* The padding after the current entry's data. */
static int pad(tarw *w, kb_error *e)
{
	if (w->pending != w->written)
		return kb_errx(e, EIO, "tar: an entry got %llu of its %llu bytes", (unsigned long long)w->written,
			       (unsigned long long)w->pending);
	size_t rest = (size_t)(w->written % BLOCK);
	w->pending = w->written = 0;
	return rest ? w->sink(w->ctx, zeros, BLOCK - rest, e) : 0;
}

/* width - 1 octal digits and a NUL, as ustar writers do (callers keep
 * v within them). */
static void octal(char *field, size_t width, unsigned long long v)
{
	field[width - 1] = 0;
	for (size_t i = width - 1; i-- > 0; v >>= 3)
		field[i] = (char)('0' + (v & 7));
}

/* Split path into ustar's prefix (up to 155) and name (up to 100) at a
 * slash; false when it cannot be. */
static bool split_name(const char *path, char name[100], char prefix[155])
{
	size_t n = strlen(path);
	memset(name, 0, 100);
	memset(prefix, 0, 155);
	if (n <= 100) {
		memcpy(name, path, n);
		return true;
	}
	for (size_t i = n < 156 ? n - 1 : 155; i > 0; i--)
		if (path[i] == '/' && n - i - 1 <= 100 && n - i - 1 > 0) {
			memcpy(prefix, path, i);
			memcpy(name, path + i + 1, n - i - 1);
			return true;
		}
	return false;
}

/* One pax record "LEN KEY=VALUE\n", LEN counting itself. */
static int pax_record(char **buf, size_t *len, const char *key, const void *val, size_t vlen)
{
	size_t body = 1 + strlen(key) + 1 + vlen + 1, digits = 1, total;
	for (;;) {
		total = body + digits;
		size_t d = snprintf(NULL, 0, "%zu", total);
		if (d == digits)
			break;
		digits = d;
	}
	char *nb = realloc(*buf, *len + total + 1);
	if (!nb)
		return -ENOMEM;
	char *p = nb + *len;
	p += sprintf(p, "%zu %s=", total, key);
	memcpy(p, val, vlen);
	p[vlen] = '\n';
	*buf = nb;
	*len += total;
	return 0;
}

static int raw_header(tarw *w, const char *path, char type, const tar_entry *en, uint64_t size, bool use_pax_name,
		      kb_error *e)
{
	unsigned char h[BLOCK] = { 0 };
	char name[100], prefix[155];
	if (!split_name(path, name, prefix) && !use_pax_name)
		return kb_errx(e, ENAMETOOLONG, "tar: %s: name too long", path);
	memcpy(h, name, 100);
	octal((char *)h + 100, 8, en->mode & 07777);
	octal((char *)h + 108, 8, en->uid > USTAR_MAX_ID ? 0 : en->uid);
	octal((char *)h + 116, 8, en->gid > USTAR_MAX_ID ? 0 : en->gid);
	octal((char *)h + 124, 12, size > USTAR_MAX_SIZE ? 0 : size);
	octal((char *)h + 136, 12, (unsigned long long)(en->mtime < 0 ? 0 : en->mtime));
	h[156] = (unsigned char)type;
	if (en->link && type == '2')
		strncpy((char *)h + 157, en->link, 100);
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memcpy(h + 345, prefix, 155);
	memset(h + 148, ' ', 8);
	unsigned sum = 0;
	for (size_t i = 0; i < BLOCK; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	h[155] = ' ';
	return w->sink(w->ctx, h, BLOCK, e);
}

/* The pax header of en, when it needs one: *ret NULL otherwise. */
static int pax_for(const tar_entry *en, const char *path, char **ret, size_t *ret_len)
{
	char name[100], prefix[155];
	char num[32];
	int r = 0;
	*ret = NULL;
	*ret_len = 0;
	if (!split_name(path, name, prefix))
		r = pax_record(ret, ret_len, "path", path, strlen(path));
	if (r == 0 && en->link && strlen(en->link) > 100)
		r = pax_record(ret, ret_len, "linkpath", en->link, strlen(en->link));
	if (r == 0 && en->size > USTAR_MAX_SIZE)
		r = pax_record(ret, ret_len, "size", num, (size_t)sprintf(num, "%llu", (unsigned long long)en->size));
	if (r == 0 && en->uid > USTAR_MAX_ID)
		r = pax_record(ret, ret_len, "uid", num, (size_t)sprintf(num, "%u", en->uid));
	if (r == 0 && en->gid > USTAR_MAX_ID)
		r = pax_record(ret, ret_len, "gid", num, (size_t)sprintf(num, "%u", en->gid));
	for (size_t i = 0; r == 0 && i < en->n_xattrs; i++) {
		_cleanup_free_ char *key = xasprintf("SCHILY.xattr.%s", en->xattrs[i].name);
		r = pax_record(ret, ret_len, key, en->xattrs[i].value, en->xattrs[i].len);
	}
	return r;
}

int tarw_header(tarw *w, const tar_entry *en, kb_error *e)
{
	_cleanup_free_ char *path = xasprintf("%s%s", en->path, en->type == '5' ? "/" : "");
	_cleanup_free_ char *pax = NULL;
	size_t pax_len;
	int r;

	if (!en->path[0] || en->path[0] == '/')
		return kb_errx(e, EINVAL, "tar: \"%s\": not a relative path", en->path);
	if ((r = pad(w, e)) < 0)
		return r;
	if (pax_for(en, path, &pax, &pax_len) < 0)
		return kb_err_oom(e, en->path);
	if (pax) {
		/* "<dir>/PaxHeaders/<base>", cut to fit: a name for people only. */
		const char *slash = strrchr(en->path, '/');
		_cleanup_free_ char *pname = slash ? xasprintf("%.*s/PaxHeaders/%s", (int)(slash - en->path), en->path, slash + 1)
						   : xasprintf("PaxHeaders/%s", en->path);
		if (strlen(pname) > 99)
			pname[99] = 0;
		tar_entry pe = { .mode = 0644, .mtime = en->mtime };
		if ((r = raw_header(w, pname, 'x', &pe, pax_len, true, e)) < 0 || (r = w->sink(w->ctx, pax, pax_len, e)) < 0)
			return r;
		w->pending = w->written = pax_len;
		if ((r = pad(w, e)) < 0)
			return r;
	}
	uint64_t size = en->type == '0' ? en->size : 0;
	if ((r = raw_header(w, path, en->type, en, size, pax != NULL, e)) < 0)
		return r;
	w->pending = size;
	w->written = 0;
	return 0;
}

int tarw_data(tarw *w, const void *p, size_t n, kb_error *e)
{
	if (w->written + n > w->pending)
		return kb_errx(e, EIO, "tar: more data than the entry's size");
	w->written += n;
	return w->sink(w->ctx, p, n, e);
}

int tarw_file_fd(tarw *w, const tar_entry *en, int fd, kb_error *e)
{
	char buf[1 << 16];
	int r = tarw_header(w, en, e);
	while (r == 0 && w->written < w->pending) {
		size_t want = w->pending - w->written < sizeof buf ? (size_t)(w->pending - w->written) : sizeof buf;
		ssize_t n = read(fd, buf, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return kb_err(e, errno, "%s", en->path);
		if (n == 0)
			return kb_errx(e, EIO, "%s: shorter than when it was looked at (%llu bytes, not %llu)", en->path,
				       (unsigned long long)w->written, (unsigned long long)w->pending);
		r = tarw_data(w, buf, (size_t)n, e);
	}
	if (r == 0 && read(fd, buf, 1) > 0)
		return kb_errx(e, EIO, "%s: longer than when it was looked at (%llu bytes)", en->path,
			       (unsigned long long)w->pending);
	return r;
}

int tarw_finish(tarw *w, kb_error *e)
{
	int r = pad(w, e);
	return r < 0 ? r : w->sink(w->ctx, zeros, sizeof zeros, e);
}

int fd_sink_flush(fd_sink *s, kb_error *e)
{
	int r = s->used ? write_all(s->fd, s->buf, s->used) : 0;
	s->used = 0;
	return r < 0 ? kb_err(e, -r, "write") : 0;
}

int fd_sink_write(void *ctx, const void *p, size_t n, kb_error *e)
{
	fd_sink *s = ctx;
	if (s->used + n > sizeof s->buf) {
		int r = fd_sink_flush(s, e);
		if (r < 0)
			return r;
		if (n > sizeof s->buf)
			return (r = write_all(s->fd, p, n)) < 0 ? kb_err(e, -r, "write") : 0;
	}
	memcpy(s->buf + s->used, p, n);
	s->used += n;
	return 0;
}
