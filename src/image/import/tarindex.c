/* The outer archive's member index (tarindex.h), from tar headers alone. */
#include "image/import/tarindex.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#define BLK 512
#define MAX_EXT (64 * 1024)    /* longest GNU long name or pax record we accept */

struct tar_index {
	tar_member *m;
	size_t n, cap;
};

static uint64_t tar_num(const unsigned char *p, size_t len, bool *ok)
{
	uint64_t v = 0;

	if (p[0] & 0x80) {            /* GNU base-256 */
		if (p[0] != 0x80) {      /* negative or too big for us */
			*ok = false;
			return 0;
		}
		for (size_t i = 1; i < len; i++) {
			if (v >> 56) {
				*ok = false;
				return 0;
			}
			v = (v << 8) | p[i];
		}
		return v;
	}
	size_t i = 0;
	while (i < len && (p[i] == ' ' || p[i] == 0))
		i++;
	for (; i < len && p[i] >= '0' && p[i] <= '7'; i++) {
		if (v >> 60) {
			*ok = false;
			return 0;
		}
		v = v * 8 + (uint64_t)(p[i] - '0');
	}
	return v;
}

bool tar_header_valid(const unsigned char b[BLK])
{
	unsigned sum = 0;
	bool ok = true;

	for (int i = 0; i < BLK; i++)
		sum += (i >= 148 && i < 156) ? ' ' : b[i];
	uint64_t want = tar_num(b + 148, 8, &ok);
	return ok && want == sum;
}

char *tar_path_clean(const char *p, bool refuse_dotdot)
{
	size_t len = strlen(p);
	char *out = malloc(len + 1);
	size_t o = 0;

	if (!out)
		return NULL;
	while (*p) {
		while (*p == '/')
			p++;
		const char *s = p;
		while (*p && *p != '/')
			p++;
		size_t n = (size_t)(p - s);
		if (n == 0 || (n == 1 && s[0] == '.'))
			continue;
		if (n == 2 && s[0] == '.' && s[1] == '.') {
			if (refuse_dotdot || o == 0) {
				free(out);
				errno = EPERM;
				return NULL;
			}
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
			continue;
		}
		if (o)
			out[o++] = '/';
		memcpy(out + o, s, n);
		o += n;
	}
	out[o] = 0;
	return out;
}

static int pread_full(int fd, void *buf, size_t n, uint64_t off)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ENODATA;
		got += (size_t)r;
	}
	return 0;
}

/* Parse pax records "LEN key=value\n" for path, linkpath and size. */
static void pax_parse(char *d, size_t n, char **path, char **link, uint64_t *size, bool *has_size)
{
	size_t i = 0;
	while (i < n) {
		char *end;
		unsigned long len = strtoul(d + i, &end, 10);
		/* len > n - i, not i + len > n: a length near ULONG_MAX would
		 * wrap the sum and index before the buffer. */
		if (len == 0 || end == d + i || *end != ' ' || len > n - i || d[i + len - 1] != '\n')
			return;
		char *kv = end + 1;
		d[i + len - 1] = 0;
		char *eq = strchr(kv, '=');
		if (eq) {
			*eq = 0;
			if (!strcmp(kv, "path")) {
				free(*path);
				*path = strdup(eq + 1);
			} else if (!strcmp(kv, "linkpath")) {
				free(*link);
				*link = strdup(eq + 1);
			} else if (!strcmp(kv, "size")) {
				*size = strtoull(eq + 1, NULL, 10);
				*has_size = true;
			}
		}
		i += len;
	}
}

static int add_member(tar_index *t, tar_member *m)
{
	if (t->n == t->cap) {
		size_t c = t->cap ? t->cap * 2 : 64;
		tar_member *nm = realloc(t->m, c * sizeof *nm);
		if (!nm)
			return -ENOMEM;
		t->m = nm;
		t->cap = c;
	}
	t->m[t->n++] = *m;
	return 0;
}

/* What extended headers (GNU L/K, pax x) say about the next member. */
typedef struct ext_hdr {
	char *name, *link;
	uint64_t size;
	bool has_size;
} ext_hdr;

static void ext_clear(ext_hdr *x)
{
	free(x->name);
	free(x->link);
	*x = (ext_hdr){ 0 };
}

/* Read an extended header's data (size bytes at data) into x. */
static int read_ext(int fd, char type, uint64_t size, uint64_t data, ext_hdr *x, kb_error *e)
{
	int r;
	if (size > MAX_EXT)
		return kb_errx(e, EINVAL, "archive: extended header too long");
	_cleanup_free_ char *d = malloc(size + 1);
	if (!d)
		return kb_err_oom(e, "archive");
	if ((r = pread_full(fd, d, size, data)) < 0)
		return kb_err(e, -r, "archive: read");
	d[size] = 0;
	if (type == 'x') {
		pax_parse(d, size, &x->name, &x->link, &x->size, &x->has_size);
		return 0;
	}
	char **slot = type == 'L' ? &x->name : &x->link;
	free(*slot);
	if (!(*slot = strndup(d, size)))
		return kb_err_oom(e, "archive");
	return 0;
}

/* The member a ustar header b (and the extended headers before it)
 * describes; m->name is NULL for a name that climbs above the top,
 * which is never a lookup target. */
static void member_of(const unsigned char *b, const ext_hdr *x, uint64_t data, uint64_t size, tar_member *m)
{
	char type = (char)b[156], name[257 + 155];
	if (x->name)
		name[0] = 0;
	else if (!memcmp(b + 257, "ustar\0", 6) && b[345])
		snprintf(name, sizeof name, "%.155s/%.100s", (const char *)b + 345, (const char *)b);
	else
		snprintf(name, sizeof name, "%.100s", (const char *)b);
	*m = (tar_member){ .name = tar_path_clean(x->name ? x->name : name, false), .off = data, .size = size };
	m->type = (type == '0' || type == 0 || type == '7') ? TM_FILE : type == '5' ? TM_DIR :
		  type == '2' ? TM_SYMLINK : type == '1' ? TM_HARDLINK : TM_OTHER;
	if (m->type == TM_SYMLINK || m->type == TM_HARDLINK) {
		char lk[101];
		snprintf(lk, sizeof lk, "%.100s", (const char *)b + 157);
		m->link = strdup(x->link ? x->link : lk);
		m->size = 0;
	}
}

/* The header at *off: check it, skip to the next one, and say where
 * its data is.  1 at the end of the archive. */
static int next_header(int fd, uint64_t file_size, uint64_t *off, unsigned char *b, const ext_hdr *x,
		       uint64_t *ret_data, uint64_t *ret_size, kb_error *e)
{
	static const unsigned char zero[BLK];
	bool ok = true;
	int r;

	if (*off + BLK > file_size)
		return 1;    /* missing end blocks: tolerated, as GNU tar does */
	if ((r = pread_full(fd, b, BLK, *off)) < 0)
		return kb_err(e, -r, "archive: read at offset %llu", (unsigned long long)*off);
	if (!memcmp(b, zero, BLK))
		return 1;
	if (!tar_header_valid(b))
		return kb_errx(e, EINVAL, "archive: bad tar header at offset %llu", (unsigned long long)*off);
	/* A pax size is the next member's: an extended header's own data
	 * (a second pax header, a GNU long name) has the size it says. */
	char type = (char)b[156];
	bool ext = type == 'x' || type == 'g' || type == 'L' || type == 'K';
	uint64_t size = x->has_size && !ext ? x->size : tar_num(b + 124, 12, &ok), data = *off + BLK;
	if (!ok || size > file_size || data + size > file_size)
		return kb_errx(e, EINVAL, "archive: member at offset %llu runs past the end of the file (truncated?)",
			       (unsigned long long)*off);
	*off = data + ((size + BLK - 1) / BLK) * BLK;
	*ret_data = data;
	*ret_size = size;
	return 0;
}

int tar_index_build(int fd, size_t max_members, tar_index **ret, kb_error *e)
{
	_cleanup_(tar_index_freep) tar_index *t = calloc(1, sizeof *t);
	unsigned char b[BLK];
	uint64_t off = 0, data = 0, size = 0;
	ext_hdr x = { 0 };
	struct stat st;
	int r;

	if (!t)
		return kb_err_oom(e, "tar index");
	if (fstat(fd, &st) < 0)
		return kb_err(e, errno, "archive");
	while ((r = next_header(fd, (uint64_t)st.st_size, &off, b, &x, &data, &size, e)) == 0) {
		char type = (char)b[156];
		if (type == 'L' || type == 'K' || type == 'x') {
			if ((r = read_ext(fd, type, size, data, &x, e)) < 0)
				break;
			continue;
		}
		if (type == 'g')
			continue;
		tar_member m;
		member_of(b, &x, data, size, &m);
		ext_clear(&x);
		if (!m.name) {
			free(m.link);
			continue;
		}
		if (t->n >= max_members || add_member(t, &m) < 0) {
			free(m.name);
			free(m.link);
			r = t->n >= max_members ? kb_errx(e, E2BIG, "archive: more than %zu members", max_members)
						: kb_err_oom(e, "tar index");
			break;
		}
	}
	ext_clear(&x);
	if (r < 0)
		return r;
	*ret = steal_ptr(t);
	return 0;
}

static const tar_member *find_exact(const tar_index *t, const char *name)
{
	/* Later members replace earlier ones of the same name, as in tar. */
	for (size_t i = t->n; i-- > 0;)
		if (!strcmp(t->m[i].name, name))
			return &t->m[i];
	return NULL;
}

const tar_member *tar_index_find(const tar_index *t, const char *name)
{
	_cleanup_free_ char *cur = tar_path_clean(name, false);

	for (int hop = 0; cur && hop < 16; hop++) {
		const tar_member *m = find_exact(t, cur);
		if (!m || (m->type != TM_SYMLINK && m->type != TM_HARDLINK))
			return m;
		char *next;
		if (m->type == TM_HARDLINK || m->link[0] == '/') {
			next = tar_path_clean(m->link, false);
		} else {
			const char *slash = strrchr(m->name, '/');
			_cleanup_free_ char *joined = slash ?
				xasprintf("%.*s/%s", (int)(slash - m->name), m->name, m->link) :
				xasprintf("%s", m->link);
			next = tar_path_clean(joined, false);
		}
		free(cur);
		cur = next;
	}
	return NULL;
}

size_t tar_index_count(const tar_index *t) { return t->n; }
const tar_member *tar_index_at(const tar_index *t, size_t i) { return i < t->n ? &t->m[i] : NULL; }

void tar_index_free(tar_index *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++) {
		free(t->m[i].name);
		free(t->m[i].link);
	}
	free(t->m);
	free(t);
}
