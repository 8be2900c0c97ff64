/* The build profile of a checkout: where the tree sits inside, HOME,
 * fixed environment, the sync filters, and whether the kube-build
 * derivation (marker file, TMPDIR, git identity, …) is applied to the
 * data layer.  Built in: "kube" for a checkout with
 * build/build-image/cross/VERSION, "generic" otherwise; a kbuild-ns.conf
 * at the checkout's top may pick one and change it (kbuild-ns.conf(5)). */
#pragma once
#include "error.h"
#include "sync.h"

typedef struct kb_profile {
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

/* The profile for the checkout open at cfd.  kube_shaped: it has
 * build/build-image/cross/VERSION.  user_host: --user host (HOME of the
 * generic profile is then the workdir, root's home is not ours). */
int profile_load(int cfd, bool kube_shaped, bool user_host, kb_profile **ret, kb_error *e);
void profile_free(kb_profile *p);
static inline void profile_freep(kb_profile **p) { profile_free(*p); }
