# The manual pages: every page is clean under mandoc's linter, `kbuild-ns
# help` shows the right page when there is no terminal, and every command
# that `kbuild-ns --help` lists is documented in a page of its own or in a
# section of kbuild-ns(1).
BUILD_MAN=${SRCDIR:-.}/man    # where `kbuild-ns help` finds the pages (lib.sh may move SRCDIR)
. "$SRCDIR/tests/integration/lib.sh"

: "${MANDOC:=}"
[ -n "$MANDOC" ] || MANDOC=$(command -v mandoc || true)
[ -n "$MANDOC" ] || skip_all "mandoc is not installed"

pages=$(ls "$SRCDIR"/man/*.[1-9] 2>/dev/null)
[ -n "$pages" ] || skip_all "no manual pages in $SRCDIR/man"
npages=$(echo "$pages" | wc -l)

# The commands --help lists: in its "Commands:" block, the first word of
# each line, or every word of a comma-separated list ("make, run, ...");
# the description after a gap of two or more spaces is ignored.
"$KBUILD_NS" --help >"$WORK/help.txt" 2>&1
commands=$(awk '
	/^Commands:/ { on = 1; next }
	on && /^[[:space:]]*$/ { on = 0 }
	on {
		sub(/^[[:space:]]+/, ""); sub(/[[:space:]][[:space:]].*$/, "")
		if ($0 ~ /,/) { n = split($0, w, /,[[:space:]]*/); for (i = 1; i <= n; i++) print w[i] }
		else print $1
	}' "$WORK/help.txt" | sort -u)
ncommands=$(echo "$commands" | grep -c .)

plan $((npages + 6 + ncommands))

for p in $pages; do
	out=$("$MANDOC" -Tlint -Wwarning "$p" 2>&1)
	[ -z "$out" ] || echo "$out" | sed 's/^/# /'
	is "mandoc -Tlint -Wwarning is silent on $(basename "$p")" "$out" ""
done

# Remove overstriking (bold and underline) that man may leave in the text.
bs=$(printf '\b')
plain() { sed "s/.$bs//g"; }

# help_as CMD...: as the test user, unless it cannot read the pages
# `kbuild-ns help` finds in the build's source tree (a clone under /root):
# then as the caller, since help needs no privilege either way.
help_as() {
	if as_user test -r "$BUILD_MAN/kbuild-ns.1" 2>/dev/null; then as_user "$@"; else "$@"; fi
}
# help_shows DESC PAGE [COMMAND]: `kbuild-ns help [COMMAND]`, with no
# terminal and cat as the pager, exits 0 and prints the NAME line of PAGE
# (its name, then the first words of its description).
help_shows() {
	_d=$1; _page=$2; shift 2
	_name=$(sed -n 's/^\.Nm \([^ ]*\).*/\1/p' "$_page" | head -1)
	_words=$(sed -n 's/^\.Nd //p' "$_page" | head -1 | cut -d' ' -f1-3)
	help_as env MANPAGER=cat PAGER=cat "$KBUILD_NS" help "$@" \
		</dev/null >"$WORK/help.out" 2>&1
	_rc=$?
	plain <"$WORK/help.out" | grep -q "^ *$_name .*$_words"
	_found=$?
	[ "$_rc:$_found" = 0:0 ] ||
		{ head -12 "$WORK/help.out" | sed 's/^/# /'; echo "# exit $_rc; wanted: $_name ... $_words"; }
	is "$_d" "$_rc:$_found" 0:0
}

help_shows "'kbuild-ns help image' shows kbuild-ns-image(1)" "$SRCDIR/man/kbuild-ns-image.1" image
help_shows "'kbuild-ns help' shows kbuild-ns(1)" "$SRCDIR/man/kbuild-ns.1"
help_shows "'kbuild-ns help conf' shows kbuild-ns.conf(5)" "$SRCDIR/man/kbuild-ns.conf.5" conf

help_as env MANPAGER=cat PAGER=cat "$KBUILD_NS" help no-such-command \
	</dev/null >"$WORK/help.out" 2>"$WORK/help.err"
is "'kbuild-ns help no-such-command' fails with 125 and one line" \
	"$?:$(wc -l <"$WORK/help.err" | tr -d ' ')" "125:1"

# kbuild-ns-image(1) spoke of "the planned build commands" long after
# make, run and shell existed (issue 14).
is "no page speaks of planned build commands" "$(grep -l 'planned build commands' $pages)" ""

is "--help lists commands ($(echo $commands))" "$(test "$ncommands" -ge 3 && echo yes)" yes
for c in $commands; do
	if [ -f "$SRCDIR/man/kbuild-ns-$c.1" ]; then
		where="kbuild-ns-$c(1)"
	elif grep -Eq "^\.It Cm $c( |\$)" "$SRCDIR/man/kbuild-ns.1"; then
		where="kbuild-ns(1)"
	else
		where=none
	fi
	isnt_none=$(test "$where" != none && echo documented)
	is "command '$c' is documented in $where" "$isnt_none" documented
done
