/* Host probes: can this machine run the sandbox, and if not, why not
 * and what exactly fixes it.  `kbuild-ns doctor` runs them all; `run`
 * asks rt_probe_advice() for the same advice when a sandbox step fails.
 *
 * The probes know nothing of images or Kubernetes.  Where a question can
 * be answered by trying (unshare, an overlay mount, a proc mount), they
 * try, in a forked child whose namespaces die with it, on temporary
 * directories that are removed again: a sysctl or a kernel version only
 * says what should happen, not what the kernel, a container runtime's
 * seccomp profile or an LSM really allow.  Sysctls are read to explain a
 * failure, never to predict one. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

typedef enum rt_probe_state {
	RT_PROBE_OK,
	RT_PROBE_NOTE,        /* works, with something worth knowing */
	RT_PROBE_PROBLEM,     /* kbuild-ns cannot work (or cannot work fully) */
	RT_PROBE_UNKNOWN,     /* could not be tried, e.g. it needs a user namespace */
} rt_probe_state;

typedef struct rt_probe {
	const char *id;       /* "userns", "overlay", ...: stable, also the test hook's names */
	rt_probe_state state;
	int errnum;           /* the errno that decided a PROBLEM, or 0 */
	char finding[320];    /* one line, no trailing newline */
	char fix[1536];       /* lines of prose and "  command" lines; "" when none */
} rt_probe;

/* The probes, in the order doctor prints them. */
typedef enum rt_probe_id {
	RT_PROBE_KERNEL,      /* kernel release: a note only, the other probes decide */
	RT_PROBE_USERNS,      /* unshare(CLONE_NEWUSER) and a single-id map */
	RT_PROBE_APPARMOR,    /* Ubuntu's kernel.apparmor_restrict_unprivileged_userns */
	RT_PROBE_XATTRS,      /* user.* xattrs and whiteouts on the state directory's filesystem */
	RT_PROBE_OVERLAY,     /* overlayfs with userxattr in a user namespace, upper on the state fs */
	RT_PROBE_LOWERDIR_PLUS, /* fsopen("overlay") + fsconfig("lowerdir+") */
	RT_PROBE_PROC,        /* a fresh proc mount in new user+pid+mount namespaces */
	RT_PROBE_OPENAT2,     /* openat2(2) with RESOLVE_IN_ROOT */
	RT_PROBE_SUBIDS,      /* newuidmap/newgidmap and an /etc/subuid, /etc/subgid range */
	RT_PROBE_COUNT
} rt_probe_id;

/* Run every probe.  dir is where the data lives (the state directory;
 * when it does not exist yet, its nearest existing parent is used, and
 * nothing is created there but a temporary directory that is removed
 * before returning).  out gets RT_PROBE_COUNT results in rt_probe_id
 * order.  The namespaces are made in a forked child, so the caller may
 * have threads; a child that does not answer within 3 s is killed and
 * its probes are reported unknown. */
void rt_probe_all(const char *dir, rt_probe out[RT_PROBE_COUNT]);

/* Advice for a failed sandbox step, the same text doctor prints as the
 * fix.  step is the failing step or the whole error message: it is
 * matched by the words in it ("clone", "unshare", "setgroups", "uid_map",
 * "gid_map", "overlay", "proc", "xattr", "openat2").  The cheap host
 * facts (sysctls, AppArmor) are read again to pick the cause.  Returns
 * NULL when there is nothing useful to add, else a string of one or
 * more newline-terminated lines, valid until the next call. */
const char *rt_probe_advice(int errnum, const char *step);

/* Test hook: KBUILD_NS_PROBE_FAIL=ID[,ID...] makes the named probes of
 * rt_probe_all behave as if the kernel had refused (EPERM, or ENOSYS,
 * EOPNOTSUPP, EINVAL where that is the telling errno), so the failure
 * paths and their fix texts can be tested on a healthy host; the finding
 * then ends in "[forced by KBUILD_NS_PROBE_FAIL]".  It never makes a
 * failing probe pass, and rt_probe_advice ignores it. */
#define RT_PROBE_FAIL_ENV "KBUILD_NS_PROBE_FAIL"
