/* Capabilities, no_new_privs (caps.h): what the command keeps. */
#include "caps.h"

#include <errno.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>

/* What a build run as root inside needs: Docker's default set
 * (moby oci/caps/defaults.go) without CAP_NET_RAW, which a build has no use
 * for (raw sockets only matter for ping and packet capture).  Everything
 * else is dropped: among them CAP_SYS_ADMIN (mount, new namespaces other
 * than user ones), CAP_SYS_PTRACE (so the non-dumpable init cannot be
 * attached), CAP_NET_ADMIN, CAP_SYS_MODULE, CAP_SYS_TIME, CAP_SYS_RAWIO,
 * CAP_BPF, CAP_PERFMON, CAP_DAC_READ_SEARCH (open_by_handle_at).  Inside a
 * user namespace these only act on objects the namespace owns, but they
 * widen the kernel surface a build can reach. */
static const struct {
	cap_value_t cap;
	const char *name;
} build_caps[] = {
	{ CAP_CHOWN, "cap_chown" },                       /* install -o, tar -p, dpkg */
	{ CAP_DAC_OVERRIDE, "cap_dac_override" },         /* root ignores file modes */
	{ CAP_FOWNER, "cap_fowner" },                     /* chmod/utime of others' files */
	{ CAP_FSETID, "cap_fsetid" },                     /* keep setgid bits across writes and chmod */
	{ CAP_KILL, "cap_kill" },                         /* signal any process of the sandbox */
	{ CAP_SETGID, "cap_setgid" },                     /* su, package maintainer scripts */
	{ CAP_SETUID, "cap_setuid" },
	{ CAP_SETPCAP, "cap_setpcap" },                   /* lets the command drop more itself */
	{ CAP_NET_BIND_SERVICE, "cap_net_bind_service" }, /* test servers on ports < 1024 */
	{ CAP_SYS_CHROOT, "cap_sys_chroot" },             /* debootstrap, chroot-based tools */
	{ CAP_MKNOD, "cap_mknod" },                       /* checked by tools; real devices need init-ns root */
	{ CAP_AUDIT_WRITE, "cap_audit_write" },           /* login tools log to audit */
	{ CAP_SETFCAP, "cap_setfcap" },                   /* setcap in packaging steps */
};

static bool is_build_cap(cap_value_t c)
{
	for (size_t i = 0; i < sizeof build_caps / sizeof build_caps[0]; i++)
		if (build_caps[i].cap == c)
			return true;
	return false;
}

uint64_t rt_caps_kept_mask(bool root_inside)
{
	uint64_t m = 0;

	if (!root_inside)
		return 0;
	for (size_t i = 0; i < sizeof build_caps / sizeof build_caps[0]; i++)
		m |= UINT64_C(1) << build_caps[i].cap;
	return m;
}

const char *rt_caps_describe(bool root_inside)
{
	static char buf[320];

	if (!root_inside)
		return "none";
	if (!buf[0])
		for (size_t i = 0; i < sizeof build_caps / sizeof build_caps[0]; i++) {
			if (i)
				strcat(buf, ",");
			strcat(buf, build_caps[i].name);
		}
	return buf;
}

/* Step 1.  The bounding set is per thread, inherited across fork and kept
 * across execve, and can only shrink.  It bounds what any later execve can
 * put in the permitted set; for uid 0 (without SECBIT_NOROOT) execve acts
 * as if the file had every capability, so P'(permitted) = P(inheritable) |
 * P(bounding): for root inside, the bounding set *is* the set the command
 * gets.  PR_CAPBSET_DROP needs CAP_SETPCAP in the caller's user namespace,
 * which is why this comes before step 3 (that may remove CAP_SETPCAP).
 * We walk every capability the running kernel knows (cap_max_bits() reads
 * /proc/sys/kernel/cap_last_cap), not only those our headers name, so a
 * capability added by a newer kernel is dropped too. */
static int limit_bounding(bool root_inside)
{
	cap_value_t max = cap_max_bits();

	for (cap_value_t c = 0; c < max; c++) {
		if (root_inside && is_build_cap(c))
			continue;
		int in = cap_get_bound(c);
		if (in < 0)             /* unknown to this kernel */
			continue;
		if (in == 0)            /* already gone (nested sandbox): no CAP_SETPCAP needed */
			continue;
		if (cap_drop_bound(c) < 0)
			return -errno;
	}
	return 0;
}

/* Step 3.  capset(2): permitted can only shrink, effective must be a
 * subset of permitted, inheritable may only hold capabilities that are in
 * the bounding set.  We ask for the build set intersected with what we hold
 * now, so a caller that already has less (a sandbox in a container) is not
 * refused with EPERM. */
static int set_process_caps(bool root_inside)
{
	cap_t cur = cap_get_proc(), want = cap_init();
	cap_value_t keep[sizeof build_caps / sizeof build_caps[0]];
	int n = 0, r = 0;

	if (!cur || !want) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; root_inside && i < sizeof build_caps / sizeof build_caps[0]; i++) {
		cap_flag_value_t v = CAP_CLEAR;
		if (cap_get_flag(cur, build_caps[i].cap, CAP_PERMITTED, &v) == 0 && v == CAP_SET)
			keep[n++] = build_caps[i].cap;
	}
	if (n > 0 && (cap_set_flag(want, CAP_EFFECTIVE, n, keep, CAP_SET) < 0 ||
		      cap_set_flag(want, CAP_PERMITTED, n, keep, CAP_SET) < 0 ||
		      cap_set_flag(want, CAP_INHERITABLE, n, keep, CAP_SET) < 0)) {
		r = -errno;
		goto out;
	}
	if (cap_set_proc(want) < 0)
		r = -errno;
out:
	cap_free(cur);
	cap_free(want);
	return r;
}

int rt_caps_limit(bool root_inside, kb_error *e)
{
	int r;

	if ((r = limit_bounding(root_inside)) < 0)
		return kb_err(e, -r, "capabilities: bounding set");

	/* Step 2.  Ambient capabilities (Linux 4.3) are the one way a non-root
	 * process keeps capabilities across execve of an ordinary program;
	 * clearing them needs no privilege.  Step 3 would clear them anyway
	 * (an ambient capability must stay permitted and inheritable), but we
	 * say so explicitly.  EINVAL: a kernel without ambient capabilities,
	 * so there is nothing to clear. */
	if (cap_reset_ambient() < 0 && errno != EINVAL)
		return kb_err(e, errno, "capabilities: ambient set");

	/* Step 3.  For a non-root uid inside, execve computes P'(permitted) =
	 * (P(inheritable) & F(inheritable)) | (F(permitted) & P(bounding)) |
	 * P'(ambient): with all three sets empty the command gets nothing, even
	 * from file capabilities. */
	if ((r = set_process_caps(root_inside)) < 0)
		return kb_err(e, -r, "capabilities: capability sets");

	/* Step 4.  no_new_privs (Linux 3.5) is inherited by every child and
	 * cannot be unset.  With it execve never grants privilege: setuid and
	 * setgid bits and file capabilities are ignored, so an image's sudo,
	 * su or ping is powerless.  It is also what lets an unprivileged
	 * process install a seccomp filter (without it seccomp(2) needs
	 * CAP_SYS_ADMIN, since a filter could mislead a setuid program), so it
	 * must come before rt_seccomp_apply. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return kb_err(e, errno, "no_new_privs");
	return 0;
}
