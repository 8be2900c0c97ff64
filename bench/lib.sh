# bench/lib.sh: what bench/import.sh, start.sh, sync.sh and make.sh share.
# Sourced (bash only: all four are bash scripts) right after their `set -u`
# lines.  A script sets `only` (its --only list) before it calls want, and
# calls bench_user, then make_work, before as_user and settle; the rest
# follows the conventions described under "How it measures" in
# bench/README.md.  The user drop, work directory and tree removal are the
# integration tests' own (tests/fixtures/user.sh).
# shellcheck shell=bash
# shellcheck disable=SC2034  # some variables set here are for the scripts

me=${0##*/}                          # the script's name, for messages
here=$(cd "$(dirname "$0")" && pwd)  # bench/
srcdir=$(dirname "$here")            # the source tree
KBUILD_NS=${KBUILD_NS:-$srcdir/_build/src/kbuild-ns}
# shellcheck source-path=SCRIPTDIR source=../tests/fixtures/user.sh
. "$srcdir/tests/fixtures/user.sh"

say() { printf '%s\n' "$*" >&2; }
die() { say "$me: $*"; exit 1; }
want() { [ -z "$only" ] || case ",$only," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }
# last_line LOG: the last non-empty line of a command's output.
last_line() { grep -v '^[[:space:]]*$' "$1" | tail -1 | cut -c1-160; }
# usage: the script's header comment, from its line 2 to `set -u`.
usage() { sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

# ---------------------------------------------------------------------------
# Who runs the timed commands: the caller, or, when started as root,
# kbuildns-test (created with useradd, which also gives it subordinate ids;
# 65534 if that fails).  Sets TEST_UID, TEST_GID and TEST_USER.

bench_user() {
	if [ "$(id -u)" = 0 ] && ! id kbuildns-test >/dev/null 2>&1; then
		useradd --create-home --shell /bin/sh kbuildns-test 2>/dev/null ||
			say "$me: useradd kbuildns-test failed; timing as 65534"
	fi
	user_pick
}

# Variables set in the environment of as_user's commands besides HOME and
# the XDG directories; a script that wants USER and LOGNAME set sets
# user_env=(USER="$TEST_USER" LOGNAME="$TEST_USER").
user_env=()

# as_user CMD...: CMD as the user (setpriv --reset-env when root), with HOME
# and XDG_RUNTIME_DIR in the work directory.
as_user() {
	user_run --reset-env HOME="$WORK/home" XDG_RUNTIME_DIR="$WORK/xdg" "${user_env[@]}" \
		XDG_DATA_HOME="$WORK/home/.local/share" XDG_CONFIG_HOME="$WORK/home/.config" "$@"
}

# ---------------------------------------------------------------------------
# The work directory, and the wait after a large deletion.
#
# ext4 without a journal does not reuse inodes freed in the last 60 to 300
# seconds, and creating files while many such inodes exist costs several
# times more CPU (the allocator scans past them); even a run that creates a
# few inodes (kbuild-ns's in-use marker, overlay's work directory) takes
# milliseconds more right after a large deletion.  Every script touches the
# marker below when it deletes a big tree (its work directory, an image
# build), and settle waits until the last such deletion is SETTLE seconds
# old.

WORKBASE=${KBUILD_NS_BENCH_WORK:-${TMPDIR:-/tmp}}
SETTLE=${BENCH_SETTLE:-300}
marker=$WORKBASE/.kbuild-ns-bench.deleted
settle() {
	local last age
	last=$(stat -c %Y "$marker" 2>/dev/null) || return 0
	age=$(( $(date +%s) - last ))
	if [ "$age" -lt "$SETTLE" ]; then
		say "== a large tree was deleted ${age}s ago; waiting $((SETTLE - age))s so that ext4 reuses its inodes again (BENCH_SETTLE=0 skips)"
		sleep $((SETTLE - age))
	fi
}

# make_work PREFIX [DIR...]: a new work directory WORK=$WORKBASE/PREFIX.XXXXXX
# with home/, xdg/ and the DIRs in it, owned by the user.
make_work() {
	local d
	user_workdir "$WORKBASE/$1.XXXXXX" || die "mktemp failed"
	shift
	mkdir -m 700 "$WORK/home" "$WORK/xdg"
	for d; do mkdir "$WORK/$d"; done
	user_own "$WORK"
}

# end_pause_processes: rootless podman leaves a pause process (catatonit)
# holding its user namespace; end the ones started with this run's runtime
# directory.
end_pause_processes() {
	local p
	for p in $(pgrep -u "$TEST_UID" -x catatonit); do
		grep -qz "^XDG_RUNTIME_DIR=$WORK/xdg\$" "/proc/$p/environ" 2>/dev/null && kill "$p"
	done
}

# ---------------------------------------------------------------------------
# The binaries

# bin_id FILE: "build id" and the first 12 digits of FILE's GNU build id.
bin_id() { file -L -b "$1" 2>/dev/null | grep -o 'BuildID\[sha1\]=[0-9a-f]\{12\}' | sed 's/.*=/build id /'; }

# copy_kbuild_ns: the timed runs use a copy of $KBUILD_NS in $WORK/bin, so
# that a rebuild during the run changes nothing; kbuild-ns-image (image
# import) goes along, as kbuild-ns looks for it next to itself first.  Sets
# KBUILD_NS_SRC to the original and KBUILD_NS to the copy.
copy_kbuild_ns() {
	local helper
	KBUILD_NS_SRC=$KBUILD_NS
	mkdir -p "$WORK/bin"
	helper=$(dirname "$KBUILD_NS_SRC")/kbuild-ns-image
	[ -x "$helper" ] && cp "$helper" "$WORK/bin/" && chmod 755 "$WORK/bin/kbuild-ns-image"
	cp "$KBUILD_NS_SRC" "$WORK/bin/kbuild-ns" && chmod 755 "$WORK/bin" "$WORK/bin/kbuild-ns" &&
		KBUILD_NS=$WORK/bin/kbuild-ns
}

# ---------------------------------------------------------------------------
# Reports

# hyperfine_stats ROW...: "ROW MEAN SD MEDIAN MIN RUNS", in milliseconds,
# for each ROW that has a hyperfine --export-json file $WORK/ROW.json.
hyperfine_stats() {
	local r
	for r; do
		[ -f "$WORK/$r.json" ] || continue
		python3 - "$r" "$WORK/$r.json" <<-'EOF'
		import json, sys
		r = json.load(open(sys.argv[2]))["results"][0]
		print(sys.argv[1], *("%.3f" % (r[k] * 1000) for k in ("mean", "stddev", "median", "min")), len(r["times"]))
		EOF
	done
}

# dashes N: N dashes (a Markdown table's rule).
dashes() { printf -- '-%.0s' $(seq 1 "$1"); }

# show_log ROW LOG: a blank line, a title and the last five lines of LOG,
# when it is not empty.
show_log() { [ -s "$2" ] && { echo; echo "--- $1 output ($(basename "$2")):"; tail -5 "$2"; }; }
