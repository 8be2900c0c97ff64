/* Capabilities of the sandboxed command.  Inside its user namespace the
 * sandbox process starts with every capability (the creator of a user
 * namespace holds the full set in it, user_namespaces(7)); these helpers
 * cut that down to what a build needs just before exec.  The runtime
 * knows nothing of images: functions return 0 or a negative errno with
 * the error naming the step that failed. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "error.h"

/* Limit the calling process, as the last steps before seccomp and
 * execve, in this order:
 *   1. the bounding set is cut to the build set (root_inside) or emptied;
 *   2. ambient capabilities are cleared;
 *   3. effective, permitted and inheritable become the build set
 *      (root_inside) or empty (a non-root uid inside: --user host);
 *   4. no_new_privs is set.
 * Call it after any setresuid/setresgid/setgroups of the sandbox (those
 * need CAP_SETUID/CAP_SETGID, which step 3 may remove) and before
 * rt_seccomp_apply.  The build set is Docker's default set without
 * CAP_NET_RAW: chown, dac_override, fowner, fsetid, kill, setgid, setuid,
 * setpcap, net_bind_service, sys_chroot, mknod, audit_write, setfcap.
 * On failure e names the step ("capabilities: bounding set", …,
 * "no_new_privs") and the process may be half limited: the caller must
 * not exec. */
int rt_caps_limit(bool root_inside, kb_error *e);

/* The bounding set rt_caps_limit leaves, as the bit mask /proc/PID/status
 * shows in CapBnd (bit N = capability N): 0xa80405fb for root inside, 0
 * otherwise.  After execve, root's CapEff and CapPrm equal it too. */
uint64_t rt_caps_kept_mask(bool root_inside);

/* "cap_chown,cap_dac_override,..." (or "none"), for -v output. */
const char *rt_caps_describe(bool root_inside);
