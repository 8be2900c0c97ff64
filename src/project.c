#include "project.h"
#include "md5.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <jansson.h>
#include <time.h>

void project_free(kb_project *p)
{
	if (!p)
		return;
	if (p->lock_fd >= 0)
		close(p->lock_fd);
	if (p->dirfd >= 0)
		close(p->dirfd);
	free(p->checkout);
	free(p->branch);
	free(p->cross_tag);
	free(p->version);
	free(p->dir);
	free(p->state_dir);
	free(p);
}

void project_key(const char *s, char *out, size_t n)
{
	unsigned char md[MD5_LEN];
	static const char hx[] = "0123456789abcdef";

	md5_buf(s, strlen(s), md);
	for (size_t i = 0; i < n && i / 2 < MD5_LEN; i++)
		out[i] = hx[(md[i / 2] >> (i % 2 ? 0 : 4)) & 15];
	out[n] = 0;
}

/* The branch as `git symbolic-ref --short -q HEAD` prints it, read from
 * .git/HEAD directly (no git needed on the host); "" when detached. */
static char *read_branch(int dirfd)
{
	_cleanup_free_ char *head = NULL, *gitfile = NULL;
	_cleanup_close_ int gitdir = -1;
	struct stat st;

	if (fstatat(dirfd, ".git", &st, 0) < 0)
		return strdup("");
	if (S_ISDIR(st.st_mode)) {
		gitdir = openat(dirfd, ".git", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} else if (read_file_at(dirfd, ".git", 4096, &gitfile, NULL) == 0 && !strncmp(gitfile, "gitdir: ", 8)) {
		/* A worktree or submodule: ".git" names the real git dir. */
		gitfile[strcspn(gitfile, "\n")] = 0;
		gitdir = openat(dirfd, gitfile + 8, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (gitdir < 0 || read_file_at(gitdir, "HEAD", 4096, &head, NULL) < 0)
		return strdup("");
	head[strcspn(head, "\n")] = 0;
	if (strncmp(head, "ref: refs/heads/", 16))
		return strdup("");
	return strdup(head + 16);
}

/* A new version (a new cross tag, or a new state format) means a cold
 * build, as upstream deletes its old data containers: remove the other
 * versions of this key, unless a run holds one. */
static void drop_other_versions(const char *state_dir, const kb_project *p, int (*remove)(int, const char *))
{
	_cleanup_free_ char *pdir = xasprintf("%s/projects", state_dir);
	_cleanup_free_ char *mine = xasprintf("%s-%s", p->key, p->version);
	_cleanup_close_ int pfd = open(pdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = pfd >= 0 ? opendir_at(pfd) : NULL;
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, p->key, 10) || de->d_name[10] != '-' || !strcmp(de->d_name, mine))
			continue;
		_cleanup_free_ char *lk = xasprintf("%s/lock", de->d_name);
		_cleanup_close_ int lfd = openat(pfd, lk, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
		if (lfd >= 0 && flock(lfd, LOCK_EX | LOCK_NB) < 0)
			continue;    /* in use: the next run removes it */
		remove(pfd, de->d_name);
	}
	closedir(d);
}

int project_open(const char *state_dir, const char *checkout, bool create, int (*remove)(int, const char *),
		 kb_project **ret, kb_error *e)
{
	_cleanup_(project_freep) kb_project *p = calloc(1, sizeof *p);
	_cleanup_close_ int cfd = -1;
	char *tag = NULL;

	if (!p)
		return kb_err(e, ENOMEM, "project");
	p->dirfd = p->lock_fd = -1;
	p->checkout = realpath(checkout, NULL);
	if (!p->checkout)
		return kb_err(e, errno, "checkout %s", checkout);
	cfd = open(p->checkout, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cfd < 0)
		return kb_err(e, errno, "checkout %s", p->checkout);
	p->branch = read_branch(cfd);
	if (read_file_at(cfd, "build/build-image/cross/VERSION", 4096, &tag, NULL) == 0) {
		tag[strcspn(tag, " \t\r\n")] = 0;
		if (!tag[0] || strchr(tag, '/')) {
			free(tag);
			return kb_errx(e, EINVAL, "checkout %s: build/build-image/cross/VERSION does not hold a tag",
				       p->checkout);
		}
		p->cross_tag = tag;
		p->kube = true;
	}
	/* Upstream hashes bash's $HOSTNAME, which bash sets whether or not it
	 * is exported; take the kernel's name when the environment lacks it
	 * (cron, env -i), so the key does not change with the caller. */
	char hn[256] = "";
	const char *host = getenv("HOSTNAME");
	if (!host || !*host) {
		gethostname(hn, sizeof hn - 1);
		host = hn;
	}
	_cleanup_free_ char *in = xasprintf("%s:%s:%s", host, p->checkout, p->branch);
	project_key(in, p->key, 10);
	/* Upstream's version is VERSION_BASE-CROSS_TAG (build/common.sh):
	 * a change of either file means a cold build. */
	_cleanup_free_ char *base = NULL;
	if (p->cross_tag && read_file_at(cfd, "build/build-image/VERSION", 4096, &base, NULL) == 0) {
		base[strcspn(base, " \t\r\n")] = 0;
		if (!base[0] || strchr(base, '/'))
			return kb_errx(e, EINVAL, "checkout %s: build/build-image/VERSION does not hold a version",
				       p->checkout);
	}
	p->version = base ? xasprintf("%s-%s-%s", PROJECT_FORMAT, base, p->cross_tag)
			  : xasprintf("%s-%s", PROJECT_FORMAT, p->cross_tag ? p->cross_tag : "generic");
	p->dir = xasprintf("%s/projects/%s-%s", state_dir, p->key, p->version);
	p->state_dir = strdup(state_dir);
	if (!create) {
		/* status, clean, copy-output: look, do not make. */
		p->dirfd = open(p->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (p->dirfd < 0 && errno != ENOENT)
			return kb_err(e, errno, "state %s", p->dir);
		*ret = steal_ptr(p);
		return 0;
	}
	int r = mkdir_p_at(AT_FDCWD, p->dir, 0700);
	if (r == 0)
		drop_other_versions(state_dir, p, remove ? remove : rm_rf_at);
	if (r < 0)
		return kb_err(e, -r, "state %s", p->dir);
	p->dirfd = open(p->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (p->dirfd < 0)
		return kb_err(e, errno, "state %s", p->dir);
	*ret = steal_ptr(p);
	return 0;
}

/* The holder's pid, for kbuild-ns status (the lock itself is the flock). */
static int lock_held(kb_project *p)
{
	char pid[24];
	int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
	if (ftruncate(p->lock_fd, 0) == 0)
		(void)!pwrite(p->lock_fd, pid, (size_t)n, 0);
	return 0;
}

int project_lock(kb_project *p, bool wait, void (*notify)(const char *), kb_error *e)
{
	p->lock_fd = openat(p->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (p->lock_fd < 0)
		return kb_err(e, errno, "lock %s/lock", p->dir);
	/* The kernel refuses, or worse, misbehaves, if one upper/work pair is
	 * mounted twice at once (overlayfs.rst, "Sharing and copying layers"):
	 * one sandbox per checkout at a time. */
	if (flock(p->lock_fd, LOCK_EX | LOCK_NB) == 0)
		return lock_held(p);
	if (errno != EWOULDBLOCK)
		return kb_err(e, errno, "lock %s/lock", p->dir);
	if (!wait)
		return kb_errx(e, EBUSY, "checkout %s: in use by another kbuild-ns (--no-wait given)", p->checkout);
	if (notify) {
		_cleanup_free_ char *m = xasprintf("waiting for another kbuild-ns using %s", p->checkout);
		notify(m);
	}
	while (flock(p->lock_fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return kb_err(e, errno, "lock %s/lock", p->dir);
	return lock_held(p);
}

static void boot_id(char buf[64])
{
	/* Not read_file_at: a /proc file says its size is 0. */
	_cleanup_close_ int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, 63) : -1;
	buf[n > 0 ? n : 0] = 0;
	buf[strcspn(buf, "\n")] = 0;
}

/* The kernel's own mark of a volatile overlay: work/work/incompat/volatile,
 * made at mount and left behind at unmount; while it exists the kernel
 * refuses to mount the layer again (overlayfs.rst, "Volatile mount").
 * It is there while a sandbox uses the data layer and after one that
 * ended without project_done: a killed kbuild-ns, or a host crash.  Says
 * whether it is there; with drop, removes it. */
static bool volatile_mark(kb_project *p, bool drop)
{
	_cleanup_close_ int wfd = openat(p->dirfd, "work", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	bool found = false;

	if (wfd < 0)
		return false;
	if (fstatat(wfd, "incompat", &st, AT_SYMLINK_NOFOLLOW) == 0) {
		found = true;
		if (drop)
			rm_rf_at(wfd, "incompat");
	}
	if (fstatat(wfd, "work", &st, AT_SYMLINK_NOFOLLOW) < 0)
		return found;
	if ((st.st_mode & 0700) != 0700)
		fchmodat(wfd, "work", 0700, 0);    /* overlay leaves it mode 000 */
	_cleanup_close_ int wwfd = openat(wfd, "work", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (wwfd >= 0 && fstatat(wwfd, "incompat", &st, AT_SYMLINK_NOFOLLOW) == 0) {
		found = true;
		if (drop)
			rm_rf_at(wwfd, "incompat");
	}
	return found;
}

int project_prepare(kb_project *p, const char *idmap, bool *ret_reset, kb_error *e)
{
	static const char *const dirs[] = { "upper", "work", "root", "snapshot" };
	static const mode_t modes[] = { 0755, 0700, 0700, 0755 };    /* upper is the root's "/" */
	_cleanup_free_ char *mark = NULL;
	char boot[64];
	int r;

	*ret_reset = false;
	boot_id(boot);
	/* See project.h.  No mark at all is a new layer, or one from a
	 * kbuild-ns that removed its mark after each run. */
	bool have_mark = read_file_at(p->dirfd, "in-use", 64, &mark, NULL) == 0;
	bool this_boot = have_mark && !strcmp(mark, boot);
	if (have_mark && !this_boot && volatile_mark(p, false)) {
		if ((r = rm_rf_at(p->dirfd, "upper")) < 0 || (r = rm_rf_at(p->dirfd, "work")) < 0)
			return kb_err(e, -r, "state %s: reset after a crash", p->dir);
		unlinkat(p->dirfd, "ready", 0);
		*ret_reset = true;
	}
	_cleanup_free_ char *old = NULL;
	if (idmap[0] && read_file_at(p->dirfd, "idmap", 256, &old, NULL) == 0 && strcmp(old, idmap)) {
		if (strcmp(old, "single"))
			return kb_errx(e, EBUSY, "state %s: made with the id mapping %s, not %s; its files belong to "
				       "subordinate ids: remove it inside a user namespace (e.g. podman unshare rm -rf) or as root",
				       p->dir, old, idmap);
		if ((r = rm_rf_at(p->dirfd, "upper")) < 0 || (r = rm_rf_at(p->dirfd, "work")) < 0)
			return kb_err(e, -r, "state %s: reset for a new id mapping", p->dir);
		unlinkat(p->dirfd, "ready", 0);
		*ret_reset = true;
	}
	if (idmap[0] && (!old || strcmp(old, idmap)) &&
	    (r = write_file_atomic(p->dirfd, "idmap", idmap, strlen(idmap))) < 0)
		return kb_err(e, -r, "state %s/idmap", p->dir);
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
		if (mkdirat(p->dirfd, dirs[i], modes[i]) < 0 && errno != EEXIST)
			return kb_err(e, errno, "state %s/%s", p->dir, dirs[i]);
	/* Left by a kbuild-ns killed in this boot (whose writes the page
	 * cache still holds), or by one that removed in-use after each run;
	 * we hold the lock, so it may go. */
	volatile_mark(p, true);
	/* Once per boot, and durable (the file, then its name) before the
	 * overlay is mounted: after a crash the next boot must find it. */
	if (!this_boot && ((r = write_file_atomic(p->dirfd, "in-use", boot, strlen(boot))) < 0 ||
			   (r = fsync(p->dirfd) < 0 ? -errno : 0) < 0))
		return kb_err(e, -r, "state %s/in-use", p->dir);
	return 0;
}

void project_done(kb_project *p)
{
	volatile_mark(p, true);
}

/* ---- the data sandbox's init mark and record ---- */

bool project_ready(const kb_project *p)
{
	return faccessat(p->dirfd, "ready", F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

int project_reset_data(kb_project *p, kb_error *e)
{
	int r;
	/* "ready" goes first: a kill in the middle leaves an unready state,
	 * which the next run resets again. */
	unlinkat(p->dirfd, "ready", 0);
	if ((r = rm_rf_at(p->dirfd, "upper")) < 0 || (r = rm_rf_at(p->dirfd, "work")) < 0)
		return kb_err(e, -r, "state %s: reset the data layer", p->dir);
	if (mkdirat(p->dirfd, "upper", 0755) < 0 || mkdirat(p->dirfd, "work", 0700) < 0)
		return kb_err(e, errno, "state %s: reset the data layer", p->dir);
	return 0;
}

int project_mark_ready(kb_project *p, const char *profile, kb_error *e)
{
	int r = write_file_atomic(p->dirfd, "ready", profile, strlen(profile));
	return r < 0 ? kb_err(e, -r, "state %s/ready", p->dir) : 0;
}

int project_write_meta(kb_project *p, const char *image, const char *image_id, const char *command, int status)
{
	json_t *j = json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s?, s:i, s:I}", "checkout", p->checkout, "branch",
			      p->branch, "version", p->version, "image", image, "image_id", image_id, "last_command",
			      command, "last_status", status, "last_time", (json_int_t)time(NULL));
	if (!j)
		return -ENOMEM;
	_cleanup_free_ char *text = json_dumps(j, JSON_INDENT(2));
	json_decref(j);
	if (!text)
		return -ENOMEM;
	/* Information only: through a temporary name (never half a file)
	 * but without the fsync write_file_atomic pays on every run. */
	_cleanup_close_ int fd = openat(p->dirfd, "meta.json.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if (write_all(fd, text, strlen(text)) < 0 || renameat(p->dirfd, "meta.json.tmp", p->dirfd, "meta.json") < 0) {
		int r = -errno;
		unlinkat(p->dirfd, "meta.json.tmp", 0);
		return r;
	}
	return 0;
}
