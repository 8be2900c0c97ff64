/* The sandbox's seccomp policy (libseccomp).  Named seccomp-filter.h, not
 * seccomp.h: the build puts runtime/ on the include path, where a
 * seccomp.h would hide libseccomp's <seccomp.h>.
 *
 * The policy is an allow-list, as in current container runtimes: every
 * system call a build needs is listed by name; any other one fails with
 * ENOSYS, which programs read as "this kernel is too old" and fall back
 * (glibc retries clone3 as clone, moby/moby#42680).  Dangerous calls that
 * a program may try and must be told no fail with EPERM.  It is made of
 * two kernel filters (see seccomp-filter.c for why).  Functions return 0
 * or a negative errno with e naming the failing step. */
#pragma once
#include <stddef.h>
#include "error.h"

/* Compile the policy to the kernel's BPF form: both filters in one blob
 * (malloc'ed, *ret_len bytes, for free()).  This takes several
 * milliseconds (libseccomp turns ~800 rules for two ABIs into BPF), so a
 * caller may do it outside the sandbox and keep the result, e.g. in a
 * cache file named after rt_seccomp_cache_key().  The blob depends only
 * on this policy, libseccomp's version and the architecture. */
int rt_seccomp_compile(void **ret_blob, size_t *ret_len, kb_error *e);

/* Install a blob from rt_seccomp_compile in the calling thread (the
 * runtime is single threaded at this point, so no TSYNC): two seccomp(2)
 * calls, a few microseconds.  The blob is checked (magic, version,
 * architecture, sizes) since it may come from a file: -EINVAL if it is
 * not ours; the caller should then compile afresh.
 *
 * This must be the last step before execve, after rt_caps_limit: an
 * unprivileged process may install a filter only under no_new_privs (set
 * here too if it is not), and everything the runtime does afterwards is
 * subject to the policy.  Once installed the filters cannot be removed,
 * and every child inherits them.  If this fails the process may hold part
 * of the policy: it must not exec. */
int rt_seccomp_load_bpf(const void *blob, size_t len, kb_error *e);

/* rt_seccomp_compile and rt_seccomp_load_bpf in one call. */
int rt_seccomp_apply(kb_error *e);

/* A string that changes whenever the compiled blob would ("seccomp-<hash
 * of the policy>-arch<AUDIT_ARCH>-libseccomp<version>"), usable as a cache
 * file name.  Static storage. */
const char *rt_seccomp_cache_key(void);

/* Write the two filters, as libseccomp's pseudo filter code, to fd: for
 * `kbuild-ns doctor -v`, the man page and debugging. */
int rt_seccomp_export_pfc(int fd, kb_error *e);
