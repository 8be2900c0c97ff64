#!/usr/bin/env bash
# hack/make-rules/build.sh [TARGET...] [-GOFLAG...]: build Go binaries
# (default: every one) for each of KUBE_BUILD_PLATFORMS (default: the
# host) into <KUBE_OUTPUT_SUBPATH>/bin/<os>/<arch>/.  `make all` runs this.
KUBE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
source "${KUBE_ROOT}/hack/lib/init.sh"

kube::golang::build_binaries "$@"
kube::golang::place_bins
