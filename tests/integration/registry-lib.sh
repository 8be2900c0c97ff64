# Registry servers for the pull tests (POSIX sh), sourced after lib.sh.
#
# Real servers on loopback only, each on a free port, with every file in
# $WORK/registry; they run as the caller (root or the test user) and are
# stopped by pid when the script exits.  Clients (skopeo, curl) and the
# images they push run as the test user.
#
#   need docker-registry skopeo openssl curl    # what a script needs
#   . "$SRCDIR/tests/integration/registry-lib.sh"
#   reg_start plain http                         # or https / basic / token ...
#   ref=$(reg_push_oci demo/app:1)               # -> 127.0.0.1:PORT/demo/app:1
#   reg_inspect "$ref" --raw
#
# Servers (NAME is the script's label for one server; the last one started
# or named by reg_use is "current", and the REG_* variables below describe it)
#   reg_start NAME MODES     docker-registry (distribution 2.x) with MODES, a
#                            comma list: http (default) or https, plus basic
#                            (htpasswd, bcrypt) or token (a tokenserver.py
#                            realm; TLS too when https)
#   reg_start_fake NAME ARGS...  tests/fixtures/fakeregistry.py ARGS (its
#                            --port-file and --log are set here; add --repo,
#                            --fault, --auth, --storage-listen ..., each
#                            option and its value as two words; for
#                            --tls-cert use $REG_DIR/ca/server.crt after reg_ca)
#   reg_use NAME             make NAME current
#   reg_stop NAME / reg_stop_all   SIGTERM (then SIGKILL after 5 s) by pid;
#                            reg_stop_all runs from the EXIT trap
#   reg_info [NAME]          the server's URL, CA, users, logs as "# " lines
#   reg_wait URL SECS PID [CURL-ARGS]  until URL answers HTTP (any status);
#                            fails at once when PID has died
#   reg_logs [NAME]          the server's logs (last lines) as "# " lines
#
# Variables of the current server
#   REG_NAME REG_MODE        its label and modes ("fake" for a fake one)
#   REG_HOST REG_PORT REG_URL   127.0.0.1:PORT, PORT, http(s)://127.0.0.1:PORT
#   REG_CA                   the CA certificate (PEM) of https servers, else ""
#   REG_CERT_DIR             a directory holding only that CA as ca.crt (for
#                            skopeo --cert-dir, containers certs.d), else ""
#   REG_USER REG_PASS        the user that may pull and push ("" without auth)
#   REG_RO_USER REG_RO_PASS  a pull-only user (token mode; in basic mode the
#                            htpasswd file has it too, with full rights)
#   REG_AUTHFILE             a containers/Docker auth file with REG_USER (0600,
#                            owned by the test user), else ""
#   REG_TOKEN_URL REG_SERVICE REG_ISSUER   the realm and the names the
#                            token server signs (token mode)
#   REG_TOKEN_CERT           the certificate of the token signing key (the
#                            registry's rootcertbundle)
#   REG_LOG REG_TOKEN_LOG    server log; token server JSON log
#   REG_STORAGE_URL          the fake registry's storage listener, if any
#   REG_DATA REG_CONFIG      docker-registry's storage dir and config file
#
# Clients
#   reg_skopeo ARGS...       skopeo as the test user, with no policy check, an
#                            empty registries.conf, no stray credentials and
#                            a blob-info cache private to this script
#   reg_tls_args [PREFIX]    skopeo options for the current server's TLS and
#                            auth (PREFIX "dest-" or "src-" for copy)
#   reg_inspect REF [ARGS]   skopeo inspect docker://REF on the current server
#   reg_curl ARGS...         curl -sS with the current server's CA
#   reg_token SCOPE [CREDS]  a token from the current token server (CREDS
#                            USER:PASS, default REG_USER's; "" anonymous)
#   reg_api METHOD PATH [CURL-ARGS]  an API request on the current server,
#                            with REG_USER's credentials (basic, or a bearer
#                            token for the repository in PATH); REG_API_CREDS
#                            overrides them ("" for anonymous).  Manifest
#                            requests accept every manifest type ($REG_ACCEPT):
#                            distribution answers 404 to a GET of an OCI
#                            manifest that does not accept OCI types.
#   reg_digest NAME:TAG      the manifest digest the server reports
#   reg_in_netns CMD...      CMD as the test user, mapped to root of a new user
#                            and network namespace with only lo up: a client
#                            there cannot reach any address outside (for
#                            redirects to non-loopback hosts); the servers it
#                            talks to must run inside too (write their files
#                            in test-user-owned dirs such as $WORK)
#
# Images (each makes its image as the test user, pushes it to the current
# server and prints the reference HOST:PORT/NAME:TAG; the source layout is
# $(reg_src NAME:TAG), mkimage's --meta beside it as .meta.json, the digest
# the registry got as .digest)
#   reg_push_oci NAME:TAG [CONTENT]     one platform, OCI manifest, gzip
#                                       layers (ocilib.py image --content CONTENT,
#                                       default base), digests preserved
#   reg_push_zstd NAME:TAG [CONTENT]    the same with zstd layers
#   reg_push_docker NAME:TAG [CONTENT]  Docker schema 2 manifest, gzip: the
#                                       OCI image converted by skopeo --format
#                                       v2s2 (same layer blobs, new manifest)
#   reg_push_index NAME:TAG             OCI image index of linux/amd64 (two
#                                       layers) and linux/arm64 (one layer)
#   reg_push_manifest_list NAME:TAG     the same as a Docker manifest list
#                                       (skopeo --all --format v2s2)
#   reg_push_busybox NAME:TAG           a runnable busybox-static image (one
#                                       layer: /bin/busybox and its applets)
#   reg_push SRC NAME:TAG [COPY-ARGS]   any skopeo source (oci:DIR:TAG, ...)
#   reg_src NAME:TAG                    the source layout path of a push

REG_FX=$SRCDIR/tests/fixtures
# One interpreter both the caller and the test user can run, found once: a
# version manager's shim first on root's PATH costs a second or more a start.
_reg_py=$(as_user "$PYTHON" -c 'import sys; print(sys.executable)' 2>/dev/null) &&
	[ -x "$_reg_py" ] && PYTHON=$_reg_py
REG_DIR=$WORK/registry
REG_ACCEPT="application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json"
umask 022
mkdir -p "$REG_DIR/src" "$REG_DIR/tmp"
: >"$REG_DIR/pids"
: >"$REG_DIR/registries.conf"
[ "$(id -u)" = 0 ] && chown -R "$TEST_UID:$TEST_GID" "$REG_DIR"

# Servers die before $WORK goes.  A script that sets its own EXIT trap must
# call reg_stop_all (and cleanup) from it.
trap 'reg_stop_all; cleanup' EXIT

_reg_vars="REG_NAME REG_MODE REG_HOST REG_PORT REG_URL REG_CA REG_CERT_DIR REG_USER REG_PASS
REG_RO_USER REG_RO_PASS REG_AUTHFILE REG_TOKEN_URL REG_SERVICE REG_ISSUER REG_TOKEN_CERT
REG_LOG REG_TOKEN_LOG REG_STORAGE_URL REG_DATA REG_CONFIG"

_reg_clear() { for _v in $_reg_vars; do eval "$_v="; done; }
_reg_save() {
	for _v in $_reg_vars; do eval "printf \"%s='%s'\\n\" \"\$_v\" \"\$$_v\""; done >"$REG_DIR/$REG_NAME/env"
}
reg_use() {
	[ -f "$REG_DIR/$1/env" ] || { echo "# reg_use: no server $1" >&2; return 1; }
	# shellcheck source=/dev/null # written by _reg_save
	. "$REG_DIR/$1/env"
}

_reg_secret() { od -An -N12 -tx1 /dev/urandom | tr -d ' \n'; }
_reg_json() { "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# ---- processes ------------------------------------------------------------

# fields of /proc/PID/stat after "PID (comm) ": $1 state, $20 start time
_reg_stat() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f"$2"; }
_reg_alive() {   # PID STARTTIME
	_st=$(_reg_stat "$1" 1)
	[ -n "$_st" ] && [ "$_st" != Z ] && [ "$(_reg_stat "$1" 20)" = "$2" ]
}
# _reg_spawn NAME LOG CMD...: start CMD in the background; REG_PID is its pid
_reg_spawn() {
	_n=$1 _l=$2; shift 2
	"$@" </dev/null >>"$_l" 2>&1 &
	REG_PID=$!
	echo "$REG_PID $(_reg_stat "$REG_PID" 20) $_n" >>"$REG_DIR/pids"
}

reg_stop() {
	: >"$REG_DIR/pids.keep"
	: >"$REG_DIR/pids.stop"
	while read -r _p _s _n; do
		if [ -z "${1:-}" ] || [ "$_n" = "$1" ]; then echo "$_p $_s" >>"$REG_DIR/pids.stop"
		else echo "$_p $_s $_n" >>"$REG_DIR/pids.keep"; fi
	done <"$REG_DIR/pids"
	mv "$REG_DIR/pids.keep" "$REG_DIR/pids"
	while read -r _p _s; do
		_reg_alive "$_p" "$_s" && kill -TERM "$_p" 2>/dev/null
	done <"$REG_DIR/pids.stop"
	while read -r _p _s; do
		_i=0
		while _reg_alive "$_p" "$_s" && [ "$_i" -lt 50 ]; do sleep 0.1; _i=$((_i + 1)); done
		_reg_alive "$_p" "$_s" && kill -KILL "$_p" 2>/dev/null
		wait "$_p" 2>/dev/null
	done <"$REG_DIR/pids.stop"
	rm -f "$REG_DIR/pids.stop"
	return 0
}
reg_stop_all() { [ -f "$REG_DIR/pids" ] && reg_stop ""; return 0; }

reg_wait() {   # URL SECS PID [CURL-ARGS]
	_u=$1 _secs=$2 _pid=$3; shift 3
	_i=0
	while [ "$_i" -lt "$((_secs * 10))" ]; do
		[ -d "/proc/$_pid" ] && [ "$(_reg_stat "$_pid" 1)" != Z ] || return 1
		_c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$@" "$_u" 2>/dev/null)
		[ -n "$_c" ] && [ "$_c" != 000 ] && return 0
		sleep 0.1; _i=$((_i + 1))
	done
	return 1
}
# _reg_wait_file FILE SECS PID: until FILE exists (port files)
_reg_wait_file() {
	_i=0
	while [ ! -s "$1" ]; do
		[ "$_i" -lt "$(($2 * 10))" ] && [ -d "/proc/$3" ] && [ "$(_reg_stat "$3" 1)" != Z ] || return 1
		sleep 0.1; _i=$((_i + 1))
	done
}

reg_logs() {
	[ -n "${1:-}" ] && reg_use "$1"
	for _f in "$REG_LOG" "$REG_TOKEN_LOG"; do
		[ -n "$_f" ] && [ -f "$_f" ] && { echo "# --- $_f"; tail -n 15 "$_f" | sed 's/^/# /'; }
	done
	return 0
}

reg_info() {
	[ -n "${1:-}" ] && reg_use "$1"
	echo "# registry $REG_NAME ($REG_MODE): $REG_URL"
	[ -n "$REG_CA" ] && echo "#   CA $REG_CA (cert dir $REG_CERT_DIR)"
	[ -n "$REG_USER" ] && echo "#   user $REG_USER, auth file $REG_AUTHFILE"
	[ -n "$REG_TOKEN_URL" ] && echo "#   token realm $REG_TOKEN_URL service $REG_SERVICE issuer $REG_ISSUER"
	[ -n "$REG_STORAGE_URL" ] && echo "#   storage $REG_STORAGE_URL"
	echo "#   log $REG_LOG"
	return 0
}

# ---- certificates -----------------------------------------------------------

# reg_ca: the test CA and one server certificate for 127.0.0.1, 127.0.0.2,
# ::1 and localhost (P-256 keys: instant to make), once per script.
reg_ca() {
	_cad=$REG_DIR/ca
	[ -f "$_cad/server.crt" ] && return 0
	mkdir -p "$_cad/certs.d"
	printf '%s\n' "subjectAltName=IP:127.0.0.1,IP:127.0.0.2,IP:::1,DNS:localhost" \
		"basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
		"extendedKeyUsage=serverAuth" >"$_cad/server.ext"
	{
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-keyout "$_cad/ca.key" -out "$_cad/ca.crt" -days 7 -subj "/CN=kbuild-ns test CA" \
			-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign &&
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-keyout "$_cad/server.key" -out "$_cad/server.csr" -subj "/CN=127.0.0.1" &&
		openssl x509 -req -in "$_cad/server.csr" -CA "$_cad/ca.crt" -CAkey "$_cad/ca.key" \
			-set_serial "0x$(_reg_secret)" -days 7 -extfile "$_cad/server.ext" -out "$_cad/server.crt"
	} >"$_cad/openssl.log" 2>&1 || { sed 's/^/# /' "$_cad/openssl.log" >&2; return 1; }
	cp "$_cad/ca.crt" "$_cad/certs.d/ca.crt"
}

# ---- docker-registry ------------------------------------------------------

_reg_config() {   # the config of the current server on port $1
	cat <<EOF
version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: $REG_DATA
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
health:
  storagedriver:
    enabled: false
http:
  addr: 127.0.0.1:$1
  secret: $(_reg_secret)
EOF
	if [ -n "$REG_CA" ]; then
		printf '  tls:\n    certificate: %s\n    key: %s\n' "$REG_DIR/ca/server.crt" "$REG_DIR/ca/server.key"
	fi
	case ,$REG_MODE, in
	*,basic,*) printf 'auth:\n  htpasswd:\n    realm: kbuild-ns-test\n    path: %s\n' "$REG_DIR/$REG_NAME/htpasswd" ;;
	*,token,*) printf 'auth:\n  token:\n    realm: %s\n    service: %s\n    issuer: %s\n    rootcertbundle: %s\n' \
		"$REG_TOKEN_URL" "$REG_SERVICE" "$REG_ISSUER" "$REG_TOKEN_CERT" ;;
	esac
}

_reg_htpasswd() {   # USER PASS: one bcrypt line (distribution ignores other hashes)
	if command -v htpasswd >/dev/null 2>&1; then htpasswd -nbB "$1" "$2" | sed '/^$/d'
	else "$PYTHON" -W ignore "$REG_FX/regtool.py" bcrypt "$1" "$2"; fi
}

_reg_start_token() {
	_td=$REG_DIR/$REG_NAME
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$_td/token.key" -out "$_td/token.crt" \
		-days 7 -subj "/CN=kbuild-ns test token signer" >"$_td/openssl.log" 2>&1 ||
		{ sed 's/^/# /' "$_td/openssl.log" >&2; return 1; }
	REG_TOKEN_CERT=$_td/token.crt
	REG_SERVICE=kbuild-ns-test-registry
	REG_ISSUER=kbuild-ns-test-token-issuer
	REG_TOKEN_LOG=$_td/token.log
	set -- "$PYTHON" "$REG_FX/tokenserver.py" serve --key "$_td/token.key" --cert "$REG_TOKEN_CERT" \
		--issuer "$REG_ISSUER" --service "$REG_SERVICE" --port-file "$_td/token.port" \
		--log "$REG_TOKEN_LOG" --user "$REG_USER:$REG_PASS" --user "$REG_RO_USER:$REG_RO_PASS:pull"
	[ -n "$REG_CA" ] && set -- "$@" --tls-cert "$REG_DIR/ca/server.crt" --tls-key "$REG_DIR/ca/server.key"
	_reg_spawn "$REG_NAME" "$_td/token.stderr" "$@"
	_reg_wait_file "$_td/token.port" 10 "$REG_PID" ||
		{ sed 's/^/# /' "$_td/token.stderr" >&2; return 1; }
	_s=http; [ -n "$REG_CA" ] && _s=https
	REG_TOKEN_URL=$_s://127.0.0.1:$(cat "$_td/token.port")/token
}

reg_start() {   # NAME MODES
	_reg_clear
	REG_NAME=$1 REG_MODE=${2:-http}
	_d=$REG_DIR/$REG_NAME
	mkdir -p "$_d/data"
	REG_DATA=$_d/data REG_CONFIG=$_d/config.yml REG_LOG=$_d/registry.log
	case ,$REG_MODE, in *,https,*) reg_ca || return 1
		REG_CA=$REG_DIR/ca/ca.crt REG_CERT_DIR=$REG_DIR/ca/certs.d ;; esac
	case ,$REG_MODE, in *,basic,*|*,token,*)
		REG_USER=kbuild-test REG_PASS=pw-$(_reg_secret)
		REG_RO_USER=reader REG_RO_PASS=ro-$(_reg_secret) ;; esac
	case ,$REG_MODE, in *,basic,*)
		{ _reg_htpasswd "$REG_USER" "$REG_PASS" && _reg_htpasswd "$REG_RO_USER" "$REG_RO_PASS"; } \
			>"$_d/htpasswd" || return 1 ;; esac
	case ,$REG_MODE, in *,token,*) _reg_start_token || return 1 ;; esac
	_s=http; _ca=; [ -n "$REG_CA" ] && { _s=https; _ca="--cacert $REG_CA"; }
	for _try in 1 2 3; do
		REG_PORT=$("$PYTHON" "$REG_FX/regtool.py" free-port)
		_reg_config "$REG_PORT" >"$REG_CONFIG"
		_reg_spawn "$REG_NAME" "$REG_LOG" docker-registry serve "$REG_CONFIG"
		# shellcheck disable=SC2086 # _ca is empty or two words without blanks
		reg_wait "$_s://127.0.0.1:$REG_PORT/v2/" 15 "$REG_PID" $_ca && break
		if [ "$_try" = 3 ] || ! grep -q 'address already in use' "$REG_LOG"; then
			echo "# docker-registry $REG_NAME did not start" >&2
			tail -n 20 "$REG_LOG" | sed 's/^/# /' >&2
			return 1
		fi
	done
	REG_HOST=127.0.0.1:$REG_PORT REG_URL=$_s://127.0.0.1:$REG_PORT
	if [ -n "$REG_USER" ]; then
		REG_AUTHFILE=$_d/auth.json
		"$PYTHON" "$REG_FX/regtool.py" auth-file "$REG_AUTHFILE" "$REG_HOST" "$REG_USER" "$REG_PASS" &&
			{ [ "$(id -u)" != 0 ] || chown "$TEST_UID:$TEST_GID" "$REG_AUTHFILE"; } || return 1
	fi
	_reg_save
}

reg_start_fake() {   # NAME FAKEREGISTRY-ARGS...
	_reg_clear
	REG_NAME=$1 REG_MODE=fake; shift
	_d=$REG_DIR/$REG_NAME
	mkdir -p "$_d"
	REG_LOG=$_d/requests.log
	rm -f "$_d/port"
	_reg_spawn "$REG_NAME" "$_d/stderr" "$PYTHON" "$REG_FX/fakeregistry.py" \
		--port-file "$_d/port" --log "$REG_LOG" "$@"
	_reg_wait_file "$_d/port" 10 "$REG_PID" ||
		{ echo "# fakeregistry $REG_NAME did not start" >&2; sed 's/^/# /' "$_d/stderr" >&2; return 1; }
	REG_PORT=$(sed -n 1p "$_d/port")
	_s=http
	case " $* " in *" --tls-cert "*) _s=https; REG_CA=$REG_DIR/ca/ca.crt REG_CERT_DIR=$REG_DIR/ca/certs.d ;; esac
	REG_HOST=127.0.0.1:$REG_PORT REG_URL=$_s://127.0.0.1:$REG_PORT
	_fa=$(printf '%s\n' "$@" | sed -n '/^--auth$/{n;p;}')
	if [ -n "$_fa" ]; then
		_fc=${_fa#*=}
		REG_USER=${_fc%%:*} REG_PASS=${_fc#*:}
		case $_fa in bearer=*) REG_TOKEN_URL=$REG_URL/token REG_SERVICE=fakeregistry ;; esac
		REG_AUTHFILE=$_d/auth.json
		"$PYTHON" "$REG_FX/regtool.py" auth-file "$REG_AUTHFILE" "$REG_HOST" "$REG_USER" "$REG_PASS" &&
			{ [ "$(id -u)" != 0 ] || chown "$TEST_UID:$TEST_GID" "$REG_AUTHFILE"; } || return 1
	fi
	_sp=$(sed -n 2p "$_d/port")
	if [ -n "$_sp" ]; then
		# the storage listener's host is the --storage-listen argument's
		_sh=$(printf '%s\n' "$@" | sed -n '/^--storage-listen$/{n;p;}' | sed 's/:[0-9]*$//')
		REG_STORAGE_URL=$_s://$_sh:$_sp
	fi
	_reg_save
}

# ---- clients ---------------------------------------------------------------

reg_skopeo() {
	as_user env CONTAINERS_REGISTRIES_CONF="$REG_DIR/registries.conf" \
		REGISTRY_AUTH_FILE="$REG_DIR/no-such-auth.json" TMPDIR="$REG_DIR/tmp" \
		skopeo --insecure-policy "$@"
}
reg_tls_args() {   # [PREFIX]
	if [ -n "$REG_CA" ]; then printf -- '--%scert-dir %s ' "${1:-}" "$REG_CERT_DIR"
	else printf -- '--%stls-verify=false ' "${1:-}"; fi
	[ -n "$REG_AUTHFILE" ] && printf -- '--%sauthfile %s ' "${1:-}" "$REG_AUTHFILE"
	return 0
}
reg_inspect() {   # REF [ARGS]
	_r=$1; shift
	# shellcheck disable=SC2046 # the options have no blanks
	reg_skopeo inspect $(reg_tls_args) "$@" "docker://$_r"
}
reg_curl() {
	if [ -n "$REG_CA" ]; then curl -sS --cacert "$REG_CA" "$@"; else curl -sS "$@"; fi
}
reg_token() {   # SCOPE [CREDS]
	_creds=${2-$REG_USER:$REG_PASS}
	set -- -G --data-urlencode "service=$REG_SERVICE" --data-urlencode "scope=$1"
	[ -n "$_creds" ] && set -- "$@" -u "$_creds"
	_body=$(reg_curl -f "$@" "$REG_TOKEN_URL") || return 1
	printf '%s' "$_body" | _reg_json token
}
reg_api() {   # METHOD PATH [CURL-ARGS]
	_m=$1 _p=$2; shift 2
	_creds=${REG_API_CREDS-$REG_USER:$REG_PASS}
	case $_p in */manifests/*) set -- -H "Accept: $REG_ACCEPT" "$@" ;; esac
	if [ "$_m" = HEAD ]; then set -- -I "$@"; else set -- -X "$_m" "$@"; fi
	if [ -n "$REG_TOKEN_URL" ] && [ -n "$_creds" ]; then
		_repo=$(printf '%s\n' "$_p" | sed -n 's#^/v2/\(.*\)/\(manifests\|blobs\|tags\)/.*#\1#p')
		_act=pull; [ "$_m" = GET ] || [ "$_m" = HEAD ] || _act=pull,push
		_tok=$(reg_token "repository:$_repo:$_act" "$_creds") || return 1
		set -- -H "Authorization: Bearer $_tok" "$@"
	elif [ -n "$_creds" ]; then
		set -- -u "$_creds" "$@"
	fi
	reg_curl "$@" "$REG_URL$_p"
}
reg_digest() {   # NAME:TAG
	reg_api HEAD "/v2/${1%:*}/manifests/${1##*:}" | tr -d '\r' |
		sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: *//p'
}

# reg_in_netns CMD...: see the header.  lo is brought up with the
# SIOCGIFFLAGS/SIOCSIFFLAGS ioctls from Python (no iproute2 needed).
reg_in_netns() {
	# shellcheck disable=SC2016 # expanded by the inner sh
	as_user unshare -rn sh -c '"$1" -c "
import fcntl, socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
flags = struct.unpack(\"16sh\", fcntl.ioctl(s, 0x8913, struct.pack(\"16sh\", b\"lo\", 0)))[1]
fcntl.ioctl(s, 0x8914, struct.pack(\"16sh\", b\"lo\", flags | 1))
" && shift && exec "$@"' sh "$PYTHON" "$@"
}

# ---- images ----------------------------------------------------------------

reg_src() { printf '%s/src/%s\n' "$REG_DIR" "$(printf '%s' "$1" | tr '/:' '__')"; }

reg_push() {   # SRC NAME:TAG [COPY-ARGS]
	_src=$1 _dst=$2; shift 2
	_out=$(reg_src "$_dst")
	# shellcheck disable=SC2046 # the options have no blanks
	reg_skopeo copy -q $(reg_tls_args dest-) --digestfile "$_out.digest" "$@" \
		"$_src" "docker://$REG_HOST/$_dst" >"$_out.push.log" 2>&1 ||
		{ sed 's/^/# skopeo: /' "$_out.push.log" >&2; return 1; }
	echo "$REG_HOST/$_dst"
}

# _reg_mkimage NAME:TAG MKIMAGE-ARGS...: an OCI layout tagged with TAG
_reg_mkimage() {
	_out=$(reg_src "$1"); _t=${1##*:}; shift
	as_user rm -rf "$_out"
	as_user "$PYTHON" "$REG_FX/ocilib.py" image oci-dir "$_out" --name "$_t" --meta "$_out.meta.json" "$@" \
		>"$_out.mk.log" 2>&1 || { sed 's/^/# mkimage: /' "$_out.mk.log" >&2; return 1; }
}

reg_push_oci() {
	_reg_mkimage "$1" --content "${2:-base}" --layers gzip &&
		reg_push "oci:$(reg_src "$1"):${1##*:}" "$1" --format oci --preserve-digests
}
reg_push_zstd() {
	_reg_mkimage "$1" --content "${2:-base}" --layers zstd &&
		reg_push "oci:$(reg_src "$1"):${1##*:}" "$1" --format oci --preserve-digests
}
reg_push_docker() {
	# (an OCI layout with Docker media types is no source for skopeo: its
	# oci: transport only looks at OCI-typed descriptors; so skopeo converts)
	_reg_mkimage "$1" --content "${2:-base}" --layers gzip &&
		reg_push "oci:$(reg_src "$1"):${1##*:}" "$1" --format v2s2
}

# _reg_index NAME:TAG: two single-platform layouts and their index layout
_reg_index() {
	_out=$(reg_src "$1")
	as_user rm -rf "$_out" "$_out.amd64" "$_out.arm64"
	{
		as_user "$PYTHON" "$REG_FX/ocilib.py" image oci-dir "$_out.amd64" --name p --content platform:linux/amd64 &&
		as_user "$PYTHON" "$REG_FX/ocilib.py" image oci-dir "$_out.arm64" --name p --content platform:linux/arm64/v8 &&
		as_user "$PYTHON" "$REG_FX/regtool.py" index "$_out" --tag "${1##*:}" "$_out.amd64" "$_out.arm64"
	} >"$_out.mk.log" 2>&1 || { sed 's/^/# index: /' "$_out.mk.log" >&2; return 1; }
}
reg_push_index() {
	_reg_index "$1" &&
		reg_push "oci:$(reg_src "$1"):${1##*:}" "$1" --all --format oci --preserve-digests
}
reg_push_manifest_list() {
	_reg_index "$1" &&
		reg_push "oci:$(reg_src "$1"):${1##*:}" "$1" --all --format v2s2
}

reg_push_busybox() {
	[ -x /bin/busybox ] || { echo "# reg_push_busybox: /bin/busybox (busybox-static) is missing" >&2; return 1; }
	_out=$(reg_src "$1")
	as_user rm -rf "$_out"
	as_user "$PYTHON" "$REG_FX/regtool.py" busybox-image "$_out" --tag "${1##*:}" >"$_out.mk.log" 2>&1 ||
		{ sed 's/^/# busybox: /' "$_out.mk.log" >&2; return 1; }
	reg_push "oci:$_out:${1##*:}" "$1" --format oci --preserve-digests
}
