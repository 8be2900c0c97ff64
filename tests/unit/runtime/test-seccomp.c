/* The last steps before exec: rt_caps_limit and rt_seccomp_apply.
 *
 * Both change the calling process for good, so every test forks a child
 * that enters a user namespace of its own (where it is root and holds all
 * capabilities, whoever runs the test), applies the limits and checks what
 * a sandboxed command would see.  The child reports each failed check as a
 * line on a pipe and exits 1; it exits 77 when user namespaces are not
 * available, which the parent turns into a cmocka skip.  Children end with
 * _exit: no cmocka, atexit or sanitizer work after the filter is in. */
#include "unit.h"
#include "runtime/caps.h"
#include "runtime/seccomp-filter.h"
#include "runtime/userns.h"

#include <linux/keyctl.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timex.h>
#include <time.h>

#ifndef __NR_clone3
#define __NR_clone3 435
#endif
#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup 425
#endif
#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#define SKIP_EXIT 77

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

static const char *errname(int e)
{
	const char *n = e ? strerrorname_np(e) : "success";
	return n ? n : "?";
}

/* r is a syscall's result (-1 and errno on failure). */
static void expect_errno_(const char *what, long r, int err, int want)
{
	int got = r < 0 ? err : 0;
	if (got != want)
		report("%s: expected %s, got %s", what, errname(want), errname(got));
}
#define EXPECT_ERRNO(call, want) do { errno = 0; long r_ = (long)(call); expect_errno_(#call, r_, errno, want); } while (0)
#define EXPECT_OK(call) EXPECT_ERRNO(call, 0)

/* "CapEff:\t000001ffffffffff" → value of the named line of
 * /proc/self/status, as hex (caps) or decimal (the others). */
static bool status_field(const char *name, int base, uint64_t *ret)
{
	char buf[4096], *p;
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	for (p = buf; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, name, strlen(name)) && p[strlen(name)] == ':') {
			*ret = strtoull(p + strlen(name) + 1, NULL, base);
			return true;
		}
	return false;
}

static void expect_status(const char *name, int base, uint64_t want)
{
	uint64_t v = 0;
	if (!status_field(name, base, &v))
		report("/proc/self/status has no %s", name);
	else if (v != want)
		report("%s: expected %#llx, got %#llx", name, (unsigned long long)want, (unsigned long long)v);
}

/* Enter a user namespace, limit capabilities (root or not inside) and,
 * unless caps_only, install the filters.  Exits the child on failure. */
static void limit(bool root_inside, bool caps_only)
{
	kb_error e = { 0 };
	if (rt_userns_enter_self(&e) < 0) {
		dprintf(report_fd, "%s", e.msg);
		_exit(SKIP_EXIT);
	}
	if (rt_caps_limit(root_inside, &e) < 0) {
		report("rt_caps_limit: %s", e.msg);
		_exit(1);
	}
	if (!caps_only && rt_seccomp_apply(&e) < 0) {
		report("rt_seccomp_apply: %s", e.msg);
		_exit(1);
	}
}

/* cmocka catches SIGSEGV, SIGILL, SIGBUS and others to report a crashed
 * test; a child forked to probe a feature (int $0x80 on a kernel without
 * ia32 emulation) must die of the signal instead, or it would return into
 * cmocka and run the rest of the suite. */
static void default_signals(void)
{
	sigset_t none;
	for (int sig = 1; sig < NSIG; sig++)
		(void)signal(sig, SIG_DFL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Run fn in a child with default signal handling; fail with its report,
 * or skip. */
static void in_child(void (*fn)(void))
{
	int p[2];
	char msg[4096] = "";
	size_t len = 0;
	ssize_t n;
	int st;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		default_signals();
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
	if (WIFEXITED(st) && WEXITSTATUS(st) == SKIP_EXIT) {
		fprintf(stderr, "# %s%s", msg, len && msg[len - 1] != '\n' ? "\n" : "");    /* the reason */
		skip();
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		/* On stderr in full: cmocka cuts long messages short. */
		fprintf(stderr, "%s%s", msg, len && msg[len - 1] != '\n' ? "\n" : "");
		fail_msg("child %s %d (its report is above)", WIFEXITED(st) ? "exited" : "killed by signal",
			 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	}
}

/* Run argv with stdout into buf; returns the wait status. */
static int run_capture(char *const argv[], char *buf, size_t size)
{
	int p[2], st = -1;
	size_t len = 0;
	ssize_t n;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	while (pid > 0 && len < size - 1 && (n = read(p[0], buf + len, size - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = 0;
	close(p[0]);
	if (pid > 0)
		waitpid(pid, &st, 0);
	return st;
}

/* ---- capabilities ---- */

static void child_caps_root(void)
{
	uint64_t mask = rt_caps_kept_mask(true);
	char out[4096];

	limit(true, true);
	expect_status("CapBnd", 16, mask);
	expect_status("CapPrm", 16, mask);
	expect_status("CapEff", 16, mask);
	expect_status("CapInh", 16, mask);
	expect_status("CapAmb", 16, 0);
	expect_status("NoNewPrivs", 10, 1);
	/* A second call (a nested runtime) must not fail for want of the
	 * capabilities the first one removed. */
	kb_error e = { 0 };
	int r = rt_caps_limit(true, &e);
	if (r < 0)
		report("second rt_caps_limit: %s", e.msg);
	/* What the command gets: for uid 0, execve makes permitted and
	 * effective equal to the bounding set. */
	char *const argv[] = { "/bin/cat", "/proc/self/status", NULL };
	if (run_capture(argv, out, sizeof out) != 0)
		report("cat /proc/self/status failed");
	char want[64];
	snprintf(want, sizeof want, "CapEff:\t%016llx", (unsigned long long)mask);
	if (!strstr(out, want))
		report("after execve: no \"%s\" in\n%s", want, out);
}

static void child_caps_user(void)
{
	uint64_t filters = 0;

	status_field("Seccomp_filters", 10, &filters);  /* 0, unless the test runs confined */
	limit(false, true);
	expect_status("CapBnd", 16, 0);
	expect_status("CapPrm", 16, 0);
	expect_status("CapEff", 16, 0);
	expect_status("CapInh", 16, 0);
	expect_status("CapAmb", 16, 0);
	expect_status("NoNewPrivs", 10, 1);
	/* With no capability at all, the filters still go in: seccomp(2)
	 * only asks for no_new_privs. */
	kb_error e = { 0 };
	int r = rt_seccomp_apply(&e);
	if (r < 0)
		report("rt_seccomp_apply without capabilities: %s", e.msg);
	expect_status("Seccomp", 10, 2);
	expect_status("Seccomp_filters", 10, filters + 2);
}

static void test_caps_root(_unused_ void **state) { in_child(child_caps_root); }
static void test_caps_user(_unused_ void **state) { in_child(child_caps_user); }

static void test_describe(_unused_ void **state)
{
	assert_int_equal(rt_caps_kept_mask(true), 0xa80405fbULL);
	assert_int_equal(rt_caps_kept_mask(false), 0);
	assert_contains(rt_caps_describe(true), "cap_chown,");
	assert_contains(rt_caps_describe(true), "cap_setfcap");
	assert_null(strstr(rt_caps_describe(true), "sys_admin"));
	assert_null(strstr(rt_caps_describe(true), "net_raw"));
	assert_string_equal(rt_caps_describe(false), "none");
}

/* ---- the filter ---- */

static void child_refused(void)
{
	int p[2];
	char c = 'x';
	struct timex tx = { 0 };
	struct timespec ts = { 0 };

	if (pipe(p) < 0)
		_exit(2);
	limit(true, false);
	expect_status("Seccomp", 10, 2);

	/* Each call here would succeed, or fail differently, without the
	 * filter (keyctl works, setns(0, 0) is EINVAL, TIOCSTI on a pipe is
	 * ENOTTY, …): EPERM shows the filter answered. */
	EXPECT_ERRNO(syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0), EPERM);
	EXPECT_ERRNO(syscall(SYS_add_key, "user", "kbns", "x", 1, KEY_SPEC_SESSION_KEYRING), EPERM);
	EXPECT_ERRNO(syscall(SYS_request_key, "user", "kbns", NULL, 0), EPERM);
	EXPECT_ERRNO(syscall(SYS_bpf, 0, NULL, 0), EPERM);
	EXPECT_ERRNO(syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0), EPERM);
	EXPECT_ERRNO(syscall(SYS_userfaultfd, 0), EPERM);
	EXPECT_ERRNO(syscall(SYS_kexec_load, 0, 0, NULL, 0), EPERM);
	EXPECT_ERRNO(syscall(SYS_init_module, NULL, 0, ""), EPERM);
	EXPECT_ERRNO(syscall(SYS_finit_module, -1, "", 0), EPERM);
	EXPECT_ERRNO(syscall(SYS_delete_module, "kbns", 0), EPERM);
	EXPECT_ERRNO(syscall(SYS_reboot, 0, 0, 0, NULL), EPERM);   /* bad magic: harmless anyway */
	EXPECT_ERRNO(syscall(SYS_swapon, "/nonexistent", 0), EPERM);
	EXPECT_ERRNO(syscall(SYS_settimeofday, NULL, NULL), EPERM);
	EXPECT_ERRNO(syscall(SYS_clock_settime, CLOCK_REALTIME, NULL), EPERM);
	EXPECT_ERRNO(adjtimex(&tx), EPERM);
	EXPECT_ERRNO(clock_getres(CLOCK_REALTIME, &ts), 0);
	EXPECT_ERRNO(syscall(SYS_acct, NULL), EPERM);
	EXPECT_ERRNO(syscall(SYS_syslog, 10, NULL, 0), EPERM);
	EXPECT_ERRNO(syscall(SYS_open_by_handle_at, -1, NULL, 0), EPERM);
	EXPECT_ERRNO(mount("none", "/tmp", "tmpfs", 0, NULL), EPERM);
	EXPECT_ERRNO(umount2("/tmp", MNT_DETACH), EPERM);
	EXPECT_ERRNO(syscall(SYS_pivot_root, ".", "."), EPERM);
	EXPECT_ERRNO(setns(0, 0), EPERM);
	EXPECT_ERRNO(sethostname("x", 1), EPERM);

	/* user namespaces, whatever other flags come with them */
	EXPECT_ERRNO(unshare(CLONE_NEWUSER), EPERM);
	EXPECT_ERRNO(unshare(CLONE_NEWUSER | CLONE_NEWNS), EPERM);
	long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, NULL, NULL, 0);
	if (pid == 0)
		_exit(0);
	expect_errno_("clone(CLONE_NEWUSER)", pid, errno, EPERM);
	if (pid > 0)
		waitpid((pid_t)pid, NULL, 0);

	/* terminal injection, also with junk in the upper half of the
	 * command (the kernel truncates it to 32 bits) */
	EXPECT_ERRNO(ioctl(p[0], TIOCSTI, &c), EPERM);
	EXPECT_ERRNO(syscall(SYS_ioctl, p[0], (1UL << 32) | TIOCSTI, &c), EPERM);
	EXPECT_ERRNO(ioctl(p[0], TIOCLINUX, &c), EPERM);
	EXPECT_ERRNO(socket(AF_VSOCK, SOCK_STREAM, 0), EPERM);
	EXPECT_ERRNO(syscall(SYS_socket, (1UL << 32) | AF_VSOCK, SOCK_STREAM, 0), EPERM);
}

static void child_enosys(void)
{
	limit(true, false);
	EXPECT_ERRNO(syscall(999), ENOSYS);
	/* glibc's posix_spawn and pthread_create try clone3 first and fall
	 * back on ENOSYS only */
	EXPECT_ERRNO(syscall(__NR_clone3, NULL, 0), ENOSYS);
	EXPECT_ERRNO(syscall(__NR_io_uring_setup, 0, NULL), ENOSYS);
	EXPECT_ERRNO(syscall(SYS_modify_ldt, 0, NULL, 0), ENOSYS);
	EXPECT_ERRNO(personality(READ_IMPLIES_EXEC), ENOSYS);
}

static void child_allowed(void)
{
	int p[2], st = -1;
	char buf[64];
	struct stat sb;

	limit(true, false);
	EXPECT_OK(getpid());
	EXPECT_OK(pipe2(p, O_CLOEXEC));
	EXPECT_OK(write(p[1], "hi", 2));
	EXPECT_OK(read(p[0], buf, sizeof buf));
	EXPECT_OK(ioctl(p[0], FIONREAD, &st));
	EXPECT_OK(fstat(p[0], &sb));
	EXPECT_OK(stat("/", &sb));
	EXPECT_OK(unshare(0));
	EXPECT_OK(unshare(CLONE_FILES));
	EXPECT_OK(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
	EXPECT_OK(personality(0xffffffff));
	EXPECT_OK(personality(PER_LINUX));
	EXPECT_OK(syscall(SYS_getrandom, buf, 8, 0));

	pid_t pid = fork();
	if (pid == 0)
		_exit(7);
	EXPECT_OK(pid);
	if (pid > 0 && (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 7))
		report("fork: child status %#x", st);

	/* A whole dynamically linked program and a shell pipeline work under
	 * the allow-list. */
	char out[256];
	char *const argv[] = { "/bin/sh", "-c", "echo hello | tr a-z A-Z; ls / >/dev/null", NULL };
	st = run_capture(argv, out, sizeof out);
	if (st != 0 || strcmp(out, "HELLO\n"))
		report("sh -c pipeline: status %#x, output \"%s\"", st, out);
}

static void test_refused(_unused_ void **state) { in_child(child_refused); }
static void test_enosys(_unused_ void **state) { in_child(child_enosys); }
static void test_allowed(_unused_ void **state) { in_child(child_allowed); }

#if defined(__x86_64__)
/* A system call through the i386 entry point, as a 32-bit program makes. */
static long int80(long nr, long a, long b, long c)
{
	long ret;
	__asm__ volatile("int $0x80"
			 : "=a"(ret)
			 : "a"(nr), "b"(a), "c"(b), "d"(c)
			 : "r8", "r9", "r10", "r11", "memory");
	return ret;
}

/* i386 numbers: getpid 20, keyctl 288. */
static void child_i386(void)
{
	/* A kernel without ia32 emulation (CONFIG_IA32_EMULATION off, or
	 * ia32_emulation=0) answers int $0x80 with SIGSEGV: probe in a child,
	 * which in_child left with default dispositions, and skip. */
	pid_t pid = fork();
	int st;
	if (pid == 0)
		_exit(int80(20, 0, 0, 0) > 0 ? 0 : 1);
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		report("no ia32 entry on this kernel (int $0x80 %s): skipped",
		       pid > 0 && WIFSIGNALED(st) ? strsignal(WTERMSIG(st)) : "failed");
		_exit(SKIP_EXIT);
	}

	limit(true, false);
	long r = int80(20, 0, 0, 0);
	if (r != getpid())
		report("i386 getpid: %ld", r);
	r = int80(288, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0);
	if (r != -EPERM)
		report("i386 keyctl: expected -EPERM, got %ld", r);
	r = int80(999, 0, 0, 0);
	if (r != -ENOSYS)
		report("i386 syscall 999: expected -ENOSYS, got %ld", r);
}

/* x32 is not in the filter: its calls kill the process. */
static void child_x32(void)
{
	limit(true, false);
	pid_t pid = fork();
	int st;
	if (pid == 0) {
		syscall(0x40000000 | SYS_getpid);
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		report("fork/wait failed");
	else if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGSYS)
		report("x32 getpid: expected death by SIGSYS, got status %#x", st);
}

static void test_i386(_unused_ void **state) { in_child(child_i386); }
static void test_x32(_unused_ void **state) { in_child(child_x32); }
#endif

/* The compiled form: checked before anything is installed, so the bad
 * cases can run in the test process itself. */
static void *blob;
static size_t blob_len;

static void child_blob(void)
{
	limit(true, true);
	kb_error e = { 0 };
	int r = rt_seccomp_load_bpf(blob, blob_len, &e);
	if (r < 0)
		report("rt_seccomp_load_bpf: %s", e.msg);
	expect_status("Seccomp", 10, 2);
	EXPECT_ERRNO(syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0), EPERM);
	EXPECT_ERRNO(syscall(999), ENOSYS);
}

static void test_blob(_unused_ void **state)
{
	kb_error e = { 0 };
	uint64_t before = 99, after = 99;
	int r[4];

	assert_int_equal(rt_seccomp_compile(&blob, &blob_len, &e), 0);
	assert_true(blob_len > 20 && blob_len < 64 * 1024);

	/* (the test itself may run under a filter: compare counts) */
	assert_true(status_field("Seccomp_filters", 10, &before));
	unsigned char *bad = malloc(blob_len);
	assert_non_null(bad);
	r[0] = rt_seccomp_load_bpf(blob, 10, &e);
	assert_contains(e.msg, "truncated");
	e = (kb_error){ 0 };
	r[1] = rt_seccomp_load_bpf(blob, blob_len - 8, &e);
	e = (kb_error){ 0 };
	memcpy(bad, blob, blob_len);
	bad[0] ^= 1;                                    /* magic */
	r[2] = rt_seccomp_load_bpf(bad, blob_len, &e);
	e = (kb_error){ 0 };
	memcpy(bad, blob, blob_len);
	bad[8] ^= 1;                                    /* architecture */
	r[3] = rt_seccomp_load_bpf(bad, blob_len, &e);
	free(bad);
	for (size_t i = 0; i < ARRAY_SIZE(r); i++)
		assert_int_equal(r[i], -EINVAL);
	assert_contains(e.msg, "another architecture");
	assert_true(status_field("Seccomp_filters", 10, &after));
	assert_int_equal(after, before);                /* nothing was installed */

	in_child(child_blob);
}

/* A teardown, so that a skip (which leaves the test early) frees it too. */
static int free_blob(_unused_ void **state)
{
	free(blob);
	blob = NULL;
	return 0;
}

static void test_cache_key(_unused_ void **state)
{
	char first[128];

	snprintf(first, sizeof first, "%s", rt_seccomp_cache_key());
	assert_string_equal(rt_seccomp_cache_key(), first);
	assert_true(strncmp(first, "seccomp-", 8) == 0);
	assert_contains(first, "-libseccomp");
	assert_null(strchr(first, '/'));                /* usable as a file name */
}

static void test_export(_unused_ void **state)
{
	char path[] = "/tmp/kbunit-pfc-XXXXXX";
	int fd = mkstemp(path);
	kb_error e = { 0 };
	char *text = NULL;
	size_t len;

	assert_true(fd >= 0);
	assert_int_equal(rt_seccomp_export_pfc(fd, &e), 0);
	assert_int_equal(read_file_at(AT_FDCWD, path, 1 << 20, &text, &len), 0);
	assert_contains(text, "the argument filter");
	assert_contains(text, "the allow-list");
	assert_contains(text, "action ERRNO(38)");   /* ENOSYS default */
	assert_contains(text, "filter for syscall \"keyctl\"");
	free(text);
	close(fd);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_describe),
		cmocka_unit_test(test_caps_root),
		cmocka_unit_test(test_caps_user),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_enosys),
		cmocka_unit_test(test_allowed),
#if defined(__x86_64__)
		cmocka_unit_test(test_i386),
		cmocka_unit_test(test_x32),
#endif
		cmocka_unit_test_teardown(test_blob, free_blob),
		cmocka_unit_test(test_cache_key),
		cmocka_unit_test(test_export),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
