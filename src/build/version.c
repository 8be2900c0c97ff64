/* The version step (version.h): a short sandbox that runs the tree's
 * hack/lib/version.sh on the host's checkout. */
#include "build/version.h"
#include "base/progress.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#define VERSION_DIR "/tmp/kbuild-ns-version"
#define VERSION_OUT VERSION_DIR "/version-defs"
#define MAX_VERSION_ENV 512

/* As build/common.sh: hack/lib/init.sh (which sources version.sh with
 * the rest of hack/lib), then the two functions.  $1 is KUBE_ROOT, $2 the
 * file to write.  /tmp is the sandbox's own tmpfs. */
static const char script[] =
	"export HOME=" VERSION_DIR "/home GIT_OPTIONAL_LOCKS=0\n"
	"mkdir -p \"$HOME\" || exit\n"
	"git config --global --add safe.directory '*' 2>/dev/null\n"
	"git config --global --add safe.directory \"$1\" 2>/dev/null\n"
	"unset KUBE_GIT_VERSION_FILE\n"
	"if [ -f \"$1/hack/lib/init.sh\" ]; then\n"
	"  source \"$1/hack/lib/init.sh\"\n"
	"else\n"
	"  KUBE_ROOT=$1\n"
	"  source \"$1/hack/lib/version.sh\"\n"
	"fi\n"
	"kube::version::get_version_vars\n"
	"kube::version::save_version_vars \"$2\"\n";

/* Host variables the version code reads, as upstream's scripts read them
 * on the host. */
static const char *const host_vars[] = {
	"KUBE_GIT_COMMIT", "KUBE_GIT_TREE_STATE", "KUBE_GIT_VERSION", "KUBE_GIT_MAJOR", "KUBE_GIT_MINOR", "KUBE_VERBOSE",
};

/* Is path at or below dir? */
static bool below(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	return !strncmp(path, dir, n) && (path[n] == '/' || !path[n]);
}

/* A git directory outside the checkout, that a worktree's or submodule's
 * ".git" file names, and its common directory (a worktree's objects and
 * refs) when that is elsewhere too: mounted at the same paths inside,
 * read-only, so that the ".git" file leads to them. */
static size_t git_dirs(const char *checkout, char *dirs[2])
{
	_cleanup_free_ char *gitfile = NULL, *common = NULL, *rel = NULL, *cfile = NULL, *crel = NULL;
	_cleanup_close_ int cfd = open(checkout, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;
	size_t n = 0;

	if (cfd < 0 || fstatat(cfd, ".git", &st, 0) < 0 || !S_ISREG(st.st_mode) ||
	    read_file_at(cfd, ".git", 4096, &gitfile, NULL) < 0 || strncmp(gitfile, "gitdir: ", 8))
		return 0;
	gitfile[strcspn(gitfile, "\n")] = 0;
	rel = gitfile[8] == '/' ? xstrdup(gitfile + 8) : xasprintf("%s/%s", checkout, gitfile + 8);
	char *gd = realpath(rel, NULL);
	if (!gd)
		return 0;
	cfile = xasprintf("%s/commondir", gd);
	char *cd = NULL;
	if (read_file_at(AT_FDCWD, cfile, 4096, &common, NULL) == 0) {
		common[strcspn(common, "\n")] = 0;
		crel = common[0] == '/' ? xstrdup(common) : xasprintf("%s/%s", gd, common);
		cd = realpath(crel, NULL);
	}
	if (cd && !below(cd, checkout))
		dirs[n++] = cd;
	else
		free(cd);
	if (!below(gd, checkout) && !(n && below(gd, dirs[0])))
		dirs[n++] = gd;
	else
		free(gd);
	return n;
}

static int env_add(char **env, size_t *n, char *entry)
{
	size_t kl = strcspn(entry, "=");
	for (size_t i = 0; i < *n; i++)
		if (!strncmp(env[i], entry, kl) && env[i][kl] == '=') {
			free(env[i]);
			env[i] = entry;
			return 0;
		}
	if (*n + 1 >= MAX_VERSION_ENV) {
		free(entry);
		return -E2BIG;
	}
	env[(*n)++] = entry;
	env[*n] = NULL;
	return 0;
}

static int version_run(const version_args *a, const char *out, kb_error *e)
{
	char *env[MAX_VERSION_ENV] = { NULL }, *gd[2] = { NULL, NULL };
	size_t n_env = 0, n_gd = git_dirs(a->checkout, gd);
	char *argv[] = { "/bin/bash", "-c", (char *)script, "kbuild-ns-version", (char *)a->root, VERSION_OUT, NULL };
	rt_bind binds[4] = {
		{ .src = a->checkout, .dst = a->root, .ro = true },
		{ .src = out, .dst = VERSION_OUT, .ro = false },
	};
	int r = env_add(env, &n_env, xstrdup("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
	int status = 0;

	for (size_t i = 0; i < n_gd; i++)
		binds[2 + i] = (rt_bind){ .src = gd[i], .dst = gd[i], .ro = true };
	for (size_t i = 0; r == 0 && i < a->n_image_env; i++)
		r = strchr(a->image_env[i], '=') ? env_add(env, &n_env, xstrdup(a->image_env[i])) : 0;
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(host_vars); i++)
		if (getenv(host_vars[i]))
			r = env_add(env, &n_env, xasprintf("%s=%s", host_vars[i], getenv(host_vars[i])));
	rt_spec s = *a->build;
	s.binds = binds;
	s.n_binds = 2 + n_gd;
	s.argv = argv;
	s.envp = env;
	s.cwd = a->root;
	s.fn = NULL;
	s.tty = s.net_host = false;
	/* The caller's own uid inside: git's index records it as the files'
	 * owner, so a matching owner spares git reading every file. */
	s.user_host = true;
	s.range = NULL;
	if (r == 0 && (r = rt_run(&s, &status, NULL, e)) < 0)
		kb_err_prefix(e, "version step");
	else if (r == 0 && status != 0)
		r = kb_errx(e, EIO, "version step: hack/lib/version.sh (kube::version::get_version_vars, "
			    "save_version_vars): exit status %d", status);
	else if (r < 0)
		r = kb_errx(e, -r, "version step: environment: more than %d variables", MAX_VERSION_ENV - 1);
	for (size_t i = 0; i < n_env; i++)
		free(env[i]);
	free(gd[0]);
	free(gd[1]);
	return r;
}

int version_put(const version_args *a, kb_error *e)
{
	const char *vf = a->file;
	size_t wl = strlen(a->root);
	_cleanup_free_ char *path = NULL;
	int r;

	if (!vf || (!a->step && !a->host_text))
		return 0;
	if (strncmp(vf, a->root, wl) || vf[wl] != '/' || !vf[wl + 1] || strchr(vf + wl + 1, '/')) {
		out_verbose("KUBE_GIT_VERSION_FILE %s is not a file at the top of %s: no version file", vf, a->root);
		return 0;
	}
	const char *name = vf + wl + 1;
	path = xasprintf("%s/%s", a->snapshot, name);
	_cleanup_close_ int sfd = open(a->snapshot, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0)
		return kb_err(e, errno, "%s", a->snapshot);
	if (a->host_text) {
		if ((r = write_file_atomic(sfd, name, a->host_text, a->host_len)) < 0)
			return kb_err(e, -r, "%s", path);
		return 0;
	}
	/* The step writes through a mount of this file. */
	_cleanup_close_ int fd = openat(sfd, name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return kb_err(e, errno, "%s", path);
	r = version_run(a, path, e);
	return r < 0 ? r : 1;
}
