#!/bin/sh
# Where the state lives and what may be in names:
#   - a state directory inside the checkout (kbuild-ns run in $HOME with
#     the default state directory, or a relative --state-dir) is left out
#     of the sync both ways, and refused with --source bind;
#   - checkout paths, branches and state directories whose bytes are not
#     UTF-8 show in JSON (status --json, meta.json, image ls --json) with
#     the odd bytes as \xNN;
#   - clean checks every lock of the checkout before it removes anything,
#     and a checkout it cannot write is not half cleaned.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/run-lib.sh"

plan 25

# jraw KEY: the value of "KEY": "VALUE" in indented JSON on stdin, as JSON
# text (a backslash doubled); no python: its start is slow on a busy host.
jraw() { sed -n "s/^ *\"$1\": \"\\(.*\\)\",*\$/\\1/p"; }
# u CMD...: CMD as the test user, bounded.
u() { as_user timeout -k 5 "$RUN_TIMEOUT" "$@" </dev/null; }

# =============================================================================
# A state directory inside the checkout
# =============================================================================
# The default one, ~/.local/share/kbuild-ns, with the checkout $HOME.
H=$WORK/home
as_user sh -c 'echo "a file in home" >"$1/file"' sh "$H"
u "$KBUILD_NS" -q image import "$WORK/rootfs.tar" --name "$IMG" >"$WORK/out" 2>&1
u "$KBUILD_NS" -q -C "$H" run --image "$IMG" -- sh -c 'cat /src/file; ls -A /src/.local/share' \
	>"$WORK/out" 2>"$WORK/err"
is "run in \$HOME with the default state directory ($(flat "$(cat "$WORK/err")"))" \
	"$(cat "$WORK/out")" "a file in home"
HS=$H/.local/share/kbuild-ns
is "... the snapshot holds no copy of the state" "$(find "$HS/projects" -path '*/snapshot/.local/share/*' | wc -l)" 0
u "$KBUILD_NS" -q -C "$H" run --image "$IMG" -- true 2>"$WORK/err"
is "... a second run works ($(flat "$(cat "$WORK/err")"))" "$?" 0
is "... and the store is intact" "$(u "$KBUILD_NS" image ls --json | grep -c '"runbox:1"')" 1
fails "--source bind with the state inside the checkout: refused" 125 \
	u "$KBUILD_NS" -q -C "$H" run --source bind --image "$IMG" -- true
is "... with one line that says why" "$(wc -l <"$WORK/.out") $(grep -c 'is inside the checkout, which --source bind' "$WORK/.out")" "1 1"

# A relative --state-dir, from inside the checkout.
RC=$WORK/co-rel
as_user sh -c 'mkdir -p "$1/_output/bin" && echo rel >"$1/README"' sh "$RC"
rk() { u sh -c 'cd "$1" && shift && exec "$@"' sh "$RC" "$KBUILD_NS" -q --state-dir .kb-state "$@"; }
rk image import "$WORK/rootfs.tar" --name "$IMG" >"$WORK/out" 2>&1
rk run --image "$IMG" -- sh -c 'ls -A /src; mkdir -p _output/bin && echo built >_output/bin/tool' \
	>"$WORK/out" 2>"$WORK/err"
is "a relative --state-dir inside the checkout: the run sees the checkout without it ($(flat "$(cat "$WORK/err")"))" \
	"$(flat "$(cat "$WORK/out")")" README
is "... copy-out still brings results back" "$(cat "$RC/_output/bin/tool" 2>&1)" built
is "... and leaves the state alone" "$(find "$RC/.kb-state/projects" -path '*/snapshot/.kb-state' | wc -l)" 0
ok "... a second run works" rk run --image "$IMG" -- true

# =============================================================================
# Names that are not UTF-8
# =============================================================================
XC=$WORK/co-$(printf '\377\376')
as_user sh -c 'mkdir -p "$1/.git" && printf "ref: refs/heads/b-\377x\n" >"$1/.git/HEAD" && echo x >"$1/README"' sh "$XC"
u "$KBUILD_NS" -q --state-dir "$STATE" -C "$XC" status --json >"$WORK/st.json" 2>"$WORK/err"
is "status --json in a checkout named with 0xff 0xfe ($(flat "$(cat "$WORK/err")"))" \
	"$(jraw checkout <"$WORK/st.json")" "$WORK/co-\\\\xff\\\\xfe"
is "... the branch with its odd byte as \\xff" "$(jraw branch <"$WORK/st.json")" 'b-\\xffx'
u "$KBUILD_NS" -q --state-dir "$STATE" -C "$XC" run --image "$IMG" -- true 2>"$WORK/err"
is "a run there works ($(flat "$(cat "$WORK/err")"))" "$?" 0
SD=$(jraw state_dir <"$WORK/st.json")
is "... and writes its record, escaped" "$(jraw branch <"$SD/meta.json")" 'b-\\xffx'
is "... which status shows" "$(u "$KBUILD_NS" -q --state-dir "$STATE" -C "$XC" status --json | jraw last_command)" true
XS=$WORK/state-$(printf '\377')
as_user mkdir "$XS"
u "$KBUILD_NS" -q --state-dir "$XS" image import "$WORK/rootfs.tar" --name "$IMG" >"$WORK/out" 2>&1
u "$KBUILD_NS" -q --state-dir "$XS" image ls --json >"$WORK/ls.json" 2>"$WORK/err"
is "image ls --json in a state directory named with 0xff: its layer path ($(flat "$(cat "$WORK/err")"))" \
	"$(jraw path <"$WORK/ls.json" | grep /store/layers/ | cut -c1-"$((${#WORK} + 12))")" "$WORK/state-\\\\xff"

# =============================================================================
# clean: every lock first; a checkout it cannot write
# =============================================================================
as_user sh -c 'mkdir -p "$1/_output/bin" "$2" && echo x >"$1/_output/bin/x"' sh "$CO" "$WORK/sig"
sb -- true 2>/dev/null
CS=$(u "$KBUILD_NS" -q --state-dir "$STATE" -C "$CO" status --json | jraw state_dir)
( kb_exec -C "$CO" run --image "$IMG" --bind "$WORK/sig:/sig" -- \
	sh -c 'echo started >/sig/started; while [ ! -e /sig/stop ]; do sleep 0.1; done' ) >/dev/null 2>&1 </dev/null &
lpid=$!
wait_file "$WORK/sig/started" started 30
fails "clean while a build holds the checkout: 125" 125 u "$KBUILD_NS" -q --state-dir "$STATE" -C "$CO" clean
grep -q "in use by a running kbuild-ns (pid [0-9]*); nothing was removed" "$WORK/.out"
is "... one line naming the holder ($(flat "$(last_output)"))" "$?$(wc -l <"$WORK/.out")" 01
is "... and _output and the state are both kept" "$(ls "$CO/_output/bin" 2>&1) $(test -d "$CS" && echo state)" "x state"
as_user touch "$WORK/sig/stop"
wait "$lpid"
is "the build ends normally" "$?" 0

# Read-only: the checkout bound read-only in a mount namespace of the user.
if as_user unshare -Urm sh -c 'mount --bind "$1" "$1" && mount -o remount,ro,bind "$1"' sh "$CO" 2>/dev/null; then
	as_user unshare -Urm sh -c 'mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" &&
		exec "$2" -q --state-dir "$3" -C "$1" clean' sh "$CO" "$KBUILD_NS" "$STATE" </dev/null >"$WORK/out" 2>&1
	is "clean on a read-only checkout: 125" "$?" 125
	grep -q "read-only file system.*nothing was removed: make it writable" "$WORK/out"
	is "... one line that says what to do ($(flat "$(cat "$WORK/out")"))" "$?$(wc -l <"$WORK/out")" 01
	is "... and nothing was removed" "$(ls "$CO/_output/bin" 2>&1) $(test -d "$CS" && echo state)" "x state"
else
	skip_one "clean on a read-only checkout" "the test user cannot bind-mount in a user namespace"
	skip_one "... one line that says what to do" "the test user cannot bind-mount in a user namespace"
	skip_one "... and nothing was removed" "the test user cannot bind-mount in a user namespace"
fi
ok "clean once it is free" u "$KBUILD_NS" -q --state-dir "$STATE" -C "$CO" clean
is "... removes both" "$(ls "$CO/_output" 2>/dev/null | wc -l) $(test -d "$CS" && echo state)" "0 "

[ "$_tap_failed" = 0 ]
