#!/bin/sh
# A FIFO where kbuild-ns expects a file: opening one for reading blocks
# until a writer comes (fifo(7)), so every file kbuild-ns reads from an
# image layout or a checkout is opened non-blocking and checked to be a
# regular file first.  Each case must end at once (bounded by timeout:
# 124 would be a hang) with status 125 and one line that names the file.
# Needs no namespaces: import, status and a run that fails before its
# sandbox.
. "$SRCDIR/tests/integration/lib.sh"
need timeout mkfifo tar

FX=$SRCDIR/tests/fixtures
SCR=$WORK/scratch
mkdir -p "$SCR"
gen() { "$PYTHON" "$FX/ocilib.py" image "$@"; }
{
	gen oci-dir "$SCR/layout" --name v1 --layer name=f1 --meta "$SCR/layout.json" &&
		gen docker-save "$SCR/docker.tar" --name fifo:1 --layer name=f2
} >"$SCR/gen.log" 2>&1 || { sed 's/^/# /' "$SCR/gen.log"; echo "Bail out! fixture generation failed"; exit 1; }
jget() { "$PYTHON" "$FX/ocilib.py" jget "$1"; }
LAYER=$(jget layers.0.digest <"$SCR/layout.json"); LAYER=${LAYER#sha256:}
MANIFEST=$(jget manifest <"$SCR/layout.json"); MANIFEST=${MANIFEST#sha256:}

# copy NAME: a fresh copy of the layout (or, for docker-*, the docker
# archive unpacked) in $SCR/NAME.
copy() {
	rm -rf "${SCR:?}/$1"
	case $1 in
	docker*) mkdir "$SCR/$1" && tar -C "$SCR/$1" -xf "$SCR/docker.tar" ;;
	*) cp -R "$SCR/layout" "$SCR/$1" ;;
	esac
}
# fifo PATH: replace PATH by a FIFO.
fifo() { rm -rf "$1" && mkfifo "$1"; }
# one_line DESC PATTERN ARGS...: kbuild-ns ARGS exits 125 at once, with
# one line on stderr matching PATTERN.
one_line() {
	_d=$1; _p=$2; shift 2
	as_user timeout -k 2 20 "$KBUILD_NS" -q --state-dir "$STATE" "$@" </dev/null >"$WORK/out" 2>"$WORK/err"
	_rc=$?
	if [ "$_rc" = 125 ] && [ "$(wc -l <"$WORK/err")" = 1 ] && grep -q -- "$_p" "$WORK/err"; then
		_result 0 "$_d"
	else
		sed 's/^/# /' "$WORK/err" | head -5
		echo "# exit status $_rc (124: it hung), wanted 125 and one line matching: $_p"
		_result 1 "$_d"
	fi
}

plan 12

# ---- image import
copy idx; fifo "$SCR/idx/index.json"
copy lay; fifo "$SCR/lay/oci-layout"
copy dock; rm -rf "$SCR/dock"; copy docker-m; fifo "$SCR/docker-m/manifest.json"
copy blob; fifo "$SCR/blob/blobs/sha256/$LAYER"
copy man; fifo "$SCR/man/blobs/sha256/$MANIFEST"
mkfifo "$SCR/archive.tar"
[ "$(id -u)" = 0 ] && chown -R "$TEST_UID:$TEST_GID" "$SCR"

one_line "import: index.json a FIFO" "index.json: not a regular file" image import "$SCR/idx" --name f:1
one_line "import: oci-layout a FIFO" "oci-layout: not a regular file" image import "$SCR/lay" --name f:1
one_line "import: a docker directory's manifest.json a FIFO" "manifest.json: not a regular file" \
	image import "$SCR/docker-m" --name f:1
one_line "import: a layer blob a FIFO" "$LAYER: not a regular file" image import "$SCR/blob" --name f:1
one_line "import: the manifest blob a FIFO" "$MANIFEST: not a regular file" image import "$SCR/man" --name f:1
one_line "import: the archive itself a FIFO" "archive.tar: not a regular file" \
	image import "$SCR/archive.tar" --name f:1
is "import: nothing was added to the store" \
	"$(find "$STATE/store/images" "$STATE/store/layers" -mindepth 1 2>/dev/null | wc -l)" 0

# ---- the checkout's files
CO=$WORK/co
as_user sh -ec 'mkdir -p "$1/build/build-image/cross" "$1/.git"
	echo v1.0.0-go1.22-bullseye.0 >"$1/build/build-image/cross/VERSION"
	echo "ref: refs/heads/main" >"$1/.git/HEAD"' sh "$CO"
# infifo FILE CMD...: CMD with FILE of the checkout a FIFO for a while.
infifo() {
	_f=$1; shift
	as_user sh -c 'mv "$1" "$1.keep" && mkfifo "$1"' sh "$CO/$_f"
	"$@"
	as_user sh -c 'rm -f "$1" && mv "$1.keep" "$1"' sh "$CO/$_f"
}
as_user sh -c 'echo "image = none:1" >"$1/kbuild-ns.conf"' sh "$CO"
infifo kbuild-ns.conf one_line "status: kbuild-ns.conf a FIFO" "kbuild-ns.conf: not a regular file" -C "$CO" status
infifo build/build-image/cross/VERSION one_line "status: cross/VERSION a FIFO" \
	"build/build-image/cross/VERSION: not a regular file" -C "$CO" status
infifo .git/HEAD one_line "status: .git/HEAD a FIFO" ".git/HEAD: not a regular file" -C "$CO" status
as_user mkfifo "$WORK/version-defs"
export KUBE_GIT_VERSION_FILE="$WORK/version-defs"
one_line "run: KUBE_GIT_VERSION_FILE a FIFO" "KUBE_GIT_VERSION_FILE $WORK/version-defs: not a regular file" \
	-C "$CO" run --image none:1 -- true
unset KUBE_GIT_VERSION_FILE
ok "status works again with regular files" kb -C "$CO" status

[ "$_tap_failed" = 0 ]
