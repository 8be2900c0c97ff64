/* Base images of a release, as a Dockerfile's FROM names them, found in
 * kbuild-ns's store by name and platform.  Both the docker stand-in
 * (inside the build sandbox, on the store bound read-only) and the
 * release's preflight (outside) look them up here, so that the preflight
 * asks for exactly what the packaging will take.
 *
 * Names are compared as Docker reads them: "busybox" is
 * docker.io/library/busybox:latest, "arm64v8/busybox" is
 * docker.io/arm64v8/busybox:latest, a name whose first part has a "." or
 * ":" (or is "localhost") names its registry, and no tag means ":latest";
 * so a base imported as "busybox:latest" is found for "FROM busybox".
 * "NAME@sha256:..." is the image with that manifest digest. */
#pragma once
#include "image/image.h"

/* The fully qualified form ("docker.io/library/busybox:latest"), or NULL
 * for a string that is no image name. */
char *docker_ref_full(const char *ref);
/* The form docker prints ("busybox:latest", "registry.k8s.io/pause:3.9"). */
char *docker_ref_familiar(const char *ref);
/* The tag of a reference ("latest"), or "" for a digest reference. */
const char *docker_ref_tag(const char *full);

/* The image ref names for platform want; want NULL: the image's own
 * platform, the host's when the store has the name for several.  ENOENT
 * names what is missing and how to bring it in. */
int baseimg_find(kb_store *s, const char *ref, const kb_platform *want, image_rec **ret, kb_error *e);
/* The first layer of r whose blob the store lacks (see image import
 * --keep-blobs), or NULL when it has them all. */
const layer_rec *baseimg_missing_blob(kb_store *s, const image_rec *r);
