/* The build profile of a checkout: what the tree says about its build.
 *
 * The checkout's facts (its physical top, the branch, the cross tag in
 * build/build-image/cross/VERSION and the base version in
 * build/build-image/VERSION), and the profile drawn from them: where the
 * tree sits inside the sandbox, HOME, the fixed environment, the sync
 * rules, the data sandbox's init and the version step.  Built in: "kube"
 * for a checkout with build/build-image/cross/VERSION, "generic"
 * otherwise; a kbuild-ns.conf at the checkout's top may pick one and
 * change it (kbuild-ns.conf(5)).
 *
 * A kube checkout is followed as its own build/ files say, where they are
 * there (kbuild-ns-make(1), "The tree's own rules"):
 *   build/common.sh          the rsync filter rules of sync-in
 *                            (kube::build::sync_to_container) and copy-out
 *                            (kube::build::copy_output), and of
 *                            kube::build::rsync for both;
 *   build/build-image/rsyncd.sh   the rsync daemon's own filter, first in
 *                            both;
 *   build/build-image/Dockerfile  the data sandbox's init, the build's
 *                            environment, working directory, HOME and
 *                            the base image's name (buildimage.h);
 *   hack/lib/version.sh      the version step (version.h).
 * What the tree lacks is built in.  kbuild-ns.conf overrides either. */
#pragma once
#include "base/util.h"
#include "runtime/error.h"
#include "build/sync.h"
#include "build/dockerfile.h"
#include "build/buildimage.h"

/* A list of strings (kbuild-ns.conf's pattern keys), with the line of each. */
typedef struct conf_list {
	char **v;
	unsigned *line;
	size_t n;
	bool set;                   /* the file has the key: its list replaces the profile's */
} conf_list;

typedef struct kb_profile {
	/* the checkout */
	char *checkout;             /* physical path of its top */
	char *subdir;               /* where the command started, below the top ("" at the top) */
	const char *found_by;       /* the file that marks the top, or NULL (none: the start) */
	char *branch;               /* "" for a detached HEAD or no git */
	char *cross_tag;            /* build/build-image/cross/VERSION, or NULL */
	char *base_version;         /* build/build-image/VERSION (kube only), or NULL */
	/* the profile */
	const char *name;           /* "kube" or "generic" */
	bool kube;                  /* follow the tree's build/ files, or the kube-build steps */
	char *image;                /* image = from the file, or NULL */
	char *workdir;
	char *home;
	char *workdir_from;         /* where each comes from: "built in", "kbuild-ns.conf:3", */
	char *home_from;            /*   "build/build-image/Dockerfile:30" */
	sync_rules rules;           /* what sync-in and copy-out follow */
	char *rules_from[2];        /* sync-in, copy-out: where their list comes from */
	char **env;                 /* NAME=VALUE set inside (built in, kbuild-ns.conf) */
	size_t n_env;
	char **pass;                /* host variables passed when set */
	size_t n_pass;
	bool from_file;             /* a kbuild-ns.conf was read */
	conf_list exclude, copy_out, copy_out_exclude;
	/* build/build-image/Dockerfile (kube), and what it makes without the
	 * base image's Env: the base image's name, workdir, HOME, notes */
	dockerfile *dockerfile;
	kb_buildimage *plan;
	char *from_ref;             /* the base image as FROM names it */
	char *from_short;           /* its last name component and tag ("kube-cross:TAG"), or NULL */
	bool version_step;          /* hack/lib/version.sh saves the version (kube) */
	char **notes;               /* what is built in, skipped or ignored, and why (for -v) */
	size_t n_notes;
	/* A rule of the tree kbuild-ns cannot follow ("FILE:LINE: why"):
	 * make, run and shell refuse with it; status shows it. */
	kb_error refusal;
} kb_profile;

/* The profile of the checkout dir is in.  Its top is found as git finds
 * a repository's: the nearest directory, from dir up, that holds
 * build/build-image/cross/VERSION, kbuild-ns.conf or .git; the walk stops
 * at a file system boundary and below $HOME and /, which it never takes
 * unless dir is one of them; dir itself when it finds none.  -v says
 * which.  user_host: --user host (HOME of the generic profile is then the
 * workdir, root's home is not ours). */
int profile_load(const char *dir, bool user_host, kb_profile **ret, kb_error *e);
/* A built-in profile ("kube" or "generic") alone, with no checkout: for
 * the sync engine's tests and bench helper. */
int profile_builtin(const char *name, bool user_host, kb_profile **ret, kb_error *e);
/* The image to build with, in this order: opt (--image), $KBUILD_NS_IMAGE,
 * the image key of kbuild-ns.conf, the base image the tree's Dockerfile
 * names (FROM), then kube-cross:<cross tag>.  NULL when none applies (a
 * generic checkout without any of them). */
char *profile_image_ref(const kb_profile *p, const char *opt);
/* The other name the image ref may be stored under: for the base image
 * the tree's Dockerfile names, its short form ("kube-cross:TAG", what
 * images/kube-cross/build.sh names it); NULL for any other ref.  Every
 * command that looks the build image up tries both. */
const char *profile_image_alt(const kb_profile *p, const char *ref);
/* Where to pull the image from when it is missing: the reference as
 * given (opt, $KBUILD_NS_IMAGE, image = ), or for kube-cross:<cross tag>
 * the one upstream's build/common.sh names for the tree's era:
 * $KUBE_CROSS_IMAGE:$KUBE_CROSS_VERSION, each defaulting as upstream does
 * ($KUBE_BASE_IMAGE_REGISTRY/kube-cross, the cross tag), the registry
 * defaulting to the tree's own (build/common.sh, or the FROM line of a
 * 2017-era build/build-image/Dockerfile), else registry.k8s.io/build-image.
 * NULL when there is no image at all. */
char *profile_pull_ref(const kb_profile *p, const char *opt);
void profile_free(kb_profile *p);
static inline void profile_freep(kb_profile **p) { profile_free(*p); }
