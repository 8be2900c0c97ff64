#!/bin/sh
# Pull on demand: `kbuild-ns make` in examples/kube-mini on a fresh state
# directory, with the kube-cross image only in a loopback registry, under
# the name the kube profile derives from the tree
# (registry.k8s.io/build-image/kube-cross:<cross tag>, as build/common.sh
# names it), reached through a mirror in the user's registries.conf.  One
# command pulls it and builds.  make-lib.sh builds (or reuses) the image.
. "$SRCDIR/tests/integration/lib.sh"
need python3 docker-registry skopeo curl
PYTHON=python3
. "$SRCDIR/tests/integration/make-lib.sh"
. "$SRCDIR/tests/integration/registry-lib.sh"

plan 5

unset KBUILD_NS_IMAGE KUBE_CROSS_IMAGE KUBE_CROSS_VERSION KUBE_BASE_IMAGE_REGISTRY KUBE_RUN_COPY_OUTPUT
reg_start local http || { reg_logs local; echo "Bail out! docker-registry did not start"; exit 1; }
ref=$(reg_push "docker-archive:$KUBE_ARCHIVE" "build-image/kube-cross:$KUBE_TAG") ||
	{ echo "Bail out! pushing the kube-cross archive failed"; exit 1; }
echo "# pushed $ref"
RC=$WORK/registries.conf
printf '# the upstream registry, mirrored on loopback\n[registry.k8s.io]\nmirror = %s\n' "$REG_HOST" >"$RC"
chmod 644 "$RC"
FRESH=$WORK/fresh-state

as_user env KBUILD_NS_PULL=missing KBUILD_NS_REGISTRIES_CONF="$RC" timeout -k 5 "$MAKE_TIMEOUT" \
	"$KBUILD_NS" --state-dir "$FRESH" -C "$KCO" make </dev/null >"$WORK/make.out" 2>&1
rc=$?
[ "$rc" = 0 ] || tail -20 "$WORK/make.out" | sed 's/^/# /'
is "one kbuild-ns make on a fresh state directory pulls and builds" "$rc" 0
ok "it said what it pulled, and for which image" grep -q \
	"Pulling registry.k8s.io/build-image/kube-cross:$KUBE_TAG (image kube-cross:$KUBE_TAG is not in the store)" "$WORK/make.out"
ok "the binaries came back" test -x "$KCO/_output/dockerized/bin/linux/amd64/kubectl-mini"
is "the store has it under the profile's name, from the mirror" "$(as_user "$KBUILD_NS" --state-dir "$FRESH" image inspect \
	"kube-cross:$KUBE_TAG" | "$PYTHON" -c 'import json, sys; d = json.load(sys.stdin)
print(d["names"][0], d["source"]["via"])')" "registry.k8s.io/build-image/kube-cross:$KUBE_TAG $REG_HOST/build-image/kube-cross"
as_user env KBUILD_NS_PULL=missing KBUILD_NS_REGISTRIES_CONF="$RC" timeout -k 5 "$MAKE_TIMEOUT" \
	"$KBUILD_NS" --state-dir "$FRESH" -C "$KCO" make </dev/null >"$WORK/make2.out" 2>&1
is "a second make pulls nothing" "$?:$(grep -c Pulling "$WORK/make2.out")" "0:0"

[ "$_tap_failed" = 0 ]
