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

# kube::util::wait-for-jobs: wait for every background job of this shell;
# the number of those that failed is the status (0: all succeeded).
kube::util::wait-for-jobs() {
  local fail=0 job
  for job in $(jobs -p); do
    wait "${job}" || fail=$((fail + 1))
  done
  return "${fail}"
}

# kube::util::trap_add COMMAND SIGNAL: run COMMAND on SIGNAL after what
# is already trapped there.
kube::util::trap_add() {
  local command=$1 signal=$2 existing
  existing=$(trap -p "${signal}" | sed -e "s/^trap -- '//" -e "s/' ${signal}\$//")
  if [[ -n "${existing}" ]]; then
    command="${existing}; ${command}"
  fi
  # shellcheck disable=SC2064 # expanded now, on purpose
  trap -- "${command}" "${signal}"
}

# kube::util::ensure-docker-buildx: a `docker` whose buildx works.  (Upstream
# notes that podman answers `docker buildx version` and docker `docker
# buildx`; either will do.)
kube::util::ensure-docker-buildx() {
  if docker buildx version >/dev/null 2>&1 || docker buildx >/dev/null 2>&1; then
    return 0
  fi
  kube::log::error_exit "docker buildx is not available: a docker with buildx (or kbuild-ns release, which provides one) is needed for the server images"
}
