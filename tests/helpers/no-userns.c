/* no-userns CMD [ARG]...
 * Runs CMD as inside a container under its runtime's default seccomp
 * profile (Docker's and containerd's without CAP_SYS_ADMIN): unshare,
 * setns and mount get EPERM, clone with any CLONE_NEW* flag gets EPERM,
 * and clone3, whose flags a filter cannot read, gets ENOSYS so that libc
 * falls back to clone.  Ordinary fork and exec still work.  The sibling
 * of no-openat2.c; like it, it sets no_new_privs (an unprivileged process
 * needs it to install a filter).  Exits 125 when the filter cannot be
 * made. */
#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

/* The namespace flags clone(2) takes; one rule each, since a rule can
 * test a masked value but not "any of these bits" (rules for one system
 * call are alternatives). */
static const unsigned long ns_flags[] = { CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
					  CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET };

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: no-userns CMD [ARG]...\n");
		return 2;
	}
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int r = ctx ? 0 : -ENOMEM;
	static const int refused[] = { SCMP_SYS(unshare), SCMP_SYS(setns), SCMP_SYS(mount), SCMP_SYS(fsopen),
				       SCMP_SYS(fsmount), SCMP_SYS(open_tree), SCMP_SYS(move_mount) };
	for (size_t i = 0; r == 0 && i < sizeof refused / sizeof refused[0]; i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), refused[i], 0);
	for (size_t i = 0; r == 0 && i < sizeof ns_flags / sizeof ns_flags[0]; i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
				     SCMP_A0(SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i]));
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (r == 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		r = -errno;
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	if (r < 0) {
		fprintf(stderr, "no-userns: cannot install the filter: %s\n", strerror(-r));
		return 125;
	}
	execvp(argv[1], argv + 1);
	fprintf(stderr, "no-userns: %s: %s\n", argv[1], strerror(errno));
	return 127;
}
