/* rt_isolate_in, rt_isolate_ahead and rt_isolate_go with the run's user
 * namespace (runtime/isolate.h, runtime/runns.h): the sync sandbox's
 * child joins the namespace the run kept, made at once or ahead of its
 * work.
 *
 * The run's namespace is made here as the build sandbox makes it: a
 * child cloned into a new user namespace, its one-id map written by the
 * parent, adopted while it lives.  Where user namespaces are not
 * available (probed once), each test says so and passes. */
#include "unit.h"
#include "runtime/isolate.h"
#include "runtime/runns.h"
#include "runtime/userns.h"

#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* What fn saw, in the shared area. */
typedef struct seen {
	int ran;                /* times fn ran */
	int value;              /* its arg's value then */
	int ro_errno;           /* creating a file in the read-only tree: the error */
	char userns[64];        /* readlink of /proc/self/ns/user */
} seen;

typedef struct targ {
	int value;
} targ;

static int fn(void *arg, const int *fds, void *shared, kb_error *e)
{
	const targ *a = arg;
	seen *s = shared;
	s->ran++;
	s->value = a->value;
	int fd = openat(fds[0], "x", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	s->ro_errno = fd < 0 ? errno : 0;
	if (fd >= 0)
		close(fd);
	if ((fd = openat(fds[1], "y", O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) < 0)
		return kb_err(e, errno, "create y");
	close(fd);
	(void)!readlink("/proc/self/ns/user", s->userns, sizeof s->userns - 1);
	return 0;
}

/* The run's namespace: its holder, the fd, and the name to compare. */
typedef struct fixture {
	pid_t holder;
	int hold_w;
	rt_runns ns;
	char userns[64];
	seen *s;                /* what fn saw, shared with the child */
	char *dir;              /* a/ (read-only to fn) and b/ */
	rt_iso_dir dirs[2];
	char a[128], b[128];
} fixture;

static int setup(void **state)
{
	fixture *r = calloc(1, sizeof *r);
	int p[2];
	kb_error e = { 0 };

	assert_non_null(r);
	*state = r;
	r->ns = (rt_runns)RT_RUNNS_INIT;
	assert_non_null(r->s = rt_iso_shared(sizeof *r->s));
	r->dir = tmpdir_new();
	snprintf(r->a, sizeof r->a, "%s/a", r->dir);
	snprintf(r->b, sizeof r->b, "%s/b", r->dir);
	assert_int_equal(mkdir(r->a, 0755), 0);
	assert_int_equal(mkdir(r->b, 0755), 0);
	r->dirs[0] = (rt_iso_dir){ .path = r->a, .ro = true };
	r->dirs[1] = (rt_iso_dir){ .path = r->b, .ro = false };
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	fflush(NULL);
	pid_t pid = (pid_t)syscall(SYS_clone, (unsigned long)CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid == 0) {
		char c;
		close(p[1]);
		while (read(p[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(p[0]);
	if (pid < 0) {
		print_message("# no user namespaces here (%s): rt_isolate_in is not tested\n", strerror(errno));
		close(p[1]);
		return 0;
	}
	r->holder = pid;
	r->hold_w = p[1];
	assert_int_equal(rt_userns_map_single(pid, getuid(), getgid(), &e), 0);
	rt_runns_adopt(&r->ns, pid, false, NULL);
	assert_true(r->ns.fd >= 0);
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/ns/user", (int)pid);
	assert_true(readlink(path, r->userns, sizeof r->userns - 1) > 0);
	return 0;
}

static int teardown(void **state)
{
	fixture *r = *state;
	rt_runns_end(&r->ns);
	if (r->holder > 0) {
		close(r->hold_w);
		assert_int_equal(waitpid(r->holder, NULL, 0), r->holder);
	}
	tmpdir_free(r->dir);
	rt_iso_shared_free(r->s, sizeof *r->s);
	free(r);
	return 0;
}

static bool exists(const char *dir, const char *name)
{
	struct stat st;
	char path[256];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	return stat(path, &st) == 0;
}

/* fn ran once, saw value, could not write the read-only tree but wrote
 * the other, in the run's namespace or (joined false) another one. */
static void ran_once(const fixture *r, int value, bool joined)
{
	const seen *s = r->s;
	assert_int_equal(s->ran, 1);
	assert_int_equal(s->value, value);
	assert_int_equal(s->ro_errno, EROFS);
	assert_false(exists(r->a, "x"));
	assert_true(exists(r->b, "y"));
	if (joined)
		assert_string_equal(s->userns, r->userns);
	else
		assert_string_not_equal(s->userns, r->userns);
}

/* rt_isolate_in in ns (the run's, or none): isolated, and as ran_once. */
static void isolate_in(const fixture *r, rt_runns *ns, int value, bool joined)
{
	targ t = { value };
	bool isolated = false;
	kb_error e = { 0 };
	assert_int_equal(rt_isolate_in(ns, r->dirs, 2, fn, &t, r->s, &isolated, &e), 0);
	assert_true(isolated);
	ran_once(r, value, joined);
}

/* The word to a child made ahead: isolated, and as ran_once. */
static void go(const fixture *r, rt_iso_ahead *a, int value, bool joined)
{
	bool isolated = false;
	kb_error e = { 0 };
	assert_int_equal(rt_isolate_go(a, true, &isolated, &e), 0);
	assert_true(isolated);
	ran_once(r, value, joined);
}

static void test_in_runns(void **state)
{
	fixture *r = *state;
	if (r->holder > 0)
		isolate_in(r, &r->ns, 1, true);
}

static void test_without_runns(void **state)
{
	fixture *r = *state;
	rt_runns none = RT_RUNNS_INIT;
	if (r->holder > 0)
		isolate_in(r, &none, 2, false);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Until pid has exited (a zombie, not yet reaped), at most 10 s. */
static bool wait_zombie(pid_t pid)
{
	char path[64], buf[256];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	for (int i = 0; i < 1000; i++) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
		if (fd >= 0)
			close(fd);
		if (n <= 0)
			return false;
		buf[n] = 0;
		const char *p = strrchr(buf, ')');
		if (p && p[1] == ' ' && p[2] == 'Z')
			return true;
		sleep_ms(10);
	}
	return false;
}

/* Made ahead: nothing runs before the word, fn sees its arg as it was
 * when the child was made, and the child is in the run's namespace. */
static void test_ahead_runs_on_the_word(void **state)
{
	fixture *r = *state;
	targ t = { 7 };
	rt_iso_ahead a;

	if (r->holder <= 0)
		return;
	rt_isolate_ahead(&a, &r->ns, r->dirs, 2, fn, &t, r->s);
	assert_true(a.pid > 0);
	t.value = 8;
	sleep_ms(100);
	assert_int_equal(r->s->ran, 0);
	assert_false(exists(r->b, "y"));
	go(r, &a, 7, true);
}

/* Not wanted after all: fn never runs, and the child is reaped. */
static void test_ahead_unused(void **state)
{
	fixture *r = *state;
	targ t = { 3 };
	rt_iso_ahead a;
	bool isolated = true;
	kb_error e = { 0 };

	if (r->holder <= 0)
		return;
	rt_isolate_ahead(&a, &r->ns, r->dirs, 2, fn, &t, r->s);
	pid_t pid = a.pid;
	assert_true(pid > 0);
	assert_int_equal(rt_isolate_go(&a, false, &isolated, &e), 0);
	assert_int_equal(r->s->ran, 0);
	assert_false(exists(r->b, "y"));
	assert_int_equal(waitpid(pid, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

/* A child that died waiting: the word cannot reach it, and the work is
 * done in a child made then. */
static void test_ahead_killed(void **state)
{
	fixture *r = *state;
	targ t = { 4 };
	rt_iso_ahead a;

	if (r->holder <= 0)
		return;
	rt_isolate_ahead(&a, &r->ns, r->dirs, 2, fn, &t, r->s);
	assert_true(a.pid > 0);
	assert_int_equal(kill(a.pid, SIGKILL), 0);
	assert_true(wait_zombie(a.pid));
	go(r, &a, 4, true);
}

/* Without the run's namespace nothing is made ahead; the go does it all,
 * in a namespace of its own. */
static void test_ahead_without_runns(void **state)
{
	fixture *r = *state;
	rt_runns none = RT_RUNNS_INIT;
	targ t = { 5 };
	rt_iso_ahead a;

	if (r->holder <= 0)
		return;
	rt_isolate_ahead(&a, &none, r->dirs, 2, fn, &t, r->s);
	assert_int_equal(a.pid, 0);
	go(r, &a, 5, false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_in_runns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_without_runns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ahead_runs_on_the_word, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ahead_unused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ahead_killed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ahead_without_runns, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
