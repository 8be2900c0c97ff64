#!/usr/bin/env bash
# Version stamping.  The binaries learn what they were built from through
# the linker: -X k8s.io/kube-mini/pkg/version.gitVersion=... and so on.
#
# The values come from, in order:
#   1. $KUBE_GIT_VERSION_FILE, when it names an existing file: shell
#      assignments (KUBE_GIT_COMMIT='...' ...) as kube::version::save_version_vars
#      writes them.  A build without .git uses this.
#   2. KUBE_GIT_COMMIT, KUBE_GIT_TREE_STATE, KUBE_GIT_VERSION, KUBE_GIT_MAJOR,
#      KUBE_GIT_MINOR already in the environment; each one set is kept.
#   3. git, run on the tree itself (the .git that was synced in):
#      gitCommit     `git rev-parse HEAD`
#      gitTreeState  "clean", or "dirty" when `git status --porcelain` says anything
#      gitVersion    `git describe --tags --match 'v*'` made semver-like
#                    (v1.2.0-3-gabc… becomes v1.2.0-3+abc…, v1.2.0-rc.1-3-gabc…
#                    becomes v1.2.0-rc.1.3+abc…), or v0.0.0-master+<sha> when
#                    no tag is reachable; "-dirty" is added for a dirty tree.
# The build date is SOURCE_DATE_EPOCH when set, else the commit's date, so
# a rebuild of the same commit links the same bytes.

kube::version::_git() {
  git -C "${KUBE_ROOT}" "$@"
}

# kube::version::get_version_vars: sets the KUBE_GIT_* variables (and
# KUBE_BUILD_DATE) from the sources above.
kube::version::get_version_vars() {
  if [[ -n "${KUBE_GIT_VERSION_FILE:-}" && -f "${KUBE_GIT_VERSION_FILE}" ]]; then
    kube::version::load_version_vars "${KUBE_GIT_VERSION_FILE}"
  elif [[ -z "${KUBE_GIT_COMMIT:-}" ]]; then
    local why
    if ! command -v git >/dev/null 2>&1; then
      why="git is not installed"
    elif ! why=$(kube::version::_git rev-parse --git-dir 2>&1 >/dev/null); then
      why=${why%%$'\n'*}   # e.g. "fatal: not a git repository" or "detected dubious ownership"
    else
      why=""
    fi
    if [[ -n "${why}" ]]; then
      kube::log::status V=2 "No version from git (${why}) and no KUBE_GIT_VERSION_FILE: the binaries are not stamped"
      return 0
    fi
  fi

  if [[ -z "${KUBE_GIT_COMMIT:-}" ]]; then
    KUBE_GIT_COMMIT=$(kube::version::_git rev-parse "HEAD^{commit}" 2>/dev/null) ||
      kube::log::error_exit "git rev-parse HEAD failed in ${KUBE_ROOT}: $(kube::version::_git rev-parse HEAD 2>&1 | head -1)"
  fi

  if [[ -z "${KUBE_GIT_TREE_STATE:-}" ]]; then
    local status
    status=$(kube::version::_git status --porcelain 2>/dev/null) ||
      kube::log::error_exit "git status failed in ${KUBE_ROOT}"
    if [[ -z "${status}" ]]; then
      KUBE_GIT_TREE_STATE=clean
    else
      KUBE_GIT_TREE_STATE=dirty
    fi
  fi

  if [[ -z "${KUBE_GIT_VERSION:-}" ]]; then
    local described
    if described=$(kube::version::_git describe --tags --match='v*' --abbrev=14 "${KUBE_GIT_COMMIT}^{commit}" 2>/dev/null); then
      if [[ "${described}" =~ ^(.*)-([0-9]+)-g([0-9a-f]+)$ ]]; then
        local base=${BASH_REMATCH[1]} distance=${BASH_REMATCH[2]} sha=${BASH_REMATCH[3]}
        if [[ "${base}" == *-* ]]; then
          KUBE_GIT_VERSION="${base}.${distance}+${sha}"   # past a pre-release tag
        else
          KUBE_GIT_VERSION="${base}-${distance}+${sha}"
        fi
      else
        KUBE_GIT_VERSION=${described}                     # exactly on a tag
      fi
    else
      KUBE_GIT_VERSION="v0.0.0-master+${KUBE_GIT_COMMIT:0:14}"
    fi
    if [[ "${KUBE_GIT_TREE_STATE}" == dirty ]]; then
      KUBE_GIT_VERSION+="-dirty"
    fi
  fi

  if [[ -z "${KUBE_GIT_MAJOR:-}" || -z "${KUBE_GIT_MINOR:-}" ]]; then
    if [[ "${KUBE_GIT_VERSION}" =~ ^v([0-9]+)\.([0-9]+)(\.[0-9]+)?(-[^+]*)?(\+.*)?$ ]]; then
      KUBE_GIT_MAJOR=${BASH_REMATCH[1]}
      KUBE_GIT_MINOR=${BASH_REMATCH[2]}
      # A build past a tag is "1+" as upstream's minor is "29+".
      if [[ -n "${BASH_REMATCH[5]}" ]]; then
        KUBE_GIT_MINOR+="+"
      fi
    fi
  fi

  if [[ -z "${KUBE_BUILD_DATE:-}" ]]; then
    local epoch=${SOURCE_DATE_EPOCH:-}
    if [[ -z "${epoch}" ]]; then
      epoch=$(kube::version::_git show -s --format=%ct "${KUBE_GIT_COMMIT}^{commit}" 2>/dev/null) || epoch=""
    fi
    if [[ -n "${epoch}" ]]; then
      KUBE_BUILD_DATE=$(date -u -d "@${epoch}" +'%Y-%m-%dT%H:%M:%SZ')
    fi
  fi
}

# kube::version::save_version_vars FILE: write the variables for
# KUBE_GIT_VERSION_FILE.
kube::version::save_version_vars() {
  local file=$1
  kube::version::get_version_vars
  cat >"${file}" <<EOV
KUBE_GIT_COMMIT='${KUBE_GIT_COMMIT-}'
KUBE_GIT_TREE_STATE='${KUBE_GIT_TREE_STATE-}'
KUBE_GIT_VERSION='${KUBE_GIT_VERSION-}'
KUBE_GIT_MAJOR='${KUBE_GIT_MAJOR-}'
KUBE_GIT_MINOR='${KUBE_GIT_MINOR-}'
KUBE_BUILD_DATE='${KUBE_BUILD_DATE-}'
EOV
}

# kube::version::load_version_vars FILE: read what save_version_vars wrote.
kube::version::load_version_vars() {
  local file=$1
  # shellcheck disable=SC1090
  source "${file}" || kube::log::error_exit "cannot read KUBE_GIT_VERSION_FILE ${file}"
  kube::log::status V=2 "Version from ${file}: ${KUBE_GIT_VERSION:-?} (${KUBE_GIT_TREE_STATE:-?})"
}

# kube::version::ldflags: the -X flags for pkg/version, on one line, from
# the variables kube::version::get_version_vars set (call it first, outside
# the command substitution that reads this, so its variables and messages
# are not lost in a subshell).
kube::version::ldflags() {
  local -a flags=()
  local pkg="${KUBE_GO_PACKAGE}/pkg/version"
  add() {
    [[ -n "$2" ]] && flags+=("-X '${pkg}.$1=$2'")
    return 0
  }
  add gitCommit "${KUBE_GIT_COMMIT:-}"
  add gitTreeState "${KUBE_GIT_TREE_STATE:-}"
  add gitVersion "${KUBE_GIT_VERSION:-}"
  add gitMajor "${KUBE_GIT_MAJOR:-}"
  add gitMinor "${KUBE_GIT_MINOR:-}"
  add buildDate "${KUBE_BUILD_DATE:-}"
  echo "${flags[*]+"${flags[*]}"}"
}
