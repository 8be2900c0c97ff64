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

plan 16

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
			touch "$1/work/work/incompat/volatile/dirty"; }' _ "$D" "$1" "${2:-}"
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

[ "$_tap_failed" = 0 ]
