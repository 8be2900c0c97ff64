#!/bin/sh
# `kbuild-ns release` end to end (issue 9), as the test user, on the
# kube-cross-like image make-lib.sh builds (or reuses) and on the base
# images tests/fixtures/release-bases.sh generates:
#
#   preflight: a missing build image, base image, tag, a dirty tree and a
#     .go-version the image lacks each fail at once with exit 125 and a line
#     naming them (the time is logged; the suite makes no timing assertion);
#   hermetic inside: a tiny tree whose "build" and "packaging" report what
#     they see: only lo, host name kube-build, umask 0022, UTC, and an
#     environment of the allowed names only;
#   reproducible: `release --quick` of kube-mini twice, the second from
#     another path (a copy in shuffled file order, under umask 077), another
#     state directory, TZ, LANG, user (root when the suite runs as root),
#     and with --sign-key: every tarball and image has the same sha256;
#   the tarballs (sorted, 0/0, mtime = SOURCE_DATE_EPOCH, gzip without time
#     or name), the images (skopeo inspect, umoci unpack --rootless, the
#     20-byte v2 capability of kube-mini-apiserver, mode 0755, diff_ids,
#     the base's layer digest, the tags as upstream names them, kbuild-ns
#     image import), and the provenance (verify, a one-byte change, the
#     in-toto and SLSA schemas, the DSSE signature with openssl);
#   the 2017 classic flow (docker build -q / save / rmi / tag) once.
#
# Time: two cold quick releases of kube-mini and one of the 2017 tree
# (each a make cross for this platform, ~40 s on an idle 2-core machine),
# two imports of the build image, seconds for the rest.
. "$SRCDIR/tests/integration/lib.sh"
need python3 skopeo umoci openssl
PYTHON=python3
. "$SRCDIR/tests/integration/make-lib.sh"

case $(uname -m) in
x86_64) ARCH=amd64 ;;
aarch64) ARCH=arm64 ;;
*) skip_all "the release-bases fixtures are for amd64 and arm64 hosts" ;;
esac

plan 53

umask 022
unset KUBE_RUN_COPY_OUTPUT KUBE_VERBOSE KBUILD_NS_IMAGE KUBE_GIT_VERSION_FILE FOO GOLDFLAGS GOFLAGS \
	KUBE_BUILD_PLATFORMS KUBE_FASTBUILD GOGCFLAGS SOURCE_DATE_EPOCH KBUILD_NS_IDMAP KUBE_RELEASE_RUN_TESTS \
	KUBE_BUILD_CONFORMANCE KUBE_DOCKER_REGISTRY KUBE_DOCKER_IMAGE_TAG KUBE_BASE_IMAGE_REGISTRY

CHECK=$SRCDIR/tests/integration/release-check.py
# rel DIR ARGS...: kbuild-ns release in DIR as the test user (status lines on).
rel() { _rd=$1; shift; as_user timeout -k 5 "$MAKE_TIMEOUT" "$KBUILD_NS" --state-dir "$STATE" -C "$_rd" release "$@" </dev/null; }
# sums DIR: sha256 of every release tarball and image of DIR, but the records.
sums() { (cd "$1" && find _output/release-tars _output/release-images -type f ! -name 'kbuild-ns.provenance*' | LC_ALL=C sort | xargs sha256sum); }
# bases NAME...: the host platform's single-platform OCI archive of each.
base_archive() { awk -F'\t' -v n="$1" -v p="linux/$ARCH" '$1 == n && index($2, p) == 1 { print $4 }' "$BASES/bases.tsv"; }
GORUNNER=registry.k8s.io/build-image/go-runner:v2.4.0-go1.25.6-bookworm.0
IPTABLES=registry.k8s.io/build-image/distroless-iptables:v0.8.7
STATIC=gcr.io/distroless/static-debian12:latest

# ---- the base images, generated, imported by the test user --------------------
BASES=$WORK/bases
"$PYTHON" "$SRCDIR/tests/fixtures/release-bases.py" "$BASES" >/dev/null || { echo "Bail out! release-bases.py failed"; exit 1; }
user_own "$BASES"
import_bases() {   # import_bases STATE_DIR NAME...
	_sd=$1; shift
	for _n in "$@"; do
		as_user "$KBUILD_NS" -q --state-dir "$_sd" image import "$BASES/$(base_archive "$_n")" >/dev/null || return 1
	done
}

# =============================================================================
# Preflight
# =============================================================================
# pre DESC WANT ARGS...: a release of $KCO that the preflight stops: exit
# 125, a line containing WANT, and the time it took (logged).
pre() {
	_pd=$1; _want=$2; shift 2
	_t0=$(ms)
	"$@" >"$WORK/pre.out" 2>&1 </dev/null
	_rc=$?
	echo "# $_pd: $(($(ms) - _t0)) ms"
	grep -F -- "$_want" "$WORK/pre.out" >/dev/null && [ "$_rc" = 125 ]
	_r=$?
	[ "$_r" = 0 ] || { sed 's/^/# /' "$WORK/pre.out" | tail -8; echo "# exit $_rc, wanted 125 and: $_want"; }
	_result "$_r" "preflight: $_pd fails with 125, naming it"
}
pre "a missing build image" "image nope:1: not found; import it first" rel "$KCO" --quick --image nope:1
pre "missing base images" "base image $GORUNNER: not in the store; import it" rel "$KCO" --quick
ok "the base images import" import_bases "$STATE" "$GORUNNER" "$IPTABLES" "$STATIC"
# kept STATE_DIR: "NAME PLATFORM blob_kept..." of every image, sorted.
kept() {
	as_user "$KBUILD_NS" -q --state-dir "$1" image ls --json | "$PYTHON" -c '
import json, sys
for i in json.load(sys.stdin):
    print(" ".join(i["names"]), i["platform"]["architecture"], *(l["blob_kept"] for l in i["layers"]))' | sort | paste -sd,
}
is "... with their layer blobs kept (small images: kept by default)" "$(kept "$STATE" | tr ',' '\n' | grep -v kube-cross | cut -d' ' -f3 | sort -u)" True
KS=$WORK/keep-state
as_user mkdir "$KS"
ks() { as_user "$KBUILD_NS" --state-dir "$KS" "$@"; }
ks -q image import --no-keep-blobs "$BASES/$(base_archive "$GORUNNER")" >/dev/null
is "image import --no-keep-blobs: unpacked, its blob not kept" "$(kept "$KS")" "$GORUNNER $ARCH False"
ks -v image import --keep-blobs "$BASES/$(base_archive "$GORUNNER")" >"$WORK/keep.out" 2>&1
is "--keep-blobs again adds the blob alone (nothing unpacked)" \
	"$(grep -c '0 layers unpacked, 1 already present' "$WORK/keep.out") $(kept "$KS")" "1 $GORUNNER $ARCH True"
if [ "$ARCH" = amd64 ]; then OTHER=arm64; else OTHER=amd64; fi
ks -q image import --platform "linux/$OTHER" "$BASES/oci/gcr.io_distroless_static-debian12_latest.tar" >/dev/null
ks -q image import "$BASES/oci/gcr.io_distroless_static-debian12_latest.tar" >/dev/null
other_id=$(ks image ls --json | "$PYTHON" -c '
import json, sys
print(next(i["id"] for i in json.load(sys.stdin) if i["platform"]["architecture"] == sys.argv[1]))' "$OTHER")
ks -q image rm "$other_id" >/dev/null
is "one name for two platforms: both images keep it; rm of one leaves the other and its blob" \
	"$(kept "$KS")" "$STATIC $ARCH True,$GORUNNER $ARCH True"
pre "a moved base registry" "base image example.invalid/bi/go-runner:" \
	as_user env KUBE_BASE_IMAGE_REGISTRY=example.invalid/bi "$KBUILD_NS" --state-dir "$STATE" -C "$KCO" release --quick
hu 'echo x >"$1/untracked.txt"' "$KCO"
pre "a dirty tree" "the tree is dirty: untracked.txt (commit or remove it, or give --allow-dirty" rel "$KCO" --quick
hu 'rm "$1/untracked.txt"' "$KCO"
NOTAG=$WORK/notag
hu 'git clone -q --no-local "$1" "$2" && git -C "$2" tag -d v1.0.0 >/dev/null' "$KCO" "$NOTAG"
pre "a checkout without tags" "no tag is reachable from HEAD" rel "$NOTAG" --quick
hu 'echo 1.99.0 >"$1/.go-version" && git -C "$1" -c user.name=t -c user.email=t@t commit -qam go199 && git -C "$1" tag v1.1.0' "$NOTAG"
pre "a .go-version the image's Go is not" "the tree's .go-version asks for go1.99.0, which the build cannot download" \
	rel "$NOTAG" --quick
pre "a --sign-key that is not a key" "--sign-key $WORK/home: " rel "$KCO" --quick --sign-key "$WORK/home"

# =============================================================================
# Hermetic inside: a tiny tree that reports what its build and packaging see
# =============================================================================
H=$WORK/hermetic
as_user mkdir -p "$H/build/build-image/cross" "$H/build/lib" "$H/hack"
hu 'cp "$1" "$2/build/build-image/cross/VERSION"' "$SRCDIR/examples/kube-mini/build/build-image/cross/VERSION" "$H"
hu 'cat >"$1/hack/facts.sh"' "$H" <<'EOF'
echo "net $(awk -F: 'NR > 2 { gsub(/ /, "", $1); print $1 }' /proc/net/dev | sort | paste -sd' ')"
echo "hostname $(uname -n)"
echo "umask $(umask)"
echo "tz $(date +%Z)"
env | LC_ALL=C sort | sed 's/^/env /'
EOF
hu 'printf "cross:\n\tmkdir -p _output/dockerized/bin\n\tsh hack/facts.sh >_output/dockerized/bin/facts-build\n" >"$1/Makefile"' "$H"
hu 'cat >"$1/build/common.sh"' "$H" <<'EOF'
KUBE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")"/.. && pwd -P)
kube::build::get_docker_wrapped_binaries() { :; }
kube::version::get_version_vars() { :; }
EOF
hu 'cat >"$1/build/lib/release.sh"' "$H" <<'EOF'
kube::release::package_tarballs() {
  mkdir -p _output/release-tars _output/release-stage/kubernetes
  sh hack/facts.sh >_output/release-stage/kubernetes/facts-package
  cp _output/dockerized/bin/facts-build _output/release-stage/kubernetes/
  "${TAR}" czf _output/release-tars/kubernetes-facts.tar.gz -C _output/release-stage kubernetes --owner=0 --group=0
}
EOF
hu 'cd "$1" && git init -q && git add -A && git -c user.name=t -c user.email=t@t commit -qm facts && git tag v0.1.0' "$H"
as_user sh -c 'umask 077; cd "$1" && TZ=Asia/Tokyo LANG=de_DE.UTF-8 FOO=bar GOFLAGS=-mod=mod exec "$2" --state-dir "$3" release --quick' \
	sh "$H" "$KBUILD_NS" "$STATE" </dev/null >"$WORK/hermetic.out" 2>&1
rc=$?
[ "$rc" = 0 ] || sed 's/^/# /' "$WORK/hermetic.out" | tail -20
is "a release of a tree without Go succeeds (umask 077, TZ, LANG, FOO, GOFLAGS set outside)" "$rc" 0
as_user tar -xzf "$H/_output/release-tars/kubernetes-facts.tar.gz" -C "$WORK" 2>/dev/null
F=$WORK/kubernetes
ct=$(hu 'git -C "$1" log -1 --format=%ct' "$H")
# The names allowed inside: the image's Env, the profile's, the allow-list
# passed (GOFLAGS), the release's fixed ones, git's stat settings (as on
# every build on a snapshot), and what make and the shell add.
allowed=$(kb image inspect "kube-cross:$KUBE_TAG" | "$PYTHON" -c '
import json, sys
print("\n".join(e.split("=", 1)[0] for e in json.load(sys.stdin)["config"]["Env"]))')
allowed="$allowed PATH HOME HOSTNAME KUBE_OUTPUT_SUBPATH TMPDIR GOFLAGS TZ LC_ALL USER LOGNAME GOTOOLCHAIN GOPROXY TAR
SOURCE_DATE_EPOCH KUBE_FASTBUILD KUBE_RELEASE_RUN_TESTS KUBE_BUILD_CONFORMANCE PWD OLDPWD SHLVL _ MAKEFLAGS MAKELEVEL MFLAGS
GIT_CONFIG_COUNT GIT_CONFIG_KEY_0 GIT_CONFIG_VALUE_0 GIT_CONFIG_KEY_1 GIT_CONFIG_VALUE_1"
for step in build package; do
	f=$F/facts-$step
	is "$step step: the network has only lo" "$(sed -n 's/^net //p' "$f")" "lo"
	is "$step step: host name kube-build, umask 0022, time zone UTC" \
		"$(sed -n 's/^hostname //p; s/^umask //p; s/^tz //p' "$f" | paste -sd' ')" "kube-build 0022 UTC"
	is "$step step: TZ=UTC LC_ALL=C, GOFLAGS passed, SOURCE_DATE_EPOCH the commit time, TAR and docker ours" \
		"$(for v in TZ LC_ALL GOFLAGS SOURCE_DATE_EPOCH TAR; do grep "^env $v=" "$f" | cut -c5-; done | paste -sd' ') $(grep -c '^env PATH=/run/kbuild-ns/bin:' "$f")" \
		"TZ=UTC LC_ALL=C GOFLAGS=-mod=mod SOURCE_DATE_EPOCH=$ct TAR=/run/kbuild-ns/bin/tar 1"
	extra=$(sed -n 's/^env \([^=]*\)=.*/\1/p' "$f" | while read -r n; do
		echo "$allowed" | tr ' ' '\n' | grep -qx -- "$n" || echo "$n"; done | paste -sd' ')
	is "$step step: no other variable (not FOO, LANG or any host path)" "$extra $(grep -c "$WORK" "$f")" " 0"
done

# =============================================================================
# A quick release of kube-mini, then a second one of the same commit
# =============================================================================
t0=$(ms)
rel "$KCO" --quick >"$WORK/rel1.out" 2>&1
rc=$?
echo "# release --quick (cold): $(($(ms) - t0)) ms"
[ "$rc" = 0 ] || tail -30 "$WORK/rel1.out" | sed 's/^/# /'
is "release --quick of kube-mini succeeds" "$rc" 0
REC=$KCO/_output/release-tars/kbuild-ns.provenance.json
is "it made the tarballs and the images of this platform" \
	"$(cd "$KCO/_output" && ls release-tars | paste -sd' '; ls "release-images/$ARCH" | paste -sd' ')" \
	"kbuild-ns.provenance.json kubernetes-client-linux-$ARCH.tar.gz kubernetes-manifests.tar.gz kubernetes-node-linux-$ARCH.tar.gz kubernetes-server-linux-$ARCH.tar.gz kubernetes-src.tar.gz kubernetes-test-linux-$ARCH.tar.gz kubernetes-test-portable.tar.gz kubernetes.tar.gz
kube-mini-apiserver.tar kube-mini-proxy.tar kubectl-mini.tar"
ct=$(hgit log -1 --format=%ct)
ok "the tarballs: sorted, 0/0, every mtime SOURCE_DATE_EPOCH (the commit time), gzip without time or name" \
	"$PYTHON" "$CHECK" tarballs "$ct" "$KCO"/_output/release-tars/*.tar.gz

# The second release: another checkout (a copy of the working tree in
# shuffled order, under umask 077, with the same .git), another state
# directory, TZ and LANG; as root when the suite runs as root.
KCO2=$WORK/other/place/kube-mini
STATE2=$WORK/state2
as_user mkdir -p "$KCO2" "$STATE2"
hu 'cd "$1" && find . -path ./.git -prune -o -path ./_output -prune -o -type f -print | shuf >"$3/list" &&
	umask 077 && tar -cf - -T "$3/list" | tar -C "$2" -xf - && cp -a .git "$2/"' "$KCO" "$KCO2" "$WORK"
openssl genpkey -algorithm ed25519 -out "$WORK/release.key" 2>/dev/null &&
	openssl pkey -in "$WORK/release.key" -pubout -out "$WORK/release.pub" 2>/dev/null
user_own "$WORK/release.key" "$WORK/release.pub"
# as2 CMD...: the second release's user: root when the suite runs as root
# (its own checkout, state and id mapping), else the test user again.
if [ "$(id -u)" = 0 ]; then
	who="as root"
	as2() { env HOME="$WORK" "$@"; }
	chown -R 0:0 "$KCO2" "$STATE2"
else
	who="as the same user (the suite is not root)"
	as2() { as_user "$@"; }
fi
as2 "$KBUILD_NS" -q --state-dir "$STATE2" image import "$KUBE_ARCHIVE" >/dev/null
for n in "$GORUNNER" "$IPTABLES" "$STATIC"; do
	as2 "$KBUILD_NS" -q --state-dir "$STATE2" image import "$BASES/$(base_archive "$n")" >/dev/null
done
as2 sh -c 'cd "$1" && umask 077 && TZ=Asia/Tokyo LANG=de_DE.UTF-8 exec timeout -k 5 "$2" "$3" --state-dir "$4" release --quick --sign-key "$5"' \
	sh "$KCO2" "$MAKE_TIMEOUT" "$KBUILD_NS" "$STATE2" "$WORK/release.key" </dev/null >"$WORK/rel2.out" 2>&1
rc=$?
[ "$rc" = 0 ] || tail -30 "$WORK/rel2.out" | sed 's/^/# /'
is "a second release ($who, another path, state, umask 077, TZ, LANG, shuffled files, --sign-key) succeeds" "$rc" 0
sums "$KCO" >"$WORK/sums1"
sums "$KCO2" >"$WORK/sums2"
diff "$WORK/sums1" "$WORK/sums2" | sed 's/^/# /'
is "every release tarball and image has the same sha256 in both ($(wc -l <"$WORK/sums1") files)" \
	"$(cmp -s "$WORK/sums1" "$WORK/sums2" && echo same)" same
is "the two records differ only in their run details" "$("$PYTHON" -c '
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
print(a["subject"] == b["subject"] and a["predicate"]["buildDefinition"] == b["predicate"]["buildDefinition"])' \
	"$REC" "$KCO2/_output/release-tars/kbuild-ns.provenance.json")" True

# =============================================================================
# The images
# =============================================================================
IMG=$KCO/_output/release-images/$ARCH
tag=$(tar -xzOf "$KCO/_output/release-tars/kubernetes-server-linux-$ARCH.tar.gz" kubernetes/server/bin/kube-mini-apiserver.docker_tag 2>/dev/null)
as_user "$PYTHON" "$CHECK" image "$IMG/kube-mini-apiserver.tar" >"$WORK/img.out" 2>&1
is "kube-mini-apiserver: tagged as upstream names it, with the version's + made _" \
	"$(sed -n 's/^tag //p' "$WORK/img.out")" "registry.k8s.io/kube-mini-apiserver-$ARCH:$tag"
case $tag in v1.0.0-1_*) r=0 ;; *) r=1 ;; esac
_result $r "... and that version is git describe's ($tag)"
is "... its first layer is the base's, byte for byte (the digest of the go-runner manifest)" \
	"$(sed -n 's/^layer //p' "$WORK/img.out" | head -1)" \
	"$(awk -F'\t' -v n="$GORUNNER" -v p="linux/$ARCH" '$1 == n && index($2, p) == 1 { print $9 }' "$BASES/bases.tsv")"
is "... diff_ids are the sha256 of the uncompressed layers" "$(grep -c '^diff_ids ok' "$WORK/img.out")" 1
is "... the capability: 20 bytes, v2 (0x02000001 effective, cap_net_bind_service permitted), mode 0755" \
	"$("$PYTHON" "$CHECK" xattr "$IMG/kube-mini-apiserver.tar" /usr/local/bin/kube-mini-apiserver | paste -sd' ')" \
	"mode 755 xattr 0100000200040000000000000000000000000000"
ok "skopeo inspect reads each image archive (docker-archive:)" sh -c '
	for i in "$1"/*.tar; do skopeo inspect "docker-archive:$i" >/dev/null || exit 1; done' sh "$IMG"
ok "... and as an OCI archive (oci-archive:)" skopeo inspect --config "oci-archive:$IMG/kubectl-mini.tar"
as_user mkdir "$WORK/oci" && as_user tar -xf "$IMG/kube-mini-apiserver.tar" -C "$WORK/oci"
ok "umoci unpack --rootless unpacks kube-mini-apiserver" as_user umoci unpack --rootless --image "$WORK/oci:$tag" "$WORK/bundle"
is "... the binary is at /usr/local/bin, mode 0755, and runs" \
	"$(stat -c %a "$WORK/bundle/rootfs/usr/local/bin/kube-mini-apiserver" 2>&1) $(as_user "$WORK/bundle/rootfs/usr/local/bin/kube-mini-apiserver" --version 2>&1 | cut -d' ' -f1)" \
	"755 kube-mini-apiserver"
is "kubectl-mini: ENTRYPOINT [\"/bin/kubectl-mini\"] on distroless static" \
	"$("$PYTHON" "$CHECK" image "$IMG/kubectl-mini.tar" | sed -n 's/^entrypoint //p')" '["/bin/kubectl-mini"]'
ok "kbuild-ns image import takes an image archive back" kb image import "$IMG/kube-mini-proxy.tar"

# =============================================================================
# The provenance
# =============================================================================
ok "provenance verify: every subject matches" kb -C "$KCO" provenance verify "$REC"
ok "the record is an in-toto Statement v1 with a SLSA provenance v1 predicate (schemas in release-check.py)" \
	"$PYTHON" "$CHECK" schema "$REC"
ok "its subjects are every tarball and image, sorted, images with their manifest digest" \
	"$PYTHON" "$CHECK" subjects "$REC" "$KCO"
is "it names the commit, the build image and the three base images" "$("$PYTHON" -c '
import json, sys
d = json.load(open(sys.argv[1]))["predicate"]["buildDefinition"]["resolvedDependencies"]
print(" ".join(sorted(next(iter(x["digest"])) for x in d)), len(d))' "$REC")" "gitCommit sha256 sha256 sha256 sha256 5"
hu 'cp "$1" "$1.orig" && printf x | dd of="$1" bs=1 seek=100 conv=notrunc 2>/dev/null' "$IMG/kube-mini-proxy.tar"
fails "after a one-byte change to an image, verify fails" 125 kb -C "$KCO" provenance verify "$REC"
has() { grep -qF -- "$2" "$1"; }
has "$WORK/.out" "_output/release-images/$ARCH/kube-mini-proxy.tar: sha256"
_result $? "... naming it"
hu 'mv "$1.orig" "$1"' "$IMG/kube-mini-proxy.tar"
ENV2=$KCO2/_output/release-tars/kbuild-ns.provenance.dsse.json
ok "the signed envelope verifies with kbuild-ns (--key)" \
	as2 "$KBUILD_NS" -q --state-dir "$STATE2" -C "$KCO2" provenance verify --key "$WORK/release.pub" "$ENV2"
as_user mkdir "$WORK/dsse"
"$PYTHON" "$CHECK" pae "$ENV2" "$WORK/dsse" >/dev/null
ok "... and with openssl pkeyutl -verify -rawin alone" \
	openssl pkeyutl -verify -pubin -inkey "$WORK/release.pub" -rawin -in "$WORK/dsse/pae" -sigfile "$WORK/dsse/sig"

# =============================================================================
# Running it again, and the 2017 classic flow
# =============================================================================
is "a successful release leaves its data sandbox empty" \
	"$(find "$STATE/projects" -mindepth 2 -maxdepth 2 -path '*-r1-*' -name snapshot -exec find {} -mindepth 1 \; | wc -l)" 0

K17=$WORK/kube-mini-2017
as_user mkdir "$K17"
hu 'cp -R "$1/." "$3/" && cp -R "$2/." "$3/" && cd "$3" && git init -q && git add -A &&
	git -c user.name=t -c user.email=t@t commit -qm 2017 && git tag v1.0.0' \
	"$SRCDIR/examples/kube-mini" "$SRCDIR/examples/kube-mini-2017/overlay" "$K17"
pre "the 2017 base images missing" "base image busybox: not in the store" rel "$K17" --quick
if [ "$ARCH" = amd64 ]; then B17="busybox:latest gcr.io/google-containers/debian-iptables-amd64:v8"
else B17="arm64v8/busybox:latest gcr.io/google-containers/debian-iptables-arm64:v8"; fi
for n in $B17; do
	as_user "$KBUILD_NS" -q --state-dir "$STATE" image import \
		"$BASES/$(awk -F'\t' -v n="$n" '$1 == n { print $3 }' "$BASES/bases.tsv")" >/dev/null
done
# Dirty, with --allow-dirty: the record says so and hashes the sources.
hu 'echo "not committed" >"$1/NOTES"' "$K17"
as_user env KUBE_DOCKER_REGISTRY=example.test/kube-mini KUBE_DOCKER_IMAGE_TAG=v1.0.1 \
	timeout -k 5 "$MAKE_TIMEOUT" "$KBUILD_NS" --state-dir "$STATE" -C "$K17" release --quick --allow-dirty \
	</dev/null >"$WORK/rel17.out" 2>&1
rc=$?
[ "$rc" = 0 ] || tail -30 "$WORK/rel17.out" | sed 's/^/# /'
is "the 2017 flow (docker build -q, save, rmi, and tag for an official release), dirty, --allow-dirty, succeeds" "$rc" 0
REC17=$K17/_output/release-tars/kbuild-ns.provenance.json
is "... the record says the tree was dirty, and allowed" "$("$PYTHON" -c '
import json, sys
b = json.load(open(sys.argv[1]))["predicate"]["buildDefinition"]
print(b["internalParameters"]["kubeGit"]["treeState"], b["externalParameters"]["allowDirty"])' "$REC17")" "dirty True"
is "... with the sources' dirHash, as coreutils computes it" "$("$PYTHON" -c '
import json, sys
d = json.load(open(sys.argv[1]))["predicate"]["buildDefinition"]["resolvedDependencies"]
print(next(x["digest"]["dirHash"] for x in d if x.get("name") == "source-snapshot"))' "$REC17")" \
	"$(cd "$K17" && find . \( -path ./.git -o -path ./_output -o -path ./_tmp \) -prune -o -type f -print | cut -c3- |
		LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1)"
"$PYTHON" "$CHECK" image "$K17/_output/release-images/$ARCH/kube-mini-apiserver.tar" >"$WORK/img17.out" 2>&1
if [ "$ARCH" = amd64 ]; then want17=gcr.io/google_containers/kube-mini-apiserver; else want17=gcr.io/google_containers/kube-mini-apiserver-$ARCH; fi
is "... its image is named as in 2017, on the busybox base's layer (uncompressed, unchanged), for $ARCH" \
	"$(sed -n 's/^tag //p; s/^arch //p' "$WORK/img17.out" | sed 's/:.*//' | paste -sd' ') $(sed -n 's/^layer //p' "$WORK/img17.out" | head -1)" \
	"$want17 $ARCH $(awk -F'\t' -v n="$(echo "$B17" | cut -d' ' -f1)" '$1 == n { print $8 }' "$BASES/bases.tsv")"
ok "... its tarballs are sorted, 0/0, with mtime = SOURCE_DATE_EPOCH" \
	"$PYTHON" "$CHECK" tarballs "$(hu 'git -C "$1" log -1 --format=%ct' "$K17")" "$K17"/_output/release-tars/*.tar.gz
