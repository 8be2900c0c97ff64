/* What a failed probe (or a failed sandbox step) means on this host, and
 * the exact commands that fix it.  doctor prints these texts for its
 * probes; rt_probe_advice() gives `run` the same text for its errors. */
#include "probe-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/statfs.h>

/* Where the AppArmor profile is when kbuild-ns is installed; the build
 * may point this at $(pkgdatadir).  Otherwise the fix names the copy in
 * the source tree. */
#ifndef KBUILD_NS_APPARMOR_PROFILE
#define KBUILD_NS_APPARMOR_PROFILE ""
#endif
#define APPARMOR_DEST "/etc/apparmor.d/kbuild-ns"
/* sysctl.d files are read in name order; 60- comes after the 10-/20-
 * files in which distributions set these. */
#define SYSCTL_FILE "/etc/sysctl.d/60-kbuild-ns-userns.conf"

void probe_set(rt_probe *p, rt_probe_state st, int errnum, const char *fmt, ...)
{
	va_list ap;
	p->state = st;
	p->errnum = errnum;
	va_start(ap, fmt);
	vsnprintf(p->finding, sizeof p->finding, fmt, ap);
	va_end(ap);
}

void probe_fix(rt_probe *p, const char *fmt, ...)
{
	size_t n = strlen(p->fix);
	va_list ap;
	if (n + 2 >= sizeof p->fix)
		return;
	va_start(ap, fmt);
	int k = vsnprintf(p->fix + n, sizeof p->fix - n - 1, fmt, ap);
	va_end(ap);
	if (k < 0)
		return;
	n = strlen(p->fix);
	p->fix[n] = '\n';
	p->fix[n + 1] = 0;
}

/* The start of a small /proc or /sys file, NUL-terminated ("" when it
 * cannot be read; one read: these files say their size is 0).  The
 * number of bytes read, or -1. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, size - 1) : -1;
	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = 0;
	return n;
}

static long read_long(const char *path)
{
	char buf[32];
	if (read_small(path, buf, sizeof buf) <= 0)
		return -1;
	if (buf[0] == 'Y' || buf[0] == 'N')    /* a module parameter */
		return buf[0] == 'Y';
	char *end;
	long v = strtol(buf, &end, 10);
	return end == buf ? -1 : v;
}

static bool docker_sign(void)
{
	struct statfs sf;
	if (statfs("/", &sf) == 0 && (unsigned long)sf.f_type == OVERLAYFS_SUPER_MAGIC)
		return true;
	char buf[1024];
	read_small("/proc/self/cgroup", buf, sizeof buf);
	return strstr(buf, "docker") || strstr(buf, "kubepods") || strstr(buf, "containerd");
}

/* "Seccomp:\t2" in /proc/self/status: a filter is on this process (and
 * was inherited from whatever started it, e.g. a container runtime). */
static bool under_seccomp(void)
{
	char buf[4096];
	read_small("/proc/self/status", buf, sizeof buf);
	const char *p = strstr(buf, "\nSeccomp:");
	return p && atoi(p + 9) == 2;
}

/* The initial user namespace maps every id to itself: "0 0 4294967295". */
static bool in_nested_userns(void)
{
	char buf[128];
	unsigned long a, b, c;
	if (read_small("/proc/self/uid_map", buf, sizeof buf) <= 0)
		return false;
	return !(sscanf(buf, "%lu %lu %lu", &a, &b, &c) == 3 && a == 0 && b == 0 && c == 4294967295UL);
}

void facts_read(host_facts *h)
{
	memset(h, 0, sizeof *h);
	h->max_userns = read_long("/proc/sys/user/max_user_namespaces");
	h->userns_clone = read_long("/proc/sys/kernel/unprivileged_userns_clone");
	h->aa_restrict = read_long("/proc/sys/kernel/apparmor_restrict_unprivileged_userns");
	h->userns_param = (int)read_long("/sys/module/user_namespace/parameters/enable");
	/* Only used to word an explanation.  Some VM images carry a stray
	 * /.dockerenv, so it counts only with a second sign: an overlay root
	 * (Docker's storage driver) or a container runtime's cgroup. */
	const char *c = getenv("container");
	if (access("/.dockerenv", F_OK) == 0 && docker_sign())
		h->container = "Docker", h->container_sign = "/.dockerenv";
	else if (access("/run/.containerenv", F_OK) == 0)
		h->container = "Podman", h->container_sign = "/run/.containerenv";
	else if (getenv("KUBERNETES_SERVICE_HOST"))
		h->container = "Kubernetes", h->container_sign = "$KUBERNETES_SERVICE_HOST";
	else if (c && *c)
		h->container = c, h->container_sign = "$container";
	ssize_t n = readlink("/proc/self/exe", h->exe, sizeof h->exe - 1);
	h->exe[n > 0 ? n : 0] = 0;
	int fd = open("/proc/self/attr/apparmor/current", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fd = open("/proc/self/attr/current", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, h->label, sizeof h->label - 1);
		close(fd);
		h->label[n > 0 ? n : 0] = 0;
		h->label[strcspn(h->label, "\n")] = 0;
	}
	h->seccomp = under_seccomp();
	h->nested_userns = in_nested_userns();
}

/* The security module confining us, from our label: an AppArmor profile
 * in enforce mode ("docker-default (enforce)"), or an SELinux container
 * type ("system_u:system_r:container_t:s0").  NULL for none. */
static const char *lsm_of(const host_facts *h, char *name, size_t len)
{
	const char *l = h->label;
	if (strstr(l, " (enforce)") && strncmp(l, "unconfined", 10)) {
		snprintf(name, len, "%.*s", (int)strcspn(l, " "), l);
		return "AppArmor";
	}
	if (strstr(l, ":container_t:")) {
		snprintf(name, len, "container_t");
		return "SELinux";
	}
	return NULL;
}

const char *fs_name(unsigned long magic)
{
	static const struct { unsigned long magic; const char *name; } t[] = {
		{ EXT4_SUPER_MAGIC, "ext4" }, { XFS_SUPER_MAGIC, "xfs" }, { BTRFS_SUPER_MAGIC, "btrfs" },
		{ TMPFS_MAGIC, "tmpfs" }, { RAMFS_MAGIC, "ramfs" }, { NFS_SUPER_MAGIC, "nfs" },
		{ OVERLAYFS_SUPER_MAGIC, "overlayfs" }, { 0x65735546, "fuse" }, { 0xff534d42, "cifs" },
		{ 0xfe534d42, "smb2" }, { 0x2fc12fc1, "zfs" }, { 0x00c36400, "ceph" }, { V9FS_MAGIC, "9p" },
		{ ECRYPTFS_SUPER_MAGIC, "ecryptfs" }, { F2FS_SUPER_MAGIC, "f2fs" }, { SQUASHFS_MAGIC, "squashfs" },
		{ 0x47504653, "gpfs" }, { 0x0bd00bd0, "lustre" }, { 0x786f4256, "vboxsf" },
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		if (t[i].magic == magic)
			return t[i].name;
	return "an unknown filesystem";
}

static const char *user_name(void)
{
	static char name[64];
	struct passwd *pw = getpwuid(getuid());
	snprintf(name, sizeof name, "%s", pw ? pw->pw_name : "me");
	return name;
}

static bool is_perm(int err)
{
	return err == EPERM || err == EACCES;
}

static void fix_sysctl(rt_probe *p, const char *key, long value)
{
	probe_fix(p, "  sudo sysctl -w %s=%ld", key, value);
	probe_fix(p, "  echo '%s = %ld' | sudo tee -a " SYSCTL_FILE, key, value);
}

static void fix_state_dir(rt_probe *p)
{
	const char *u = user_name();
	probe_fix(p, "put the state directory on a local filesystem that keeps user xattrs "
		  "(ext4, xfs, btrfs; tmpfs from Linux 6.6), for example:");
	probe_fix(p, "  kbuild-ns --state-dir /var/tmp/kbuild-ns-%s doctor", u);
	probe_fix(p, "  export KBUILD_NS_STATE_DIR=/var/tmp/kbuild-ns-%s    # in your shell profile, for every command", u);
}

static void fix_container(rt_probe *p, const host_facts *h, const char *what)
{
	probe_fix(p, "let the container %s (it looks like %s: %s), for example:", what, h->container, h->container_sign);
	probe_fix(p, "  docker run --security-opt seccomp=unconfined --security-opt apparmor=unconfined ...");
	probe_fix(p, "  podman run --security-opt seccomp=unconfined --security-opt apparmor=unconfined ...");
	probe_fix(p, "  Kubernetes: hostUsers: false, and securityContext seccompProfile and appArmorProfile "
		  "type: Unconfined");
	probe_fix(p, "or run kbuild-ns on the host");
}

static void fix_seccomp(rt_probe *p)
{
	probe_fix(p, "run the container without its runtime's default seccomp profile, for example:");
	probe_fix(p, "  docker run --security-opt seccomp=unconfined ...");
	probe_fix(p, "  podman run --security-opt seccomp=unconfined ...");
	probe_fix(p, "  Kubernetes: securityContext seccompProfile: {type: Unconfined}, or type: Localhost with a "
		  "profile that allows unshare, clone, mount, umount2, pivot_root and setns");
	probe_fix(p, "or run kbuild-ns on the host");
}

/* A mount (overlay, proc) refused with EPERM inside something that
 * confines us: name the layer that refused it and its fix.  False when
 * nothing is known to confine us. */
static bool explain_confined_mount(rt_probe *p, const host_facts *h, int err, const char *step)
{
	char name[128];
	const char *lsm = lsm_of(h, name, sizeof name);

	if (!is_perm(err))
		return false;
	if (lsm && !strcmp(lsm, "AppArmor")) {
		probe_set(p, RT_PROBE_PROBLEM, err, "mounting is refused by the AppArmor profile %s (container "
			  "runtimes' default profiles say \"deny mount\") (%s: %s)", name, step, strerror(err));
		probe_fix(p, "run the container without it, or with the profile kbuild-ns ships (images/apparmor):");
		probe_fix(p, "  docker run --security-opt apparmor=unconfined ...");
		probe_fix(p, "  podman run --security-opt apparmor=unconfined ...");
		probe_fix(p, "  Kubernetes: securityContext appArmorProfile: {type: Unconfined} (or type: Localhost, "
			  "localhostProfile: kbuild-ns)");
	} else if (lsm) {
		probe_set(p, RT_PROBE_PROBLEM, err, "mounting is refused by SELinux: this process runs as %s (%s: %s)",
			  name, step, strerror(err));
		probe_fix(p, "run the container with a type that may mount, or without SELinux separation:");
		probe_fix(p, "  podman run --security-opt label=disable ...    # docker: the same option");
		probe_fix(p, "  Kubernetes: securityContext seLinuxOptions: {type: container_engine_t} "
			  "(OpenShift: the nested-container SCC)");
	} else if (h->seccomp) {
		probe_set(p, RT_PROBE_PROBLEM, err, "mounting is refused by a seccomp filter on this process "
			  "(Seccomp: 2 in /proc/self/status, as a container runtime's default profile) (%s: %s)", step,
			  strerror(err));
		fix_seccomp(p);
	} else if (h->container) {
		probe_set(p, RT_PROBE_PROBLEM, err, "mounting is refused inside a container: its AppArmor or seccomp "
			  "profile denies mount (%s: %s)", step, strerror(err));
		fix_container(p, h, "mount");
	} else {
		return false;
	}
	return true;
}

static void fix_apparmor(rt_probe *p, const host_facts *h)
{
	bool covered = !strcmp(h->exe, "/usr/bin/kbuild-ns") || !strcmp(h->exe, "/usr/local/bin/kbuild-ns");
	probe_fix(p, "load the AppArmor profile kbuild-ns ships for /usr/bin/kbuild-ns and /usr/local/bin/kbuild-ns:");
	if (!covered && h->exe[0])
		probe_fix(p, "  (this copy runs as %s: install it in one of those places, or put its path in the profile)",
			  h->exe);
	if (access(APPARMOR_DEST, F_OK) != 0) {
		if (KBUILD_NS_APPARMOR_PROFILE[0] && access(KBUILD_NS_APPARMOR_PROFILE, R_OK) == 0)
			probe_fix(p, "  sudo install -m 0644 %s " APPARMOR_DEST, KBUILD_NS_APPARMOR_PROFILE);
		else
			probe_fix(p, "  sudo install -m 0644 images/apparmor/kbuild-ns " APPARMOR_DEST
				  "    # from the kbuild-ns sources");
	}
	probe_fix(p, "  sudo apparmor_parser -r " APPARMOR_DEST);
	probe_fix(p, "or lift the restriction for every program (less safe), now and at every boot:");
	fix_sysctl(p, "kernel.apparmor_restrict_unprivileged_userns", 0);
}

void explain_apparmor(rt_probe *p, const host_facts *h)
{
	probe_set(p, RT_PROBE_PROBLEM, EPERM,
		  "kernel.apparmor_restrict_unprivileged_userns is 1 and no AppArmor profile lets %s use user "
		  "namespaces: inside one it has no capabilities, so id maps and mounts fail",
		  h->exe[0] ? h->exe : "kbuild-ns");
	fix_apparmor(p, h);
}

void explain_userns(rt_probe *p, const host_facts *h, int err, const char *step, const char *label)
{
	const char *why = strerror(err);
	bool map_step = strstr(step, "map") || strstr(step, "setgroups");

	if (h->max_userns == 0 && h->nested_userns) {
		/* The limit is per user namespace: a container's own, set by
		 * whoever made it (its runtime), not the host's. */
		probe_set(p, RT_PROBE_PROBLEM, err, "user namespaces are disabled: user.max_user_namespaces is 0 in the "
			  "user namespace kbuild-ns runs in, a container's (the host's may differ) (%s: %s)", step, why);
		probe_fix(p, "raise it in that namespace, as its root (where the container is made):");
		probe_fix(p, "  echo 15000 > /proc/sys/user/max_user_namespaces");
		probe_fix(p, "and if the host's is 0 too, there, now and at every boot:");
		fix_sysctl(p, "user.max_user_namespaces", 15000);
	} else if (h->max_userns == 0) {
		probe_set(p, RT_PROBE_PROBLEM, err, "user namespaces are disabled: user.max_user_namespaces is 0 (%s: %s)",
			  step, why);
		probe_fix(p, "allow them, now and at every boot:");
		fix_sysctl(p, "user.max_user_namespaces", 15000);
		if (h->userns_param == 0) {
			probe_fix(p, "and turn them on in the kernel (RHEL/CentOS 7), then reboot:");
			probe_fix(p, "  sudo grubby --update-kernel=ALL --args=user_namespace.enable=1");
		}
	} else if (h->userns_param == 0) {
		probe_set(p, RT_PROBE_PROBLEM, err, "user namespaces are off in this kernel: "
			  "user_namespace.enable=0 (%s: %s)", step, why);
		probe_fix(p, "turn them on (RHEL/CentOS 7), then reboot:");
		probe_fix(p, "  sudo grubby --update-kernel=ALL --args=user_namespace.enable=1");
		probe_fix(p, "  echo 'user.max_user_namespaces = 15000' | sudo tee -a " SYSCTL_FILE);
	} else if (h->userns_clone == 0) {
		probe_set(p, RT_PROBE_PROBLEM, err, "unprivileged user namespaces are disabled: "
			  "kernel.unprivileged_userns_clone is 0 (%s: %s)", step, why);
		probe_fix(p, "allow them, now and at every boot:");
		fix_sysctl(p, "kernel.unprivileged_userns_clone", 1);
	} else if ((label && strstr(label, "unprivileged_userns")) || (h->aa_restrict == 1 && (map_step || is_perm(err)))) {
		explain_apparmor(p, h);
		snprintf(p->finding + strlen(p->finding), sizeof p->finding - strlen(p->finding), " (%s: %s)", step, why);
	} else if (err == ENOSPC || err == EUSERS) {
		probe_set(p, RT_PROBE_PROBLEM, err, "the limit on user namespaces is reached: user.max_user_namespaces "
			  "is %ld, or they are nested 32 deep (%s: %s)", h->max_userns, step, why);
		probe_fix(p, "raise the limit, now and at every boot (if this runs nested in many namespaces, run it "
			  "from fewer):");
		fix_sysctl(p, "user.max_user_namespaces", h->max_userns < 7500 ? 15000 : h->max_userns * 2);
	} else if (err == EINVAL && (strstr(step, "unshare(CLONE_NEWUSER)") || strstr(step, "clone"))) {
		probe_set(p, RT_PROBE_PROBLEM, err, "this kernel has no user namespaces (built without CONFIG_USER_NS; "
			  "%s: %s)", step, why);
		probe_fix(p, "boot a kernel built with CONFIG_USER_NS=y (every major distribution's is)");
	} else if (h->seccomp && is_perm(err) && !map_step) {
		probe_set(p, RT_PROBE_PROBLEM, err, "user namespaces are refused by a seccomp filter on this process "
			  "(Seccomp: 2 in /proc/self/status: a container runtime's default profile refuses unshare and "
			  "clone with namespace flags without CAP_SYS_ADMIN) (%s: %s)", step, why);
		fix_seccomp(p);
	} else if (h->container && is_perm(err)) {
		probe_set(p, RT_PROBE_PROBLEM, err, "user namespaces are refused inside this container: its seccomp "
			  "profile blocks them unless it has CAP_SYS_ADMIN (%s: %s)", step, why);
		fix_container(p, h, "make user namespaces");
	} else {
		probe_set(p, RT_PROBE_PROBLEM, err, "%s failed: %s, although no sysctl forbids user namespaces", step, why);
		probe_fix(p, "find out what refuses them (a security module such as SELinux or AppArmor, or a "
			  "patched kernel):");
		probe_fix(p, "  unshare --user --map-root-user true");
		probe_fix(p, "  sysctl user.max_user_namespaces kernel.unprivileged_userns_clone "
			  "kernel.apparmor_restrict_unprivileged_userns");
		probe_fix(p, "  sudo dmesg | tail    # a denial from a security module shows there");
	}
}

void explain_xattrs(rt_probe *p, int err, const char *what, const char *shown, unsigned long magic)
{
	if (!strncmp(what, "create", 6) || !strncmp(what, "open", 4)) {
		probe_set(p, RT_PROBE_PROBLEM, err, "cannot %s in %s: %s", what, shown, strerror(err));
		probe_fix(p, "use a state directory you can write (the default is ~/.local/share/kbuild-ns):");
		probe_fix(p, "  kbuild-ns --state-dir /var/tmp/kbuild-ns-%s doctor", user_name());
		return;
	}
	if (magic == OVERLAYFS_SUPER_MAGIC && strstr(what, "mknod")) {
		/* ovl_mknod refuses a 0/0 device (EPERM), but user.* xattrs
		 * work: the store keeps whiteouts as ".wh." files there, and
		 * builds run on a copy of the image (src/build/flatroot.h). */
		probe_set(p, RT_PROBE_NOTE, err, "%s is on overlayfs (as in a container): no whiteout devices (mknod: %s) "
			  "and no overlay upper layer there, so whiteouts are kept as .wh. files and builds run on a "
			  "copy of the image (more disk, a slower first run, no cache export or import)", shown,
			  strerror(err));
		probe_fix(p, "for the overlay, give the state directory a real filesystem, for example a volume or an "
			  "emptyDir:");
		probe_fix(p, "  docker run -v kbuild-ns-state:/var/lib/kbuild-ns -e KBUILD_NS_STATE_DIR=/var/lib/kbuild-ns ...");
		probe_fix(p, "  Kubernetes: volumes: [{name: state, emptyDir: {}}], mounted where KBUILD_NS_STATE_DIR points");
		return;
	}
	if (magic == OVERLAYFS_SUPER_MAGIC) {
		probe_set(p, RT_PROBE_PROBLEM, err, "%s is on overlayfs (as inside a container), which can hold neither "
			  "the store's whiteouts nor an overlay's upper layer (%s: %s)", shown, what, strerror(err));
		probe_fix(p, "give the state directory a real filesystem, for example a volume or an emptyDir:");
		probe_fix(p, "  docker run -v kbuild-ns-state:/var/lib/kbuild-ns -e KBUILD_NS_STATE_DIR=/var/lib/kbuild-ns ...");
		probe_fix(p, "  Kubernetes: volumes: [{name: state, emptyDir: {}}], mounted where KBUILD_NS_STATE_DIR points");
		return;
	}
	if (strstr(what, "mknod") && is_perm(err)) {
		probe_set(p, RT_PROBE_PROBLEM, err, "%s (%s): cannot make whiteouts without privilege (%s: %s); "
			  "Linux 5.8 or newer allows it", shown, fs_name(magic), what, strerror(err));
		probe_fix(p, "boot Linux 5.8 or newer");
		return;
	}
	if (err == EOPNOTSUPP || err == ENOTSUP)
		probe_set(p, RT_PROBE_PROBLEM, err, "%s is on %s, which does not keep user.* extended attributes%s",
			  shown, fs_name(magic), magic == TMPFS_MAGIC ? " (tmpfs has them from Linux 6.6)" : "");
	else
		probe_set(p, RT_PROBE_PROBLEM, err, "%s (%s): %s: %s", shown, fs_name(magic), what, strerror(err));
	probe_fix(p, "image layers keep their whiteouts and original owners in user.* xattrs, and the overlay's "
		  "upper layer needs them;");
	fix_state_dir(p);
}

void explain_overlay(rt_probe *p, const host_facts *h, int err, const char *step, const char *shown,
		     unsigned long magic)
{
	const char *why = strerror(err);

	if (magic == OVERLAYFS_SUPER_MAGIC) {
		/* params.c (ovl_mount_dir_check): overlayfs's dentries
		 * revalidate, so it is "not supported as upperdir". */
		probe_set(p, RT_PROBE_NOTE, err, "%s is itself on overlayfs (as inside a container), which cannot hold "
			  "an overlay's upper layer (%s: %s): builds run on a copied root instead, without overlay "
			  "(see xattrs)", shown, step, why);
		probe_fix(p, "for the overlay, give the state directory a real filesystem, for example a volume or an "
			  "emptyDir:");
		probe_fix(p, "  docker run -v kbuild-ns-state:/var/lib/kbuild-ns -e KBUILD_NS_STATE_DIR=/var/lib/kbuild-ns ...");
		probe_fix(p, "  Kubernetes: volumes: [{name: state, emptyDir: {}}], mounted where KBUILD_NS_STATE_DIR points");
	} else if (magic == NFS_SUPER_MAGIC || magic == 0x65735546 || magic == 0xff534d42 || magic == 0xfe534d42) {
		probe_set(p, RT_PROBE_PROBLEM, err, "%s is on %s, which cannot hold an overlay's upper layer (%s: %s)",
			  shown, fs_name(magic), step, why);
		fix_state_dir(p);
	} else if (err == ENODEV) {
		probe_set(p, RT_PROBE_PROBLEM, err, "the kernel has no overlay filesystem (%s: %s)", step, why);
		probe_fix(p, "load the module, now and at every boot:");
		probe_fix(p, "  sudo modprobe overlay");
		probe_fix(p, "  echo overlay | sudo tee /etc/modules-load.d/kbuild-ns.conf");
	} else if (is_perm(err) && h->aa_restrict == 1) {
		probe_set(p, RT_PROBE_PROBLEM, err, "mounting in a user namespace is refused: "
			  "kernel.apparmor_restrict_unprivileged_userns is 1 (%s: %s)", step, why);
		fix_apparmor(p, h);
	} else if (explain_confined_mount(p, h, err, step)) {
		/* said */
	} else if (is_perm(err) || err == EINVAL) {
		probe_set(p, RT_PROBE_PROBLEM, err, "overlayfs refused a mount in a user namespace (%s: %s): the kernel "
			  "is older than 5.11 (no userxattr), or it does not take the state directory's filesystem%s%s%s "
			  "as an upper layer", step, why, magic ? " (" : "", magic ? fs_name(magic) : "", magic ? ")" : "");
		probe_fix(p, "the kernel log says which:");
		probe_fix(p, "  sudo dmesg | grep -i overlayfs | tail -3");
		probe_fix(p, "boot Linux 5.11 or newer (5.13 or newer is best), and if the log blames the upper layer:");
		fix_state_dir(p);
	} else {
		probe_set(p, RT_PROBE_PROBLEM, err, "overlayfs in a user namespace: %s: %s", step, why);
		probe_fix(p, "the kernel log may say more:");
		probe_fix(p, "  sudo dmesg | grep -i overlayfs | tail -3");
		fix_state_dir(p);
	}
}

void explain_lowerdir_plus(rt_probe *p, int err, const char *step, size_t dirlen)
{
	/* mount(2) takes one page of options: "userxattr,upperdir=U,workdir=W,
	 * lowerdir=L1:L2:..." with each layer at STATE/store/layers/<64 hex>. */
	size_t fixed = 40 + 2 * (dirlen + 40), per = dirlen + sizeof "/store/layers/" + 64;
	size_t n = fixed < 4096 ? (4096 - fixed) / per : 0;
	probe_set(p, RT_PROBE_NOTE, err, "no lowerdir+ (Linux 6.8): the layers go into one mount option string, "
		  "which fits about %zu layers with this state directory (%s: %s)", n, step, strerror(err));
	probe_fix(p, "nothing to do for images of fewer layers; Linux 6.8 or newer lifts the limit");
}

/* Append s to buf (of size len), cutting it short when full. */
static void append(char *buf, size_t len, const char *s)
{
	size_t n = strlen(buf), k = strlen(s);
	if (n + 1 >= len)
		return;
	if (k > len - n - 1)
		k = len - n - 1;
	memcpy(buf + n, s, k);
	buf[n + k] = 0;
}

/* Mounts over parts of /proc: how container runtimes mask it.  Mounts
 * on the empty directories procfs keeps for them (binfmt_misc, nfsd)
 * do not count; the kernel allows those. */
static void proc_masks(char *buf, size_t len, int *ret_n)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[1024], mp[512];
	int n = 0;

	buf[0] = 0;
	while (f && fgets(line, sizeof line, f)) {
		if (sscanf(line, "%*s %*s %*s %*s %511s", mp) != 1 || strncmp(mp, "/proc/", 6))
			continue;
		if (!strcmp(mp, "/proc/sys/fs/binfmt_misc") || !strcmp(mp, "/proc/fs/nfsd"))
			continue;
		if (strstr(buf, mp))
			continue;
		if (++n <= 4) {
			if (n > 1)
				append(buf, len, ", ");
			append(buf, len, mp);
		}
	}
	if (f)
		fclose(f);
	if (n > 4) {
		char more[32];
		snprintf(more, sizeof more, " and %d more", n - 4);
		append(buf, len, more);
	}
	*ret_n = n;
}

void explain_proc(rt_probe *p, const host_facts *h, int err, const char *step)
{
	char masks[160];
	int n;
	proc_masks(masks, sizeof masks, &n);

	if (is_perm(err) && n > 0) {
		/* The sandbox's fallback (runtime/sandbox.c): a note, not a problem. */
		probe_set(p, RT_PROBE_NOTE, err, "a fresh /proc is refused (%s: %s): parts of this one are masked "
			  "(%s), as container runtimes do; the sandbox binds it read-only instead, with no pid "
			  "namespace of its own", step, strerror(err), masks);
		probe_fix(p, "for a /proc and pids of the sandbox's own, start the container with an unmasked /proc:");
		probe_fix(p, "  docker run --security-opt systempaths=unconfined ...");
		probe_fix(p, "  podman run --security-opt unmask=ALL ...");
		probe_fix(p, "  Kubernetes: hostUsers: false and securityContext procMount: Unmasked");
		probe_fix(p, "or run kbuild-ns on the host");
	} else if (is_perm(err) && h->aa_restrict == 1) {
		probe_set(p, RT_PROBE_PROBLEM, err, "mounting in a user namespace is refused: "
			  "kernel.apparmor_restrict_unprivileged_userns is 1 (%s: %s)", step, strerror(err));
		fix_apparmor(p, h);
	} else if (explain_confined_mount(p, h, err, step)) {
		/* said */
	} else {
		probe_set(p, RT_PROBE_PROBLEM, err, "a fresh /proc in a new pid namespace failed (%s: %s)", step,
			  strerror(err));
		probe_fix(p, "find out what refuses it (a security module logs a denial):");
		probe_fix(p, "  unshare --user --map-root-user --pid --fork --mount-proc true");
		probe_fix(p, "  sudo dmesg | tail");
	}
}

void explain_openat2(rt_probe *p, int err)
{
	if (err == ENOSYS)
		probe_set(p, RT_PROBE_PROBLEM, err, "openat2 is missing (%s): kbuild-ns needs Linux 5.6 or newer, "
			  "or a container runtime whose seccomp profile knows openat2", strerror(err));
	else
		probe_set(p, RT_PROBE_PROBLEM, err, "openat2 is refused: %s", strerror(err));
	probe_fix(p, "boot Linux 5.6 or newer; inside a container, use Docker 20.10, containerd 1.5, Podman 3 or newer");
}

void explain_subids(rt_probe *p, const char *user, const char *no_uidmap, const char *no_gidmap, bool uid_range,
		    bool gid_range, unsigned long max_end)
{
	char why[320] = "";
	const char *helpers[] = { no_uidmap, no_gidmap };
	for (int i = 0; i < 2; i++)
		if (helpers[i])
			snprintf(why + strlen(why), sizeof why - strlen(why), "%s%s %s", why[0] ? ", " : "", helpers[i],
				 strchr(helpers[i], '/') ? "is neither setuid root nor has file capabilities" : "is not installed");
	if (!uid_range)
		snprintf(why + strlen(why), sizeof why - strlen(why), "%sno range for %s in /etc/subuid",
			 why[0] ? ", " : "", user ? user : "this user");
	if (!gid_range)
		snprintf(why + strlen(why), sizeof why - strlen(why), "%sno range for %s in /etc/subgid",
			 why[0] ? ", " : "", user ? user : "this user");
	probe_set(p, RT_PROBE_NOTE, 0, "single-id mapping will be used: the build has one id, a chown to any other "
		  "fails (%s)", why);
	probe_fix(p, "optional, only builds that switch between several users need a range of ids:");
	if (no_uidmap || no_gidmap)
		probe_fix(p, "  sudo apt-get install uidmap    # Fedora, RHEL: sudo dnf install shadow-utils");
	if (!uid_range || !gid_range) {
		unsigned long start = max_end > 100000 ? max_end : 100000;
		probe_fix(p, "  sudo usermod --add-subuids %lu-%lu --add-subgids %lu-%lu %s", start, start + 65535, start,
			  start + 65535, user ? user : user_name());
	}
}

static bool has(const char *s, const char *word)
{
	return strstr(s, word) != NULL;
}

const char *rt_probe_advice(int errnum, const char *msg)
{
	static char text[sizeof ((rt_probe *)0)->finding + sizeof ((rt_probe *)0)->fix + 64];
	rt_probe p = { .id = "advice" };
	host_facts h;
	char step[1024];    /* a kb_error message */

	if (!msg || errnum <= 0)
		return NULL;
	/* The step without the ": strerror" kb_err added: the explanations
	 * name the cause themselves. */
	snprintf(step, sizeof step, "%s", msg);
	const char *why = strerror(errnum);
	size_t n = strlen(step), w = strlen(why);
	if (n > w + 2 && !strcmp(step + n - w, why) && !strncmp(step + n - w - 2, ": ", 2))
		step[n - w - 2] = 0;
	facts_read(&h);
	/* The words of the runtime's own messages (sandbox.c, userns.c,
	 * mounts.c, isolate.c), not of any path: a checkout may be called
	 * "clones" or "procfs". */
	if (has(step, "(clone)") || has(step, "unshare") || has(step, "uid_map") || has(step, "gid_map") ||
	    has(step, "setgroups") || has(step, "namespace") || has(step, "newuidmap") || has(step, "newgidmap")) {
		if (!is_perm(errnum) && errnum != EINVAL && errnum != ENOSPC && errnum != EUSERS)
			return NULL;
		explain_userns(&p, &h, errnum, step, NULL);
	} else if (has(step, "mount overlay")) {
		if (!is_perm(errnum) && errnum != EINVAL && errnum != ENODEV && errnum != EOPNOTSUPP)
			return NULL;
		explain_overlay(&p, &h, errnum, step, "the state directory", 0);
	} else if (has(step, "mount proc") || has(step, "/proc/sys")) {
		if (!is_perm(errnum))
			return NULL;
		explain_proc(&p, &h, errnum, step);
	} else if (has(step, "xattr")) {
		if (errnum != EOPNOTSUPP)
			return NULL;
		explain_xattrs(&p, errnum, "setxattr", "the state directory", 0);
	} else if (has(step, "openat2")) {
		explain_openat2(&p, errnum);
	} else {
		return NULL;
	}
	snprintf(text, sizeof text, "%s\n%skbuild-ns doctor checks the whole host.\n", p.finding, p.fix);
	return text;
}
