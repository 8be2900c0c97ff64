/* Fuzz target: the listings a sync-in keeps in the state (snapshot.seen,
 * src/build/sync-seen.h), as the next command's sync-in reads them.  The
 * file is the user's own state, written by kbuild-ns, but a crash without
 * a journal can leave anything in it, and every record that passes the
 * load is used as a directory's listing, so the load must take nothing
 * that list_dir could not have made.
 *
 * Input: 32 bytes, the directory a lookup is made for (device, inode,
 * ctime seconds and nanoseconds, little-endian), then the records as
 * the area holds them.  The target writes them with seen_write (so the
 * header and its checksum are right, and the fuzzer reaches the checks
 * behind them), loads the file with seen_load, and looks up every string
 * the records hold, on both sides, with that stat.  A listing returned
 * must be one list_dir could give: names never empty, ".", ".." or with
 * a "/", types that getdents64 gives, sorted and each once. */
#include "fuzz/common.h"
#include "build/sync-seen.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

static sync_seen *seen;
static int dirfd_ = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	seen = seen_new();
	dirfd_ = open(fz_scratch("seen"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (!seen || dirfd_ < 0)
		fz_fail("cannot set up: the area or the scratch directory");
	return 0;
}

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void check_listing(const char *rel, const seen_entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *name = v[i].name;
		unsigned char t = v[i].type;
		if (!name[0] || !strcmp(name, ".") || !strcmp(name, "..") || strchr(name, '/'))
			fz_fail("listing of '%s': entry %zu has the name '%s'", rel, i, name);
		if (t != DT_FIFO && t != DT_CHR && t != DT_DIR && t != DT_BLK && t != DT_REG && t != DT_LNK &&
		    t != DT_SOCK)
			fz_fail("listing of '%s': '%s' has the type %u", rel, name, t);
		if (i > 0 && strcmp(v[i - 1].name, name) >= 0)
			fz_fail("listing of '%s': '%s' after '%s'", rel, name, v[i - 1].name);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 32 || size - 32 > (1 << 20))
		return 0;
	struct stat st = { .st_mode = S_IFDIR | 0755 };
	st.st_dev = (dev_t)le64(data);
	st.st_ino = (ino_t)le64(data + 8);
	st.st_ctim.tv_sec = (time_t)le64(data + 16);
	st.st_ctim.tv_nsec = (long)le64(data + 24);
	const char *body = (const char *)data + 32;
	size_t len = size - 32;
	if (seen_write(dirfd_, "seen", body, len) < 0)
		fz_fail("cannot write the file");
	seen_load(seen, dirfd_, "seen");
	seen_index *ix = seen_index_prev(seen);
	if (!ix)
		return 0;
	/* Every string in the records is a candidate path: the ones that
	 * are a record's are found. */
	size_t found = 0;
	for (const char *p = body, *end = body + len; p < end && found < 256;) {
		const char *z = memchr(p, 0, (size_t)(end - p));
		if (!z)
			break;
		for (int side = SEEN_SNAPSHOT; side <= SEEN_CHECKOUT; side++) {
			seen_entry *v = NULL;
			size_t n = 0;
			if (seen_lookup(ix, (seen_side)side, p, &st, &v, &n)) {
				check_listing(p, v, n);
				free(v);
				found++;
			}
		}
		p = z + 1;
	}
	seen_index_free(ix);
	return 0;
}
