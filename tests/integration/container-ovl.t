#!/bin/sh
# The state directory on overlayfs, as a container's root file system is
# (`docker run --security-opt seccomp=unconfined`, state in the
# container's /tmp or $HOME): the kernel takes no overlay upper layer
# there and makes no 0/0 whiteout device through it, so the store keeps
# whiteouts as ".wh." files and make, run and shell run on a copy of the
# image (src/build/flatroot.h).  Checked here, as the test user:
#
# - image import into that store (whiteouts in OCI form, the layer marked);
# - run and make of a small generic checkout (a busybox image with GNU
#   make and its libraries), the output copied back;
# - what the build writes in the root survives to the next run;
# - the one-line warning comes once, when the copy is made; -v says why;
# - the copied root of a layered image (tests/fixtures/ocilib.py, content
#   multi: whiteouts, an opaque directory, replacements) equals the
#   layers merged as overlayfs merges them (treecmp.py merged, on the
#   same image in an ordinary state directory);
# - doctor: notes, no PROBLEM, and the volume/emptyDir fix;
# - cache export and import refuse in one line naming the mode and fix.
#
# As root the overlay is mounted by root, as a container runtime mounts
# the container's root (trusted.overlay.* xattrs, the merged directory
# given to the test user); otherwise in a user namespace of the test
# user (unshare -Urm), as container.t does.
. "$SRCDIR/tests/integration/lib.sh"
need python3 unshare
. "$SRCDIR/tests/integration/run-lib.sh"

OCILIB=$SRCDIR/tests/fixtures/ocilib.py
TREECMP=$SRCDIR/tests/integration/treecmp.py
O=$WORK/ovl
OS=$O/m/state
hu 'mkdir -p "$1/l" "$1/u" "$1/w" "$1/m"' "$O"

if [ "$(id -u)" = 0 ]; then
	mount -t overlay overlay -o "lowerdir=$O/l,upperdir=$O/u,workdir=$O/w" "$O/m" ||
		skip_all "root cannot mount an overlay here"
	chown "$TEST_UID:$TEST_GID" "$O/m"
	trap 'umount -l "$O/m" 2>/dev/null; cleanup' EXIT
	# onovl CMD...: CMD as the test user, with $O/m the overlay.
	onovl() { as_user "$@"; }
else
	onovl() {
		as_user unshare -Urm sh -c 'mount -t overlay overlay -o "lowerdir=$1/l,upperdir=$1/u,workdir=$1/w" "$1/m" &&
			shift && exec "$@"' sh "$O" "$@"
	}
	onovl true 2>/dev/null || skip_all "no overlayfs mount in a user namespace here"
fi
onovl sh -c 'test "$(stat -f -c %T "$1")" = overlayfs' sh "$O/m" || skip_all "$O/m is not an overlayfs mount"

plan 24

# kbo ARGS...: kbuild-ns with the state directory on the overlay.
kbo() { onovl timeout -k 5 "$RUN_TIMEOUT" "$KBUILD_NS" --state-dir "$OS" "$@" </dev/null; }
keep() { cp "$WORK/.out" "$WORK/last.out"; }
warn_re='^kbuild-ns: warning: state directory .* is on overlayfs.*copy of the image.*--state-dir.*volume'

# ---- the images ------------------------------------------------------------------
# busybox with GNU make and the libraries it loads, for `make`.
hu '
	r=$1/mkroot
	cp -a "$1/rootfs" "$r" 2>/dev/null || { mkdir -p "$r"; tar -C "$r" -xf "$1/rootfs.tar"; }
	mkdir -p "$r/usr/bin"
	cp /usr/bin/make "$r/usr/bin/make"
	for l in $(ldd /usr/bin/make | grep -o "/[^ ]*"); do
		mkdir -p "$r$(dirname "$l")"; cp -L "$l" "$r$l"
	done
	tar -C "$r" --numeric-owner --owner=0 --group=0 -cf "$1/make.tar" .
' "$WORK" >"$WORK/.mk" 2>&1 || { sed 's/^/# /' "$WORK/.mk"; echo "Bail out! making the make image failed"; exit 1; }
as_user "$PYTHON" "$OCILIB" image oci-archive "$WORK/multi.tar" --content multi --name multi:1 ||
	{ echo "Bail out! ocilib.py failed"; exit 1; }

ok "image import into a store on overlayfs" kbo -q image import "$WORK/make.tar" --name mk:1
ok "... of a layered image with whiteouts and an opaque directory" kbo -q image import "$WORK/multi.tar"
ok "... its whiteouts are .wh. files and its layers are marked" onovl sh -c '
	test -n "$(find "$1/store/layers" -name ".wh..wh..opq" | head -1)" &&
	test -n "$(find "$1/store/layers" -name ".wh.gone" | head -1)" &&
	"$2" -c "import os, sys
sys.exit(any(os.getxattr(l.path, \"user.kbuild-ns.whiteouts\") != b\"oci\" for l in os.scandir(sys.argv[1])))" \
		"$1/store/layers"
' sh "$OS" "$PYTHON"

# ---- make and run on a generic checkout ---------------------------------------------
MCO=$O/m/mco
# (Written through the overlay: without root it exists only in onovl's namespace.)
onovl sh -ec 'mkdir -p "$1" && printf "%s\n" "all:" \
	"	mkdir -p _output/bin" \
	"	printf \"#!/bin/sh\\necho hello\\n\" >_output/bin/hello" \
	"	chmod +x _output/bin/hello" \
	"	echo build >>/root/builds" >"$1/Makefile"' sh "$MCO"
ok "make with the state directory on overlayfs: exit 0" kbo -C "$MCO" make --image mk:1
keep
is "the warning is printed once" "$(grep -c "$warn_re" "$WORK/last.out")" 1
ok "the output came back to the checkout" onovl test -x "$MCO/_output/bin/hello"
ok "make again: exit 0" kbo -C "$MCO" make --image mk:1
keep
is "... no warning the second time" "$(grep -c 'warning: state directory' "$WORK/last.out")" 0
is "what the build wrote in the root survives (two builds recorded)" \
	"$(kbo -q -C "$MCO" run --image mk:1 -- cat /root/builds 2>&1 | tr '\n' ' ')" "build build "
ok "run -v says the root is a copy, and why" kbo -v -C "$MCO" run --image mk:1 -- true
keep
ok "... (root: a copy ..., overlayfs)" grep -q '^+++ .*root: a copy of the image.*overlayfs' "$WORK/last.out"
status_is() { _w=$1; shift; "$@"; [ $? = "$_w" ]; }
ok "the exit status comes through" status_is 7 kbo -q -C "$MCO" run --image mk:1 -- sh -c 'exit 7'
# A write inside the root goes to the copy, never through to the store
# (a hard-linked root would change the layer's file).
kbo -q -C "$MCO" run --image mk:1 -- sh -c 'echo changed >/usr/bin/make' >/dev/null 2>&1
ok "a write to a file of the image leaves the store's file as it was" onovl sh -c \
	'cmp -s /usr/bin/make "$(find "$1/store/layers" -path "*/usr/bin/make" | head -1)"' sh "$OS"
ok "clean removes the copied root with the state" kbo -q -C "$MCO" clean
ok "... and make works again after it" kbo -q -C "$MCO" make --image mk:1

# ---- whiteouts and opaque directories in the copy --------------------------------------
CO2=$O/m/co2
onovl mkdir -p "$CO2"
ok "run on the layered image (busybox bound in)" kbo -q -C "$CO2" run --image multi:1 \
	--bind /bin/busybox:/kbtest/busybox:ro -- /kbtest/busybox true
# The reference: the same image in an ordinary state directory, its
# layers (overlay form) merged by treecmp.py.
kb image import "$WORK/multi.tar" >/dev/null 2>&1
layers=$(kb image inspect multi:1 | "$PYTHON" -c 'import json, sys
d = json.load(sys.stdin)
print(" ".join(reversed([l["path"] for l in d["layers"]])))')
# shellcheck disable=SC2086 # layer paths have no blanks
as_user unshare -Ur "$PYTHON" "$TREECMP" merged $layers >"$WORK/want" 2>&1
root=$(onovl sh -c 'ls -d "$1"/projects/*/rootfs' sh "$OS" | while read -r d; do
	onovl test -e "$d/kbtest" && echo "$d"; done)
# Less the mount points the sandbox made (as it makes them in an upper layer).
onovl unshare -Ur "$PYTHON" "$TREECMP" list "$root" 2>&1 | grep -Ev '^(dev|proc|sys|src|tmp|kbtest)(/|	)' >"$WORK/got"
grep -Ev '^(dev|proc|sys|src|tmp|kbtest)(/|	)' "$WORK/want" >"$WORK/want2"
if [ -s "$WORK/want2" ] && diff -u "$WORK/want2" "$WORK/got" >"$WORK/.diff" 2>&1; then
	_result 0 "the copied root equals the layers merged as overlayfs merges them"
else
	sed 's/^/# /' "$WORK/.diff" | head -30; _result 1 "the copied root equals the layers merged as overlayfs merges them"
fi
# (multi: layer 2 whites out del/gone and del/gonedir and makes opq
# opaque over opq/old1 and opq/sub; layer 3 makes del/gone again.)
ok "... a whited-out directory is gone, the opaque directory holds only the upper layers' files" sh -c \
	'! grep -q "^del/gonedir" "$1" && ! grep -q "^opq/old1" "$1" && ! grep -q "^opq/sub" "$1" &&
	grep -q "^opq/new	" "$1" && grep -q "^opq/third	" "$1" && grep -q "^del/gone	f" "$1"' sh "$WORK/got"

# A store unpacked on overlayfs, moved to an ordinary file system: its
# layers' .wh. files must not reach an overlay; the copied root reads them.
onovl unshare -Ur sh -c 'mkdir -p "$2" && cp -a "$1/store" "$2/"' sh "$OS" "$WORK/moved" 2>"$WORK/.cp" ||
	sed 's/^/# /' "$WORK/.cp"
ok "a store moved off overlayfs: run on its OCI-form layers works (a copied root)" as_user "$KBUILD_NS" \
	--state-dir "$WORK/moved" -C "$CO" run --image multi:1 --bind /bin/busybox:/kbtest/busybox:ro -- \
	/kbtest/busybox sh -c 'test ! -e /del/gonedir && test ! -e /opq/old1 && test -e /opq/new'
keep
ok "... and the warning says why and what to do" grep -q \
	"^kbuild-ns: warning: image multi:1: its layers were unpacked on overlayfs.*image rm and import it again" \
	"$WORK/last.out"

# ---- doctor and cache ----------------------------------------------------------------
ok "doctor with the state on overlayfs: no PROBLEM (exit 0)" kbo doctor
keep
ok "doctor notes the copied root and gives the volume/emptyDir fix" sh -c \
	'grep -q "^note  *overlay: .*overlayfs.*copied root" "$1" && grep -q "emptyDir" "$1" &&
	grep -q "^note  *xattrs: .*copy of the image" "$1"' sh "$WORK/last.out"
fails "cache export refuses in one line naming the mode and the fix" 125 kbo -q -C "$MCO" cache export \
	--image mk:1 "$O/m/c.tar.zst"
keep
ok "... (one line: overlayfs, copied root, --state-dir)" sh -c 'test "$(grep -c "^kbuild-ns:" "$1")" = 1 &&
	grep -q "^kbuild-ns: cache export: .*overlayfs.*copied root.*--state-dir" "$1"' sh "$WORK/last.out"

exit $((_tap_failed > 0))
