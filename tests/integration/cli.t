# The command line: help and version output, usage errors (including
# those of run and shell, which fail before any sandbox is made), the
# --help of make, copy-output, clean and status, and the one-line
# error format for failures before any image work starts.  Every failure must exit 125
# and print exactly one line on stderr starting with "kbuild-ns: ".
# Issue 14's newcomer items: --help after every command and subcommand,
# global options placed after the command, mistyped options of make and
# run, -vv, error prefixes, upper-case repositories, "did you mean" image
# names, --name twice, no state left by a run refused before it starts,
# the checkout found from a subdirectory, clean without _output.
. "$SRCDIR/tests/integration/lib.sh"

plan 139

# run_kb ARGS...: kbuild-ns as the test user without the -q/--state-dir
# defaults of kb; stdout and stderr go to $WORK/out and $WORK/err, the
# status to $rc.
run_kb() {
	as_user "$KBUILD_NS" "$@" >"$WORK/out" 2>"$WORK/err" </dev/null
	rc=$?
}
lines() { wc -l <"$1" | tr -d ' '; }
# one_error DESC ARGS...: ARGS fail with 125 and, with -q (no progress
# lines), exactly one line on stderr, starting with "kbuild-ns: ".
one_error() {
	_d=$1; shift
	run_kb -q "$@"
	is "$_d: exit 125" "$rc" 125
	is "$_d: one line on stderr starting with 'kbuild-ns: '" \
		"$(lines "$WORK/err"):$(grep -c '^kbuild-ns: ' "$WORK/err")" "1:1"
}
# usage_error DESC ARGS...: ARGS fail with 125, nothing on stdout, and a
# short message (at most 3 lines) with a usage line on stderr.
usage_error() {
	_d=$1; shift
	run_kb --state-dir "$STATE" "$@"
	is "$_d: exit 125, nothing on stdout" "$rc:$(lines "$WORK/out")" "125:0"
	n=$(lines "$WORK/err")
	[ "$n" -ge 1 ] && [ "$n" -le 3 ] && grep -qi 'usage' "$WORK/err"
	_result $? "$_d: a short message with a usage line on stderr"
}
# short_error DESC ARGS...: ARGS fail with 125 and 1 to 3 lines on stderr,
# the first starting with "kbuild-ns: " or "usage: ".
short_error() {
	_d=$1; shift
	run_kb --state-dir "$STATE" "$@"
	is "$_d: exit 125" "$rc" 125
	n=$(lines "$WORK/err")
	[ "$n" -ge 1 ] && [ "$n" -le 3 ] && head -1 "$WORK/err" | grep -Eqi '^(kbuild-ns: |usage: )'
	_result $? "$_d: a short message on stderr ($(head -1 "$WORK/err"))"
}

# --- help and version -----------------------------------------------------
run_kb --help
is "--help exits 0" "$rc" 0
n=$(lines "$WORK/out")
[ "$n" -gt 3 ] && [ "$n" -lt 30 ]
_result $? "--help is short (3 < $n lines < 30)"
grep -q 'kbuild-ns help' "$WORK/out"
_result $? "--help points to 'kbuild-ns help'"
is "--help writes nothing on stderr" "$(lines "$WORK/err")" 0
cp "$WORK/out" "$WORK/help.txt"

run_kb -h
is "-h prints the same as --help" "$rc:$(cmp -s "$WORK/out" "$WORK/help.txt" && echo same)" "0:same"

run_kb --version
is "--version exits 0" "$rc" 0
grep -Eq '^kbuild-ns [0-9]+\.[0-9]+\.[0-9]+' "$WORK/out"
_result $? "--version prints 'kbuild-ns X.Y.Z' ($(head -1 "$WORK/out"))"

# --- usage errors ---------------------------------------------------------
usage_error "no command"
usage_error "unknown command" no-such-command
usage_error "unknown global option" --no-such-option image ls
usage_error "unknown image option" image ls --no-such-option
# A valid one-file root file system tarball: with good options it would
# import, so the failures below come from the options themselves.
as_user sh -c 'mkdir "$1/root" && echo hi >"$1/root/file" &&
	tar -C "$1/root" -cf "$1/a" .' sh "$WORK"
short_error "image without subcommand" image
short_error "unknown image subcommand" image frobnicate
short_error "image import without PATH" image import
short_error "image import with two PATHs" image import "$WORK/a" "$WORK/a" --name t:1
short_error "image inspect without REF" image inspect
short_error "image rm without REF" image rm
short_error "option without its value" image import "$WORK/a" --name
short_error "bad --max-layer-size" image import "$WORK/a" --name t:1 --max-layer-size 12Q
short_error "bad --jobs" image import "$WORK/a" --name t:1 --jobs many
short_error "bad --platform" image import "$WORK/a" --name t:1 --platform linux
is "no image was recorded by the failed commands" \
	"$(ls "$STATE/store/images" 2>/dev/null | grep -c '\.json$')" 0

# run and shell: usage errors come before the checkout or any image is
# looked at.  Their usage summary is several lines long, so no line limit.
run_kb --state-dir "$STATE" run
is "run without a command: exit 125, nothing on stdout" "$rc:$(lines "$WORK/out")" "125:0"
head -1 "$WORK/err" | grep -q '^kbuild-ns: ' && grep -q '^usage: kbuild-ns run ' "$WORK/err"
_result $? "run without a command: an error line, then the usage ($(head -1 "$WORK/err"))"
run_kb --state-dir "$STATE" shell some-command
is "shell with a command: exit 125, nothing on stdout" "$rc:$(lines "$WORK/out")" "125:0"
head -1 "$WORK/err" | grep -q '^kbuild-ns: ' && grep -qi 'usage' "$WORK/err"
_result $? "shell with a command: an error line, then the usage ($(head -1 "$WORK/err"))"
run_kb --state-dir "$STATE" run --help
[ "$rc" = 0 ] && grep -q '^usage: kbuild-ns run ' "$WORK/out"
_result $? "run --help: exit 0 and the usage on stdout"

# --- make, copy-output, clean, status: --help and a bad option ------------
# (in an empty directory: these commands look at the current checkout)
mkdir -p "$WORK/empty" && chmod 777 "$WORK/empty"
for c in make copy-output clean status; do
	run_kb -C "$WORK/empty" --state-dir "$STATE" "$c" --help
	[ "$rc" = 0 ] && grep -q "^usage: kbuild-ns $c" "$WORK/out"
	_result $? "$c --help: exit 0 and its usage on stdout"
done
for c in copy-output clean status; do
	usage_error "$c --bogus" -C "$WORK/empty" "$c" --bogus
done
usage_error "make --source nowhere" -C "$WORK/empty" make --source nowhere

# --- failures before any image work --------------------------------------
one_error "state dir whose parent is missing" \
	--state-dir "$WORK/no/such/parent/state" image ls
is "missing parent was not created" "$(test -e "$WORK/no" && echo created)" ""
one_error "import of a missing file" --state-dir "$STATE" image import "$WORK/no-such-archive.tar"
as_user sh -c 'echo data >"$1" && chmod 000 "$1"' sh "$WORK/unreadable.tar"
one_error "import of an unreadable file" --state-dir "$STATE" image import "$WORK/unreadable.tar"

# --- issue 14: the command line, as a newcomer met it ---------------------
# --help (and -h) after every command and subcommand: exit 0, the usage on
# stdout, nothing on stderr, no line wider than 80 columns.
wide() { awk 'length($0) > 80 { n++ } END { print n + 0 }' "$1"; }
is "kbuild-ns --help: no line over 80 columns" "$(wide "$WORK/help.txt")" 0
for c in make run shell copy-output clean status doctor help image "image import" "image ls" \
	"image list" "image inspect" "image rm" "image remove" "image prune" cache "cache export" \
	provenance "provenance verify"; do
	for h in --help -h; do
		# shellcheck disable=SC2086 # $c is one or two words
		run_kb -C "$WORK/empty" --state-dir "$STATE" $c $h
		[ "$rc:$(lines "$WORK/err"):$(wide "$WORK/out")" = 0:0:0 ] &&
			grep -q "^usage: kbuild-ns ${c%% *}" "$WORK/out" && grep -q "^See kbuild-ns help" "$WORK/out"
		_result $? "$c $h: exit 0, its usage on stdout, nothing on stderr, <= 80 columns ($rc)"
	done
done

# Global options after the command: one line that says where they go.
# (After make, -q, -v and -C are make's own; make-word checks are in
# tests/unit/cli/test-run-opts.c.)
global_after() {
	_d=$1; _want=$2; shift 2
	run_kb --state-dir "$STATE" -C "$WORK/empty" "$@"
	[ "$rc" = 125 ] && [ "$(lines "$WORK/err")" -le 3 ] && head -1 "$WORK/err" | grep -qF -- "$_want"
	_result $? "$_d ($(head -1 "$WORK/err"))"
}
global_after "status -v: says -v is a global option" \
	"kbuild-ns: status: -v is a global option: put it before the command (kbuild-ns -v status ...)" status -v
global_after "image ls -q" "kbuild-ns: image ls: -q is a global option" image ls -q
global_after "clean --state-dir DIR" "clean: --state-dir is a global option: put it before the command" \
	clean --state-dir "$STATE"
global_after "run -q CMD" "kbuild-ns: run: -q is a global option" run -q ls
global_after "image -v ls" "kbuild-ns: image: -v is a global option" image -v ls
global_after "image import PATH -q" "kbuild-ns: image import: -q is a global option" image import "$WORK/a" -q
global_after "make --verbose" "kbuild-ns: make: --verbose is a global option" make --verbose
# A mistyped option of make: our line, not make's 40-line usage (and no
# state is made: nothing ran).
global_after "make --imag X: did you mean --image?" \
	"kbuild-ns: make: unknown option --imag: did you mean --image?" make --imag kube-cross:v1 all
global_after "make all --image X: ours after make's arguments" \
	"kbuild-ns: make: --image must come before make's arguments" make all --image kube-cross:v1
global_after "run --no-wiat: did you mean --no-wait?" "run: unknown option --no-wiat: did you mean --no-wait?" \
	run --no-wiat ls
run_kb --state-dir "$STATE" -vv -C "$WORK/empty" status
is "-vv is taken as -v -v (exit $rc)" "$rc:$(grep -c '^kbuild-ns: .*unknown option' "$WORK/err")" 0:0

# Error prefixes: the command as typed.
prefix() {
	_want=$1; shift
	run_kb -q --state-dir "$STATE" -C "$WORK/empty" "$@"
	head -1 "$WORK/err" | grep -q "^$_want"
	_result $? "'$*' fails with '$_want' ($(head -1 "$WORK/err"))"
}
prefix "kbuild-ns: image ls: " image ls --bogus
prefix "kbuild-ns: image prune: " image prune extra
prefix "kbuild-ns: image rm: " image rm nosuch:1
prefix "kbuild-ns: image inspect: " image inspect nosuch:1
prefix "kbuild-ns: image import: " image import "$WORK/no-such-archive.tar"
prefix "kbuild-ns: image import: " image import "$WORK/a" --jobs many

# Upper case in a repository is refused, as docker refuses it; a tag may
# have it.
one_error "import --name with an upper-case repository" --state-dir "$STATE" image import "$WORK/a" --name Foo:1
grep -q 'Foo:1: repository names must be lower-case' "$WORK/err"
_result $? "... says why ($(head -1 "$WORK/err"))"
one_error "inspect of an upper-case repository" --state-dir "$STATE" image inspect Kube-Cross:v1
grep -q 'lower-case' "$WORK/err"; _result $? "... says why"
run_kb -q --state-dir "$STATE" image import "$WORK/a" --name lower:UPPER-Tag --name lower:second
is "a tag may have upper case; --name may be given twice" "$rc:$(grep -c ' lower:UPPER-Tag lower:second$' "$WORK/out")" 0:1

# An image that is not found: the closest names of the store.
run_kb -q --state-dir "$STATE" image inspect lower:upper-tag
grep -q 'image lower:upper-tag: not found; did you mean lower:UPPER-Tag or lower:second?' "$WORK/err"
_result $? "a missing image names the closest ones ($(head -1 "$WORK/err"))"
run_kb -q --state-dir "$STATE" image inspect lowr:second
grep -q 'did you mean lower:second?' "$WORK/err"; _result $? "... a typo away ($(head -1 "$WORK/err"))"

# A run refused before it starts leaves no state directory behind, and
# status still says there is none (the checkout has no image at all, and
# then one that is not imported).
as_user mkdir -p "$WORK/co/sub/deeper" && as_user sh -c 'echo "image = nosuch:1" >"$1/co/kbuild-ns.conf"' sh "$WORK"
for how in "make" "run --image lowr:second true" "run --image Bad:1 true" "make --imag x"; do
	# shellcheck disable=SC2086 # $how is several words
	run_kb -q --state-dir "$STATE" -C "$WORK/co" $how
	is "'$how' on a new checkout fails with 125 and makes no state" \
		"$rc:$(ls -A "$STATE/projects" 2>/dev/null | wc -l | tr -d ' ')" 125:0
done
run_kb --state-dir "$STATE" -C "$WORK/co" status
grep -q '^state: .*(none yet' "$WORK/out"; _result $? "status: (none yet)"

# From a subdirectory: the checkout is the nearest directory above with
# kbuild-ns.conf (or .git, or build/build-image/cross/VERSION), and -v says so.
run_kb -v --state-dir "$STATE" -C "$WORK/co/sub/deeper" status --json
grep -q "\"checkout\": \"$WORK/co\"" "$WORK/out"
_result $? "status from sub/deeper: the checkout is $WORK/co"
grep -q "checkout $WORK/co (it has kbuild-ns.conf; started in its subdirectory sub/deeper)" "$WORK/err"
_result $? "-v says which checkout and why ($(grep 'checkout ' "$WORK/err" | head -1))"
key_top=$(as_user "$KBUILD_NS" --state-dir "$STATE" -C "$WORK/co" status --json | grep '"key"')
key_sub=$(as_user "$KBUILD_NS" --state-dir "$STATE" -C "$WORK/co/sub" status --json | grep '"key"')
is "... with the same state key as from the top" "$key_sub" "$key_top"
# .git marks a top too, and the nearest wins: a nested repository is a
# checkout of its own, as for git.
as_user mkdir -p "$WORK/co/sub/.git"
run_kb -v --state-dir "$STATE" -C "$WORK/co/sub/deeper" status --json
grep -q "\"checkout\": \"$WORK/co/sub\"" "$WORK/out" && grep -q 'it has .git; started in its subdirectory deeper' "$WORK/err"
_result $? "a nearer .git wins ($(grep 'checkout ' "$WORK/err" | head -1))"
# Nothing above: the directory itself, said at -v.
run_kb -v --state-dir "$STATE" -C "$WORK/empty" status --json
grep -q "\"checkout\": \"$WORK/empty\"" "$WORK/out" && grep -q "checkout $WORK/empty (no .* here or above it)" "$WORK/err"
_result $? "no mark here or above: the directory itself ($(grep 'checkout ' "$WORK/err" | head -1))"

# clean says it cleans _output only when there is one.
run_kb --state-dir "$STATE" -C "$WORK/empty" clean
is "clean without _output: exit 0, no 'Cleaning' line" "$rc:$(grep -c 'Cleaning' "$WORK/err")" 0:0
grep -q 'Removed 0 build states of' "$WORK/err"; _result $? "... and says 'Removed 0 build states'"
