/* One build: the three sandboxes of a `kbuild-ns make`, `run` or `shell`
 * joined into one pipeline, as build/run.sh joins its three containers.
 *
 *   build_open       the checkout's profile, its data sandbox, the image
 *   build_prepare    lock the data sandbox, map ids, ready the data layer
 *                    (its one-time init runs in the build sandbox)
 *   build_sync_in    the sync sandbox mirrors the checkout into the snapshot
 *                    (or, build_sync_in_beside, does so during build_run,
 *                    while the build sandbox's root is being made)
 *   build_run        the build sandbox runs the command on it
 *   build_copy_out   the sync sandbox brings binaries and generated files back
 *   build_record     what ran, for `kbuild-ns status`
 *   build_close      release everything
 *
 * With --source bind there is no snapshot: sync-in and copy-out do
 * nothing and the build sandbox works on the checkout itself.  Each step
 * returns 0 or a negative errno with e filled; status lines go through
 * base/progress.h, errors only to the caller. */
#pragma once
#include "base/util.h"
#include "runtime/error.h"
#include "runtime/sandbox.h"

/* What `kbuild-ns release` fixes for its builds (release/release.c holds
 * the policy; this is how the pipeline applies it): its own data sandbox,
 * emptied before the build, the host name, a PATH prefix (its docker and
 * tar), no terminal, no host time zone, and more to copy out. */
typedef struct build_release {
	const char *data_format;     /* DATA_FORMAT_RELEASE */
	const char *hostname;
	const char *path_prefix;
	const char *const *copy_out; /* copy-out rules (filter.h), before the tree's */
	size_t n_copy_out;
} build_release;

typedef struct build_opts {
	const char *image;           /* --image REF, or NULL */
	bool shell;                  /* an interactive shell instead of argv */
	bool bind_source;            /* --source bind */
	bool no_copy;                /* --no-copy-output */
	bool net_host;               /* --network host */
	bool user_host;              /* --user host */
	bool no_seccomp;             /* --seccomp=unconfined */
	bool no_wait;                /* --no-wait: fail rather than wait for the lock */
	bool at_top;                 /* start at the workdir's top (make), not in the
					subdirectory matching the one kbuild-ns started in */
	const char *const *envs;     /* -e VAR[=VAL] */
	size_t n_envs;
	const rt_bind *binds;        /* --bind SRC:DST[:ro] */
	size_t n_binds;
	char *const *argv;           /* the command, unless shell */
	int pull;                    /* --pull: 1 + a pull_policy, 0 unset (image/regconf.h) */
	const char *image_helper;    /* kbuild-ns-image, which pulls a missing image */
	int verbosity;               /* passed on to it */
	const build_release *release; /* kbuild-ns release, or NULL */
} build_opts;

typedef struct kb_build kb_build;

int build_open(const char *state_dir, const build_opts *o, kb_build **ret, kb_error *e);
int build_prepare(kb_build *b, kb_error *e);
int build_sync_in(kb_build *b, kb_error *e);
/* The same, left for build_run to do while the build sandbox is being
 * made (rt_spec.before_start: on another core, the command waits for
 * it), unless the version step must run or the command starts in a
 * subdirectory: then done now, as build_sync_in. */
int build_sync_in_beside(kb_build *b, kb_error *e);
/* *ret_status: the command's exit status, 128+N after signal N.  A
 * command that cannot be started is an error with e->code 126 or 127. */
int build_run(kb_build *b, int *ret_status, kb_error *e);
/* After a success only, and only when copying out is wanted
 * (KUBE_RUN_COPY_OUTPUT, --no-copy-output). */
int build_copy_out(kb_build *b, kb_error *e);
int build_record(kb_build *b, int status, kb_error *e);
void build_close(kb_build *b);
static inline void build_closep(kb_build **b) { build_close(*b); }

/* For release/: set NAME=VALUE in the build's environment (after
 * build_prepare); run another command in the build sandbox, with more
 * binds after the usual ones (they may cover the snapshot's bind); what
 * the build works on; and empty the data sandbox after a success. */
int build_setenv(kb_build *b, const char *name, const char *value, kb_error *e);
int build_run_argv(kb_build *b, char *const *argv, const rt_bind *extra, size_t n_extra, int *ret_status,
		   kb_error *e);
typedef struct build_facts {
	const char *checkout;        /* the checkout's physical top */
	const char *workdir;         /* where it is inside */
	const char *snapshot;
	const char *image_ref;       /* the build image as asked for */
	const struct image_rec *image;
	struct kb_store *store;
	char *const *env;            /* the build's environment */
} build_facts;
void build_get_facts(const kb_build *b, build_facts *ret);
int build_discard(kb_build *b, kb_error *e);
/* A release's data sandbox is prepared empty; its init runs here, when
 * the release has checked its inputs. */
int build_init(kb_build *b, kb_error *e);

/* `kbuild-ns copy-output`: the checkout's existing state, locked, for
 * build_copy_out alone (which then always copies). */
int build_open_existing(const char *state_dir, kb_build **ret, kb_error *e);
