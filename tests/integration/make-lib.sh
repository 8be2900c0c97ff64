# Shared by the tests that build the real Go tree examples/kube-mini with
# `kbuild-ns make` (POSIX sh), sourced after lib.sh.
#
# 1. The image.  images/kube-cross/build.sh makes the kube-cross-like image
#    (Debian packages through mmdebstrap, umoci, skopeo: about two minutes
#    and a Debian mirror the first time).  It keeps the archive in a cache
#    and reuses it while its recipe, tag and mirrors are unchanged, so only
#    the first run in a build tree pays for it.  The cache is
#        $KBUILD_NS_IMAGE_CACHE               when set (CI can keep it), else
#        $(pwd)/.cache/images                 the build tree's, under `make check`
#    It is built by whoever runs the suite: as root (the usual case, the
#    harness then drops to the test user) it is root's, mode 0755/0644, and
#    the test user only reads it; when the test user cannot reach it the
#    archive is copied into $WORK.  The whole script is skipped (77) when
#    mmdebstrap, umoci or skopeo are missing, when build.sh refuses the host
#    (no subordinate ids, no user namespaces, as a user), or when the
#    Debian mirror cannot be reached; any other failure is a Bail out.
# 2. Its import, as the test user, into this script's state ($STATE), as
#    kube-cross:<tag of examples/kube-mini/build/build-image/cross/VERSION>.
# 3. $KCO: a copy of examples/kube-mini owned by the test user, a git
#    repository on branch master with two commits, the first tagged v1.0.0,
#    so that `git describe` gives v1.0.0-1-g<sha>.
#
# Sets: KUBE_TAG, KUBE_ARCHIVE (the image archive, readable by the test
# user), KCO.  Helpers:
#   hgit ARGS...           git in $KCO as the test user
#   jget FIELD             a field of `kbuild-ns status --json` for $KCO
# (and lib.sh's hu, ms).

need timeout tar git "$PYTHON"
need_userns

MAKE_TIMEOUT=${MAKE_TIMEOUT:-600}

hgit() { as_user git -C "$KCO" -c user.name=kbuild-ns-test -c user.email=kbuild-ns-test@example.invalid "$@"; }

# ---- 1. the image -------------------------------------------------------------
for _t in mmdebstrap umoci skopeo; do
	command -v "$_t" >/dev/null 2>&1 ||
		skip_all "$_t is not installed (images/kube-cross/build.sh needs mmdebstrap, umoci and skopeo)"
done
KUBE_TAG=$(tr -d ' \t\r\n' <"$SRCDIR/examples/kube-mini/build/build-image/cross/VERSION" 2>/dev/null)
[ -n "$KUBE_TAG" ] || { echo "Bail out! no tag in $SRCDIR/examples/kube-mini/build/build-image/cross/VERSION"; exit 1; }

IMAGE_CACHE=${KBUILD_NS_IMAGE_CACHE:-$(pwd)/.cache/images}
(umask 022 && mkdir -p "$IMAGE_CACHE") && [ -w "$IMAGE_CACHE" ] ||
	{ echo "Bail out! cannot write to the image cache $IMAGE_CACHE (set KBUILD_NS_IMAGE_CACHE to another directory)"; exit 1; }
_t0=$(date +%s)
(umask 022 && timeout -k 10 1800 sh "$SRCDIR/images/kube-cross/build.sh" --cache "$IMAGE_CACHE" \
	"$IMAGE_CACHE/kube-cross.tar") >"$WORK/.image-build" 2>&1 </dev/null
_rc=$?
if [ "$_rc" != 0 ]; then
	_why=$(grep '^build.sh: ' "$WORK/.image-build" | tail -1)
	case $_why in
	*missing* | *" has no range for "* | *"user namespaces are off"*)
		skip_all "images/kube-cross/build.sh cannot build here: ${_why#build.sh: }" ;;
	esac
	# Is it the network?  Ask the mirror build.sh used for its Release file.
	_mirror=$(sed -n 's/^+++ \[[^]]*\] Mirrors: \([^,]*\),.*/\1/p' "$WORK/.image-build" | head -1)
	_suite=$(sed -n 's/^+++ \[[^]]*\] Building .* from Debian \([a-z]*\) .*/\1/p' "$WORK/.image-build" | head -1)
	if [ -n "$_mirror" ] && ! "$PYTHON" -c '
import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=20).read(1)' "$_mirror/dists/${_suite:-bookworm}/Release" >/dev/null 2>&1; then
		skip_all "the Debian mirror $_mirror is unreachable, so the kube-cross image cannot be built"
	fi
	sed 's/^/# /' "$WORK/.image-build" | tail -30
	echo "Bail out! images/kube-cross/build.sh failed (exit $_rc)"
	exit 1
fi
echo "# image: $(tail -1 "$WORK/.image-build") [$(($(date +%s) - _t0)) s]"

KUBE_ARCHIVE=$IMAGE_CACHE/kube-cross.tar
if ! as_user test -r "$KUBE_ARCHIVE"; then
	# A cache the test user cannot reach (a build tree under /root): a copy.
	cp "$KUBE_ARCHIVE" "$WORK/kube-cross.tar" && chown "$TEST_UID:$TEST_GID" "$WORK/kube-cross.tar" ||
		{ echo "Bail out! cannot copy $KUBE_ARCHIVE for the test user"; exit 1; }
	KUBE_ARCHIVE=$WORK/kube-cross.tar
fi

# ---- 2. the import ------------------------------------------------------------
_t0=$(date +%s)
kb image import "$KUBE_ARCHIVE" >"$WORK/.import" 2>&1 || {
	sed 's/^/# /' "$WORK/.import"; echo "Bail out! kbuild-ns image import $KUBE_ARCHIVE failed"; exit 1; }
echo "# imported kube-cross:$KUBE_TAG as the test user [$(($(date +%s) - _t0)) s]"

# ---- 3. the checkout ----------------------------------------------------------
KCO=$WORK/kube-mini
as_user mkdir "$KCO" &&
	tar -C "$SRCDIR/examples/kube-mini" --exclude=./_output --exclude=./_tmp \
		--exclude=./.dockerized-kube-version-defs -cf - . | as_user tar -C "$KCO" -xf - &&
	hgit init -q &&
	hgit symbolic-ref HEAD refs/heads/master &&
	hgit add -A && hgit commit -qm "kube-mini" && hgit tag v1.0.0 &&
	hu 'echo "a second commit, so that git describe is v1.0.0-1-g<sha>" >"$1/CHANGES"' "$KCO" &&
	hgit add -A && hgit commit -qm "past the tag" ||
	{ echo "Bail out! making the git checkout $KCO failed"; exit 1; }

# jget FIELD: a field of `status --json` for $KCO ("null", "true"/"false").
jget() { status_get "$KCO" "$1"; }
