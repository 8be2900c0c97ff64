/* A registry client over libcurl (registry.h). */
#include "image/pull/registry.h"
#include "image/pull/auth.h"
#include "image/ref.h"
#include "image/import/sha256.h"
#include "base/progress.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define MAX_HOPS 5               /* redirects per request */
#define MAX_BUSY 4               /* retries after 429 and 502-504 */
#define MAX_WAIT 60              /* seconds, whatever Retry-After says */
#define ERR_BODY_MAX 8192
#define PEND_HIGH (1u << 20)     /* stream bytes kept before curl is paused */
#define CURL_BUF (256 * 1024)
#define MAX_TOKEN_DOC (64 * 1024)
#define MAX_TOKEN (16 * 1024)
#define MAX_CA_FILE (4u << 20)

#define ACCEPT_MANIFESTS "Accept: application/vnd.oci.image.index.v1+json, " \
	"application/vnd.oci.image.manifest.v1+json, " \
	"application/vnd.docker.distribution.manifest.list.v2+json, " \
	"application/vnd.docker.distribution.manifest.v2+json, " \
	"application/vnd.docker.distribution.manifest.v1+prettyjws"

typedef struct conn {
	CURLM *m;
	CURL *h;
} conn;

typedef struct ca_bundle {
	char *host;
	int fd;                      /* memfd, -1: the system's store alone */
} ca_bundle;

struct reg_client {
	char *host, *repo, *base;
	bool may_http;               /* loopback or insecure */
	bool scheme_known;
	const reg_opts *o;
	reg_creds creds;
	pthread_mutex_t lock;        /* auth, base, cas */
	char *auth;                  /* "Authorization: …" line, or NULL */
	CURLSH *share;
	pthread_mutex_t share_lock[CURL_LOCK_DATA_LAST];
	conn *conns;
	int n_conns;
	ca_bundle *cas;
	size_t n_cas;
};

typedef struct xfer {
	reg_client *c;
	conn *cn;
	bool attached;
	char *url;
	struct curl_slist *hdrs;
	/* the response */
	long status;
	char reason[64];
	char *ctype, *dcd, *www_auth;
	bool hdrs_done, done;
	CURLcode result;
	char errbuf[CURL_ERROR_SIZE];
	/* a body kept whole (documents, error bodies) */
	bool stream;
	char *buf;
	size_t len, bcap, max;
	bool too_big;
	/* a streamed body: bytes go to dst while a reader waits, else to pend */
	uint64_t expect, got;
	bool overflow, paused;
	unsigned char *pend;
	size_t pend_off, pend_len, pend_cap;
	unsigned char *dst;
	size_t dst_cap, dst_len;
} xfer;

struct reg_stream {
	xfer x;
	char label[48];
};

const char *reg_host(const reg_client *c) { return c->host; }

/* ---- URLs ---- */

/* host[:port] of url, or NULL. */
static char *url_hostport(const char *url, char **ret_scheme)
{
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL, *scheme = NULL, *out = NULL;
	if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK) {
		(void)curl_url_get(u, CURLUPART_PORT, &port, 0);
		out = port ? xasprintf("%s:%s", host, port) : xstrdup(host);
		if (ret_scheme)
			*ret_scheme = xstrdup(scheme);
	}
	curl_free(host);
	curl_free(port);
	curl_free(scheme);
	curl_url_cleanup(u);
	return out;
}

/* A URL for messages: no query (a presigned storage URL's signature is
 * a credential), no control characters, not too long. */
static const char *url_msg(const char *url, char *buf, size_t n)
{
	size_t k = 0;
	for (const char *p = url; *p && *p != '?' && *p != '#' && k + 4 < n; p++)
		buf[k++] = (*p > 0x20 && *p < 0x7f) ? *p : '_';
	if (strchr(url, '?') && k + 4 < n)
		buf[k++] = '?', buf[k++] = '.', buf[k++] = '.';
	buf[k] = 0;
	return buf;
}

static bool host_insecure(const reg_client *c, const char *hostport)
{
	const reg_section *s = regconf_find(c->o->conf, hostport);
	return c->o->no_tls_verify || (s && s->insecure == 1 && !strcmp(s->prefix, hostport));
}

/* ---- CA bundles: the system's store plus private CAs ---- */

static void add_crts(int out, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	if (!d)
		return;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (n < 5 || strcmp(de->d_name + n - 4, ".crt"))
			continue;
		_cleanup_free_ char *p = xasprintf("%s/%s", dir, de->d_name), *txt = NULL;
		size_t len;
		if (read_file_at(AT_FDCWD, p, MAX_CA_FILE, &txt, &len) == 0) {
			(void)write_all(out, txt, len);
			(void)write_all(out, "\n", 1);
			out_verbose("pull: trusting the CA certificates in %s for %s", p, dir);
		}
	}
	closedir(d);
}

/* The bundle for hostport: -1 when it has no private CA. */
static int make_bundle(reg_client *c, CURL *h, const char *hostport)
{
	const reg_section *s = regconf_find(c->o->conf, hostport);
	const char *cfg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	char *dirs[5] = { 0 };
	size_t n = 0;
	if (c->o->cert_dir)
		dirs[n++] = xstrdup(c->o->cert_dir);
	if (s && s->cert_dir && !strcmp(s->prefix, hostport))
		dirs[n++] = xstrdup(s->cert_dir);
	dirs[n++] = xasprintf("/etc/containers/certs.d/%s", hostport);
	dirs[n++] = xasprintf("/etc/docker/certs.d/%s", hostport);
	if ((cfg && *cfg) || (home && *home))
		dirs[n++] = cfg && *cfg ? xasprintf("%s/containers/certs.d/%s", cfg, hostport)
				       : xasprintf("%s/.config/containers/certs.d/%s", home, hostport);
	int fd = -1;
	bool any = false;
	for (size_t i = 0; i < n; i++)
		any = any || access(dirs[i], F_OK) == 0;
	if (any && (fd = memfd_create("kbuild-ns-ca", MFD_CLOEXEC)) >= 0) {
		char *sys = NULL;
		_cleanup_free_ char *txt = NULL;
		size_t len;
		(void)curl_easy_getinfo(h, CURLINFO_CAINFO, &sys);
		if (read_file_at(AT_FDCWD, sys ? sys : "/etc/ssl/certs/ca-certificates.crt", MAX_CA_FILE, &txt, &len) == 0)
			(void)write_all(fd, txt, len);
		for (size_t i = 0; i < n; i++)
			add_crts(fd, dirs[i]);
	}
	for (size_t i = 0; i < n; i++)
		free(dirs[i]);
	return fd;
}

static int bundle_for(reg_client *c, CURL *h, const char *hostport)
{
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->n_cas; i++)
		if (!strcmp(c->cas[i].host, hostport)) {
			int fd = c->cas[i].fd;
			pthread_mutex_unlock(&c->lock);
			return fd;
		}
	int fd = make_bundle(c, h, hostport);
	ca_bundle *nc = realloc(c->cas, (c->n_cas + 1) * sizeof *nc);
	if (nc) {
		c->cas = nc;
		c->cas[c->n_cas++] = (ca_bundle){ xstrdup(hostport), fd };
	} else if (fd >= 0) {
		close(fd);
		fd = -1;
	}
	pthread_mutex_unlock(&c->lock);
	return fd;
}

/* ---- one transfer ---- */

char *reg_header_value(const char *line, size_t n, const char *name)
{
	size_t nl = strlen(name);
	if (n <= nl + 1 || strncasecmp(line, name, nl) || line[nl] != ':')
		return NULL;
	const char *v = line + nl + 1;
	size_t vl = n - nl - 1;
	while (vl && (*v == ' ' || *v == '\t'))
		v++, vl--;
	while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
		vl--;
	return strndup(v, vl);
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *arg)
{
	xfer *x = arg;
	size_t n = size * nmemb;
	char *v;

	if (n >= 5 && !strncmp(line, "HTTP/", 5)) {
		/* A new response (after a 100 Continue, say): forget the last. */
		free(x->ctype), free(x->dcd), free(x->www_auth);
		x->ctype = x->dcd = x->www_auth = NULL;
		x->hdrs_done = false;
		const char *sp = memchr(line, ' ', n);
		x->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		const char *rs = sp ? memchr(sp + 1, ' ', n - (size_t)(sp + 1 - line)) : NULL;
		size_t k = 0;
		for (rs = rs ? rs + 1 : ""; rs < line + n && *rs >= 0x20 && *rs < 0x7f && k + 1 < sizeof x->reason; rs++)
			x->reason[k++] = *rs;
		x->reason[k] = 0;
	} else if (n <= 2 && x->status >= 200) {
		x->hdrs_done = true;
	} else if ((v = reg_header_value(line, n, "Content-Type"))) {
		free(x->ctype), x->ctype = v;
	} else if ((v = reg_header_value(line, n, "Docker-Content-Digest"))) {
		free(x->dcd), x->dcd = v;
	} else if ((v = reg_header_value(line, n, "WWW-Authenticate"))) {
		free(x->www_auth), x->www_auth = v;
	}
	return n;
}

static int grow(unsigned char **b, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	size_t nc = *cap ? *cap : 65536;
	while (nc < need)
		nc *= 2;
	unsigned char *nb = realloc(*b, nc);
	if (!nb)
		return -ENOMEM;
	*b = nb;
	*cap = nc;
	return 0;
}

static size_t on_stream_data(xfer *x, const char *p, size_t n)
{
	if (x->dst_len == x->dst_cap && x->pend_len >= PEND_HIGH) {
		x->paused = true;    /* curl keeps these bytes and offers them again */
		return CURL_WRITEFUNC_PAUSE;
	}
	if (x->got + n > x->expect) {
		x->overflow = true;
		return 0;
	}
	x->got += n;
	size_t k = x->dst_cap - x->dst_len < n ? x->dst_cap - x->dst_len : n;
	memcpy(x->dst + x->dst_len, p, k);
	x->dst_len += k;
	if (k == n)
		return n;
	if (x->pend_off && x->pend_off == x->pend_len)
		x->pend_off = x->pend_len = 0;
	if (x->pend_off > x->pend_cap / 2) {
		memmove(x->pend, x->pend + x->pend_off, x->pend_len - x->pend_off);
		x->pend_len -= x->pend_off;
		x->pend_off = 0;
	}
	if (grow(&x->pend, &x->pend_cap, x->pend_len + n - k) < 0)
		return 0;
	memcpy(x->pend + x->pend_len, p + k, n - k);
	x->pend_len += n - k;
	return n;
}

static size_t on_data(char *p, size_t size, size_t nmemb, void *arg)
{
	xfer *x = arg;
	size_t n = size * nmemb;
	if (x->stream && x->status == 200)
		return on_stream_data(x, p, n);
	if (x->status < 200 || (x->status >= 300 && x->status < 400))
		return n;    /* a redirect's or an interim answer's body */
	if (x->len + n > x->max) {
		if (x->status != 200) {    /* an error body: its start is enough */
			n = x->max - x->len;
		} else {
			x->too_big = true;
			return 0;
		}
	}
	if (grow((unsigned char **)&x->buf, &x->bcap, x->len + n + 1) < 0)
		return 0;
	memcpy(x->buf + x->len, p, n);
	x->len += n;
	x->buf[x->len] = 0;
	return size * nmemb;
}

static void xfer_reset(xfer *x)
{
	if (x->attached && x->cn)
		(void)curl_multi_remove_handle(x->cn->m, x->cn->h);
	x->attached = false;
	curl_slist_free_all(x->hdrs);
	x->hdrs = NULL;
	free(x->ctype), free(x->dcd), free(x->www_auth);
	x->ctype = x->dcd = x->www_auth = NULL;
	x->status = 0;
	x->reason[0] = x->errbuf[0] = 0;
	x->hdrs_done = x->done = x->too_big = x->overflow = x->paused = false;
	x->result = CURLE_OK;
	x->len = 0;
	x->got = 0;
	x->pend_off = x->pend_len = 0;
	x->dst = NULL;
	x->dst_cap = x->dst_len = 0;
}

static void xfer_free(xfer *x)
{
	xfer_reset(x);
	free(x->buf);
	free(x->pend);
	free(x->url);
	memset(x, 0, sizeof *x);
}

static conn *conn_get(reg_client *c, int w, kb_error *e)
{
	if (w < 0 || w >= c->n_conns) {
		kb_errx(e, EINVAL, "%s: no connection slot %d", c->host, w);
		return NULL;
	}
	conn *cn = &c->conns[w];
	if (!cn->m && !(cn->m = curl_multi_init())) {
		kb_err_oom(e, c->host);
		return NULL;
	}
	if (!cn->h && !(cn->h = curl_easy_init())) {
		kb_err_oom(e, c->host);
		return NULL;
	}
	return cn;
}

/* The options of one request to url; the Authorization header only with
 * own (the registry's own host). */
static int setup(xfer *x, const char *url, bool own, const char *accept, kb_error *e)
{
	reg_client *c = x->c;
	CURL *h = x->cn->h;
	_cleanup_free_ char *scheme = NULL;
	_cleanup_free_ char *hp = url_hostport(url, &scheme);
	if (!hp)
		return kb_errx(e, EINVAL, "%s: not a URL", url);
	curl_easy_reset(h);
	free(x->url);
	x->url = xstrdup(url);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(h, CURLOPT_SHARE, c->share);
	curl_easy_setopt(h, CURLOPT_BUFFERSIZE, (long)CURL_BUF);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, c->o->connect_timeout > 0 ? c->o->connect_timeout : 10L);
	/* A stalled transfer: under 1 byte/s for a minute. */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "kbuild-ns");
	if (host_is_loopback(hp))
		curl_easy_setopt(h, CURLOPT_PROXY, "");    /* never through a proxy */
	if (host_insecure(c, hp)) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (!strcmp(scheme, "https")) {
		int fd = bundle_for(c, h, hp);
		if (fd >= 0) {
			char p[64];
			snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
			curl_easy_setopt(h, CURLOPT_CAINFO, p);
		}
	}
	if (accept)
		x->hdrs = curl_slist_append(x->hdrs, accept);
	pthread_mutex_lock(&c->lock);
	if (own && c->auth)
		x->hdrs = curl_slist_append(x->hdrs, c->auth);
	pthread_mutex_unlock(&c->lock);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->hdrs);
	if (curl_multi_add_handle(x->cn->m, h) != CURLM_OK)
		return kb_errx(e, EIO, "%s: cannot start a transfer", hp);
	x->attached = true;
	return 0;
}

static int pump(xfer *x, kb_error *e)
{
	int running = 0, q;
	CURLMsg *msg;
	CURLMcode mc = curl_multi_perform(x->cn->m, &running);
	if (mc != CURLM_OK)
		return kb_errx(e, EIO, "%s: %s", x->c->host, curl_multi_strerror(mc));
	while ((msg = curl_multi_info_read(x->cn->m, &q)))
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == x->cn->h) {
			x->done = true;
			x->result = msg->data.result;
		}
	return 0;
}

/* Until the transfer ends, or (body) a 200 answer's body may be read. */
static int run(xfer *x, bool body, kb_error *e)
{
	for (;;) {
		int r = pump(x, e);
		if (r < 0)
			return r;
		if (x->done || (body && x->hdrs_done && x->status == 200))
			return 0;
		(void)curl_multi_poll(x->cn->m, NULL, 0, 1000, NULL);
	}
}

static bool offline_code(CURLcode r)
{
	return r == CURLE_COULDNT_RESOLVE_HOST || r == CURLE_COULDNT_CONNECT || r == CURLE_COULDNT_RESOLVE_PROXY ||
	       r == CURLE_OPERATION_TIMEDOUT;
}

/* A transfer that failed below HTTP. */
static int transport_error(xfer *x, const char *what, kb_error *e)
{
	char ub[300];
	const char *detail = x->errbuf[0] ? x->errbuf : curl_easy_strerror(x->result);
	if (x->overflow)
		return kb_errx(e, EINVAL, "%s: GET %s: the registry sent more than the %llu bytes the manifest gives", what,
			       url_msg(x->url, ub, sizeof ub), (unsigned long long)x->expect);
	if (x->too_big)
		return kb_errx(e, EFBIG, "%s: GET %s: more than the %zu bytes allowed", what, url_msg(x->url, ub, sizeof ub),
			       x->max);
	if (x->result == CURLE_PARTIAL_FILE && !(x->got && x->stream))
		return kb_errx(e, EIO, "%s: GET %s: ends early (truncated: %s)", what, url_msg(x->url, ub, sizeof ub),
			       detail);
	if (x->got && x->stream)
		return kb_errx(e, EIO, "%s: GET %s: transfer failed after %llu of %llu bytes (%s)", what,
			       url_msg(x->url, ub, sizeof ub), (unsigned long long)x->got, (unsigned long long)x->expect,
			       detail);
	if (offline_code(x->result))
		return kb_errx(e, ENETUNREACH, "%s: GET %s: cannot reach the registry (%s)", what,
			       url_msg(x->url, ub, sizeof ub), detail);
	return kb_errx(e, EIO, "%s: GET %s: %s", what, url_msg(x->url, ub, sizeof ub), detail);
}

void reg_error_text(const char *buf, size_t len, char *out, size_t n)
{
	json_t *j = buf ? json_loadb(buf, len, 0, NULL) : NULL;
	json_t *e0 = json_array_get(json_object_get(j, "errors"), 0);
	const char *code = json_string_value(json_object_get(e0, "code"));
	const char *msg = json_string_value(json_object_get(e0, "message"));
	out[0] = 0;
	if (code) {
		snprintf(out, n, "%.40s%s%.100s", code, msg ? ": " : "", msg ? msg : "");
		for (char *p = out; *p; p++)
			if (*p < 0x20 || *p == 0x7f)
				*p = ' ';
	}
	json_decref(j);
}

/* HTTP/2 has no reason phrase: the usual ones. */
static const char *reason_of(long status)
{
	static const struct { long s; const char *r; } t[] = {
		{ 400, "Bad Request" }, { 401, "Unauthorized" }, { 403, "Forbidden" }, { 404, "Not Found" },
		{ 405, "Method Not Allowed" }, { 406, "Not Acceptable" }, { 408, "Request Timeout" },
		{ 410, "Gone" }, { 413, "Content Too Large" }, { 416, "Range Not Satisfiable" },
		{ 429, "Too Many Requests" }, { 500, "Internal Server Error" }, { 502, "Bad Gateway" },
		{ 503, "Service Unavailable" }, { 504, "Gateway Timeout" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++)
		if (t[i].s == status)
			return t[i].r;
	return "";
}

static int http_error(xfer *x, const char *what, kb_error *e)
{
	char code[160], ub[300];
	reg_error_text(x->buf, x->len, code, sizeof code);
	if (!x->reason[0])
		snprintf(x->reason, sizeof x->reason, "%s", reason_of(x->status));
	int err = x->status == 404 ? ENOENT : x->status == 401 || x->status == 403 ? EACCES
		: x->status == 429 ? EBUSY : EIO;
	return kb_errx(e, err, "%s: GET %s: %ld%s%s%s%s%s", what, url_msg(x->url, ub, sizeof ub), x->status,
		       x->reason[0] ? " " : "", x->reason, code[0] ? " (" : "", code, code[0] ? ")" : "");
}

/* ---- authentication ---- */

char *reg_challenge_param(const char *ch, const char *name)
{
	size_t nl = strlen(name);
	for (const char *p = ch; (p = strcasestr(p, name)); p += nl) {
		if ((p != ch && p[-1] != ' ' && p[-1] != ',') || p[nl] != '=')
			continue;
		const char *v = p + nl + 1;
		if (*v == '"') {
			const char *end = strchr(v + 1, '"');
			return end ? strndup(v + 1, (size_t)(end - v - 1)) : NULL;
		}
		return strndup(v, strcspn(v, ", "));
	}
	return NULL;
}

static bool token_valid(const char *t)
{
	size_t n = strlen(t);
	if (n == 0 || n > MAX_TOKEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (t[i] <= 0x20 || t[i] >= 0x7f)
			return false;
	return true;
}

char *reg_token_text(const char *buf, size_t len)
{
	json_t *j = buf ? json_loadb(buf, len, 0, NULL) : NULL;
	const char *tok = json_string_value(json_object_get(j, "token"));
	char *ret = NULL;
	if (!tok)
		tok = json_string_value(json_object_get(j, "access_token"));
	if (tok && token_valid(tok))
		ret = xstrdup(tok);
	/* The document held the token: not left in freed memory. */
	if (tok)
		explicit_bzero((char *)tok, strlen(tok));
	json_decref(j);
	return ret;
}

static int request(reg_client *c, xfer *x, const char *url, const char *hdr, bool token, const char *what,
		   kb_error *e);

/* GET realm?service=…&scope=repository:REPO:pull, with the user's Basic
 * credentials when there are any; the token it answers. */
static int fetch_token(reg_client *c, conn *cn, const char *challenge, char **ret, kb_error *e)
{
	_cleanup_free_ char *realm = reg_challenge_param(challenge, "realm");
	_cleanup_free_ char *service = reg_challenge_param(challenge, "service");
	_cleanup_free_ char *scheme = NULL, *hp = NULL, *scope = xasprintf("repository:%s:pull", c->repo);
	char ub[300];

	if (!realm || !(hp = url_hostport(realm, &scheme)) || (strcmp(scheme, "https") && strcmp(scheme, "http")))
		return kb_errx(e, EACCES, "%s: the registry's Bearer challenge names no usable realm", c->host);
	if (strcmp(scheme, "https") && !host_is_loopback(hp) && !host_insecure(c, hp))
		return kb_errx(e, EACCES, "%s: token realm %s is plain HTTP on a host that is not loopback", c->host,
			       url_msg(realm, ub, sizeof ub));
	char *es = service ? curl_easy_escape(cn->h, service, 0) : NULL, *ep = curl_easy_escape(cn->h, scope, 0);
	_cleanup_free_ char *url = xasprintf("%s%sscope=%s%s%s", realm, strchr(realm, '?') ? "&" : "?", ep ? ep : "",
					     es ? "&service=" : "", es ? es : "");
	curl_free(es);
	curl_free(ep);
	xfer t = { .c = c, .cn = cn, .max = MAX_TOKEN_DOC };
	_cleanup_free_ char *basic = NULL;
	if (c->creds.user) {
		_cleanup_free_ char *up = xasprintf("%s:%s", c->creds.user, c->creds.pass);
		char *b = base64_encode(up, strlen(up));
		explicit_bzero(up, strlen(up));
		basic = b ? xasprintf("Authorization: Basic %s", b) : NULL;
		free(b);
	}
	int r = request(c, &t, url, basic, true, "token", e);
	if (basic)
		explicit_bzero(basic, strlen(basic));
	char *tok = r == 0 ? reg_token_text(t.buf, t.len) : NULL;
	if (r == 0 && !tok)
		r = kb_errx(e, EACCES, "token from %s: no usable token in the answer", url_msg(realm, ub, sizeof ub));
	if (r == 0)
		*ret = tok;
	if (t.buf)
		explicit_bzero(t.buf, t.len);
	xfer_free(&t);
	return r;
}

/* Answer a 401's challenge: a token (Bearer) or the credentials (Basic). */
static int authenticate(reg_client *c, conn *cn, const char *challenge, kb_error *e)
{
	char *line = NULL;
	if (challenge && !strncasecmp(challenge, "Bearer ", 7)) {
		_cleanup_free_ char *tok = NULL;
		int r = fetch_token(c, cn, challenge, &tok, e);
		if (r < 0)
			return r;
		line = xasprintf("Authorization: Bearer %s", tok);
		explicit_bzero(tok, strlen(tok));
	} else if (challenge && !strncasecmp(challenge, "Basic", 5)) {
		if (!c->creds.user)
			return kb_errx(e, EACCES, "%s: the registry wants a user name and password, and no auth file has "
				       "them (podman login or docker login writes one; see kbuild-ns.conf(5))", c->host);
		_cleanup_free_ char *up = xasprintf("%s:%s", c->creds.user, c->creds.pass);
		char *b = base64_encode(up, strlen(up));
		explicit_bzero(up, strlen(up));
		if (!b)
			return kb_err_oom(e, c->host);
		line = xasprintf("Authorization: Basic %s", b);
		explicit_bzero(b, strlen(b));
		free(b);
	} else {
		return kb_errx(e, EACCES, "%s: 401 Unauthorized with no challenge kbuild-ns can answer", c->host);
	}
	pthread_mutex_lock(&c->lock);
	if (c->auth)
		explicit_bzero(c->auth, strlen(c->auth));
	free(c->auth);
	c->auth = line;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

/* ---- requests ---- */

/* Follow a redirect: only http(s); plain HTTP only to a loopback or
 * insecure host. */
static int check_redirect(reg_client *c, xfer *x, const char *to, const char *what, kb_error *e)
{
	_cleanup_free_ char *scheme = NULL;
	_cleanup_free_ char *hp = to ? url_hostport(to, &scheme) : NULL;
	char ub[300], tb[300];
	if (!hp || (strcmp(scheme, "https") && strcmp(scheme, "http")))
		return kb_errx(e, EINVAL, "%s: GET %s: %ld redirect to an unusable location", what,
			       url_msg(x->url, ub, sizeof ub), x->status);
	if (!strcmp(scheme, "http") && !host_is_loopback(hp) && !host_insecure(c, hp))
		return kb_errx(e, EPERM, "%s: GET %s: redirected to %s: plain HTTP to a host that is not loopback "
			       "(refused; an insecure = true section for %s would allow it)", what,
			       url_msg(x->url, ub, sizeof ub), url_msg(to, tb, sizeof tb), hp);
	return 0;
}

static void wait_busy(xfer *x, int attempt, const char *what)
{
	curl_off_t ra = 0;
	(void)curl_easy_getinfo(x->cn->h, CURLINFO_RETRY_AFTER, &ra);
	long secs = ra > 0 ? (long)ra : 1L << attempt;
	if (secs > MAX_WAIT)
		secs = MAX_WAIT;
	char ub[300];
	out_status("%s: %s answered %ld; trying again in %ld s", what, url_msg(x->url, ub, sizeof ub), x->status, secs);
	struct timespec ts = { secs, 0 };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static bool tls_refused(CURLcode r) { return r == CURLE_SSL_CONNECT_ERROR; }

/* GET url (a path on the registry, or a token realm's URL) until it
 * answers 200: the body is in x (or, x->stream, ready to be read).  hdr
 * is one more header line (Accept, or a token request's credentials).
 * Redirects, one authentication, busy answers and the switch to plain
 * HTTP are handled here. */
static int request(reg_client *c, xfer *x, const char *url, const char *hdr, bool token, const char *what,
		   kb_error *e)
{
	_cleanup_free_ char *cur = NULL;
	bool authed = false;
	int hops = 0, busy = 0, r;

	for (;;) {
		if (!cur) {
			pthread_mutex_lock(&c->lock);
			cur = url[0] == '/' ? xasprintf("%s%s", c->base, url) : xstrdup(url);
			pthread_mutex_unlock(&c->lock);
		}
		_cleanup_free_ char *hp = url_hostport(cur, NULL);
		bool own = hp && !strcmp(hp, c->host) && !token;
		xfer_reset(x);
		if ((r = setup(x, cur, own, hdr, e)) < 0 || (r = run(x, x->stream, e)) < 0)
			return r;
		if (x->done && (x->result != CURLE_OK || x->status == 0)) {
			if (own && url[0] == '/' && c->may_http && !c->scheme_known && tls_refused(x->result) &&
			    !strncmp(c->base, "https:", 6)) {
				/* A loopback or insecure registry that speaks plain HTTP. */
				pthread_mutex_lock(&c->lock);
				free(c->base);
				c->base = xasprintf("http://%s", c->host);
				c->scheme_known = true;
				pthread_mutex_unlock(&c->lock);
				out_verbose("pull: %s does not speak TLS; using plain HTTP (loopback or insecure)", c->host);
				free(cur);
				cur = NULL;
				continue;
			}
			return transport_error(x, what, e);
		}
		if (own)
			c->scheme_known = true;
		char ub[300];
		out_verbose("pull: GET %s: %ld", url_msg(cur, ub, sizeof ub), x->status);
		if (x->status == 200)
			return x->done && x->result != CURLE_OK ? transport_error(x, what, e) : 0;
		if (x->status >= 300 && x->status < 400 && x->status != 304) {
			char *to = NULL;
			(void)curl_easy_getinfo(x->cn->h, CURLINFO_REDIRECT_URL, &to);
			if (++hops > MAX_HOPS)
				return kb_errx(e, ELOOP, "%s: GET %s: more than %d redirects", what, url_msg(cur, ub, sizeof ub),
					       MAX_HOPS);
			if ((r = check_redirect(c, x, to, what, e)) < 0)
				return r;
			free(cur);
			cur = xstrdup(to);
			url = cur;    /* now an absolute URL */
			continue;
		}
		if (x->status == 401 && own && !authed) {
			authed = true;
			_cleanup_free_ char *ch = x->www_auth ? xstrdup(x->www_auth) : NULL;
			xfer_reset(x);
			if ((r = authenticate(c, x->cn, ch, e)) < 0) {
				kb_err_prefix(e, "%s", what);
				return r;
			}
			continue;
		}
		if ((x->status == 429 || (x->status >= 502 && x->status <= 504)) && busy < MAX_BUSY) {
			wait_busy(x, busy++, what);
			continue;
		}
		return http_error(x, what, e);
	}
}

/* ---- the client ---- */

static void share_lock(CURL *h, curl_lock_data d, curl_lock_access a, void *arg)
{
	(void)h, (void)a;
	pthread_mutex_lock(&((reg_client *)arg)->share_lock[d]);
}

static void share_unlock(CURL *h, curl_lock_data d, void *arg)
{
	(void)h;
	pthread_mutex_unlock(&((reg_client *)arg)->share_lock[d]);
}

void reg_close(reg_client *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->n_conns; i++) {
		if (c->conns[i].h)
			curl_easy_cleanup(c->conns[i].h);
		if (c->conns[i].m)
			curl_multi_cleanup(c->conns[i].m);
	}
	free(c->conns);
	if (c->share)
		curl_share_cleanup(c->share);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&c->share_lock[i]);
	for (size_t i = 0; i < c->n_cas; i++) {
		free(c->cas[i].host);
		if (c->cas[i].fd >= 0)
			close(c->cas[i].fd);
	}
	free(c->cas);
	if (c->auth)
		explicit_bzero(c->auth, strlen(c->auth));
	free(c->auth);
	creds_clear(&c->creds);
	pthread_mutex_destroy(&c->lock);
	free(c->host);
	free(c->repo);
	free(c->base);
	free(c);
}

int reg_open(const char *host, const char *repo, const char *creds_for, const reg_opts *o, reg_client **ret,
	     kb_error *e)
{
	_cleanup_(reg_closep) reg_client *c = calloc(1, sizeof *c);
	if (!c)
		return kb_err_oom(e, host);
	pthread_mutex_init(&c->lock, NULL);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&c->share_lock[i], NULL);
	c->o = o;
	c->host = xstrdup(host);
	c->repo = xstrdup(repo);
	c->base = xasprintf("https://%s", host);
	c->may_http = host_is_loopback(host) || host_insecure(c, host);
	c->n_conns = o->workers > 0 ? o->workers : 1;
	if (!(c->conns = calloc((size_t)c->n_conns, sizeof *c->conns)) || !(c->share = curl_share_init()))
		return kb_err_oom(e, host);
	/* DNS answers and TLS sessions are shared between the workers'
	 * connections; connections themselves are not (libcurl's rule). */
	curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	int r = creds_find(creds_for, repo, &c->creds, e);
	if (r < 0)
		return r;
	if (c->creds.user)
		out_verbose("pull: credentials for %s from %s", creds_for, c->creds.file);
	*ret = steal_ptr(c);
	return 0;
}

static int get_whole(reg_client *c, int w, const char *path, const char *accept, size_t max, const char *what,
		     xfer *x, kb_error *e)
{
	conn *cn = conn_get(c, w, e);
	*x = (xfer){ .c = c, .cn = cn, .max = max };
	if (!cn)
		return -ENOMEM;
	return request(c, x, path, accept, false, what, e);
}

int reg_get_manifest(reg_client *c, const char *ref, size_t max, char **ret, size_t *ret_len, char **ret_type,
		     kb_digest *ret_digest, kb_error *e)
{
	_cleanup_free_ char *path = xasprintf("/v2/%s/manifests/%s", c->repo, ref);
	_cleanup_free_ char *what = xasprintf("%s/%s:%s", c->host, c->repo, ref);
	xfer x;
	kb_digest got;
	kb_error de = { 0 };
	int r = get_whole(c, 0, path, ACCEPT_MANIFESTS, max, what, &x, e);

	if (r == 0) {
		sha256_buf(x.buf ? x.buf : "", x.len, &got);
		kb_digest want;
		if (!strncmp(ref, "sha256:", 7) && strcmp(ref + 7, got.hex))
			r = kb_errx(e, EINVAL, "%s: digest mismatch (got sha256:%s)", what, got.hex);
		else if (x.dcd && digest_parse(x.dcd, &want, &de) == 0 && strcmp(want.hex, got.hex))
			r = kb_errx(e, EINVAL, "%s: the registry says its digest is sha256:%.12s…, but it is sha256:%.12s…",
				    what, want.hex, got.hex);
	}
	if (r == 0) {
		*ret = x.buf ? steal_ptr(x.buf) : xstrdup("");
		*ret_len = x.len;
		*ret_type = x.ctype ? xstrdup(x.ctype) : NULL;
		*ret_digest = got;
	}
	xfer_free(&x);
	return r;
}

int reg_get_doc(reg_client *c, int w, blob_kind kind, const kb_digest *d, uint64_t size, size_t max, char **ret,
		size_t *ret_len, kb_error *e)
{
	_cleanup_free_ char *path = xasprintf("/v2/%s/%s/sha256:%s", c->repo, kind == BLOB_MANIFEST ? "manifests" : "blobs",
					      d->hex);
	char what[64];
	snprintf(what, sizeof what, "%s sha256:%.12s", kind == BLOB_MANIFEST ? "manifest" : "config", d->hex);
	if (size != UINT64_MAX && size > max)
		return kb_errx(e, EFBIG, "%s: %llu bytes, more than the %zu allowed", what, (unsigned long long)size, max);
	xfer x;
	kb_digest got;
	int r = get_whole(c, w, path, kind == BLOB_MANIFEST ? ACCEPT_MANIFESTS : NULL, max, what, &x, e);
	if (r == 0 && size != UINT64_MAX && x.len != size)
		r = kb_errx(e, EINVAL, "%s: size mismatch (expected %llu, got %zu)", what, (unsigned long long)size, x.len);
	if (r == 0) {
		sha256_buf(x.buf ? x.buf : "", x.len, &got);
		if (strcmp(got.hex, d->hex))
			r = kb_errx(e, EINVAL, "%s: digest mismatch (expected sha256:%s, got sha256:%s)", what, d->hex, got.hex);
	}
	if (r == 0) {
		*ret = x.buf ? steal_ptr(x.buf) : xstrdup("");
		*ret_len = x.len;
	}
	xfer_free(&x);
	return r;
}

/* ---- layer streams ---- */

int reg_stream_open(reg_client *c, int w, const kb_digest *d, uint64_t size, const char *label, reg_stream **ret,
		    kb_error *e)
{
	_cleanup_free_ char *path = xasprintf("/v2/%s/blobs/sha256:%s", c->repo, d->hex);
	conn *cn = conn_get(c, w, e);
	reg_stream *s = cn ? calloc(1, sizeof *s) : NULL;
	if (!s)
		return cn ? kb_err_oom(e, label) : -ENOMEM;
	snprintf(s->label, sizeof s->label, "%s", label);
	s->x = (xfer){ .c = c, .cn = cn, .stream = true, .expect = size, .max = ERR_BODY_MAX };
	int r = request(c, &s->x, path, NULL, false, label, e);
	curl_off_t cl = -1;
	if (r == 0)
		(void)curl_easy_getinfo(cn->h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
	if (r == 0 && cl >= 0 && (uint64_t)cl != size)
		r = kb_errx(e, EINVAL, "%s: size mismatch (the manifest says %llu bytes, the registry sends %lld)", label,
			    (unsigned long long)size, (long long)cl);
	if (r < 0) {
		xfer_free(&s->x);
		free(s);
		return r;
	}
	*ret = s;
	return 0;
}

ssize_t reg_stream_read(void *arg, void *buf, size_t n, kb_error *e)
{
	reg_stream *s = arg;
	xfer *x = &s->x;
	if (x->pend_len > x->pend_off) {
		size_t k = x->pend_len - x->pend_off < n ? x->pend_len - x->pend_off : n;
		memcpy(buf, x->pend + x->pend_off, k);
		x->pend_off += k;
		if (x->paused && x->pend_len - x->pend_off < PEND_HIGH / 2) {
			x->paused = false;
			(void)curl_easy_pause(x->cn->h, CURLPAUSE_CONT);
		}
		return (ssize_t)k;
	}
	/* Nothing kept: let curl write straight into buf. */
	x->dst = buf;
	x->dst_cap = n;
	x->dst_len = 0;
	if (x->paused) {
		x->paused = false;
		(void)curl_easy_pause(x->cn->h, CURLPAUSE_CONT);
	}
	int r = 0;
	while (x->dst_len == 0 && !x->done && r == 0) {
		if ((r = pump(x, e)) == 0 && x->dst_len == 0 && !x->done)
			(void)curl_multi_poll(x->cn->m, NULL, 0, 1000, NULL);
	}
	size_t got = x->dst_len;
	x->dst = NULL;
	x->dst_cap = x->dst_len = 0;
	if (r < 0)
		return r;
	if (got == 0 && x->pend_len > x->pend_off)
		return reg_stream_read(arg, buf, n, e);
	if (got == 0 && x->done && (x->result != CURLE_OK || x->overflow))
		return transport_error(x, s->label, e);
	return (ssize_t)got;    /* 0 at a clean end: short, and zstream says so */
}

int reg_stream_close(reg_stream *s, bool ok, kb_error *e)
{
	int r = 0;
	if (!s)
		return 0;
	xfer *x = &s->x;
	/* Its size was read: the transfer must end here, with nothing more. */
	while (ok && r == 0 && !x->done) {
		if ((r = pump(x, e)) == 0 && !x->done)
			(void)curl_multi_poll(x->cn->m, NULL, 0, 1000, NULL);
		if (x->pend_len > x->pend_off)
			x->overflow = true;
		if (x->overflow)
			break;
	}
	if (ok && r == 0 && (x->result != CURLE_OK || x->overflow || x->pend_len > x->pend_off))
		r = transport_error(x, s->label, e);
	xfer_free(x);
	free(s);
	return r;
}
