/* What a refusal inside a container is explained as (runtime/probe-
 * explain.c): the layer named from the host facts, and its fix.  The
 * facts are made up here, so the AppArmor and SELinux paths are checked
 * on a kernel that has neither. */
#include "unit.h"
#include "runtime/probe-internal.h"

#include <linux/magic.h>

/* A host that forbids nothing by sysctl and is in no container. */
static host_facts plain(void)
{
	host_facts h;
	memset(&h, 0, sizeof h);
	h.max_userns = 15000;
	h.userns_clone = h.aa_restrict = -1;
	h.userns_param = -1;
	return h;
}

static void test_apparmor_profile(void **state)
{
	(void)state;
	host_facts h = plain();
	rt_probe p = { .id = "overlay" };
	snprintf(h.label, sizeof h.label, "docker-default (enforce)");
	explain_overlay(&p, &h, EPERM, "mount overlay", "/state", EXT4_SUPER_MAGIC);
	assert_int_equal(p.state, RT_PROBE_PROBLEM);
	assert_contains(p.finding, "AppArmor profile docker-default ");
	assert_contains(p.fix, "--security-opt apparmor=unconfined");
	assert_contains(p.fix, "appArmorProfile: {type: Unconfined}");
}

static void test_apparmor_unconfined(void **state)
{
	(void)state;
	host_facts h = plain();
	rt_probe p = { .id = "proc" };
	snprintf(h.label, sizeof h.label, "unconfined");
	explain_proc(&p, &h, EPERM, "mount proc");
	assert_null(strstr(p.finding, "AppArmor"));
}

static void test_selinux(void **state)
{
	(void)state;
	host_facts h = plain();
	rt_probe p = { .id = "proc" };
	snprintf(h.label, sizeof h.label, "system_u:system_r:container_t:s0:c12,c34");
	explain_proc(&p, &h, EACCES, "mount proc");
	assert_contains(p.finding, "refused by SELinux");
	assert_contains(p.finding, "container_t");
	assert_contains(p.fix, "label=disable");
	assert_contains(p.fix, "container_engine_t");
}

static void test_seccomp_userns(void **state)
{
	(void)state;
	host_facts h = plain();
	rt_probe p = { .id = "userns" };
	h.seccomp = true;
	explain_userns(&p, &h, EPERM, "create namespaces (clone)", NULL);
	assert_contains(p.finding, "refused by a seccomp filter");
	assert_contains(p.fix, "--security-opt seccomp=unconfined");
	assert_contains(p.fix, "seccompProfile: {type: Unconfined}");
}

static void test_seccomp_mount(void **state)
{
	(void)state;
	host_facts h = plain();
	rt_probe p = { .id = "overlay" };
	h.seccomp = true;
	explain_overlay(&p, &h, EPERM, "mount overlay", "/state", EXT4_SUPER_MAGIC);
	assert_contains(p.finding, "mounting is refused by a seccomp filter");
}

static void test_nested_max_userns(void **state)
{
	(void)state;
	host_facts h = plain();
	rt_probe p = { .id = "userns" };
	h.max_userns = 0;
	h.nested_userns = true;
	explain_userns(&p, &h, ENOSPC, "create namespaces (clone)", NULL);
	assert_contains(p.finding, "user.max_user_namespaces is 0 in the user namespace kbuild-ns runs in");
	assert_contains(p.fix, "echo 15000 > /proc/sys/user/max_user_namespaces");
	assert_contains(p.fix, "sudo sysctl -w user.max_user_namespaces=15000");
}

static void test_state_on_overlayfs(void **state)
{
	(void)state;
	rt_probe p = { .id = "xattrs" };
	/* No whiteout devices, but xattrs: the copied root (a note). */
	explain_xattrs(&p, EPERM, "mknod a whiteout (character device 0/0)", "/state", OVERLAYFS_SUPER_MAGIC);
	assert_int_equal(p.state, RT_PROBE_NOTE);
	assert_contains(p.finding, "is on overlayfs");
	assert_contains(p.finding, "copy of the image");
	assert_contains(p.fix, "emptyDir");
	/* No user xattrs either: nothing works there. */
	rt_probe q = { .id = "xattrs" };
	explain_xattrs(&q, EOPNOTSUPP, "setxattr user.kbuild-ns.probe", "/state", OVERLAYFS_SUPER_MAGIC);
	assert_int_equal(q.state, RT_PROBE_PROBLEM);
	assert_contains(q.fix, "emptyDir");
	/* The overlay probe: a note naming the copied root. */
	host_facts h = plain();
	rt_probe o = { .id = "overlay" };
	explain_overlay(&o, &h, EINVAL, "mount overlay", "/state", OVERLAYFS_SUPER_MAGIC);
	assert_int_equal(o.state, RT_PROBE_NOTE);
	assert_contains(o.finding, "copied root");
	assert_contains(o.fix, "emptyDir");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_apparmor_profile),  cmocka_unit_test(test_apparmor_unconfined),
		cmocka_unit_test(test_selinux),           cmocka_unit_test(test_seccomp_userns),
		cmocka_unit_test(test_seccomp_mount),     cmocka_unit_test(test_nested_max_userns),
		cmocka_unit_test(test_state_on_overlayfs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
