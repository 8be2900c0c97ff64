/* Pull on demand (ondemand.h): the policy, and kbuild-ns-image as a
 * child process. */
#include "build/ondemand.h"
#include "base/progress.h"
#include "image/ref.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#define MAX_CHILD_ERROR 2048
/* "A few seconds" for a machine with no network: per connection. */
#define ONDEMAND_CONNECT_TIMEOUT "5"

int ondemand_policy(const build_opts *o, pull_policy *ret, kb_error *e)
{
	const char *env = getenv("KBUILD_NS_PULL");
	if (o->pull > 0) {
		*ret = (pull_policy)(o->pull - 1);
		return 0;
	}
	if (env && *env) {
		if (pull_policy_parse(env, ret) < 0)
			return kb_errx(e, EINVAL, "KBUILD_NS_PULL=%s: must be missing, never or always", env);
		return 0;
	}
	_cleanup_(regconf_freep) reg_conf *c = NULL;
	int r = regconf_load(NULL, &c, e);
	if (r < 0)
		return r;
	*ret = c->pull >= 0 ? (pull_policy)c->pull : PULL_MISSING;
	return 0;
}

/* The child: kbuild-ns-image pull, its failure written to fd 3. */
static void child(const char *const *argv, int efd)
{
	/* It writes into the store we read: it must not outlive us. */
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* Its progress shows; its result line (the image id) would mix with
	 * the build command's own output, so stdout goes to stderr. */
	if ((efd == 3 ? fcntl(3, F_SETFD, 0) < 0 : dup2(efd, 3) < 0) || dup2(2, 1) < 0)
		_exit(KB_EXIT_FAIL);
	execv(argv[0], (char *const *)argv);
	char msg[300];
	int n = snprintf(msg, sizeof msg, "%d cannot run %s: %s (set KBUILD_NS_LIBEXEC_DIR to the directory that "
			 "holds it)", EIO, argv[0], strerror(errno));
	(void)write_all(3, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
	_exit(KB_EXIT_FAIL);
}

/* Run argv; 0, or the child's failure ("ERRNO MESSAGE") in msg. */
static int run_child(const char *const *argv, char *msg, size_t len, kb_error *e)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0)
		return kb_err(e, errno, "pull: pipe");
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		close(fds[0]), close(fds[1]);
		return kb_err(e, errno, "pull: fork");
	}
	if (pid == 0) {
		close(fds[0]);
		child(argv, fds[1]);
	}
	close(fds[1]);
	size_t n = 0;
	ssize_t k;
	while (n + 1 < len && ((k = read(fds[0], msg + n, len - 1 - n)) > 0 || (k < 0 && errno == EINTR)))
		n += k > 0 ? (size_t)k : 0;
	msg[n] = 0;
	close(fds[0]);
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return kb_err(e, errno, "pull: waitpid");
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (!msg[0])
		snprintf(msg, len, "%d kbuild-ns-image %s %d", EIO, WIFSIGNALED(st) ? "killed by signal" : "exit status",
			 WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	return -EIO;
}

int ondemand_pull(const char *state_dir, const build_opts *o, const kb_profile *p, const char *ref, kb_error *e)
{
	_cleanup_free_ char *src = profile_pull_ref(p, o->image);
	const char *argv[24];
	size_t n = 0;
	char msg[MAX_CHILD_ERROR];
	image_ref pr;
	kb_error pe = { 0 };

	if (!o->image_helper)
		return kb_errx(e, ENOENT, "image %s: not found, and kbuild-ns-image (which pulls) is not known", ref);
	/* Stored under the full reference; under ref too when the build
	 * would not find it by that name. */
	_cleanup_free_ char *full = ref_parse(src, &pr, &pe) == 0 ? ref_name(&pr) : NULL;
	if (full)
		ref_clear(&pr);
	argv[n++] = o->image_helper;
	if (o->verbosity < 0)
		argv[n++] = "-q";
	for (int v = 0; v < o->verbosity && v < 4; v++)
		argv[n++] = "-v";
	argv[n++] = "--state-dir";
	argv[n++] = state_dir;
	argv[n++] = "pull";
	argv[n++] = src;
	if (full && !ref_name_matches(full, ref)) {
		argv[n++] = "--name";
		argv[n++] = ref;
	}
	argv[n++] = "--connect-timeout";
	argv[n++] = ONDEMAND_CONNECT_TIMEOUT;
	argv[n++] = "--error-fd";
	argv[n++] = "3";
	argv[n] = NULL;
	if (full && !strcmp(full, ref))
		out_status("Pulling %s (not in the store)", full);
	else
		out_status("Pulling %s (image %s is not in the store)", full ? full : src, ref);
	int r = run_child(argv, msg, sizeof msg, e);
	if (r == 0 || kb_err_set(e))
		return r;
	char *sp = strchr(msg, ' ');
	int errnum = (int)strtol(msg, NULL, 10);
	const char *why = sp ? sp + 1 : msg;
	if (errnum == ENETUNREACH)
		return kb_errx(e, ENETUNREACH, "image %s: not in the store, and its registry cannot be reached (offline?): "
			       "%s; import it instead: kbuild-ns image import ARCHIVE --name %s", ref, why, ref);
	return kb_errx(e, errnum > 0 ? errnum : EIO, "image %s: not in the store, and pulling %s failed: %s; "
		       "import it instead: kbuild-ns image import ARCHIVE --name %s", ref, full ? full : src, why, ref);
}
