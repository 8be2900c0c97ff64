#!/bin/bash
# bench/cache.sh: how fast `kbuild-ns cache export` and `cache import`
# carry a data sandbox, against `tar -I 'zstd -T0'` of the same tree (the
# floor for a zstd-compressed tar), and how warm a make starts from an
# imported cache.
#
# On a git copy of examples/kube-mini, as an unprivileged user, in one run:
#   make, cold              the first `kbuild-ns make` on a new state
#   make, warm local        a later make on the same state (nothing changed)
#   cache export            the data sandbox after those makes
#   tar -c | zstd -T0       the same directories (upper/, snapshot/_output)
#   cache import            into a new state directory (nothing to remove)
#   tar -x (zstd -d)        the floor's archive into a new directory
#   make after import       the make that follows the import
# then the same export and import (and floors) once more after adding a
# synthetic Go build cache (by default about 1 GB in about 70,000 files:
# 256 two-hex-digit directories of <hash>-a action records and <hash>-d
# outputs, compressible about 3:1, no two files alike) to the snapshot's
# _output.  It prints the wall-clock and CPU (user + system) seconds of
# each, and the ratios the issue sets targets for: export and import
# within 1.3x of the floor, the make after import within 1.2x of the warm
# local make.
#
# Usage: bench/cache.sh [--synth-mb N] [--synth-files N] [--no-synth] [--keep]
#   --synth-mb N     size of the synthetic cache in MB (default 1000)
#   --synth-files N  its number of files (default 70000)
#   --no-synth       only the kube-mini rows
#   --keep           leave the work directory in place (its path is printed)
# Environment:
#   KBUILD_NS              the binary (default: _build/src/kbuild-ns of this tree)
#   KBUILD_NS_MAKE_IMAGE   the kube-cross-like image archive (default: built
#                          once with images/kube-cross/build.sh and cached in
#                          $KBUILD_NS_BENCH_CACHE/make, as bench/make.sh does)
#   KBUILD_NS_BENCH_CACHE  the cache (default: bench/.cache)
#   KBUILD_NS_BENCH_WORK   where the checkouts, states and archives go
#                          (default: $TMPDIR or /tmp; about 4 GB with the
#                          default synthetic cache)
#   BENCH_SETTLE           seconds to wait after a large deletion before
#                          timing (default 300; see "ext4" in bench/README.md)
#   KBUILD_NS_VERSION_STEP passed on to every kbuild-ns: "always" makes the
#                          warm local make run the version step too, as
#                          the first make after an import must (the
#                          cache's own effect, without that difference)
#
# The floor's tar runs as root when the script is started as root (the
# data layer holds whiteouts, character devices only root may create, and
# may hold files of subordinate ids), with --no-same-owner on extraction;
# otherwise as the user, and a floor that fails is reported as skipped.
# Warm page cache throughout: every tree is read from memory, and `sync`
# runs before each timed command.
set -u
set -o pipefail
export LC_ALL=C

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
CACHE=${KBUILD_NS_BENCH_CACHE:-$here/.cache}/make
EXAMPLE=$srcdir/examples/kube-mini

synth_mb=1000 synth_files=70000 synth=1 keep=0 only=""
while [ $# -gt 0 ]; do
	case $1 in
	--synth-mb) synth_mb=$2; shift 2 ;;
	--synth-mb=*) synth_mb=${1#*=}; shift ;;
	--synth-files) synth_files=$2; shift 2 ;;
	--synth-files=*) synth_files=${1#*=}; shift ;;
	--no-synth) synth=0; shift ;;
	--keep) keep=1; shift ;;
	-h|--help) usage; exit 0 ;;
	*) echo "cache.sh: unknown argument: $1 (try --help)" >&2; exit 2 ;;
	esac
done
case $synth_mb$synth_files in *[!0-9]*) die "--synth-mb and --synth-files want numbers" ;; esac
for t in zstd tar git python3 /usr/bin/time; do command -v "$t" >/dev/null || die "$t is not installed"; done
[ -x "$KBUILD_NS" ] || die "no kbuild-ns binary at $KBUILD_NS (set KBUILD_NS)"
TAG=$(cat "$EXAMPLE/build/build-image/cross/VERSION" 2>/dev/null) || die "no cross/VERSION in $EXAMPLE"

bench_user
user_env=(USER="$TEST_USER" LOGNAME="$TEST_USER")
[ -z "${KBUILD_NS_VERSION_STEP:-}" ] || user_env+=(KBUILD_NS_VERSION_STEP="$KBUILD_NS_VERSION_STEP")
make_work kbuild-ns-cache bin log floor
cleanup() {
	if [ "$keep" = 1 ]; then
		say "work directory kept: $WORK"
	else
		say "== removing the work directory (after all timings)"
		rm_tree "$WORK" 2>/dev/null || say "cache.sh: could not remove all of $WORK"
		touch "$marker" 2>/dev/null
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------
# The image, the binary, the checkout

IMAGE_ARCHIVE=${KBUILD_NS_MAKE_IMAGE:-}
if [ -z "$IMAGE_ARCHIVE" ]; then
	mkdir -p "$CACHE"
	say "== the kube-cross image for $TAG (images/kube-cross/build.sh; cached in $CACHE)"
	sh "$srcdir/images/kube-cross/build.sh" -q --tag "$TAG" --cache "$CACHE" "$CACHE/kube-cross.tar" \
		>"$WORK/log/image-build" 2>&1 || die "images/kube-cross/build.sh failed: $(last_line "$WORK/log/image-build")"
	IMAGE_ARCHIVE=$CACHE/kube-cross.tar
fi
if ! as_user test -r "$IMAGE_ARCHIVE"; then
	cp "$IMAGE_ARCHIVE" "$WORK/kube-cross.tar" && user_own "$WORK/kube-cross.tar" || die "cannot copy $IMAGE_ARCHIVE"
	IMAGE_ARCHIVE=$WORK/kube-cross.tar
fi
copy_kbuild_ns

KM=$WORK/km
as_user mkdir "$KM" &&
	tar -C "$EXAMPLE" --exclude=./_output --exclude=./_tmp -cf - . | as_user tar -C "$KM" -xf - &&
	as_user git -C "$KM" init -q -b master &&
	as_user git -C "$KM" add -A &&
	as_user git -C "$KM" -c user.name=bench -c user.email=bench@example.invalid commit -q -m "kube-mini" ||
	die "making the checkout $KM failed"

# kb STATE ARGS...: kbuild-ns on the checkout with state directory STATE
# (untimed; the timed rows spell the same command out for timeit).
kb() { local st=$1; shift; as_user "$KBUILD_NS" -q --state-dir "$st" -C "$KM" "$@"; }
import_image() {
	as_user "$KBUILD_NS" -q --state-dir "$1" image import "$IMAGE_ARCHIVE" >"$WORK/log/import.$(basename "$1")" 2>&1 ||
		die "image import into $1 failed: $(last_line "$WORK/log/import.$(basename "$1")")"
}

# ---------------------------------------------------------------------------
# Timing

results=$WORK/results    # lines: ROW SECONDS CPU-SECONDS (user + system)
: >"$results"
loads=()
# timeit ROW CMD...: one timed run as the user; timeroot: as the caller.
timeit() { _time as_user "$@"; }
timeroot() { _time "" "$@"; }
_time() {
	local how=$1 row=$2; shift 2
	local log=$WORK/log/$row.log tf=$WORK/log/$row.time
	sync
	loads+=("$(cut -d' ' -f1 /proc/loadavg)")
	$how /usr/bin/time -f '%e %U %S' -o "$tf" "$@" >"$log" 2>&1
	local rc=$?
	if [ "$rc" != 0 ]; then
		say "   $row: failed (exit $rc): $(grep -v -E '^(Command exited|[0-9. ]+$)' "$log" | tail -1)"
		echo "$row FAILED FAILED" >>"$results"
		return 1
	fi
	read -r s u k <"$tf"
	local c
	c=$(awk -v u="$u" -v k="$k" 'BEGIN { printf "%.2f", u + k }')
	echo "$row $s $c" >>"$results"
	say "   $row: $s s ($c s CPU)"
}
# The floor as root when root (see the header), else as the user.
floor() { if [ "$(id -u)" = 0 ]; then timeroot "$@"; else timeit "$@"; fi; }
fresh() { mkdir -p "$1" && user_own "$1"; }

# data_dir STATE: the checkout's data sandbox in STATE.
data_dir() { ls -d "$1"/projects/*/ 2>/dev/null | head -1 | sed 's:/$::'; }
# payload DIR: what an export carries (upper/, snapshot/_output), for the floor.
payload() { (cd "$1" && ls -d upper snapshot/_output 2>/dev/null); }
# tree_size DIR: "N files, M MB" of the payload.
tree_size() {
	(cd "$1" && find $(payload "$1") -type f -printf '%s\n' 2>/dev/null) |
		awk '{ n++; b += $1 } END { printf "%d files, %.0f MB", n, b / 1e6 }'
}

settle
say "== timing as uid $TEST_UID in $WORK"
ST=$WORK/state
import_image "$ST"
say "-- kube-mini"
timeit make-cold "$KBUILD_NS" -q --state-dir "$ST" -C "$KM" make || die "the cold make failed; see $WORK/log/make-cold.log"
kb "$ST" make >"$WORK/log/make-settle.log" 2>&1 || die "the second make failed"
timeit make-warm "$KBUILD_NS" -q --state-dir "$ST" -C "$KM" make
D=$(data_dir "$ST")
[ -n "$D" ] || die "no data sandbox under $ST/projects"
km_size=$(tree_size "$D")
timeit export-km "$KBUILD_NS" -q --state-dir "$ST" -C "$KM" cache export "$WORK/km.cache.tar.zst"
# shellcheck disable=SC2046
floor floor-c-km tar -C "$D" -I 'zstd -T0' -cf "$WORK/floor/km.tar.zst" $(payload "$D")
ST2=$WORK/state2
import_image "$ST2"
timeit import-km "$KBUILD_NS" -q --state-dir "$ST2" -C "$KM" cache import "$WORK/km.cache.tar.zst"
fresh "$WORK/floor/km.x"
floor floor-x-km tar -C "$WORK/floor/km.x" -I 'zstd -T0' --no-same-owner -xf "$WORK/floor/km.tar.zst"
timeit make-after-import "$KBUILD_NS" -q --state-dir "$ST2" -C "$KM" make
km_bytes="$(stat -c %s "$WORK/km.cache.tar.zst") $(stat -c %s "$WORK/floor/km.tar.zst")"

if [ "$synth" = 1 ]; then
	say "-- a synthetic Go build cache: $synth_mb MB in $synth_files files (untimed generation)"
	G=$D/snapshot/_output/dockerized/go/cache/synthetic
	as_user python3 - "$G" "$synth_mb" "$synth_files" <<-'EOF' || die "generating the synthetic cache failed"
	# Go's cache layout: 256 directories 00..ff, <64 hex>-a action records
	# (about 130 bytes of text) and <64 hex>-d outputs.  Half the files are
	# each; output sizes are spread like objects (many small, some large,
	# up to about 2 MB) and scaled to the total.  Each output is a random
	# quarter repeated four times: compressible about 3-4:1 within the file,
	# and no two files share data.
	import os, random, sys
	root, mb, nfiles = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
	rnd = random.Random(15)
	nout = nfiles // 2
	weights = [min(rnd.lognormvariate(9.0, 1.6), 2e6) for _ in range(nout)]
	scale = mb * 1e6 / sum(weights)
	for d in range(256):
	    os.makedirs(os.path.join(root, "%02x" % d), exist_ok=True)
	def name():
	    h = "%064x" % rnd.getrandbits(256)
	    return os.path.join(root, h[:2], h)
	for w in weights:
	    n = max(int(w * scale), 64)
	    q = rnd.randbytes((n + 3) // 4)
	    p = name()
	    with open(p + "-d", "wb") as f:
	        f.write((q * 4)[:n])
	    with open(p + "-a", "w") as f:
	        f.write("v1 %064x %064x %20d %20d\n" % (rnd.getrandbits(256), rnd.getrandbits(256), n, 1733480000000000000))
	EOF
	find "$G" -type f -exec cat {} + >/dev/null   # warm
	synth_size=$(tree_size "$D")
	timeit export-synth "$KBUILD_NS" -q --state-dir "$ST" -C "$KM" cache export "$WORK/synth.cache.tar.zst"
	# shellcheck disable=SC2046
	floor floor-c-synth tar -C "$D" -I 'zstd -T0' -cf "$WORK/floor/synth.tar.zst" $(payload "$D")
	ST3=$WORK/state3
	import_image "$ST3"
	cat "$WORK/synth.cache.tar.zst" "$WORK/floor/synth.tar.zst" >/dev/null   # warm
	timeit import-synth "$KBUILD_NS" -q --state-dir "$ST3" -C "$KM" cache import "$WORK/synth.cache.tar.zst"
	fresh "$WORK/floor/synth.x"
	floor floor-x-synth tar -C "$WORK/floor/synth.x" -I 'zstd -T0' --no-same-owner -xf "$WORK/floor/synth.tar.zst"
	synth_bytes="$(stat -c %s "$WORK/synth.cache.tar.zst") $(stat -c %s "$WORK/floor/synth.tar.zst")"
fi

# ---------------------------------------------------------------------------
# Report

# get ROW [FIELD]: seconds (2, the default) or CPU seconds (3) of ROW.
get() { awk -v r="$1" -v f="${2:-2}" '$1 == r { print $f }' "$results"; }
# ratio A B [FIELD]: A / B in wall-clock (default) or CPU seconds.
ratio() { awk -v a="$(get "$1" "${3:-2}")" -v b="$(get "$2" "${3:-2}")" 'BEGIN { if (a == "" || b == "" || a == "FAILED" || b == "FAILED" || b <= 0) print "-"; else printf "%.2fx", a / b }'; }
verdict() {   # verdict A B LIMIT: "met" or "NOT met" for A/B <= LIMIT
	awk -v a="$(get "$1")" -v b="$(get "$2")" -v l="$3" 'BEGIN {
		if (a == "" || b == "" || a == "FAILED" || b == "FAILED" || b <= 0) print "not measured";
		else print (a / b <= l ? "met" : "NOT met") }'
}
mb() { awk -v b="$1" 'BEGIN { printf "%.0f MB", b / 1e6 }'; }
row() { printf '%-46s %9s %9s\n' "$1" "$(get "$2")" "$(get "$2" 3)"; }

echo
echo "kbuild-ns cache benchmark: $(nproc) cores, $(uname -r), $(df -PT "$WORK" | awk 'NR==2 {print $2}') work dir, warm page cache, one run"
echo "load average (1 min) at each timed command: ${loads[*]}"
echo
printf '%-46s %9s %9s\n' "" seconds "CPU s"
echo "kube-mini data sandbox ($km_size):"
row "  make, cold (new state)" make-cold
row "  make, warm local (same state, no change)" make-warm
row "  make after cache import (new state)" make-after-import
row "  kbuild-ns cache export" export-km
row "  tar -I 'zstd -T0' -c (floor)" floor-c-km
row "  kbuild-ns cache import" import-km
row "  tar -I 'zstd -T0' -x (floor)" floor-x-km
read -r a b <<<"$km_bytes"
echo "  archive: kbuild-ns $(mb "$a"), tar+zstd $(mb "$b")"
if [ "$synth" = 1 ]; then
	echo
	echo "kube-mini plus a synthetic Go cache ($synth_size):"
	row "  kbuild-ns cache export" export-synth
	row "  tar -I 'zstd -T0' -c (floor)" floor-c-synth
	row "  kbuild-ns cache import" import-synth
	row "  tar -I 'zstd -T0' -x (floor)" floor-x-synth
	read -r a b <<<"$synth_bytes"
	echo "  archive: kbuild-ns $(mb "$a"), tar+zstd $(mb "$b")"
fi
echo
echo "ratios and targets:"
line() { printf '  %-46s %7s %7s  %s\n' "$1" "$(ratio "$2" "$3")" "$(ratio "$2" "$3" 3)" "$(verdict "$2" "$3" "$4")"; }
printf '  %-46s %7s %7s  %s\n' "" wall CPU "target (wall clock)"
line "export / floor, kube-mini (<= 1.3x)" export-km floor-c-km 1.3
line "import / floor, kube-mini (<= 1.3x)" import-km floor-x-km 1.3
if [ "$synth" = 1 ]; then
	line "export / floor, synthetic (<= 1.3x)" export-synth floor-c-synth 1.3
	line "import / floor, synthetic (<= 1.3x)" import-synth floor-x-synth 1.3
fi
line "make after import / warm local make (<= 1.2x)" make-after-import make-warm 1.2
printf '  %-46s %7s %7s\n' "make after import / cold make" "$(ratio make-after-import make-cold)" "$(ratio make-after-import make-cold 3)"
exit 0
