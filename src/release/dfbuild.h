/* Building an image from a Dockerfile without running a container: the
 * small Dockerfiles of Kubernetes' release (its server images, the
 * conformance image, the classic two-line ones) only name a base image,
 * add files and set configuration, so the image is the base with one
 * layer appended (as `crane append` and ko make theirs).
 *
 * Understood: FROM (with ARG substitution, --platform, AS, scratch),
 * several stages, ARG (global and per stage, --build-arg, and BuildKit's
 * automatic BUILD* and TARGET* arguments), ENV, LABEL, WORKDIR, USER,
 * ENTRYPOINT, CMD, EXPOSE, VOLUME, STOPSIGNAL, MAINTAINER; COPY and ADD
 * of files and directories from the context, a stage or an image, with
 * --chmod=OCTAL and --chown=UID[:GID]; and one RUN: `setcap CAPS FILE`,
 * done by writing the file's security.capability xattr into the layer
 * in the v2 form (never v3 with a root id, which an image made in a user
 * namespace would otherwise carry and which loses the capability
 * elsewhere: moby/moby#41723).  Anything else is refused, naming the
 * instruction and its line.
 *
 * What differs from docker build, on purpose: everything the final stage
 * adds is one layer; every file's mtime is the source date; ownership is
 * 0:0 unless --chown; and a stage's base image is looked at only when its
 * files are needed, so kube-apiserver's setcap stage needs no setcap
 * image.  Base images come from kbuild-ns's store (baseimg.h); their
 * layer blobs go into the result unchanged. */
#pragma once
#include "release/ociw.h"
#include "image/store.h"

typedef struct df_build_opts {
	const char *dockerfile;      /* its path */
	const char *context;         /* the build context directory */
	const char *target;          /* --target, or NULL: the last stage */
	const kb_platform *platform; /* --platform, or NULL: the base image's own */
	char *const *build_args;     /* "NAME=VALUE" (--build-arg) */
	size_t n_build_args;
	long long mtime;             /* the source date */
	kb_store *store;             /* where base images are */
	int tmpfd;                   /* a directory for the new layer's blob */
} df_build_opts;

typedef struct df_result {
	oci_image *image;
	char layer_name[64];         /* the new layer's blob in tmpfd, "" when there is none */
	char *base;                  /* the final stage's base image as named, or NULL (scratch) */
} df_result;

int df_build(const df_build_opts *o, df_result *ret, kb_error *e);
/* Frees the result and removes its blob file. */
void df_result_clear(df_result *r, int tmpfd);

/* The 20 bytes of a v2 security.capability for setcap's CAPS text
 * ("cap_net_bind_service=+ep", "cap_a,cap_b+eip"). */
int df_caps_v2(const char *text, unsigned char out[20], kb_error *e);
