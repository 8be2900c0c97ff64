/* The build profile of a checkout: what the tree says about its build.
 *
 * The checkout's facts (its physical top, the branch, the cross tag in
 * build/build-image/cross/VERSION and the base version in
 * build/build-image/VERSION), and the profile drawn from them: where the
 * tree sits inside the sandbox, HOME, the fixed environment, the sync
 * filters, and whether the kube-build steps (marker file, TMPDIR, git
 * identity, …) are applied to the data sandbox.  Built in: "kube" for a
 * checkout with build/build-image/cross/VERSION, "generic" otherwise; a
 * kbuild-ns.conf at the checkout's top may pick one and change it
 * (kbuild-ns.conf(5)). */
#pragma once
#include "base/util.h"
#include "runtime/error.h"
#include "build/sync.h"

typedef struct kb_profile {
	/* the checkout */
	char *checkout;             /* physical path of its top */
	char *branch;               /* "" for a detached HEAD or no git */
	char *cross_tag;            /* build/build-image/cross/VERSION, or NULL */
	char *base_version;         /* build/build-image/VERSION (kube only), or NULL */
	/* the profile */
	const char *name;           /* "kube" or "generic" */
	bool kube;                  /* apply the kube-build steps at init */
	char *image;                /* image = from the file, or NULL */
	char *workdir;
	char *home;
	sync_rules rules;
	char **env;                 /* NAME=VALUE set inside */
	size_t n_env;
	char **pass;                /* host variables passed when set */
	size_t n_pass;
	bool from_file;             /* a kbuild-ns.conf was read */
} kb_profile;

/* The profile of the checkout at dir.  user_host: --user host (HOME of
 * the generic profile is then the workdir, root's home is not ours). */
int profile_load(const char *dir, bool user_host, kb_profile **ret, kb_error *e);
/* A built-in profile ("kube" or "generic") alone, with no checkout: for
 * the sync engine's tests and bench helper. */
int profile_builtin(const char *name, bool user_host, kb_profile **ret, kb_error *e);
/* The image to build with, in this order: opt (--image), $KBUILD_NS_IMAGE,
 * the image key of kbuild-ns.conf, then kube-cross:<cross tag>.  NULL
 * when none applies (a generic checkout without any of them). */
char *profile_image_ref(const kb_profile *p, const char *opt);
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
