# kbuild-ns doctor: on a host that can run the sandbox every check passes
# and the exit status is 0; a check that fails prints PROBLEM, its fix
# indented below, and the exit status is 125.  Real failures are made
# without privilege inside a user namespace of the test's own (a state
# directory on ramfs, user.max_user_namespaces=0, a masked /proc); the
# others are forced through the KBUILD_NS_PROBE_FAIL test hook.
. "$SRCDIR/tests/integration/lib.sh"

need_userns
plan 48

# run_doc [ENV=VAL...] -- ARGS...: doctor as the test user; stdout, stderr
# and status in $WORK/out, $WORK/err, $rc.
run_doc() {
	as_user env "$@" >"$WORK/out" 2>"$WORK/err" </dev/null
	rc=$?
}
doctor() { run_doc "$KBUILD_NS" -q --state-dir "$STATE" doctor "$@"; }
# line ID: the report line of check ID ("lowerdir+" has a regex character).
re() { printf '%s' "$1" | sed 's/+/[+]/g'; }
line() { grep -E "^(ok|PROBLEM|note) +$(re "$1"): " "$WORK/out"; }
word() { line "$1" | awk '{ print $1 }'; }
# fix_follows ID: the line of check ID is followed by at least one
# indented line (its fix).
fix_follows() {
	awk -v id="$(re "$1")" '
		found && /^         [^ ]/ { ok = 1 }
		found { exit }
		$0 ~ "^(ok|PROBLEM|note) +" id ": " { found = 1 }
		END { exit !ok }' "$WORK/out"
}
skip() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n # SKIP $*"; }
show() { sed 's/^/# /' "$WORK/out" "$WORK/err" | head -40; }

checks="kernel userns apparmor xattrs overlay lowerdir+ proc openat2 subids"

# --- a healthy host --------------------------------------------------------
doctor
[ "$rc" = 0 ] || show
is "doctor exits 0 on this host" "$rc" 0
is "nothing on stderr" "$(wc -l <"$WORK/err" | tr -d ' ')" 0
n=0
for c in $checks; do
	line "$c" >/dev/null && n=$((n + 1))
done
is "one line for each of the 9 checks" "$n" 9
bad=$(grep -Ev '^(ok|PROBLEM|note) +[a-z0-9+]+: |^         ' "$WORK/out")
is "every line is a check or an indented fix" "$bad" ""
is "no PROBLEM line" "$(grep -c '^PROBLEM' "$WORK/out")" 0
for c in userns apparmor xattrs overlay proc openat2; do
	is "$c: ok" "$(word "$c")" ok
done
cp "$WORK/out" "$WORK/healthy.out"
# kbuild-ns-doctor(1) says what the kernel line shows: ok from Linux 5.12,
# a note before (issue 14: the page called it "only a note").
kmaj=$(uname -r | cut -d. -f1); kmin=$(uname -r | cut -d. -f2 | tr -cd 0-9)
kwant=note; { [ "$kmaj" -gt 5 ] || { [ "$kmaj" = 5 ] && [ "${kmin:-0}" -ge 12 ]; }; } && kwant=ok
kpage=$(awk '/^\.It Sy kernel/ { on = 1; next } on && /^\.It / { exit } on' "$SRCDIR/man/kbuild-ns-doctor.1" | tr '\n' ' ')
case $kpage in
*"Ql ok for Linux 5.12 or newer"*"Ql note for an older kernel"*) kpage=agrees ;;
*) echo "# kernel item: $kpage"; kpage=disagrees ;;
esac
is "kernel: '$kwant' on Linux $(uname -r), as kbuild-ns-doctor(1) says" "$(word kernel) $kpage" "$kwant agrees"

ls -a "$STATE" | grep -q kbuild-ns-doctor
is "no temporary directory is left in the state directory" "$?" 1

run_doc "$KBUILD_NS" -v --state-dir "$STATE" doctor
ms=$(sed -n 's/^(9 checks in \([0-9]*\)\.[0-9] ms.*/\1/p' "$WORK/out")
# The time is reported, not judged: a loaded machine may take long.
[ -n "$ms" ]
_result $? "-v: says how long the 9 checks took (${ms:-?} ms)"

# A state directory that does not exist yet is not made; its parent is
# where the checks run.
run_doc "$KBUILD_NS" -q --state-dir "$WORK/not-yet" doctor
is "a state directory not made yet: exit 0" "$rc" 0
test -e "$WORK/not-yet"
is "... and doctor does not make it" "$?" 1
line xattrs | grep -q "$WORK (where $WORK/not-yet will be made)"
_result $? "... the xattrs line says where it tried"
ls -a "$WORK" | grep -q kbuild-ns-doctor
is "... and leaves nothing in the parent" "$?" 1

doctor extra
is "an extra argument is a usage error (125)" "$rc" 125
grep -qi usage "$WORK/err"
_result $? "... with a usage line"
doctor --help
is "doctor --help exits 0" "$rc:$(grep -c 'kbuild-ns doctor' "$WORK/out")" 0:1

# --- forced failures (the test hook) ----------------------------------------
run_doc KBUILD_NS_PROBE_FAIL=userns "$KBUILD_NS" -q --state-dir "$STATE" doctor
is "forced userns failure: exit 125" "$rc" 125
line userns | grep -q '^PROBLEM  userns: .*\[forced by KBUILD_NS_PROBE_FAIL\]$'
_result $? "... PROBLEM userns, marked as forced"
fix_follows userns
_result $? "... its fix is printed, indented, below it"
is "... overlay and proc are not tried" "$(word overlay):$(word proc)" note:note
is "... one line on stderr" "$(wc -l <"$WORK/err" | tr -d ' '):$(grep -c '^kbuild-ns: doctor: 1 problem' "$WORK/err")" 1:1

for c in apparmor xattrs overlay proc openat2; do
	run_doc KBUILD_NS_PROBE_FAIL=$c "$KBUILD_NS" -q --state-dir "$STATE" doctor
	fix_follows "$c"
	is "forced $c failure: exit 125, PROBLEM with a fix" "$rc:$(word "$c"):$?" "125:PROBLEM:0"
done
run_doc KBUILD_NS_PROBE_FAIL=apparmor "$KBUILD_NS" -q --state-dir "$STATE" doctor
grep -q '^           sudo apparmor_parser -r /etc/apparmor.d/kbuild-ns$' "$WORK/out"
_result $? "apparmor: the fix loads the shipped profile with apparmor_parser -r"
grep -q 'kernel.apparmor_restrict_unprivileged_userns=0' "$WORK/out"
_result $? "apparmor: the fix also names the sysctl"

run_doc KBUILD_NS_PROBE_FAIL=lowerdir+,subids "$KBUILD_NS" -q --state-dir "$STATE" doctor
is "no lowerdir+ and no subids are notes, not problems: exit 0" "$rc:$(word lowerdir+):$(word subids)" "0:note:note"
line subids | grep -q 'single-id mapping will be used'
_result $? "subids: the note says single-id mapping will be used"

run_doc KBUILD_NS_PROBE_FAIL=nonsense "$KBUILD_NS" -q --state-dir "$STATE" doctor
is "an unknown name in the hook changes nothing" "$rc:$(grep -c forced "$WORK/out")" "0:0"

# --- real failures, made in a user namespace of our own ----------------------
# ramfs never keeps extended attributes, and root of a user namespace may
# mount it.
mkdir -p "$WORK/ramfs"
user_own "$WORK/ramfs"
if as_user unshare -Urm sh -c 'mount -t ramfs none "$1"' sh "$WORK/ramfs" 2>/dev/null; then
	run_doc unshare -Urm sh -c 'mount -t ramfs none "$1" && exec "$2" -q --state-dir "$1/state" doctor' \
		sh "$WORK/ramfs" "$KBUILD_NS"
	is "state directory on ramfs: exit 125" "$rc" 125
	line xattrs | grep -q '^PROBLEM  xattrs: .* is on ramfs, which does not keep user\.\* extended attributes'
	_result $? "... PROBLEM xattrs names ramfs"
	fix_follows xattrs
	_result $? "... with the fix below it"
	grep -q '^           kbuild-ns --state-dir /var/tmp/kbuild-ns-' "$WORK/out"
	_result $? "... the fix is a command that moves the state directory"
else
	for i in 1 2 3 4; do skip "cannot mount ramfs in a user namespace here"; done
fi

# user.max_user_namespaces is per user namespace: 0 in ours forbids
# nesting one more, exactly as 0 on a host forbids the first.
if as_user unshare -Ur sh -c 'echo 0 >/proc/sys/user/max_user_namespaces' 2>/dev/null; then
	run_doc unshare -Ur sh -c 'echo 0 >/proc/sys/user/max_user_namespaces && exec "$1" -q --state-dir "$2" doctor' \
		sh "$KBUILD_NS" "$STATE"
	is "user.max_user_namespaces=0: exit 125" "$rc" 125
	line userns | grep -q '^PROBLEM  userns: user namespaces are disabled: user.max_user_namespaces is 0'
	_result $? "... PROBLEM userns names the sysctl"
	grep -q '^           sudo sysctl -w user.max_user_namespaces=' "$WORK/out"
	_result $? "... the fix is the sysctl command"
else
	for i in 1 2 3; do skip "cannot set user.max_user_namespaces in a user namespace here"; done
fi

# A masked /proc, as container runtimes make it: a bind mount over a file.
# A note, not a problem: the sandbox binds the outer /proc instead
# (container.t runs it there).
masked=
for f in /proc/keys /proc/timer_list /proc/kcore /proc/sysrq-trigger; do
	[ -e "$f" ] && { masked=$f; break; }
done
if [ -n "$masked" ] && as_user unshare -Urm sh -c 'mount --bind /dev/null "$1"' sh "$masked" 2>/dev/null; then
	run_doc unshare -Urm sh -c 'mount --bind /dev/null "$1" && exec "$2" -q --state-dir "$3" doctor' \
		sh "$masked" "$KBUILD_NS" "$STATE"
	is "masked /proc: exit 0 (the sandbox falls back to binding it)" "$rc" 0
	line proc | grep -q "^note     proc: .*masked ($masked).*binds it read-only"
	_result $? "... a note on proc names the masked path and the fallback"
	grep -q 'systempaths=unconfined' "$WORK/out"
	_result $? "... the fix says how to unmask /proc"
else
	for i in 1 2 3; do skip "no maskable /proc file or no mount in a user namespace"; done
fi

# --- as root -----------------------------------------------------------------
if [ "$(id -u)" = 0 ]; then
	"$KBUILD_NS" -q --state-dir "$STATE" doctor >"$WORK/out" 2>"$WORK/err"
	rc=$?
	[ "$rc" = 0 ] || show
	is "as root too: exit 0" "$rc" 0
	is "as root: no PROBLEM line" "$(grep -c '^PROBLEM' "$WORK/out")" 0
else
	skip "not running as root"
	skip "not running as root"
fi

exit $((_tap_failed > 0))
