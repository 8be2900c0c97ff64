# Shared helpers for the integration tests (POSIX sh, TAP output).
#
# Every kbuild-ns command runs as an unprivileged user: when the suite is
# started as root it drops to "kbuildns-test" (made by scripts/bootstrap)
# or, failing that, to 65534; otherwise it runs as the caller
# (tests/fixtures/user.sh, shared with the benchmarks).
#
#   . "$srcdir/tests/integration/lib.sh"
#   need skopeo umoci            # skip the whole script unless present
#   plan 3
#   ok "import works" kb image import "$WORK/img.tar" --name a:b
#   is "one image" "$(kb image ls --json | jq length)" 1
#
# Variables: KBUILD_NS (binary), SRCDIR, WORK (private temp dir owned by the
# test user, removed at exit), STATE ($WORK/state), TEST_UID, TEST_GID.
# Besides the TAP helpers: as_user, as_user_exec, kb, hu, ms, wait_file,
# status_get (below), user_own PATH... (chown to the test user when root)
# and rm_tree PATH... (tests/fixtures/user.sh).

set -u
: "${SRCDIR:=${srcdir:-.}}"
: "${KBUILD_NS:=$(pwd)/src/kbuild-ns}"
PYTHON=${PYTHON:-python3}
_tap_n=0
_tap_failed=0

. "$SRCDIR/tests/fixtures/user.sh"
user_pick
user_workdir "${TMPDIR:-/tmp}/kbuild-ns-test.XXXXXX" || { echo "Bail out! mktemp failed"; exit 1; }
# A TMPDIR the test user cannot reach (one under /root), or a file system
# without the user.* extended attributes the store and overlayfs's
# userxattr need (tmpfs before Linux 6.6, a common /tmp): /var/tmp instead.
if ! user_run test -x "$WORK" 2>/dev/null ||
	! "$PYTHON" -c 'import os, sys; os.setxattr(sys.argv[1], "user.kbuild-ns-test", b"1")' "$WORK" 2>/dev/null; then
	rmdir "$WORK"
	user_workdir /var/tmp/kbuild-ns-test.XXXXXX || { echo "Bail out! mktemp failed"; exit 1; }
fi
mkdir -p "$WORK/home" "$WORK/state"
user_own "$WORK"
STATE=$WORK/state
# make, run and shell pull a missing image (ondemand.h): never in the tests,
# which must send nothing off the machine; the pull tests say otherwise.
KBUILD_NS_PULL=never; export KBUILD_NS_PULL

cleanup() { rm_tree "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# as_user CMD...: run CMD as the test user with a private HOME.
as_user() { user_run HOME="$WORK/home" XDG_DATA_HOME="$WORK/home/.local/share" "$@"; }
# as_user_exec CMD...: as_user, exec'd: in `( as_user_exec CMD... ) &`, $! is CMD itself.
as_user_exec() { user_exec HOME="$WORK/home" XDG_DATA_HOME="$WORK/home/.local/share" "$@"; }

# A tree the test user cannot reach (a clone under /root, which is 0700 on
# Debian), or programs it cannot run (built by root under umask 077): the
# programs and the parts of the source tree the tests hand to it are copied
# into $WORK, and KBUILD_NS and SRCDIR point there.  (kbuild-ns finds
# kbuild-ns-image next to itself.)
if [ "$(id -u)" = 0 ] && ! as_user sh -c 'test -x "$1" && { [ ! -e "$2" ] || test -x "$2"; } &&
	test -r "$3/tests/integration/lib.sh"' sh "$KBUILD_NS" "${KBUILD_NS%/*}/kbuild-ns-image" "$SRCDIR" 2>/dev/null; then
	mkdir -p "$WORK/share/bin" "$WORK/share/src" &&
		cp "$KBUILD_NS" "$WORK/share/bin/" &&
		{ [ ! -e "${KBUILD_NS%/*}/kbuild-ns-image" ] || cp "${KBUILD_NS%/*}/kbuild-ns-image" "$WORK/share/bin/"; } &&
		tar -C "$SRCDIR" -cf - tests man examples images | tar -C "$WORK/share/src" -xf - &&
		chmod -R a+rX "$WORK/share" ||
		{ echo "Bail out! the test user cannot reach $KBUILD_NS, and copying it failed"; exit 1; }
	KBUILD_NS=$WORK/share/bin/kbuild-ns
	SRCDIR=$WORK/share/src
fi

# descendants PID: every process below PID (threads' children included).
descendants() {
	for _c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		echo "$_c"; descendants "$_c"
	done
}

# kb ARGS...: kbuild-ns as the test user, on this script's state directory.
kb() { as_user "$KBUILD_NS" -q --state-dir "$STATE" "$@"; }

skip_all() { echo "1..0 # SKIP $*"; exit 77; }
need() {
	for _t in "$@"; do
		command -v "$_t" >/dev/null 2>&1 || skip_all "$_t is not installed"
	done
}
# need_userns: skip unless the test user can make a user namespace.
need_userns() {
	as_user unshare -Ur true 2>/dev/null || skip_all "no unprivileged user namespaces here"
}

plan() { echo "1..$1"; }
# flat TEXT: one line (newlines as " | ") so that `is` logs stay comments.
flat() { printf '%s' "$1" | tr -d '\r' | awk 'NR > 1 { printf " | " } { printf "%s", $0 }'; }
_result() {
	_tap_n=$((_tap_n + 1))
	if [ "$1" = 0 ]; then echo "ok $_tap_n - $2"
	else echo "not ok $_tap_n - $2"; _tap_failed=$((_tap_failed + 1)); fi
}
# ok DESC CMD...: passes when CMD exits 0; its output goes to the log.
ok() {
	_d=$1; shift
	"$@" >"$WORK/.out" 2>&1; _rc=$?
	[ "$_rc" = 0 ] || { sed 's/^/# /' "$WORK/.out" | tail -20; echo "# exit status $_rc"; }
	_result "$_rc" "$_d"
}
# fails DESC STATUS CMD...: passes when CMD exits with STATUS.
fails() {
	_d=$1; _want=$2; shift 2
	"$@" >"$WORK/.out" 2>&1; _rc=$?
	[ "$_rc" = "$_want" ] || { sed 's/^/# /' "$WORK/.out" | tail -20; echo "# exit status $_rc, wanted $_want"; }
	[ "$_rc" = "$_want" ]; _result $? "$_d"
}
# is DESC GOT WANT
is() {
	if [ "$2" = "$3" ]; then _result 0 "$1"
	else printf '# got:  %s\n# want: %s\n' "$2" "$3"; _result 1 "$1"; fi
}
# last_output: what the last ok/fails command printed.
last_output() { cat "$WORK/.out"; }

# hu SCRIPT ARGS...: sh -ec SCRIPT as the test user (host-side edits).
hu() { _s=$1; shift; as_user sh -ec "$_s" sh "$@"; }
# ms: the time in milliseconds.
ms() { echo $(($(date +%s%N) / 1000000)); }
# wait_file FILE PATTERN [SECS]: until FILE has a line matching PATTERN
# (SECS default 20, checked every 0.02 s).
wait_file() {
	_i=0
	while [ "$_i" -lt "$((${3:-20} * 50))" ]; do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.02; _i=$((_i + 1))
	done
	return 1
}
# status_get CHECKOUT FIELD: a field of `kbuild-ns status --json` for
# CHECKOUT ("null", "true"/"false", or the value).
status_get() {
	kb -C "$1" status --json 2>/dev/null | "$PYTHON" -c '
import json, sys
v = json.load(sys.stdin)[sys.argv[1]]
print("null" if v is None else str(v).lower() if isinstance(v, bool) else v)' "$2"
}
