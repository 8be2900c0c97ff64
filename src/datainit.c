#include "datainit.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static int failm(char *msg, size_t len, int errnum, const char *what)
{
	snprintf(msg, len, "init of the data layer: %s: %s", what, strerror(errnum));
	return -errnum;
}

/* Write path inside the sandbox's root, replacing what is there (a
 * symlink too: /etc/localtime is one in Debian images). */
static int put_file(const char *path, const void *data, size_t n, mode_t mode)
{
	unlink(path);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	if (write_all(fd, data, n) < 0 || fchmod(fd, mode) < 0)
		return -errno;
	return 0;
}

/* mkdir -p, then the exact mode (the umask would trim 01777). */
static int make_dir(const char *path, mode_t mode)
{
	int r = mkdir_p_at(AT_FDCWD, path, 0755);
	if (r < 0)
		return r;
	return chmod(path, mode) < 0 ? -errno : 0;
}

int datainit_run(void *arg, char *msg, size_t len)
{
	const datainit *d = arg;
	static const char gitconfig[] = "[user]\n\temail = nobody@k8s.io\n\tname = kube-build-image\n";
	int r;

	if ((r = make_dir(d->workdir, 0755)) < 0)
		return failm(msg, len, -r, d->workdir);
	if (!d->kube)
		return 0;
	/* build/build-image/Dockerfile, in its order: the marker scripts test
	 * for, a world-writable /var/run/kubernetes for integration tests,
	 * the system git identity, the host's timezone; kube-cross's sticky
	 * TMPDIR.  /usr/local/go/pkg and $GOPATH are not made world-writable:
	 * the build is root here (or the caller's own id with --user host,
	 * which owns every file of the layers), and a recursive chmod would
	 * copy the whole toolchain up into the data layer. */
	if ((r = put_file("/kube-build-image", "", 0, 0644)) < 0)
		return failm(msg, len, -r, "/kube-build-image");
	if ((r = make_dir("/var/run/kubernetes", 0777)) < 0)
		return failm(msg, len, -r, "/var/run/kubernetes");
	if ((r = make_dir("/tmp.k8s", 01777)) < 0)
		return failm(msg, len, -r, "/tmp.k8s");
	if ((r = make_dir("/etc", 0755)) < 0 || (r = put_file("/etc/gitconfig", gitconfig, sizeof gitconfig - 1, 0644)) < 0)
		return failm(msg, len, -r, "/etc/gitconfig");
	if (d->localtime && (r = put_file("/etc/localtime", d->localtime, d->localtime_len, 0644)) < 0)
		return failm(msg, len, -r, "/etc/localtime");
	return 0;
}
