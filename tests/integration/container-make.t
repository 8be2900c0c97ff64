#!/bin/sh
# `kbuild-ns make` of examples/kube-mini inside a "container" whose /proc
# is masked as Docker's and containerd's is (container-lib.sh): the kernel
# refuses the sandbox a fresh /proc, so every sandbox of the build (the
# data sandbox's init, the version step, the build) runs without a pid
# namespace of its own, on the outer /proc bound read-only; the build
# succeeds, says so once at -v, and its binaries come back.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/make-lib.sh"
. "$SRCDIR/tests/integration/container-lib.sh"

plan 4

unset KBUILD_NS_IMAGE KUBE_GIT_VERSION_FILE GOFLAGS

t0=$(ms)
ok "make in a masked /proc: exit 0" masked timeout -k 5 "$MAKE_TIMEOUT" "$KBUILD_NS" -v --state-dir "$STATE" \
	-C "$KCO" make
echo "# make: $(($(ms) - t0)) ms"
cp "$WORK/.out" "$WORK/make.out"
is "-v says the /proc fallback once" "$(grep -c '^+++ .*/proc: .*masked.*no pid namespace' "$WORK/make.out")" 1
ok "the binaries came back to the checkout" as_user test -x \
	"$KCO/_output/dockerized/bin/linux/$(uname -m | sed 's/x86_64/amd64/; s/aarch64/arm64/')/kube-mini-apiserver"
is "kbuild-ns status records the build's exit status 0" "$(status_get "$KCO" last_status)" 0

exit $((_tap_failed > 0))
