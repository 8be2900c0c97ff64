#!/bin/sh
# The CI-cache round trip on examples/kube-mini with the kube-cross-like
# image, as the test user: make (cold), cache export, clean --all, cache
# import, make — which compiles nothing (GOFLAGS=-x logs no compiler run)
# because Go's build cache came back with its mtimes.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/make-lib.sh"

plan 8

unset KBUILD_NS_IMAGE KUBE_GIT_VERSION_FILE GOFLAGS
# km ARGS...: kbuild-ns on $KCO as the test user; GOFLAGS from $GX.
km() { as_user env GOFLAGS="${GX:-}" timeout -k 5 "$MAKE_TIMEOUT" "$KBUILD_NS" -q --state-dir "$STATE" -C "$KCO" "$@" </dev/null; }
ncompile() { grep -c '/compile ' "$1" 2>/dev/null; }
C=$WORK/kube-mini.cache.tar.zst

t0=$(ms)
GX=-x; ok "a cold make" km make; GX=
echo "# cold make: $(($(ms) - t0)) ms, $(ncompile "$WORK/.out") compiler runs"
t0=$(ms)
ok "cache export" km cache export "$C"
echo "# export: $(($(ms) - t0)) ms, $(wc -c <"$C") bytes"
ok "clean --all removes every state" km clean --all
is "... none left" "$(ls "$STATE/projects" 2>/dev/null | wc -l)" 0
t0=$(ms)
ok "cache import" km cache import "$C"
echo "# import: $(($(ms) - t0)) ms"
t0=$(ms)
GX=-x; ok "a make after the import" km make; GX=
cp "$WORK/.out" "$WORK/warm.out"
echo "# make after import: $(($(ms) - t0)) ms"
is "... compiles nothing" "$(ncompile "$WORK/warm.out")" 0
ok "... and the binaries came back to the checkout" as_user test -x "$KCO/_output/dockerized/bin/linux/$(uname -m | sed 's/x86_64/amd64/; s/aarch64/arm64/')/kube-mini-apiserver"

exit $((_tap_failed > 0))
