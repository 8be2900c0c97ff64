/* A tar writer for archives that must come out the same every time: the
 * layers and image archives of a release.  It writes what it is given,
 * in the order given (callers sort), as POSIX ustar headers, with a pax
 * extended header only where ustar cannot say it (a long name or link,
 * a size of 8 GiB or more, xattrs as SCHILY.xattr.NAME records), named
 * "<dir>/PaxHeaders/<name>" (no process id, unlike GNU tar's default).
 * Owner names are empty; the caller sets ids, modes and mtimes.  The
 * archive ends with two zero blocks and no further padding, as Go's
 * archive/tar and BuildKit end theirs.
 *
 * Bytes go to a sink: a function that takes them in order (a file, or
 * blobw, which hashes and compresses on the way). */
#pragma once
#include "base/util.h"
#include "runtime/error.h"

typedef int (*tar_sink_fn)(void *ctx, const void *p, size_t n, kb_error *e);

typedef struct tarw {
	tar_sink_fn sink;
	void *ctx;
	uint64_t pending;            /* data bytes the current entry still expects */
	uint64_t written;            /* data bytes written for it */
} tarw;

typedef struct tar_xattr {
	const char *name;            /* "security.capability" */
	const void *value;
	size_t len;
} tar_xattr;

typedef struct tar_entry {
	const char *path;            /* relative, no leading "/"; a directory without its trailing "/" */
	char type;                   /* '0' file, '5' directory, '2' symlink */
	unsigned mode;               /* permission bits (07777) */
	unsigned uid, gid;
	uint64_t size;               /* files only */
	long long mtime;
	const char *link;            /* symlinks: the target */
	const tar_xattr *xattrs;
	size_t n_xattrs;
} tar_entry;

void tarw_init(tarw *w, tar_sink_fn sink, void *ctx);
/* The header(s) of one entry; a file's size bytes follow through
 * tarw_data, then the next header (or tarw_finish) pads them. */
int tarw_header(tarw *w, const tar_entry *en, kb_error *e);
int tarw_data(tarw *w, const void *p, size_t n, kb_error *e);
/* A whole file entry whose data is read from fd (exactly en->size bytes:
 * a file that changed size meanwhile is an error naming en->path). */
int tarw_file_fd(tarw *w, const tar_entry *en, int fd, kb_error *e);
/* Pad the last entry and write the two zero blocks that end an archive. */
int tarw_finish(tarw *w, kb_error *e);

/* A sink that writes to a file descriptor through a buffer. */
typedef struct fd_sink {
	int fd;
	size_t used;
	char buf[1 << 16];
} fd_sink;
int fd_sink_write(void *ctx, const void *p, size_t n, kb_error *e);
int fd_sink_flush(fd_sink *s, kb_error *e);
