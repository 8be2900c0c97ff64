#!/usr/bin/env bash
# The release-related part of Kubernetes' build/common.sh, for kube-mini:
# the output paths of the dockerized build, the image registries and base
# images, the binaries that get a server image, and the helpers that
# build/release.sh and build/package-tarballs.sh call.
#
# Upstream's common.sh also drives Docker itself (the kube-build image, its
# containers, rsync).  kube-mini has none of that: its build container is
# the one kbuild-ns provides (`kbuild-ns make`, `kbuild-ns release`), so the
# build commands here run where this script runs, and the paths are those
# of the dockerized build whether that is in the sandbox or on a host.

# shellcheck disable=SC2034 # the variables are read by the scripts that source this

set -o errexit
set -o nounset
set -o pipefail

# A CDPATH would make `cd` print and misplace the source paths.
unset CDPATH

DOCKER_OPTS=${DOCKER_OPTS:-""}
IFS=" " read -r -a DOCKER <<<"docker ${DOCKER_OPTS}"

KUBE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")"/.. && pwd -P)

# The build/ scripts are the dockerized build's: its output path, unless
# the caller chose one.
export KUBE_OUTPUT_SUBPATH="${KUBE_OUTPUT_SUBPATH:-_output/dockerized}"

source "${KUBE_ROOT}/hack/lib/init.sh"

kube::golang::setup_platforms

# Where everything lands (OUT_DIR may come from the Makefile).
readonly LOCAL_OUTPUT_ROOT="${KUBE_ROOT}/${OUT_DIR:-_output}"
readonly LOCAL_OUTPUT_SUBPATH="${KUBE_ROOT}/${KUBE_OUTPUT_SUBPATH}"
readonly LOCAL_OUTPUT_BINPATH="${LOCAL_OUTPUT_SUBPATH}/bin"

# Registries.  The release images are always tagged
# registry.k8s.io/<binary>-<arch>:<version>; KUBE_DOCKER_REGISTRY (and
# KUBE_DOCKER_IMAGE_TAG) add a second tag when they differ from that.
readonly KUBE_DOCKER_REGISTRY="${KUBE_DOCKER_REGISTRY:-registry.k8s.io}"
KUBE_BASE_IMAGE_REGISTRY="${KUBE_BASE_IMAGE_REGISTRY:-registry.k8s.io/build-image}"
readonly KUBE_BASE_IMAGE_REGISTRY

# The versions (tags) of the base images.
readonly __default_distroless_iptables_version=v0.8.7
readonly __default_go_runner_version=v2.4.0-go1.25.6-bookworm.0
readonly __default_setcap_version=bookworm-v1.0.6

# go-runner: the base of the statically linked commands that run as
# control-plane pods.  distroless-iptables: the base of kube-mini-proxy,
# which needs iptables on the node.  distroless static: the base of the
# client image, named without a tag, as upstream names it (":latest").
KUBE_GORUNNER_IMAGE="${KUBE_GORUNNER_IMAGE:-${KUBE_BASE_IMAGE_REGISTRY}/go-runner:${__default_go_runner_version}}"
readonly KUBE_GORUNNER_IMAGE
readonly __default_dynamic_base_image="${KUBE_BASE_IMAGE_REGISTRY}/distroless-iptables:${__default_distroless_iptables_version}"
readonly __default_distroless_static_image="gcr.io/distroless/static-debian12"

# The base image of each server image; each can be overridden.
readonly KUBE_APISERVER_BASE_IMAGE="${KUBE_APISERVER_BASE_IMAGE:-${KUBE_GORUNNER_IMAGE}}"
readonly KUBE_PROXY_BASE_IMAGE="${KUBE_PROXY_BASE_IMAGE:-${__default_dynamic_base_image}}"
readonly KUBECTL_BASE_IMAGE="${KUBECTL_BASE_IMAGE:-${__default_distroless_static_image}}"

# The image of the first stage of kube-mini-apiserver's Dockerfile, which
# gives the binary cap_net_bind_service; it runs on the build platform.
readonly KUBE_BUILD_SETCAP_IMAGE="${KUBE_BUILD_SETCAP_IMAGE:-${KUBE_BASE_IMAGE_REGISTRY}/setcap:${__default_setcap_version}}"

# kube::build::get_docker_wrapped_binaries [OS]: the server images, as
# "<binary>,<base image>" words.  The binary goes to /usr/local/bin (/bin
# for kubectl-mini) in the image.  Keep in step with
# KUBE_SERVER_IMAGE_TARGETS (hack/lib/golang.sh).
kube::build::get_docker_wrapped_binaries() {
  local targets=(
    "kube-mini-apiserver,${KUBE_APISERVER_BASE_IMAGE}"
    "kube-mini-proxy,${KUBE_PROXY_BASE_IMAGE}"
    "kubectl-mini,${KUBECTL_BASE_IMAGE}"
  )
  echo "${targets[@]}"
}

# kube::build::ensure_tar: TAR names the tar to use.  A TAR already set is
# taken as it is (so that a wrapper, such as the reproducible tar kbuild-ns
# provides, is used); else GNU tar under one of its names.
kube::build::ensure_tar() {
  if [[ -n "${TAR:-}" ]]; then
    return
  fi
  TAR=tar
  if command -v gtar >/dev/null 2>&1; then
    TAR=gtar
  elif command -v gnutar >/dev/null 2>&1; then
    TAR=gnutar
  fi
  if ! "${TAR}" --version 2>/dev/null | grep -q GNU; then
    kube::log::error "Cannot find GNU tar (tried ${TAR}): install it, or set TAR"
    return 1
  fi
}

# kube::build::verify_prereqs: what a release needs before it starts: GNU
# tar, the version of the tree (saved for builds without .git), and the
# umask that makes everything readable.
kube::build::verify_prereqs() {
  kube::log::status "Verifying Prerequisites...."
  kube::build::ensure_tar || return 1
  kube::version::get_version_vars
  kube::version::save_version_vars "${KUBE_ROOT}/.dockerized-kube-version-defs"
  umask 0022
}

# kube::build::build_image: upstream makes the kube-build image here.
# kube-mini's build environment is the kube-cross image that kbuild-ns
# runs the build in; there is nothing to make.
kube::build::build_image() {
  :
}

# kube::build::run_build_command CMD...: run a build step.  Upstream runs it
# in a container of the kube-build image; here it runs where we are (in
# kbuild-ns's build sandbox, or natively).
kube::build::run_build_command() {
  kube::log::status "Running build command: $*"
  (cd "${KUBE_ROOT}" && "$@")
}

# kube::build::copy_output: upstream copies _output/dockerized back from
# the container; the build above already wrote it in place.
kube::build::copy_output() {
  :
}
