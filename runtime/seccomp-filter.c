/* The sandbox's seccomp policy (seccomp-filter.h): the lists, the two
 * filters, their compiled form and its cache key. */
#include "seccomp-filter.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <seccomp.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

#define N_ELEMS(x) (sizeof(x) / sizeof((x)[0]))

/* ---- the policy ----
 *
 * Our own list, in the spirit of Docker's and containers-common's default
 * profiles (what a general program may do), grouped by what the calls
 * act on.  Names this libseccomp does not know, or that do not exist on an
 * architecture, are skipped: such calls then fail with ENOSYS, like calls
 * the kernel does not have.  The i386/x32/old-ABI spellings (…32, …64,
 * _time64, socketcall, ipc) are listed for 32-bit x86 programs. */
static const char *const allowed[] = {
	/* processes and threads; clone and unshare are also checked for
	 * CLONE_NEWUSER by the argument filter below */
	"fork", "vfork", "clone", "execve", "execveat", "exit", "exit_group",
	"wait4", "waitid", "waitpid", "unshare",
	"getpid", "getppid", "gettid", "getpgid", "getpgrp", "setpgid", "getsid", "setsid",
	"kill", "tkill", "tgkill", "pidfd_open", "pidfd_send_signal",
	"set_tid_address", "set_robust_list", "get_robust_list", "rseq", "restart_syscall",
	"arch_prctl", "get_thread_area", "set_thread_area", "prctl",
	"getrlimit", "setrlimit", "ugetrlimit", "prlimit64", "getrusage", "times",
	"getpriority", "setpriority", "nice", "ioprio_get", "ioprio_set", "getcpu",
	"sched_yield", "sched_getaffinity", "sched_setaffinity", "sched_getattr", "sched_setattr",
	"sched_getparam", "sched_setparam", "sched_getscheduler", "sched_setscheduler",
	"sched_get_priority_max", "sched_get_priority_min",
	"sched_rr_get_interval", "sched_rr_get_interval_time64",
	/* restrictions a program puts on itself (nested seccomp, Landlock) */
	"seccomp", "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self",
	"capget", "capset",

	/* ids: all act on ids mapped in our user namespace only */
	"getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid", "getgroups",
	"setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups",
	"setfsuid", "setfsgid",
	"getuid32", "geteuid32", "getgid32", "getegid32", "getresuid32", "getresgid32", "getgroups32",
	"setuid32", "setgid32", "setreuid32", "setregid32", "setresuid32", "setresgid32", "setgroups32",
	"setfsuid32", "setfsgid32",

	/* signals */
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigsuspend", "rt_sigpending",
	"rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_sigqueueinfo", "rt_tgsigqueueinfo",
	"sigaltstack", "signalfd", "signalfd4", "pause", "alarm",
	"sigaction", "signal", "sigprocmask", "sigreturn", "sigpending", "sigsuspend",

	/* memory */
	"brk", "mmap", "mmap2", "munmap", "mremap", "mprotect", "madvise", "mincore", "msync",
	"mlock", "mlock2", "mlockall", "munlock", "munlockall", "remap_file_pages",
	"pkey_alloc", "pkey_free", "pkey_mprotect", "memfd_create", "memfd_secret", "membarrier",
	"mseal", "map_shadow_stack",
	/* NUMA placement of the caller's own memory (libnuma, JVMs); moving
	 * other processes' pages (move_pages, migrate_pages) is left out */
	"get_mempolicy", "set_mempolicy", "mbind", "set_mempolicy_home_node",
	"futex", "futex_time64", "futex_waitv", "futex_wake", "futex_wait", "futex_requeue",

	/* files and descriptors; ioctl is also checked by the argument filter */
	"open", "openat", "openat2", "creat", "close", "close_range",
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev",
	"preadv2", "pwritev2", "lseek", "_llseek", "dup", "dup2", "dup3",
	"fcntl", "fcntl64", "ioctl", "flock", "fsync", "fdatasync", "sync", "syncfs",
	"sync_file_range", "fallocate", "fadvise64", "fadvise64_64", "readahead", "cachestat",
	"truncate", "truncate64", "ftruncate", "ftruncate64",
	"sendfile", "sendfile64", "splice", "tee", "vmsplice", "copy_file_range", "pipe", "pipe2",
	"stat", "stat64", "lstat", "lstat64", "fstat", "fstat64", "newfstatat", "fstatat64", "statx",
	"statfs", "statfs64", "fstatfs", "fstatfs64", "access", "faccessat", "faccessat2",
	"getdents", "getdents64", "getcwd", "chdir", "fchdir", "umask",
	/* chroot: kept with CAP_SYS_CHROOT for debootstrap-style tools */
	"chroot",
	"mkdir", "mkdirat", "rmdir", "rename", "renameat", "renameat2",
	"link", "linkat", "unlink", "unlinkat", "symlink", "symlinkat", "readlink", "readlinkat",
	"mknod", "mknodat", "chmod", "fchmod", "fchmodat", "fchmodat2",
	"chown", "fchown", "lchown", "fchownat", "chown32", "fchown32", "lchown32",
	"utime", "utimes", "utimensat", "utimensat_time64", "futimesat",
	"getxattr", "lgetxattr", "fgetxattr", "getxattrat", "setxattr", "lsetxattr", "fsetxattr",
	"setxattrat", "listxattr", "llistxattr", "flistxattr", "listxattrat",
	"removexattr", "lremovexattr", "fremovexattr", "removexattrat",
	"file_getattr", "file_setattr",
	/* only turns a path into a handle; opening one is the dangerous half */
	"name_to_handle_at",
	"inotify_init", "inotify_init1", "inotify_add_watch", "inotify_rm_watch",

	/* waiting and asynchronous I/O (not io_uring: see below) */
	"poll", "ppoll", "ppoll_time64", "select", "_newselect", "pselect6", "pselect6_time64",
	"epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2",
	"eventfd", "eventfd2", "io_setup", "io_destroy", "io_submit", "io_cancel",
	"io_getevents", "io_pgetevents", "io_pgetevents_time64",

	/* time: reading clocks and timers only */
	"clock_gettime", "clock_gettime64", "clock_getres", "clock_getres_time64",
	"clock_nanosleep", "clock_nanosleep_time64", "nanosleep", "gettimeofday", "time",
	"getitimer", "setitimer", "timer_create", "timer_delete", "timer_settime",
	"timer_settime64", "timer_gettime", "timer_gettime64", "timer_getoverrun",
	"timerfd_create", "timerfd_settime", "timerfd_settime64", "timerfd_gettime",
	"timerfd_gettime64",

	/* sockets (the network namespace decides what they reach); socket is
	 * also checked for AF_VSOCK by the argument filter */
	"socket", "socketpair", "bind", "listen", "accept", "accept4", "connect",
	"getsockname", "getpeername", "getsockopt", "setsockopt", "shutdown",
	"sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "recvmmsg_time64",
	"send", "recv", "socketcall",

	/* System V IPC and POSIX message queues: private to our IPC namespace */
	"shmget", "shmat", "shmdt", "shmctl", "semget", "semop", "semctl", "semtimedop",
	"semtimedop_time64", "msgget", "msgsnd", "msgrcv", "msgctl", "ipc",
	"mq_open", "mq_unlink", "mq_timedsend", "mq_timedsend_time64", "mq_timedreceive",
	"mq_timedreceive_time64", "mq_notify", "mq_getsetattr",

	/* about the system */
	"uname", "sysinfo", "getrandom",
	/* issued by the kernel's own uretprobe trampoline (x86_64, 6.11+):
	 * refusing it would kill any process a host tool has probed */
	"uretprobe",

	/* Debugging the build's own processes: strace, gdb, Go and Java
	 * tests, crash reporters.  Allowed, like Docker since kernel 4.8
	 * (before 4.8 a tracer could rewrite a syscall after seccomp checked
	 * it).  All of these pass ptrace_may_access(), so they cannot reach
	 * our pid 1: it is non-dumpable and CAP_SYS_PTRACE is dropped, so
	 * ptrace(PTRACE_ATTACH, 1) fails with EPERM; host processes are not
	 * even visible in the pid namespace. */
	"ptrace", "process_vm_readv", "process_vm_writev", "process_madvise", "kcmp", "pidfd_getfd",
};

/* Calls a build may try and must be told no: they fail with EPERM, the
 * answer the kernel itself would give to a process without the
 * capability, so tools print "Operation not permitted" (EPERM) rather
 * than the ENOSYS text.  Most need a capability we drop anyway; the filter
 * keeps their kernel code out of reach (defense in depth, like Docker). */
static const char *const refused[] = {
	/* the kernel keyring is not namespaced: keys would leak across
	 * sandboxes and to the host user */
	"keyctl", "add_key", "request_key",
	/* large attack surfaces with a history of privilege escalations */
	"bpf", "perf_event_open", "userfaultfd",
	/* the kernel itself */
	"kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
	"reboot", "swapon", "swapoff", "acct", "syslog", "vhangup", "iopl", "ioperm",
	"quotactl", "quotactl_fd", "nfsservctl", "lookup_dcookie",
	/* clocks are not namespaced (time namespaces only offset monotonic
	 * and boottime); adjtimex/clock_adjtime even read-only are refused,
	 * a build has no use for NTP state */
	"settimeofday", "stime", "clock_settime", "clock_settime64", "clock_adjtime",
	"clock_adjtime64", "adjtimex",
	/* the mount table is built by the runtime and stays as it is */
	"mount", "umount", "umount2", "pivot_root", "fsopen", "fsconfig", "fsmount", "fspick",
	"move_mount", "open_tree", "open_tree_attr", "mount_setattr",
	/* joining namespaces: the only ones reachable would be those the
	 * build creates, and user namespaces are refused below */
	"setns",
	/* needs CAP_DAC_READ_SEARCH; opens any file of a filesystem by handle,
	 * bypassing the mount tree (the "shocker" container escape) */
	"open_by_handle_at",
	/* our UTS namespace; CAP_SYS_ADMIN is dropped */
	"sethostname", "setdomainname",
};

/* Deliberately in neither list, so they fail with ENOSYS and callers fall
 * back: clone3 (its flags are in a struct the filter cannot read; glibc
 * and Go then use clone, whose flags the argument filter checks),
 * io_uring_setup/enter/register (a large surface Docker also stopped
 * allowing; liburing users fall back to threads), fanotify_init,
 * modify_ldt, vm86/vm86old, uselib, _sysctl, sysfs, ustat, move_pages,
 * migrate_pages, statmount/listmount, lsm_*, and anything newer than this
 * list. */

/* personality(2): the execution domains a build may ask for (linux32 and
 * setarch, setarch -R); anything else (e.g. READ_IMPLIES_EXEC,
 * MMAP_PAGE_ZERO) fails with ENOSYS.  The kernel takes an unsigned int, so
 * only the low 32 bits are compared. */
static const uint32_t personalities[] = {
	PER_LINUX, PER_LINUX32, UNAME26, UNAME26 | PER_LINUX32,
	ADDR_NO_RANDOMIZE, ADDR_NO_RANDOMIZE | PER_LINUX32, 0xffffffffu /* query */,
};

/* ---- building the filters ---- */

/* The 32-bit ABI a 64-bit process can also enter the kernel through (a
 * 32-bit program, or int $0x80), with its own syscall numbers; 0 if none. */
static uint32_t compat_arch(void)
{
	switch (seccomp_arch_native()) {
	case SCMP_ARCH_X86_64: return SCMP_ARCH_X86;
	case SCMP_ARCH_AARCH64: return SCMP_ARCH_ARM;
	default: return 0;
	}
}

enum { ABI_NATIVE = 1, ABI_COMPAT = 2 };

/* Add one rule for a syscall named name to ctx, which holds the ABIs in
 * abis.  A name libseccomp cannot resolve is skipped (0).  A name the
 * native ABI lacks (socketcall, chown32, …) resolves to a negative pseudo
 * number that libseccomp maps to each ABI that has the call; we skip it in
 * a native-only filter, where libseccomp 2.5 would emit a comparison
 * against the pseudo number that can never match. */
static int add_rule(scmp_filter_ctx ctx, int abis, uint32_t action, const char *name, unsigned n,
		    const struct scmp_arg_cmp *cmp, kb_error *e)
{
	int nr = seccomp_syscall_resolve_name(name);
	if (nr == __NR_SCMP_ERROR || (nr < 0 && abis == ABI_NATIVE))
		return 0;
	int r = seccomp_rule_add_array(ctx, action, nr, n, cmp);
	return r < 0 ? kb_err(e, -r, "seccomp rule for %s", name) : 0;
}

/* A filter context for one ABI, with our attributes. */
static int new_filter(uint32_t def_action, bool optimize, int abi, scmp_filter_ctx *ret, kb_error *e)
{
	scmp_filter_ctx ctx = seccomp_init(def_action);
	int r = 0;

	if (!ctx)
		return kb_err_oom(e, "seccomp_init");
	if (abi == ABI_COMPAT) {
		if ((r = seccomp_arch_add(ctx, compat_arch())) < 0 ||
		    (r = seccomp_arch_remove(ctx, SCMP_ARCH_NATIVE)) < 0) {
			kb_err(e, -r, "seccomp: select the 32-bit ABI");
			goto fail;
		}
	}
	/* Older kernels lack KILL_PROCESS: keep libseccomp's KILL (thread). */
	(void)seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	/* Return the kernel's errno from seccomp_load, not -ECANCELED. */
	if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1)) < 0 ||
	    /* A binary tree of syscall numbers: a few comparisons per call
	     * instead of a walk through ~400 (the kernel's action cache, 5.11+,
	     * skips the filter entirely for always-allowed calls anyway). */
	    (optimize && (r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2)) < 0)) {
		kb_err(e, -r, "seccomp attributes");
		goto fail;
	}
	*ret = ctx;
	return 0;
fail:
	seccomp_release(ctx);
	return r;
}

typedef int (*fill_fn)(scmp_filter_ctx ctx, int abi, kb_error *e);

/* One filter for the native ABI and, merged into it, the same policy for
 * the 32-bit ABI when there is one.
 *
 * We filter i386 (on arm64, 32-bit ARM) with the same policy as the
 * native ABI, so 32-bit tools work and are held to the same rules, like
 * Docker's profile.  We do not add x32: no distribution ships x32 programs
 * and most kernels disable it.  Any ABI not in the filter gets the "bad
 * arch" action, which we make KILL_PROCESS (4.14+): a foreign-ABI program
 * dies of SIGSYS ("Bad system call") rather than run unfiltered.  Building
 * one context per ABI and merging lets each ABI get only the rules that
 * make sense for it. */
static int build_filter(uint32_t def_action, bool optimize, fill_fn fill, scmp_filter_ctx *ret,
			kb_error *e)
{
	scmp_filter_ctx ctx, compat = NULL;
	int r;

	if ((r = new_filter(def_action, optimize, ABI_NATIVE, &ctx, e)) < 0)
		return r;
	if ((r = fill(ctx, ABI_NATIVE, e)) < 0)
		goto fail;
	if (compat_arch()) {
		if ((r = new_filter(def_action, optimize, ABI_COMPAT, &compat, e)) < 0 ||
		    (r = fill(compat, ABI_COMPAT, e)) < 0)
			goto fail;
		/* On success the merge consumes compat. */
		if ((r = seccomp_merge(ctx, compat)) < 0) {
			kb_err(e, -r, "seccomp: merge the 32-bit ABI");
			goto fail;
		}
	}
	*ret = ctx;
	return 0;
fail:
	seccomp_release(compat);
	seccomp_release(ctx);
	return r;
}

/* The allow-list.  Default ENOSYS (not EPERM: a program that gets EPERM
 * from, say, clone3 reports an error, while ENOSYS makes it fall back to
 * the older call). */
static int fill_allow_list(scmp_filter_ctx ctx, int abi, kb_error *e)
{
	int r;

	for (size_t i = 0; i < N_ELEMS(allowed); i++)
		if ((r = add_rule(ctx, abi, SCMP_ACT_ALLOW, allowed[i], 0, NULL, e)) < 0)
			return r;
	for (size_t i = 0; i < N_ELEMS(refused); i++)
		if ((r = add_rule(ctx, abi, SCMP_ACT_ERRNO(EPERM), refused[i], 0, NULL, e)) < 0)
			return r;
	for (size_t i = 0; i < N_ELEMS(personalities); i++) {
		struct scmp_arg_cmp c = SCMP_A0(SCMP_CMP_MASKED_EQ, 0xffffffffu, personalities[i]);
		if ((r = add_rule(ctx, abi, SCMP_ACT_ALLOW, "personality", 1, &c, e)) < 0)
			return r;
	}
	return 0;
}

/* The argument filter: default ALLOW, EPERM for a few argument values.
 *
 * Why a second filter: inside one libseccomp filter, an ALLOW rule and an
 * EPERM rule on the same call overlap (an unconditional ALLOW swallows
 * the EPERM; an "arg != X" ALLOW is tested before or after the EPERM
 * depending on libseccomp's tree order: we saw ioctl(fd, TIOCSTI | 1<<32)
 * allowed that way), and libseccomp has no masked "!=".  With separate
 * filters the kernel runs both and keeps the strictest verdict
 * (seccomp(2): ERRNO takes precedence over ALLOW), so these refusals hold
 * whatever the allow-list says.  This filter allows every other call
 * unconditionally, so the kernel's action cache (5.11+) skips it for
 * them. */
static int fill_arg_filter(scmp_filter_ctx ctx, int abi, kb_error *e)
{
	uint32_t perm = SCMP_ACT_ERRNO(EPERM);
	int r;

	/* New user namespaces: the one namespace an unprivileged process may
	 * create, and in it the creator holds every capability again, which
	 * would undo rt_caps_limit (and reach mount, netfilter, … code).  Other
	 * CLONE_NEW* flags need CAP_SYS_ADMIN, which is dropped.  clone's flags
	 * are its first argument except on s390 (CLONE_BACKWARDS2); clone3 is
	 * not allowed at all (its flags are out of the filter's reach). */
	uint32_t arch = seccomp_arch_native();
	unsigned flags_arg = arch == SCMP_ARCH_S390X || arch == SCMP_ARCH_S390 ? 1 : 0;
	struct scmp_arg_cmp newuser = SCMP_CMP(flags_arg, SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER);
	if ((r = add_rule(ctx, abi, perm, "clone", 1, &newuser, e)) < 0)
		return r;
	newuser = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER);
	if ((r = add_rule(ctx, abi, perm, "unshare", 1, &newuser, e)) < 0)
		return r;

	/* TIOCSTI pushes bytes into a terminal's input queue: a sandboxed
	 * program holding the user's terminal could type commands into the
	 * shell that started kbuild-ns once it exits (CVE-2017-5226 in
	 * bubblewrap).  TIOCLINUX can paste a console selection the same way
	 * on a virtual console (Linux 6.7 restricted that to CAP_SYS_ADMIN).
	 * The kernel takes the command as an unsigned int, so we compare the
	 * low 32 bits only: a plain 64-bit comparison would let
	 * TIOCSTI | 1<<32 through. */
	static const unsigned long tty_inject[] = { TIOCSTI, TIOCLINUX };
	for (size_t i = 0; i < N_ELEMS(tty_inject); i++) {
		struct scmp_arg_cmp c = SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, tty_inject[i]);
		if ((r = add_rule(ctx, abi, perm, "ioctl", 1, &c, e)) < 0)
			return r;
	}

	/* AF_VSOCK talks to the hypervisor and other VMs and is not covered by
	 * network namespaces: with --network none it would be a way out, and
	 * its transports are a recent source of kernel bugs.  Native ABI only:
	 * on i386 libseccomp turns a rule on socket into one on
	 * socketcall(SYS_SOCKET) and, unable to read the family there, would
	 * refuse every socket a 32-bit program opens through socketcall
	 * (which glibc's i386 port uses).  A 32-bit program can still open a
	 * vsock socket. */
	if (abi == ABI_NATIVE) {
		struct scmp_arg_cmp c = SCMP_A0(SCMP_CMP_MASKED_EQ, 0xffffffffu, AF_VSOCK);
		if ((r = add_rule(ctx, abi, perm, "socket", 1, &c, e)) < 0)
			return r;
	}
	return 0;
}

static int build_both(scmp_filter_ctx *ret_args, scmp_filter_ctx *ret_allow, kb_error *e)
{
	scmp_filter_ctx args;
	int r;

	if ((r = build_filter(SCMP_ACT_ALLOW, false, fill_arg_filter, &args, e)) < 0)
		return r;
	if ((r = build_filter(SCMP_ACT_ERRNO(ENOSYS), true, fill_allow_list, ret_allow, e)) < 0) {
		seccomp_release(args);
		return r;
	}
	*ret_args = args;
	return 0;
}

/* ---- the compiled form ----
 *
 * libseccomp needs several milliseconds to turn ~800 rules for two ABIs
 * into BPF, more than the rest of the sandbox setup.  So the policy is
 * compiled into a blob that a caller can keep (in a cache file named after
 * rt_seccomp_cache_key(), or computed before clone) and installed from it
 * with two seccomp(2) calls. */

#define BLOB_MAGIC "KBSC"
#define BLOB_VERSION 1u
/* Bump when fill_arg_filter changes: the lists are hashed, code is not. */
#define ARG_RULES_VERSION 1u

struct blob_head {
	char magic[4];
	uint32_t version;
	uint32_t arch;          /* the native AUDIT_ARCH_* it was built for */
	uint32_t n_args;        /* instructions of the argument filter */
	uint32_t n_allow;       /* then those of the allow-list */
};

/* Export ctx's BPF to fd (a memfd) at its current offset; returns the
 * number of instructions. */
static int export_bpf(scmp_filter_ctx ctx, int fd, uint32_t *ret_n)
{
	off_t start = lseek(fd, 0, SEEK_CUR);
	int r = seccomp_export_bpf(ctx, fd);
	if (r < 0)
		return r;
	off_t end = lseek(fd, 0, SEEK_CUR);
	if (start < 0 || end < start || (end - start) % sizeof(struct sock_filter))
		return -EIO;
	size_t n = (size_t)(end - start) / sizeof(struct sock_filter);
	if (n == 0 || n > BPF_MAXINSNS)
		return -E2BIG;
	*ret_n = (uint32_t)n;
	return 0;
}

int rt_seccomp_compile(void **ret_blob, size_t *ret_len, kb_error *e)
{
	scmp_filter_ctx args, allow;
	struct blob_head h = { .magic = BLOB_MAGIC, .version = BLOB_VERSION, .arch = seccomp_arch_native() };
	unsigned char *blob = NULL;
	size_t len = 0;
	int fd = -1, r;

	if ((r = build_both(&args, &allow, e)) < 0)
		return r;
	/* libseccomp 2.5 exports to a file descriptor only. */
	if ((fd = memfd_create("kbuild-ns-seccomp", MFD_CLOEXEC)) < 0) {
		r = kb_err(e, errno, "seccomp: memfd_create");
		goto out;
	}
	if ((r = export_bpf(args, fd, &h.n_args)) < 0 || (r = export_bpf(allow, fd, &h.n_allow)) < 0) {
		kb_err(e, -r, "seccomp: export BPF");
		goto out;
	}
	size_t code = ((size_t)h.n_args + h.n_allow) * sizeof(struct sock_filter);
	len = sizeof h + code;
	if (!(blob = malloc(len))) {
		r = kb_err_oom(e, "seccomp: compile");
		goto out;
	}
	memcpy(blob, &h, sizeof h);
	if (pread(fd, blob + sizeof h, code, 0) != (ssize_t)code) {
		r = kb_err(e, errno ? errno : EIO, "seccomp: read back BPF");
		goto out;
	}
	*ret_blob = blob;
	*ret_len = len;
	blob = NULL;
	r = 0;
out:
	free(blob);
	if (fd >= 0)
		close(fd);
	seccomp_release(args);
	seccomp_release(allow);
	return r;
}

static int install(struct sock_filter *code, uint32_t n)
{
	struct sock_fprog prog = { .len = (unsigned short)n, .filter = code };

	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0)
		return 0;
	if (errno != ENOSYS)
		return -errno;
	/* Linux < 3.17: the prctl interface, same semantics without flags */
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0 ? -errno : 0;
}

int rt_seccomp_load_bpf(const void *blob, size_t len, kb_error *e)
{
	struct blob_head h;
	int r;

	/* The blob may come from a cache file: check everything the kernel
	 * would not (it verifies the BPF itself). */
	if (len < sizeof h)
		return kb_errx(e, EINVAL, "seccomp: compiled filter: truncated");
	memcpy(&h, blob, sizeof h);
	if (memcmp(h.magic, BLOB_MAGIC, 4) || h.version != BLOB_VERSION || h.arch != seccomp_arch_native() ||
	    h.n_args == 0 || h.n_args > BPF_MAXINSNS || h.n_allow == 0 || h.n_allow > BPF_MAXINSNS ||
	    len != sizeof h + ((size_t)h.n_args + h.n_allow) * sizeof(struct sock_filter)) {
		return kb_errx(e, EINVAL, "seccomp: compiled filter: not ours, or for another architecture");
	}
	/* An aligned copy: blob + sizeof h need not be. */
	struct sock_filter *code = malloc(len - sizeof h);
	if (!code)
		return kb_err_oom(e, "seccomp: load");
	memcpy(code, (const unsigned char *)blob + sizeof h, len - sizeof h);

	/* seccomp(2) refuses a filter from a process without CAP_SYS_ADMIN
	 * unless no_new_privs is set (EACCES); rt_caps_limit has set it, and
	 * like libseccomp we set it here if not.  The argument filter goes in
	 * first, the allow-list last, since after it only the calls it lists
	 * (seccomp among them) remain.  On failure between the two the
	 * process holds the argument filter only: the caller must not exec. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		r = kb_err(e, errno, "no_new_privs");
	else if ((r = install(code, h.n_args)) < 0)
		kb_err(e, -r, "seccomp: load the argument filter");
	else if ((r = install(code + h.n_args, h.n_allow)) < 0)
		kb_err(e, -r, "seccomp: load the allow-list");
	free(code);
	return r;
}

static uint32_t fnv1a(uint32_t h, const void *data, size_t len)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

const char *rt_seccomp_cache_key(void)
{
	static char key[96];
	const struct scmp_version *v = seccomp_version();
	uint32_t h = 2166136261u, ver[] = { BLOB_VERSION, ARG_RULES_VERSION };

	/* Everything that shapes the BPF: our lists (NUL included, so that
	 * "ab","c" and "a","bc" differ), the argument rules' version, the
	 * architecture, and libseccomp's version (its syscall tables decide
	 * which names resolve). */
	for (size_t i = 0; i < N_ELEMS(allowed); i++)
		h = fnv1a(h, allowed[i], strlen(allowed[i]) + 1);
	h = fnv1a(h, "|", 1);
	for (size_t i = 0; i < N_ELEMS(refused); i++)
		h = fnv1a(h, refused[i], strlen(refused[i]) + 1);
	h = fnv1a(h, personalities, sizeof personalities);
	h = fnv1a(h, ver, sizeof ver);
	snprintf(key, sizeof key, "seccomp-%08x-arch%08x-libseccomp%u.%u.%u", (unsigned)h,
		 (unsigned)seccomp_arch_native(), v ? v->major : 0, v ? v->minor : 0, v ? v->micro : 0);
	return key;
}

int rt_seccomp_apply(kb_error *e)
{
	void *blob = NULL;
	size_t len = 0;
	int r;

	if ((r = rt_seccomp_compile(&blob, &len, e)) < 0)
		return r;
	r = rt_seccomp_load_bpf(blob, len, e);
	free(blob);
	return r;
}

int rt_seccomp_export_pfc(int fd, kb_error *e)
{
	scmp_filter_ctx args, allow;
	int r;

	if ((r = build_both(&args, &allow, e)) < 0)
		return r;
	dprintf(fd, "# loaded first: the argument filter\n");
	if ((r = seccomp_export_pfc(args, fd)) >= 0) {
		dprintf(fd, "# loaded last: the allow-list\n");
		r = seccomp_export_pfc(allow, fd);
	}
	if (r < 0)
		kb_err(e, -r, "seccomp: export");
	seccomp_release(args);
	seccomp_release(allow);
	return r;
}
