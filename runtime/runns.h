/* The run's user namespace: the first sandbox of a run makes a user
 * namespace and writes its id maps, as it always did; the others (the
 * sync sandboxes, the build after the data layer's init, a release's
 * steps) join that one (rt_spec.userns, rt_isolate_in) instead of making
 * and mapping one of their own, and nest their own mount (pid, ipc, uts,
 * network) namespaces under it.
 *
 * So a subordinate range is mapped once per run, and a sync sandbox of a
 * range-mapped run reaches files of subordinate ids at the first try.
 *
 * Each sandbox keeps its own view: what a process can see is its mount
 * namespace's business, and the sandboxes of a run never work at the same
 * time as a command of another (the sync-in ends before the command
 * starts; the copy-out, made while the build runs, waits not dumpable
 * and starts its work after every process of the build's pid namespace
 * has died: isolate.h, rt_isolate_ahead).  The namespace is held by an fd of
 * /proc/PID/ns/user, which keeps it after the sandbox that made it is
 * gone. */
#pragma once
#include <stdbool.h>
#include <sys/types.h>
#include "error.h"

typedef struct rt_runns {
	int fd;                   /* the namespace, or -1 before the first sandbox */
	bool range_failed;        /* the helpers refused the range: it maps one id */
	kb_error range_err;       /* why */
} rt_runns;

#define RT_RUNNS_INIT { .fd = -1 }

/* Keep the user namespace of process pid (a sandbox's init whose maps
 * are written) as the run's, unless the run has one. */
void rt_runns_adopt(rt_runns *u, pid_t pid, bool range_failed, const kb_error *range_err);

/* Close the namespace's fd. */
void rt_runns_end(rt_runns *u);
