# The command line: help and version output, usage errors (including
# those of run and shell, which fail before any sandbox is made), the
# --help of make, copy-output, clean and status, and the one-line
# error format for failures before any image work starts.  Every failure must exit 125
# and print exactly one line on stderr starting with "kbuild-ns: ".
. "$SRCDIR/tests/integration/lib.sh"

plan 60

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
