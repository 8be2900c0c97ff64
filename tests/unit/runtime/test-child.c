/* rt_close_fds and rt_die_with_parent (runtime/child.h).
 *
 * rt_close_fds changes the calling process for good, so each case runs
 * in a forked child with default signal handling that reports failed
 * checks on a pipe.  The fallbacks are reached the way a host without
 * close_range would reach them: a seccomp filter answers ENOSYS to
 * close_range (Linux before 5.9, or a container's profile), and, for
 * the last resort, ENOENT to opening /proc/self/fd. */
#include "unit.h"
#include "runtime/child.h"

#include <seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#ifndef __NR_close_range
#define __NR_close_range 436
#endif

static int report_fd = -1;
static bool failed;

static void report(const char *fmt, ...) _printf_(1, 2);
static void report(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vdprintf(report_fd, fmt, ap);
	va_end(ap);
	dprintf(report_fd, "\n");
	failed = true;
}

/* Run fn in a child with default signal handling (cmocka's handlers
 * must not catch a crash there); fail with its report. */
static void in_child(void (*fn)(void))
{
	int p[2], st;
	char msg[4096] = "";
	size_t len = 0;
	ssize_t n;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		sigset_t none;
		for (int sig = 1; sig < NSIG; sig++)
			(void)signal(sig, SIG_DFL);
		sigemptyset(&none);
		(void)sigprocmask(SIG_SETMASK, &none, NULL);
		close(p[0]);
		report_fd = p[1];
		fn();
		_exit(failed ? 1 : 0);
	}
	close(p[1]);
	while (len < sizeof msg - 1 && (n = read(p[0], msg + len, sizeof msg - 1 - len)) > 0)
		len += (size_t)n;
	msg[len] = 0;
	close(p[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "%s", msg);
		fail_msg("child %s %d (its report is above)", WIFEXITED(st) ? "exited" : "killed by signal",
			 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	}
}

static bool is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

/* fds 10, 11, 40 and 900 (a directory, a file, a pipe's ends), none
 * close-on-exec, as a parent would leave them. */
static bool open_some(void)
{
	int p[2];
	if (pipe(p) < 0 || dup2(open("/", O_RDONLY | O_DIRECTORY), 10) < 0 || dup2(open("/dev/null", O_RDONLY), 11) < 0 ||
	    dup2(p[0], 40) < 0 || dup2(p[1], 900) < 0) {
		report("set-up: %s", strerror(errno));
		return false;
	}
	return true;
}

/* Close all but 11 and the report pipe, then check every fd below 1024. */
static void close_and_check(void)
{
	int keep[] = { 11, report_fd, -1, 1 };
	int r = rt_close_fds(keep, 4);
	if (r < 0)
		report("rt_close_fds: %s", strerror(-r));
	for (int fd = 0; fd < 1024; fd++) {
		bool want = fd <= 2 || fd == 11 || fd == report_fd;
		if (is_open(fd) != want)
			report("fd %d is %s", fd, want ? "closed" : "still open");
	}
}

static void child_close_range(void)
{
	if (open_some())
		close_and_check();
}

/* A filter answering errno e to syscall nr (and, when nr2 is not -1,
 * e2 to nr2); no_new_privs first, as an unprivileged process needs. */
static bool refuse(int nr, int e, int nr2, int e2)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	bool ok = ctx && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
		  seccomp_rule_add(ctx, SCMP_ACT_ERRNO((uint32_t)e), nr, 0) == 0 &&
		  (nr2 < 0 || seccomp_rule_add(ctx, SCMP_ACT_ERRNO((uint32_t)e2), nr2, 0) == 0) && seccomp_load(ctx) == 0;
	seccomp_release(ctx);
	if (!ok)
		report("cannot install the seccomp filter");
	return ok;
}

static void child_no_close_range(void)
{
	if (!open_some() || !refuse(__NR_close_range, ENOSYS, -1, 0))
		return;
	if (syscall(__NR_close_range, 1000, 1000, 0) == 0 || errno != ENOSYS)
		report("the filter does not answer ENOSYS to close_range");
	close_and_check();
}

static void child_no_proc(void)
{
	/* Every open answers ENOENT, /proc/self/fd included: the fallback
	 * of last resort closes every number below the fd limit. */
	struct rlimit rl = { 1024, 1024 };
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		report("setrlimit: %s", strerror(errno));
	if (!open_some() || !refuse(__NR_close_range, ENOSYS, __NR_openat, ENOENT))
		return;
	if (open("/proc/self/fd", O_RDONLY | O_DIRECTORY) >= 0 || errno != ENOENT)
		report("the filter does not answer ENOENT to opening /proc/self/fd");
	close_and_check();
}

static void child_too_many(void)
{
	int keep[9] = { 3, 4, 5, 6, 7, 8, 9, 10, 11 };
	if (rt_close_fds(keep, 9) != -E2BIG)
		report("9 fds to keep: not E2BIG");
	if (!is_open(report_fd))
		report("an fd was closed although the call was refused");
}

static void test_close_range(void **state)
{
	(void)state;
	in_child(child_close_range);
}

static void test_no_close_range(void **state)
{
	(void)state;
	in_child(child_no_close_range);
}

static void test_no_proc(void **state)
{
	(void)state;
	in_child(child_no_proc);
}

static void test_too_many(void **state)
{
	(void)state;
	in_child(child_too_many);
}

/* ---- rt_die_with_parent ---- */

static void child_parent_checks(void)
{
	int p[2];
	pid_t parent = getppid();

	if (!rt_die_with_parent(parent, -1))
		report("the live parent (by pid) counts as gone");
	if (rt_die_with_parent(parent + 1000000, -1))
		report("another pid counts as the parent");
	int sig = 0;
	if (prctl(PR_GET_PDEATHSIG, (unsigned long)&sig) < 0 || sig != SIGKILL)
		report("the parent-death signal is %d, not SIGKILL", sig);
	/* By pipe: alive while a write end is open, gone when none is. */
	if (pipe(p) < 0) {
		report("pipe: %s", strerror(errno));
		return;
	}
	if (!rt_die_with_parent(0, p[0]))
		report("the pipe's writer is open, yet the parent counts as gone");
	close(p[1]);
	if (rt_die_with_parent(0, p[0]))
		report("the pipe's writer is closed, yet the parent counts as alive");
	close(p[0]);
}

static void test_die_with_parent(void **state)
{
	(void)state;
	in_child(child_parent_checks);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_close_range),
		cmocka_unit_test(test_no_close_range),
		cmocka_unit_test(test_no_proc),
		cmocka_unit_test(test_too_many),
		cmocka_unit_test(test_die_with_parent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
