#!/bin/bash
# bench/import.sh: how fast `kbuild-ns image import` unpacks a realistic
# image, side by side with the tools a user would use instead.
#
# It builds (once, then cached) a kube-cross-like image of about 1 GB from
# Debian packages: layer 1 a minbase rootfs, layer 2 what build-essential
# adds, layer 3 what golang-go and git add, layer 4 a small top layer with
# file and directory whiteouts and an opaque directory.  Then, as an
# unprivileged user, it times in one run:
#   kbuild-ns image import   (OCI archive with gzip layers, the docker-archive
#                             skopeo wrote, and an OCI layout with zstd layers)
#   umoci unpack --rootless  (the OCI layout, gzip layers)
#   podman load              (rootless, private storage; OCI and docker archive)
#   tar -xzf                 (each gzip layer into its own directory, in turn)
#   tar -x                   (the plain layer tars: the cost of creating the files)
# and the raw decompression rate of the largest layer (gzip, igzip, zstd).
#
# Usage: bench/import.sh [--runs N] [--warmup N] [--rebuild] [--keep] [--only LIST]
#   --runs N    time every tool N times (fresh directories each time) and
#               report the median seconds and the largest peak RSS (default 1)
#   --warmup N  untimed rounds of every tool first (default 1): the first
#               writer after a while pays for reading the file system's
#               bitmaps and inode tables, whichever tool runs first
#   --rebuild   build the image again even when the cache has it
#   --keep      leave the work directory in place (its path is printed)
#   --only LIST comma-separated rows to run (kbuild-ns,kbuild-ns-docker,
#               kbuild-ns-zstd,umoci,podman,podman-docker,tar-xzf,tar-x,inflate)
# Environment:
#   KBUILD_NS              the binary (default: _build/src/kbuild-ns of this tree)
#   KBUILD_NS_BENCH_CACHE  where the image is cached (default: bench/.cache)
#   KBUILD_NS_BENCH_WORK   where timed runs write (default: $TMPDIR or /tmp);
#                          put it on the disk you care about
#   BENCH_SETTLE           seconds to wait after a large deletion before timing
#                          (default 300; see "ext4" in bench/README.md)
#   BENCH_MIRROR           Debian mirror for the image build (default: the
#                          host's, from /etc/apt/sources.list, sources.list.d/*.list
#                          and *.sources; required when the host names none)
#
# Building the image needs root (mmdebstrap in root mode) and network access
# to the Debian archive; timing needs neither.  When started as root, every
# timed command runs as user kbuildns-test (created with useradd if absent;
# 65534 if that fails).  All runs are warm-cache: every input is read once
# before timing (dropping the page cache would need root), and `sync` runs
# before each timed command so that no earlier run's writeback overlaps it.
set -u
set -o pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
CACHE=${KBUILD_NS_BENCH_CACHE:-$here/.cache}
IMAGE_VERSION=2          # bump when the recipe below changes
TAG=bench
NAME=kube-cross-bench:v1

runs=1 warmup=1 rebuild=0 keep=0 only=""
while [ $# -gt 0 ]; do
	case $1 in
	--runs) runs=$2; shift 2 ;;
	--runs=*) runs=${1#*=}; shift ;;
	--warmup) warmup=$2; shift 2 ;;
	--warmup=*) warmup=${1#*=}; shift ;;
	--rebuild) rebuild=1; shift ;;
	--keep) keep=1; shift ;;
	--only) only=$2; shift 2 ;;
	--only=*) only=${1#*=}; shift ;;
	-h|--help) usage; exit 0 ;;
	*) echo "import.sh: unknown argument: $1 (try --help)" >&2; exit 2 ;;
	esac
done
case $runs in ''|*[!0-9]*|0) echo "import.sh: --runs wants a positive number" >&2; exit 2 ;; esac
case $warmup in ''|*[!0-9]*) echo "import.sh: --warmup wants a number" >&2; exit 2 ;; esac

# ---------------------------------------------------------------------------
# The image (cached)

mirror() {
	if [ -n "${BENCH_MIRROR:-}" ]; then echo "$BENCH_MIRROR"; return; fi
	# The host's own Debian mirror: the first one-line or deb822 source that
	# serves a Debian release (not -security, -updates or a third party's).
	m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		awk '$1 == "deb" { i = 2; if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ } print $i, $(i + 1) }'
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] && awk '
			function flush() { if (deb) for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++) print u[i], s[j]; deb = 0; nu = 0; ns = 0 }
			/^[ \t]*$/ { flush(); next }
			tolower($1) == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
			tolower($1) == "uris:" { for (i = 2; i <= NF; i++) u[++nu] = $i }
			tolower($1) == "suites:" { for (i = 2; i <= NF; i++) s[++ns] = $i }
			tolower($1) == "enabled:" && tolower($2) == "no" { deb = 0 }
			END { flush() }' "$f"
	done)
	m=$(echo "$m" | awk '$2 ~ /^(buster|bullseye|bookworm|trixie|forky|sid|oldstable|stable|testing|unstable)$/ { print $1; exit }')
	[ -n "$m" ] || die "the host's apt sources name no Debian mirror: set BENCH_MIRROR=URL"
	echo "${m%/}"
}

build_image() {
	[ "$(id -u)" = 0 ] || die "building the image needs root (mmdebstrap --mode=root); run this once as root, or point KBUILD_NS_BENCH_CACHE at a built cache"
	for t in mmdebstrap skopeo gzip zstd python3; do
		command -v $t >/dev/null || die "building the image needs $t"
	done
	local m b
	m=$(mirror) || exit 1
	say "== building the bench image from $m (once; cached in $CACHE)"
	mkdir -p "$CACHE"
	rm -f "$CACHE/stamp"
	b=$CACHE/build
	# Older build leftovers are moved aside and deleted at the end, not now:
	# deleting a big tree right before the timed runs slows them down.
	[ -e "$b" ] && mv "$b" "$CACHE/trash.$$.build"
	rm -rf "$CACHE/oci" "$CACHE/oci-zstd" "$CACHE/layers"
	mkdir -p "$b" "$CACHE/layers"
	# One mmdebstrap run; its customize hooks snapshot the tree after each
	# step (cp -x stays off the /proc, /sys and /dev mounts).
	local inst='chroot "$1" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o APT::Install-Recommends=true'
	TMPDIR=$b mmdebstrap --variant=minbase --mode=root --format=null \
		--customize-hook="cp -ax \"\$1\" '$b/s0'" \
		--customize-hook="$inst build-essential" \
		--customize-hook="cp -ax \"\$1\" '$b/s1'" \
		--customize-hook="$inst golang-go git ca-certificates" \
		--customize-hook="cp -ax \"\$1\" '$b/s2'" \
		bookworm /dev/null "deb $m bookworm main" "deb $m bookworm-updates main" \
		|| die "mmdebstrap failed"
	local L=$CACHE/layers py="python3 $here/snapshot-layers.py"
	$py layer - "$b/s0" "$L/1.tar" &&
	$py layer "$b/s0" "$b/s1" "$L/2.tar" &&
	$py layer "$b/s1" "$b/s2" "$L/3.tar" &&
	$py top "$b/s2" "$L/4.tar" || die "making the layer tars failed"
	say "== compressing the layers"
	( gzip -n -6 -k "$L/3.tar" ) & p=$!
	for i in 1 2 4; do gzip -n -6 -k "$L/$i.tar" || die "gzip failed"; done
	wait $p || die "gzip failed"
	for i in 1 2 3 4; do zstd -q -3 -T2 -k "$L/$i.tar" || die "zstd failed"; done
	$py layout "$CACHE/oci" "$TAG" \
		"gzip:$L/1.tar:$L/1.tar.gz" "gzip:$L/2.tar:$L/2.tar.gz" \
		"gzip:$L/3.tar:$L/3.tar.gz" "gzip:$L/4.tar:$L/4.tar.gz" || die "OCI layout failed"
	$py layout "$CACHE/oci-zstd" "$TAG" \
		"zstd:$L/1.tar:$L/1.tar.zst" "zstd:$L/2.tar:$L/2.tar.zst" \
		"zstd:$L/3.tar:$L/3.tar.zst" "zstd:$L/4.tar:$L/4.tar.zst" || die "OCI layout (zstd) failed"
	say "== exporting with skopeo"
	rm -f "$CACHE/image.oci.tar" "$CACHE/image.docker.tar"
	skopeo copy -q "oci:$CACHE/oci:$TAG" "oci-archive:$CACHE/image.oci.tar:$TAG" ||
		die "skopeo copy to oci-archive failed"
	skopeo copy -q "oci:$CACHE/oci:$TAG" "docker-archive:$CACHE/image.docker.tar:localhost/$NAME" ||
		die "skopeo copy to docker-archive failed"
	chmod -R a+rX "$CACHE"
	mv "$b" "$CACHE/trash.$$.stages"
	built=1
	echo "$IMAGE_VERSION" >"$CACHE/stamp"
	say "== image built: $(du -sh "$CACHE/layers" | cut -f1) of layer files"
}

built=0
if [ "$rebuild" = 1 ] || [ "$(cat "$CACHE/stamp" 2>/dev/null)" != "$IMAGE_VERSION" ]; then
	build_image
fi
L=$CACHE/layers

# ---------------------------------------------------------------------------
# Who runs the timed commands, and where (bench/lib.sh)

bench_user
make_work kbuild-ns-bench

cleanup() {
	local d
	end_pause_processes
	if [ "$keep" = 1 ]; then
		say "work directory kept: $WORK"
	else
		say "== removing the work directory (after all timings)"
		# podman's store holds files of subordinate ids: as a plain user
		# only podman's own user namespace can delete them.
		if [ "$(id -u)" != 0 ]; then
			for d in "$WORK"/podman*; do
				[ -d "$d/root" ] && as_user podman --root "$d/root" --runroot "$d/run" \
					--storage-driver overlay unshare rm -rf "$d/root" 2>/dev/null
			done
			end_pause_processes
		fi
		rm_tree "$WORK"
		touch "$marker" 2>/dev/null
	fi
	if ls -d "$CACHE"/trash.* >/dev/null 2>&1; then
		rm -rf "$CACHE"/trash.* 2>/dev/null
		touch "$marker" 2>/dev/null
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------
# Timing

results=$WORK/results    # lines: ROW SECONDS RSS_KB
: >"$results"
declare -A skipped

# timeit ROW RUN CMD...: one timed run as the unprivileged user.
timeit() {
	local row=$1 n=$2; shift 2
	local log=$WORK/$row.$n.log tf=$WORK/$row.$n.time
	sync
	as_user /usr/bin/time -f '%e %M' -o "$tf" "$@" >"$log" 2>&1
	local rc=$?
	if [ "$rc" != 0 ]; then
		skipped[$row]="exit $rc: $(grep -v -E '^(Command exited|[0-9.]+ [0-9]+$)' "$log" | tail -1)"
		say "   $row: failed (exit $rc), see below"
		return 1
	fi
	read -r s k <"$tf"
	[ "$n" -gt "$warmup" ] && echo "$row $s $k" >>"$results"
	say "   $row: $s s, $(awk -v k="$k" 'BEGIN { printf "%.0f", k / 1024 }') MB"
}

# fresh DIR: a new directory for one timed run, owned by the user.
fresh() { mkdir -p "$1" && user_own "$1"; }

# The timed commands run through setpriv --reset-env, so they are spelled
# out as small scripts (no exported functions or variables).
# untar DEST FLAGS LAYER-FILES...: each layer into DEST/1, DEST/2, ... in turn.
untar='dest=$1 flags=$2 i=0; shift 2
for f; do i=$((i + 1)); mkdir "$dest/$i" && tar -C "$dest/$i" "$flags" "$f" || exit 1; done'
# podman_load DIR ARCHIVE: rootless podman with a private store in DIR.
podman_load='d=$1
mkdir -p "$d/root" "$d/run" "$d/tmp"
printf "[storage]\ndriver = \"overlay\"\ngraphroot = \"%s\"\nrunroot = \"%s\"\n" "$d/root" "$d/run" >"$d/storage.conf"
printf "[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\nevents_logfile_path = \"%s\"\ntmp_dir = \"%s\"\n" "$d/events.log" "$d/tmp" >"$d/containers.conf"
exec env CONTAINERS_STORAGE_CONF="$d/storage.conf" CONTAINERS_CONF="$d/containers.conf" \
	podman --root "$d/root" --runroot "$d/run" --storage-driver overlay load -q -i "$2"'

have_kb=0
if [ -x "$KBUILD_NS" ]; then have_kb=1; else say "import.sh: no kbuild-ns binary at $KBUILD_NS (set KBUILD_NS)"; fi

say "== inputs: $(du -sh "$CACHE/image.oci.tar" | cut -f1) OCI archive, $(du -sh "$CACHE/image.docker.tar" | cut -f1) docker-archive, $(du -cb "$L"/[0-9].tar | tail -1 | cut -f1 | awk '{printf "%.0f MB", $1/1e6}') of layer tars"
say "== warming the page cache (every input is read once; all runs are warm-cache)"
cat "$CACHE/image.oci.tar" "$CACHE/image.docker.tar" "$L"/* "$CACHE"/oci/blobs/sha256/* \
	"$CACHE"/oci-zstd/blobs/sha256/* >/dev/null

[ "$built" = 1 ] && touch "$marker"   # mmdebstrap just removed its chroot
settle
say "== timing as uid $TEST_UID; every run writes into a fresh directory under $WORK"
for n in $(seq 1 $((warmup + runs))); do
	if [ "$n" -le "$warmup" ]; then say "-- warm-up round $n of $warmup (untimed)"
	elif [ "$runs" -gt 1 ]; then say "-- round $((n - warmup)) of $runs"; fi
	if [ $have_kb = 1 ]; then
		want kbuild-ns && { fresh "$WORK/kb.$n"; timeit kbuild-ns "$n" "$KBUILD_NS" -q --state-dir "$WORK/kb.$n" image import "$CACHE/image.oci.tar" --name "$NAME"; }
		want kbuild-ns-docker && { fresh "$WORK/kbd.$n"; timeit kbuild-ns-docker "$n" "$KBUILD_NS" -q --state-dir "$WORK/kbd.$n" image import "$CACHE/image.docker.tar" --name "$NAME"; }
		want kbuild-ns-zstd && { fresh "$WORK/kbz.$n"; timeit kbuild-ns-zstd "$n" "$KBUILD_NS" -q --state-dir "$WORK/kbz.$n" image import "$CACHE/oci-zstd" --name "$NAME"; }
	fi
	if want umoci; then
		if command -v umoci >/dev/null; then
			fresh "$WORK/umoci.$n"
			timeit umoci "$n" umoci unpack --rootless --image "$CACHE/oci:$TAG" "$WORK/umoci.$n/bundle"
		else skipped[umoci]="umoci is not installed"; fi
	fi
	for p in podman podman-docker; do
		want $p || continue
		if ! command -v podman >/dev/null; then skipped[$p]="podman is not installed"; continue; fi
		in=$CACHE/image.oci.tar; [ $p = podman-docker ] && in=$CACHE/image.docker.tar
		fresh "$WORK/$p.$n"
		timeit $p "$n" sh -c "$podman_load" _ "$WORK/$p.$n" "$in"
	done
	want tar-xzf && { fresh "$WORK/tarz.$n"; timeit tar-xzf "$n" sh -c "$untar" _ "$WORK/tarz.$n" -xzf "$L"/[0-9].tar.gz; }
	want tar-x && { fresh "$WORK/tar.$n"; timeit tar-x "$n" sh -c "$untar" _ "$WORK/tar.$n" -xf "$L"/[0-9].tar; }
done

# Raw decompression of the largest layer, output to /dev/null.
big=$(ls -S "$L"/[0-9].tar | head -1)
bigsize=$(stat -c %s "$big")
inflate=""
rate() {   # rate LABEL CMD...: MB/s of uncompressed output
	local t0 t1
	command -v "$2" >/dev/null || { inflate+=$(printf '  %-10s not installed\n' "$1")$'\n'; return; }
	"${@:2}" >/dev/null 2>&1   # warm
	t0=$(date +%s%N)
	as_user "${@:2}" >/dev/null || { inflate+=$(printf '  %-10s failed\n' "$1")$'\n'; return; }
	t1=$(date +%s%N)
	inflate+=$(awk -v l="$1" -v b="$bigsize" -v ns=$((t1 - t0)) -v c="$3" \
		'BEGIN { printf "  %-10s %7.0f MB/s  (%.2f s for %.0f MB)", l, b / 1e6 / (ns / 1e9), ns / 1e9, b / 1e6 }')$'\n'
}
if want inflate; then
	rate "gzip -dc" gzip -dc "$big.gz"
	rate "igzip -dc" igzip -dc "$big.gz"
	rate "zstd -dc" zstd -dc "$big.zst"
fi

# ---------------------------------------------------------------------------
# Report

label() {
	case $1 in
	kbuild-ns) echo "kbuild-ns image import (OCI archive, gzip)" ;;
	kbuild-ns-docker) echo "kbuild-ns image import (docker-archive, plain)" ;;
	kbuild-ns-zstd) echo "kbuild-ns image import (OCI layout, zstd)" ;;
	umoci) echo "umoci unpack --rootless (OCI layout, gzip)" ;;
	podman) echo "podman load (OCI archive, gzip)" ;;
	podman-docker) echo "podman load (docker-archive, plain)" ;;
	tar-xzf) echo "tar -xzf, layers in sequence" ;;
	tar-x) echo "tar -x of plain layers (file-creation floor)" ;;
	esac
}
# median seconds and max RSS per row
summary=$(awk '{ s[$1] = s[$1] " " $2; if ($3 > m[$1]) m[$1] = $3 }
	END { for (r in s) { n = split(substr(s[r], 2), a, " ");
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		med = (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
		print r, med, m[r] } }' "$results")
get() { awk -v r="$1" -v f="$2" '$1 == r { print $f }' <<<"$summary"; }
kb_s=$(get kbuild-ns 2)

echo
echo "kbuild-ns import benchmark: $(nproc) cores, $(uname -r), $(df -PT "$WORK" | awk 'NR==2 {print $2}') work dir, warm page cache"
echo "image: 4 layers, $(awk -v b="$(du -cb "$L"/[0-9].tar | tail -1 | cut -f1)" 'BEGIN{printf "%.0f", b/1e6}') MB of layer tars, $(for f in "$L"/[0-9].tar; do tar -tf "$f"; done | wc -l) members; runs per tool: $runs$([ "$runs" -gt 1 ] && echo ' (median seconds, largest peak RSS)') after $warmup untimed warm-up round(s)"
echo
printf '%-48s %8s %12s %10s\n' "tool" "seconds" "vs kbuild-ns" "peak RSS"
for r in kbuild-ns kbuild-ns-docker kbuild-ns-zstd umoci podman podman-docker tar-xzf tar-x; do
	s=$(get "$r" 2)
	if [ -n "$s" ]; then
		k=$(get "$r" 3)
		ratio="-"
		[ -n "$kb_s" ] && ratio=$(awk -v a="$s" -v b="$kb_s" 'BEGIN { printf "%.2fx", (b > 0 ? a / b : 0) }')
		printf '%-48s %8.2f %12s %7.0f MB\n' "$(label $r)" "$s" "$ratio" "$(awk -v k="$k" 'BEGIN{print k/1024}')"
	elif [ -n "${skipped[$r]:-}" ]; then
		printf '%-48s skipped: %s\n' "$(label $r)" "${skipped[$r]}"
	elif [ $have_kb = 0 ] && [ "${r#kbuild-ns}" != "$r" ] && want "$r"; then
		printf '%-48s skipped: no binary at %s\n' "$(label $r)" "$KBUILD_NS"
	fi
done
if [ -n "$inflate" ]; then
	echo
	echo "decompressing the largest layer ($(basename "$big"), $((bigsize / 1000000)) MB) to /dev/null:"
	printf '%s' "$inflate"
fi
if [ -n "$kb_s" ]; then
	echo
	echo "targets: umoci/kbuild-ns >= 3.0, tar -xzf/kbuild-ns >= 1.5, kbuild-ns peak RSS < 64 MB"
	awk -v kb="$kb_s" -v u="$(get umoci 2)" -v t="$(get tar-xzf 2)" -v m="$(get kbuild-ns 3)" 'BEGIN {
		if (u != "") printf "  umoci:   %.2fx %s\n", u / kb, (u / kb >= 3 ? "met" : "NOT met")
		if (t != "") printf "  tar-xzf: %.2fx %s\n", t / kb, (t / kb >= 1.5 ? "met" : "NOT met")
		printf "  RSS:     %.0f MB %s\n", m / 1024, (m / 1024 < 64 ? "met" : "NOT met") }'
fi
# Sanity (untimed): kbuild-ns should have written as many entries as tar -x,
# less the opaque marker it turns into an xattr.
n=$((warmup + 1))
if [ -d "$WORK/kb.$n/store/layers" ] && [ -d "$WORK/tar.$n" ]; then
	a=$(as_user find "$WORK/kb.$n/store/layers" -mindepth 2 | wc -l)
	b=$(as_user find "$WORK/tar.$n" -mindepth 2 ! -name .wh..wh..opq | wc -l)
	echo
	if [ "$a" = "$b" ]; then echo "check: kbuild-ns and tar -x wrote the same number of entries ($a)"
	else echo "check: kbuild-ns wrote $a entries, tar -x $b (less opaque markers): they differ"; fi
fi
for r in "${!skipped[@]}"; do
	log=$(ls "$WORK/$r".*.log 2>/dev/null | head -1)
	[ -n "$log" ] && { echo; echo "--- $r output:"; tail -5 "$log"; }
done
exit 0
