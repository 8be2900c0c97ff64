/* What every child process of the runtime does first: die with its
 * parent, and drop the file descriptors it inherited.
 *
 * The sandbox's init and command, the sync sandbox and the helpers that
 * work on files of subordinate ids are all children of kbuild-ns.  None
 * may outlive it (it holds the checkout's lock for them, and a build or a
 * sync must not run on unattended), and none may keep a descriptor kbuild-ns
 * inherited without close-on-exec: a shell redirect (`exec 7</`), a CI
 * runner, make's jobserver pipe, an IDE.  In the build, a directory fd is
 * the host's file system through /proc/self/fd/N, whatever the mount
 * namespace hides. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Close every file descriptor from 3 up except the n in keep (negative
 * entries and 0..2 are ignored; at most 8 are kept).  Uses close_range
 * (Linux 5.9); where the kernel or a seccomp profile refuses it, lists
 * /proc/self/fd, and without /proc closes every number below the fd
 * limit.  Allocates nothing and is async-signal-safe: usable in a child
 * that shares its parent's memory (CLONE_VM).  Returns 0, or -E2BIG for
 * more than 8 fds to keep. */
int rt_close_fds(const int *keep, size_t n);

/* Ask for SIGKILL when the parent dies (PR_SET_PDEATHSIG), then check
 * that it has not died already: the request covers only a death after
 * it, and one between fork and the request would leave the child running
 * on, orphaned.  The parent is identified by ppid, its pid as recorded
 * before the fork (the child shares its pid namespace), or else by
 * hup_fd, the read end of a pipe whose write end the parent alone holds
 * for as long as it lives (a child in a new pid namespace sees
 * getppid() == 0).  Returns false when the parent is gone: the child
 * should _exit at once.
 *
 * Test hook: with KBUILD_NS_TEST_PDEATH_WAIT=FILE in the environment,
 * the child first waits (up to a minute) until FILE exists, so that a
 * test can kill the parent inside the window. */
bool rt_die_with_parent(pid_t ppid, int hup_fd);
