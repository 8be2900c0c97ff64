#!/usr/bin/env bash
# hack/make-rules/test.sh [PACKAGE...]: run the unit tests (default: all
# of them) with the build's environment.  KUBE_TIMEOUT (default
# -timeout=180s) and KUBE_TEST_ARGS are passed to go test.
KUBE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
source "${KUBE_ROOT}/hack/lib/init.sh"

kube::golang::setup_env
export CGO_ENABLED=0
cd "${KUBE_ROOT}"
pkgs=("$@")
((${#pkgs[@]} > 0)) || pkgs=(./...)
kube::log::status "Running tests for ${pkgs[*]}"
# shellcheck disable=SC2086
go test ${KUBE_TIMEOUT:--timeout=180s} ${KUBE_TEST_ARGS:-} "${pkgs[@]}"
