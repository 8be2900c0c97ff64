#!/bin/sh
# The sync sandbox against a hostile build and a hostile host (issue 14):
#   - a kernel without openat2 (a seccomp filter that answers ENOSYS,
#     tests/helpers/no-openat2): a symlink brought back under
#     _output/dockerized/bin/ and then a directory of that name cannot take
#     copy-out outside the checkout; sync-in and copy-out still work;
#   - very deep trees (1100 levels, RLIMIT_NOFILE 1024) made by a build or
#     an image layer: the next run, clean and image rm work;
#   - SIGKILL during copy-out and during sync-in of a big file: only whole
#     files, no temporary name; stale temporary names are not sources;
#   - a build that rewrites a source at the same size and puts its mtime
#     back: the next sync-in restores the checkout's content;
#   - copy-out into a read-only checkout or _output/dockerized/bin: 125 and
#     one line naming the path, while the deliberate skip stays a warning.
# On the busybox image of run-lib.sh, as the test user.
. "$SRCDIR/tests/integration/lib.sh"
need python3 cmp
. "$SRCDIR/tests/integration/run-lib.sh"

HELPERS=$(dirname "$PROBE")
NO_OPENAT2=$HELPERS/no-openat2
SYNC_TREE=$HELPERS/sync-tree
for h in "$NO_OPENAT2" "$SYNC_TREE"; do
	[ -x "$h" ] || skip_all "$h is missing (make check builds it)"
done

plan 37

unset KUBE_RUN_COPY_OUTPUT KUBE_VERBOSE KBUILD_NS_IMAGE KUBE_GIT_VERSION_FILE

# kr ARGS...: kbuild-ns ARGS as the test user, stdin /dev/null, bounded.
kr() { as_user timeout -k 5 "$RUN_TIMEOUT" "$KBUILD_NS" -q --state-dir "$STATE" "$@" </dev/null; }
# keep: save what the last ok/fails command printed, for later greps.
keep() { cp "$WORK/.out" "$WORK/last.out"; }
# snapdir CHECKOUT-KEY-PREFIX: the snapshot of the only state of a checkout.
snapdir() { for _d in "$STATE"/projects/*/snapshot; do [ -f "$_d/$1" ] && echo "$_d"; done | head -1; }

# A Kubernetes-shaped checkout ($KCO, kube profile, copy-out of
# _output/dockerized/bin/**) on the same rootfs, imported as kube-cross.
TAG=v1.0.0-kbsafety.0
KCO=$WORK/kco
hu 'mkdir -p "$1/build/build-image/cross" && echo "$2" >"$1/build/build-image/cross/VERSION" &&
	echo kco >"$1/README"' "$KCO" "$TAG"
kb image import "$WORK/rootfs.tar" --name "kube-cross:$TAG" >"$WORK/.import" 2>&1 || {
	sed 's/^/# /' "$WORK/.import"; echo "Bail out! importing the rootfs as kube-cross:$TAG failed"; exit 1; }
BIN=_output/dockerized/bin

# =============================================================================
# No openat2 (Security 2)
# =============================================================================
CANARY=$WORK/canary
hu 'mkdir -p "$1/sub"' "$CANARY"
if as_user "$NO_OPENAT2" true 2>"$WORK/no.err"; then
	fails "a build brings back a symlink under $BIN/ pointing outside" 0 \
		kr -C "$KCO" run -- sh -c "mkdir -p $BIN && ln -s '$CANARY' $BIN/x"
	ok "... the symlink is in the checkout" test -L "$KCO/$BIN/x"
	fails "the next build makes a directory of that name (no copy-out yet)" 0 \
		kr -C "$KCO" run --no-copy-output -- sh -c "rm $BIN/x && mkdir -p $BIN/x/sub $BIN/linux &&
			echo evil >$BIN/x/sub/evil && echo exe >$BIN/linux/kubectl && chmod 755 $BIN/linux/kubectl"
	fails "copy-output without openat2: exit 0" 0 as_user "$NO_OPENAT2" "$KBUILD_NS" --state-dir "$STATE" -C "$KCO" copy-output
	keep
	ok "... warns of the skipped entry" grep -q "1 entry skipped" "$WORK/last.out"
	is "... nothing was written outside the checkout" "$(ls -A "$CANARY/sub")" ""
	is "... and the binary came back, 0755" "$(stat -c %a "$KCO/$BIN/linux/kubectl" 2>&1)" 755
	# Sync-in's engine without openat2: more directories than it keeps
	# fds for (512), so most are opened again from the top, by path.
	as_user "$PYTHON" -c '
import os, sys
t, canary = sys.argv[1:]
for i in range(1, 301):
    os.makedirs(f"{t}/src/d{i}/e")
    with open(f"{t}/src/d{i}/e/f", "w") as f:
        f.write(f"{i}\n")
os.symlink("d1", f"{t}/src/link")
os.makedirs(f"{t}/dst/d7/e")
os.symlink(canary, f"{t}/dst/d7/e/f")' "$WORK/tree" "$CANARY"
	fails "sync-in's engine without openat2 mirrors a tree of 600 directories" 0 \
		as_user "$NO_OPENAT2" "$SYNC_TREE" --profile generic "$WORK/tree/src" "$WORK/tree/dst"
	ok "... exactly" diff -r --no-dereference "$WORK/tree/src" "$WORK/tree/dst"
else
	sed 's/^/# /' "$WORK/no.err"
	for t in 1 2 3 4 5 6 7 8 9; do skip_one "no openat2 ($t)" "the seccomp filter cannot be installed here"; done
fi

# =============================================================================
# Very deep trees (Robustness 6), with the usual limit of 1024 fds
# =============================================================================
DEEP='p=$(printf "d/%.0s" $(seq 1100)); mkdir -p "$1/$p" && echo bottom >"$1/$p/f"'
deep_run() { (ulimit -n 1024 && kr "$@"); }
fails "a build makes 1100-level trees in the snapshot, its _output and the data layer" 0 \
	deep_run -C "$CO" run --image "$IMG" -- sh -ec "for r in /src/deep /src/_output/deep /tmp/deep; do
		set -- \$r; $DEEP; done"
fails "... the next run works (sync-in removes the tree)" 0 deep_run -C "$CO" run --image "$IMG" -- test ! -e /src/deep
fails "... clean works" 0 deep_run -C "$CO" clean
is "... and leaves no state of that checkout" "$(ls "$STATE/projects" | grep -c -- '-s1-generic$')" 0
as_user "$PYTHON" -c '
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
    p = "deep"
    for i in range(1101):
        ti = tarfile.TarInfo(p); ti.type = tarfile.DIRTYPE; ti.mode = 0o755; t.addfile(ti)
        p += "/d"
    ti = tarfile.TarInfo(p.rsplit("/", 1)[0] + "/f"); ti.size = 7
    t.addfile(ti, io.BytesIO(b"bottom\n"))' "$WORK/deep.tar"
fails "an image whose layer holds 1100 levels imports" 0 deep_run image import "$WORK/deep.tar" --name deep:1
fails "... image rm removes it" 0 deep_run image rm deep:1
is "... store/tmp is empty" "$(ls -A "$STATE/store/tmp")" ""
is "... only the busybox layers are left" "$(ls "$STATE/store/layers" | wc -l)" 1

# =============================================================================
# SIGKILL during copy-out and sync-in (Robustness 7)
# =============================================================================
SIZE=134217728
# kill_at DELAY ARGS...: kbuild-ns ARGS in the background, SIGKILLed after
# DELAY; returns once it and its children (the sync sandbox) are gone.
kill_at() {
	_d=$1; shift
	( kb_exec "$@" ) >/dev/null 2>&1 </dev/null &
	_p=$!
	sleep "$_d"
	_kids=$(ps -o pid= --ppid "$_p" 2>/dev/null)
	kill -9 "$_p" 2>/dev/null
	wait "$_p" 2>/dev/null
	for _k in $_kids; do
		_i=0
		while kill -0 "$_k" 2>/dev/null && [ $_i -lt 100 ]; do sleep 0.05; _i=$((_i + 1)); done
	done
}
temps() { find "$@" -name '.~kbsync*' 2>/dev/null | head -3 | paste -sd' '; }
DELAYS="0.03 0.06 0.1 0.15 0.25 0.4"

fails "a build makes a 128 MB binary, not copied out" 0 \
	kr -C "$CO" run --image "$IMG" --no-copy-output -- sh -c "mkdir -p _output/bin && truncate -s $SIZE _output/bin/big"
SNAP=$(snapdir _output/bin/big)
bad=0 cut=0 i=0
for d in $DELAYS; do
	# In turn a new file, and one replacing an older one.
	i=$((i + 1))
	hu 'rm -f "$1"; [ "$2" = 1 ] || { echo old >"$1"; touch -d @1000000000 "$1"; }' "$CO/_output/bin/big" $((i % 2))
	kill_at "$d" -C "$CO" copy-output
	t=$(temps "$CO") f=$CO/_output/bin/big
	if cmp -s "$f" "$SNAP/_output/bin/big"; then :
	elif [ ! -e "$f" ] || [ "$(head -c 4 "$f")" = old ]; then cut=$((cut + 1))
	else t="$t partial"; fi
	[ -z "$t" ] || { bad=$((bad + 1)); echo "# killed after $d s: $t"; }
done
echo "# copy-out was interrupted $cut times out of 6"
is "SIGKILL during copy-out, 6 times: only whole files, no temporary name in the checkout" "$bad" 0
fails "... the next copy-output brings the file" 0 kr -C "$CO" copy-output
ok "... whole" cmp -s "$CO/_output/bin/big" "$SNAP/_output/bin/big"

hu 'truncate -s "$2" "$1/bigsrc"' "$CO" "$SIZE"
bad=0 cut=0
for d in $DELAYS; do
	hu 'touch "$1"' "$CO/bigsrc"    # a new mtime: sent again, replacing
	kill_at "$d" -C "$CO" run --image "$IMG" -- true
	t=$(temps "$SNAP") f=$SNAP/bigsrc
	if [ ! -e "$f" ] || [ "$(stat -c %Y "$f")" != "$(stat -c %Y "$CO/bigsrc")" ]; then cut=$((cut + 1)); fi
	[ ! -e "$f" ] || [ "$(stat -c %s "$f")" = "$SIZE" ] || t="$t partial"
	[ -z "$t" ] || { bad=$((bad + 1)); echo "# killed after $d s: $t"; }
done
echo "# sync-in was interrupted $cut times out of 6"
is "SIGKILL during sync-in, 6 times: only whole files, no temporary name in the snapshot" "$bad" 0
hu 'rm -f "$1/bigsrc"; echo half >"$1/.~kbsync.1.0"' "$CO"
fails "a stale temporary name in the checkout is not sent" 0 kr -C "$CO" run --image "$IMG" -- \
	sh -c 'test ! -e .~kbsync.1.0 && echo x >.~kbsync.2.0'
fails "... one in the snapshot is removed by the next sync-in" 0 kr -C "$CO" run --image "$IMG" -- test ! -e .~kbsync.2.0
hu 'rm -f "$1/.~kbsync.1.0" "$1/_output/bin/big"' "$CO"
kr -C "$CO" run --image "$IMG" -- rm -f _output/bin/big >/dev/null 2>&1

# =============================================================================
# A source rewritten with its size and mtime put back (Robustness 8)
# =============================================================================
hu 'echo "a generic checkout" >"$1/README"' "$CO"
fails "a build rewrites README at the same size and puts its mtime back" 0 kr -C "$CO" run --image "$IMG" -- \
	sh -c 'touch -r README /tmp/ref && sed -i s/generic/GENERIC/ README && touch -r /tmp/ref README && grep -q GENERIC README'
is "... the next sync-in restores the checkout's content" "$(kr -C "$CO" run --image "$IMG" -- cat README 2>&1)" \
	"a generic checkout"
as_user "$KBUILD_NS" -v --state-dir "$STATE" -C "$CO" run --image "$IMG" -- true </dev/null >"$WORK/v.out" 2>&1
ok "... and a sync with no change sends nothing (not the files it wrote itself)" \
	grep -q 'sync-in: [0-9]* entr[a-z]* checked, 0 copied' "$WORK/v.out"

# =============================================================================
# Copy-out that cannot write (Robustness 13)
# =============================================================================
fails "kube: a build with a new binary, copy-out works" 0 kr -C "$KCO" run -- sh -c "echo a >$BIN/a"
hu 'chmod 555 "$1"' "$KCO/$BIN"
fails "read-only $BIN/, nothing new to bring: exit 0" 0 kr -C "$KCO" run -- true
fails "read-only $BIN/, a new binary: exit 125" 125 kr -C "$KCO" run -- sh -c "echo b >$BIN/b"
is "... one line naming the directory and the cause" "$(cat "$WORK/.out")" \
	"kbuild-ns: run: copy-out: cannot write in $KCO/$BIN: Permission denied"
fails "... copy-output: exit 125 too" 125 kr -C "$KCO" copy-output
hu 'chmod 755 "$1" && rm -rf "$2/_output" && chmod 555 "$2"' "$KCO/$BIN" "$KCO"
fails "read-only checkout: exit 125" 125 kr -C "$KCO" copy-output
is "... one line naming the checkout and the cause" "$(cat "$WORK/.out")" \
	"kbuild-ns: copy-output: copy-out: cannot write in $KCO: Permission denied"
hu 'chmod 755 "$1" && mkdir -p "$1/_output/dockerized" && echo mine >"$1/$2"' "$KCO" "$BIN"
fails "a file on the host where the build has a directory: exit 0" 0 kr -C "$KCO" copy-output
keep
ok "... a warning says so" grep -q "1 entry skipped" "$WORK/last.out"
is "... and the host's file stays" "$(cat "$KCO/$BIN")" mine

[ "$_tap_failed" = 0 ]
