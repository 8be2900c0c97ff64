/* The listings sync-in leaves for copy-out (sync-seen.h).
 *
 * The area is one shared mapping: a header, then records one after the
 * other, each reserved whole by one compare-and-swap on `used` so that
 * threads never share one.  A record is its header (seen_rec), the
 * directory's path and NUL, then per entry its type byte, name and NUL,
 * padded to 8 bytes.  MAP_NORESERVE: only the pages written are used. */
#include "build/sync-seen.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

typedef struct seen_area {
	_Atomic uint64_t used;      /* bytes of records */
	_Atomic uint32_t done;      /* the pass that wrote them finished */
	uint32_t pad;
	char data[];
} seen_area;

struct sync_seen {
	seen_area *a;
};

typedef struct seen_rec {
	uint32_t len;               /* the whole record, a multiple of 8 */
	uint32_t n;                 /* entries */
	uint64_t dev, ino;
	int64_t sec, nsec;          /* ctime */
} seen_rec;

#define DATA_CAP (SEEN_CAP - sizeof(seen_area))

sync_seen *seen_new(void)
{
	sync_seen *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	void *p = mmap(NULL, SEEN_CAP, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		free(s);
		return NULL;
	}
	s->a = p;
	return s;
}

void seen_free(sync_seen *s)
{
	if (!s)
		return;
	munmap(s->a, SEEN_CAP);
	free(s);
}

void seen_reset(sync_seen *s)
{
	atomic_store(&s->a->done, 0);
	atomic_store(&s->a->used, 0);
}

bool seen_add(sync_seen *s, const char *rel, const struct stat *st, const seen_entry *v, size_t n)
{
	size_t len = sizeof(seen_rec) + strlen(rel) + 1;
	for (size_t i = 0; i < n; i++)
		len += 2 + strlen(v[i].name);
	len = (len + 7) & ~(size_t)7;
	uint64_t at = atomic_load(&s->a->used);
	do {
		if (len > UINT32_MAX || at + len > DATA_CAP)
			return false;
	} while (!atomic_compare_exchange_weak(&s->a->used, &at, at + len));
	char *p = s->a->data + at;
	*(seen_rec *)p = (seen_rec){ .len = (uint32_t)len, .n = (uint32_t)n, .dev = st->st_dev, .ino = st->st_ino,
				     .sec = st->st_ctim.tv_sec, .nsec = st->st_ctim.tv_nsec };
	p += sizeof(seen_rec);
	p = stpcpy(p, rel) + 1;
	for (size_t i = 0; i < n; i++) {
		*p++ = (char)v[i].type;
		p = stpcpy(p, v[i].name) + 1;
	}
	return true;
}

void seen_done(sync_seen *s)
{
	atomic_store(&s->a->done, 1);
}

/* ---- the index: open addressing on the path ---- */

struct seen_index {
	const seen_rec **slot;
	size_t mask;
};

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;    /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static const char *rec_rel(const seen_rec *r)
{
	return (const char *)(r + 1);
}

seen_index *seen_index_new(const sync_seen *s)
{
	if (!s || !atomic_load(&s->a->done))
		return NULL;
	uint64_t used = atomic_load(&s->a->used);
	size_t count = 0;
	for (uint64_t at = 0; at < used; at += ((const seen_rec *)(s->a->data + at))->len)
		count++;
	if (!count)
		return NULL;
	size_t size = 16;
	while (size < 2 * count)
		size *= 2;
	seen_index *ix = calloc(1, sizeof *ix);
	if (!ix || !(ix->slot = calloc(size, sizeof *ix->slot))) {
		free(ix);
		return NULL;
	}
	ix->mask = size - 1;
	for (uint64_t at = 0; at < used; at += ((const seen_rec *)(s->a->data + at))->len) {
		const seen_rec *r = (const seen_rec *)(s->a->data + at);
		size_t i = hash(rec_rel(r)) & ix->mask;
		while (ix->slot[i])
			i = (i + 1) & ix->mask;
		ix->slot[i] = r;
	}
	return ix;
}

void seen_index_free(seen_index *ix)
{
	if (!ix)
		return;
	free(ix->slot);
	free(ix);
}

bool seen_lookup(const seen_index *ix, const char *rel, const struct stat *st, seen_entry **ret_v, size_t *ret_n)
{
	const seen_rec *r;
	for (size_t i = hash(rel) & ix->mask; (r = ix->slot[i]); i = (i + 1) & ix->mask)
		if (!strcmp(rec_rel(r), rel))
			break;
	if (!r || !S_ISDIR(st->st_mode) || r->dev != (uint64_t)st->st_dev || r->ino != (uint64_t)st->st_ino ||
	    r->sec != st->st_ctim.tv_sec || r->nsec != st->st_ctim.tv_nsec)
		return false;
	seen_entry *v = malloc((r->n ? r->n : 1) * sizeof *v);
	if (!v)
		return false;
	const char *p = rec_rel(r) + strlen(rec_rel(r)) + 1;
	for (uint32_t k = 0; k < r->n; k++) {
		v[k] = (seen_entry){ .type = (unsigned char)*p, .name = p + 1 };
		p += 2 + strlen(p + 1);
	}
	*ret_v = v;
	*ret_n = r->n;
	return true;
}
