#!/bin/sh
# A host crash during a run, and what is not one.  The overlay is mounted
# "volatile" (no sync at unmount), so a crash during a run may leave the
# data layer with lost writes; two marks tell (src/project.h): the kernel's
# own work/work/incompat/volatile, there from each mount until the sandbox
# has ended, and in-use, the boot id of the last boot that used the layer,
# written once per boot rather than every run.  A crash cannot be made
# here: its traces are (the kernel's mark, an in-use of another boot id).
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/run-lib.sh"

plan 24

BOOT=$(cat /proc/sys/kernel/random/boot_id)
OTHER=00000000-0000-4000-8000-000000000000
# r CMD...: a run on the checkout itself (no snapshot); stderr in $WORK/err.
r() { sb --source bind -- "$@" 2>"$WORK/err"; }
# kmark: is the kernel's mark there?  (overlay makes its directories mode 000)
kmark() {
	as_user sh -c 'chmod u+rwx "$1/work/work" "$1/work/work/incompat" 2>/dev/null
		test -e "$1/work/work/incompat/volatile"' _ "$D"
}
# traces ID [mark]: in-use holding ID ("-": no in-use), and with "mark" the
# kernel's mark as a mount leaves it
traces() {
	as_user sh -c 'if [ "$2" = - ]; then rm -f "$1/in-use"; else printf %s "$2" >"$1/in-use"; fi
		[ -z "$3" ] || { chmod u+rwx "$1/work/work" && mkdir -p "$1/work/work/incompat/volatile" &&
			touch "$1/work/work/incompat/volatile/dirty"; }' _ "${TD:-$D}" "$1" "${2:-}"
}

ok "a run writes to the data layer" r sh -c 'echo kept >/keep'
D=$(ls -d "$STATE"/projects/*/ | head -1)
is "in-use holds this boot's id" "$(cat "$D/in-use" 2>&1)" "$BOOT"
kmark; is "the kernel's mark is gone once the sandbox has ended" "$?" 1
ino=$(stat -c %i "$D/in-use")
ok "a second run" r true
is "the second run leaves in-use alone (written once per boot)" "$(stat -c %i "$D/in-use")" "$ino"

# A kbuild-ns killed in this boot: its writes are in the page cache.
( kb_exec -C "$CO" run --source bind --image "$IMG" -- sh -c 'echo y >/killed; exec sleep 60' \
	</dev/null >/dev/null 2>&1 ) &
pid=$!
wait_file "$D/upper/killed" y 30
kill -KILL "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
sleep 0.3
kmark; is "a killed kbuild-ns leaves the kernel's mark" "$?" 0
out=$(r cat /keep /killed)
is "the next run keeps the data layer" "$(flat "$out")" "kept | y"
is "... without a warning" "$(cat "$WORK/err")" ""
kmark; is "... and removes the kernel's mark" "$?" 1

# A clean restart: in-use from another boot, no kernel's mark.
traces "$OTHER"
out=$(r cat /keep)
is "after a clean restart the data layer is kept" "$out" kept
is "... without a warning" "$(cat "$WORK/err")" ""
is "... and in-use holds the new boot's id" "$(cat "$D/in-use")" "$BOOT"

# A data layer of a kbuild-ns that removed in-use after each run.
traces - mark
out=$(r cat /keep)
is "a layer without in-use (an older kbuild-ns) is kept" "$out" kept

# A crash during a run: the kernel's mark, and in-use from another boot.
traces "$OTHER" mark
out=$(r sh -c 'cat /keep 2>/dev/null; echo after')
is "after a crash during a run the data layer is emptied" "$out" after
grep -q "reset" "$WORK/err"; is "... with a warning" "$?" 0
ok "... and the next run works on the fresh layer" r true

# The same with a subordinate id range: files the build made as another
# user belong on the host to ids of the range, which the user cannot
# remove directly.  The reset after a crash, and the one after a switch
# of KBUILD_NS_IDMAP (range to single and back), remove them with the
# range mapped, without sending the user to `podman unshare`.
tname=$(id -nu "$TEST_UID" 2>/dev/null)
range=$(awk -F: -v n="$tname" -v u="$TEST_UID" '($1 == n || $1 == u) && $3 > 0 {print $2; exit}' /etc/subuid 2>/dev/null)
if [ -n "$range" ] && [ -n "$tname" ] && grep -q "^$tname:\|^$TEST_UID:" /etc/subgid 2>/dev/null &&
	command -v newuidmap >/dev/null && command -v newgidmap >/dev/null; then
	CR=$WORK/co-range
	as_user mkdir -p "$CR"
	# rr [IDMAP] -- CMD...: a run on $CR with the range (or IDMAP).
	rr() {
		_m=$1; shift 2
		if [ -n "$_m" ]; then _e="KBUILD_NS_IDMAP=$_m"; else _e="-u KBUILD_NS_IDMAP"; fi
		# shellcheck disable=SC2086
		as_user env $_e timeout -k 5 "$RUN_TIMEOUT" \
			"$KBUILD_NS" -q --state-dir "$STATE" -C "$CR" run --image "$IMG" -- "$@" </dev/null 2>"$WORK/err"
	}
	others='mkdir -p /d/sub /src/gen && touch /d/sub/f /src/gen/g && chown -R 1000:1000 /d /src/gen'
	rr "" -- sh -c "$others"
	TD=$(as_user "$KBUILD_NS" --state-dir "$STATE" -C "$CR" status --json </dev/null |
		sed -n 's/^ *"state_dir": "\(.*\)",*$/\1/p')
	is "range: the build left files of a subordinate id in the data layer" \
		"$(stat -c %u "$TD/upper/d/sub/f" 2>&1)" "$((range + 999))"
	traces "$OTHER" mark
	out=$(rr "" -- sh -c 'ls /d 2>/dev/null; echo after')
	is "range: after a crash the data layer with files of other ids is emptied ($(flat "$(cat "$WORK/err")"))" \
		"$out" after
	grep -q "reset" "$WORK/err"; is "range: ... with a warning" "$?" 0
	ok "range: ... and the next run works" rr "" -- true
	rr "" -- sh -c "$others"
	out=$(rr single -- sh -c 'ls /d /src/gen 2>/dev/null; echo after')
	is "range to single: the data layer and the snapshot are reset ($(flat "$(cat "$WORK/err")"))" "$out" after
	grep -q "unshare\|as root\|Permission denied" "$WORK/err"
	is "range to single: no error and no advice to remove files by hand" "$?" 1
	out=$(rr single -- sh -c 'mkdir /d && touch /d/f && chown -R 1000 /d 2>/dev/null; echo single')
	out=$(rr "" -- sh -c 'ls /d 2>/dev/null; echo back')
	is "single to range: reset again ($(flat "$(cat "$WORK/err")"))" "$out" back
	as_user "$KBUILD_NS" -q --state-dir "$STATE" -C "$CR" clean </dev/null >"$WORK/err" 2>&1
	is "range: clean removes it all ($(flat "$(cat "$WORK/err")"))" "$(ls "$STATE/projects" | grep -c "^$(basename "$TD")")" 0
else
	for t in "files of a subordinate id" "reset after a crash" "... with a warning" "... next run" \
		"range to single" "range to single: no advice" "single to range" "clean"; do
		skip_one "range: $t" "no subuid range or newuidmap for the test user"
	done
fi

[ "$_tap_failed" = 0 ]
