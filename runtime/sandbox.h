/* The build sandbox: one process tree in new user, mount, pid, ipc and
 * uts namespaces (and a new network namespace unless the host network is
 * asked for), with an overlayfs root, a fresh /proc, a minimal /dev, our
 * own pid 1, and capabilities, no_new_privs and seccomp applied just
 * before the command is executed.  Where the kernel refuses a fresh /proc
 * (a container runtime masked parts of it), the pid namespace is left
 * out and the outer /proc bound read-only instead (rt_info.proc_bound).
 *
 * The runtime knows nothing of images or of Kubernetes: the caller hands
 * it a list of directories and a command. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "error.h"
#include "userns.h"

typedef struct rt_bind {
	const char *src;         /* host path */
	const char *dst;         /* absolute path inside */
	bool ro;                 /* read-only, submounts included */
} rt_bind;

typedef struct rt_spec {
	const char *const *lowers;   /* overlay lower layers, top first */
	size_t n_lowers;
	const char *upper, *work;    /* persistent overlay upper and work dirs */
	const char *rootdir;         /* an empty directory to build the root on */
	/* Instead of the overlay: a directory used as the root itself, bound
	 * on rootdir (lowers, upper and work are then not used).  For a state
	 * directory on overlayfs, which the kernel refuses as an upper layer
	 * (mounts.c, mount_plain_root). */
	const char *plain_root;
	const rt_bind *binds;
	size_t n_binds;
	char *const *argv;
	char *const *envp;
	const char *cwd;             /* inside */
	const char *hostname;
	bool user_host;              /* run as the caller's uid:gid, not root */
	bool net_host;               /* share the host network namespace */
	bool no_seccomp;
	const void *seccomp_bpf;     /* compiled policy (rt_seccomp_compile), or NULL */
	size_t seccomp_len;
	bool tty;                    /* give the command its own pty */
	bool volatile_upper;         /* overlay "volatile": no sync at unmount */
	const struct rt_idrange *range;  /* subordinate ids to map as 1..N (root mode), or NULL */
	/* The run's user namespace (runns.h): when it has one, the sandbox
	 * joins it and makes only the other namespaces, under it (user_host
	 * and range were the first sandbox's business, not read); when not,
	 * the sandbox makes one as without it and, its maps written, it
	 * becomes the run's.  NULL: a user namespace of its own, kept by
	 * nobody (a sandbox whose ids differ, as the version step's). */
	struct rt_runns *userns;
	/* Instead of a command: a function of ours, run as root inside on
	 * the finished root (after pivot_root, before capabilities and
	 * seccomp).  It returns 0, or a negative errno with e filled. */
	int (*fn)(void *arg, kb_error *e);
	void *fn_arg;
	/* Work the command must wait for, done by the caller's process
	 * while init builds the root, so that both run at once (on two
	 * cores): called once init has its id maps; the command starts only
	 * after it returned 0.  A failure ends the sandbox before the command
	 * starts, and rt_run returns it.  Signals reach the caller's process
	 * as outside rt_run meanwhile (SIGCHLD excepted). */
	int (*before_start)(void *arg, kb_error *e);
	void *before_arg;
	/* Work of the caller's that may run beside the command: called once
	 * the command has been let go (its maps written, before_start done),
	 * with signals as for before_start; it cannot fail the sandbox.  Called
	 * again if the sandbox is made again proc-bound. */
	void (*after_start)(void *arg);
	void *after_arg;
	uid_t uid;                   /* the caller's ids outside */
	gid_t gid;
} rt_spec;

typedef struct rt_info {
	bool proc_bound;             /* this /proc is masked (as in a container): no pid namespace of
				      * our own, the outer /proc bound read-only */
	bool range_failed;           /* the subordinate range could not be mapped: single id used */
	kb_error range_err;          /* why */
} rt_info;

/* Run the sandbox to completion.  Returns 0 and the command's exit status
 * in *ret_status (KB_EXIT_SIGNAL+N when killed by signal N), or a negative
 * errno with err filled when the sandbox could not be made or the command
 * not executed; err->code is then KB_EXIT_FAIL, KB_EXIT_CANNOT_EXEC or
 * KB_EXIT_NOT_FOUND. */
int rt_run(const rt_spec *s, int *ret_status, rt_info *info, kb_error *err);
