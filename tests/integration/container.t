#!/bin/sh
# kbuild-ns inside containers: each condition a container runtime imposes,
# made here with the kernel's own features, as the test user.
#
# - /proc masked as Docker and containerd mask it (/dev/null bound over
#   /proc/keys, /proc/kcore, /proc/timer_list ..., tmpfs over /proc/acpi
#   ..., /proc/sys and friends read-only, /sys read-only), in an outer
#   user and mount namespace (unshare -Urm): the kernel then refuses a
#   fresh procfs in a new user+pid namespace ("mount too revealing"), and
#   run falls back to the outer /proc bound read-only, says so at -v, and
#   doctor names the mask and the fix;
# - the state directory on an overlayfs mount (a container's root file
#   system): run works on a copied root and one warning says where to put
#   the state instead (container-ovl.t tests that mode in full);
# - a seccomp filter refusing namespaces and mounts (tests/helpers/
#   no-userns), and user.max_user_namespaces=0 in a child user namespace:
#   exit 125 and a line naming the cause and the fix (and doctor names the
#   filter);
# - no subordinate ids: -v states the single-id map's consequence.
#
# On the busybox image of run-lib.sh.
. "$SRCDIR/tests/integration/lib.sh"
need python3 unshare
. "$SRCDIR/tests/integration/run-lib.sh"
. "$SRCDIR/tests/integration/container-lib.sh"

NO_USERNS=$(dirname "$PROBE")/no-userns
[ -x "$NO_USERNS" ] || skip_all "$NO_USERNS is missing (make check builds it)"
cp "$NO_USERNS" "$WORK/no-userns" && chmod 755 "$WORK/no-userns" && user_own "$WORK/no-userns"

plan 25

# mkb [-v] -- CMD...: kbuild-ns run on $CO and $IMG in the masked namespace
# (quiet unless -v).
mkb() {
	_o=-q
	[ "$1" != -v ] || { _o=-v; shift; }
	masked timeout -k 5 "$RUN_TIMEOUT" "$KBUILD_NS" $_o --state-dir "$STATE" -C "$CO" run --image "$IMG" \
		--bind "$WORK/probe:/probe:ro" "$@" </dev/null
}
# keep: save what the last ok/fails command printed ($WORK/last.out).
keep() { cp "$WORK/.out" "$WORK/last.out"; }
# status_is N CMD...: CMD exits with N.
status_is() { _w=$1; shift; "$@"; [ $? = "$_w" ]; }
# ms_in MASK: milliseconds of one `run -- true`, timed inside an outer user
# and mount namespace, masked (MASK=1) or not.
ms_in() {
	as_user unshare -Urm sh -c '[ "$1" = 0 ] || . "$2"; shift 2; a=$(date +%s%N); "$@" >/dev/null 2>&1
		b=$(date +%s%N); echo $(((b - a) / 1000000))' sh "$1" "$WORK/mask.sh" "$KBUILD_NS" -q \
		--state-dir "$STATE" -C "$CO" run --image "$IMG" -- true </dev/null
}

# ---- a masked /proc ------------------------------------------------------------
if ! masked true 2>"$WORK/mask.err"; then
	sed 's/^/# /' "$WORK/mask.err"
	skip_all "cannot mask /proc in a user and mount namespace here"
fi
if masked unshare -Urmpf --mount-proc true 2>/dev/null; then
	masked_refused=no
else
	masked_refused=yes
fi
is "the masks reproduce the kernel's refusal of a fresh proc" "$masked_refused" yes

ok "run -- true in a masked /proc: exit 0" mkb -v -- true
keep
ok "-v says /proc is the outer one, bound read-only, and why" grep -q \
	'^+++ .*/proc: .*masked.*outer /proc.*read-only.*no pid namespace' "$WORK/last.out"
ok "the command gets the pids of the /proc it sees (\$\$ is /proc/self)" \
	mkb -- sh -c 'read -r pid rest </proc/self/stat; test "$pid" = "$$"'
ok "the masks stay: /proc/keys is still empty" mkb -- sh -c 'test ! -s /proc/keys'
ok "/proc is read-only inside" mkb -- /probe ro /proc/sys/kernel/hostname
ok "/sys is read-only inside" mkb -- /probe ro /sys/kernel
ok "the exit status comes through" status_is 7 mkb -- sh -c 'exit 7'
# A daemon the command leaves behind (its own session, out of its process
# group) dies with the sandbox, as it would with the end of pid 1.
ok "a process left running in its own session does not outlive the run" \
	mkb -- sh -c 'setsid sleep 4711 </dev/null >/dev/null 2>&1 & sleep 0.2; exit 0'
sleep 0.2
ok "... no 'sleep 4711' is left" sh -c '! pgrep -f "slee[p] 4711" >/dev/null'
# kbuild-ns itself killed: init takes its parent's death as SIGPWR and
# kills the command's whole tree, grandchildren included.
ok "kbuild-ns SIGKILLed in a masked /proc: exit by SIGKILL" masked sh -c '"$@" </dev/null >/dev/null 2>&1 & p=$!
	sleep 1; kill -KILL $p; wait $p; test $? = 137' sh "$KBUILD_NS" -q --state-dir "$STATE" -C "$CO" run --image "$IMG" -- sh -c 'sleep 4712; :'
sleep 0.5
ok "... the command's child does not outlive it" sh -c '! pgrep -f "^sleep 4712" >/dev/null'
pkill_stray() { for p in $(pgrep -f "^sleep 471[12]"); do kill "$p"; done; }
pkill_stray 2>/dev/null

# Start time of `run -- true`, normal and proc-bound (one run each, after
# a warm-up, both in an outer namespace): printed, not asserted.
ms_in 0 >/dev/null; ms_in 1 >/dev/null
echo "# run -- true: $(ms_in 0) ms normal, $(ms_in 1) ms with /proc masked"

ok "doctor in a masked /proc: no PROBLEM (exit 0)" masked "$KBUILD_NS" --state-dir "$STATE" doctor
keep
ok "doctor names the mask" grep -q '^note  *proc: .*masked.*/proc/' "$WORK/last.out"
ok "doctor gives the docker, podman and Kubernetes fixes" sh -c 'grep -q "systempaths=unconfined" "$1" &&
	grep -q "unmask=ALL" "$1" && grep -q "procMount: Unmasked" "$1"' sh "$WORK/last.out"

# ---- the state directory on overlayfs --------------------------------------------
hu 'mkdir -p "$1/ovl/l" "$1/ovl/u" "$1/ovl/w" "$1/ovl/m"' "$WORK"
# onovl CMD...: CMD as the test user with $WORK/ovl/m an overlayfs mount.
onovl() {
	as_user unshare -Urm sh -c 'mount -t overlay overlay -o "lowerdir=$1/l,upperdir=$1/u,workdir=$1/w" "$1/m" &&
		shift && exec "$@"' sh "$WORK/ovl" "$@"
}
if onovl true 2>"$WORK/ovl.err"; then
	ok "run with the state directory on overlayfs: exit 0 (a copied root)" onovl sh -c \
		't=$1 i=$2 c=$3; shift 3; "$@" image import "$t" --name "$i" && "$@" -C "$c" run --image "$i" -- true' sh "$WORK/rootfs.tar" "$IMG" "$CO" \
		"$KBUILD_NS" -q --state-dir "$WORK/ovl/m/state"
	keep
	ok "one warning says so and where to put the state instead" sh -c 'test "$(grep -c "^kbuild-ns:" "$1")" = 1 &&
		grep -q "^kbuild-ns: warning: state directory .*overlayfs.*copy of the image.*--state-dir.*volume.*emptyDir" "$1"' \
		sh "$WORK/last.out"
else
	sed 's/^/# /' "$WORK/ovl.err"
	skip_one "run with the state directory on overlayfs" "no overlayfs mount in a user namespace here"
	skip_one "one line says so" "no overlayfs"
fi

# ---- seccomp and user.max_user_namespaces ------------------------------------
if as_user "$WORK/no-userns" unshare -Ur true 2>/dev/null; then
	skip_one "a seccomp filter refusing namespaces: exit 125" "the filter did not take"
	skip_one "... names seccomp and the fix" "the filter did not take"
	skip_one "doctor under the filter" "the filter did not take"
	skip_one "... names it" "the filter did not take"
else
	fails "a seccomp filter refusing namespaces: exit 125" 125 as_user "$WORK/no-userns" \
		"$KBUILD_NS" --state-dir "$STATE" -C "$CO" run --image "$IMG" -- true
	keep
	ok "... names seccomp and the fix" sh -c 'grep -q "^  .*seccomp filter" "$1" &&
		grep -q "seccomp=unconfined" "$1" && grep -q "seccompProfile" "$1"' sh "$WORK/last.out"
	fails "doctor under the filter: exit 125" 125 as_user "$WORK/no-userns" "$KBUILD_NS" --state-dir "$STATE" doctor
	keep
	ok "... PROBLEM userns names the seccomp filter" grep -q '^PROBLEM  userns: .*refused by a seccomp filter' \
		"$WORK/last.out"
fi
# maxns CMD...: CMD as the test user in a user namespace that allows none nested.
maxns() { as_user unshare -Ur sh -c 'echo 0 >/proc/sys/user/max_user_namespaces && exec "$@"' sh "$@"; }
if maxns true 2>/dev/null; then
	fails "user.max_user_namespaces=0: exit 125" 125 maxns "$KBUILD_NS" --state-dir "$STATE" -C "$CO" \
		run --image "$IMG" -- true
	keep
	ok "... names user.max_user_namespaces and the fix" sh -c 'grep -q "^  .*user.max_user_namespaces is 0" "$1" &&
		grep -q "max_user_namespaces" "$1"' sh "$WORK/last.out"
else
	skip_one "user.max_user_namespaces=0: exit 125" "cannot set it in a child user namespace"
	skip_one "... names it" "cannot set it"
fi

# ---- no subordinate ids -----------------------------------------------------
ok "-v states the single-id map's consequence" as_user "$KBUILD_NS" -v --state-dir "$STATE" -C "$CO" \
	run --image "$IMG" -- true
keep
ok "... (one id inside: chown to other ids fails)" grep -q '^+++ .*ids: single mapping.*chown' "$WORK/last.out"
