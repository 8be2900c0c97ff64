# Shared helpers for the integration tests (POSIX sh, TAP output).
#
# Every kbuild-ns command runs as an unprivileged user: when the suite is
# started as root it drops to "kbuildns-test" (made by scripts/bootstrap)
# or, failing that, to 65534; otherwise it runs as the caller.
#
#   . "$srcdir/tests/integration/lib.sh"
#   need skopeo umoci            # skip the whole script unless present
#   plan 3
#   ok "import works" kb image import "$WORK/img.tar" --name a:b
#   is "one image" "$(kb image ls --json | jq length)" 1
#
# Variables: KBUILD_NS (binary), SRCDIR, WORK (private temp dir owned by the
# test user, removed at exit), STATE ($WORK/state), TEST_UID, TEST_GID.

set -u
: "${SRCDIR:=${srcdir:-.}}"
: "${KBUILD_NS:=$(pwd)/src/kbuild-ns}"
PYTHON=${PYTHON:-python3}
_tap_n=0
_tap_failed=0

if [ "$(id -u)" = 0 ]; then
	if id kbuildns-test >/dev/null 2>&1; then
		TEST_UID=$(id -u kbuildns-test); TEST_GID=$(id -g kbuildns-test)
	else
		TEST_UID=65534; TEST_GID=65534
	fi
else
	TEST_UID=$(id -u); TEST_GID=$(id -g)
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kbuild-ns-test.XXXXXX")
chmod 755 "$WORK"
mkdir -p "$WORK/home" "$WORK/state"
[ "$(id -u)" = 0 ] && chown -R "$TEST_UID:$TEST_GID" "$WORK"
STATE=$WORK/state

cleanup() {
	# Layers may hold read-only directories; make them writable first.
	chmod -R u+rwx "$WORK" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# as_user CMD...: run CMD as the test user with a private HOME.
as_user() {
	if [ "$(id -u)" = 0 ]; then
		setpriv --reuid="$TEST_UID" --regid="$TEST_GID" --clear-groups \
			env HOME="$WORK/home" XDG_DATA_HOME="$WORK/home/.local/share" "$@"
	else
		env HOME="$WORK/home" XDG_DATA_HOME="$WORK/home/.local/share" "$@"
	fi
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
