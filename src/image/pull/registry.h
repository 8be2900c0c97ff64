/* A client for one repository on one registry endpoint (the source or a
 * mirror), over the OCI Distribution API (Docker Registry HTTP API v2),
 * with libcurl:
 *
 *  - HTTPS with the system's CA store, plus the PEM certificates of
 *    --cert-dir, a [REGISTRY] cert-dir and the containers/Docker certs.d
 *    directories of the host; plain HTTP only for a loopback registry or
 *    one the user marked insecure (or --tls-verify=false), after HTTPS
 *    was refused by the server (never after a certificate was refused);
 *  - anonymous access, Basic credentials (auth.h), and the bearer-token
 *    flow of a "WWW-Authenticate: Bearer realm=…,service=…" challenge;
 *  - redirects (blob storage) followed by hand: http(s) only, plain HTTP
 *    only to loopback or insecure hosts, the Authorization header only to
 *    the registry's own host;
 *  - 429 and 502-504 retried a bounded number of times, waiting as long as
 *    Retry-After says (at most a minute);
 *  - proxies from http_proxy, https_proxy, all_proxy and no_proxy (as
 *    curl reads them), never for a loopback registry;
 *  - errors that name the method, the URL, the status and the registry's
 *    error code, and never a credential or token.
 *
 * One connection per worker (w): libcurl may not share one connection
 * cache between threads; DNS answers and TLS sessions are shared. */
#pragma once
#include "base/digest.h"
#include "image/regconf.h"
#include "image/import/zstream.h"
#include "image/import/oci.h"

typedef struct reg_opts {
	const char *cert_dir;        /* --cert-dir, or NULL */
	bool no_tls_verify;          /* --tls-verify=false */
	long connect_timeout;        /* seconds, for each connection */
	int workers;                 /* connections: one per worker */
	const reg_conf *conf;
} reg_opts;

typedef struct reg_client reg_client;
typedef struct reg_stream reg_stream;

/* host[:port] (an API host: registry-1.docker.io for docker.io) and the
 * repository path on it; creds_for names the registry the credentials
 * are looked up for (the domain as the user wrote it). */
int reg_open(const char *host, const char *repo, const char *creds_for, const reg_opts *o, reg_client **ret,
	     kb_error *e);
void reg_close(reg_client *c);
static inline void reg_closep(reg_client **c) { reg_close(*c); }
const char *reg_host(const reg_client *c);

/* GET /v2/<repo>/manifests/<tag or digest>, at most max bytes: the
 * bytes, their Content-Type (may be NULL) and digest (checked against a
 * digest reference and the Docker-Content-Digest header). */
int reg_get_manifest(reg_client *c, const char *ref, size_t max, char **ret, size_t *ret_len, char **ret_type,
		     kb_digest *ret_digest, kb_error *e);
/* A manifest (by digest) or a blob, whole, checked against d and size
 * (UINT64_MAX: any). */
int reg_get_doc(reg_client *c, int w, blob_kind kind, const kb_digest *d, uint64_t size, size_t max, char **ret,
		size_t *ret_len, kb_error *e);

/* A layer blob as a stream of exactly size bytes for zstream (read with
 * reg_stream_read); close checks that the transfer ended there, cleanly
 * (ok false: abandon it). */
int reg_stream_open(reg_client *c, int w, const kb_digest *d, uint64_t size, const char *label, reg_stream **ret,
		    kb_error *e);
ssize_t reg_stream_read(void *stream, void *buf, size_t n, kb_error *e);
int reg_stream_close(reg_stream *s, bool ok, kb_error *e);

/* What a response header says (registry.c; public for the fuzz target
 * fuzz/fuzz-registry-auth.c): the value of header line (n bytes, "Name:
 * value\r\n") when it is name (any case), trimmed, or NULL; and one
 * parameter of a WWW-Authenticate challenge, realm="…" quoted or not, or
 * NULL.  Both malloc'd. */
char *reg_header_value(const char *line, size_t n, const char *name);
char *reg_challenge_param(const char *ch, const char *name);
/* What a response body says (public for the same target): the token of
 * a token service's JSON answer ("token", else "access_token"), when it
 * is 1 to 16384 printable characters without spaces, malloc'd, or
 * NULL; and "CODE: message" of a registry's JSON error body (the first
 * of "errors"), cut to fit n and with control characters made spaces,
 * or "" when it has none. */
char *reg_token_text(const char *buf, size_t len);
void reg_error_text(const char *buf, size_t len, char *out, size_t n);
