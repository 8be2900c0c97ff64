/* no-openat2 CMD [ARG]...
 * Runs CMD as on a kernel without openat2(2) (Linux before 5.6, or a
 * container whose seccomp profile does not know it): a seccomp filter
 * answers ENOSYS to openat2 and lets every other call through.  The
 * filter is inherited by every child, so the whole of CMD, and what it
 * starts, sees the same kernel.  Sets no_new_privs, which an unprivileged
 * process needs to install a filter: setuid helpers (newuidmap) then run
 * without their privilege.  Exits 125 when the filter cannot be made. */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: no-openat2 CMD [ARG]...\n");
		return 2;
	}
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int r = ctx ? seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(openat2), 0) : -ENOMEM;
	if (r == 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		r = -errno;
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	if (r < 0) {
		fprintf(stderr, "no-openat2: cannot install the filter: %s\n", strerror(-r));
		return 125;
	}
	execvp(argv[1], argv + 1);
	fprintf(stderr, "no-openat2: %s: %s\n", argv[1], strerror(errno));
	return 127;
}
