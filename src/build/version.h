/* The version step: the tree's version, computed as upstream's
 * kube::build::verify_prereqs does before anything is sent, by the tree's
 * own hack/lib/version.sh (kube::version::get_version_vars, then
 * kube::version::save_version_vars) against the checkout as the host has
 * it, and written where the build's KUBE_GIT_VERSION_FILE points, so
 * that the build stamps that version whatever its sync rules let into
 * the snapshot (the 2017 rules keep .git out) and whatever the build's
 * generators change before the stamping.
 *
 * The host may have neither bash nor git, so it runs in a sandbox on the
 * build image and the data layer: the checkout (its .git included, and
 * the git directory a worktree's ".git" file names) mounted read-only
 * where the build sees the snapshot, the version file of the snapshot
 * mounted writable, as the caller's own uid (so that git's index, made
 * by that uid, matches the files' owner and git need not read every
 * file again), without the network.  git writes nothing:
 * GIT_OPTIONAL_LOCKS=0 keeps `git status` from refreshing the index, and
 * safe.directory (in a HOME of its own) lets git read a checkout that
 * belongs to another uid.  Host variables KUBE_GIT_COMMIT,
 * KUBE_GIT_TREE_STATE, KUBE_GIT_VERSION, KUBE_GIT_MAJOR and
 * KUBE_GIT_MINOR reach it, as they reach upstream's scripts on the
 * host. */
#pragma once
#include "base/util.h"
#include "runtime/error.h"
#include "build/data.h"
#include "runtime/sandbox.h"

typedef struct version_args {
	const rt_spec *build;       /* the build sandbox's spec: layers, data layer, seccomp */
	kb_data *data;              /* the data sandbox: the step's record */
	const char *image_id;       /* the build image's id */
	const char *checkout;       /* the host's checkout */
	const char *root;           /* where the build sees the snapshot (its workdir) */
	const char *snapshot;       /* the snapshot on the host */
	const char *file;           /* the build's KUBE_GIT_VERSION_FILE, or NULL */
	const char *host_text;      /* the host's KUBE_GIT_VERSION_FILE's content, or NULL */
	size_t host_len;
	bool step;                  /* the tree's hack/lib/version.sh saves the version */
	char *const *image_env;     /* the image's Env (PATH, LANG, ...) */
	size_t n_image_env;
} version_args;

/* The version file where file points, which must be a file at the top
 * of root (a note at -v otherwise): the host's file copied, as classic
 * build/common.sh copies it, or the version step's output — its last
 * run's, kept in data's record, while nothing it reads has changed since
 * (no ctime in the checkout or its git directory at or after the moment
 * before that run; the same image, variables and script), else from
 * running it again.  In two halves, so that the sync-in can run between
 * them, beside the build sandbox's start (build.c): version_prepare
 * decides (it reads the checkout, never the snapshot) — nothing to do, a
 * text to write, or the step to run; version_finish does it, after the
 * sync, and returns 1 when the step ran (on the data layer, mounted
 * volatile: the caller removes the kernel's mark), 0 when it wrote a text
 * or there was nothing to do, or an error naming hack/lib/version.sh and
 * its exit status (its own messages went to stdout and stderr).  Only a
 * job that runs the step needs the data layer (version_job_runs), and so
 * cannot overlap the build sandbox's mount of it. */
typedef struct version_job version_job;
int version_prepare(const version_args *a, version_job **ret, kb_error *e);
bool version_job_runs(const version_job *j);
int version_finish(version_job *j, kb_error *e);
void version_job_free(version_job *j);
