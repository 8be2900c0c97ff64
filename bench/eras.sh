#!/bin/bash
# bench/eras.sh: what `kbuild-ns make` adds to a make with nothing to do on
# the 2017-shaped Kubernetes tree of tests/fixtures/kube-eras (its own
# rsync filters, .make/ records, Dockerfile and version step: issue 11),
# against the same make run natively.
#
# Two checkouts of the tree (mktree.sh 2017), each built twice untimed (the
# build, then a no-op that settles what the first left); then, as an
# unprivileged user, hyperfine times the no-op make of each row:
#   kbuild-ns make      kbuild-ns -C E17 make: lock, sync-in with the tree's
#                       rules, the version step, make in the build sandbox,
#                       copy-out with the tree's rules
#   make, native        make -C E17-NATIVE with the host's go
# and, to split kbuild-ns's part:
#   run -- true         kbuild-ns run -- true: the same without make
#   bind -- true        kbuild-ns run --source bind --no-copy-output -- true:
#                       the build sandbox alone
# It prints each row's mean, median and fastest time, and kbuild-ns make's
# overhead over native make, in milliseconds and as a ratio; the goal of
# issue 11 is an overhead under 150 ms.  The no-op make itself runs the
# tree's generators' checks and `go build`, which compiles and links
# nothing (the version stamps do not change, and buildDate is stamped only
# with SOURCE_DATE_EPOCH).
#
# Usage: bench/eras.sh [--runs N] [--warmup N] [--only LIST] [--keep]
#   --runs N     timed runs of each row (default 10)
#   --warmup N   untimed runs before them (default 2)
#   --only LIST  comma-separated rows: kbuild-ns,native,run-true,bind-true
#   --keep       leave the work directory in place (its path is printed)
# Environment:
#   KBUILD_NS              the binary (default: _build/src/kbuild-ns)
#   KBUILD_NS_ERAS_IMAGE   an image archive with kube-cross:v1.15.15-1 (the
#                          2017 tree's tag; default: make.sh's image, built
#                          once with images/kube-cross/build.sh into
#                          $KBUILD_NS_BENCH_CACHE/make, turned into the
#                          2017 kube-cross by tests/fixtures/kube-eras/oldcross.py)
#   KBUILD_NS_BENCH_CACHE  the cache (default: bench/.cache)
#   KBUILD_NS_BENCH_WORK   where the checkouts and the state go
#   BENCH_SETTLE           seconds to wait after a large deletion (default 300)
# Needs hyperfine, git, python3, and golang-go and make for the native row.
set -u
set -o pipefail
export LC_ALL=C

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
CACHE=${KBUILD_NS_BENCH_CACHE:-$here/.cache}/make
ERAS=$srcdir/tests/fixtures/kube-eras
MINI_TAG=$(cat "$srcdir/examples/kube-mini/build/build-image/cross/VERSION" 2>/dev/null)

runs=10 warmup=2 only="" keep=0
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
	*) die "unknown argument: $1 (try --help)" ;;
	esac
done
case $runs in ''|*[!0-9]*|0|1) die "--runs wants a number of at least 2" ;; esac
case $warmup in ''|*[!0-9]*) die "--warmup wants a number" ;; esac
for t in hyperfine git python3; do command -v $t >/dev/null || die "$t is not installed"; done
[ -x "$KBUILD_NS" ] || die "no kbuild-ns binary at $KBUILD_NS (set KBUILD_NS)"

bench_user
user_env=(USER="$TEST_USER" LOGNAME="$TEST_USER")
make_work kbuild-ns-eras bin log
cleanup() {
	if [ "$keep" = 1 ]; then
		say "work directory kept: $WORK"
	else
		chmod -R u+rwx "$WORK" 2>/dev/null
		rm -rf "$WORK" 2>/dev/null || say "$me: could not remove all of $WORK"
		touch "$marker" 2>/dev/null
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
copy_kbuild_ns

# ---- the image --------------------------------------------------------------
ARCHIVE=${KBUILD_NS_ERAS_IMAGE:-}
if [ -z "$ARCHIVE" ]; then
	mkdir -p "$CACHE"
	say "== the kube-cross image for $MINI_TAG (images/kube-cross/build.sh; cached in $CACHE)"
	sh "$srcdir/images/kube-cross/build.sh" -q --tag "$MINI_TAG" --cache "$CACHE" "$CACHE/kube-cross.tar" \
		>"$WORK/log/image-build" 2>&1 || die "images/kube-cross/build.sh failed: $(last_line "$WORK/log/image-build")"
	python3 "$ERAS/oldcross.py" "$CACHE/kube-cross.tar" "$WORK/eras.tar" v1.15.15-1 >"$WORK/log/oldcross" 2>&1 ||
		die "oldcross.py failed: $(last_line "$WORK/log/oldcross")"
	chmod a+r "$WORK/eras.tar"
	ARCHIVE=$WORK/eras.tar
fi
ST=$WORK/state
say "== importing $ARCHIVE"
as_user "$KBUILD_NS" -q --state-dir "$ST" image import "$ARCHIVE" >"$WORK/log/import" 2>&1 ||
	die "image import failed: $(last_line "$WORK/log/import")"

# ---- the checkouts ----------------------------------------------------------
for c in e17 e17-native; do
	as_user sh "$ERAS/mktree.sh" 2017 "$WORK/$c" >"$WORK/log/mktree-$c" 2>&1 || die "mktree.sh failed"
done
KB="$KBUILD_NS -q --state-dir $ST"
declare -A cmdline skipped
rows=(kbuild-ns native run-true bind-true)
cmdline[kbuild-ns]="$KB -C $WORK/e17 make"
cmdline[run-true]="$KB -C $WORK/e17 run -- true"
cmdline[bind-true]="$KB -C $WORK/e17 run --source bind --no-copy-output -- true"
if command -v go >/dev/null && command -v make >/dev/null; then
	cmdline[native]="make -C $WORK/e17-native"
else
	skipped[native]="go or make is not installed on the host"
fi
label() {
	case $1 in
	kbuild-ns) echo "kbuild-ns make" ;;
	native) echo "make, native (host go)" ;;
	run-true) echo "kbuild-ns run -- true" ;;
	bind-true) echo "kbuild-ns run --source bind --no-copy-output -- true" ;;
	esac
}
for r in kbuild-ns native; do
	want "$r" && [ -n "${cmdline[$r]:-}" ] || continue
	say "== $(label "$r"): the build and a no-op (untimed)"
	read -r -a argv <<<"${cmdline[$r]}"
	for i in 1 2; do
		as_user "${argv[@]}" >"$WORK/log/$r.first$i" 2>&1 </dev/null ||
			{ skipped[$r]="untimed run $i failed: $(last_line "$WORK/log/$r.first$i")"; unset "cmdline[$r]"; break; }
	done
done

# ---- timing -----------------------------------------------------------------
settle
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for r in "${rows[@]}"; do
	want "$r" && [ -n "${cmdline[$r]:-}" ] || continue
	say "== $(label "$r"): $warmup warm-up + $runs timed runs"
	as_user hyperfine -N --style none --warmup "$warmup" --runs "$runs" --output "$WORK/log/$r.output" \
		--export-json "$WORK/$r.json" "${cmdline[$r]}" >"$WORK/log/$r.hyperfine" 2>&1 ||
		{ skipped[$r]="hyperfine failed: $(last_line "$WORK/log/$r.hyperfine")"; rm -f "$WORK/$r.json"; }
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
runs_left=$(as_user cat "$WORK/e17-native/_output/deepcopy-gen.runs" 2>/dev/null | wc -l)

# ---- report -----------------------------------------------------------------
stats=$(hyperfine_stats "${rows[@]}")
get() { awk -v r="$1" -v f="$2" '$1 == r { print $f }' <<<"$stats"; }
echo
echo "kbuild-ns make on the 2017-shaped tree: $(nproc) cores, $(uname -r), as uid $TEST_UID"
echo "kbuild-ns: $KBUILD_NS_SRC ($(bin_id "$KBUILD_NS_SRC")); image: $ARCHIVE; host $(go version 2>/dev/null | cut -d' ' -f3)"
echo "hyperfine -N, $warmup warm-up + $runs runs per row; load average before $load_before, after $load_after"
echo
printf '| %-52s | %9s | %7s | %9s | %8s |\n' "row (a make with nothing to do)" "mean ms" "± σ" "median ms" "min ms"
printf '|%s|%s:|%s:|%s:|%s:|\n' "$(dashes 54)" "$(dashes 10)" "$(dashes 8)" "$(dashes 10)" "$(dashes 9)"
for r in "${rows[@]}"; do
	if [ -n "$(get "$r" 2)" ]; then
		printf '| %-52s | %9.1f | %7.1f | %9.1f | %8.1f |\n' "$(label "$r")" "$(get "$r" 2)" "$(get "$r" 3)" \
			"$(get "$r" 4)" "$(get "$r" 5)"
	elif want "$r"; then
		printf '| %-52s | %s |\n' "$(label "$r")" "skipped: ${skipped[$r]:-not run}"
	fi
done
kb=$(get kbuild-ns 4) nat=$(get native 4)
if [ -n "$kb" ] && [ -n "$nat" ]; then
	python3 - "$kb" "$nat" <<-'EOF'
	import sys
	kb, nat = float(sys.argv[1]), float(sys.argv[2])
	over = kb - nat
	print()
	print("medians: kbuild-ns make %.1f ms, native make %.1f ms: overhead %.1f ms, ratio %.2f (goal: overhead under 150 ms, %s)"
	      % (kb, nat, over, kb / nat, "met" if over < 150 else "NOT met"))
	EOF
fi
for r in kbuild-ns native; do show_log "$(label "$r")" "$WORK/log/$r.output"; done
echo
echo "generator runs in the kbuild-ns snapshot's _output during the whole run: $(as_user cat "$(as_user "$KBUILD_NS" --state-dir "$ST" -C "$WORK/e17" status --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["state_dir"])')/snapshot/_output/deepcopy-gen.runs" 2>/dev/null | wc -l) (the cold build's one; a no-op runs none); native: $runs_left"
