# Helpers shared by import-generated.t and import-peers.t (POSIX sh), sourced
# after lib.sh.  They compare the tree an imported image shows (its layers
# merged as overlay merges them) with the tree umoci unpacks from the same
# image.
#
#   mkimage FORM OUT ARGS...   `tests/fixtures/ocilib.py image` as the test user
#   treecmp ARGS...            tests/integration/treecmp.py as the test user
#   in_userns CMD...           CMD as the test user, as root of a user namespace
#                              when the system allows it (reads mode-000 files)
#   umoci_listing LAYOUT TAG OUT   listing of `umoci unpack --rootless`
#   image_listing REF OUT      listing of the merged layers of an imported image
#   inspect_get REF EXPR       evaluate a Python expression on the parsed
#                              `image inspect REF` (as d); strings print bare
#   json_get FILE EXPR         the same on a JSON file
#   id_of FILE                 the first sha256:<64 hex> in FILE
#   same_tree DESC WANT GOT    a TAP assertion: two listings are equal
#
# HAVE_USERNS / HAVE_OVERLAY say what the test user can do here; without an
# overlay mount, image_listing merges the layer dirs with `treecmp.py merged`
# (KBUILD_NS_TEST_NO_OVERLAY=1 forces that, to test the fallback).

OCILIB=$SRCDIR/tests/fixtures/ocilib.py
TREECMP=$SRCDIR/tests/integration/treecmp.py
# Everything the tests write is created with the usual permissions.
umask 022

mkimage() { as_user "$PYTHON" "$OCILIB" image "$@"; }
treecmp() { as_user "$PYTHON" "$TREECMP" "$@"; }

if as_user unshare -Ur true 2>/dev/null; then HAVE_USERNS=yes; else HAVE_USERNS=no; fi
in_userns() {
	if [ "$HAVE_USERNS" = yes ]; then as_user unshare -Ur "$@"; else as_user "$@"; fi
}

# Can the test user mount an overlay of layer dirs?  Two empty lower dirs
# (overlay wants two lower layers when it has no upper one).
as_user mkdir -p "$WORK/empty" "$WORK/empty2" "$WORK/mnt"
if [ -z "${KBUILD_NS_TEST_NO_OVERLAY:-}" ] && [ "$HAVE_USERNS" = yes ] && as_user unshare -Urm sh -c \
	'mount -t overlay overlay -o userxattr,lowerdir="$1:$2" "$3"' sh \
	"$WORK/empty" "$WORK/empty2" "$WORK/mnt" 2>/dev/null; then
	HAVE_OVERLAY=yes
else
	HAVE_OVERLAY=no
	echo "# no overlay mount for the test user here: merging layers with treecmp.py merged"
fi

json_get() {
	"$PYTHON" -c 'import json, sys
d = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
print(v if isinstance(v, str) else json.dumps(v))' "$1" "$2"
}

inspect_get() {
	kb image inspect "$1" >"$WORK/.inspect-get" 2>&1 || { cat "$WORK/.inspect-get" >&2; return 1; }
	json_get "$WORK/.inspect-get" "$2"
}

id_of() { grep -o 'sha256:[0-9a-f]\{64\}' "$1" | head -n 1; }

# umoci_listing LAYOUT TAG OUT: unpack LAYOUT:TAG rootless, list its rootfs.
umoci_listing() {
	_b=$WORK/bundle.$$
	as_user umoci unpack --rootless --image "$1:$2" "$_b" >"$WORK/.umoci" 2>&1 ||
		{ sed 's/^/# umoci: /' "$WORK/.umoci"; return 1; }
	in_userns "$PYTHON" "$TREECMP" list "$_b/rootfs" >"$3"
	_rc=$?
	as_user chmod -R u+rwx "$_b"; as_user rm -rf "$_b"
	return $_rc
}

# image_layers REF: the layer dirs of an imported image, top layer first,
# one per line (inspect lists them bottom first, as the manifest does).
image_layers() {
	inspect_get "$1" '"\n".join(reversed([l["path"] for l in d["layers"]]))'
}

# image_listing REF OUT: the tree the image shows, from an overlay mount of
# its layer dirs (lowerdir top first; an empty dir at the bottom so that a
# one-layer image is an overlay too), or computed by treecmp.py merged.
image_listing() {
	_layers=$(image_layers "$1") || return 1
	[ -n "$_layers" ] || { echo "# $1 has no layers" >&2; return 1; }
	if [ "$HAVE_OVERLAY" = yes ]; then
		_lower=$(printf '%s\n' "$_layers" "$WORK/empty" | paste -sd:)
		as_user unshare -Urm sh -c \
			'mount -t overlay overlay -o ro,userxattr,lowerdir="$1" "$2" && exec "$3" "$4" list "$2"' \
			sh "$_lower" "$WORK/mnt" "$PYTHON" "$TREECMP" >"$2"
	else
		# shellcheck disable=SC2086 # layer paths have no blanks
		in_userns "$PYTHON" "$TREECMP" merged $_layers >"$2"
	fi
}

# same_tree DESC WANT GOT: the listings are equal (the diff goes to the log).
same_tree() {
	if diff -u "$2" "$3" >"$WORK/.diff" 2>&1 && [ -s "$2" ]; then
		_result 0 "$1"
	else
		[ -s "$2" ] || echo "# reference listing $2 is empty"
		sed 's/^/# /' "$WORK/.diff" | head -40
		_result 1 "$1"
	fi
}
