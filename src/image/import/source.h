/* What `image import PATH` reads from: an OCI layout directory, or a tar
 * file (docker save, OCI archive, root filesystem), possibly wrapped in
 * gzip or zstd.  A wrapped archive is inflated once into an anonymous
 * O_TMPFILE in the store's tmp/ (it vanishes if we are killed) so that
 * every member can then be read in place, in parallel, with pread. */
#pragma once
#include "image/import/tarindex.h"
#include "image/import/zstream.h"

typedef struct kb_hash_job kb_hash_job;

typedef struct kb_source {
	char *path;
	char *real_path;      /* absolute, for the image records */
	int file_fd;          /* the archive file as given (also when inflated), or -1 */
	kb_hash_job *hash;
	int dirfd;            /* layout directory, or -1 */
	int fd;               /* tar file (original or inflated copy), or -1 */
	uint64_t size;        /* size of the tar file */
	tar_index *idx;       /* NULL for a directory, or a tar with too many members */
	zs_kind wrapper;      /* compression around the whole archive */
} kb_source;

/* A byte range holding one member. */
typedef struct kb_span {
	int fd;
	bool own_fd;
	uint64_t off, len;
} kb_span;

/* Open PATH; tmpfd is the directory where an inflated copy may go. */
int source_open(const char *path, int tmpfd, kb_source **ret, kb_error *e);
/* Locate a member (a path relative to the layout or archive root). */
int source_find(kb_source *s, const char *name, kb_span *ret, kb_error *e);
/* Is the member there, in any form (a FIFO or a directory too: reading
 * it then fails with the reason)? */
bool source_has(kb_source *s, const char *name);
/* Read a small member whole (at most max bytes). */
int source_read(kb_source *s, const char *name, size_t max, char **ret, size_t *ret_len, kb_error *e);
/* Read blobs/sha256/<hex>, checking its digest and, if size is not
 * UINT64_MAX, its size. */
int source_read_blob(kb_source *s, const kb_digest *d, uint64_t size, size_t max,
		     char **ret, size_t *ret_len, kb_error *e);
/* The sha256 of the archive file, for the image records: hashed by a
 * thread at SCHED_IDLE, so it takes a core only when unpacking leaves one
 * idle.  wait returns 1 with the digest, 0 for a directory (no single
 * file to hash), or a negative errno. */
void source_hash_start(kb_source *s);
int source_hash_wait(kb_source *s, kb_digest *ret, kb_error *e);
void span_close(kb_span *sp);
void source_free(kb_source *s);
static inline void source_freep(kb_source **s) { source_free(*s); }
