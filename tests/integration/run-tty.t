#!/bin/sh
# `kbuild-ns run` in a terminal session (util-linux `script` makes the
# terminal), as the test user: the command gets a terminal of its own with
# the session's window size, kept in sync when the session's terminal is
# resized; TERM passes; TIOCSTI is refused on that terminal; the status
# comes back; the session's terminal modes are restored afterwards.
# (Without a terminal: run.t.)
. "$SRCDIR/tests/integration/lib.sh"
need script stty
. "$SRCDIR/tests/integration/run-lib.sh"

plan 10

# The session: runs as the test user inside `script`, whose pty is its
# controlling terminal.  Each step prints "NAME: result" lines; the window
# is 33x101 at first and becomes 40x120 during the second run (a
# background stty: no job control here, so it may set the size).  No
# timing is assumed: the command says through a bound directory when it
# has read the first size, the resize follows, and the command then waits
# (up to a minute) until it sees the new size.
cat >"$WORK/session.sh" <<'EOF'
KB="$KBUILD_NS -q --state-dir $STATE -C $CO"
RUN="run --image $IMG --bind $WORK/probe:/probe:ro"
stty rows 33 cols 101
before=$(stty -g)
$KB $RUN -- sh -c 'printf "istty: "; /probe istty; printf "winsize: "; /probe winsize
	printf "test-t: "; test -t 0 && test -t 1 && echo yes; printf "TERM: %s\n" "$TERM"
	printf "tiocsti: "; /probe tiocsti EPERM; exit 3'
echo "status: $?"
after=$(stty -g)
[ "$before" = "$after" ] && echo "restored: yes" || echo "restored: no ($before -> $after)"
(i=0; while [ ! -e $WORK/sig/read-1 ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
 stty rows 40 cols 120 </dev/tty) &
$KB $RUN --bind $WORK/sig:/sig -- sh -c 'printf "winsize-1: "; /probe winsize; touch /sig/read-1
	i=0; while [ "$(/probe winsize)" != "40 120" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
	printf "winsize-2: "; /probe winsize'
echo "status-2: $?"
wait
EOF
chmod 644 "$WORK/session.sh"
as_user mkdir "$WORK/sig"

as_user env SHELL=/bin/sh TERM=xterm-256color KBUILD_NS="$KBUILD_NS" STATE="$STATE" CO="$CO" IMG="$IMG" WORK="$WORK" \
	timeout -k 5 300 script -qec "sh $WORK/session.sh" /dev/null </dev/null >"$WORK/session.out" 2>&1
rc=$?
# script's output has CR LF line ends; script may also echo a byte when its
# stdin (here /dev/null) ends.
tr -d '\r' <"$WORK/session.out" | sed 's/\^@//g' >"$WORK/session.txt"
sed 's/^/# session: /' "$WORK/session.txt"
is "the script session ends with status 0" "$rc" 0

# field NAME: the rest of the "NAME: " line of the session.
field() { sed -n "s/^$1: //p" "$WORK/session.txt" | head -n 1; }
is "a pty session: the command's stdin is a terminal (probe istty)" "$(field istty)" tty
is "... with the session's window size (probe winsize)" "$(field winsize)" "33 101"
is "... and stdin and stdout are terminals (test -t)" "$(field test-t)" yes
is "... TERM passes" "$(field TERM)" xterm-256color
is "... TIOCSTI on it is refused (EPERM)" "$(field tiocsti)" "ok: ioctl(0, TIOCSTI): EPERM"
is "... the command's status comes back (3)" "$(field status)" 3
is "... the session's terminal modes are restored afterwards" "$(field restored)" yes
is "a resize of the session's terminal reaches the command (before: 33 101)" \
	"$(field winsize-1) -> $(field winsize-2)" "33 101 -> 40 120"
is "... and that run exits 0" "$(field status-2)" 0
