#!/bin/bash
# bench/start.sh: how long `kbuild-ns run -- true` takes on a warm checkout,
# side by side with other ways of starting a command in a sandbox.
#
# It builds (once, then cached) a small busybox-static image of four layers
# (busybox and its applet links; /etc files; 200 small files; a top layer
# with a file whiteout, a directory whiteout and an opaque directory),
# imports it with kbuild-ns, makes the checkout's data layer with one
# untimed run, flattens the same layers into one directory for the tools
# that take a plain root directory, and then times with hyperfine, as an
# unprivileged user, in one run:
#   kbuild-ns run -- true, defaults  (what `run` does unless told: sync-in
#                                   to the snapshot, the build sandbox on
#                                   it, copy-out; the checkout is empty;
#                                   and the same with the one-id map)
#   kbuild-ns run -- true          (the checkout's build sandbox, with
#                                   --source bind: the checkout bound at
#                                   /src, as bwrap gets it; the snapshot's
#                                   sync is timed by bench/sync.sh, make.sh)
#   kbuild-ns run, three variants  (KBUILD_NS_IDMAP=single, the one-id map
#                                   bwrap uses, on a second checkout;
#                                   --seccomp=unconfined; --network host)
#   bwrap                          (user+pid+ipc+uts+net namespaces, /proc,
#                                   /dev, /tmp, /sys, the checkout at /src,
#                                   on the flattened root)
#   unshare -Urmpf + overlay + chroot   (the same four layer directories)
#   unshare ... with a volatile overlay (no sync of the upper fs at unmount)
#   ch-run                         (Charliecloud, on the flattened root)
#   runc run                       (rootless, on the flattened root)
#   podman run --rm --network none (rootless, private overlay store)
#   unshare -U with a subordinate range, and with one id
#                                  (the price of newuidmap/newgidmap alone)
#   true                           (the cost of fork and exec alone)
# and prints the mean, median and fastest time of each with its ratio to
# kbuild-ns.  A tool that is missing or does not work here is listed as
# skipped, with the reason.
#
# Usage: bench/start.sh [--runs N] [--slow-runs N] [--warmup N] [--only LIST]
#                       [--profile N] [--rebuild] [--keep]
#   --runs N       timed runs of each fast tool (default 300)
#   --slow-runs N  timed runs of podman (default 30)
#   --warmup N     untimed runs of each tool first (default 20; podman 3)
#   --only LIST    comma-separated rows (kbuild-ns-snap,kbuild-ns-snap-single,kbuild-ns,kbuild-ns-single,
#                  kbuild-ns-unconfined,kbuild-ns-nonet,bwrap,unshare,unshare-volatile,ch-run,
#                  runc,podman,idmap-range,idmap-single,true); kbuild-ns is
#                  the reference for the ratios, so keep it in the list
#   --profile N    after the timings, N more runs of kbuild-ns under perf
#                  (uprobes and tracepoints; root only) and a table of where
#                  their time goes, by bench/start-phases.py
#   --rebuild      build the image again even when the cache has it
#   --keep         leave the work directory in place (its path is printed)
# Environment:
#   KBUILD_NS              the binary (default: _build/src/kbuild-ns of this tree)
#   KBUILD_NS_BENCH_CACHE  where the image is cached (default: bench/.cache;
#                          this script uses its start/ subdirectory)
#   KBUILD_NS_BENCH_WORK   where the state, the flattened root and the
#                          container stores go (default: $TMPDIR or /tmp)
#   BENCH_SETTLE           seconds to wait after a large deletion in that
#                          file system before timing (default 300; the same
#                          marker as bench/import.sh; see "ext4" in
#                          bench/README.md)
#
# Needs: hyperfine, umoci, skopeo, GNU tar, a static busybox (/bin/busybox,
# Debian package busybox-static), python3, and user namespaces; the tools
# compared are optional.  When started as root, every timed command runs as
# user kbuildns-test (created with useradd if absent; 65534 if that fails),
# as bench/import.sh does.  See "start.sh" in bench/README.md.
set -u
set -o pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
CACHE=${KBUILD_NS_BENCH_CACHE:-$here/.cache}/start
IMAGE_VERSION=1          # bump when the recipe below changes
IMAGE=busybox-bench:v1

runs=300 slow_runs=30 warmup=20 rebuild=0 keep=0 only="" profile=0
while [ $# -gt 0 ]; do
	case $1 in
	--runs) runs=$2; shift 2 ;;
	--runs=*) runs=${1#*=}; shift ;;
	--slow-runs) slow_runs=$2; shift 2 ;;
	--slow-runs=*) slow_runs=${1#*=}; shift ;;
	--warmup) warmup=$2; shift 2 ;;
	--warmup=*) warmup=${1#*=}; shift ;;
	--only) only=$2; shift 2 ;;
	--only=*) only=${1#*=}; shift ;;
	--profile) profile=$2; shift 2 ;;
	--profile=*) profile=${1#*=}; shift ;;
	--rebuild) rebuild=1; shift ;;
	--keep) keep=1; shift ;;
	-h|--help) usage; exit 0 ;;
	*) echo "start.sh: unknown argument: $1 (try --help)" >&2; exit 2 ;;
	esac
done
for v in "$runs" "$slow_runs"; do
	case $v in ''|*[!0-9]*|0|1) echo "start.sh: --runs and --slow-runs want a number of at least 2" >&2; exit 2 ;; esac
done
case $warmup in ''|*[!0-9]*) echo "start.sh: --warmup wants a number" >&2; exit 2 ;; esac
case $profile in ''|*[!0-9]*) echo "start.sh: --profile wants a number" >&2; exit 2 ;; esac
if [ "$profile" -gt 0 ]; then
	[ "$(id -u)" = 0 ] || { echo "start.sh: --profile needs root (perf probe)" >&2; exit 2; }
	command -v perf >/dev/null || { echo "start.sh: --profile needs perf (Debian package linux-perf)" >&2; exit 2; }
fi
slow_warmup=$(( warmup < 3 ? warmup : 3 ))

command -v hyperfine >/dev/null || die "hyperfine is not installed (Debian package hyperfine)"
command -v python3 >/dev/null || die "python3 is needed"

# ---------------------------------------------------------------------------
# The image (cached): busybox-static in four layers, built as plain tar files
# (owner 0:0 recorded in the tar, so no root is needed) and assembled with
# umoci; skopeo writes the OCI archive kbuild-ns imports and the
# docker-archive podman loads.

build_image() {
	local t b bb
	for t in umoci skopeo tar; do
		command -v $t >/dev/null || die "building the image needs $t"
	done
	bb=$(command -v busybox || echo /bin/busybox)
	[ -x "$bb" ] || die "building the image needs a static busybox (apt-get install busybox-static)"
	"$bb" true 2>/dev/null || die "$bb does not run"
	if LC_ALL=C ldd "$bb" 2>&1 | grep -q '=>'; then
		die "$bb is dynamically linked; install busybox-static"
	fi
	say "== building the bench image (once; cached in $CACHE)"
	rm -rf "$CACHE"
	mkdir -p "$CACHE"
	b=$(mktemp -d "${TMPDIR:-/tmp}/kbuild-ns-start-build.XXXXXX") || die "mktemp failed"
	# Layer 1: the root directories, busybox and one link per applet.
	mkdir -p "$b"/l1/{bin,etc,proc,dev,sys,tmp,root,src,usr/bin,usr/share,var/tmp}
	chmod 1777 "$b/l1/tmp" "$b/l1/var/tmp"
	chmod 700 "$b/l1/root"
	cp "$bb" "$b/l1/bin/busybox"
	for t in $("$bb" --list); do
		[ "$t" = busybox ] || ln -s busybox "$b/l1/bin/$t"
	done
	# Layer 2: /etc.
	mkdir -p "$b/l2/etc"
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$b/l2/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$b/l2/etc/group"
	echo bench >"$b/l2/etc/hostname"
	# Layer 3: 200 small files in three directories.
	mkdir -p "$b"/l3/usr/share/bench/{a,b,c}
	for t in $(seq 1 100); do
		echo "$t" >"$b/l3/usr/share/bench/a/$t"
		echo "$t" >"$b/l3/usr/share/bench/b/$t"
	done
	echo c >"$b/l3/usr/share/bench/c/c"
	# Layer 4: a directory whiteout, an opaque directory, a file whiteout,
	# new files.
	mkdir -p "$b"/l4/usr/share/bench/{a,b} "$b/l4/etc"
	: >"$b/l4/usr/share/bench/.wh.c"
	: >"$b/l4/usr/share/bench/b/.wh..wh..opq"
	: >"$b/l4/usr/share/bench/a/.wh.1"
	echo new >"$b/l4/usr/share/bench/b/new"
	echo top >"$b/l4/etc/motd"
	for t in 1 2 3 4; do
		tar -C "$b/l$t" --owner=0 --group=0 --numeric-owner --sort=name \
			--mtime=@1700000000 -cf "$b/$t.tar" . || die "tar failed"
	done
	umoci init --layout "$b/oci" && umoci new --image "$b/oci:bench" || die "umoci init failed"
	for t in 1 2 3 4; do
		umoci raw add-layer --image "$b/oci:bench" --history.created=2024-05-20T00:00:00Z \
			--history.created_by="kbuild-ns bench: layer $t" "$b/$t.tar" || die "umoci raw add-layer failed"
	done
	umoci config --image "$b/oci:bench" --created=2024-05-20T00:00:00Z \
		--config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		--config.cmd /bin/sh --config.workingdir / --os linux --architecture amd64 ||
		die "umoci config failed"
	skopeo copy -q "oci:$b/oci:bench" "oci-archive:$CACHE/image.oci.tar:bench" ||
		die "skopeo copy to oci-archive failed"
	skopeo copy -q "oci:$b/oci:bench" "docker-archive:$CACHE/image.docker.tar:localhost/$IMAGE" ||
		die "skopeo copy to docker-archive failed"
	chmod -R a+rX "$CACHE"
	rm -rf "$b"
	echo "$IMAGE_VERSION" >"$CACHE/stamp"
}

if [ "$rebuild" = 1 ] || [ "$(cat "$CACHE/stamp" 2>/dev/null)" != "$IMAGE_VERSION" ]; then
	build_image
fi

# ---------------------------------------------------------------------------
# Who runs the timed commands, and where (bench/lib.sh)

bench_user
user_env=(USER="$TEST_USER" LOGNAME="$TEST_USER")
make_work kbuild-ns-start src src-single

# podman's store and runc's state, set up further down.
PD=$WORK/podman
podman_env=(CONTAINERS_STORAGE_CONF="$PD/storage.conf" CONTAINERS_CONF="$PD/containers.conf")
podman_cmd() { as_user env "${podman_env[@]}" podman --root "$PD/root" --runroot "$PD/run" --storage-driver overlay "$@"; }

cleanup() {
	end_pause_processes
	if [ "$keep" = 1 ]; then
		say "work directory kept: $WORK"
	else
		# podman's store holds files of subordinate ids: as a plain user
		# only podman's own user namespace can delete them.
		if [ "$(id -u)" != 0 ] && [ -d "$PD/root" ]; then
			podman_cmd unshare rm -rf "$PD/root" 2>/dev/null
			end_pause_processes
		fi
		rm_tree "$WORK"
		touch "$marker" 2>/dev/null
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

declare -A skipped failed cmdline rowenv
rows=(kbuild-ns-snap kbuild-ns-snap-single kbuild-ns kbuild-ns-single kbuild-ns-unconfined kbuild-ns-nonet bwrap unshare unshare-volatile ch-run runc podman
	idmap-range idmap-single true)
label() {
	case $1 in
	kbuild-ns-snap) echo "kbuild-ns run -- true, defaults (snapshot, copy-out)" ;;
	kbuild-ns-snap-single) echo "the same, KBUILD_NS_IDMAP=single" ;;
	kbuild-ns) echo "kbuild-ns run -- true" ;;
	kbuild-ns-single) echo "kbuild-ns run, KBUILD_NS_IDMAP=single" ;;
	kbuild-ns-unconfined) echo "kbuild-ns run --seccomp=unconfined" ;;
	kbuild-ns-nonet) echo "kbuild-ns run --network host" ;;
	bwrap) echo "bwrap (user,pid,ipc,uts,net; flat root)" ;;
	unshare) echo "unshare -Urmpf + overlay + chroot" ;;
	unshare-volatile) echo "unshare -Urmpf + overlay,volatile + chroot" ;;
	ch-run) echo "ch-run (flat root)" ;;
	runc) echo "runc run, rootless (flat root)" ;;
	podman) echo "podman run --rm --network none" ;;
	idmap-range) echo "unshare -U, subordinate range (newuidmap)" ;;
	idmap-single) echo "unshare -U, one id (--map-root-user)" ;;
	true) echo "true (fork+exec only)" ;;
	esac
}
# check ROW CMD...: one untimed run as the user; if it fails the row is
# skipped with the command's last line of output.
check() {
	local row=$1; shift
	local log=$WORK/$row.check.log rc=0
	as_user "$@" >"$log" 2>&1 </dev/null || rc=$?
	[ $rc = 0 ] && return 0
	skipped[$row]="exit $rc: $(last_line "$log")"
	return 1
}

# ---------------------------------------------------------------------------
# Set-up: import, the data layer, the flattened root, the other tools' state

say "== work directory $WORK (state, flattened root, container stores); timing as uid $TEST_UID"
have_kb=0
if [ -x "$KBUILD_NS" ]; then
	KBUILD_NS_ID="$(bin_id "$KBUILD_NS"), built $(date -r "$KBUILD_NS" '+%F %T')"
	copy_kbuild_ns
fi
if [ ! -x "$KBUILD_NS" ]; then
	for r in kbuild-ns-snap kbuild-ns-snap-single kbuild-ns kbuild-ns-single kbuild-ns-unconfined kbuild-ns-nonet; do skipped[$r]="no kbuild-ns binary at $KBUILD_NS (set KBUILD_NS)"; done
elif ! as_user "$KBUILD_NS" -q --state-dir "$WORK/state" image import "$CACHE/image.oci.tar" --name "$IMAGE" \
	>"$WORK/import.log" 2>&1; then
	for r in kbuild-ns-snap kbuild-ns-snap-single kbuild-ns kbuild-ns-single kbuild-ns-unconfined kbuild-ns-nonet; do skipped[$r]="image import failed: $(last_line "$WORK/import.log")"; done
else
	have_kb=1
fi
# --source bind: the build sandbox on the checkout itself, as bwrap binds
# it; the default snapshot adds a sync-in and a copy-out (bench/make.sh).
KB=("$KBUILD_NS" -C "$WORK/src" --state-dir "$WORK/state" run --image "$IMAGE" --source bind --no-copy-output)

# The image's layer directories, top first (overlay's lowerdir order).
lowers=""
if [ $have_kb = 1 ]; then
	lowers=$(as_user "$KBUILD_NS" --state-dir "$WORK/state" image inspect "$IMAGE" | python3 -c '
import json, sys
print(":".join(l["path"] for l in reversed(json.load(sys.stdin)["layers"])))') ||
		die "kbuild-ns image inspect failed"
fi

# The same layers merged into one directory, for the tools that take a root
# directory (bwrap 0.8 has no overlay option; ch-run and runc want one
# directory): mounted read-only as an overlay in a user namespace and copied.
ROOTFS=$WORK/rootfs
have_rootfs=0
if [ -n "$lowers" ]; then
	mkdir -p "$WORK/flatten" "$ROOTFS"
	user_own "$WORK/flatten" "$ROOTFS"
	if as_user unshare -Urm sh -c 'mount -t overlay overlay -o "ro,userxattr,lowerdir=$1" "$2" && cp -a "$2/." "$3/"' \
		_ "$lowers" "$WORK/flatten" "$ROOTFS" >"$WORK/flatten.log" 2>&1 && [ -x "$ROOTFS/bin/busybox" ]; then
		have_rootfs=1
	else
		why="flattening the layers failed: $(last_line "$WORK/flatten.log")"
	fi
else
	why="needs the layers kbuild-ns imported"
fi
if [ $have_rootfs = 0 ]; then
	for r in bwrap ch-run runc; do skipped[$r]=$why; done
fi
[ -n "$lowers" ] || for r in unshare unshare-volatile; do skipped[$r]="needs the layers kbuild-ns imported"; done

hostname=$(hostname)
if [ $have_kb = 1 ]; then
	cmdline[kbuild-ns]="${KB[*]} -- true"
	# What `run` does by default: sync-in to the snapshot, the build
	# sandbox on it, copy-out (an empty checkout: the sandboxes' cost).
	cmdline[kbuild-ns-snap]="$KBUILD_NS -C $WORK/src --state-dir $WORK/state run --image $IMAGE -- true"
	# The id map depends on the user: a subordinate range through
	# newuidmap/newgidmap when /etc/subuid has one, else one id.  A data
	# layer belongs to one mapping, hence the second checkout.
	cmdline[kbuild-ns-single]="$KBUILD_NS -C $WORK/src-single --state-dir $WORK/state run --image $IMAGE --source bind --no-copy-output -- true"
	rowenv[kbuild-ns-single]="KBUILD_NS_IDMAP=single"
	cmdline[kbuild-ns-snap-single]="$KBUILD_NS -C $WORK/src-single --state-dir $WORK/state run --image $IMAGE -- true"
	rowenv[kbuild-ns-snap-single]="KBUILD_NS_IDMAP=single"
	cmdline[kbuild-ns-unconfined]="${KB[*]} --seccomp=unconfined -- true"
	cmdline[kbuild-ns-nonet]="${KB[*]} --network host -- true"
fi
if [ $have_rootfs = 1 ]; then
	if command -v bwrap >/dev/null; then
		cmdline[bwrap]="bwrap --unshare-user --uid 0 --gid 0 --unshare-pid --unshare-ipc --unshare-uts --unshare-net --hostname $hostname --bind $ROOTFS / --proc /proc --dev /dev --tmpfs /tmp --ro-bind /sys /sys --bind $WORK/src /src --chdir /src --clearenv --setenv PATH /usr/sbin:/usr/bin:/sbin:/bin /bin/true"
	else skipped[bwrap]="bwrap is not installed (Debian package bubblewrap)"; fi
	if command -v ch-run >/dev/null; then
		cmdline[ch-run]="ch-run $ROOTFS -- /bin/true"
	else skipped[ch-run]="ch-run is not installed (Debian package charliecloud-runtime)"; fi
	if command -v runc >/dev/null; then
		# `runc spec --rootless` (user, mount, pid, ipc, uts namespaces; no
		# cgroup limits, so rootless runc needs no cgroup access), plus a
		# network namespace, on the flattened root.
		mkdir -p "$WORK/runc/bundle" "$WORK/runc/state"
		user_own "$WORK/runc"
		if (cd "$WORK/runc/bundle" && as_user runc spec --rootless) >"$WORK/runc.spec.log" 2>&1 &&
			as_user python3 - "$WORK/runc/bundle/config.json" "$ROOTFS" "$hostname" <<-'EOF'
			import json, sys
			path, rootfs, hostname = sys.argv[1:4]
			c = json.load(open(path))
			c["process"]["terminal"] = False
			c["process"]["args"] = ["/bin/true"]
			c["process"]["cwd"] = "/"
			c["root"] = {"path": rootfs, "readonly": False}
			c["hostname"] = hostname
			ns = c["linux"]["namespaces"]
			if not any(n["type"] == "network" for n in ns):
			    ns.append({"type": "network"})
			json.dump(c, open(path, "w"), indent=1)
			EOF
		then
			cmdline[runc]="runc --root $WORK/runc/state run --bundle $WORK/runc/bundle kbuild-ns-bench"
		else
			skipped[runc]="runc spec failed: $(last_line "$WORK/runc.spec.log")"
		fi
	else skipped[runc]="runc is not installed"; fi
fi
if [ -n "$lowers" ]; then
	# unshare: a shell mounts the overlay (same layer directories as
	# kbuild-ns, its own upper and work) and execs chroot.
	for r in unshare unshare-volatile; do
		mkdir -p "$WORK/$r/upper" "$WORK/$r/work" "$WORK/$r/mnt"
		opt="userxattr,lowerdir=$lowers,upperdir=$WORK/$r/upper,workdir=$WORK/$r/work"
		[ $r = unshare-volatile ] && opt="$opt,volatile"
		{
			echo '#!/bin/sh'
			# A volatile overlay leaves work/work/incompat/volatile behind and
			# refuses the next mount while it is there (kbuild-ns removes it too).
			[ $r = unshare-volatile ] && echo "rm -rf $WORK/$r/work/work/incompat"
			echo "mount -t overlay overlay -o \"$opt\" $WORK/$r/mnt && exec chroot $WORK/$r/mnt /bin/true"
		} >"$WORK/$r.sh"
		chmod 755 "$WORK/$r.sh"
		user_own "$WORK/$r" "$WORK/$r.sh"
		cmdline[$r]="unshare -Urmpf $WORK/$r.sh"
	done
fi
if command -v podman >/dev/null && command -v skopeo >/dev/null; then
	# Rootless podman with a private store (driver "overlay") and its own
	# runtime directory; the image loaded from the docker-archive skopeo
	# made.  runc as the OCI runtime when it is installed (it works rootless
	# on this cgroup v1 host; crun, podman's first choice, is not installed
	# here and is reported to refuse such hosts).
	mkdir -p "$PD/root" "$PD/run" "$PD/tmp"
	printf '[storage]\ndriver = "overlay"\ngraphroot = "%s"\nrunroot = "%s"\n' "$PD/root" "$PD/run" >"$PD/storage.conf"
	printf '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\nevents_logfile_path = "%s"\ntmp_dir = "%s"\n' \
		"$PD/events.log" "$PD/tmp" >"$PD/containers.conf"
	user_own "$PD"
	rt=""
	command -v runc >/dev/null && rt="--runtime runc"
	if podman_cmd load -q -i "$CACHE/image.docker.tar" >"$WORK/podman.load.log" 2>&1; then
		cmdline[podman]="podman --root $PD/root --runroot $PD/run --storage-driver overlay $rt run --rm --network none localhost/$IMAGE true"
	else
		skipped[podman]="podman load failed: $(last_line "$WORK/podman.load.log")"
	fi
else
	skipped[podman]="podman or skopeo is not installed"
fi
# The price of a subordinate range alone, as util-linux pays it: a user
# namespace whose maps newuidmap and newgidmap write, against one whose
# single map unshare writes itself (--map-users needs util-linux 2.38).
if unshare --help 2>/dev/null | grep -q -- --map-users; then
	cmdline[idmap-range]="unshare -U --map-users=auto --map-groups=auto --map-root-user true"
	cmdline[idmap-single]="unshare -U --map-root-user true"
else
	for r in idmap-range idmap-single; do skipped[$r]="unshare has no --map-users (util-linux before 2.38)"; done
fi
cmdline[true]="true"

# One untimed run of each (for kbuild-ns this also creates the data layer,
# so the timed runs are warm), and the rows that fail are skipped.
for r in "${rows[@]}"; do
	want "$r" || continue
	[ -n "${cmdline[$r]:-}" ] || continue
	read -r -a argv <<<"${cmdline[$r]}"
	check "$r" env "${podman_env[@]}" ${rowenv[$r]:-} "${argv[@]}" || unset "cmdline[$r]"
done
idmap=""
if [ -n "${cmdline[kbuild-ns]:-}" ]; then
	read -r -a argv <<<"${cmdline[kbuild-ns]}"
	idmap=$(as_user "${argv[0]}" -v "${argv[@]:1}" 2>&1 </dev/null | sed -n 's/.*\] \(run: \)\{0,1\}ids: //p' | head -1)
fi
[ -n "${cmdline[kbuild-ns]:-}" ] || ! want kbuild-ns ||
	say "start.sh: kbuild-ns run fails here (${skipped[kbuild-ns]:-?}); ratios will be missing"

# ---------------------------------------------------------------------------
# Timing: one hyperfine per row, without an intermediate shell (-N), as the
# user; hyperfine's own process is the parent of every timed command.

settle
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for r in "${rows[@]}"; do
	want "$r" || continue
	[ -n "${cmdline[$r]:-}" ] || continue
	n=$runs w=$warmup
	[ $r = podman ] && n=$slow_runs w=$slow_warmup
	say "== $(label $r): $w warm-up + $n timed runs"
	# -i: a run that fails now and then is counted and reported below
	# instead of losing the row; the commands' output goes to a file.
	if ! as_user env "${podman_env[@]}" ${rowenv[$r]:-} hyperfine -N -i --style none --warmup "$w" --runs "$n" \
		--output "$WORK/$r.output" --export-json "$WORK/$r.json" "${cmdline[$r]}" \
		>"$WORK/$r.hyperfine.log" 2>&1; then
		skipped[$r]="hyperfine failed: $(last_line "$WORK/$r.hyperfine.log")"
		rm -f "$WORK/$r.json"
		continue
	fi
	nfail=$(python3 -c 'import json, sys; print(sum(1 for c in json.load(open(sys.argv[1]))["results"][0]["exit_codes"] if c))' "$WORK/$r.json")
	if [ "$nfail" != 0 ]; then
		failed[$r]="$nfail of $n timed runs failed; last output: $(last_line "$WORK/$r.output")"
		if [ $((nfail * 2)) -gt "$n" ]; then
			skipped[$r]=${failed[$r]}
			unset "failed[$r]"
			rm -f "$WORK/$r.json"
		fi
	fi
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------------------
# Report

# ROW MEAN SD MEDIAN MIN RUNS, in milliseconds
stats=$(hyperfine_stats "${rows[@]}")
get() { awk -v r="$1" -v f="$2" '$1 == r { print $f }' <<<"$stats"; }
kb=$(get kbuild-ns 2)

echo
echo "kbuild-ns start benchmark: $(nproc) cores, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
if [ -n "${KBUILD_NS_SRC:-}" ]; then
	echo "binary: $KBUILD_NS_SRC ($KBUILD_NS_ID; copied before timing)"
fi
[ -n "$idmap" ] && echo "kbuild-ns id map: $idmap"
echo "image: busybox-static, 4 layers; warm (image imported, data layer created, one untimed run); as uid $TEST_UID"
echo "hyperfine -N, $warmup warm-up + $runs runs per tool (podman: $slow_warmup + $slow_runs); load average before $load_before, after $load_after"
echo
printf '| %-44s | %9s | %7s | %9s | %8s | %12s |\n' "tool" "mean ms" "± σ" "median ms" "min ms" "vs kbuild-ns"
printf '|%s|%s:|%s:|%s:|%s:|%s:|\n' "$(dashes 46)" "$(dashes 10)" "$(dashes 8)" "$(dashes 10)" "$(dashes 9)" "$(dashes 13)"
for r in "${rows[@]}"; do
	want "$r" || continue
	m=$(get "$r" 2)
	if [ -n "$m" ]; then
		ratio="-"
		[ -n "$kb" ] && ratio=$(awk -v a="$m" -v b="$kb" 'BEGIN { printf "%.2fx", a / b }')
		printf '| %-44s | %9.2f | %7.2f | %9.2f | %8.2f | %12s |\n' "$(label $r)" "$m" "$(get $r 3)" "$(get $r 4)" "$(get $r 5)" "$ratio"
	else
		printf '| %-44s | skipped: %s\n' "$(label $r)" "${skipped[$r]:-not run}"
	fi
done
echo
echo "ratio = tool mean / kbuild-ns mean (above 1: slower than kbuild-ns)"
for r in "${rows[@]}"; do
	[ -n "${failed[$r]:-}" ] && echo "note: $(label $r): ${failed[$r]}"
done
if [ -n "$kb" ]; then
	awk -v kb="$kb" -v bw="$(get bwrap 2)" -v pm="$(get podman 2)" 'BEGIN {
		print "targets (issue 3):"
		if (bw != "") printf "  kbuild-ns within 1.5x of bwrap: %.2fx %s\n", kb / bw, (kb / bw <= 1.5 ? "met" : "NOT met")
		else print "  kbuild-ns within 1.5x of bwrap: no bwrap figure"
		if (pm != "") printf "  at least 25x faster than podman: %.1fx %s\n", pm / kb, (pm / kb >= 25 ? "met" : "NOT met")
		else print "  at least 25x faster than podman: no podman figure" }'
	awk -v kb="$kb" -v snap="$(get kbuild-ns-snap 2)" -v single="$(get kbuild-ns-single 2)" -v bw="$(get bwrap 2)" \
		-v snap1="$(get kbuild-ns-snap-single 2)" \
		-v rg="$(get idmap-range 2)" -v one="$(get idmap-single 2)" 'BEGIN {
		if (bw == "") { print "targets (issue 12): no bwrap figure"; exit }
		print "targets (issue 12), against bwrap, which maps one id:"
		if (snap != "") printf "  defaults (snapshot, copy-out) within 1.2x: %.2fx %s\n", snap / bw, (snap / bw <= 1.2 ? "met" : "NOT met")
		if (snap1 != "") printf "  the same with one id (KBUILD_NS_IDMAP=single): %.2fx\n", snap1 / bw
		printf "  --source bind --no-copy-output within 1.0x: %.2fx %s\n", kb / bw, (kb / bw <= 1.0 ? "met" : "NOT met")
		if (single != "") printf "  the same with one id (KBUILD_NS_IDMAP=single): %.2fx\n", single / bw
		if (rg != "" && one != "")
			printf "  a subordinate range alone (unshare -U, range minus one id): %.2f ms = %.2fx bwrap\n", rg - one, (rg - one) / bw
		if (single != "") printf "  kbuild-ns, range minus one id: %.2f ms\n", kb - single }'
fi

# ---------------------------------------------------------------------------
# Profile (--profile N): uprobes on a second copy of the binary (a probed
# binary is slower, so the timed one is left alone) and scheduler and system
# call tracepoints; a shell loop of N runs as the user; start-phases.py
# turns it into a table.
if [ "$profile" -gt 0 ] && [ -n "${cmdline[kbuild-ns]:-}" ]; then
	P=$WORK/profile
	mkdir -p "$P"
	cp "$KBUILD_NS" "$P/kbuild-ns"
	chmod 755 "$P" "$P/kbuild-ns"
	[ -d /sys/kernel/tracing/events ] || mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null
	added=()
	for f in main project_open image_find project_prepare rt_run rt_build_root rt_seccomp_load_bpf; do
		for spec in "$f" "$f%return"; do
			if perf probe -q -x "$P/kbuild-ns" --add "$spec" >/dev/null 2>&1; then
				added+=("probe_kbuild:${spec/\%return/__return}")
			fi
		done
	done
	ev=(-e 'probe_kbuild:*' -e sched:sched_process_exec -e sched:sched_process_exit -e sched:sched_process_fork)
	for e in sys_enter_clone sys_exit_clone sys_enter_fsync sys_exit_fsync sys_enter_fsconfig sys_exit_fsconfig \
		sys_exit_wait4 sys_exit_poll sys_enter_exit_group; do
		ev+=(-e "syscalls:$e")
	done
	read -r -a argv <<<"${cmdline[kbuild-ns]}"
	argv[0]=$P/kbuild-ns
	loop="i=0; while [ \$i -lt $profile ]; do ${argv[*]} || exit 1; i=\$((i + 1)); done"
	echo
	if [ ${#added[@]} = 0 ]; then
		echo "profile: perf probe could not add uprobes to the binary (no symbols?)"
	elif perf record -q -o "$P/perf.data" "${ev[@]}" -- \
		setpriv --reuid="$TEST_UID" --regid="$TEST_GID" --clear-groups --reset-env \
		env HOME="$WORK/home" PATH=/usr/bin:/bin sh -c "$loop" >"$P/record.log" 2>&1 &&
		perf script -i "$P/perf.data" -F comm,pid,tid,time,event,trace >"$P/script.txt" 2>/dev/null; then
		echo "where the time of kbuild-ns run -- true goes (perf: uprobes + tracepoints, $profile runs, wall clock):"
		python3 "$here/start-phases.py" "$P/script.txt"
	else
		echo "profile: perf record failed: $(last_line "$P/record.log")"
	fi
	for e in "${added[@]}"; do perf probe -q -d "$e" >/dev/null 2>&1; done
fi

for r in "${rows[@]}"; do
	[ -n "${skipped[$r]:-}" ] && want "$r" || continue
	for log in "$WORK/$r.check.log" "$WORK/$r.hyperfine.log" "$WORK/$r.output"; do
		show_log "$r" "$log"
	done
done
exit 0
