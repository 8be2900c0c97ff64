#!/bin/sh
# Hostile image archives (tests/fixtures/hostile.py) against `image import`.
#
# Each case is imported as the unprivileged test user, then:
#   1. the exit status is the documented one (125, or 0 where allowed);
#   2. a failure prints exactly one stderr line starting "kbuild-ns: ",
#      a success prints the image id;
#   3. nothing outside the store changed: the canary tree (a directory the
#      cases try to write, delete, chmod, link or read through), the
#      archives, the private HOME, everything in $WORK but state/;
#   4. after a failure the store holds no new layer, image or blob; after a
#      success the top layer holds what the case says (if anything) and
#      `image rm` brings the store back to what it was;
#   5. after `image ls` (the next command), store/tmp holds no leftovers.
# The canary belongs to the test user, so an escape would really succeed.
. "$SRCDIR/tests/integration/lib.sh"
need zstd timeout

FX=$SRCDIR/tests/fixtures
ARCH=$WORK/archives
CANARY=$WORK/canary
SCR=$WORK/scratch                  # this script's own files (not checked)
mkdir -p "$SCR"

"$PYTHON" "$FX/hostile.py" "$ARCH" "$CANARY" >"$SCR/gen.log" 2>&1 &&
	"$PYTHON" "$FX/ocilib.py" image oci-archive "$ARCH/baseline.tar" --name latest \
		--layer name=baseline,files=20 >>"$SCR/gen.log" 2>&1 ||
	{ sed 's/^/# /' "$SCR/gen.log"; echo "Bail out! fixture generation failed"; exit 1; }
user_own "$ARCH" "$CANARY" "$SCR"

ncases=$(awk 'END { print NR }' "$ARCH/cases.tsv")
plan $((1 + 5 * ncases + 2))

# Everything under $WORK except the store and this script's scratch files,
# with contents, modes, owners, xattrs and mtimes.
work_snap() {
	"$PYTHON" "$FX/ocilib.py" listing "$WORK" --mtimes --owners \
		--exclude state --exclude scratch --exclude .out
}
# The names the store publishes (layers, image records, blobs).
store_snap() {
	(cd "$STATE/store" 2>/dev/null &&
		{ find layers images -maxdepth 1; find blobs -maxdepth 2; } 2>&1 | sort)
}
# store/tmp must be empty (or absent).
tmp_clean() {
	[ ! -d "$STATE/store/tmp" ] || [ -z "$(find "$STATE/store/tmp" -mindepth 1 | head -1)" ]
}
# one_error_line FILE: exactly one line, starting "kbuild-ns: ".
one_error_line() {
	[ "$(awk 'END { print NR }' "$1")" = 1 ] && grep -q '^kbuild-ns: ' "$1"
}

# kb with a time limit: a hostile archive must not hang the importer.
kbt() { as_user timeout 120 "$KBUILD_NS" -q --state-dir "$STATE" "$@"; }

# A valid image already in the store: failures must not disturb it.
ok "baseline image imports" kb image import "$ARCH/baseline.tar" --name baseline:1
base_layers=$(kb image inspect baseline:1 2>/dev/null | "$PYTHON" "$FX/ocilib.py" jget 'layers.*.path')
for l in $base_layers; do "$PYTHON" "$FX/ocilib.py" listing "$l"; done >"$SCR/base.listing"

work_snap >"$SCR/work.before"

while IFS='	' read -r name path expect args chk <&3; do
	[ "$args" = - ] && args=
	store_snap >"$SCR/store.before"
	# shellcheck disable=SC2086 # ARGS is a word list
	kbt image import "$ARCH/$path" --name "hostile-$name:t" $args \
		>"$SCR/out" 2>"$SCR/err" </dev/null
	rc=$?
	echo "# $name: exit $rc: $(head -c 300 "$SCR/err" | tr '\n' ' ')"

	# 1. status
	case $expect in
	fail) want="125" ;;
	ok) want="0" ;;
	confine) want="0 or 125" ;;
	esac
	case " $want " in
	*" $rc "*) _result 0 "$name: exit status $rc ($expect)" ;;
	*) echo "# wanted $want"; _result 1 "$name: exit status $rc ($expect)" ;;
	esac

	# 2. what it printed
	if [ "$rc" = 125 ]; then
		one_error_line "$SCR/err"
		_result $? "$name: one error line starting 'kbuild-ns: '"
	elif [ "$rc" = 0 ]; then
		grep -Eq '^sha256:[0-9a-f]{64}' "$SCR/out"
		_result $? "$name: prints the image id"
	else
		sed 's/^/# stderr: /' "$SCR/err" | head -5
		_result 1 "$name: exits 0 or 125, not $rc"
	fi

	# 3. no write outside the store
	work_snap >"$SCR/work.after"
	if cmp -s "$SCR/work.before" "$SCR/work.after"; then
		_result 0 "$name: canary, archives and work dir unchanged"
	else
		diff "$SCR/work.before" "$SCR/work.after" | head -10 | sed 's/^/# /'
		_result 1 "$name: canary, archives and work dir unchanged"
		work_snap >"$SCR/work.before"     # report each escape once
	fi

	# 4. the store
	if [ "$rc" = 0 ]; then
		top=$(kb image inspect "hostile-$name:t" | "$PYTHON" "$FX/ocilib.py" jget layers.-1.path)
		good=0
		if [ "$chk" != - ] && ! "$PYTHON" "$FX/hostile.py" check "$top" "$chk" >"$SCR/chk" 2>&1; then
			good=1; sed 's/^/# /' "$SCR/chk"
		fi
		kb image rm "hostile-$name:t" >"$SCR/rm.out" 2>&1 || { good=1; sed 's/^/# rm: /' "$SCR/rm.out"; }
		store_snap >"$SCR/store.after"
		cmp -s "$SCR/store.before" "$SCR/store.after" ||
			{ good=1; diff "$SCR/store.before" "$SCR/store.after" | head -10 | sed 's/^/# /'; }
		_result $good "$name: layer content as expected, image rm restores the store"
	else
		store_snap >"$SCR/store.after"
		if cmp -s "$SCR/store.before" "$SCR/store.after"; then
			_result 0 "$name: store unchanged after the failure"
		else
			diff "$SCR/store.before" "$SCR/store.after" | head -10 | sed 's/^/# /'
			_result 1 "$name: store unchanged after the failure"
		fi
	fi

	# 5. the next command clears store/tmp
	if kb image ls >"$SCR/ls.out" 2>&1 && tmp_clean; then
		_result 0 "$name: image ls works and leaves store/tmp empty"
	else
		sed 's/^/# /' "$SCR/ls.out" | head -5
		find "$STATE/store/tmp" -mindepth 1 -maxdepth 2 2>/dev/null | head -5 | sed 's/^/# tmp: /'
		_result 1 "$name: image ls works and leaves store/tmp empty"
	fi
done 3<"$ARCH/cases.tsv"

# No file named *kbns-pwned* anywhere the test user can write, except
# inside the store (where confined writes may land).
found=$(find "$WORK" /tmp /var/tmp /dev/shm -xdev -name '*kbns-pwned*' 2>/dev/null |
	grep -v '/state/store/' | head -5)
is "no *kbns-pwned* file outside a store" "$found" ""

# The baseline image is untouched.
for l in $base_layers; do "$PYTHON" "$FX/ocilib.py" listing "$l"; done >"$SCR/base.after"
cmp -s "$SCR/base.listing" "$SCR/base.after" && [ -s "$SCR/base.listing" ]
_result $? "baseline image layers unchanged"

[ "$_tap_failed" = 0 ]
