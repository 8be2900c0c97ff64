#!/usr/bin/env bash
# Status and error lines in the form the Kubernetes build prints them:
#   +++ [1125 14:03:11] Building go targets for linux/amd64
#   !!! [1125 14:03:11] go1.19.8 is too old: ...
# KUBE_VERBOSE (default 1 under make, 2 otherwise) selects how much is said:
# kube::log::info and kube::log::status print only when their level
# (V=N before the message, default 1) is at most KUBE_VERBOSE.

KUBE_VERBOSE="${KUBE_VERBOSE:-2}"

kube::log::_stamp() {
  date +'%m%d %H:%M:%S'
}

kube::log::_level() {
  # V=N as the first argument sets the level of the message.
  if [[ "${1:-}" =~ ^V=([0-9]+)$ ]]; then
    echo "${BASH_REMATCH[1]}"
  else
    echo 1
  fi
}

# kube::log::status [V=N] MESSAGE: a "+++" status line on stdout.
kube::log::status() {
  local v
  v=$(kube::log::_level "${1:-}")
  [[ "${1:-}" =~ ^V= ]] && shift
  (( KUBE_VERBOSE >= v )) || return 0
  echo "+++ [$(kube::log::_stamp)] $1"
  shift
  local line
  for line in "$@"; do
    echo "    ${line}"
  done
}

# kube::log::info [V=N] MESSAGE...: plain lines on stdout.
kube::log::info() {
  local v
  v=$(kube::log::_level "${1:-}")
  [[ "${1:-}" =~ ^V= ]] && shift
  (( KUBE_VERBOSE >= v )) || return 0
  local line
  for line in "$@"; do
    echo "${line}"
  done
}

# kube::log::error MESSAGE [DETAIL...]: a "!!!" line on stderr.
kube::log::error() {
  echo "!!! [$(kube::log::_stamp)] $1" >&2
  shift
  local line
  for line in "$@"; do
    echo "    ${line}" >&2
  done
}

# kube::log::error_exit MESSAGE [STATUS]: print and exit (default status 1).
kube::log::error_exit() {
  kube::log::error "$1"
  exit "${2:-1}"
}
