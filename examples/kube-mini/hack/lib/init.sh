#!/usr/bin/env bash
# Sourced by every hack/ script: the paths of the tree and its output, and
# the other libraries.  Paths may be overridden from the environment:
#
#   KUBE_OUTPUT_SUBPATH  output root relative to the tree; _output/local for
#                        a native build (the build image sets _output/dockerized)
#   KUBE_GOPATH          GOPATH of the build (default <output>/go)

set -o errexit
set -o nounset
set -o pipefail

# Everything the build writes is readable by all, whatever the caller's
# umask: binaries 0755, other files 0644.
umask 0022

KUBE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
export KUBE_ROOT

KUBE_OUTPUT_SUBPATH="${KUBE_OUTPUT_SUBPATH:-_output/local}"
KUBE_OUTPUT="${KUBE_ROOT}/${KUBE_OUTPUT_SUBPATH}"
KUBE_OUTPUT_BINPATH="${KUBE_OUTPUT}/bin"
export KUBE_OUTPUT_SUBPATH KUBE_OUTPUT KUBE_OUTPUT_BINPATH

# The Go module of this tree; commands are KUBE_GO_PACKAGE/cmd/NAME.
readonly KUBE_GO_PACKAGE=k8s.io/kube-mini

source "${KUBE_ROOT}/hack/lib/logging.sh"
source "${KUBE_ROOT}/hack/lib/util.sh"
source "${KUBE_ROOT}/hack/lib/version.sh"
source "${KUBE_ROOT}/hack/lib/golang.sh"
