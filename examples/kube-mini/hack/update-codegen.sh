#!/usr/bin/env bash
# hack/update-codegen.sh [--verify-only] [DIR...]: run deepcopy-gen
# (hack/gen/deepcopy-gen, with go run) on DIR..., by default on every
# package under pkg/ whose doc.go says +k8s:deepcopy-gen=package.
# `make generated_files` runs it; --verify-only (hack/verify-codegen.sh)
# only checks that the files are up to date.
KUBE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
source "${KUBE_ROOT}/hack/lib/init.sh"

kube::golang::setup_env
export CGO_ENABLED=0
cd "${KUBE_ROOT}"

flags=()
if [[ "${1:-}" == --verify-only ]]; then
  flags+=(--verify-only)
  shift
fi
((KUBE_VERBOSE >= 3)) && flags+=(-v)

dirs=("$@")
if ((${#dirs[@]} == 0)); then
  mapfile -t dirs < <(grep -rl --include=doc.go -e '+k8s:deepcopy-gen=package' pkg | xargs -r -n1 dirname | sort)
fi
((${#dirs[@]} > 0)) || kube::log::error_exit "no package asks for deepcopy-gen"

dirs=("${dirs[@]#./}")
dirs=("${dirs[@]%/}")
if [[ " ${flags[*]+"${flags[*]}"} " == *" --verify-only "* ]]; then
  kube::log::status "Verifying deepcopy code for ${dirs[*]}"
else
  kube::log::status "Generating deepcopy code for ${dirs[*]}"
fi
input=$(IFS=,; echo "${dirs[*]/#/./}")
# Built as the binaries are (CGO_ENABLED=0, -trimpath), the generator
# shares their compiled standard library in GOCACHE.
go run -trimpath -buildvcs=false ./hack/gen/deepcopy-gen "${flags[@]+"${flags[@]}"}" \
  --input-dirs "${input}" \
  --output-file-base zz_generated.deepcopy \
  --go-header-file hack/boilerplate/boilerplate.generatego.txt
