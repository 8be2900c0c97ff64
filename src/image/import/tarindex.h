/* An index of the members of an uncompressed tar file, built by reading
 * only the headers (data is skipped by offset), so that an image archive
 * of any size can be read member by member with pread and its layers
 * unpacked in parallel without copying them out first.
 *
 * Understands ustar, GNU long names (L/K) and pax path/linkpath/size
 * records.  Member names are normalised (no leading "./" or "/", no
 * repeated slashes); names are lookup keys only and never touch the
 * filesystem. */
#pragma once
#include "base/util.h"
#include "runtime/error.h"

typedef enum { TM_FILE, TM_DIR, TM_SYMLINK, TM_HARDLINK, TM_OTHER } tm_type;

typedef struct tar_member {
	char *name;
	char *link;         /* symlink or hard link target, else NULL */
	tm_type type;
	uint64_t off;       /* offset of the data in the file */
	uint64_t size;
} tar_member;

typedef struct tar_index tar_index;

/* Index the tar file on fd.  Fails on a bad checksum, a member that runs
 * past the end of the file, or more than max_members members. */
int tar_index_build(int fd, size_t max_members, tar_index **ret, kb_error *e);
/* Find a member by name, following symlinks and hard links inside the
 * archive (at most 16 hops).  Returns NULL when absent. */
const tar_member *tar_index_find(const tar_index *t, const char *name);
size_t tar_index_count(const tar_index *t);
const tar_member *tar_index_at(const tar_index *t, size_t i);
void tar_index_free(tar_index *t);
static inline void tar_index_freep(tar_index **t) { tar_index_free(*t); }

/* Normalise a member path: strip "./" and leading "/", collapse "//",
 * drop "." components.  A ".." climbs one level lexically (names used as
 * lookup keys of the index), or with refuse_dotdot is refused (names that
 * will be made on disk: extract.c).  NULL with errno EPERM for a refused
 * "..", or one that climbs above the top; ENOMEM when out of memory. */
char *tar_path_clean(const char *p, bool refuse_dotdot);
/* True if the 512-byte block is a tar header with a valid checksum. */
bool tar_header_valid(const unsigned char blk[512]);
