#!/bin/sh
# The registry harness (registry-lib.sh) on its own, with curl and skopeo
# only: docker-registry in each mode (plain HTTP, HTTPS with the test CA,
# htpasswd basic auth, bearer tokens from tokenserver.py), every kind of
# push, and each failure mode of fakeregistry.py.  No kbuild-ns here: the
# pull tests build on what this script shows works.
. "$SRCDIR/tests/integration/lib.sh"
need docker-registry skopeo openssl curl
. "$SRCDIR/tests/integration/registry-lib.sh"

plan 65

OCILIB=$REG_FX/ocilib.py
jget() { "$PYTHON" "$OCILIB" jget "$1"; }
# code ARGS...: the HTTP status of a reg_curl request (body in $WORK/.body,
# headers in $WORK/.hdr)
code() { reg_curl -o "$WORK/.body" -D "$WORK/.hdr" -w '%{http_code}' "$@"; }
hdr() { tr -d '\r' <"$WORK/.hdr" | sed -n "s/^$1: *//Ip" | tail -n 1; }
sha_of() { sha256sum | sed 's/^/sha256:/; s/ .*//'; }
started() {
	[ "$?" = 0 ] || { reg_logs "$REG_NAME"; echo "Bail out! server $REG_NAME did not start"; exit 1; }
}

# ---- plain HTTP --------------------------------------------------------------
reg_start plain http; started
ok "plain: docker-registry answers on $REG_HOST" [ "$(code "$REG_URL/v2/")" = 200 ]
reg_info "$REG_NAME"

ref=$(reg_push_oci demo/oci:1)
is "plain: OCI push returns the reference" "$ref" "$REG_HOST/demo/oci:1"
want=$(jget manifest <"$(reg_src demo/oci:1).meta.json")
is "plain: the registry holds mkimage's manifest digest" "$(reg_digest demo/oci:1)" "$want"
is "plain: skopeo inspect sees it" "$(reg_inspect "$ref" --format '{{.Digest}}' 2>&1)" "$want"
# distribution 2.8 hides an OCI manifest from a client that does not accept it
reg_curl -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
	-o "$WORK/.body" "$REG_URL/v2/demo/oci/manifests/1"
is "plain: no OCI type in Accept gives MANIFEST_UNKNOWN" "$(jget errors.0.code <"$WORK/.body")" MANIFEST_UNKNOWN

ref=$(reg_push_zstd demo/zstd:1)
is "plain: zstd push" "$ref" "$REG_HOST/demo/zstd:1"
is "plain: its layers are zstd" "$(reg_api GET /v2/demo/zstd/manifests/1 | jget 'layers.*.mediaType' | sort -u)" \
	application/vnd.oci.image.layer.v1.tar+zstd

ref=$(reg_push_docker demo/docker:1)
reg_api HEAD /v2/demo/docker/manifests/1 >"$WORK/.hdr"
is "plain: Docker schema 2 push keeps its media type" "$(hdr content-type)" \
	application/vnd.docker.distribution.manifest.v2+json
is "plain: ... the digest skopeo wrote" "$(hdr docker-content-digest)" "$(cat "$(reg_src demo/docker:1).digest")"
is "plain: ... mkimage's config" "$(reg_api GET /v2/demo/docker/manifests/1 | jget config.digest)" \
	"$(jget id <"$(reg_src demo/docker:1).meta.json")"
is "plain: ... and mkimage's layers" \
	"$(reg_api GET /v2/demo/docker/manifests/1 | jget 'layers.*.digest')" \
	"$(jget 'layers.*.digest' <"$(reg_src demo/docker:1).meta.json")"

ref=$(reg_push_index demo/multi:1)
reg_api GET /v2/demo/multi/manifests/1 >"$WORK/.idx"
is "plain: the index is an OCI index" "$(jget mediaType <"$WORK/.idx")" application/vnd.oci.image.index.v1+json
is "plain: ... of amd64 and arm64" "$(jget 'manifests.*.platform.architecture' <"$WORK/.idx" | paste -sd' ')" "amd64 arm64"
is "plain: ... digest as pushed" "$(reg_digest demo/multi:1)" "$(cat "$(reg_src demo/multi:1).digest")"

ref=$(reg_push_manifest_list demo/list:1)
reg_api GET /v2/demo/list/manifests/1 >"$WORK/.list"
is "plain: the manifest list is a Docker list" "$(jget mediaType <"$WORK/.list")" \
	application/vnd.docker.distribution.manifest.list.v2+json
is "plain: ... of two schema 2 manifests" "$(jget 'manifests.*.mediaType' <"$WORK/.list" | sort -u)" \
	application/vnd.docker.distribution.manifest.v2+json

if [ -x /bin/busybox ]; then
	ref=$(reg_push_busybox demo/busybox:1)
	is "plain: busybox image, one layer" "$(reg_inspect "$ref" --format '{{len .Layers}} {{.Os}}' 2>&1)" "1 linux"
else
	_result 0 "plain: busybox image # SKIP /bin/busybox (busybox-static) is missing"
fi

# ---- HTTPS -----------------------------------------------------------------
reg_start tls https; started
ok "https: answers with the test CA" [ "$(code "$REG_URL/v2/")" = 200 ]
curl -s -o /dev/null "$REG_URL/v2/"
is "https: curl without the CA refuses the certificate" "$?" 60
ok "https: the certificate names localhost too" [ "$(code "https://localhost:$REG_PORT/v2/")" = 200 ]
ref=$(reg_push_oci demo/tls:1)
is "https: push through --dest-cert-dir" "$ref" "$REG_HOST/demo/tls:1"
is "https: skopeo inspect with the CA" "$(reg_inspect "$ref" --format '{{.Digest}}' 2>&1)" \
	"$(jget manifest <"$(reg_src demo/tls:1).meta.json")"

# ---- basic auth (htpasswd, bcrypt) ----------------------------------------------
reg_start basic https,basic; started
is "basic: anonymous gets 401" "$(code "$REG_URL/v2/")" 401
is "basic: ... with a Basic challenge" "$(hdr www-authenticate)" 'Basic realm="kbuild-ns-test"'
is "basic: right credentials: 200" "$(code -u "$REG_USER:$REG_PASS" "$REG_URL/v2/")" 200
is "basic: wrong password: 401" "$(code -u "$REG_USER:wrong" "$REG_URL/v2/")" 401
ref=$(reg_push_oci demo/basic:1)
is "basic: push with the auth file" "$ref" "$REG_HOST/demo/basic:1"
fails "basic: skopeo inspect with wrong credentials fails" 1 \
	reg_skopeo inspect --cert-dir "$REG_CERT_DIR" --creds "$REG_USER:wrong" "docker://$ref"
last_output >"$WORK/.skopeo"
ok "basic: ... saying unauthorized" grep -qi unauthorized "$WORK/.skopeo"

# ---- bearer tokens -------------------------------------------------------------
reg_start tok https,token; started
is "token: anonymous gets 401" "$(code "$REG_URL/v2/")" 401
is "token: ... with the Bearer challenge" "$(hdr www-authenticate)" \
	"Bearer realm=\"$REG_TOKEN_URL\",service=\"$REG_SERVICE\""
is "token: the token server refuses a wrong password" \
	"$(code -u "$REG_USER:wrong" "$REG_TOKEN_URL?service=$REG_SERVICE&scope=repository:demo/tok:pull")" 401
ref=$(reg_push_oci demo/tok:1)
is "token: skopeo pushes through the token flow" "$ref" "$REG_HOST/demo/tok:1"
want=$(jget manifest <"$(reg_src demo/tok:1).meta.json")
is "token: curl with a token sees the manifest" "$(reg_digest demo/tok:1)" "$want"
ok "token: the token server logged the push scope" \
	grep -q '"scopes": \["repository:demo/tok:pull,push"\]' "$REG_TOKEN_LOG"
is "token: an anonymous token (no access) gets 401" \
	"$(code -H "Authorization: Bearer $(reg_token repository:demo/tok:pull '')" \
		-H "Accept: $REG_ACCEPT" "$REG_URL/v2/demo/tok/manifests/1")" 401
is "token: ... insufficient_scope" "$(hdr www-authenticate | grep -o 'error="[a-z_]*"')" 'error="insufficient_scope"'
# shellcheck disable=SC2034 # read by reg_api
REG_API_CREDS=$REG_RO_USER:$REG_RO_PASS
is "token: the pull-only user pulls" "$(reg_digest demo/tok:1)" "$want"
unset REG_API_CREDS
fails "token: ... and may not push" 1 reg_skopeo copy -q --dest-cert-dir "$REG_CERT_DIR" \
	--dest-creds "$REG_RO_USER:$REG_RO_PASS" "oci:$(reg_src demo/tok:1):1" "docker://$REG_HOST/demo/ro:1"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/other.key" -out "$WORK/other.crt" \
	-days 1 -subj /CN=other >/dev/null 2>&1
mint() {
	"$PYTHON" "$REG_FX/tokenserver.py" mint --issuer "$REG_ISSUER" --service "$REG_SERVICE" \
		--sub "$REG_USER" --scope repository:demo/tok:pull "$@"
}
tokcode() { code -H "Authorization: Bearer $1" -H "Accept: $REG_ACCEPT" "$REG_URL/v2/demo/tok/manifests/1"; }
_d=$REG_DIR/tok
is "token: a token with the x5c header verifies" "$(tokcode "$(mint --key "$_d/token.key" --cert "$_d/token.crt" --header x5c)")" 200
is "token: a token signed by another key gets 401" "$(tokcode "$(mint --key "$WORK/other.key" --cert "$WORK/other.crt")")" 401

# ---- the fake registry ---------------------------------------------------------
L=$REG_DIR/src/fake
as_user "$PYTHON" "$REG_FX/ocilib.py" image oci-dir "$L" --name 1 --meta "$L.meta.json" >/dev/null 2>&1
want=$(jget manifest <"$L.meta.json")
blob=$(jget 'layers.0.digest' <"$L.meta.json")
bsize=$(jget 'layers.0.size' <"$L.meta.json")
set --
for r in good corrupt trunc short big redir far busy locked old; do set -- "$@" --repo "$r=$L"; done
reg_start_fake fake "$@" --storage-listen 127.0.0.2:0 \
	--fault 'corrupt,match=^/v2/corrupt/blobs/' \
	--fault 'truncate,match=^/v2/trunc/blobs/' \
	--fault 'short,match=^/v2/short/blobs/' \
	--fault 'oversize=5000000,match=^/v2/big/manifests/' \
	--fault 'redirect,match=^/v2/redir/blobs/' \
	--fault 'redirect=http://192.0.2.1:9,match=^/v2/far/blobs/' \
	--fault 'status=429,retry-after=2,times=1,match=^/v2/busy/manifests/' \
	--fault 'status=401,match=^/v2/locked/' \
	--fault 'schema1,match=^/v2/old/manifests/'
started
reg_info "$REG_NAME"
B=/blobs/$blob
is "fake: skopeo inspect works against it" "$(reg_inspect "$REG_HOST/good:1" --format '{{.Digest}}' 2>&1)" "$want"
is "fake: a good blob has its digest" "$(reg_curl "$REG_URL/v2/good$B" | sha_of)" "$blob"
reg_curl "$REG_URL/v2/corrupt$B" >"$WORK/.blob"
is "fake: corrupt: same size" "$(wc -c <"$WORK/.blob")" "$bsize"
ok "fake: corrupt: another digest" [ "$(sha_of <"$WORK/.blob")" != "$blob" ]
fails "fake: corrupt: skopeo copy refuses the blob" 1 \
	reg_skopeo copy -q --src-tls-verify=false "docker://$REG_HOST/corrupt:1" "oci:$WORK/copied:1"
reg_curl -o /dev/null "$REG_URL/v2/trunc$B" 2>/dev/null
is "fake: truncate: curl sees a partial transfer (18)" "$?" 18
is "fake: short: a complete answer of half the size" "$(reg_curl "$REG_URL/v2/short$B" | wc -c)" "$((bsize / 2))"
ok "fake: oversize: a manifest over 5 MB" [ "$(reg_curl -H "Accept: $REG_ACCEPT" "$REG_URL/v2/big/manifests/1" | wc -c)" -gt 5000000 ]
is "fake: redirect: 307" "$(code "$REG_URL/v2/redir$B")" 307
is "fake: ... to the storage host" "$(hdr location)" "$REG_STORAGE_URL/storage/$blob?sig=fakeregistry-presigned"
is "fake: ... where the blob is" "$(reg_curl -L -u someone:secret "$REG_URL/v2/redir$B" | sha_of)" "$blob"
ok "fake: ... and curl sent no Authorization there" \
	grep -q '"auth": false, .*"listener": "storage"' "$REG_LOG"
code "$REG_URL/v2/far$B" >/dev/null
is "fake: a redirect off the machine is only a Location" "$(hdr location | cut -d/ -f1-3)" "http://192.0.2.1:9"
is "fake: unknown tag: 404" "$(code -H "Accept: $REG_ACCEPT" "$REG_URL/v2/good/manifests/nope")" 404
is "fake: ... MANIFEST_UNKNOWN" "$(jget errors.0.code <"$WORK/.body")" MANIFEST_UNKNOWN
is "fake: busy: 429 ..." "$(code "$REG_URL/v2/busy/manifests/1")" 429
is "fake: ... Retry-After and TOOMANYREQUESTS" "$(hdr retry-after) $(jget errors.0.code <"$WORK/.body")" "2 TOOMANYREQUESTS"
is "fake: ... then 200 (times=1)" "$(code -H "Accept: $REG_ACCEPT" "$REG_URL/v2/busy/manifests/1")" 200
is "fake: locked: 401 with a Bearer challenge" "$(code "$REG_URL/v2/locked/manifests/1") $(hdr www-authenticate | cut -d' ' -f1)" "401 Bearer"
code "$REG_URL/v2/old/manifests/1" >/dev/null
is "fake: schema1: a schema 1 manifest" "$(hdr content-type)" application/vnd.docker.distribution.manifest.v1+prettyjws

reg_start_fake fakeauth --repo good="$L" --auth bearer=puller:pw-fake; started
is "fake bearer: anonymous gets 401" "$(code "$REG_URL/v2/good/manifests/1")" 401
is "fake bearer: the token flow gets the manifest" "$(reg_digest good:1)" "$want"

# A client in a network namespace of its own cannot leave the machine.
if as_user unshare -rn true 2>/dev/null; then
	reg_in_netns curl -s --max-time 5 -o /dev/null http://192.0.2.1:9/ 2>/dev/null
	is "netns: a non-loopback address is unreachable there (7)" "$?" 7
else
	_result 0 "netns: # SKIP no unprivileged user namespaces here"
fi

# ---- stopping ----------------------------------------------------------------
pids=$(cut -d' ' -f1 "$REG_DIR/pids" | paste -sd' ')
reg_stop_all
alive=
for p in $pids; do [ -d "/proc/$p" ] && alive="$alive $p"; done
is "reg_stop_all: every server is gone" "$alive" ""
