/* The listings sync-in leaves for copy-out and the next sync-in
 * (sync-seen.h).
 *
 * The area is one shared mapping: a header, then records one after the
 * other, each reserved whole by one compare-and-swap on `used` so that
 * threads never share one.  A record is its header (seen_rec), the
 * directory's path and NUL, then per entry its type byte, name and NUL,
 * padded to 8 bytes.  MAP_NORESERVE: only the pages written are used.
 * The file is a header (seen_file) and the records as they are. */
#include "build/sync-seen.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/util.h"

typedef struct seen_area {
	_Atomic uint64_t used;      /* bytes of records */
	_Atomic uint32_t done;      /* the pass that wrote them finished */
	_Atomic uint32_t count;     /* records */
	char data[];
} seen_area;

struct sync_seen {
	seen_area *a;
	char *prev_file;            /* the previous command's file, mapped whole */
	size_t prev_file_len;
	const char *prev;           /* its records, checked */
	size_t prev_len, prev_count;
};

typedef struct seen_rec {
	uint32_t len;               /* the whole record, a multiple of 8 */
	uint32_t n;                 /* entries */
	uint32_t side;              /* seen_side */
	uint32_t same;              /* a snapshot record without entries: the checkout record's */
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
	if (s->prev_file)
		munmap(s->prev_file, s->prev_file_len);
	free(s);
}

/* Memory for len bytes, its pages made at once.  A page fault
 * costs ~12 us on a paravirtualised guest (1,280 of them were 16 ms for
 * 5 MB here, MADV_POPULATE_WRITE 2 ms), and a large tree's record is
 * several MB.  Kernels before 5.14 refuse the advice; then the pages
 * come one fault at a time, as without. */
static void populate(void *p, size_t len)
{
	(void)madvise(p, len, MADV_POPULATE_WRITE);
}

void seen_reset(sync_seen *s)
{
	/* This pass records about as much as the last: its pages made now,
	 * at once.  Here, in the process that writes them: a fork does not
	 * copy the page table entries of a shared mapping, so pages made in
	 * the parent would fault again in the child. */
	size_t want = sizeof *s->a + s->prev_len + s->prev_len / 8;
	if (s->prev)
		populate(s->a, want < SEEN_CAP ? want : SEEN_CAP);
	atomic_store(&s->a->done, 0);
	atomic_store(&s->a->used, 0);
	atomic_store(&s->a->count, 0);
}

bool seen_add(sync_seen *s, seen_side side, const char *rel, const struct stat *st, const seen_entry *v, size_t n,
	      bool same)
{
	if (same)
		n = 0;
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
	*(seen_rec *)p = (seen_rec){ .len = (uint32_t)len, .n = (uint32_t)n, .side = side, .same = same,
				     .dev = st->st_dev, .ino = st->st_ino,
				     .sec = st->st_ctim.tv_sec, .nsec = st->st_ctim.tv_nsec };
	atomic_fetch_add(&s->a->count, 1);
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

bool seen_finished(const sync_seen *s)
{
	return atomic_load(&s->a->done);
}

/* ---- the file ---- */

#define SEEN_MAGIC "kbseen3\n"

typedef struct seen_file {
	char magic[8];
	uint64_t len;               /* bytes of records after this header */
	uint64_t sum;               /* sum_of() of them */
} seen_file;

/* A torn or stale write is mostly caught by the checks in
 * check_records; this catches the rest of what a crash without a
 * journal can leave (zeroed or stale blocks), not a forgery.  Fletcher's
 * sums over 64-bit words: a few cycles a word (a multiply chain took 6
 * ms for 4.6 MB here). */
static uint64_t sum_of(const char *p, size_t len)
{
	uint64_t a = 1, b = 0, w;
	for (size_t i = 0; i + 8 <= len; i += 8) {
		memcpy(&w, p + i, 8);
		a += w;
		b += a;
	}
	return a ^ (b << 1 | b >> 63);
}

int seen_save(const sync_seen *s, uint64_t reused, int dirfd, const char *name)
{
	/* Every directory recorded was taken from the file, and it had no
	 * other: the same records, in another order.  No write.  (Were the
	 * sets to differ after all, the file would only be less useful: a
	 * record is checked against its directory each time it is used.) */
	uint32_t count = atomic_load(&s->a->count);
	if (!atomic_load(&s->a->done) || (s->prev && count == reused && count == s->prev_count))
		return 0;
	return seen_write(dirfd, name, s->a->data, atomic_load(&s->a->used));
}

int seen_write(int dirfd, const char *name, const void *records, size_t len)
{
	/* A cache, not synced to disk: what a crash leaves fails the checks
	 * of seen_load.  Written under the state's lock (write_file_replace). */
	seen_file h = { .magic = SEEN_MAGIC, .len = len, .sum = sum_of(records, len) };
	const struct iovec iov[2] = { { &h, sizeof h }, { (void *)records, len } };
	return write_file_replace(dirfd, name, iov, 2);
}

/* A name as getdents64 gives one: never empty, ".", ".." or with a "/",
 * so that a record can name nothing outside its directory. */
static bool plain_name(const char *p)
{
	return p[0] && strcmp(p, ".") && strcmp(p, "..") && !strchr(p, '/');
}

/* A type getdents64 gives on Linux; never DT_UNKNOWN (sync-seen.h). */
static bool known_type(unsigned char t)
{
	return t == DT_FIFO || t == DT_CHR || t == DT_DIR || t == DT_BLK || t == DT_REG || t == DT_LNK || t == DT_SOCK;
}

/* Every record whole, inside the buffer, its strings ended, and its
 * entries as list_dir (sync.c) makes a listing: plain names of known
 * types, sorted and each once, which the sync's merge of two listings
 * counts on.  How many records in *ret_count. */
static bool check_records(const char *data, size_t used, size_t *ret_count)
{
	*ret_count = 0;
	for (size_t at = 0; at < used; ++*ret_count) {
		const seen_rec *r = (const seen_rec *)(data + at);
		if (used - at < sizeof *r || r->len < sizeof *r || r->len % 8 || r->len > used - at ||
		    r->side > SEEN_CHECKOUT || r->same > (r->side == SEEN_SNAPSHOT && r->n == 0))
			return false;
		const char *p = (const char *)(r + 1), *end = data + at + r->len;
		const char *z = memchr(p, 0, (size_t)(end - p));
		if (!z)
			return false;
		p = z + 1;
		const char *last = NULL;
		for (uint32_t k = 0; k < r->n; k++) {
			if (end - p < 2 || !(z = memchr(p + 1, 0, (size_t)(end - p - 1))) || !known_type((unsigned char)*p) ||
			    !plain_name(p + 1) || (last && strcmp(last, p + 1) >= 0))
				return false;
			last = p + 1;
			p = z + 1;
		}
		at += r->len;
	}
	return true;
}

/* The whole file dirfd/name, when it is a regular file of at most max
 * bytes, mapped (*ret, *ret_len); false otherwise.  Mapped, not read:
 * copying a few MB cost as much as checking them here.  Nothing
 * truncates it while mapped: kbuild-ns holds the state's lock, and
 * replaces the file by a rename (seen_save). */
static bool map_whole(int dirfd, const char *name, size_t max, char **ret, size_t *ret_len)
{
	struct stat st;
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 || (uint64_t)st.st_size > max)
		return false;
	char *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
	if (p == MAP_FAILED)
		return false;
	*ret = p;
	*ret_len = (size_t)st.st_size;
	return true;
}

void seen_load(sync_seen *s, int dirfd, const char *name)
{
	char *buf = NULL;
	size_t len = 0;
	seen_file h;
	if (s->prev_file)
		munmap(s->prev_file, s->prev_file_len);
	s->prev_file = NULL;
	s->prev = NULL;
	s->prev_len = s->prev_count = 0;
	if (!map_whole(dirfd, name, sizeof h + DATA_CAP, &buf, &len))
		return;
	/* A mapping is page-aligned, and the header's 24 bytes keep records on 8. */
	const char *data = buf + sizeof h;
	if (len < sizeof h || (memcpy(&h, buf, sizeof h), memcmp(h.magic, SEEN_MAGIC, 8)) || h.len != len - sizeof h ||
	    h.len % 8 || sum_of(data, h.len) != h.sum || !check_records(data, h.len, &s->prev_count)) {
		munmap(buf, len);
		return;
	}
	s->prev_file = buf;
	s->prev_file_len = len;
	s->prev = data;
	s->prev_len = h.len;
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

static seen_index *index_of(const char *data, uint64_t used)
{
	size_t count = 0;
	for (uint64_t at = 0; at < used; at += ((const seen_rec *)(data + at))->len)
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
	for (uint64_t at = 0; at < used; at += ((const seen_rec *)(data + at))->len) {
		const seen_rec *r = (const seen_rec *)(data + at);
		size_t i = (hash(rec_rel(r)) ^ r->side) & ix->mask;
		while (ix->slot[i])
			i = (i + 1) & ix->mask;
		ix->slot[i] = r;
	}
	return ix;
}

seen_index *seen_index_new(const sync_seen *s)
{
	if (!s || !atomic_load(&s->a->done))
		return NULL;
	uint64_t used = atomic_load(&s->a->used);
	(void)madvise(s->a, sizeof *s->a + used, MADV_POPULATE_READ);    /* as populate(), for reading */
	return index_of(s->a->data, used);
}

seen_index *seen_index_prev(const sync_seen *s)
{
	if (!s || !s->prev)
		return NULL;
	/* A fork leaves the file mapping's page table entries behind too. */
	(void)madvise(s->prev_file, s->prev_file_len, MADV_POPULATE_READ);
	return index_of(s->prev, s->prev_len);
}

void seen_index_free(seen_index *ix)
{
	if (!ix)
		return;
	free(ix->slot);
	free(ix);
}

static const seen_rec *find(const seen_index *ix, seen_side side, const char *rel)
{
	const seen_rec *r;
	for (size_t i = (hash(rel) ^ side) & ix->mask; (r = ix->slot[i]); i = (i + 1) & ix->mask)
		if (r->side == side && !strcmp(rec_rel(r), rel))
			return r;
	return NULL;
}

bool seen_lookup(const seen_index *ix, seen_side side, const char *rel, const struct stat *st, seen_entry **ret_v,
		 size_t *ret_n)
{
	const seen_rec *r = find(ix, side, rel);
	if (!r || !S_ISDIR(st->st_mode) || r->dev != (uint64_t)st->st_dev || r->ino != (uint64_t)st->st_ino ||
	    r->sec != st->st_ctim.tv_sec || r->nsec != st->st_ctim.tv_nsec)
		return false;
	/* The entries are the checkout record's, written by the same job
	 * (whatever the checkout directory is now); without it, none. */
	if (r->same && !(r = find(ix, SEEN_CHECKOUT, rel)))
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
