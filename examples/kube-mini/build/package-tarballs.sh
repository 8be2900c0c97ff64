#!/usr/bin/env bash
# build/package-tarballs.sh: only the packaging step of a release, on the
# binaries already in _output/dockerized/bin (what `make cross` left there).
# `make package-tarballs` runs this; so does kbuild-ns release, in its build
# sandbox, after the build.

set -o errexit
set -o nounset
set -o pipefail

KUBE_ROOT=$(dirname "${BASH_SOURCE[0]}")/..
source "${KUBE_ROOT}/build/common.sh"
source "${KUBE_ROOT}/build/lib/release.sh"

kube::build::ensure_tar
kube::version::get_version_vars
kube::release::package_tarballs
