/* The kube-build image of a checkout, from its own
 * build/build-image/Dockerfile: what docker build would make of it on top
 * of kube-cross, turned into the data sandbox's one-time init and the
 * build sandbox's environment and working directory.
 *
 * buildimage_plan walks the instructions (dockerfile.h) as docker build
 * does, with the base image's Env, the build arguments upstream's
 * build/common.sh passes (KUBE_CROSS_IMAGE, KUBE_CROSS_VERSION), ARG
 * defaults and ENV values, and makes a list of steps:
 *   RUN          its command (shell form through /bin/sh -c, or SHELL's
 *                program; exec form as written), with the environment and
 *                working directory docker build gives it;
 *   WORKDIR      the directory, made;
 *   ADD/COPY     of the build context's files, which upstream's
 *                kube::build::build_image puts there: localtime becomes
 *                the host's /etc/localtime; rsyncd.password and
 *                rsyncd.sh are skipped (there is no rsync daemon here),
 *                and so is a RUN that only changes their mode; any other
 *                source is refused.
 * FROM gives the base image's name as the era spells it; ENV the build's
 * environment (KUBE_GIT_VERSION_FILE included); the last WORKDIR the
 * working directory.  CMD, ENTRYPOINT, LABEL, EXPOSE, VOLUME, STOPSIGNAL,
 * HEALTHCHECK, MAINTAINER and ONBUILD change nothing a build sees and are
 * noted.  Refused with "FILE:LINE: why": a second FROM, a USER other
 * than root, ADD/COPY flags or other sources, a RUN that needs a skipped
 * file, any construct dockerfile_expand refuses.
 *
 * buildimage_init_run then applies the steps inside the build sandbox,
 * as root, on a fresh data layer: RUN commands run in a child with the
 * build's capability set and seccomp filter. */
#pragma once
#include "base/util.h"
#include "runtime/error.h"
#include "build/dockerfile.h"

typedef enum { INIT_RUN, INIT_FILE, INIT_DIR } init_kind;

typedef struct init_step {
	init_kind kind;
	unsigned line;
	char *what;                 /* "RUN touch /kube-build-image", for messages */
	char **argv;                /* RUN, NULL-terminated */
	char **env;                 /* RUN, NULL-terminated */
	char *path;                 /* RUN: its working directory; FILE, DIR: the path inside */
	char *data;                 /* FILE: the content */
	size_t len;
	mode_t mode;
} init_step;

typedef struct kb_buildimage {
	char *file;                 /* "build/build-image/Dockerfile" */
	char *from;                 /* the base image FROM names, expanded; NULL without FROM */
	unsigned from_line;
	char **env;                 /* what ENV set: NAME=VALUE, first-set order, one per name */
	unsigned *env_line;         /* where each was set last */
	size_t n_env;
	char *workdir;              /* the last WORKDIR, or NULL */
	unsigned workdir_line;
	init_step *steps;
	size_t n_steps;
	char **notes;               /* "FILE:LINE: ADD rsyncd.sh /: skipped (...)" */
	size_t n_notes;
	char mark[33];              /* md5 hex of every step: the data layer is initialised for it */
	/* Set by the caller before buildimage_init_run: */
	const void *seccomp_bpf;    /* the build's filter for RUN, or NULL */
	size_t seccomp_len;
	const char *bind_workdir;   /* made at the end: the snapshot is mounted there */
} kb_buildimage;

typedef struct buildimage_args {
	const char *file;           /* the Dockerfile's name in messages */
	char *const *image_env;     /* the base image's Env (NAME=VALUE); NULL when not known yet */
	size_t n_image_env;
	const char *cross_tag;      /* build/build-image/cross/VERSION: KUBE_CROSS_VERSION's value */
	const char *localtime;      /* the host's time zone file (NULL: /etc/localtime) */
} buildimage_args;

int buildimage_plan(const dockerfile *df, const buildimage_args *a, kb_buildimage **ret, kb_error *e);
void buildimage_free(kb_buildimage *b);
static inline void buildimage_freep(kb_buildimage **b) { buildimage_free(*b); }
/* The value ENV gave name, or NULL; *ret_line where. */
const char *buildimage_getenv(const kb_buildimage *b, const char *name, unsigned *ret_line);
/* The init: rt_spec.fn, arg a kb_buildimage. */
int buildimage_init_run(void *arg, kb_error *e);
