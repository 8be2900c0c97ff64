#!/bin/sh
# `kbuild-ns run` and `shell`: what the sandbox is made of, checked from
# inside by the static probe (tests/helpers/probe.c), as the test user.
# The image is a busybox-static root filesystem, the checkout a generic
# directory (workdir /src).  Terminal sessions are in run-tty.t.
#
# Covered: pid 1 is kbuild-ns-init and no host process is visible; the
# single-id maps (root inside, and --user host), and the subuid-range map; bounding and effective
# capabilities; no_new_privs and seccomp filter mode; keyctl,
# unshare(CLONE_NEWUSER), mount and ptrace(PTRACE_ATTACH, 1) refused;
# /proc/sys and /sys read-only; setuid binaries give nothing; the host's
# home is not there; --network none (only lo, a host port on 127.0.0.1 out
# of reach while --network host and the host reach it); exit statuses;
# SIGTERM forwarding; orphan reaping; nothing of the sandbox outlives it
# (also when kbuild-ns is SIGKILLed); no terminal without one; the data
# layer persists while /tmp does not, and checkout writes show on the host;
# two runs on one checkout serialise (--no-wait: 125); the environment
# allow-list; `kbuild-ns shell` reading commands from a here-document.
. "$SRCDIR/tests/integration/lib.sh"
need python3
. "$SRCDIR/tests/integration/run-lib.sh"

plan 67

# ok_probe DESC [RUN-OPTS] -- PROBE-ARGS...: the probe's check holds inside.
ok_probe() { _d=$1; shift; ok "$_d" sb "$@"; }

# ---- processes ---------------------------------------------------------------
ok_probe "the probe is not pid 1; pid 1 is kbuild-ns-init" -- /probe pid1 kbuild-ns-init
ok_probe "no host process is visible (only init and the probe)" -- /probe no-host-procs 2

# ---- ids ----------------------------------------------------------------------
out=$(sb -- /probe maps 2>&1)
is "root mode: uid_map 0 UID 1, gid_map 0 GID 1, setgroups deny, ids 0:0" "$(flat "$out")" \
	"uid_map: 0 $TEST_UID 1 | gid_map: 0 $TEST_GID 1 | setgroups: deny | ok: uid 0 gid 0"
out=$(sb --user host -- /probe maps 2>&1)
is "--user host: uid_map UID UID 1, gid_map GID GID 1, ids UID:GID" "$(flat "$out")" \
	"uid_map: $TEST_UID $TEST_UID 1 | gid_map: $TEST_GID $TEST_GID 1 | setgroups: deny | ok: uid $TEST_UID gid $TEST_GID"

# With a range in /etc/subuid and /etc/subgid and the newuidmap helpers,
# root inside is the user and ids 1..N are the range; an id chowned inside
# lands on the range's id outside.  Own checkout: a data layer keeps the
# mapping it was made with.
tname=$(id -nu "$TEST_UID" 2>/dev/null)
range=$(awk -F: -v n="$tname" -v u="$TEST_UID" '($1 == n || $1 == u) && $3 > 0 {print $2, $3; exit}' /etc/subuid 2>/dev/null)
if [ -n "$range" ] && [ -n "$tname" ] && grep -q "^$tname:\|^$TEST_UID:" /etc/subgid 2>/dev/null &&
	command -v newuidmap >/dev/null && command -v newgidmap >/dev/null; then
	set -- $range
	cnt=$2; [ "$cnt" -gt 65536 ] && cnt=65536
	mkdir -p "$WORK/co-range" && chown "$TEST_UID:$TEST_GID" "$WORK/co-range" 2>/dev/null
	out=$(as_user env -u KBUILD_NS_IDMAP timeout -k 5 "$RUN_TIMEOUT" "$KBUILD_NS" -q --state-dir "$STATE" \
		-C "$WORK/co-range" run --image "$IMG" -- cat /proc/self/uid_map </dev/null 2>&1)
	is "subuid range: uid_map maps 0 to the user and 1.. to the range" "$(echo $out)" "0 $TEST_UID 1 1 $1 $cnt"
	as_user env -u KBUILD_NS_IDMAP "$KBUILD_NS" -q --state-dir "$STATE" -C "$WORK/co-range" run --image "$IMG" \
		-- sh -c 'echo x > /owned && chown 1000:1000 /owned' </dev/null >/dev/null 2>&1
	owner=$(stat -c %u "$STATE"/projects/*/upper/owned 2>/dev/null)
	is "subuid range: a file chowned to 1000 inside belongs to range start + 999 outside" "$owner" "$(($1 + 999))"
	# A directory of another id in the snapshot, private to it: the next
	# sync-in removes it (the host lacks it) with the range mapped, and
	# clean removes the whole state though the caller cannot.
	as_user env -u KBUILD_NS_IDMAP "$KBUILD_NS" -q --state-dir "$STATE" -C "$WORK/co-range" run --image "$IMG" \
		-- sh -c 'mkdir -p d && echo a >d/f && chown -R 1000:1000 d && chmod 700 d' </dev/null >/dev/null 2>&1
	out=$(as_user env -u KBUILD_NS_IDMAP "$KBUILD_NS" -q --state-dir "$STATE" -C "$WORK/co-range" run --image "$IMG" \
		-- sh -c 'test ! -e d && echo gone' </dev/null 2>&1)
	is "subuid range: a snapshot directory of another id is removed by the next sync-in" "$out" gone
	# The sync sandboxes join the run's user namespace (runtime/runns.h),
	# range and all: an output of another id, readable by it alone, comes
	# back at the first try, not after a second pass with the range mapped.
	out=$(as_user env -u KBUILD_NS_IDMAP "$KBUILD_NS" -v --state-dir "$STATE" -C "$WORK/co-range" run --image "$IMG" \
		-- sh -c 'mkdir -p _output/bin && echo b >_output/bin/tool && chown -R 1000:1000 _output &&
			  chmod 600 _output/bin/tool' </dev/null 2>&1 | grep 'copy-out:')
	is "subuid range: an output of another id is copied out in the run's user namespace ($(flat "$out"))" \
		"$(cat "$WORK/co-range/_output/bin/tool" 2>/dev/null):$(echo "$out" | grep -c 'subordinate ids')" "b:0"
	as_user rm -rf "$WORK/co-range/_output"
	# A new version (here: the checkout becomes Kubernetes-shaped) drops
	# the old state, files of other ids included.
	as_user env -u KBUILD_NS_IDMAP "$KBUILD_NS" -q --state-dir "$STATE" -C "$WORK/co-range" run --image "$IMG" \
		-- sh -c 'mkdir -p /var/x && echo a >/var/x/f && chown -R 1000:1000 /var/x && chmod 700 /var/x' \
		</dev/null >/dev/null 2>&1
	old=$(ls -d "$STATE"/projects/*-s1-generic 2>/dev/null | while read -r d; do
		[ -d "$d/upper/var/x" ] && echo "$d"; done)
	as_user sh -c 'mkdir -p "$1/build/build-image/cross" && echo v0.0.1-range >"$1/build/build-image/cross/VERSION"' \
		sh "$WORK/co-range"
	as_user env -u KBUILD_NS_IDMAP "$KBUILD_NS" -q --state-dir "$STATE" -C "$WORK/co-range" run --image "$IMG" \
		-- true </dev/null >/dev/null 2>&1
	is "subuid range: a version change removes the old state with files of other ids" \
		"$(test -n "$old" && test ! -e "$old" && echo removed)" removed
	as_user env -u KBUILD_NS_IDMAP "$KBUILD_NS" -q --state-dir "$STATE" -C "$WORK/co-range" run --image "$IMG" \
		-- sh -c 'mkdir -p /var/x && echo a >/var/x/f && chown -R 1000:1000 /var/x && chmod 700 /var/x' \
		</dev/null >/dev/null 2>&1
	sd=$(as_user "$KBUILD_NS" --state-dir "$STATE" -C "$WORK/co-range" status --json </dev/null |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["state_dir"])')
	as_user env -u KBUILD_NS_IDMAP "$KBUILD_NS" -q --state-dir "$STATE" -C "$WORK/co-range" clean </dev/null >"$WORK/clean.out" 2>&1
	rc=$?
	is "subuid range: clean removes a data layer holding files of other ids ($(flat "$(cat "$WORK/clean.out")"))" \
		"$rc:$(test -d "$sd/upper/var/x" && echo still-there):${sd:+known}" "0::known"
else
	skip_one "subuid range: a snapshot directory of another id is removed" "no subuid range or newuidmap for the test user"
	skip_one "subuid range: an output of another id is copied out in the run's user namespace" \
		"no subuid range or newuidmap for the test user"
	skip_one "subuid range: a version change removes the old state" "no subuid range or newuidmap for the test user"
	skip_one "subuid range: clean removes a data layer holding files of other ids" "no subuid range or newuidmap for the test user"
	skip_one "subuid range: uid_map maps 0 to the user and 1.. to the range" "no subuid range or newuidmap for the test user"
	skip_one "subuid range: a file chowned to 1000 inside" "no subuid range or newuidmap for the test user"
fi

# ---- capabilities, no_new_privs, seccomp ----------------------------------------
ok_probe "root mode: CapBnd and CapEff are a80405fb (Docker's set minus NET_RAW)" \
	-- /probe caps 00000000a80405fb 00000000a80405fb
ok_probe "--user host: CapBnd and CapEff are empty" --user host -- /probe caps 0 0
ok_probe "NoNewPrivs: 1" -- /probe nnp
ok_probe "Seccomp: 2 (filter mode)" -- /probe seccomp
ok_probe "--user host: NoNewPrivs: 1 and Seccomp: 2" --user host -- sh -c '/probe nnp && /probe seccomp'
ok_probe "keyctl is refused (EPERM)" -- /probe keyctl EPERM
ok_probe "unshare(CLONE_NEWUSER) is refused (EPERM)" -- /probe unshare-user EPERM
ok_probe "mount is refused (EPERM)" -- /probe mount EPERM
ok_probe "ptrace(PTRACE_ATTACH, 1) is refused" -- /probe ptrace1
ok_probe "an unknown syscall and clone3 give ENOSYS" -- /probe enosys

# ---- filesystems ----------------------------------------------------------------
ok_probe "/proc/sys is read-only" -- /probe ro /proc/sys
ok_probe "/sys is read-only" -- /probe ro /sys

# A setuid+setgid copy of the probe owned by an id that is not mapped in the
# sandbox: by real root when we are root, else by a subordinate id of the
# test user (chowned in a user namespace mapping it).
mkdir "$WORK/suid" && chmod 755 "$WORK/suid"
suid_how=
if [ "$(id -u)" = 0 ]; then
	cp "$PROBE" "$WORK/suid/probe" && chown 0:0 "$WORK/suid/probe" && chmod 6755 "$WORK/suid/probe" &&
		suid_how="owned by root"
else
	_me=$(id -un)
	_su=$(awk -F: -v u="$_me" -v i="$(id -u)" '($1 == u || $1 == i) && $3 > 0 { print $2; exit }' /etc/subuid 2>/dev/null)
	_sg=$(awk -F: -v u="$_me" -v i="$(id -u)" '($1 == u || $1 == i) && $3 > 0 { print $2; exit }' /etc/subgid 2>/dev/null)
	if [ -n "$_su" ] && [ -n "$_sg" ] && unshare --map-root-user --map-users="$_su,1,1" --map-groups="$_sg,1,1" \
		sh -c 'cp "$1" "$2" && chown 1:1 "$2" && chmod 6755 "$2"' sh "$PROBE" "$WORK/suid/probe" 2>"$WORK/.suid"; then
		suid_how="owned by subordinate id $_su"
	else
		sed 's/^/# /' "$WORK/.suid" 2>/dev/null
	fi
fi
if [ -n "$suid_how" ]; then
	echo "# setuid copy of the probe: $(ls -ln "$WORK/suid/probe" | awk '{ print $1, $3, $4 }') ($suid_how)"
	ok_probe "--user host: a setuid copy ($suid_how) gains no id and no capability" \
		--user host --bind "$WORK/suid:/suid:ro" -- /probe setuid /suid/probe
	ok_probe "root mode: the setuid copy ($suid_how) changes no id, adds no capability" \
		--bind "$WORK/suid:/suid:ro" -- /probe setuid /suid/probe
else
	skip_one "--user host: a setuid copy gains no id and no capability" "no root and no subordinate ids to own the copy"
	skip_one "root mode: the setuid copy changes no id, adds no capability" "no root and no subordinate ids to own the copy"
fi

# The host's home (the test user's HOME, $WORK/home) is nowhere inside.
marker=host-home-marker-$$
as_user sh -c 'echo secret >"$1/$2"' sh "$WORK/home" "$marker"
out=$(sb -- sh -c 'echo "HOME=$HOME"; test -e "$1" && echo "$1 exists"; ls -A /root
	find / \( -path /proc -o -path /sys \) -prune -o -name "$2" -print' sh "$WORK/home" "$marker" 2>&1)
is "nothing of the host's home is visible" "$(flat "$out")" "HOME=/root"

# ---- network ----------------------------------------------------------------------
# A TCP listener on the host's 127.0.0.1, for at most 60 s.
"$PYTHON" -c '
import os, socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("%d\n" % s.getsockname()[1])
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
s.settimeout(0.5)
end = time.time() + 60
while time.time() < end:
    try:
        c, _ = s.accept()
        c.close()
    except socket.timeout:
        pass
' "$WORK/port" >/dev/null 2>&1 &
LPID=$!
trap 'kill "$LPID" 2>/dev/null; cleanup' EXIT
wait_file "$WORK/port" '^[0-9]' 10
PORT=$(cat "$WORK/port" 2>/dev/null)
ok "the host reaches its listener on 127.0.0.1:$PORT" "$PYTHON" -c '
import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3).close()' "$PORT"
ok_probe "--network none: lo is the only interface" --network none -- /probe net-lo-only
ok_probe "--network none: connecting to the host's 127.0.0.1:$PORT fails" \
	--network none -- /probe connect 127.0.0.1 "$PORT"
fails "--network host: the same port is reachable (probe connect says so)" 1 \
	sb --network host -- /probe connect 127.0.0.1 "$PORT"
ok_probe "no --network: lo is the only interface" -- /probe net-lo-only
kill "$LPID" 2>/dev/null; wait "$LPID" 2>/dev/null

# ---- exit statuses -------------------------------------------------------------------
as_user sh -c 'printf "#!/bin/sh\necho hi\n" >"$1/not-executable"; chmod 644 "$1/not-executable"' sh "$CO"
fails "exit status 0" 0 sb -- true
fails "exit status 7" 7 sb -- sh -c 'exit 7'
fails "a bad --image: 125" 125 sb --image no-such-image:0 -- true
out=$(last_output)
is "... with one line kbuild-ns: run: ..." "$(printf '%s\n' "$out" | grep -c '^kbuild-ns: run: ')" 1
fails "a non-executable file: 126" 126 sb -- /src/not-executable
fails "a missing command: 127" 127 sb -- /no/such/command
fails "a command not on PATH: 127" 127 sb -- no-such-command
fails "killed by SIGKILL: 128+9" 137 sb -- sh -c 'kill -9 $$'

# ---- signals, reaping, leftovers --------------------------------------------------------
( kb_exec -C "$CO" run --image "$IMG" --bind "$WORK/probe:/probe:ro" -- /probe signal 30 ) \
	>"$WORK/sig.out" 2>&1 </dev/null &
kpid=$!
wait_file "$WORK/sig.out" '^waiting' 20
is "the background job is kbuild-ns itself" "$(cat "/proc/$kpid/comm" 2>/dev/null)" kbuild-ns
kill -TERM "$kpid" 2>/dev/null
wait "$kpid"; rc=$?
is "SIGTERM to kbuild-ns: it exits 143" "$rc" 143
is "... and the inner command saw SIGTERM" "$(flat "$(cat "$WORK/sig.out")")" "waiting | got SIGTERM"

ok_probe "an orphaned grandchild's zombie is reaped" -- /probe reap

# survivors N: pids of processes running `sleep N` (none expected).
survivors() {
	for _f in /proc/[0-9]*/cmdline; do
		[ "$(tr '\0' ' ' 2>/dev/null <"$_f")" = "sleep $1 " ] && { _p=${_f#/proc/}; echo "${_p%/cmdline}"; }
	done
}
n1=$((100000 + $$ % 50000 * 2)) n2=$((100001 + $$ % 50000 * 2))
fails "a run leaving 'sleep $n1 &' behind ends" 0 sb -- sh -c "sleep $n1 & echo started"
left=$(survivors "$n1")
is "... and no process of the sandbox survives it" "$left" ""
[ -n "$left" ] && kill -KILL $left 2>/dev/null

( kb_exec -C "$CO" run --image "$IMG" --bind "$WORK/probe:/probe:ro" -- \
	sh -c "sleep $n2 & exec /probe signal 30" ) >"$WORK/kill.out" 2>&1 </dev/null &
kpid=$!
wait_file "$WORK/kill.out" '^waiting' 20
before=$(survivors "$n2")
kill -KILL "$kpid" 2>/dev/null; wait "$kpid" 2>/dev/null
i=0; left=$(survivors "$n2")
# (The kernel ends them as it tears the pid namespace down; a loaded
# machine may take a while, hence a generous bound.)
while [ -n "$left" ] && [ "$i" -lt 300 ]; do sleep 0.1; i=$((i + 1)); left=$(survivors "$n2"); done
if [ -z "$before" ]; then
	is "SIGKILL to kbuild-ns: the sandbox's sleep was running before" "not found" "running"
else
	is "SIGKILL to kbuild-ns: no process of the sandbox survives (30 s bound)" "$left" ""
fi
[ -n "$left" ] && kill -KILL $left 2>/dev/null
fails "... and the checkout is usable again at once (--no-wait)" 0 sb --no-wait -- true

# ---- terminal ------------------------------------------------------------------------------
fails "no terminal: test -t 0 is false inside" 1 sb -- sh -c 'test -t 0'
fails "no terminal: probe istty says so" 1 sb -- /probe istty

# ---- the data layer and the checkout ---------------------------------------------------------
# --source bind: the checkout itself, read-write (the snapshot is snapshot.t's).
fails "run 1 writes /persist, /tmp/scratch and /src/from-inside (--source bind)" 0 \
	sb --source bind -- sh -c 'echo persisted >/persist && echo gone >/tmp/scratch && echo written-inside >/src/from-inside'
out=$(sb -- cat /persist 2>&1)
is "run 2 reads /persist" "$out" persisted
fails "run 2 has a fresh /tmp" 1 sb -- test -e /tmp/scratch
is "the checkout file written inside is on the host" "$(cat "$CO/from-inside" 2>&1)" written-inside
is "... owned by the test user" "$(stat -c %u:%g "$CO/from-inside" 2>&1)" "$TEST_UID:$TEST_GID"

# ---- two runs on one checkout ----------------------------------------------------------------
# The first run holds the checkout until the test opens its gate (a file
# in the bound checkout; up to a minute): no timing is assumed.
( kb_exec -C "$CO" run --image "$IMG" --source bind -- sh -c 'touch /src/.a-start
	i=0; while [ ! -e /src/.a-go ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done; touch /src/.a-end' ) \
	>"$WORK/first.out" 2>&1 </dev/null &
fpid=$!
i=0; while [ ! -e "$CO/.a-start" ] && [ "$i" -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
fails "while another run holds the checkout, --no-wait fails with 125" 125 sb --no-wait -- true
( as_user timeout -k 5 "$RUN_TIMEOUT" "$KBUILD_NS" --state-dir "$STATE" -C "$CO" run --image "$IMG" \
	--source bind -- sh -c 'test -e /src/.a-end && echo after-the-first' </dev/null >"$WORK/second.out" 2>&1
  echo "status $?" >>"$WORK/second.out" ) &
spid=$!
wait_file "$WORK/second.out" "waiting for another kbuild-ns using" 60; r=$?
as_user touch "$CO/.a-go"
wait "$spid"
out=$(cat "$WORK/second.out")
[ "$r" = 0 ] || echo "# $(flat "$out")"
_result $r "a second run prints the waiting message"
is "... and runs only after the first ended ($(printf '%s\n' "$out" | grep '^status'))" \
	"$(printf '%s\n' "$out" | grep -x after-the-first)" after-the-first
wait "$fpid"
is "the first run succeeded" "$?" 0
rm -f "$CO/.a-start" "$CO/.a-go" "$CO/.a-end"

# ---- environment ------------------------------------------------------------------------------
# A clean host environment plus FOO, GOFLAGS, GOLDFLAGS (set but empty).
envrun() {
	as_user env -i HOME="$WORK/home" PATH="$PATH" KBUILD_NS_IDMAP=single "$@" timeout -k 5 "$RUN_TIMEOUT" \
		"$KBUILD_NS" -q --state-dir "$STATE" -C "$CO" run --image "$IMG" -e BAR=baz -- env </dev/null 2>&1
}
out=$(envrun FOO=bar GOFLAGS=-x GOLDFLAGS=)
printf '%s\n' "$out" | sed 's/^/# inside: /'
is "env: FOO (not allowed) does not pass" "$(printf '%s\n' "$out" | grep -c '^FOO=')" 0
is "env: GOFLAGS=-x passes" "$(printf '%s\n' "$out" | grep -x 'GOFLAGS=-x')" GOFLAGS=-x
is "env: GOLDFLAGS set but empty passes" "$(printf '%s\n' "$out" | grep -x 'GOLDFLAGS=')" GOLDFLAGS=
is "env: -e BAR=baz passes" "$(printf '%s\n' "$out" | grep -x 'BAR=baz')" BAR=baz
is "env: HOME=/root and HOSTNAME is the host's" \
	"$(printf '%s\n' "$out" | grep -E '^(HOME|HOSTNAME)=' | sort | paste -sd' ')" "HOME=/root HOSTNAME=$(hostname)"
is "env: nothing else" "$(printf '%s\n' "$out" | sed 's/=.*//' | sort | paste -sd' ')" \
	"BAR GOFLAGS GOLDFLAGS HOME HOSTNAME PATH"
out=$(envrun GOFLAGS=-x)
is "env: GOLDFLAGS unset stays unset" "$(printf '%s\n' "$out" | grep -c '^GOLDFLAGS')" 0

# ---- shell ----------------------------------------------------------------------------------------
out=$(as_user timeout -k 5 "$RUN_TIMEOUT" "$KBUILD_NS" -q --state-dir "$STATE" -C "$CO" shell --image "$IMG" 2>&1 <<'EOF'
echo "sum=$((6 * 7))"
pwd
cat /persist
exit 3
EOF
)
rc=$?
is "kbuild-ns shell runs the commands of a here-document" "$(flat "$out")" "sum=42 | /src | persisted"
is "... and exits with the shell's status" "$rc" 3

# ---- the copy-out's sandbox, made while the build runs ------------------------------------------
# A child of kbuild-ns beside the build's init waits with the trees
# cloned (build.c, copy_out_ahead); no process of the user may reach it
# (not dumpable: its /proc/PID/fd is root's).  Killed while it waits, the
# copy-out is made afresh at the end, and the output comes back all the same.
mkdir -p "$WORK/co-ahead" && chown "$TEST_UID:$TEST_GID" "$WORK/co-ahead" 2>/dev/null
( as_user_exec timeout -k 5 "$RUN_TIMEOUT" "$KBUILD_NS" -q --state-dir "$STATE" -C "$WORK/co-ahead" run \
	--image "$IMG" -- sh -c 'mkdir -p _output/bin && echo a >_output/bin/t && touch started && sleep 3' ) \
	</dev/null >"$WORK/ahead.out" 2>&1 &
pid=$!
waiting=""
for _ in $(seq 100); do
	if ls "$STATE"/projects/*/snapshot/started >/dev/null 2>&1; then
		for k in $(descendants "$pid"); do
			[ "$(cat "/proc/$k/comm" 2>/dev/null)" = kbuild-ns ] && waiting=$k
		done
		break
	fi
	sleep 0.1
done
fds=$(as_user ls "/proc/$waiting/fd" >/dev/null 2>&1 && echo readable || echo refused)
[ -n "$waiting" ] && kill -KILL "$waiting"
wait "$pid"
rc=$?
is "run: the copy-out's sandbox waits beside the build, unreachable; killed, the copy-out is made again" \
	"${waiting:+found}:$fds:$rc:$(cat "$WORK/co-ahead/_output/bin/t" 2>/dev/null)" "found:refused:0:a"
