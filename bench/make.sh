#!/bin/bash
# bench/make.sh: what `kbuild-ns make` adds to a build that has nothing to
# do, side by side with the same make run natively and in bwrap.
#
# On copies of examples/kube-mini (each made a git checkout), after one
# untimed full build of each, it times with hyperfine, as an unprivileged
# user, the second and later runs of:
#   kbuild-ns make            kbuild-ns -C KM make: lock, sync-in, make in the
#                             build sandbox on the kube-cross image, copy-out
#   make, native              make -C KM on the host (golang-go of the host)
#   make in bwrap             the same make in bwrap: user, pid, ipc, uts
#                             and net namespaces, the host's root read-only,
#                             the checkout read-write, a tmpfs /tmp
#   kbuild-ns run --source bind --no-copy-output -- make
#                             make in the build sandbox on the checkout
#                             itself: no sync, no copy-out
# and, to split kbuild-ns's own overhead:
#   kbuild-ns run -- true     the snapshot path: sync-in, the build sandbox,
#                             copy-out
#   kbuild-ns run --source bind --no-copy-output -- true
#                             the build sandbox alone
# It prints the mean, median and fastest time of each, kbuild-ns make's
# overhead over native make, and how it splits.
#
# Usage: bench/make.sh [--runs N] [--warmup N] [--only LIST] [--keep]
#   --runs N     timed runs of each row (default 20)
#   --warmup N   untimed runs of each row before its timed ones (default 3)
#   --only LIST  comma-separated rows: kbuild-ns,native,bwrap,bind-make,
#                run-true,bind-true
#   --keep       leave the work directory in place (its path is printed)
# Environment:
#   KBUILD_NS              the binary (default: _build/src/kbuild-ns of this tree)
#   KBUILD_NS_MAKE_IMAGE   an image archive to use (default: built once with
#                          images/kube-cross/build.sh and cached in
#                          $KBUILD_NS_BENCH_CACHE/make; that needs mmdebstrap,
#                          umoci, skopeo and the Debian archive)
#   KBUILD_NS_BENCH_CACHE  the cache (default: bench/.cache)
#   KBUILD_NS_BENCH_WORK   where the checkouts and the state go (default:
#                          $TMPDIR or /tmp)
#   BENCH_SETTLE           seconds to wait after a large deletion before
#                          timing (default 300; see "ext4" in bench/README.md)
#
# Needs hyperfine, git, golang-go and make on the host (the native rows),
# bwrap (Debian package bubblewrap) for its row.  When started as root,
# every timed command runs as user kbuildns-test (created with useradd if
# absent; 65534 if that fails), as bench/import.sh does.  See "make.sh" in
# bench/README.md.
set -u
set -o pipefail
export LC_ALL=C

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
CACHE=${KBUILD_NS_BENCH_CACHE:-$here/.cache}/make
EXAMPLE=$srcdir/examples/kube-mini

runs=20 warmup=3 only="" keep=0
while [ $# -gt 0 ]; do
	case $1 in
	--runs) runs=$2; shift 2 ;;
	--runs=*) runs=${1#*=}; shift ;;
	--warmup) warmup=$2; shift 2 ;;
	--warmup=*) warmup=${1#*=}; shift ;;
	--only) only=$2; shift 2 ;;
	--only=*) only=${1#*=}; shift ;;
	--keep) keep=1; shift ;;
	-h|--help) usage; exit 0 ;;
	*) echo "make.sh: unknown argument: $1 (try --help)" >&2; exit 2 ;;
	esac
done
case $runs in ''|*[!0-9]*|0|1) echo "make.sh: --runs wants a number of at least 2" >&2; exit 2 ;; esac
case $warmup in ''|*[!0-9]*) echo "make.sh: --warmup wants a number" >&2; exit 2 ;; esac

command -v hyperfine >/dev/null || die "hyperfine is not installed (Debian package hyperfine)"
command -v git >/dev/null || die "git is not installed"
[ -f "$EXAMPLE/Makefile" ] || die "no $EXAMPLE/Makefile"
TAG=$(cat "$EXAMPLE/build/build-image/cross/VERSION" 2>/dev/null) || die "no cross/VERSION in $EXAMPLE"

# ---------------------------------------------------------------------------
# Who runs the timed commands, and where (bench/lib.sh)

bench_user
user_env=(USER="$TEST_USER" LOGNAME="$TEST_USER")
make_work kbuild-ns-make bin log

cleanup() {
	if [ "$keep" = 1 ]; then
		say "work directory kept: $WORK"
	else
		rm_tree "$WORK" 2>/dev/null || say "make.sh: could not remove all of $WORK (files of subordinate ids?)"
		touch "$marker" 2>/dev/null
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

declare -A skipped cmdline
rows=(kbuild-ns native bwrap bind-make run-true bind-true)
label() {
	case $1 in
	kbuild-ns) echo "kbuild-ns make" ;;
	native) echo "make, native (host go)" ;;
	bwrap) echo "make in bwrap (host root)" ;;
	bind-make) echo "kbuild-ns run --source bind --no-copy-output -- make" ;;
	run-true) echo "kbuild-ns run -- true (sync-in, copy-out)" ;;
	bind-true) echo "kbuild-ns run --source bind --no-copy-output -- true" ;;
	esac
}

# ---------------------------------------------------------------------------
# The image and the binary

IMAGE_ARCHIVE=${KBUILD_NS_MAKE_IMAGE:-}
if [ -z "$IMAGE_ARCHIVE" ] && [ -f "$srcdir/images/kube-cross/build.sh" ]; then
	mkdir -p "$CACHE"
	say "== the kube-cross image for $TAG (images/kube-cross/build.sh; cached in $CACHE)"
	if sh "$srcdir/images/kube-cross/build.sh" -q --tag "$TAG" --cache "$CACHE" "$CACHE/kube-cross.tar" >"$WORK/log/image-build" 2>&1; then
		IMAGE_ARCHIVE=$CACHE/kube-cross.tar
		chmod a+r "$IMAGE_ARCHIVE" 2>/dev/null
	else
		say "make.sh: images/kube-cross/build.sh failed: $(last_line "$WORK/log/image-build")"
	fi
fi
have_kb=1
kb_rows="kbuild-ns bind-make run-true bind-true"
if [ ! -x "$KBUILD_NS" ]; then
	have_kb=0 why="no kbuild-ns binary at $KBUILD_NS (set KBUILD_NS)"
elif [ -z "$IMAGE_ARCHIVE" ] || [ ! -r "$IMAGE_ARCHIVE" ]; then
	have_kb=0 why="no image archive (images/kube-cross/build.sh failed, or set KBUILD_NS_MAKE_IMAGE)"
else
	copy_kbuild_ns
fi
[ $have_kb = 1 ] || for r in $kb_rows; do skipped[$r]=$why; done

# ---------------------------------------------------------------------------
# The checkouts: one per row that builds, so that no row's output or
# regenerated files reach another's; each a git repository, as a real
# checkout is (the version stamps come from git).

ST=$WORK/state
mkcheckout() {
	local d=$WORK/$1
	as_user mkdir "$d" &&
		tar -C "$EXAMPLE" --exclude=./_output --exclude=./_tmp -cf - . | as_user tar -C "$d" -xf - &&
		as_user git -C "$d" init -q -b master &&
		as_user git -C "$d" add -A &&
		as_user git -C "$d" -c user.name=bench -c user.email=bench@example.invalid commit -q -m "kube-mini" ||
		die "making the checkout $d failed"
}
for c in km km-native km-bwrap km-bind; do mkcheckout $c; done

if [ $have_kb = 1 ]; then
	say "== importing $IMAGE_ARCHIVE"
	if ! as_user "$KBUILD_NS" -q --state-dir "$ST" image import "$IMAGE_ARCHIVE" >"$WORK/log/import" 2>&1; then
		for r in $kb_rows; do skipped[$r]="image import failed: $(last_line "$WORK/log/import")"; done
		have_kb=0
	fi
fi
IMG_OPT=""
if [ $have_kb = 1 ] && ! as_user "$KBUILD_NS" --state-dir "$ST" image inspect "kube-cross:$TAG" >/dev/null 2>&1; then
	# an archive under another name: use whatever it was imported as
	ref=$(as_user "$KBUILD_NS" --state-dir "$ST" image ls 2>/dev/null | awk 'NR == 2 { print $1 }')
	[ -n "$ref" ] && IMG_OPT="--image $ref"
fi

KB="$KBUILD_NS -q --state-dir $ST"
[ $have_kb = 1 ] && {
	cmdline[kbuild-ns]="$KB -C $WORK/km make $IMG_OPT"
	cmdline[bind-make]="$KB -C $WORK/km-bind run $IMG_OPT --source bind --no-copy-output -- make"
	cmdline[run-true]="$KB -C $WORK/km run $IMG_OPT -- true"
	cmdline[bind-true]="$KB -C $WORK/km run $IMG_OPT --source bind --no-copy-output -- true"
}
if command -v go >/dev/null && command -v make >/dev/null; then
	cmdline[native]="make -C $WORK/km-native"
	if command -v bwrap >/dev/null; then
		cmdline[bwrap]="bwrap --unshare-user --unshare-pid --unshare-ipc --unshare-uts --unshare-net --die-with-parent --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp --bind $WORK/km-bwrap $WORK/km-bwrap --chdir $WORK/km-bwrap make"
	else
		skipped[bwrap]="bwrap is not installed (Debian package bubblewrap)"
	fi
else
	skipped[native]="go or make is not installed on the host (apt-get install golang-go make)"
	skipped[bwrap]=${skipped[native]}
fi

# Two untimed runs of each: the full build, then one that settles what the
# first left (copy-out of generated files, their mtimes); a row that fails
# is skipped with its last line of output.  A failed first run is tried
# again once (and said under the table): kbuild-ns's first snapshot run on
# a new state directory has been seen to fail where the next one works.
declare -A notes
for r in "${rows[@]}"; do
	want "$r" && [ -n "${cmdline[$r]:-}" ] || continue
	say "== $(label "$r"): first build (untimed)"
	read -r -a argv <<<"${cmdline[$r]}"
	ok=0 failed_first=""
	for i in 1 2 3; do
		if as_user "${argv[@]}" >"$WORK/log/$r.first$i" 2>&1 </dev/null; then
			ok=$((ok + 1))
			[ $ok = 2 ] && break
		elif [ $i = 1 ]; then
			failed_first=$(last_line "$WORK/log/$r.first$i")
		else
			break
		fi
	done
	if [ $ok -lt 2 ]; then
		skipped[$r]="untimed run $i failed: $(last_line "$WORK/log/$r.first$i")"
		unset "cmdline[$r]"
	elif [ -n "$failed_first" ]; then
		notes[$r]="$(label "$r"): the first (untimed) run failed ($failed_first); the next ones worked"
	fi
done

# ---------------------------------------------------------------------------
# Timing: one hyperfine per row, without an intermediate shell (-N)

settle
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
touch "$WORK/timing-start"
for r in "${rows[@]}"; do
	want "$r" && [ -n "${cmdline[$r]:-}" ] || continue
	say "== $(label "$r"): $warmup warm-up + $runs timed runs"
	if ! as_user hyperfine -N --style none --warmup "$warmup" --runs "$runs" \
		--output "$WORK/log/$r.output" --export-json "$WORK/$r.json" "${cmdline[$r]}" \
		>"$WORK/log/$r.hyperfine" 2>&1; then
		skipped[$r]="hyperfine failed: $(last_line "$WORK/log/$r.hyperfine")"
		rm -f "$WORK/$r.json"
	fi
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# What a make with nothing to do still writes (here: go install updates
# the targets under the Go workspace's bin/ on every run; kbuild-ns's
# workspace is in the snapshot under _output/dockerized/go/, which copy-out
# never brings back).
noop_note=""
for d in km km-native km-bwrap km-bind; do
	[ -d "$WORK/$d/_output" ] || continue
	newer=$(find "$WORK/$d/_output" -path '*/bin/*' -type f -newer "$WORK/timing-start" 2>/dev/null | wc -l)
	noop_note+="$d: $newer; "
done

# ---------------------------------------------------------------------------
# Report

stats=$(hyperfine_stats "${rows[@]}")
get() { awk -v r="$1" -v f="$2" '$1 == r { print $f }' <<<"$stats"; }
nat=$(get native 2)

echo
echo "kbuild-ns make benchmark: $(nproc) cores, $(uname -r), $(df -PT "$WORK" | awk 'NR==2 {print $2}') work dir, as uid $TEST_UID"
[ -n "${KBUILD_NS_SRC:-}" ] && echo "kbuild-ns: $KBUILD_NS_SRC ($(bin_id "$KBUILD_NS_SRC"))"
[ -n "$IMAGE_ARCHIVE" ] && echo "image: $IMAGE_ARCHIVE${IMG_OPT:+ (}${IMG_OPT#--image }${IMG_OPT:+)}"
echo "checkout: examples/kube-mini ($(as_user git -C "$WORK/km" ls-files | wc -l) files); host $(go version 2>/dev/null | cut -d' ' -f3)"
echo "hyperfine -N, $warmup warm-up + $runs runs per row, after two untimed runs (the build, then one no-op); load average before $load_before, after $load_after"
echo
printf '| %-52s | %9s | %7s | %9s | %8s | %10s |\n' "row (a make with nothing to do)" "mean ms" "± σ" "median ms" "min ms" "vs native"
printf '|%s|%s:|%s:|%s:|%s:|%s:|\n' "$(dashes 54)" "$(dashes 10)" "$(dashes 8)" "$(dashes 10)" "$(dashes 9)" "$(dashes 11)"
for r in "${rows[@]}"; do
	want "$r" || continue
	m=$(get "$r" 2)
	if [ -n "$m" ]; then
		d="-"
		[ -n "$nat" ] && case $r in kbuild-ns|bwrap|bind-make) d=$(awk -v a="$m" -v b="$nat" 'BEGIN { printf "%+.0f ms", a - b }') ;; esac
		printf '| %-52s | %9.1f | %7.1f | %9.1f | %8.1f | %10s |\n' "$(label "$r")" "$m" "$(get "$r" 3)" "$(get "$r" 4)" "$(get "$r" 5)" "$d"
	else
		printf '| %-52s | skipped: %s\n' "$(label "$r")" "${skipped[$r]:-not run}"
	fi
done
echo
k=$(get kbuild-ns 2) rt=$(get run-true 2) bt=$(get bind-true 2) bm=$(get bind-make 2)
if [ -n "$k" ] && [ -n "$nat" ]; then
	awk -v k="$k" -v n="$nat" 'BEGIN { printf "target (issue 4): kbuild-ns make overhead over native make under 150 ms: %+.0f ms  %s\n", k - n, (k - n < 150 ? "met" : "NOT met") }'
fi
if [ -n "$rt" ] && [ -n "$bt" ]; then
	echo "kbuild-ns's own overhead, split (means):"
	awk -v rt="$rt" -v bt="$bt" -v bm="$bm" -v n="$nat" -v k="$k" 'BEGIN {
		printf "  the build sandbox (run --source bind --no-copy-output -- true)   %6.1f ms\n", bt
		printf "  sync-in + copy-out (run -- true minus the above)                 %6.1f ms\n", rt - bt
		if (bm != "" && n != "") printf "  make in the sandbox vs on the host (bind make minus native)      %+6.1f ms (the image'"'"'s toolchain, /tmp, namespaces)\n", bm - n
		if (k != "" && bm != "") printf "  kbuild-ns make minus bind make                                   %+6.1f ms (should be about the sync-in + copy-out line)\n", k - bm }'
fi
[ -n "$noop_note" ] && { echo; echo "files under _output/**/bin/ of each checkout modified during the timed runs: ${noop_note%; }"; }
for r in "${!notes[@]}"; do echo "note: ${notes[$r]}"; done
for r in "${rows[@]}"; do
	[ -n "${skipped[$r]:-}" ] && want "$r" || continue
	for log in "$WORK/log/$r.first1" "$WORK/log/$r.first2" "$WORK/log/$r.hyperfine"; do
		show_log "$r" "$log"
	done
done
exit 0
