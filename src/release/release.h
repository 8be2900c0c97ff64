/* `kbuild-ns release [--quick] [MAKE-ARGS]`: what Kubernetes'
 * build/release.sh does (make cross, the tests, the packaging of release
 * tarballs and server images), with no Docker and no network, the same
 * bytes every time, and a provenance record (kbuild-ns-release(1)).
 *
 *   1. preflight: every input checked before the long build, in the
 *      build sandbox with the checkout bound read-only (relcheck.c)
 *   2. the source date: --source-date-epoch, SOURCE_DATE_EPOCH, or HEAD's
 *      commit time
 *   3. sync-in, then `make cross` (KUBE_FASTBUILD=true with --quick) and
 *      `make test` (unless --quick or KUBE_RELEASE_RUN_TESTS=n)
 *   4. the tree's own kube::release::package_tarballs, with our docker
 *      (kbuild-ns-docker) and tar (kbuild-ns-tar) first on PATH
 *   5. copy-out, with _output/release-tars and _output/release-images
 *   6. _output/release-tars/kbuild-ns.provenance.json (+ .dsse.json)
 *
 * All in a data sandbox of its own, emptied before (and after a
 * successful) release; the build's policy (build.h, build_release) is set
 * here. */
#pragma once
#include "base/util.h"
#include "runtime/error.h"

typedef struct release_opts {
	bool quick;                  /* host platform only, no tests (make quick-release) */
	bool allow_dirty;
	bool no_wait;
	bool sde_set;                /* --source-date-epoch */
	long long sde;
	const char *sign_key;        /* --sign-key: a PEM private key */
	const char *image;           /* --image */
	char *const *make_args;      /* after our options: to make cross */
	size_t n_make_args;
	char *const *argv;           /* the command line, for the record */
	size_t argc;
} release_opts;

typedef struct release_result {
	char **problems;             /* preflight: one line per missing input */
	size_t n_problems;
	int status;                  /* a step's exit status when it failed */
	char step[64];               /* which step */
	char *record;                /* the provenance record written */
} release_result;

/* 0: done (or a step failed: status); negative: e, or problems. */
int release_run(const char *state_dir, const release_opts *o, release_result *ret, kb_error *e);
void release_result_clear(release_result *r);
