#!/usr/bin/env bash
# build/release.sh: build a kube-mini release, as Kubernetes' build/release.sh
# does: the binaries for every platform (`make cross`), the unit tests
# unless KUBE_RELEASE_RUN_TESTS=n, then the packaging: release tarballs in
# _output/release-tars and server images in _output/release-images/<arch>.
# `make release` and `make quick-release` run this.
#
# The packaging needs a `docker` with buildx for the images (kbuild-ns
# release provides one with no daemon) and GNU tar (or TAR).

set -o errexit
set -o nounset
set -o pipefail

KUBE_ROOT=$(dirname "${BASH_SOURCE[0]}")/..
source "${KUBE_ROOT}/build/common.sh"
source "${KUBE_ROOT}/build/lib/release.sh"

KUBE_RELEASE_RUN_TESTS=${KUBE_RELEASE_RUN_TESTS-y}

kube::build::verify_prereqs
kube::build::build_image
kube::build::run_build_command make cross

if [[ ${KUBE_RELEASE_RUN_TESTS} =~ ^[yY]$ ]]; then
  kube::build::run_build_command make test
fi

kube::build::copy_output

kube::release::package_tarballs
