#!/usr/bin/env bash
# hack/print-version-defs.sh [FILE]: write the version of this tree as shell
# assignments (to FILE, else stdout), for a build that has no .git:
#   hack/print-version-defs.sh .dockerized-kube-version-defs
#   KUBE_GIT_VERSION_FILE=$PWD/.dockerized-kube-version-defs make
KUBE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
source "${KUBE_ROOT}/hack/lib/init.sh"
unset KUBE_GIT_VERSION_FILE
kube::version::save_version_vars "${1:-/dev/stdout}"
