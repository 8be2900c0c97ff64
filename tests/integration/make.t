#!/bin/sh
# `kbuild-ns make` end to end on a real Go tree: examples/kube-mini, a
# small Kubernetes-shaped checkout, built with Go in the kube-cross-like
# image of images/kube-cross/build.sh, as the test user.  make-lib.sh
# builds (or reuses from its cache) and imports the image and makes the
# checkout $KCO, a git repository on master, one commit past the tag v1.0.0.
#
# The checks follow the acceptance list of issue 4 (kubernetes-build.md §8)
# in an order that keeps the cold builds few (each costs ~30 s, most of it
# compiling Go's standard library into the snapshot's GOCACHE):
#   make under umask 077: binaries on the host, 0755, owned by the user,
#     stamped with the host's `git describe`; a second make compiles nothing
#     and is quick (its time is logged); a third one copies nothing in, not even .git/index; -dirty after a change; a change to one command relinks
#     that binary only; generated files come back, _output/dockerized/go
#     does not; host deletions and host _output/ markers; KUBE_RUN_COPY_OUTPUT=n
#     then copy-output; a failing make copies nothing and returns 2; the
#     environment allow-list; make cross for two platforms; a branch switch
#     (separate, cold state; back is warm); a new cross VERSION with a
#     SIGKILL during the data-sandbox init it causes (one cold build serves
#     both: the old state is removed, the interrupted init is redone, the
#     next make succeeds and compiles); two makes on one checkout; clean
#     with read-only trees; SIGINT (Ctrl-C) during a run.
# The sandbox uses the default id mapping (a subordinate range when the
# test user has one), as a user's build would.
#
# Time: the image build the first time in a build tree (~2 min, see
# make-lib.sh), then about 1.5-2.5 min: three cold builds (the first make,
# make cross for two more platforms, the make after the version change).
. "$SRCDIR/tests/integration/lib.sh"
need python3
PYTHON=python3
. "$SRCDIR/tests/integration/make-lib.sh"

plan 50

umask 022
# The host environment must not steer the checks.
unset KUBE_RUN_COPY_OUTPUT KUBE_VERBOSE KBUILD_NS_IMAGE KUBE_GIT_VERSION_FILE FOO GOLDFLAGS GOFLAGS \
	KUBE_BUILD_PLATFORMS KUBE_FASTBUILD GOGCFLAGS SOURCE_DATE_EPOCH KBUILD_NS_IDMAP

# km ARGS...: kbuild-ns ARGS on $KCO as the test user, status lines on,
# stdin /dev/null, bounded by timeout.  kmq: the same with -q.
km() { as_user timeout -k 5 "$MAKE_TIMEOUT" "$KBUILD_NS" --state-dir "$STATE" -C "$KCO" "$@" </dev/null; }
kmq() { as_user timeout -k 5 "$MAKE_TIMEOUT" "$KBUILD_NS" -q --state-dir "$STATE" -C "$KCO" "$@" </dev/null; }
# kmx ARGS...: kmq with GOFLAGS=-x, so that go logs every compiler run.
kmx() { as_user env GOFLAGS=-x timeout -k 5 "$MAKE_TIMEOUT" "$KBUILD_NS" -q --state-dir "$STATE" -C "$KCO" "$@" </dev/null; }
# kbg ARGS...: exec kbuild-ns ARGS on $KCO as the test user, status lines on,
# with SIGINT at its default disposition (a background job of a script
# inherits it ignored; Ctrl-C reaches a foreground job that does not), so
# that `( kbg ... ) &` makes $! kbuild-ns itself.
kbg() {
	as_user_exec "$PYTHON" -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execvp(sys.argv[1], sys.argv[1:])' "$KBUILD_NS" --state-dir "$STATE" -C "$KCO" "$@"
}
# watchdog PID SECS: SIGKILL PID after SECS unless the watchdog is killed.
watchdog() { ( sleep "$2"; kill -KILL "$1" 2>/dev/null ) >/dev/null 2>&1 & echo $!; }
# ncompile FILE: how many compiler runs a GOFLAGS=-x build logged.
ncompile() { grep -c '/compile ' "$1" 2>/dev/null; }
# bins: the files under the host's _output/dockerized/bin, relative, sorted.
bins() { (cd "$KCO/_output/dockerized/bin" 2>/dev/null && find . -type f | sed 's|^\./||' | sort | paste -sd' '); }
# mtime NAME: the modification time (to the nanosecond) of a host linux/amd64 binary.
mtime() { stat -c %y "$KCO/_output/dockerized/bin/linux/amd64/$1" 2>&1; }
# version BINARY [FIELD]: --version (or one field of --version=json) of a host binary.
version() {
	if [ $# = 1 ]; then
		as_user "$KCO/_output/dockerized/bin/linux/amd64/$1" --version 2>&1
	else
		as_user "$KCO/_output/dockerized/bin/linux/amd64/$1" --version=json 2>&1 |
			"$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2" 2>&1
	fi
}
# want_version: what hack/lib/version.sh makes of the host's git: `git
# describe` with v1.0.0-N-gSHA as v1.0.0-N+SHA, "-dirty" for a dirty tree.
want_version() {
	_d=$(hgit describe --tags --match 'v*' --abbrev=14 HEAD 2>&1 |
		sed 's/^\(v[0-9.]*\)-\([0-9][0-9]*\)-g\([0-9a-f]*\)$/\1-\2+\3/')
	[ -z "$(hgit status --porcelain)" ] || _d=$_d-dirty
	echo "$_d"
}
# stl FILE: the status lines of FILE, without their `+++ [MMDD HH:MM:SS] ' prefix.
stl() { sed -n 's/^+++ \[[0-9]\{4\} [0-9:]\{8\}\] //p' "$1"; }
has() { grep -qF -- "$2" "$1"; }
BIN=_output/dockerized/bin
NATIVE="kube-mini-apiserver kube-mini-proxy kubectl-mini"
NATIVE_BINS="linux/amd64/kube-mini-apiserver linux/amd64/kube-mini-proxy linux/amd64/kubectl-mini"

# =============================================================================
# The first make, under umask 077
# =============================================================================
t0=$(ms)
as_user sh -c 'umask 077; cd "$1" && shift && exec "$@"' sh "$KCO" \
	env GOFLAGS=-x timeout -k 5 "$MAKE_TIMEOUT" "$KBUILD_NS" --state-dir "$STATE" make \
	</dev/null >"$WORK/make1.out" 2>&1
rc=$?
echo "# first make (cold): $(($(ms) - t0)) ms, $(ncompile "$WORK/make1.out") compiler runs"
[ "$rc" = 0 ] || tail -30 "$WORK/make1.out" | sed 's/^/# /'
is "make (umask 077, cold) exits 0" "$rc" 0
is "make leaves the three binaries in $BIN/linux/amd64 on the host" "$(bins)" "$NATIVE_BINS"
is "... mode 0755 although the umask is 077" \
	"$(cd "$KCO/$BIN/linux/amd64" 2>/dev/null && stat -c %a $NATIVE | paste -sd' ')" "755 755 755"
is "... owned by the test user" \
	"$(cd "$KCO/$BIN/linux/amd64" 2>/dev/null && stat -c %u:%g $NATIVE | sort -u)" "$TEST_UID:$TEST_GID"
want=$(want_version)
echo "# host: git describe -> $want"
is "the binaries run and print the version stamped from the host's git describe" \
	"$(for b in $NATIVE; do version "$b"; done | paste -sd' ')" \
	"kube-mini-apiserver $want kube-mini-proxy $want kubectl-mini $want"
is "... with gitCommit = HEAD and gitTreeState clean" \
	"$(version kubectl-mini gitCommit) $(version kubectl-mini gitTreeState)" "$(hgit rev-parse HEAD) clean"

# =============================================================================
# A second make compiles nothing (its time is logged, not checked)
# =============================================================================
t0=$(ms)
kmx make >"$WORK/make2.out" 2>&1 </dev/null
rc=$?
t=$(($(ms) - t0))
echo "# second make (warm, no change): $t ms"
n1=$(ncompile "$WORK/make1.out"); n2=$(ncompile "$WORK/make2.out")
[ "$rc" = 0 ] || tail -20 "$WORK/make2.out" | sed 's/^/# /'
is "a second make (GOFLAGS=-x) runs no compiler (first make: $n1 runs)" \
	"$rc $([ "$n1" -gt 0 ] && echo cold-compiled) $n2" "0 cold-compiled 0"

# Nothing changed since: sync-in copies nothing, not even .git/index, which
# the version step's `git status` in the snapshot rewrote at every build
# (the copies have other inodes, ctimes and owners than the index records;
# issue 14).  KUBE_VERBOSE=6 lists each change sync-in makes.
as_user env KUBE_VERBOSE=6 timeout -k 5 "$MAKE_TIMEOUT" "$KBUILD_NS" -q --state-dir "$STATE" -C "$KCO" make \
	</dev/null >"$WORK/make2b.out" 2>&1
rc=$?
grep -E '^(>|cd|\*deleting|\.) ' "$WORK/make2b.out" | sed 's/^/# changed: /'
is "a third make, nothing changed: exit 0, .git/index not copied in again" \
	"$rc $(grep -c '^> \.git/index$' "$WORK/make2b.out")" "0 0"

# =============================================================================
# A change: -dirty; a second change to one command relinks only that one
# =============================================================================
hu 'sed -i "s/how often to sync the rules[^\"]*/how often to sync the rules (edit 1)/" "$1/cmd/kube-mini-proxy/main.go"' "$KCO"
kmq make >"$WORK/make3.out" 2>&1
rc=$?
want=$(want_version)
[ "$rc" = 0 ] || tail -20 "$WORK/make3.out" | sed 's/^/# /'
is "after a change, make stamps the binaries $want, gitTreeState dirty" \
	"$rc $(version kubectl-mini) $(version kubectl-mini gitTreeState)" "0 kubectl-mini $want dirty"

before_a=$(mtime kube-mini-apiserver); before_c=$(mtime kubectl-mini); before_p=$(mtime kube-mini-proxy)
hu 'sed -i "s/(edit 1)/(edit 2)/" "$1/cmd/kube-mini-proxy/main.go"' "$KCO"
kmq make >"$WORK/make4.out" 2>&1
rc=$?
[ "$rc" = 0 ] || tail -20 "$WORK/make4.out" | sed 's/^/# /'
grep -qa 'sync the rules (edit 2)' "$KCO/$BIN/linux/amd64/kube-mini-proxy" && p=new || p=old
is "a second change to cmd/kube-mini-proxy: the host's kube-mini-proxy is the new one, with a new mtime" \
	"$rc $p $([ "$(mtime kube-mini-proxy)" != "$before_p" ] && echo newer)" "0 new newer"
is "... and kube-mini-apiserver and kubectl-mini keep their mtimes" \
	"$(mtime kube-mini-apiserver) | $(mtime kubectl-mini)" "$before_a | $before_c"

# =============================================================================
# Generated files come back; the Go caches do not
# =============================================================================
GEN=pkg/apis/core/v1/zz_generated.deepcopy.go
hgit checkout -q -- cmd/kube-mini-proxy/main.go
hu 'rm "$1/$2"' "$KCO" "$GEN"
kmq make >"$WORK/make5.out" 2>&1
rc=$?
[ "$rc" = 0 ] || tail -20 "$WORK/make5.out" | sed 's/^/# /'
is "$GEN deleted on the host: make regenerates it and it comes back, as committed" \
	"$rc $(test -f "$KCO/$GEN" && echo present) $(flat "$(hgit status --porcelain)")" "0 present "
is "_output/dockerized/go (GOPATH, GOCACHE) does not come back to the host" \
	"$(ls -A "$KCO/_output/dockerized" 2>&1 | paste -sd' ')" "bin"
fails "... while the snapshot has it (kbuild-ns run -- test -d _output/dockerized/go/cache/build)" 0 \
	kmq run -- test -d _output/dockerized/go/cache/build
# Copy-out takes sync-in's listing of each directory the build left
# alone (src/build/sync-seen.h) instead of reading it again; a generated
# file rewritten in place in such a directory still comes back.
out=$(km -v run -- sh -c "echo '// rewritten in place' >>$GEN" 2>&1 | grep 'copy-out:')
is "$GEN rewritten in place comes back; directories as sync-in left them are not listed again ($(flat "$out"))" \
	"$(tail -n 1 "$KCO/$GEN") $(echo "$out" | grep -c 'directories not read again: as the sync-in left them')" \
	"// rewritten in place 1"
hgit checkout -q -- "$GEN"
# kbuild-ns copy-output alone takes the last sync-in's listings, kept in
# the state (snapshot.seen), the same way.
kmq run --no-copy-output -- sh -c "echo '// again, in place' >>$GEN" >/dev/null 2>&1
out=$(km -v copy-output 2>&1 | grep 'copy-out:')
is "copy-output alone: $GEN comes back; directories as the last sync-in left them are not listed again ($(flat "$out"))" \
	"$(tail -n 1 "$KCO/$GEN") $(echo "$out" | grep -c 'directories not read again: as the last sync-in left them')" \
	"// again, in place 1"
hgit checkout -q -- "$GEN"

# =============================================================================
# Sync-in: host deletions; the host's _output/ and _tmp/ stay out
# =============================================================================
hu 'echo x >"$1/host-file"; mkdir -p "$1/_output" "$1/_tmp"; echo x >"$1/_output/host-marker"; echo x >"$1/_tmp/host-marker"' "$KCO"
out=$(kmq run -- sh -c 'test -e host-file && echo seen' 2>&1)
hu 'rm "$1/host-file"' "$KCO"
fails "a file deleted on the host (seen inside before: $(flat "$out")) is gone inside next time" 0 \
	kmq run -- test ! -e host-file
fails "markers in the host's _output/ and _tmp/ are not visible inside" 0 \
	kmq run -- sh -c 'test ! -e _output/host-marker && test ! -e _tmp/host-marker'
hu 'rm -f "$1/_output/host-marker"; rm -rf "$1/_tmp"' "$KCO"

# =============================================================================
# KUBE_RUN_COPY_OUTPUT=n, then copy-output
# =============================================================================
hu 'rm -rf "$1/_output/dockerized/bin"' "$KCO"
as_user env KUBE_RUN_COPY_OUTPUT=n timeout -k 5 "$MAKE_TIMEOUT" "$KBUILD_NS" --state-dir "$STATE" -C "$KCO" make \
	</dev/null >"$WORK/make6.out" 2>&1
rc=$?
stl "$WORK/make6.out" | sed 's/^/# status: /'
has "$WORK/make6.out" "Output from this build will NOT be copied back. Set KUBE_RUN_COPY_OUTPUT=y to enable." && l=says-not || l=no-line
is "KUBE_RUN_COPY_OUTPUT=n make: exit 0, the status line says so, nothing copied back" \
	"$rc $l [$(bins)]" "0 says-not []"
fails "a later kbuild-ns copy-output" 0 kmq copy-output
is "... brings the binaries back, 0755" \
	"$(bins) $(cd "$KCO/$BIN/linux/amd64" 2>/dev/null && stat -c %a $NATIVE | paste -sd' ')" "$NATIVE_BINS 755 755 755"

# =============================================================================
# A failing make copies nothing and returns make's status
# =============================================================================
hu 'rm -rf "$1/_output/dockerized/bin"' "$KCO"
fails "kbuild-ns make no-such-target returns make's status 2" 2 km make no-such-target
cp "$WORK/.out" "$WORK/make7.out"
has "$WORK/make7.out" "Copying output back" && l=copy-line || l=
is "... and copies nothing back" "${l}[$(bins)]" "[]"

# =============================================================================
# The environment allow-list, seen by make's recipes
# =============================================================================
out=$(as_user env FOO=bar GOLDFLAGS= KUBE_BUILD_PLATFORMS="linux/arm64 windows/amd64" \
	timeout -k 5 "$MAKE_TIMEOUT" "$KBUILD_NS" -q --state-dir "$STATE" -C "$KCO" \
	make -- --eval='kbns-env: ; env' kbns-env </dev/null 2>&1)
is "env: FOO=bar does not reach the build" "$(printf '%s\n' "$out" | grep '^FOO=')" ""
is "env: GOLDFLAGS set but empty does" "$(printf '%s\n' "$out" | grep '^GOLDFLAGS')" "GOLDFLAGS="
is "env: KUBE_BUILD_PLATFORMS does" "$(printf '%s\n' "$out" | grep '^KUBE_BUILD_PLATFORMS=')" \
	"KUBE_BUILD_PLATFORMS=linux/arm64 windows/amd64"

# =============================================================================
# make cross for two platforms
# =============================================================================
kmq copy-output >/dev/null 2>&1
before=$(mtime kubectl-mini)
t0=$(ms)
as_user env KUBE_BUILD_PLATFORMS="linux/arm64 windows/amd64" timeout -k 5 "$MAKE_TIMEOUT" "$KBUILD_NS" \
	--state-dir "$STATE" -C "$KCO" make cross </dev/null >"$WORK/cross.out" 2>&1
rc=$?
echo "# make cross (linux/arm64, windows/amd64): $(($(ms) - t0)) ms"
[ "$rc" = 0 ] || tail -20 "$WORK/cross.out" | sed 's/^/# /'
is "KUBE_BUILD_PLATFORMS=\"linux/arm64 windows/amd64\" kbuild-ns make cross exits 0" "$rc" 0
is "... server binaries for linux/arm64 only, the client for both (the groups' intersection)" "$(bins)" \
	"$NATIVE_BINS linux/arm64/kube-mini-apiserver linux/arm64/kube-mini-proxy linux/arm64/kubectl-mini windows/amd64/kubectl-mini.exe"
if command -v file >/dev/null 2>&1; then
	got=$(cd "$KCO/$BIN" 2>/dev/null && for f in linux/arm64/kube-mini-apiserver linux/arm64/kube-mini-proxy \
		linux/arm64/kubectl-mini windows/amd64/kubectl-mini.exe; do
		case $(file -b "$f") in
		"ELF 64-bit LSB executable, ARM aarch64"*) echo "$f arm64" ;;
		"PE32+ executable"*"x86-64"*) echo "$f win64" ;;
		*) echo "$f: $(file -b "$f")" ;;
		esac
	done | paste -sd' ')
	is "... and they are ARM aarch64 ELF and x86-64 PE32+ executables (file)" "$got" \
		"linux/arm64/kube-mini-apiserver arm64 linux/arm64/kube-mini-proxy arm64 linux/arm64/kubectl-mini arm64 windows/amd64/kubectl-mini.exe win64"
else
	_tap_n=$((_tap_n + 1)); echo "ok $_tap_n - ... binary formats # SKIP file(1) is not installed"
fi
is "... and the linux/amd64 binaries are not touched" "$(mtime kubectl-mini)" "$before"

# =============================================================================
# A branch switch: a state of its own, cold; back: warm
# =============================================================================
master_sd=$(jget state_dir)
hgit switch -q -c other
other_sd=$(jget state_dir)
fails "on branch other, a run works" 0 kmq run -- true
is "... in a state dir of its own (master's stays)" \
	"$([ "$other_sd" != "$master_sd" ] && echo other-dir) $(test -d "$master_sd" && echo master-kept) $(test -d "$other_sd" && echo exists)" \
	"other-dir master-kept exists"
fails "... which starts cold: no _output/dockerized in its snapshot" 0 kmq run -- test ! -e _output/dockerized
hgit switch -q master
kmx make >"$WORK/make8.out" 2>&1
rc=$?
is "back on master: make is warm (GOFLAGS=-x: no compiler run) in master's state dir" \
	"$rc $(ncompile "$WORK/make8.out") $(jget state_dir)" "0 0 $master_sd"

# =============================================================================
# A new build/build-image/cross/VERSION, with a SIGKILL during the init it
# causes
# =============================================================================
old_sd=$master_sd
NEWTAG=v9.9.9-${KUBE_TAG#*-}
hu 'echo "$2" >"$1/build/build-image/cross/VERSION"' "$KCO" "$NEWTAG"
hgit commit -qam "cross $NEWTAG"
t0=$(ms)
ok "the same archive imported again as kube-cross:$NEWTAG" kb image import "$KUBE_ARCHIVE" --name "kube-cross:$NEWTAG"
echo "# import as kube-cross:$NEWTAG: $(($(ms) - t0)) ms"

# The data-sandbox init takes 30-100 ms here: a shell polling the log could
# miss it, so a small Python parent reads kbuild-ns's stderr and sends
# SIGKILL 5 ms after the "Preparing the data sandbox" line.
as_user timeout -k 5 120 "$PYTHON" -c '
import os, signal, subprocess, sys, time
p = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
killed = "not-seen"
for line in iter(p.stderr.readline, b""):
    if killed == "not-seen" and b"Preparing the data sandbox" in line:
        time.sleep(0.005)
        os.kill(p.pid, signal.SIGKILL)
        killed = "seen"
    sys.stdout.write(line.decode(errors="replace"))
    sys.stdout.flush()
rc = p.wait()
print("%s %d" % (killed, 128 - rc if rc < 0 else rc))
' "$KBUILD_NS" --state-dir "$STATE" -C "$KCO" make >"$WORK/kill.out" 2>&1
new_sd=$(jget state_dir)
stl "$WORK/kill.out" | sed 's/^/# killed run: /'
has "$WORK/kill.out" "Syncing sources" && late=too-late || late=in-init
is "SIGKILL 5 ms after \"Preparing the data sandbox\": killed (137) during init, the new state is not ready" \
	"$(tail -1 "$WORK/kill.out") $late $(jget ready)" "seen 137 in-init false"
is "the new version removed the old state dir, not the host's binaries" \
	"$(test -e "$old_sd" && echo old-dir-left) $([ "$new_sd" != "$old_sd" ] && echo new-dir) $(test -x "$KCO/$BIN/linux/amd64/kubectl-mini" && echo bin-kept)" \
	" new-dir bin-kept"
t0=$(ms)
as_user env GOFLAGS=-x timeout -k 5 "$MAKE_TIMEOUT" "$KBUILD_NS" --state-dir "$STATE" -C "$KCO" make \
	</dev/null >"$WORK/make9.out" 2>&1
rc=$?
echo "# make after the kill (cold): $(($(ms) - t0)) ms, $(ncompile "$WORK/make9.out") compiler runs"
[ "$rc" = 0 ] || tail -20 "$WORK/make9.out" | sed 's/^/# /'
has "$WORK/make9.out" "Preparing the data sandbox" && p=prepared || p=not-prepared
is "the next make prepares the data sandbox again and succeeds; the state is ready and initialised" \
	"$rc $p $(jget ready) $(kmq run -- sh -c 'test -e /kube-build-image && git config --system user.name' 2>&1)" \
	"0 prepared true kube-build-image"
[ "$(ncompile "$WORK/make9.out")" -gt 0 ]; _result $? "... and it is a cold build (it compiles)"

# =============================================================================
# Two makes on one checkout
# =============================================================================
# The first make holds the checkout until the test opens its gate, a file
# in a bound host directory (up to two minutes): no timing is assumed.
as_user mkdir -p "$WORK/sig"
hold='kbns-hold: ; rm -f _output/kbns-first-done; i=0; while [ ! -e /sig/go ] && [ $$i -lt 1200 ]; do sleep 0.1; i=$$((i + 1)); done; touch _output/kbns-first-done'
check='kbns-check: ; test -e _output/kbns-first-done'
( kbg make --bind "$WORK/sig:/sig" -- --eval="$hold" kbns-hold ) >"$WORK/first.out" 2>&1 </dev/null &
fpid=$!
wd=$(watchdog "$fpid" 300)
wait_file "$WORK/first.out" "Running build command" 120
fails "while a make runs, a second make --no-wait fails with 125" 125 km make --no-wait -- --eval="$check" kbns-check
ok "... at once (the first make is still held)" kill -0 "$fpid"
( km make -- --eval="$check" kbns-check >"$WORK/second.out" 2>&1; echo "rc=$?" >>"$WORK/second.out" ) &
spid=$!
wait_file "$WORK/second.out" "waiting for another kbuild-ns" 120
as_user touch "$WORK/sig/go"
wait "$spid"
has "$WORK/second.out" "waiting for another kbuild-ns" && w=waited || w=no-message
is "a second make prints \"waiting for another kbuild-ns\", then runs after the first ended" \
	"$w $(grep -x 'rc=[0-9]*' "$WORK/second.out")" "waited rc=0"
wait "$fpid"; rc=$?
kill "$wd" 2>/dev/null
is "the first make succeeded" "$rc" 0

# =============================================================================
# clean, with read-only trees in the host's _output and in the snapshot
# =============================================================================
hu 'mkdir -p "$1/_output/ro/sub" && echo x >"$1/_output/ro/sub/f" && chmod -R a-w "$1/_output/ro"' "$KCO"
fails "a read-only tree in the snapshot's _output/dockerized/go/cache/mod, as Go leaves its module cache" 0 \
	kmq run -- sh -c 'mkdir -p _output/dockerized/go/cache/mod/example.com/m@v1 &&
	echo x >_output/dockerized/go/cache/mod/example.com/m@v1/f && chmod -R a-w _output/dockerized/go/cache/mod &&
	test "$(stat -c %a _output/dockerized/go/cache/mod/example.com/m@v1)" = 555'
key=$(jget key)
fails "kbuild-ns clean as the user (read-only trees in _output and in the snapshot's Go module cache)" 0 kmq clean
is "... removes the host's _output/" "$(test -e "$KCO/_output" && echo left)" ""
is "... and every state dir of the checkout's key, but not the other branch's" \
	"$(for d in "$STATE/projects/$key-"*; do [ -e "$d" ] && echo "${d##*/}"; done)|$(test -d "$other_sd" && echo other-kept)" \
	"|other-kept"

# =============================================================================
# Ctrl-C
# =============================================================================
n=$((300 + $$ % 600))
( kbg run -- sh -c "sleep $n & exec sleep $n" ) >"$WORK/int.out" 2>&1 </dev/null &
kpid=$!
wd=$(watchdog "$kpid" 60)
i=0
while [ "$(pgrep -u "$TEST_UID" -fx "sleep $n" | wc -l)" -lt 2 ] && [ "$i" -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
before=$(pgrep -u "$TEST_UID" -fx "sleep $n" | wc -l)
kill -INT "$kpid" 2>/dev/null
wait "$kpid"; rc=$?
kill "$wd" 2>/dev/null
i=0
while pgrep -u "$TEST_UID" -fx "sleep $n" >/dev/null && [ "$i" -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
left=$(pgrep -u "$TEST_UID" -fx "sleep $n" | paste -sd' ')
[ -n "$left" ] && kill -KILL $left 2>/dev/null
is "SIGINT to kbuild-ns during run -- sh -c 'sleep $n & exec sleep $n': exit 130" "$rc" 130
is "... and no 'sleep $n' of the test user is left (2 were running)" "$before [$left]" "2 []"
fails "... and the next run works (--no-wait)" 0 kmq run --no-wait -- true
