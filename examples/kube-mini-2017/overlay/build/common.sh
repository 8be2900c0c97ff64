#!/usr/bin/env bash
# The release-related part of Kubernetes' build/common.sh as it was in 2017
# (v1.7-v1.8), for kube-mini: the output paths of the dockerized build and
# the server images with their 2017 base images, one per architecture.
# Only the image part differs from ../../../kube-mini/build/common.sh.
#
# kube-mini has no Docker-driven build of its own: its build container is
# the one kbuild-ns provides, so the build commands here run where this
# script runs, and the paths are those of the dockerized build.

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

# kube::build::get_docker_wrapped_binaries ARCH: the server images of ARCH,
# as "<binary>,<base image>" words.  The binary goes to /usr/local/bin.
# The apiserver runs on busybox, the proxy on debian-iptables; both base
# images are per architecture, as they were before manifest lists.
kube::build::get_docker_wrapped_binaries() {
  local debian_iptables_version=v8
  local targets=()
  case $1 in
    amd64)
      targets=(
        "kube-mini-apiserver,busybox"
        "kube-mini-proxy,gcr.io/google-containers/debian-iptables-amd64:${debian_iptables_version}"
      ) ;;
    arm64)
      targets=(
        "kube-mini-apiserver,arm64v8/busybox"
        "kube-mini-proxy,gcr.io/google-containers/debian-iptables-arm64:${debian_iptables_version}"
      ) ;;
    *)
      kube::log::error "no server images for architecture $1"
      return 1 ;;
  esac
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
