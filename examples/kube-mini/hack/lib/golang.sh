#!/usr/bin/env bash
# Building the Go binaries: which targets exist, for which platforms, with
# which environment, and where the results go.

# shellcheck disable=SC2034 # the lists here are read by the scripts that source this

# Targets by group, as Kubernetes groups them: server binaries run on the
# nodes of a cluster, client binaries on users' machines.
readonly KUBE_SERVER_TARGETS=(
  cmd/kube-mini-apiserver
  cmd/kube-mini-proxy
)
readonly KUBE_CLIENT_TARGETS=(
  cmd/kubectl-mini
)
# Node binaries run on every node (kube-proxy, kubelet upstream); here the
# one node binary is also a server binary, so `make cross` builds it with
# the server group.
readonly KUBE_NODE_TARGETS=(
  cmd/kube-mini-proxy
)
# Test binaries (e2e.test, ginkgo upstream): built by `make cross` for the
# test platforms, shipped in the test tarballs and the conformance image.
readonly KUBE_TEST_TARGETS=(
  test/e2e-mini
)
# What `make` builds when no WHAT is given: the commands, not the tests.
readonly KUBE_ALL_TARGETS=(
  "${KUBE_SERVER_TARGETS[@]}"
  "${KUBE_CLIENT_TARGETS[@]}"
)

# The binary names of each group, as the release packaging uses them.
readonly KUBE_SERVER_BINARIES=("${KUBE_SERVER_TARGETS[@]##*/}")
readonly KUBE_NODE_BINARIES=("${KUBE_NODE_TARGETS[@]##*/}")
readonly KUBE_NODE_BINARIES_WIN=("${KUBE_NODE_BINARIES[@]/%/.exe}")
readonly KUBE_CLIENT_BINARIES=("${KUBE_CLIENT_TARGETS[@]##*/}")
readonly KUBE_CLIENT_BINARIES_WIN=("${KUBE_CLIENT_BINARIES[@]/%/.exe}")
readonly KUBE_TEST_BINARIES=("${KUBE_TEST_TARGETS[@]##*/}")
readonly KUBE_TEST_BINARIES_WIN=("${KUBE_TEST_BINARIES[@]/%/.exe}")

# The binaries that get a container image of their own in a release
# (build/lib/release.sh), one per server platform; the base image of each
# is chosen by kube::build::get_docker_wrapped_binaries (build/common.sh).
readonly KUBE_SERVER_IMAGE_TARGETS=(
  cmd/kube-mini-apiserver
  cmd/kube-mini-proxy
  cmd/kubectl-mini
)
readonly KUBE_SERVER_IMAGE_BINARIES=("${KUBE_SERVER_IMAGE_TARGETS[@]##*/}")

# Sources the portable test tarball carries, relative to the tree.
readonly KUBE_TEST_PORTABLE=(
  test/e2e/testing-manifests
  hack/lib
)

# The platforms each group is built for by `make cross`.
readonly KUBE_SUPPORTED_SERVER_PLATFORMS=(
  linux/amd64
  linux/arm64
)
readonly KUBE_SUPPORTED_CLIENT_PLATFORMS=(
  linux/amd64
  linux/arm64
  windows/amd64
  darwin/arm64
)
readonly KUBE_SUPPORTED_NODE_PLATFORMS=(
  "${KUBE_SUPPORTED_SERVER_PLATFORMS[@]}"
)
# The platforms end-to-end tests are run from.
readonly KUBE_SUPPORTED_TEST_PLATFORMS=(
  linux/amd64
  darwin/arm64
)

# kube::golang::setup_platforms: KUBE_SERVER_PLATFORMS, KUBE_NODE_PLATFORMS,
# KUBE_CLIENT_PLATFORMS and KUBE_TEST_PLATFORMS for `make cross` and the
# release packaging.  With KUBE_BUILD_PLATFORMS set, each group gets the
# platforms of that list it supports (possibly none); with
# KUBE_FASTBUILD=true, only the host's; else all it supports.
kube::golang::setup_platforms() {
  local server node client test
  if [[ -n "${KUBE_BUILD_PLATFORMS:-}" ]]; then
    server=$(kube::util::intersect "${KUBE_BUILD_PLATFORMS}" "${KUBE_SUPPORTED_SERVER_PLATFORMS[*]}")
    node=$(kube::util::intersect "${KUBE_BUILD_PLATFORMS}" "${KUBE_SUPPORTED_NODE_PLATFORMS[*]}")
    client=$(kube::util::intersect "${KUBE_BUILD_PLATFORMS}" "${KUBE_SUPPORTED_CLIENT_PLATFORMS[*]}")
    test=$(kube::util::intersect "${KUBE_BUILD_PLATFORMS}" "${KUBE_SUPPORTED_TEST_PLATFORMS[*]}")
  elif [[ "${KUBE_FASTBUILD:-false}" == true ]]; then
    server="linux/$(kube::util::host_arch)"
    node=${server}
    client=${server}
    test=${server}
  else
    server="${KUBE_SUPPORTED_SERVER_PLATFORMS[*]}"
    node="${KUBE_SUPPORTED_NODE_PLATFORMS[*]}"
    client="${KUBE_SUPPORTED_CLIENT_PLATFORMS[*]}"
    test="${KUBE_SUPPORTED_TEST_PLATFORMS[*]}"
  fi
  # shellcheck disable=SC2034 # used by hack/make-rules/cross.sh and build/lib/release.sh
  read -ra KUBE_SERVER_PLATFORMS <<<"${server}"
  # shellcheck disable=SC2034
  read -ra KUBE_NODE_PLATFORMS <<<"${node}"
  # shellcheck disable=SC2034
  read -ra KUBE_CLIENT_PLATFORMS <<<"${client}"
  # shellcheck disable=SC2034
  read -ra KUBE_TEST_PLATFORMS <<<"${test}"
}

# kube::golang::_version_parts go1.19.8 -> "1 19 8" (missing parts are 0).
kube::golang::_version_parts() {
  local v=${1#go} major minor patch
  v=${v%%[!0-9.]*}                     # go1.21rc2 -> 1.21
  IFS=. read -r major minor patch <<<"${v}"
  echo "${major:-0} ${minor:-0} ${patch:-0}"
}

# kube::golang::verify_go_version: go must be on PATH and at least the
# major.minor of .go-version (or $GO_VERSION).  Nothing is ever downloaded:
# a different patch release is used as it is, with a note.
kube::golang::verify_go_version() {
  if ! command -v go >/dev/null 2>&1; then
    kube::log::error_exit "go is not on PATH (PATH=${PATH}); install Go $(cat "${KUBE_ROOT}/.go-version" 2>/dev/null) (Debian: apt-get install golang-go)"
  fi
  local have want
  have=$(go env GOVERSION 2>/dev/null) || have=""
  [[ -n "${have}" ]] || have=$(go version | { read -r _ _ v _; echo "${v}"; })
  want=${GO_VERSION:-$(cat "${KUBE_ROOT}/.go-version")}
  want=go${want#go}
  if [[ -n "${FORCE_HOST_GO:-}" ]]; then
    kube::log::status V=2 "FORCE_HOST_GO is set: building with ${have} (.go-version asks for ${want})"
    return 0
  fi
  local hmaj hmin wmaj wmin
  read -r hmaj hmin _ <<<"$(kube::golang::_version_parts "${have}")"
  read -r wmaj wmin _ <<<"$(kube::golang::_version_parts "${want}")"
  if ((hmaj < wmaj || (hmaj == wmaj && hmin < wmin))); then
    kube::log::error_exit "Detected go version: ${have}. kube-mini requires ${want%.*} or greater (.go-version: ${want}); this build downloads nothing, so install it, or set FORCE_HOST_GO=y to try anyway."
  fi
  if [[ "${have}" != "${want}" ]]; then
    kube::log::status V=2 "Building with ${have}; .go-version asks for ${want} (no download: the go on PATH is used)"
  fi
}

# kube::golang::setup_env: the environment every go command of the build
# runs in.  The Go workspace and caches live under the output directory so
# that they persist with it (and a dockerized build keeps its own).
kube::golang::setup_env() {
  kube::golang::verify_go_version

  # GOPATH is always ours (the image sets GOPATH=/go, whose bin/ is not
  # where place_bins looks); the caches only when the caller has none.
  KUBE_GOPATH="${KUBE_GOPATH:-${KUBE_OUTPUT}/go}"
  export GOPATH="${KUBE_GOPATH}"
  export GOCACHE="${GOCACHE:-${KUBE_GOPATH}/cache/build}"
  export GOMODCACHE="${GOMODCACHE:-${KUBE_GOPATH}/cache/mod}"
  mkdir -p "${GOPATH}" "${GOCACHE}"

  # Modules, and never the network: the tree has no dependencies, and a
  # newer go must not fetch another toolchain.
  export GO111MODULE=on
  export GOPROXY=off
  export GOSUMDB=off
  if [[ -z "${GOTOOLCHAIN:-}" || "${GOTOOLCHAIN}" == auto ]]; then
    export GOTOOLCHAIN=local
  fi
  # `go install` refuses cross-compiled binaries when GOBIN is set.
  unset GOBIN
  # The caller's GOOS/GOARCH would leak into go run (the generator).
  unset GOOS GOARCH
}

# kube::golang::_normalize_target T: cmd/NAME for T in any of the forms
# cmd/NAME, ./cmd/NAME/, k8s.io/kube-mini/cmd/NAME.
kube::golang::_normalize_target() {
  local t=$1
  t=${t#"${KUBE_GO_PACKAGE}/"}
  t=${t#./}
  t=${t%/}
  if [[ ! -d "${KUBE_ROOT}/${t}" ]] || ! compgen -G "${KUBE_ROOT}/${t}/*.go" >/dev/null; then
    kube::log::error_exit "unknown target ${1}: there is no Go package at ${t}"
  fi
  echo "${t}"
}

# kube::golang::host_platform: the platform go builds for by default.
kube::golang::host_platform() {
  echo "$(go env GOHOSTOS)/$(go env GOHOSTARCH)"
}

# kube::golang::_build_platform PLATFORM: go install the targets for one
# platform.  Uses KUBE_BUILD_TARGETS, KUBE_GO_BUILD_ARGS, KUBE_GOFLAGS_EXTRA.
kube::golang::_build_platform() {
  local platform=$1
  local -a pkgs=() names=()
  local t
  for t in "${KUBE_BUILD_TARGETS[@]}"; do
    pkgs+=("${KUBE_GO_PACKAGE}/${t}")
    names+=("${KUBE_GO_PACKAGE}/${t} (static)")
  done
  kube::log::status "Building go targets for ${platform}" "${names[@]}"
  (
    umask 0022
    export GOOS=${platform%/*} GOARCH=${platform#*/} CGO_ENABLED=0
    cd "${KUBE_ROOT}" || exit 1
    go install "${KUBE_GO_BUILD_ARGS[@]}" "${KUBE_GOFLAGS_EXTRA[@]+"${KUBE_GOFLAGS_EXTRA[@]}"}" "${pkgs[@]}"
  )
}

# kube::golang::build_binaries [TARGET...] [-GOFLAG...]: build the targets
# (default: all) for each of KUBE_BUILD_PLATFORMS (default: the host).
# Sets KUBE_BUILD_TARGETS and KUBE_BUILT_PLATFORMS for place_bins.
kube::golang::build_binaries() {
  kube::golang::setup_env

  KUBE_BUILD_TARGETS=()
  KUBE_GOFLAGS_EXTRA=()
  local arg
  for arg in "$@"; do
    if [[ "${arg}" == -* ]]; then
      KUBE_GOFLAGS_EXTRA+=("${arg}")
    else
      KUBE_BUILD_TARGETS+=("$(kube::golang::_normalize_target "${arg}")")
    fi
  done
  if ((${#KUBE_BUILD_TARGETS[@]} == 0)); then
    KUBE_BUILD_TARGETS=("${KUBE_ALL_TARGETS[@]}")
  fi

  local host
  host=$(kube::golang::host_platform)
  local -a platforms=()
  if [[ -n "${KUBE_BUILD_PLATFORMS:-}" ]]; then
    local p
    for p in ${KUBE_BUILD_PLATFORMS}; do
      [[ "${p}" =~ ^[a-z0-9]+/[a-z0-9]+$ ]] ||
        kube::log::error_exit "KUBE_BUILD_PLATFORMS: ${p} is not OS/ARCH (e.g. linux/arm64)"
      kube::util::array_contains "${p}" "${platforms[@]+"${platforms[@]}"}" || platforms+=("${p}")
    done
  fi
  if ((${#platforms[@]} == 0)); then
    platforms=("${host}")
  fi
  KUBE_BUILT_PLATFORMS=("${platforms[@]}")

  # Flags: version stamps first, then the caller's GOLDFLAGS, so that the
  # caller has the last word; DBG=1 keeps symbols and turns off optimisation.
  local ldflags gcflags=${GOGCFLAGS:-}
  kube::version::get_version_vars
  ldflags=$(kube::version::ldflags)
  KUBE_GO_BUILD_ARGS=(-buildvcs=false)
  if [[ "${DBG:-}" == 1 ]]; then
    gcflags="all=-N -l ${gcflags}"
  else
    ldflags+=" -s -w"
    KUBE_GO_BUILD_ARGS+=(-trimpath)
  fi
  ldflags+="${GOLDFLAGS:+ ${GOLDFLAGS}}"
  KUBE_GO_BUILD_ARGS+=(-ldflags "${ldflags}" -gcflags "${gcflags}")

  if ((${#platforms[@]} == 1)); then
    kube::golang::_build_platform "${platforms[0]}"
    return
  fi

  # Several platforms: in parallel when there is memory for it (upstream's
  # rule, KUBE_PARALLEL_BUILD_MEMORY GiB), each one's output kept apart
  # and shown when all are done.
  local mem threshold=${KUBE_PARALLEL_BUILD_MEMORY:-20}
  mem=$(kube::util::mem_available_gib)
  if ((mem < threshold)); then
    kube::log::status "Building platforms in serial: available memory ${mem}G < threshold ${threshold}G (KUBE_PARALLEL_BUILD_MEMORY)"
    local p
    for p in "${platforms[@]}"; do
      kube::golang::_build_platform "${p}"
    done
    return
  fi
  kube::log::status "Building platforms in parallel: available memory ${mem}G >= threshold ${threshold}G (KUBE_PARALLEL_BUILD_MEMORY)"
  local logs p i fails=0
  logs=$(mktemp -d "${TMPDIR:-/tmp}/kube-mini-build.XXXXXX")
  local -a pids=()
  for p in "${platforms[@]}"; do
    kube::golang::_build_platform "${p}" >"${logs}/${p//\//_}.build" 2>&1 &
    pids+=($!)
  done
  for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then
      fails=$((fails + 1))
      echo "${platforms[$i]}" >>"${logs}/failed"
    fi
  done
  for p in "${platforms[@]}"; do
    cat "${logs}/${p//\//_}.build"
  done
  if ((fails > 0)); then
    kube::log::error "Building failed for: $(tr '\n' ' ' <"${logs}/failed")"
    rm -rf "${logs}"
    exit 1
  fi
  rm -rf "${logs}"
}

# kube::golang::_place_one SRC DST: copy SRC to DST only when the content
# differs, so that an unchanged binary keeps its mtime (upstream's
# `rsync -pc`); a changed one is replaced atomically, mode 0755.
kube::golang::_place_one() {
  local src=$1 dst=$2
  if [[ -f "${dst}" ]] && cmp -s "${src}" "${dst}"; then
    [[ -x "${dst}" ]] || chmod 0755 "${dst}"
    return 0
  fi
  local tmp
  tmp="$(dirname "${dst}")/.$(basename "${dst}").tmp.$$"
  if ! { cp "${src}" "${tmp}" && chmod 0755 "${tmp}" && mv -f "${tmp}" "${dst}"; }; then
    rm -f "${tmp}"
    kube::log::error_exit "cannot place ${dst}"
  fi
  kube::log::info V=3 "    placed ${dst#"${KUBE_ROOT}/"}"
}

# kube::golang::place_bins: copy what build_binaries made from GOPATH/bin
# (host platform) or GOPATH/bin/OS_ARCH (others) to <output>/bin/OS/ARCH,
# and point _output/bin at the host platform's directory.
kube::golang::place_bins() {
  local host
  host=$(kube::golang::host_platform)
  local platform t name ext src_dir dst_dir
  for platform in "${KUBE_BUILT_PLATFORMS[@]}"; do
    ext=""
    [[ "${platform%/*}" == windows ]] && ext=.exe
    if [[ "${platform}" == "${host}" ]]; then
      src_dir="${GOPATH}/bin"
    else
      src_dir="${GOPATH}/bin/${platform//\//_}"
    fi
    dst_dir="${KUBE_OUTPUT_BINPATH}/${platform}"
    mkdir -p "${dst_dir}"
    for t in "${KUBE_BUILD_TARGETS[@]}"; do
      name=$(basename "${t}")${ext}
      [[ -f "${src_dir}/${name}" ]] || kube::log::error_exit "go install left no ${src_dir}/${name}"
      kube::golang::_place_one "${src_dir}/${name}" "${dst_dir}/${name}"
    done
  done
  kube::golang::_link_host_bin "${host}"
}

# _output/bin -> <subpath>/bin/<host os>/<host arch>, relative when the
# output is under _output/ (so it still points right once copied out of a
# build sandbox), absolute otherwise.
kube::golang::_link_host_bin() {
  local host=$1
  [[ -d "${KUBE_OUTPUT_BINPATH}/${host}" ]] || return 0
  local link="${KUBE_ROOT}/_output/bin" target
  case "${KUBE_OUTPUT_SUBPATH}" in
    _output/*) target="${KUBE_OUTPUT_SUBPATH#_output/}/bin/${host}" ;;
    *) target="${KUBE_OUTPUT_BINPATH}/${host}" ;;
  esac
  if [[ -L "${link}" ]]; then
    [[ "$(readlink "${link}")" == "${target}" ]] && return 0
  elif [[ -e "${link}" ]]; then
    kube::log::error "${link} is not a symbolic link; leaving it alone"
    return 0
  fi
  mkdir -p "${KUBE_ROOT}/_output"
  ln -sfn "${target}" "${link}"
}
