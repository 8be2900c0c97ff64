/* Fuzz target: the layer unpacker (extract_tar) and its path resolution,
 * as `image import` and `cache import` run it: the input is a layer
 * (a tar stream, plain or gzip- or zstd-compressed: the type is sniffed,
 * as for every layer) unpacked into an empty root.
 *
 * The harness checks the unpacker's promise itself (extract.h): nothing
 * outside the root is created, changed or removed, and no symlink is
 * followed out of it.  Beside the root lies a canary tree (files, a
 * directory, a symlink back into the root, a FIFO) that every layer
 * would love to reach: "../outside/secret", an absolute symlink to the
 * canary's real path, hard links to it.  Before and after each input,
 * every entry of the scratch directory other than the root is listed
 * with its inode, type, mode, link count, size, mtime and ctime (a
 * write, a chmod, a new hard link or an xattr all change one of them);
 * the two listings must be equal.  The process's working directory is
 * the canary directory, so that a stray relative path lands there too.
 *
 * KBFUZZ_SELFTEST=1 in the environment changes a canary file after each
 * layer, to show the check catching it.
 *
 * As in import, the unpacker runs as root of a user namespace that maps
 * only the caller when one can be made (whiteouts and opaque xattrs then
 * work); else with relaxed modes, as import does. */
#include "fuzz/common.h"
#include "image/import/extract.h"
#include "runtime/userns.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char *scratch;
static int scratchfd = -1;
static extract_opts opts;

/* Append one line per entry below dirfd (recursively, never following
 * symlinks), skipping the top-level name skip. */
static void list_tree(int dirfd, const char *prefix, const char *skip, char **buf, size_t *len, size_t *cap)
{
	DIR *d = opendir_at(dirfd);
	struct dirent *de;
	if (!d)
		fz_fail("opendir %s: %s", prefix, strerror(errno));
	while ((de = readdir(d))) {
		struct stat st;
		char line[PATH_MAX + 200];
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || (skip && !strcmp(de->d_name, skip)))
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			fz_fail("stat %s/%s: %s", prefix, de->d_name, strerror(errno));
		int n = snprintf(line, sizeof line, "%s/%s ino=%lu mode=%o nlink=%lu size=%lld mtime=%lld.%09ld ctime=%lld.%09ld\n",
				 prefix, de->d_name, (unsigned long)st.st_ino, st.st_mode, (unsigned long)st.st_nlink,
				 (long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
				 (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
		if (*len + (size_t)n + 1 > *cap) {
			*cap = (*len + (size_t)n + 1) * 2;
			if (!(*buf = realloc(*buf, *cap)))
				fz_fail("out of memory");
		}
		memcpy(*buf + *len, line, (size_t)n + 1);
		*len += (size_t)n;
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0)
				fz_fail("open %s/%s: %s", prefix, de->d_name, strerror(errno));
			char *p = xasprintf("%s/%s", prefix, de->d_name);
			list_tree(sub, p, NULL, buf, len, cap);
			free(p);
			close(sub);
		}
	}
	closedir(d);
}

/* Everything in the scratch directory but the root. */
static char *outside_state(void)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	if (!buf)
		fz_fail("out of memory");
	buf[0] = 0;
	struct stat st;
	if (fstat(scratchfd, &st) < 0)
		fz_fail("stat scratch: %s", strerror(errno));
	len = (size_t)snprintf(buf, cap, ". mode=%o nlink=%lu\n", st.st_mode, (unsigned long)st.st_nlink);
	list_tree(scratchfd, ".", "root", &buf, &len, &cap);
	return buf;
}

static void make_canary(void)
{
	char *abs_root = xasprintf("%s/root", scratch), *abs_secret = xasprintf("%s/outside/secret", scratch);
	if (mkdirat(scratchfd, "outside", 0755) < 0 || mkdirat(scratchfd, "outside/dir", 0755) < 0)
		fz_fail("canary: %s", strerror(errno));
	fz_write(scratchfd, "outside/secret", "SECRET\n", 7);
	fz_write(scratchfd, "outside/dir/file", "FILE\n", 5);
	fz_write(scratchfd, "secret", "SECRET\n", 7);
	if (symlinkat(abs_root, scratchfd, "outside/to-root") < 0 ||
	    symlinkat(abs_secret, scratchfd, "outside/abs-secret") < 0 ||
	    mkfifoat(scratchfd, "outside/fifo", 0644) < 0)
		fz_fail("canary: %s", strerror(errno));
	free(abs_root);
	free(abs_secret);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	kb_error ue = { 0 };
	/* Before any thread exists: unshare(CLONE_NEWUSER) needs that. */
	opts.relax_modes = rt_userns_enter_self(&ue) < 0;
	umask(0);
	scratch = fz_scratch("extract");
	scratchfd = open(scratch, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (scratchfd < 0)
		fz_fail("%s: %s", scratch, strerror(errno));
	make_canary();
	if (fchdir(scratchfd) < 0 || chdir("outside") < 0)
		fz_fail("chdir: %s", strerror(errno));
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	zstream *z = NULL;
	kb_error e = { 0 };
	extract_stats st;

	if (size > (1u << 20))
		return 0;
	if (mkdirat(scratchfd, "root", 0755) < 0)
		fz_fail("mkdir root: %s", strerror(errno));
	int rootfd = openat(scratchfd, "root", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		fz_fail("open root: %s", strerror(errno));
	char *before = outside_state();

	_cleanup_close_ int fd = fz_memfd(data, size);
	int r = zstream_open(&z, fd, 0, size, ZS_DETECT | ZS_HASH_IN | ZS_HASH_OUT, 64u << 20, "layer", &e);
	fz_check_error(r, &e, "zstream_open");
	if (r == 0) {
		r = extract_tar(z, rootfd, &opts, "layer sha256:fuzz", NULL, NULL, &st, &e);
		fz_check_error(r, &e, "extract_tar");
	}
	zstream_free(z);
	close(rootfd);
	/* KBFUZZ_SELFTEST=1: change the canary, to see the check catch it. */
	if (getenv("KBFUZZ_SELFTEST"))
		fz_write(scratchfd, "outside/secret", "CHANGED\n", 8);

	char *after = outside_state();
	if (strcmp(before, after))
		fz_fail("outside the root changed:\n--- before\n%s--- after\n%s", before, after);
	free(before);
	free(after);
	if ((r = rm_rf_at(scratchfd, "root")) < 0)
		fz_fail("removing the root: %s", strerror(-r));
	return 0;
}
