#!/bin/sh
# A full disk: the state directory on a small tmpfs, mounted in a user and
# mount namespace of the test user (unshare -Urm, so no root and no loop
# device are needed).  `image import` and `make` must fail with one line
# that names the place (the store, the state directory) and the cause,
# and leave the store consistent: nothing half-imported, and the next
# command works once there is room.  A build that fills the state
# directory itself gets a warning that says so.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/run-lib.sh"
need unshare mount

as_user unshare -Urm sh -c 'mount -t tmpfs -o size=1m tmpfs "$1"' sh "$WORK/home" 2>/dev/null ||
	skip_all "the test user cannot mount a tmpfs in a user namespace"

plan 13

R=$WORK/res
as_user sh -ec 'mkdir -p "$1/res" "$1/small" "$1/roomy" "$1/co-big" "$1/tiny"
	echo tiny >"$1/tiny/f" && tar -C "$1/tiny" -cf "$1/tiny.tar" f
	head -c 6000000 /dev/zero >"$1/co-big/big"' sh "$WORK"

# Everything that needs the small file systems runs in one namespace;
# each step leaves its status and output in $R for the checks below.
as_user unshare -Urm sh -c '
	W=$1 KB=$2 R=$W/res
	step() { _n=$1; shift; "$@" >"$R/$_n.out" 2>"$R/$_n.err" </dev/null; echo $? >"$R/$_n.rc"; }
	mount -t tmpfs -o size=1m tmpfs "$W/small" || exit 1
	mount -t tmpfs -o size=6m tmpfs "$W/roomy" || exit 1
	step import "$KB" -q --state-dir "$W/small/st" image import "$W/rootfs.tar" --name big:1
	find "$W/small/st/store/layers" "$W/small/st/store/tmp" "$W/small/st/store/images" -mindepth 1 \
		-not -name "*.lock" >"$R/left"
	step ls "$KB" -q --state-dir "$W/small/st" image ls
	step tiny "$KB" -q --state-dir "$W/small/st" image import "$W/tiny.tar" --name tiny:1
	step import2 "$KB" -q --state-dir "$W/roomy/st" image import "$W/rootfs.tar" --name runbox:1
	step make "$KB" -q --state-dir "$W/roomy/st" -C "$W/co-big" make --image runbox:1 all
	step norun "$KB" -q --state-dir "$W/roomy/st" -C "$W/co-big" run --image runbox:1 -- echo RAN
	rm -f "$W/co-big/big"
	step fill "$KB" -q --state-dir "$W/roomy/st" -C "$W/co-big" run --image runbox:1 -- \
		sh -c "head -c 8000000 /dev/zero >/fill"
	step again "$KB" -q --state-dir "$W/roomy/st" -C "$W/co-big" run --image runbox:1 -- \
		sh -c "rm -f /fill && echo room"
' sh "$WORK" "$KBUILD_NS" >"$WORK/ns.out" 2>&1
sed 's/^/# /' "$WORK/ns.out"

rc() { cat "$R/$1.rc" 2>/dev/null; }
# one_line STEP PATTERN: STEP's stderr is one line matching PATTERN.
one_line() { [ "$(wc -l <"$R/$1.err")" = 1 ] && grep -q -- "$2" "$R/$1.err"; }

is "import into a full state directory: 125" "$(rc import)" 125
one_line import "store $WORK/small/st/store: .*No space left on device"
is "... one line naming the store and the cause ($(flat "$(cat "$R/import.err")"))" "$?" 0
is "... nothing half-imported is left (layers, images, tmp)" "$(cat "$R/left")" ""
is "... image ls still works" "$(rc ls)" 0
is "... and a small import still fits ($(flat "$(cat "$R/tiny.err")"))" "$(rc tiny)" 0
is "import into a roomier one works" "$(rc import2)" 0
is "make whose sync-in fills the state directory: 125" "$(rc make)" 125
one_line make "sync-in: state directory $WORK/roomy/st: .*No space left on device"
is "... one line naming the state directory and the cause ($(flat "$(cat "$R/make.err")"))" "$?" 0
grep -q "big" "$R/make.err"; is "... and the file" "$?" 0
is "a run whose sync-in fails (it runs beside the sandbox's start) does not start the command" \
	"$(rc norun) $(cat "$R/norun.out")" "125 "
is "a build that fills the state directory fails with its own status" "$(rc fill)" 1
grep -q "warning: the state directory $WORK/roomy/st is full (no free space)" "$R/fill.err"
is "... and a warning names the state directory ($(flat "$(cat "$R/fill.err")"))" "$?" 0
is "once there is room, the next run works ($(flat "$(cat "$R/again.err")"))" "$(rc again):$(cat "$R/again.out")" 0:room

[ "$_tap_failed" = 0 ]
