#!/bin/bash
# bench/pull.sh: how fast `kbuild-ns image pull` brings the ~1 GB
# kube-cross-like image of bench/import.sh from a registry on loopback into
# a usable store, side by side with what a user would run instead:
#   kbuild-ns image pull REF                       (download, check and unpack in one pass)
#   skopeo copy docker://REF oci:DIR, then kbuild-ns image import DIR
#                                                  (the two-step path: the image on disk twice)
#   podman pull REF                                (rootless, a private overlay store)
# each cold (empty store) and warm (every layer already there: a second pull).
#
# The registry is Debian's docker-registry on 127.0.0.1 (plain HTTP, a
# free port, storage in the work directory), the image pushed there once
# with skopeo from bench/import.sh's OCI layout (gzip layers, digests kept).
#
# Usage: bench/pull.sh [--runs N] [--warmup N] [--keep] [--only LIST]
#   --runs N    timed rounds (default 1); median seconds, largest peak RSS
#   --warmup N  untimed rounds first (default 1)
#   --keep      leave the work directory in place
#   --only LIST comma-separated rows (kbuild-ns,kbuild-ns-warm,skopeo-import,
#               skopeo-import-warm,podman,podman-warm)
# Environment:
#   KBUILD_NS              the binary (default: _build/src/kbuild-ns of this tree)
#   KBUILD_NS_BENCH_CACHE  bench/import.sh's image cache (default: bench/.cache);
#                          run bench/import.sh once first to build the image
#   KBUILD_NS_BENCH_WORK   where timed runs write (default: $TMPDIR or /tmp)
#   BENCH_SETTLE           as for bench/import.sh
# Timed commands run as an unprivileged user (bench/lib.sh), warm page cache.
set -u
set -o pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
CACHE=${KBUILD_NS_BENCH_CACHE:-$here/.cache}
TAG=bench
REPO=bench/kube-cross
runs=1 warmup=1 keep=0 only=""
while [ $# -gt 0 ]; do
	case $1 in
	--runs) runs=$2; shift 2 ;;
	--runs=*) runs=${1#*=}; shift ;;
	--warmup) warmup=$2; shift 2 ;;
	--warmup=*) warmup=${1#*=}; shift ;;
	--keep) keep=1; shift ;;
	--only) only=$2; shift 2 ;;
	--only=*) only=${1#*=}; shift ;;
	-h|--help) usage; exit 0 ;;
	*) die "unknown argument: $1 (try --help)" ;;
	esac
done
case $runs in ''|*[!0-9]*|0) die "--runs wants a positive number" ;; esac
[ -f "$CACHE/stamp" ] && [ -d "$CACHE/oci" ] || die "no bench image in $CACHE: run bench/import.sh once first"
for t in docker-registry skopeo python3; do command -v $t >/dev/null || die "$t is not installed"; done
[ -x "$KBUILD_NS" ] || die "no kbuild-ns binary at $KBUILD_NS (set KBUILD_NS)"

bench_user
make_work kbuild-ns-pull-bench registry
copy_kbuild_ns
reg_pid=""
cleanup() {
	[ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null && wait "$reg_pid" 2>/dev/null
	end_pause_processes
	if [ "$keep" = 1 ]; then say "work directory kept: $WORK"; return; fi
	if [ "$(id -u)" != 0 ]; then
		for d in "$WORK"/podman*; do
			[ -d "$d/root" ] && as_user podman --root "$d/root" --runroot "$d/run" \
				--storage-driver overlay unshare rm -rf "$d/root" 2>/dev/null
		done
		end_pause_processes
	fi
	chmod -R u+rwx "$WORK" 2>/dev/null
	rm -rf "$WORK"
	touch "$marker" 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the registry ---------------------------------------------------------------
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$WORK/registry/config.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $WORK/registry/data
http:
  addr: 127.0.0.1:$port
EOF
docker-registry serve "$WORK/registry/config.yml" >"$WORK/registry/log" 2>&1 &
reg_pid=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/v2/" && break; sleep 0.1; done
REF=127.0.0.1:$port/$REPO:v1
say "== pushing the image to $REF"
env -u REGISTRY_AUTH_FILE skopeo --insecure-policy copy -q --dest-tls-verify=false --preserve-digests \
	"oci:$CACHE/oci:$TAG" "docker://$REF" || die "skopeo copy to the registry failed"
cat "$WORK"/registry/data/docker/registry/v2/blobs/sha256/*/*/data >/dev/null   # warm cache

# ---- timing -----------------------------------------------------------------------
results=$WORK/results
: >"$results"
declare -A skipped
timeit() {   # ROW RUN CMD...
	local row=$1 n=$2; shift 2
	local log=$WORK/$row.$n.log tf=$WORK/$row.$n.time
	sync
	as_user /usr/bin/time -f '%e %M' -o "$tf" "$@" >"$log" 2>&1
	local rc=$?
	if [ "$rc" != 0 ]; then
		skipped[$row]="exit $rc: $(grep -v -E '^(Command exited|[0-9.]+ [0-9]+$)' "$log" | tail -1)"
		say "   $row: failed (exit $rc)"
		return 1
	fi
	read -r s k <"$tf"
	[ "$n" -gt "$warmup" ] && echo "$row $s $k" >>"$results"
	say "   $row: $s s, $(awk -v k="$k" 'BEGIN { printf "%.0f", k / 1024 }') MB"
}
fresh() { mkdir -p "$1" && { [ "$(id -u)" != 0 ] || chown "$TEST_UID:$TEST_GID" "$1"; }; }
# skopeo_import DIR KBUILD_NS REF: the two-step path, into DIR/oci and DIR/state.
skopeo_import='d=$1
skopeo --insecure-policy copy -q --src-tls-verify=false "docker://$3" "oci:$d/oci:bench" &&
exec "$2" -q --state-dir "$d/state" image import "$d/oci" --name bench/kube-cross:v1'
# podman_pull DIR REF: rootless podman with a private store in DIR.
podman_pull='d=$1
mkdir -p "$d/root" "$d/run" "$d/tmp"
printf "[storage]\ndriver = \"overlay\"\ngraphroot = \"%s\"\nrunroot = \"%s\"\n" "$d/root" "$d/run" >"$d/storage.conf"
printf "[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\nevents_logfile_path = \"%s\"\ntmp_dir = \"%s\"\n" "$d/events.log" "$d/tmp" >"$d/containers.conf"
exec env CONTAINERS_STORAGE_CONF="$d/storage.conf" CONTAINERS_CONF="$d/containers.conf" \
	podman --root "$d/root" --runroot "$d/run" --storage-driver overlay pull -q --tls-verify=false "$2"'

settle
say "== timing as uid $TEST_UID; every cold run writes into a fresh directory under $WORK"
for n in $(seq 1 $((warmup + runs))); do
	if [ "$n" -le "$warmup" ]; then say "-- warm-up round $n of $warmup (untimed)"
	elif [ "$runs" -gt 1 ]; then say "-- round $((n - warmup)) of $runs"; fi
	if want kbuild-ns || want kbuild-ns-warm; then
		fresh "$WORK/kb.$n"
		timeit kbuild-ns "$n" "$KBUILD_NS" -q --state-dir "$WORK/kb.$n" image pull "$REF" &&
			want kbuild-ns-warm && timeit kbuild-ns-warm "$n" "$KBUILD_NS" -q --state-dir "$WORK/kb.$n" image pull "$REF"
	fi
	if want skopeo-import || want skopeo-import-warm; then
		fresh "$WORK/sk.$n"
		timeit skopeo-import "$n" sh -c "$skopeo_import" _ "$WORK/sk.$n" "$KBUILD_NS" "$REF" &&
			want skopeo-import-warm && timeit skopeo-import-warm "$n" sh -c "$skopeo_import" _ "$WORK/sk.$n" "$KBUILD_NS" "$REF"
	fi
	if want podman || want podman-warm; then
		if command -v podman >/dev/null; then
			fresh "$WORK/podman.$n"
			timeit podman "$n" sh -c "$podman_pull" _ "$WORK/podman.$n" "$REF" &&
				want podman-warm && timeit podman-warm "$n" sh -c "$podman_pull" _ "$WORK/podman.$n" "$REF"
		else skipped[podman]="podman is not installed"; fi
	fi
done

# ---- report -------------------------------------------------------------------------
label() {
	case $1 in
	kbuild-ns) echo "kbuild-ns image pull, cold" ;;
	kbuild-ns-warm) echo "kbuild-ns image pull, all layers present" ;;
	skopeo-import) echo "skopeo copy + kbuild-ns image import, cold" ;;
	skopeo-import-warm) echo "skopeo copy + kbuild-ns image import, warm" ;;
	podman) echo "podman pull (rootless, overlay), cold" ;;
	podman-warm) echo "podman pull, image present" ;;
	esac
}
summary=$(awk '{ s[$1] = s[$1] " " $2; if ($3 > m[$1]) m[$1] = $3 }
	END { for (r in s) { n = split(substr(s[r], 2), a, " ");
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		med = (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
		print r, med, m[r] } }' "$results")
get() { awk -v r="$1" -v f="$2" '$1 == r { print $f }' <<<"$summary"; }

echo
echo "kbuild-ns pull benchmark: $(nproc) cores, $(uname -r), $(df -PT "$WORK" | awk 'NR==2 {print $2}') work dir, warm page cache, registry on loopback"
echo "image: $REF, $(du -cb "$CACHE"/oci/blobs/sha256/* | tail -1 | cut -f1 | awk '{printf "%.0f MB", $1/1e6}') of blobs (gzip layers); $(bin_id "$KBUILD_NS_SRC"); runs: $runs after $warmup warm-up"
echo
printf '%-46s %8s %14s %10s\n' "row" "seconds" "vs kbuild-ns" "peak RSS"
for r in kbuild-ns skopeo-import podman kbuild-ns-warm skopeo-import-warm podman-warm; do
	s=$(get "$r" 2)
	base=kbuild-ns; case $r in *-warm) base=kbuild-ns-warm ;; esac
	b=$(get "$base" 2)
	if [ -n "$s" ]; then
		ratio=$(awk -v a="$s" -v b="$b" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }')
		printf '%-46s %8.2f %14s %7.0f MB\n' "$(label "$r")" "$s" "$ratio" "$(awk -v k="$(get "$r" 3)" 'BEGIN{print k/1024}')"
	elif [ -n "${skipped[$r]:-}" ]; then
		printf '%-46s skipped: %s\n' "$(label "$r")" "${skipped[$r]}"
	fi
done
kb=$(get kbuild-ns 2)
if [ -n "$kb" ]; then
	echo
	echo "targets (cold): skopeo+import / kbuild-ns >= 1.5, podman / kbuild-ns >= 1.5"
	awk -v kb="$kb" -v s="$(get skopeo-import 2)" -v p="$(get podman 2)" 'BEGIN {
		if (s != "") printf "  skopeo+import: %.2fx %s\n", s / kb, (s / kb >= 1.5 ? "met" : "NOT met")
		if (p != "") printf "  podman pull:   %.2fx %s\n", p / kb, (p / kb >= 1.5 ? "met" : "NOT met") }'
fi
for r in "${!skipped[@]}"; do
	log=$(ls "$WORK/$r".*.log 2>/dev/null | head -1)
	[ -n "$log" ] && { echo; echo "--- $r output:"; tail -5 "$log"; }
done
exit 0
