#!/bin/sh
# `image rm` and `image prune` while a build runs: a build holds the lock
# of the image it uses (store/images/<id>.lock) for its whole length and
# the store lock only while it finds the image, so
#   - `image rm B` and `image prune` do not wait for a build of image A,
#     and prune keeps A's layers;
#   - `image rm A` waits for the build, with a line naming it (pid,
#     command, checkout), without blocking other commands meanwhile;
# and an import that holds the store names itself to a waiting `rm`.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/run-lib.sh"

plan 14

# u CMD...: CMD as the test user, bounded: a wait for the build (which
# ends only when told) shows as 124.
u() { as_user timeout -k 5 30 "$@" </dev/null; }
kbv() { u "$KBUILD_NS" --state-dir "$STATE" "$@"; }

# Image B: the same root filesystem and one file more (another id).
as_user sh -c 'mkdir -p "$1/b" && cd "$1/b" && tar -xf ../rootfs.tar && echo b >b-only &&
	tar --numeric-owner --owner=0 --group=0 -cf ../b.tar .' sh "$WORK" &&
	kb image import "$WORK/b.tar" --name other:1 >/dev/null 2>&1 || { echo "Bail out! image B"; exit 1; }
L=$STATE/store/layers
A_LAYER=$(ls "$L" | while read -r h; do [ -e "$L/$h/bin/busybox" ] && [ ! -e "$L/$h/b-only" ] && echo "$h"; done)
junk=0000000000000000000000000000000000000000000000000000000000000000

# The build of A: runs until /sig/stop appears.
as_user mkdir -p "$WORK/sig"
start_build() {
	as_user rm -f "$WORK/sig/started" "$WORK/sig/stop"
	( kb_exec -C "$CO" run --image "$IMG" --bind "$WORK/sig:/sig" -- \
		sh -c 'echo started >/sig/started; while [ ! -e /sig/stop ]; do sleep 0.1; done; echo ended' ) \
		>"$WORK/build.out" 2>&1 </dev/null &
	BPID=$!
	wait_file "$WORK/sig/started" started 30
}
start_build
ok "image rm of another image while A builds: at once" kbv -q image rm other:1
ok "... and it is gone" test "$(kbv -q image ls --json | grep -c '"other:1"')" = 0
as_user sh -c 'mkdir -p "$1/ro" && chmod 555 "$1/ro"' sh "$L/$junk"
ok "image prune while A builds: at once" kbv -q image prune
ok "... removes an unused layer" test ! -e "$L/$junk"
ok "... and keeps A's" test -e "$L/$A_LAYER/bin/busybox"

# rm A: waits, naming the build; the store stays usable meanwhile.
( as_user "$KBUILD_NS" --state-dir "$STATE" image rm "$IMG" >"$WORK/rm.out" 2>"$WORK/rm.err" </dev/null ) &
RPID=$!
wait_file "$WORK/rm.err" "is in use by" 30
grep -q "image $IMG is in use by kbuild-ns pid [0-9]* (kbuild-ns .*run --image $IMG .*, in $CO): waiting for it to end" \
	"$WORK/rm.err"
is "image rm of A waits, with a line naming the build's pid, command and checkout ($(flat "$(cat "$WORK/rm.err")"))" \
	"$?" 0
kill -0 "$RPID" 2>/dev/null; is "... and is still waiting" "$?" 0
ok "... while image ls works at once" kbv -q image ls
ok "... and an import too" kbv -q image import "$WORK/b.tar" --name other:2
as_user touch "$WORK/sig/stop"
wait "$BPID"; is "the build ends normally, its layers there to the end ($(flat "$(cat "$WORK/build.out")"))" "$?" 0
wait "$RPID"; is "then image rm of A finishes" "$?$(grep -c '^Deleted' "$WORK/rm.out")" 01
ok "... and A's layer is gone" test ! -e "$L/$A_LAYER"
is "... its lock file too" "$(ls "$STATE/store/images" | grep -c '\.lock$')" 0
is "... and no build is left registered" "$(ls -A "$STATE/store/users" 2>/dev/null | wc -l)" 0

[ "$_tap_failed" = 0 ]
