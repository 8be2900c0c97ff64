#!/usr/bin/env bash
# Small helpers shared by the hack/ scripts.

# kube::util::host_os / host_arch / host_platform: what the build runs on,
# in Go's names.  Go's own answer is the reference when go is installed.
kube::util::host_os() {
  local os
  os=$(uname -s)
  case "${os}" in
    Linux) echo linux ;;
    Darwin) echo darwin ;;
    *) kube::log::error_exit "unsupported host OS ${os}: only linux and darwin can build" ;;
  esac
}

kube::util::host_arch() {
  local arch
  arch=$(uname -m)
  case "${arch}" in
    x86_64* | amd64) echo amd64 ;;
    aarch64* | arm64) echo arm64 ;;
    armv7* | armv8l | arm) echo arm ;;
    i?86) echo 386 ;;
    ppc64le) echo ppc64le ;;
    s390x) echo s390x ;;
    *) kube::log::error_exit "unsupported host architecture ${arch}" ;;
  esac
}

kube::util::host_platform() {
  echo "$(kube::util::host_os)/$(kube::util::host_arch)"
}

# kube::util::array_contains WORD ARRAY-ELEMENTS...: 0 when WORD is among them.
kube::util::array_contains() {
  local want=$1 x
  shift
  for x in "$@"; do
    [[ "${x}" == "${want}" ]] && return 0
  done
  return 1
}

# kube::util::intersect "A B C" "B C D": the words of the first list that
# are in the second, in the first list's order, each once.
kube::util::intersect() {
  local -a first second out=()
  read -ra first <<<"$1"
  read -ra second <<<"$2"
  local x
  for x in "${first[@]+"${first[@]}"}"; do
    if kube::util::array_contains "${x}" "${second[@]+"${second[@]}"}" &&
      ! kube::util::array_contains "${x}" "${out[@]+"${out[@]}"}"; then
      out+=("${x}")
    fi
  done
  echo "${out[*]+"${out[*]}"}"
}

# kube::util::mem_available_gib: MemAvailable from /proc/meminfo, in GiB
# (0 when it cannot be read).
kube::util::mem_available_gib() {
  local key value
  if [[ -r /proc/meminfo ]]; then
    while read -r key value _; do
      if [[ "${key}" == MemAvailable: ]]; then
        echo $((value / 1024 / 1024))
        return
      fi
    done </proc/meminfo
  fi
  echo 0
}
