#!/bin/bash
# bench/sync.sh: how fast kbuild-ns mirrors a large checkout into its
# snapshot (the sync engine of `kbuild-ns make`), side by side with rsync
# and cp.
#
# It generates (once, then cached) a checkout shaped like a large Go
# repository with bench/mktree.py: 65,000 files and links to sync (small Go
# files in deep package directories, some large text and binary files,
# vendor/k8s.io/X -> ../../staging/src/k8s.io/X links, a real .git with
# packs), plus _output/ and _tmp/ at the top, which the filters must leave
# alone.  Then, as an unprivileged user, each round times:
#   initial sync   (into a new, empty directory)
#     sync-tree        the engine (tests/helpers/sync-tree --profile kube)
#     rsync            rsync -a --delete --exclude=/_tmp/ --exclude=/_output/
#     cp               cp -a of the top-level entries except _output and _tmp
#     kbuild-ns        kbuild-ns -C TREE run -- true: the real path (lock,
#                      sync-in in the sync sandbox, build sandbox, copy-out)
#   no change      (the same again)
#     sync-tree, rsync, kbuild-ns run -- true, and to split the real path:
#     kbuild-ns run --no-copy-output -- true, kbuild-ns run --source bind
#     --no-copy-output -- true (no sync at all), kbuild-ns run -- true
#     once more (the runs that follow; every directory's listing is kept
#     from the first no-change run on, see src/build/sync-seen.h: the
#     initial sync lists the directories it made once more after its
#     pass; before that change the first run could take only the
#     checkout's),
#     and copy-out alone with nothing to copy (sync-tree --out; rsync with
#     upstream's copy-output filters)
#   20 changed     (bench/mktree.py change: 15 edits, a same-size edit, an
#                   mtime-only touch, a 4 MB file edited, a new file in a
#                   new directory, a deletion)
#     sync-tree, rsync, kbuild-ns run -- true
# After each sync (untimed) the engine's copy and kbuild-ns's snapshot are
# compared with rsync's: `rsync -ani --delete` (type, size, mtime, mode,
# owner, link target; the filtered paths aside) and `diff -r
# --no-dereference` (contents); files planted under _output/ and _tmp/ in
# each copy must survive, and nothing of the checkout's _output/ and _tmp/
# may arrive.
#
# Usage: bench/sync.sh [--runs N] [--warmup N] [--only LIST] [--files N]
#                      [--perf] [--no-verify] [--rebuild] [--keep]
#   --runs N     timed rounds (default 3; the table gives medians)
#   --warmup N   untimed rounds first (default 1)
#   --only LIST  comma-separated tools: sync-tree,rsync,cp,kbuild-ns,copy-out
#   --files N    size of the generated tree (default 65000 files and links)
#   --perf       after the rounds, one more initial, no-change and
#                20-changed run of sync-tree under `perf record -g` (as
#                root: kernel symbols), and the top of each profile
#   --no-verify  skip the comparisons
#   --rebuild    generate the tree again even when the cache has it
#   --keep       leave the work directory in place (its path is printed)
# Environment:
#   KBUILD_NS              the binary (default: _build/src/kbuild-ns of this tree)
#   SYNC_TREE              the engine helper (default: tests/helpers/sync-tree
#                          next to KBUILD_NS's build directory; build it with
#                          `make tests/helpers/sync-tree`); any command taking
#                          SRC DST (and --out SNAP CHECKOUT for copy-out) and
#                          printing "checked N copied N deleted N bytes N"
#   KBUILD_NS_BENCH_CACHE  where the tree is cached (default: bench/.cache;
#                          this script uses its sync/ subdirectory)
#   KBUILD_NS_BENCH_WORK   where timed runs write (default: $TMPDIR or /tmp);
#                          each round needs about 2.5 GB
#   BENCH_SETTLE           seconds to wait after a large deletion before
#                          timing (default 300; see "ext4" in bench/README.md)
#
# Needs rsync, git, python3, GNU coreutils and time (/usr/bin/time), and for
# the kbuild-ns rows user namespaces and a static busybox (Debian package
# busybox-static) for a one-layer image.  When started as root, every timed
# command runs as user kbuildns-test (created with useradd if absent; 65534
# if that fails), as bench/import.sh does.  See "sync.sh" in bench/README.md.
set -u
set -o pipefail
export LC_ALL=C

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
CACHE=${KBUILD_NS_BENCH_CACHE:-$here/.cache}/sync
SYNC_TREE=${SYNC_TREE:-$(dirname "$(dirname "$KBUILD_NS")")/tests/helpers/sync-tree}
TREE_VERSION=1           # bump when bench/mktree.py's output changes
IMAGE=busybox-sync:v1

runs=3 warmup=1 only="" files=65000 perf=0 verify=1 rebuild=0 keep=0
while [ $# -gt 0 ]; do
	case $1 in
	--runs) runs=$2; shift 2 ;;
	--runs=*) runs=${1#*=}; shift ;;
	--warmup) warmup=$2; shift 2 ;;
	--warmup=*) warmup=${1#*=}; shift ;;
	--only) only=$2; shift 2 ;;
	--only=*) only=${1#*=}; shift ;;
	--files) files=$2; shift 2 ;;
	--files=*) files=${1#*=}; shift ;;
	--perf) perf=1; shift ;;
	--no-verify) verify=0; shift ;;
	--rebuild) rebuild=1; shift ;;
	--keep) keep=1; shift ;;
	-h|--help) usage; exit 0 ;;
	*) echo "sync.sh: unknown argument: $1 (try --help)" >&2; exit 2 ;;
	esac
done
case $runs in ''|*[!0-9]*|0) echo "sync.sh: --runs wants a positive number" >&2; exit 2 ;; esac
case $warmup in ''|*[!0-9]*) echo "sync.sh: --warmup wants a number" >&2; exit 2 ;; esac
case $files in ''|*[!0-9]*) echo "sync.sh: --files wants a number" >&2; exit 2 ;; esac
[ "$files" -ge 5000 ] || { echo "sync.sh: --files wants at least 5000" >&2; exit 2; }
if [ $perf = 1 ]; then
	command -v perf >/dev/null || { echo "sync.sh: --perf needs perf (Debian package linux-perf)" >&2; exit 2; }
fi

# last_line LOG (instead of bench/lib.sh's): without GNU time's "Command
# exited with non-zero status" line.
last_line() { grep -v -E '^[[:space:]]*$|^Command exited' "$1" | tail -1 | cut -c1-160; }

for t in rsync git python3 /usr/bin/time; do
	command -v $t >/dev/null || die "$t is not installed"
done

# ---------------------------------------------------------------------------
# Who runs the timed commands, and where (bench/lib.sh).  Every timed run
# here writes into a new directory and nothing is deleted before the end.

bench_user
make_work kbuild-ns-sync bin

cleanup() {
	if [ "$keep" = 1 ]; then
		say "work directory kept: $WORK"
	else
		say "== removing the work directory (after all timings)"
		rm_tree "$WORK" 2>/dev/null || as_user rm -rf "$WORK" 2>/dev/null ||
			say "sync.sh: could not remove all of $WORK (files of subordinate ids?)"
		touch "$marker" 2>/dev/null
	fi
	if ls -d "$CACHE"/trash.* >/dev/null 2>&1; then
		rm_tree "$CACHE"/trash.* 2>/dev/null
		touch "$marker" 2>/dev/null
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------
# The tree (cached, generated as the user: it has a file of mode 0600) and
# the busybox root file system tarball for the kbuild-ns rows.

TREE=$CACHE/tree-v$TREE_VERSION-$files
built=0
if [ "$rebuild" = 1 ] || [ ! -d "$TREE" ]; then
	mkdir -p "$CACHE"
	[ "$(id -u)" = 0 ] && chown "$TEST_UID:$TEST_GID" "$CACHE"
	[ -e "$TREE" ] && mv "$TREE" "$CACHE/trash.$$.tree"
	[ -e "$TREE.part" ] && mv "$TREE.part" "$CACHE/trash.$$.part"
	say "== generating the tree ($files files and links; once, cached in $TREE)"
	as_user python3 "$here/mktree.py" generate --files "$files" "$TREE" >"$WORK/mktree.log" 2>&1 ||
		{ cat "$WORK/mktree.log" >&2; die "bench/mktree.py failed"; }
	built=1
fi
as_user test -r "$TREE/test/fixtures/modes/private.txt" ||
	die "$TREE is not readable by uid $TEST_UID (generated by another user?); use --rebuild"

ROOTFS_TAR=$CACHE/busybox-rootfs.tar
if [ ! -f "$ROOTFS_TAR" ] && want kbuild-ns; then
	bb=$(command -v busybox || echo /bin/busybox)
	if [ -x "$bb" ] && ! LC_ALL=C ldd "$bb" 2>&1 | grep -q '=>'; then
		b=$WORK/rootfs
		mkdir -p "$b"/{bin,etc,proc,dev,sys,tmp,root,usr/bin,var/run}
		chmod 1777 "$b/tmp"
		cp "$bb" "$b/bin/busybox"
		for t in $("$bb" --list); do [ "$t" = busybox ] || ln -s busybox "$b/bin/$t"; done
		printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$b/etc/passwd"
		printf 'root:x:0:\nnogroup:x:65534:\n' >"$b/etc/group"
		mkdir -p "$CACHE"
		tar -C "$b" --owner=0 --group=0 --numeric-owner --sort=name --mtime=@1700000000 \
			-cf "$ROOTFS_TAR.tmp" . && mv "$ROOTFS_TAR.tmp" "$ROOTFS_TAR"
		chmod a+r "$ROOTFS_TAR" 2>/dev/null
	fi
fi

# Copies of the binaries, so that a rebuild during the run changes nothing.
have_engine=0 have_kb=0
declare -A skipped
if [ -f "$SYNC_TREE" ] && [ -x "$SYNC_TREE" ]; then
	SYNC_TREE_SRC=$SYNC_TREE
	cp "$SYNC_TREE" "$WORK/bin/sync-tree" && SYNC_TREE=$WORK/bin/sync-tree
	have_engine=1
elif command -v "${SYNC_TREE%% *}" >/dev/null 2>&1; then
	SYNC_TREE_SRC=$SYNC_TREE
	have_engine=1
else
	for r in sync-tree sync-tree-out; do skipped[$r]="no engine helper at $SYNC_TREE (make tests/helpers/sync-tree, or set SYNC_TREE)"; done
fi
if [ -x "$KBUILD_NS" ]; then
	copy_kbuild_ns
	have_kb=1
	[ -f "$ROOTFS_TAR" ] || { have_kb=0; why="no busybox root file system (apt-get install busybox-static)"; }
else
	why="no kbuild-ns binary at $KBUILD_NS (set KBUILD_NS)"
fi
chmod 755 "$WORK/bin" "$WORK"/bin/* 2>/dev/null
threads_opt=0     # does the helper take --threads N?
[ $have_engine = 1 ] && { $SYNC_TREE 2>&1 </dev/null || true; } | grep -q -- '--threads' && threads_opt=1
KB_ROWS="kbuild-ns kbuild-ns-noout kbuild-ns-bind kbuild-ns-again"
[ $have_kb = 1 ] || for r in $KB_ROWS; do skipped[$r]=$why; done

# ---------------------------------------------------------------------------
# The working copy of the tree (the checkout every round syncs from; the
# 20-file changes go here, the cache stays as generated)

SRC=$WORK/src
say "== copying the cached tree to $SRC (untimed; also warms the page cache)"
as_user cp -a "$TREE" "$SRC" || die "copying the tree failed"
tops=()
for e in "$SRC"/* "$SRC"/.[!.]* "$SRC"/..?*; do
	[ -e "$e" ] || [ -L "$e" ] || continue
	case ${e##*/} in _output|_tmp) ;; *) tops+=("${e##*/}") ;; esac
done
tree_stats=$(as_user python3 "$here/mktree.py" stats "$SRC")
FILTERS=(--exclude=/_tmp/ --exclude=/_output/)
# upstream's build/copy-output.sh filters (kubernetes-build.md, section 2.2)
COPYOUT_FILTERS=(--prune-empty-dirs --filter='- /_temp/' --filter='+ /vendor/'
	--filter='+ /_output/dockerized/bin/**' --filter='- /_output/dockerized/go/**'
	--filter='+ zz_generated.*' --filter='+ generated.proto' --filter='+ *.pb.go'
	--filter='+ types.go' --filter='+ */' --filter='- /**')

results=$WORK/results   # lines: SCENARIO ROW SECONDS USER SYS RSS_KB
: >"$results"
declare -A stat_line problems notes
nproblems=0

# timeit SCEN ROW ROUND CMD...: one timed run as the user.  Wall clock from
# bash's EPOCHREALTIME around setpriv + time + the command (the wrapper's
# own cost is measured below and printed, not subtracted); CPU times and
# peak RSS from GNU time.
timeit() {
	local scen=$1 row=$2 n=$3; shift 3
	local log=$WORK/log/$scen.$row.$n tf=$WORK/log/$scen.$row.$n.time rc=0 t0 t1
	sync
	t0=$EPOCHREALTIME
	as_user /usr/bin/time -f '%e %U %S %M' -o "$tf" "$@" >"$log" 2>&1 </dev/null || rc=$?
	t1=$EPOCHREALTIME
	if [ $rc != 0 ]; then
		skipped[$row]="$scen: exit $rc: $(last_line "$log")"
		say "   $scen $row: failed (exit $rc): $(last_line "$log")"
		return 1
	fi
	local s u k m
	read -r s u k m <"$tf"
	s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
	[ "$n" -gt "$warmup" ] && echo "$scen $row $s $u $k $m" >>"$results"
	local st
	st=$(grep -o 'checked [0-9]* copied [0-9]* deleted [0-9]* bytes [0-9]*' "$log" | tail -1)
	[ -n "$st" ] && stat_line[$scen.$row]=$st
	say "   $(printf '%-9s %-16s %7.3f s  (user %5.2f, sys %5.2f)  %s' "$scen" "$row" "$s" "$u" "$k" "$st")"
}

problem() {
	nproblems=$((nproblems + 1))
	[ $nproblems -le 40 ] && problems[$nproblems]="$*"
	say "   CHECK: $*"
}

# verify WHAT REF DIR: DIR must equal REF (rsync's copy), filtered paths aside.
verify() {
	[ $verify = 1 ] || return 0
	local what=$1 ref=$2 dir=$3 out
	# as root, so that owners are compared as well
	out=$(rsync -a -n -i --delete "${FILTERS[@]}" "$ref/" "$dir/" 2>&1 | grep -v -E '^\.d[^ ]* \./$')
	[ -z "$out" ] || problem "$what: rsync -ani $ref/ $dir/ lists $(wc -l <<<"$out") differences, e.g. $(head -3 <<<"$out" | tr '\n' ';')"
	out=$(diff -r --no-dereference --exclude=_output --exclude=_tmp "$ref" "$dir" 2>&1)
	[ -z "$out" ] || problem "$what: diff -r: $(wc -l <<<"$out") lines, e.g. $(head -3 <<<"$out" | tr '\n' ';')"
	local p
	for p in _output/local/bin/linux/amd64/kubectl _output/local/go/cache/00 _tmp/verify-0; do
		[ ! -e "$dir/$p" ] || problem "$what: $p was sent (it is filtered)"
	done
}
# planted DIR: the files mktree.py plant put there must still be there.
planted() {
	[ $verify = 1 ] || return 0
	local what=$1 dir=$2 p
	for p in _output/dockerized/go/cache/ab/planted-d _output/local/planted _tmp/kube-verify.123/planted; do
		[ -f "$dir/$p" ] || problem "$what: $p (filtered, planted before) was deleted"
	done
}

# the real path: one state directory (image store and checkout state) per round
snapshot_of() { ls -d "$1"/projects/*/snapshot 2>/dev/null | head -1; }

mkdir -p "$WORK/log"
user_own "$WORK/log"
# what the timing wrapper (setpriv, env, time) costs by itself
wrap_ms=$(for i in 1 2 3 4 5 6 7; do
	t0=$EPOCHREALTIME; as_user /usr/bin/time -o /dev/null true; t1=$EPOCHREALTIME
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", (b - a) * 1000 }'
done | sort -n | sed -n 4p)
[ "$built" = 1 ] && touch "$marker"   # git gc and mktree deleted some files
settle
say "== timing as uid $TEST_UID; $warmup untimed + $runs timed rounds; every round writes into new directories under $WORK"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for n in $(seq 1 $((warmup + runs))); do
	if [ "$n" -le "$warmup" ]; then say "-- warm-up round $n of $warmup (untimed)"
	else say "-- round $((n - warmup)) of $runs"; fi
	R=$WORK/r$n
	mkdir -p "$R"/{engine,rsync,cp,state}
	user_own "$R"
	eng=$R/engine rs=$R/rsync st=$R/state
	kb=("$KBUILD_NS" -q -C "$SRC" --state-dir "$st")

	# --- initial
	if want sync-tree && [ $have_engine = 1 ]; then
		timeit initial sync-tree "$n" $SYNC_TREE --profile kube "$SRC" "$eng"
	fi
	want rsync && timeit initial rsync "$n" rsync -a --delete "${FILTERS[@]}" "$SRC/" "$rs/"
	want cp && timeit initial cp "$n" cp -a -t "$R/cp" "${tops[@]/#/$SRC/}"
	snap=""
	if want kbuild-ns && [ $have_kb = 1 ]; then
		# untimed: the image.  The timed first run also makes the data
		# layer and runs the profile's one-time init (a few files in the
		# overlay, one more short sandbox), small next to the sync.
		if ! as_user "$KBUILD_NS" -q --state-dir "$st" image import "$ROOTFS_TAR" --name "$IMAGE" >"$WORK/log/import.$n" 2>&1; then
			for r in $KB_ROWS; do skipped[$r]="image import failed: $(last_line "$WORK/log/import.$n")"; done
			have_kb=0
		else
			if timeit initial kbuild-ns "$n" "${kb[@]}" run --image "$IMAGE" -- true; then
				snap=$(snapshot_of "$st")
			elif as_user "${kb[@]}" run --image "$IMAGE" -- true >"$WORK/log/retry.$n" 2>&1 </dev/null; then
				# a first run that fails and a second that works: keep
				# the other rows, say so under the table
				notes[initial-retry]="kbuild-ns run -- true failed on a new state directory ($(last_line "$WORK/log/initial.kbuild-ns.$n")) and worked when run again: the initial row is missing, the others are from the runs after it"
				unset "skipped[kbuild-ns]"
				snap=$(snapshot_of "$st")
			fi
			if [ -z "$snap" ]; then
				# a kbuild-ns without the snapshot (run on the checkout itself)
				for r in $KB_ROWS; do skipped[$r]=${skipped[$r]:-"no snapshot in $st/projects after run -- true (a kbuild-ns without --source snapshot?)"}; done
				sed -i '/^initial kbuild-ns /d' "$results"
				have_kb=0
			fi
		fi
	fi
	if [ -d "$rs/.git" ]; then
		[ -d "$eng/.git" ] && verify "initial sync-tree" "$rs" "$eng"
		[ -n "$snap" ] && verify "initial kbuild-ns snapshot" "$rs" "$snap"
		[ -d "$R/cp/.git" ] && verify "initial cp -a" "$rs" "$R/cp"
	fi
	for d in "$eng" "$rs" ${snap:+"$snap"}; do
		[ -d "$d/.git" ] && as_user python3 "$here/mktree.py" plant "$d"
	done

	# --- no change
	if want sync-tree && [ $have_engine = 1 ] && [ -d "$eng/.git" ]; then
		timeit nochange sync-tree "$n" $SYNC_TREE --profile kube "$SRC" "$eng"
	fi
	want rsync && timeit nochange rsync "$n" rsync -a --delete "${FILTERS[@]}" "$SRC/" "$rs/"
	if want sync-tree && [ $have_engine = 1 ] && [ -d "$eng/.git" ]; then
		# the same with one thread, and what one thread needs to stat both trees
		[ "$threads_opt" = 1 ] && timeit nochange sync-tree-1 "$n" $SYNC_TREE --threads 1 --profile kube "$SRC" "$eng"
		timeit nochange stat-floor "$n" sh -c 'find "$1" \( -path "$1/_output" -o -path "$1/_tmp" \) -prune -o -printf "%s %T@\n" >/dev/null &&
			find "$2" \( -path "$2/_output" -o -path "$2/_tmp" \) -prune -o -printf "%s %T@\n" >/dev/null' _ "$SRC" "$eng"
	fi
	if [ -n "$snap" ]; then
		timeit nochange kbuild-ns "$n" "${kb[@]}" run --image "$IMAGE" -- true
		timeit nochange kbuild-ns-noout "$n" "${kb[@]}" run --image "$IMAGE" --no-copy-output -- true
		timeit nochange kbuild-ns-bind "$n" "${kb[@]}" run --image "$IMAGE" --source bind --no-copy-output -- true
		timeit nochange kbuild-ns-again "$n" "${kb[@]}" run --image "$IMAGE" -- true
	fi
	if want copy-out; then
		# copy-out from a synced copy back to the checkout: nothing to copy
		if [ $have_engine = 1 ] && [ -d "$eng/.git" ]; then
			timeit nochange sync-tree-out "$n" $SYNC_TREE --out --profile kube "$eng" "$SRC"
		fi
		[ -d "$rs/.git" ] && timeit nochange rsync-out "$n" rsync -a "${COPYOUT_FILTERS[@]}" "$rs/" "$SRC/"
	fi
	if [ -d "$rs/.git" ]; then
		[ -d "$eng/.git" ] && { verify "no-change sync-tree" "$rs" "$eng"; planted "no-change sync-tree" "$eng"; }
		[ -n "$snap" ] && { verify "no-change kbuild-ns snapshot" "$rs" "$snap"; planted "no-change kbuild-ns snapshot" "$snap"; }
		planted "no-change rsync" "$rs"
	fi

	# --- 20 changed
	as_user python3 "$here/mktree.py" change "$SRC" "$n" >"$WORK/log/change.$n" || die "mktree.py change failed"
	if want sync-tree && [ $have_engine = 1 ] && [ -d "$eng/.git" ]; then
		timeit changed sync-tree "$n" $SYNC_TREE --profile kube "$SRC" "$eng"
	fi
	want rsync && timeit changed rsync "$n" rsync -a --delete "${FILTERS[@]}" "$SRC/" "$rs/"
	[ -n "$snap" ] && timeit changed kbuild-ns "$n" "${kb[@]}" run --image "$IMAGE" -- true
	if [ -d "$rs/.git" ]; then
		[ -d "$eng/.git" ] && { verify "20-changed sync-tree" "$rs" "$eng"; planted "20-changed sync-tree" "$eng"; }
		[ -n "$snap" ] && { verify "20-changed kbuild-ns snapshot" "$rs" "$snap"; planted "20-changed kbuild-ns snapshot" "$snap"; }
	fi
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------------------
# perf: where the engine's time goes

perf_report=""
if [ $perf = 1 ] && [ $have_engine = 1 ]; then
	say "== perf record -g of sync-tree (initial, no change, 20 changed)"
	P=$WORK/perf
	mkdir -p "$P/engine"
	user_own "$P" 2>/dev/null
	prec() {    # prec NAME ARGS...
		local name=$1; shift
		sync
		if [ "$(id -u)" = 0 ]; then
			perf record -q -g -o "$P/$name.data" -- setpriv --reuid="$TEST_UID" --regid="$TEST_GID" --clear-groups \
				--reset-env env HOME="$WORK/home" PATH=/usr/bin:/bin $SYNC_TREE "$@" >"$P/$name.log" 2>&1
		else
			perf record -q -g -o "$P/$name.data" -- $SYNC_TREE "$@" >"$P/$name.log" 2>&1
		fi || { perf_report+="perf record ($name) failed: $(last_line "$P/$name.log")"$'\n'; return; }
		perf_report+=$'\n'"--- $name: $(grep -o 'checked.*' "$P/$name.log" | tail -1)"$'\n'
		perf_report+="  by system call (children, % of samples):"$'\n'
		perf_report+=$(perf report -q -i "$P/$name.data" --children --sort sym --stdio -g none 2>/dev/null |
			awk '$4 ~ /^(__x64_sys_|__do_sys_)/ && $1 + 0 >= 1 { sub(/^__(x64|do)_sys_/, "", $4); printf "    %-22s %6s\n", $4, $1 }' | sort -u -k1,1 | sort -k2 -rn | head -12)$'\n'
		perf_report+="  hottest functions (self):"$'\n'
		perf_report+=$(perf report -q -i "$P/$name.data" --no-children --sort dso,sym --percent-limit 2 --stdio -g none 2>/dev/null |
			sed 's/[[:space:]]*$//' | grep -v '^$' | head -12 | sed 's/^ */    /')$'\n'
	}
	prec initial --profile kube "$SRC" "$P/engine"
	prec nochange --profile kube "$SRC" "$P/engine"
	as_user python3 "$here/mktree.py" change "$SRC" 1000 >/dev/null
	prec changed --profile kube "$SRC" "$P/engine"
fi

# ---------------------------------------------------------------------------
# Report

label() {
	case $1 in
	sync-tree) echo "sync-tree (the kbuild-ns engine)" ;;
	rsync) echo "rsync -a --delete (same filters)" ;;
	cp) echo "cp -a (top-level entries but _output, _tmp)" ;;
	kbuild-ns) echo "kbuild-ns run -- true (real path)" ;;
	kbuild-ns-noout) echo "kbuild-ns run --no-copy-output -- true" ;;
	kbuild-ns-bind) echo "  the same, --source bind (no sync)" ;;
	kbuild-ns-again) echo "kbuild-ns run -- true, once more" ;;
	sync-tree-1) echo "  sync-tree --threads 1" ;;
	stat-floor) echo "  find: size+mtime of both trees, 1 thread" ;;
	sync-tree-out) echo "copy-out: sync-tree --out (nothing to copy)" ;;
	rsync-out) echo "copy-out: rsync, upstream's filters" ;;
	esac
}
scen_label() {
	case $1 in initial) echo "initial sync" ;; nochange) echo "no change" ;; changed) echo "20 changed" ;; esac
}
# median seconds, user, sys and max RSS per scenario and row
summary=$(awk '{ k = $1 " " $2; n[k]++; s[k, n[k]] = $3; u[k, n[k]] = $4; y[k, n[k]] = $5; if ($6 > m[k]) m[k] = $6 }
	function med(a, k, c,   i, j, t, v) { for (i = 1; i <= c; i++) v[i] = a[k, i]
		for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
		return (c % 2) ? v[(c + 1) / 2] : (v[c / 2] + v[c / 2 + 1]) / 2 }
	END { for (k in n) print k, med(s, k, n[k]), med(u, k, n[k]), med(y, k, n[k]), m[k], n[k] }' "$results")
get() { awk -v s="$1" -v r="$2" -v f="$3" '$1 == s && $2 == r { print $f }' <<<"$summary"; }

echo
echo "kbuild-ns sync benchmark: $(nproc) cores, $(uname -r), $(df -PT "$WORK" | awk 'NR==2 {print $2}') work dir, warm page cache, as uid $TEST_UID"
[ -n "${SYNC_TREE_SRC:-}" ] && echo "engine: $SYNC_TREE_SRC${SYNC_TREE_SRC:+ }$(bin_id "$SYNC_TREE_SRC")"
[ -n "${KBUILD_NS_SRC:-}" ] && echo "kbuild-ns: $KBUILD_NS_SRC $(bin_id "$KBUILD_NS_SRC")"
echo "tree (bench/mktree.py, cached in $TREE):"
sed 's/^/  /' <<<"$tree_stats"
echo "$runs timed round(s) after $warmup untimed; medians; load average before $load_before, after $load_after"
echo "wall clock includes the timing wrapper (setpriv + GNU time: $wrap_ms ms for \`true\`); user/sys from GNU time"
echo
printf '%-12s %-44s %8s %6s %6s %9s %8s\n' "scenario" "tool" "seconds" "user" "sys" "vs engine" "peak RSS"
for scen in initial nochange changed; do
	first=1
	e=$(get $scen sync-tree 3)
	for r in sync-tree sync-tree-1 stat-floor rsync cp kbuild-ns kbuild-ns-noout kbuild-ns-bind kbuild-ns-again sync-tree-out rsync-out; do
		s=$(get $scen "$r" 3)
		[ -n "$s" ] || continue
		ratio="-"
		base=$e
		case $r in rsync-out) base=$(get $scen sync-tree-out 3) ;; sync-tree-out) base=$s ;; esac
		[ -n "$base" ] && ratio=$(awk -v a="$s" -v b="$base" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }')
		printf '%-12s %-44s %8.3f %6.2f %6.2f %9s %5.0f MB\n' "$([ $first = 1 ] && scen_label $scen)" "$(label "$r")" \
			"$s" "$(get $scen "$r" 4)" "$(get $scen "$r" 5)" "$ratio" "$(awk -v k="$(get $scen "$r" 6)" 'BEGIN { print k / 1024 }')"
		first=0
	done
done
for r in sync-tree sync-tree-1 stat-floor rsync cp kbuild-ns kbuild-ns-noout kbuild-ns-bind kbuild-ns-again sync-tree-out rsync-out; do
	[ -n "${skipped[$r]:-}" ] && printf 'skipped: %s: %s\n' "$(label "$r" | sed 's/^ *//')" "${skipped[$r]}"
done
echo
echo "vs engine = seconds / sync-tree's seconds in the same scenario (copy-out rows: / sync-tree --out)"
for scen in initial nochange changed; do
	[ -n "${stat_line[$scen.sync-tree]:-}" ] && printf 'sync-tree, %-12s %s\n' "$(scen_label $scen):" "${stat_line[$scen.sync-tree]}"
done
[ -n "${stat_line[nochange.sync-tree-out]:-}" ] && echo "sync-tree --out, no change: ${stat_line[nochange.sync-tree-out]}"

e0=$(get initial sync-tree 3) e1=$(get nochange sync-tree 3) e2=$(get changed sync-tree 3)
if [ -n "$e0$e1$e2" ]; then
	echo
	echo "targets (issue 4): no-change and 20-changed syncs at least 3x faster than rsync; initial sync no slower than cp -a"
	awk -v e0="$e0" -v e1="$e1" -v e2="$e2" -v r1="$(get nochange rsync 3)" -v r2="$(get changed rsync 3)" -v c="$(get initial cp 3)" 'BEGIN {
		if (e1 != "" && r1 != "") printf "  no change:  rsync / engine = %.2fx  %s\n", r1 / e1, (r1 / e1 >= 3 ? "met" : "NOT met")
		if (e2 != "" && r2 != "") printf "  20 changed: rsync / engine = %.2fx  %s\n", r2 / e2, (r2 / e2 >= 3 ? "met" : "NOT met")
		if (e0 != "" && c != "")  printf "  initial:    cp -a / engine = %.2fx  %s\n", c / e0, (c / e0 >= 1 ? "met" : "NOT met") }'
fi
k0=$(get initial kbuild-ns 3) k1=$(get nochange kbuild-ns 3) k2=$(get changed kbuild-ns 3)
kn=$(get nochange kbuild-ns-noout 3) kb0=$(get nochange kbuild-ns-bind 3) ka=$(get nochange kbuild-ns-again 3)
if [ -n "$k1" ]; then
	echo
	echo "the real path (kbuild-ns -C TREE run -- true), the same targets:"
	awk -v k0="$k0" -v k1="$k1" -v k2="$k2" -v ka="$ka" -v r1="$(get nochange rsync 3)" -v r2="$(get changed rsync 3)" -v c="$(get initial cp 3)" 'BEGIN {
		if (r1 != "") printf "  no change:  rsync / kbuild-ns = %.2fx  %s\n", r1 / k1, (r1 / k1 >= 3 ? "met" : "NOT met")
		if (r1 != "" && ka != "") printf "    once more (listings kept): %.2fx  %s\n", r1 / ka, (r1 / ka >= 3 ? "met" : "NOT met")
		if (k2 != "" && r2 != "") printf "  20 changed: rsync / kbuild-ns = %.2fx  %s\n", r2 / k2, (r2 / k2 >= 3 ? "met" : "NOT met")
		if (k0 != "" && c != "")  printf "  initial:    cp -a / kbuild-ns = %.2fx  %s (includes the first data-sandbox work and copy-out)\n", c / k0, (c / k0 >= 1 ? "met" : "NOT met") }'
	if [ -n "$kn" ] && [ -n "$kb0" ]; then
		# The runs after the first no-change one: both sides' listings kept.
		echo "where a no-change run -- true goes (the runs after the first):"
		awk -v a="${ka:-$k1}" -v b="$kn" -v c="$kb0" -v e="$e1" -v o="$(get nochange sync-tree-out 3)" 'BEGIN {
			printf "  build sandbox start and the rest (--source bind --no-copy-output)  %7.0f ms\n", c * 1000
			printf "  sync-in (--no-copy-output minus bind)                              %7.0f ms", (b - c) * 1000
			if (e != "") printf "   (the engine alone: %.0f ms)", e * 1000
			printf "\n  copy-out (run -- true once more minus --no-copy-output)            %7.0f ms", (a - b) * 1000
			if (o != "") printf "   (sync-tree --out alone: %.0f ms)", o * 1000
			printf "\n" }'
	fi
fi
for k in "${!notes[@]}"; do
	echo
	echo "note: ${notes[$k]}"
done
if [ $verify = 1 ]; then
	echo
	if [ $nproblems = 0 ]; then
		echo "check: after every sync, the engine's copy and kbuild-ns's snapshot equal rsync's (rsync -ani --delete, diff -r; _output/ and _tmp/ aside), planted _output/ and _tmp/ files survived, nothing filtered was sent"
	else
		echo "check: $nproblems problem(s):"
		for i in $(seq 1 $(( nproblems < 40 ? nproblems : 40 ))); do echo "  ${problems[$i]}"; done
	fi
fi
if [ -n "$perf_report" ]; then
	echo
	echo "perf record -g of sync-tree, one run of each scenario:"
	printf '%s\n' "$perf_report"
fi
for r in "${!skipped[@]}"; do
	log=$(ls -t "$WORK/log"/*."$r".* 2>/dev/null | grep -v '\.time$' | head -1)
	[ -n "$log" ] && show_log "$r" "$log"
done
exit 0
