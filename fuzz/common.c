/* Helpers of the fuzz targets (common.h). */
#include "fuzz/common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

void fz_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("fuzz: INVARIANT BROKEN: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

void fz_check_error(int r, const kb_error *e, const char *call)
{
	if (r < 0 && !kb_err_set(e))
		fz_fail("%s returned %d (%s) without a message", call, r, strerror(-r));
	if (r >= 0 && kb_err_set(e))
		fz_fail("%s succeeded but left the message \"%s\"", call, e->msg);
	if (kb_err_set(e) && !memchr(e->msg, 0, sizeof e->msg))
		fz_fail("%s: message not terminated", call);
}

int fz_memfd(const void *data, size_t len)
{
	int fd = memfd_create("fuzz-input", MFD_CLOEXEC);
	if (fd < 0)
		fz_fail("memfd_create: %s", strerror(errno));
	if (len && write_all(fd, data, len) < 0)
		fz_fail("write to memfd: %s", strerror(errno));
	return fd;
}

void fz_write(int dirfd, const char *name, const void *data, size_t len)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0 || write_all(fd, data, len) < 0)
		fz_fail("write %s: %s", name, strerror(errno));
}

static char *scratch_dir;

static void scratch_remove(void)
{
	if (scratch_dir)
		(void)rm_rf_at(AT_FDCWD, scratch_dir);
}

char *fz_scratch(const char *target)
{
	const char *t = getenv("TMPDIR");
	char *d = xasprintf("%s/kbfuzz-%s-XXXXXX", t && *t ? t : "/tmp", target);
	if (!mkdtemp(d))
		fz_fail("mkdtemp %s: %s", d, strerror(errno));
	if (!scratch_dir) {
		scratch_dir = d;
		atexit(scratch_remove);
	}
	return d;
}

void fz_sections_split(const uint8_t *data, size_t size, size_t max, fz_sections *ret)
{
	*ret = (fz_sections){ 0 };
	ret->buf = malloc(size + 1);
	ret->v = calloc(max ? max : 1, sizeof *ret->v);
	if (!ret->buf || !ret->v)
		fz_fail("out of memory");
	memcpy(ret->buf, data, size);
	ret->buf[size] = 0;

	char *p = ret->buf, *end = ret->buf + size;
	fz_section cur = { .name = p + size, .data = p };    /* "" */
	for (;;) {
		/* The next "--- " at the start of a line. */
		char *h = NULL;
		for (char *q = cur.data; q + 4 <= end; q++)
			if ((q == cur.data || q[-1] == '\n') && !memcmp(q, "--- ", 4)) {
				h = q;
				break;
			}
		cur.len = (size_t)((h ? h : end) - cur.data);
		if (cur.len && cur.data[cur.len - 1] == '\n' && h)
			cur.len--;    /* the newline before "--- " is the separator's */
		if ((cur.len || cur.name[0]) && ret->n < max)
			ret->v[ret->n++] = cur;
		if (!h)
			break;
		char *nl = memchr(h, '\n', (size_t)(end - h));
		*h = 0;    /* the previous section's data is measured already */
		cur.name = h + 4;
		if (nl) {
			*nl = 0;
			cur.data = nl + 1;
		} else {
			cur.data = end;
		}
	}
}

void fz_sections_free(fz_sections *s)
{
	free(s->buf);
	free(s->v);
	*s = (fz_sections){ 0 };
}

static void tar_pad(int fd, size_t len)
{
	static const char zero[512];
	if (len % 512 && write_all(fd, zero, 512 - len % 512) < 0)
		fz_fail("tar write: %s", strerror(errno));
}

static void tar_header(int fd, const char *name, char type, uint64_t size, const char *link)
{
	unsigned char h[512] = { 0 };
	unsigned sum = 0;

	memcpy(h, name, strnlen(name, 100));
	snprintf((char *)h + 100, 8, "%07o", type == '5' ? 0755u : 0644u);
	snprintf((char *)h + 108, 8, "%07o", 0u);
	snprintf((char *)h + 116, 8, "%07o", 0u);
	snprintf((char *)h + 124, 12, "%011llo", (unsigned long long)size);
	snprintf((char *)h + 136, 12, "%011o", 1700000000u);
	h[156] = (unsigned char)type;
	if (link)
		memcpy(h + 157, link, strnlen(link, 100));
	memcpy(h + 257, "ustar\0" "00", 8);
	memset(h + 148, ' ', 8);
	for (int i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	if (write_all(fd, h, sizeof h) < 0)
		fz_fail("tar write: %s", strerror(errno));
}

void fz_tar_add(int fd, const char *name, char type, const void *data, size_t len, const char *link)
{
	if (strlen(name) > 100) {
		tar_header(fd, "././@LongLink", 'L', strlen(name) + 1, NULL);
		if (write_all(fd, name, strlen(name) + 1) < 0)
			fz_fail("tar write: %s", strerror(errno));
		tar_pad(fd, strlen(name) + 1);
	}
	tar_header(fd, name, type, len, link);
	if (len && write_all(fd, data, len) < 0)
		fz_fail("tar write: %s", strerror(errno));
	tar_pad(fd, len);
}

void fz_tar_end(int fd)
{
	static const char zero[1024];
	if (write_all(fd, zero, sizeof zero) < 0)
		fz_fail("tar write: %s", strerror(errno));
}

char *fz_text(const uint8_t *data, size_t size, size_t max)
{
	char *text = size <= max ? malloc(size + 1) : NULL;
	if (!text)
		return NULL;
	memcpy(text, data, size);
	text[size] = 0;
	return text;
}

char *fz_subst(const fz_section *s, fz_ref_fn ref, void *arg, size_t max, size_t *ret_len)
{
	size_t cap = s->len * 2 + 80, len = 0;
	char *out = malloc(cap);
	if (!out)
		fz_fail("out of memory");
	for (size_t i = 0; i < s->len; i++) {
		char c = s->data[i], buf[80];
		const char *put = NULL;
		if ((c == '@' || c == '%' || c == '#') && i + 1 < s->len) {
			char k = s->data[i + 1];
			size_t n = k >= '1' && k <= '9' ? (size_t)(k - '1') : k >= 'a' && k <= 'z' ? (size_t)(k - 'a') + 9
											     : SIZE_MAX;
			const kb_digest *d;
			size_t size;
			if (n != SIZE_MAX && ref(arg, n, &d, &size)) {
				if (c == '@')
					snprintf(buf, sizeof buf, "sha256:%s", d->hex);
				else if (c == '%')
					snprintf(buf, sizeof buf, "%s", d->hex);
				else
					snprintf(buf, sizeof buf, "%zu", size);
				put = buf;
				i++;
			}
		}
		size_t pl = put ? strlen(put) : 1;
		if (len + pl + 1 > cap) {
			cap = (len + pl + 1) * 2;
			if (cap > max || !(out = realloc(out, cap)))
				fz_fail("out of memory");
		}
		if (put)
			memcpy(out + len, put, pl);
		else
			out[len] = c;
		len += pl;
	}
	out[len] = 0;
	*ret_len = len;
	return out;
}
