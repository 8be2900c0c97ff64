#!/usr/bin/env bash
# hack/make-rules/cross.sh: every group for every platform it supports:
# server targets x server platforms, client targets x client platforms,
# test targets x test platforms (the node targets are server targets here
# and are built with them).
# KUBE_BUILD_PLATFORMS narrows each group to the platforms it shares with
# that list; a group left with none is skipped.  `make cross` runs this.
KUBE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
source "${KUBE_ROOT}/hack/lib/init.sh"

kube::golang::setup_platforms

build_group() {
  local group=$1 group_platforms=$2
  shift 2
  if [[ -z "${group_platforms}" ]]; then
    kube::log::status "No ${group} platform among KUBE_BUILD_PLATFORMS=\"${KUBE_BUILD_PLATFORMS:-}\": skipping the ${group} targets"
    return 0
  fi
  KUBE_BUILD_PLATFORMS="${group_platforms}" "${KUBE_ROOT}/hack/make-rules/build.sh" "$@"
}

build_group server "${KUBE_SERVER_PLATFORMS[*]+"${KUBE_SERVER_PLATFORMS[*]}"}" "${KUBE_SERVER_TARGETS[@]}"
build_group client "${KUBE_CLIENT_PLATFORMS[*]+"${KUBE_CLIENT_PLATFORMS[*]}"}" "${KUBE_CLIENT_TARGETS[@]}"
build_group test "${KUBE_TEST_PLATFORMS[*]+"${KUBE_TEST_PLATFORMS[*]}"}" "${KUBE_TEST_TARGETS[@]}"
