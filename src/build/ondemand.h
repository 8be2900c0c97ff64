/* Pull on demand: when make, run or shell miss their image, fetch it
 * from the registry the profile names (profile_pull_ref) and go on, as
 * build/run.sh's `docker build` pulls kube-cross.  The pull itself runs
 * in a child, kbuild-ns-image (the only program that links libcurl; its
 * loading would slow every start of kbuild-ns), which writes into the
 * store the build then reads.
 *
 * The policy: --pull, else $KBUILD_NS_PULL, else `pull =` in the user's
 * registries.conf, else missing.  never is the air-gap setting: a missing
 * image is then today's error with the import hint. */
#pragma once
#include "build/build.h"
#include "build/profile.h"
#include "image/regconf.h"

int ondemand_policy(const build_opts *o, pull_policy *ret, kb_error *e);
/* Pull the image the build looks for as ref (the pull reference comes
 * from the profile); stored so that image_find(ref) finds it.  A failure
 * is one line: the image is missing, why the pull failed (the registry
 * unreachable: offline), and how to import it instead. */
int ondemand_pull(const char *state_dir, const build_opts *o, const kb_profile *p, const char *ref, kb_error *e);
