#!/bin/sh
# kbuild-ns image pull against real servers on loopback (registry-lib.sh):
# docker-registry over plain HTTP, HTTPS with the test CA, htpasswd basic
# auth and bearer tokens; the lying fakeregistry.py; mirrors from the
# user's registries.conf; and the one-line failures, with no credential in
# any output.  Each pulled image is compared with the import of the layout
# it was pushed from: the same diff_ids and the same merged tree.
. "$SRCDIR/tests/integration/lib.sh"
need docker-registry skopeo openssl curl
. "$SRCDIR/tests/integration/registry-lib.sh"
. "$SRCDIR/tests/integration/image-lib.sh"

plan 58

# Nothing of the host's: an empty configuration, and no auth file unless a
# test names one (HOME is private; REGISTRY_AUTH_FILE is set per command:
# docker-registry would read an exported one as its own auth setting).
RC=$WORK/registries.conf
: >"$RC"
KBUILD_NS_REGISTRIES_CONF=$RC; export KBUILD_NS_REGISTRIES_CONF
unset XDG_RUNTIME_DIR DOCKER_CONFIG REGISTRY_AUTH_FILE http_proxy https_proxy all_proxy HTTPS_PROXY ALL_PROXY
IST=$WORK/istate
OUTS=$WORK/outputs          # every output of a pull that had credentials
mkdir -p "$OUTS"
[ "$(id -u)" = 0 ] && chown "$TEST_UID:$TEST_GID" "$RC" "$OUTS"

# kbv ARGS...: kbuild-ns -v (status lines and requests) on $STATE
kbv() { as_user "$KBUILD_NS" -v --state-dir "$STATE" "$@"; }
started() {
	[ "$?" = 0 ] || { reg_logs "$REG_NAME"; echo "Bail out! server $REG_NAME did not start"; exit 1; }
}
# fail1 DESC PATTERN CMD...: CMD exits 125 with one line that matches PATTERN
fail1() {
	_d=$1 _p=$2; shift 2
	"$@" >"$WORK/.f1" 2>&1; _rc=$?
	if [ "$_rc" = 125 ] && [ "$(wc -l <"$WORK/.f1")" = 1 ] && grep -q -- "$_p" "$WORK/.f1"; then
		_result 0 "$_d"
	else
		sed 's/^/# /' "$WORK/.f1" | tail -5; echo "# exit status $_rc"; _result 1 "$_d"
	fi
}
# diff_ids REF [STATEDIR]: the image's layer diff_ids, one line
diff_ids() {
	_s=$STATE; STATE=${2:-$STATE}
	inspect_get "$1" '" ".join(l["diff_id"] for l in d["layers"])'
	STATE=$_s
}
# like_import DESC PULLED LAYOUT [IMPORT-ARGS]: the pulled image and the
# import of LAYOUT (into $IST) have the same diff_ids and merged tree.
like_import() {
	_d=$1 _p=$2 _l=$3; shift 3
	_n=imp/$(printf '%s' "$_p" | tr -c 'a-z0-9\n' '-'):1
	as_user "$KBUILD_NS" -q --state-dir "$IST" image import "$_l" --name "$_n" "$@" >"$WORK/.imp" 2>&1 ||
		{ sed 's/^/# /' "$WORK/.imp"; _result 1 "$_d: the layout imports"; return; }
	set -- "$_d" "$_p"
	_a=$(diff_ids "$2") _b=$(diff_ids "$_n" "$IST")
	if [ -z "$_a" ] || [ "$_a" != "$_b" ]; then
		printf '# pulled:   %s\n# imported: %s\n' "$_a" "$_b"
		_result 1 "$1: same diff_ids as the import"
		return
	fi
	image_listing "$2" "$WORK/pulled.list"
	_s=$STATE; STATE=$IST; image_listing "$_n" "$WORK/imported.list"; STATE=$_s
	same_tree "$1: same diff_ids and merged tree as the import" "$WORK/imported.list" "$WORK/pulled.list"
}
blob_gets() { grep -c 'GET .*/blobs/sha256:' "$1"; }

# ---- plain HTTP: every kind of image ------------------------------------------
echo "# $(date +%T) plain HTTP: every kind of image"
reg_start plain http; started
ref=$(reg_push_oci demo/oci:1)
ok "oci: pull" kbv image pull "$ref"
last_output >"$WORK/p1.out"
ok "oci: the status line names the reference and the digest" \
	grep -q "pull: $ref (sha256:$(reg_digest demo/oci:1 | cut -c8-19)): [1-9][0-9]* layer(s) downloaded" "$WORK/p1.out"
like_import "oci" "$ref" "$(reg_src demo/oci:1)"
is "oci: inspect says where it came from" \
	"$(inspect_get "$ref" 'd["source"]["type"] + " " + d["source"]["reference"] + " " + d["source"]["digest"]')" \
	"registry $ref $(reg_digest demo/oci:1)"
ok "oci: a second pull" kbv image pull "$ref"
last_output >"$WORK/p2.out"
is "oci: ... downloads no layer" "$(blob_gets "$WORK/p2.out") $(grep -c ': 0 layer(s) downloaded and unpacked (0 B), [1-9][0-9]* already present' "$WORK/p2.out")" "0 1"
ok "oci: found by its short name" kb image inspect demo/oci:1

ref=$(reg_push_zstd demo/zstd:1)
ok "zstd: pull" kb image pull "$ref"
like_import "zstd" "$ref" "$(reg_src demo/zstd:1)"

ref=$(reg_push_docker demo/docker:1)
ok "docker schema 2: pull" kb image pull "$ref"
like_import "docker schema 2" "$ref" "$(reg_src demo/docker:1)"

ref=$(reg_push_index demo/multi:1)
ok "index: pull (the host's platform, amd64)" kb image pull "$ref" --platform linux/amd64
like_import "index amd64" "$ref" "$(reg_src demo/multi:1)" --platform linux/amd64
ok "index: --platform linux/arm64" kb image pull "$ref" --platform linux/arm64 --name demo/multi:arm64
is "index: ... is the arm64 image" "$(inspect_get demo/multi:arm64 'd["platform"]["architecture"]')" "arm64"
fail1 "index: no image for s390x: one line naming the platforms there" \
	"no image for platform linux/s390x (available: linux/amd64, linux/arm64/v8)" kb image pull "$ref" --platform linux/s390x

ref=$(reg_push_manifest_list demo/list:1)
ok "manifest list: pull" kb image pull "$ref" --platform linux/amd64
is "manifest list: the same layers as the OCI index" "$(diff_ids "$ref")" "$(diff_ids "$REG_HOST/demo/multi:1")"

fail1 "unknown tag: one line with the URL, 404 and MANIFEST_UNKNOWN" \
	"GET http://$REG_HOST/v2/demo/oci/manifests/nope: 404 Not Found (MANIFEST_UNKNOWN" kb image pull "$REG_HOST/demo/oci:nope"
fail1 "a bad reference: one line" "repository \"Demo/UPPER\" is not valid" kb image pull "$REG_HOST/Demo/UPPER:1"

# ---- HTTPS -------------------------------------------------------------------
echo "# $(date +%T) HTTPS"
reg_start tls https; started
ref=$(reg_push_oci demo/tls:1)
fail1 "https: an unknown CA: one line about the certificate (no switch to HTTP)" "certificate" kb image pull "$ref"
ok "https: --cert-dir" kb image pull "$ref" --cert-dir "$REG_CERT_DIR"
like_import "https" "$ref" "$(reg_src demo/tls:1)"
ok "https: --tls-verify=false" kb image pull "$ref" --tls-verify=false
printf '[%s]\ncert-dir = %s\n' "$REG_HOST" "$REG_CERT_DIR" >"$RC"
ok "https: cert-dir in registries.conf" kb image pull "$ref"
: >"$RC"

# ---- basic auth ----------------------------------------------------------------
echo "# $(date +%T) basic auth"
reg_start basic https,basic; started
ref=$(reg_push_oci demo/basic:1)
fail1 "basic: no credentials: one line, no auth file has them" "no auth file" kb image pull "$ref" --cert-dir "$REG_CERT_DIR"
ok "basic: with the auth file" as_user env REGISTRY_AUTH_FILE="$REG_AUTHFILE" "$KBUILD_NS" -v -v --state-dir "$STATE" \
	image pull "$ref" --cert-dir "$REG_CERT_DIR"
last_output >"$OUTS/basic.out"
ok "basic: ... as docker's config.json" as_user env -u REGISTRY_AUTH_FILE DOCKER_CONFIG="$WORK/dcfg" sh -c \
	'mkdir -p "$DOCKER_CONFIG" && cp "$1" "$DOCKER_CONFIG/config.json" && exec "$2" -v --state-dir "$3" image pull "$4" --cert-dir "$5"' \
	sh "$REG_AUTHFILE" "$KBUILD_NS" "$STATE" "$ref" "$REG_CERT_DIR"
last_output >"$OUTS/basic-docker.out"
printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$REG_HOST" "$(printf '%s:wrong' "$REG_USER" | base64)" >"$WORK/bad-auth.json"
[ "$(id -u)" = 0 ] && chown "$TEST_UID" "$WORK/bad-auth.json"
fail1 "basic: a wrong password: one line with 401" ": 401 Unauthorized" as_user env REGISTRY_AUTH_FILE="$WORK/bad-auth.json" \
	"$KBUILD_NS" -q --state-dir "$STATE" image pull "$ref" --cert-dir "$REG_CERT_DIR"
cp "$WORK/.f1" "$OUTS/basic-wrong.out"

# ---- bearer tokens ----------------------------------------------------------------
echo "# $(date +%T) bearer tokens"
reg_start tok https,token; started
ref=$(reg_push_oci demo/tok:1)
ok "token: pull with the auth file" as_user env REGISTRY_AUTH_FILE="$REG_AUTHFILE" "$KBUILD_NS" -v -v \
	--state-dir "$STATE" image pull "$ref" --cert-dir "$REG_CERT_DIR"
last_output >"$OUTS/token.out"
like_import "token" "$ref" "$(reg_src demo/tok:1)"
ok "token: the token server was asked for pull access to the repository" \
	grep -q '"scopes": \["repository:demo/tok:pull"\]' "$REG_TOKEN_LOG"
fail1 "token: anonymous: one line with 401" ": 401 Unauthorized" kb image pull "$ref" --cert-dir "$REG_CERT_DIR"
ok "no password, token or Authorization value in any output" sh -c '
	cat "$1"/*.out >"$1/all"; ! grep -qF -e "$2" -e "$3" -e "Bearer " -e "Basic " -e "eyJ" "$1/all" &&
	! grep -qF "$(printf "%s:%s" "$4" "$2" | base64)" "$1/all"' sh "$OUTS" "$REG_PASS" "$(reg_token repository:demo/tok:pull)" "$REG_USER"

# ---- a lying registry ------------------------------------------------------------
echo "# $(date +%T) a lying registry"
L=$REG_DIR/src/fake
as_user "$PYTHON" "$REG_FX/ocilib.py" image oci-dir "$L" --name 1 --meta - --layer name=f1,files=20 \
	--layer name=f2,files=20 >"$WORK/fake.json" 2>/dev/null
# the faults hit the layers (the streamed path), not the config
LB=/blobs/$("$PYTHON" "$REG_FX/ocilib.py" jget 'layers.1.digest' <"$WORK/fake.json")
set --
for r in good corrupt trunc short extra big redir busy locked old dgst; do set -- "$@" --repo "$r=$L"; done
reg_start_fake fake "$@" --storage-listen 127.0.0.2:0 \
	--fault "corrupt,match=^/v2/corrupt$LB" \
	--fault "truncate,match=^/v2/trunc$LB" \
	--fault "short,match=^/v2/short$LB" \
	--fault "extra,match=^/v2/extra$LB" \
	--fault 'oversize=5000000,match=^/v2/big/manifests/' \
	--fault 'redirect,match=^/v2/redir/blobs/' \
	--fault 'status=429,retry-after=1,times=2,match=^/v2/busy/manifests/' \
	--fault 'status=401,match=^/v2/locked/' \
	--fault 'schema1,match=^/v2/old/manifests/' \
	--fault 'digest-header,match=^/v2/dgst/manifests/'
started
echo "the canary" >"$WORK/canary"
canary_before=$(ls -l --time-style=full-iso "$WORK/canary")
# lie NAME PATTERN: a pull from the repository NAME fails in one line matching
# PATTERN, and the store holds no image afterwards.
lie() { fail1 "lying registry: $1: refused in one line: $2" "$2" kb image pull "$REG_HOST/$1:1"; }
lie corrupt "corrupt gzip stream (checksum mismatch)\|digest mismatch"
lie trunc "transfer failed after [0-9]* of [0-9]* bytes"
lie short "size mismatch"
lie extra "size mismatch (the manifest says [0-9]* bytes, the registry sends [0-9]*)\|the registry sent more than the [0-9]* bytes the manifest gives"
lie big "more than the 4194304 bytes allowed"
lie old "schema 1 manifest: not supported"
lie dgst "the registry says its digest is"
lie locked "locked:1: token: GET http://$REG_HOST/token?..: 404 Not Found"
is "lying registry: no image from it was recorded, the canary is untouched" \
	"$(kb image ls --json | grep -c "$REG_HOST") $(ls -l --time-style=full-iso "$WORK/canary")" "0 $canary_before"
ok "busy: 429 twice with Retry-After, then the pull" kbv image pull "$REG_HOST/busy:1"
is "busy: ... waited as told, twice" "$(last_output | grep -c 'answered 429; trying again in 1 s')" 2
ok "redirect to blob storage on another host" kb image pull "$REG_HOST/redir:1"
like_import "redirect" "$REG_HOST/redir:1" "$L"

reg_start_fake fauth --repo redir="$L" --auth basic=puller:pw-fake-secret --storage-listen 127.0.0.2:0 \
	--fault 'redirect,match=^/v2/redir/blobs/'; started
ok "redirect with credentials" as_user env REGISTRY_AUTH_FILE="$REG_AUTHFILE" "$KBUILD_NS" -q --state-dir "$WORK/s2" \
	image pull "$REG_HOST/redir:1"
is "... Authorization went to the registry, never to the storage host" \
	"$(grep -c '"auth": true, .*"listener": "storage"' "$REG_LOG") $(grep -c '"auth": false, .*"listener": "storage"' "$REG_LOG" | sed 's/^[1-9][0-9]*$/some/')" \
	"0 some"

# A redirect off the machine: refused before any connection; both sides run in
# a network namespace of their own all the same.
if as_user unshare -rn true 2>/dev/null; then
	reg_in_netns sh -c '
		"$1" "$2" --port-file "$3/far.port" --log "$3/far.log" --repo far="$4" \
			--fault "redirect=http://192.0.2.1:9,match=^/v2/far/blobs/" >/dev/null 2>&1 & fp=$!
		i=0; while [ ! -s "$3/far.port" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		"$5" -q --state-dir "$3/s3" image pull "127.0.0.1:$(sed -n 1p "$3/far.port")/far:1" >"$3/far.out" 2>&1
		echo $? >"$3/far.rc"
		kill $fp; wait $fp 2>/dev/null' sh "$PYTHON" "$REG_FX/fakeregistry.py" "$WORK" "$L" "$KBUILD_NS"
	is "redirect to a non-loopback address: 125" "$(cat "$WORK/far.rc")" 125
	ok "... refused in one line: plain HTTP to a host that is not loopback" sh -c \
		'[ "$(wc -l <"$1")" = 1 ] && grep -q "redirected to http://192.0.2.1:9/storage/.*: plain HTTP to a host that is not loopback" "$1"' \
		sh "$WORK/far.out"
	# Pull on demand with no network at all: fails at once, in one line.
	reg_in_netns sh -c 'mkdir -p "$1/co" && cd "$1/co" && t0=$(date +%s) &&
		KBUILD_NS_PULL=missing "$2" -q --state-dir "$1/s4" run --image registry.k8s.io/build-image/kube-cross:v0-test -- true \
			>"$1/off.out" 2>&1; echo $? >"$1/off.rc"; echo $(($(date +%s) - t0)) >"$1/off.secs"' sh "$WORK" "$KBUILD_NS"
	echo "# offline on-demand pull failed after $(cat "$WORK/off.secs") s"
	is "no network: run with a missing image: 125" "$(cat "$WORK/off.rc")" 125
	ok "... one line: missing, offline, how to import it" sh -c '[ "$(wc -l <"$1")" = 1 ] &&
		grep -q "image registry.k8s.io/build-image/kube-cross:v0-test: not in the store, and its registry cannot be reached (offline?): .*import it instead: kbuild-ns image import ARCHIVE --name registry.k8s.io/build-image/kube-cross:v0-test" "$1"' sh "$WORK/off.out"
else
	for t in 1 2 3 4; do _result 0 "netns # SKIP no unprivileged user namespaces here"; done
fi

# ---- mirrors ------------------------------------------------------------------------
echo "# $(date +%T) mirrors"
reg_start mirror http; started
ref=$(reg_push_oci build-image/kube-cross:v0-mirror)
dead=$("$PYTHON" "$REG_FX/regtool.py" free-port)
printf '[registry.k8s.io]\nmirror = 127.0.0.1:%s\nmirror = %s\n' "$dead" "$REG_HOST" >"$RC"
ok "mirror: registry.k8s.io/build-image/kube-cross from the second mirror (the first is down)" \
	kb image pull registry.k8s.io/build-image/kube-cross:v0-mirror
is "mirror: stored under the source's name, the mirror recorded" \
	"$(inspect_get registry.k8s.io/build-image/kube-cross:v0-mirror 'd["names"][0] + " " + d["source"]["via"]')" \
	"registry.k8s.io/build-image/kube-cross:v0-mirror $REG_HOST/build-image/kube-cross"
like_import "mirror" registry.k8s.io/build-image/kube-cross:v0-mirror "$(reg_src build-image/kube-cross:v0-mirror)"
printf 'pull = never\n[registry.k8s.io]\nmirror = %s\n' "$REG_HOST" >"$RC"
mkdir -p "$WORK/co" && chown "$TEST_UID" "$WORK/co" 2>/dev/null
fail1 "pull = never in registries.conf: run with a missing image: today's error with the import hint" \
	"not found; .*import it.*: kbuild-ns image import ARCHIVE --name" \
	as_user env -u KBUILD_NS_PULL sh -c 'cd "$1" && exec "$2" -q --state-dir "$3" run --image registry.k8s.io/build-image/kube-cross:v0-absent -- true' \
	sh "$WORK/co" "$KBUILD_NS" "$STATE"
is "... and nothing was asked of the mirror" "$(grep -c v0-absent "$REG_LOG")" 0
: >"$RC"

[ "$_tap_failed" = 0 ]
