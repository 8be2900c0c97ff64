# Shared by run.t and run-tty.t (POSIX sh), sourced after lib.sh.
#
# Skips the whole script unless the static probe ($PROBE, made by
# `make tests/helpers/probe`), busybox-static and user namespaces are here.
# Then, as the test user, imports a busybox image (a plain rootfs tarball:
# /bin/busybox and a symlink per applet) as $IMG and makes a generic
# checkout $CO (not Kubernetes-shaped: workdir /src, HOME /root).
#
#   sb [RUN-OPTS] -- CMD...   `kbuild-ns run` on $CO and $IMG with the probe
#                             bound at /probe, as the test user, stdin from
#                             /dev/null, bounded by `timeout`
#   kb_exec ARGS...           exec kbuild-ns (-q, this script's state) as the
#                             test user: `( kb_exec ... ) &` makes $! the
#                             kbuild-ns process itself (setpriv and env exec)
#   todo DESC REASON          a failing check of a known bug: "not ok N - DESC # TODO REASON"
#   skip_one DESC REASON      "ok N - DESC # SKIP REASON"

[ -n "${PROBE:-}" ] || skip_all "PROBE is not set (the static probe: make tests/helpers/probe)"
[ -f "$PROBE" ] && [ -x "$PROBE" ] || skip_all "PROBE=$PROBE is missing (make tests/helpers/probe)"
[ -x /bin/busybox ] || skip_all "/bin/busybox (busybox-static) is not installed"
need timeout tar
need_userns

IMG=runbox:1
CO=$WORK/co
RUN_TIMEOUT=${RUN_TIMEOUT:-60}
umask 022

# The probe, copied where the test user can surely reach it.
cp "$PROBE" "$WORK/probe" && chmod 755 "$WORK/probe" || skip_all "cannot copy $PROBE"
user_own "$WORK/probe"

# The image: a root filesystem tarball, entries owned by root.
as_user sh -ec '
	r=$1/rootfs
	mkdir -p "$r/bin" "$r/etc" "$r/root" "$r/tmp" "$r/proc" "$r/sys" "$r/dev"
	chmod 1777 "$r/tmp"; chmod 700 "$r/root"
	cp /bin/busybox "$r/bin/busybox"
	for a in $(/bin/busybox --list); do
		[ -e "$r/bin/$a" ] || ln -s busybox "$r/bin/$a"
	done
	echo "root:x:0:0:root:/root:/bin/sh" >"$r/etc/passwd"
	echo "root:x:0:" >"$r/etc/group"
	tar -C "$r" --numeric-owner --owner=0 --group=0 -cf "$1/rootfs.tar" .
	mkdir "$1/co"
	echo "a generic checkout" >"$1/co/README"
' sh "$WORK" >"$WORK/.mkimage" 2>&1 || {
	sed 's/^/# /' "$WORK/.mkimage"; echo "Bail out! making the busybox rootfs failed"; exit 1; }
kb image import "$WORK/rootfs.tar" --name "$IMG" >"$WORK/.import" 2>&1 || {
	sed 's/^/# /' "$WORK/.import"; echo "Bail out! kbuild-ns image import of the busybox rootfs failed"; exit 1; }

# Most checks run with the single-id map (the mapping every host has); the
# subordinate-range mapping kbuild-ns picks when /etc/subuid has a range
# for the user is checked on its own checkout in run.t.
KBUILD_NS_IDMAP=single
export KBUILD_NS_IDMAP

sb() {
	as_user timeout -k 5 "$RUN_TIMEOUT" "$KBUILD_NS" -q --state-dir "$STATE" -C "$CO" \
		run --image "$IMG" --bind "$WORK/probe:/probe:ro" "$@" </dev/null
}

kb_exec() { as_user_exec "$KBUILD_NS" -q --state-dir "$STATE" "$@"; }

todo() { _tap_n=$((_tap_n + 1)); echo "not ok $_tap_n - $1 # TODO $2"; }
skip_one() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - $1 # SKIP $2"; }

