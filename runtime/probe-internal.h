/* Shared by probe.c (the trials) and probe-explain.c (what a failure
 * means and what fixes it).  Not for use outside runtime/probe*.c. */
#pragma once
#include "probe.h"

#include <limits.h>
#include <stdbool.h>

/* What the host says about itself, read cheaply (no namespaces made):
 * used to explain a failure, never to predict one. */
typedef struct host_facts {
	long max_userns;         /* user.max_user_namespaces, -1 unreadable */
	long userns_clone;       /* kernel.unprivileged_userns_clone (Debian patch), -1 absent */
	long aa_restrict;        /* kernel.apparmor_restrict_unprivileged_userns (Ubuntu), -1 absent */
	int userns_param;        /* /sys/module/user_namespace/parameters/enable (RHEL 7): 1, 0, -1 absent */
	const char *container;   /* "Docker", "Podman", "Kubernetes", $container, or NULL */
	const char *container_sign; /* what gave it away, e.g. "/.dockerenv" */
	char exe[PATH_MAX];      /* this program, /proc/self/exe */
	char label[128];         /* our own AppArmor label or SELinux context, "" when none */
	bool seccomp;            /* a seccomp filter is on this process (Seccomp: 2) */
	bool nested_userns;      /* this process is not in the initial user namespace */
} host_facts;

void facts_read(host_facts *h);
/* KBUILD_NS_PROBE_FAIL names this probe. */
bool probe_forced(const char *id);
const char *fs_name(unsigned long magic);

void probe_set(rt_probe *p, rt_probe_state st, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Append one line to the fix. */
void probe_fix(rt_probe *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Each sets p to PROBLEM (or NOTE where a fallback exists) with a
 * finding and the fix. */
void explain_userns(rt_probe *p, const host_facts *h, int err, const char *step, const char *label);
void explain_apparmor(rt_probe *p, const host_facts *h);
void explain_xattrs(rt_probe *p, int err, const char *what, const char *shown, unsigned long magic);
void explain_overlay(rt_probe *p, const host_facts *h, int err, const char *step, const char *shown,
		     unsigned long magic);
/* dirlen: the state directory's length, to say how many layers fit. */
void explain_lowerdir_plus(rt_probe *p, int err, const char *step, size_t dirlen);
void explain_proc(rt_probe *p, const host_facts *h, int err, const char *step);
void explain_openat2(rt_probe *p, int err);
void explain_subids(rt_probe *p, const char *user, const char *no_uidmap, const char *no_gidmap, bool uid_range,
		    bool gid_range, unsigned long max_end);
