#!/bin/sh
# What the build sandbox must not get from whoever started kbuild-ns or
# from its image, and what must not outlive kbuild-ns
# (kbuild-ns-sandbox(7)):
#
#   - inherited file descriptors (a directory fd as `exec 7<DIR` leaves
#     one, a file, a pipe, make's jobserver pipe): inside only 0, 1 and 2
#     are open, and the host directory is not reachable through
#     /proc/self/fd/7; as root, also init's own fds from the host;
#   - an image whose /proc, /dev, /sys, /tmp or /etc/resolv.conf is a
#     symlink to a host path (absolute, or ../../.. out of the root): the
#     run fails with one line naming the path or succeeds, and either way
#     nothing of the host is bound inside: a canary host directory stays
#     untouched and its secret unreadable inside;
#   - kbuild-ns SIGKILLed between the fork of a child (the sync sandbox,
#     init) and the child's PR_SET_PDEATHSIG: the child ends without doing
#     its work and the checkout's lock is free.  The window is held open by
#     the test hook KBUILD_NS_TEST_PDEATH_WAIT (runtime/child.h), so no
#     timing is assumed.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/run-lib.sh"

# The canary lives outside /tmp where it can: the sandbox mounts a tmpfs
# on /tmp, which would hide an image's path to it (and a bind made there)
# from the checks inside.
CANARY=$(mktemp -d /var/tmp/kbuild-ns-canary.XXXXXX 2>/dev/null) || CANARY=$WORK/canary
trap 'cleanup; [ "$CANARY" = "$WORK/canary" ] || rm -rf "$CANARY"' EXIT
SECRET=canary-secret-$$
mkdir -p "$CANARY/sys" && echo "$SECRET" >"$CANARY/secret" && echo "$SECRET" >"$CANARY/sys/secret" &&
	chmod 755 "$CANARY" && user_own "$CANARY" ||
	{ echo "Bail out! cannot make the canary $CANARY"; exit 1; }
canary_snap() { (cd "$CANARY" && find . -exec stat -c '%n %a %s %Y' {} + | sort); }
canary_before=$(canary_snap)

HOSTILE="proc-abs proc-rel dev-abs dev-rel sys-abs tmp-rel resolv.conf-abs"
plan $((14 + 2 * 7))

# ---- inherited file descriptors ------------------------------------------------------------
ok "warm-up run (prepares the data sandbox)" sb -- true

# The redirections are on the command that starts kbuild-ns: setpriv, env
# and timeout pass them on.  (sh numbers fds up to 9.)
inherit3() { echo | { sb -- /probe fds 7<"$CANARY" 8<"$CANARY/secret" 9<&0; }; }
ok "a directory fd 7, a file fd 8, a pipe fd 9 inherited: only 0 1 2 inside" inherit3
as_user sh -c 'ls /proc/self/fd/' 7<"$CANARY" 8<"$CANARY/secret" >"$WORK/host-fds" 2>&1
is "(the same redirections do give a host command fds 7 and 8)" "$(grep -cx '[78]' "$WORK/host-fds")" 2
out=$(sb -- cat /proc/self/fd/7/secret 7<"$CANARY" 2>&1)
rc=$?
is "the host directory is not reachable through /proc/self/fd/7 (cat fails)" "$rc" 1
is "... and the secret does not come through" "$(printf '%s\n' "$out" | grep -c "$SECRET")" 0

# make's jobserver: a recipe marked + gets the jobserver pipe without
# close-on-exec, as a build started from a Makefile (or make -j of a CI
# job) would.
MK=$WORK/mk
as_user mkdir "$MK"
cat >"$WORK/Makefile" <<EOF
all:
	+@echo "\$\$MAKEFLAGS" >mf; ls /proc/self/fd >host-fds; \\
	timeout -k 5 $RUN_TIMEOUT "$KBUILD_NS" -q --state-dir "$STATE" -C "$CO" run --image "$IMG" \\
		--bind "$WORK/probe:/probe:ro" -- /probe fds </dev/null >inside-fds 2>&1
EOF
if ! command -v make >/dev/null 2>&1; then
	skip_one "make's jobserver pipe does not reach the build" "make is not installed"
	skip_one "... (the recipe had the jobserver's fds)" "make is not installed"
else
	# GNU make 4.4 defaults to a named fifo; the pipe is what older
	# makes (and the jobserver protocol's other clients) pass.
	style=
	make --help 2>/dev/null | grep -q jobserver-style && style=--jobserver-style=pipe
	# shellcheck disable=SC2086 # empty or one word
	as_user make -s -j2 $style -C "$MK" -f "$WORK/Makefile" >"$WORK/make.out" 2>&1
	echo "# recipe's MAKEFLAGS: $(cat "$MK/mf" 2>/dev/null); its fds: $(tr '\n' ' ' <"$MK/host-fds" 2>/dev/null)"
	is "make's jobserver pipe does not reach the build" "$(cat "$MK/inside-fds" 2>&1)" "ok: only 0 1 2"
	n=0
	for f in $(sed -n 's/.*--jobserver-auth=\([0-9]*\),\([0-9]*\).*/\1 \2/p' "$MK/mf" 2>/dev/null); do
		grep -qx "$f" "$MK/host-fds" && n=$((n + 1))
	done
	is "... (the recipe had the jobserver's fds)" "$n" 2
fi

# children PID: the pids of PID's children.
children() { cat /proc/"$1"/task/*/children 2>/dev/null; }
# wait_child PID: until PID has a child; prints it.
wait_child() {
	_i=0
	while [ "$_i" -lt 600 ]; do
		_c=$(children "$1")
		[ -n "$_c" ] && { echo "$_c" | awk '{ print $1 }'; return 0; }
		[ -e "/proc/$1" ] || return 1
		sleep 0.1; _i=$((_i + 1))
	done
	return 1
}
# gone PID: PID has ended (or is a zombie left to its new parent).
gone() { ! [ -e "/proc/$1" ] || [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" = Z ]; }
# wait_gone PID: until PID has ended, up to a minute (a bound on a hang,
# not a timing assertion).
wait_gone() {
	_i=0
	while ! gone "$1" && [ "$_i" -lt 600 ]; do sleep 0.1; _i=$((_i + 1)); done
	gone "$1"
}

# Init's own fds, seen from the host: only root may look (init is not
# dumpable).
if [ "$(id -u)" = 0 ]; then
	( kb_exec -C "$CO" run --image "$IMG" -- sleep 30 </dev/null >/dev/null 2>&1 7<"$CANARY" ) &
	kpid=$!
	init=$(wait_child "$kpid")
	# The sync sandbox's child comes and goes first; init is the child
	# that has a child of its own (the command).
	i=0
	while [ "$i" -lt 600 ] && [ "$(cat "/proc/$init/comm" 2>/dev/null)" != kbuild-ns-init ]; do
		sleep 0.1; i=$((i + 1)); init=$(children "$kpid" | awk '{ print $1 }')
	done
	wait_child "$init" >/dev/null
	fds=$(ls "/proc/$init/fd" 2>&1 | sort -n | tr '\n' ' ')
	kill -TERM "$kpid" 2>/dev/null; wait "$kpid" 2>/dev/null
	case " $fds" in
	*" 7 "*) is "init keeps none of kbuild-ns's fds (fd 7 is gone)" "$fds" "no fd 7" ;;
	*) is "init keeps none of kbuild-ns's fds (fd 7 is gone)" "" "" ;;
	esac
else
	skip_one "init keeps none of kbuild-ns's fds (fd 7 is gone)" "only root can see init's fds"
fi

# ---- kbuild-ns killed before its child asked to die with it ----------------------------------
GATE=$WORK/gate
# start_gated ARGS: `kbuild-ns ARGS` in the background with its first
# child held in the window; sets KPID and CHILD, then kills kbuild-ns and
# opens the gate.
start_gated() {
	rm -f "$GATE"
	( KBUILD_NS_TEST_PDEATH_WAIT=$GATE; export KBUILD_NS_TEST_PDEATH_WAIT
	  kb_exec -C "$CO" "$@" </dev/null >"$WORK/gated.out" 2>&1 ) &
	KPID=$!
	CHILD=$(wait_child "$KPID")
	kill -KILL "$KPID" 2>/dev/null
	wait "$KPID" 2>/dev/null
	touch "$GATE"
}

# The sync sandbox: a new file in the checkout must not reach the snapshot.
as_user sh -c 'echo new >"$1/after-the-kill"' sh "$CO"
start_gated run --image "$IMG" -- true
if wait_gone "$CHILD"; then
	is "sync-in killed in the window: the sync child ends" ok ok
else
	is "sync-in killed in the window: the sync child ends" "pid $CHILD still running" ok
	kill -KILL "$CHILD" 2>/dev/null
fi
is "... without syncing (the new file is not in the snapshot)" "$(find "$STATE" -name after-the-kill | wc -l)" 0
fails "... and the checkout's lock is free (--no-wait)" 0 sb --no-wait -- true

# Init (with --source bind there is no sync child): it must not run the
# command, which would write to the checkout.
start_gated run --image "$IMG" --source bind -- sh -c 'echo ran >/src/orphan-ran; sleep 300'
if wait_gone "$CHILD"; then
	is "run killed in the window: init ends" ok ok
else
	is "run killed in the window: init ends" "pid $CHILD still running" ok
	kill -KILL "$CHILD" 2>/dev/null
fi
is "... without running the command (no /src/orphan-ran)" "$(ls "$CO/orphan-ran" 2>/dev/null)" ""
fails "... and the checkout's lock is free (--no-wait)" 0 sb --no-wait -- true

# ---- images whose mount points are symlinks out of the root ---------------------------------
# Each image is the busybox root with one of /proc /dev /sys /tmp replaced
# by a symlink to the canary's host path, absolute or as enough ../ to
# climb out of any root; the image also holds a directory of that path,
# so the symlink resolves inside the root too.  /etc/resolv.conf (bound
# with --network host) points at the canary's secret file.
CO2=$WORK/co2
rel=
i=0
while [ "$i" -lt 30 ]; do rel=../$rel; i=$((i + 1)); done
rel=$rel${CANARY#/}
# shellcheck disable=SC2086 # a word list
as_user sh -ec '
	w=$1 canary=$2 rel=$3; shift 3
	mkdir "$w/co2"
	for name; do
		r=$w/h-$name
		cp -a "$w/rootfs" "$r"
		mkdir -p "$r$canary"
		d=${name%-*}
		case $name in *-abs) t=$canary ;; *) t=$rel ;; esac
		[ "$d" != resolv.conf ] || { d=etc/resolv.conf t=$canary/secret; }
		rm -rf "${r:?}/$d"
		ln -s "$t" "$r/$d"
		tar -C "$r" --numeric-owner --owner=0 --group=0 -cf "$w/h-$name.tar" .
	done' sh "$WORK" "$CANARY" "$rel" $HOSTILE >"$WORK/h.log" 2>&1 || {
	sed 's/^/# /' "$WORK/h.log"; echo "Bail out! making the hostile images failed"; exit 1; }

# Inside: read the secret wherever a bind of the canary could have put it,
# and try to write there.
LOOK="cat /etc/resolv.conf/secret 2>/dev/null; for f in /proc/sys /dev /sys /tmp $CANARY; do
	cat \$f/secret \$f/sys/secret 2>/dev/null; touch \$f/pwned \$f/sys/pwned 2>/dev/null
done; true"
for name in $HOSTILE; do
	d=${name%-*} net=
	[ "$d" != resolv.conf ] || d=etc/resolv.conf net="--network host"
	kb image import "$WORK/h-$name.tar" --name "hostile-$name:1" >"$WORK/h.log" 2>&1 ||
		sed 's/^/# import: /' "$WORK/h.log"
	# shellcheck disable=SC2086 # $net: empty or two words
	out=$(as_user timeout -k 5 "$RUN_TIMEOUT" "$KBUILD_NS" -q --state-dir "$STATE" -C "$CO2" \
		run --image "hostile-$name:1" $net -- sh -c "$LOOK" 2>"$WORK/h.err" </dev/null)
	rc=$?
	echo "# $name: exit $rc: $(head -c 300 "$WORK/h.err" | tr '\n' ' ')"
	res="exit $rc"
	if [ "$rc" = 0 ]; then
		res=ok
	elif [ "$rc" = 125 ] && [ "$(wc -l <"$WORK/h.err")" = 1 ] && grep -q "^kbuild-ns: .*/$d" "$WORK/h.err"; then
		res=ok
	fi
	is "/$d a symlink to the host's canary (${name#*-}): runs, or fails with one line naming /$d" "$res" ok
	after=$(canary_snap)
	[ "$after" = "$canary_before" ] && after=unchanged
	is "... nothing of the host inside: no secret read ($(printf '%s\n' "$out" | grep -c "$SECRET")), canary $after" \
		"$(printf '%s\n' "$out" | grep -c "$SECRET") $after" "0 unchanged"
done
