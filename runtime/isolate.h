/* A short-lived sandbox for work done by our own code rather than by a
 * command: a child process in new user and mount namespaces, in which
 * the caller's uid and gid map to themselves, is handed detached clones
 * of some host directories, read-only where asked, and runs a function
 * on them.  The sync sandbox (sync-in and copy-out) is built on it: the
 * code that mirrors a tree cannot write to the tree it reads, whatever
 * bug it may have, and sees nothing of the host but the two trees.
 *
 * The child keeps none of the caller's file descriptors (child.h): fn
 * works on the directories it is handed.  Results travel back through a
 * shared anonymous mapping the caller sizes.  Where user namespaces are not available the function runs in
 * the calling process on plainly opened directories (*ret_isolated
 * false), so a host without them still builds. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include "sandbox.h"

#define RT_ISO_MAX_DIRS 8

typedef struct rt_iso_dir {
	const char *path;
	bool ro;
} rt_iso_dir;

/* fn gets one fd per dir (same order) and the shared area; it returns 0,
 * or a negative errno with e filled (e reaches the caller unchanged). */
typedef int (*rt_iso_fn)(void *arg, const int *fds, void *shared, kb_error *e);

/* Allocate a shared area of len bytes (zeroed), for rt_isolate. */
void *rt_iso_shared(size_t len);
void rt_iso_shared_free(void *p, size_t len);

/* With range (subordinate ids, mapped through newuidmap/newgidmap), root
 * inside is the caller and 1..N the range: for trees that hold files of
 * those ids.  NULL maps the caller's own ids only, and falls back to
 * running in process where user namespaces are missing.  Returns fn's
 * result, or a negative errno with err filled when the sandbox could not
 * be made. */
int rt_isolate(const rt_iso_dir *dirs, size_t n, const rt_idrange *range, rt_iso_fn fn, void *arg, void *shared,
	       bool *ret_isolated, kb_error *err);

/* The same in the run's user namespace (runns.h), whatever its maps:
 * only a mount namespace is made, under it.  Without one (ns NULL, or no
 * sandbox of the run has made it yet), as rt_isolate with range NULL. */
struct rt_runns;
int rt_isolate_in(struct rt_runns *ns, const rt_iso_dir *dirs, size_t n, rt_iso_fn fn, void *arg, void *shared,
		  bool *ret_isolated, kb_error *err);
/* The same, made ahead of its work: rt_isolate_ahead forks the child,
 * which joins the run's user namespace, makes its mount namespace and
 * clones the directories, then waits (not dumpable meanwhile); the
 * caller goes on, and rt_isolate_go gives it the word (run) and returns
 * fn's result as rt_isolate_in would, or ends it without running fn.
 * The sync sandbox's copy-out is made while the build runs.  arg and
 * shared, and the paths in dirs, must stay valid until rt_isolate_go;
 * fn sees arg as it was at rt_isolate_ahead.  Nothing fails at
 * rt_isolate_ahead: without the run's namespace, or if the child cannot
 * be made or dies waiting, rt_isolate_go does it all then. */
typedef struct rt_iso_ahead {
	pid_t pid;                  /* the waiting child, or 0 */
	int go_w;
	struct rt_runns *ns;
	rt_iso_dir dirs[RT_ISO_MAX_DIRS];
	size_t n;
	rt_iso_fn fn;
	void *arg, *shared;
} rt_iso_ahead;
void rt_isolate_ahead(rt_iso_ahead *a, struct rt_runns *ns, const rt_iso_dir *dirs, size_t n, rt_iso_fn fn,
		      void *arg, void *shared);
int rt_isolate_go(rt_iso_ahead *a, bool run, bool *ret_isolated, kb_error *err);
/* Run fn in a child process in a new user namespace where the caller is
 * root and ids 1..N are the subordinate range (newuidmap/newgidmap):
 * with the namespace's capabilities it may remove or change the files a
 * range-mapped sandbox left owned by subordinate ids, which the caller
 * alone cannot.  The child closes every fd from 3 up but keep_fd (one fn
 * works on; -1 for none).  Returns fn's result (0, or a negative errno
 * with err filled). */
int rt_call_mapped(const rt_idrange *range, int keep_fd, int (*fn)(void *arg, kb_error *e), void *arg,
		   kb_error *err);
