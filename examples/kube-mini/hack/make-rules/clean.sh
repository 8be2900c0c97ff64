#!/usr/bin/env bash
# hack/make-rules/clean.sh: remove the build output (OUT_DIR, default
# _output).  Go writes its module cache read-only, so the tree is made
# writable first; nothing here needs go.
KUBE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
source "${KUBE_ROOT}/hack/lib/init.sh"

out_dir=${OUT_DIR:-_output}
case "${out_dir}" in
  "" | /* | *..*) kube::log::error_exit "OUT_DIR=${out_dir}: want a path inside the tree" ;;
esac
if [[ -e "${KUBE_ROOT}/${out_dir}" || -L "${KUBE_ROOT}/${out_dir}" ]]; then
  kube::log::status "Removing ${out_dir}"
  chmod -R u+rwX "${KUBE_ROOT}/${out_dir}" 2>/dev/null || true
  rm -rf "${KUBE_ROOT:?}/${out_dir}"
fi
