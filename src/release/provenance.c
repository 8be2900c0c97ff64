/* A release's provenance (provenance.h): the in-toto Statement with its
 * SLSA v1 predicate, the DSSE envelope, and their verification. */
#include "release/provenance.h"
#include "build/sync-file.h"
#include "image/import/sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#define MAX_RECORD (16u << 20)

struct provenance {
	json_t *subjects;            /* [{name, digest:{sha256}, annotations?}] */
	json_t *deps;                /* ResourceDescriptors, in the order added */
	json_t *external, *internal;
	char *version;
	long long started, finished;
	char invocation[40];
};

provenance *prov_new(void)
{
	provenance *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->subjects = json_array();
	p->deps = json_array();
	p->external = json_object();
	p->internal = json_object();
	/* A fresh id per run, as SLSA's invocationId asks. */
	_cleanup_close_ int fd = open("/proc/sys/kernel/random/uuid", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, p->invocation, sizeof p->invocation - 1) : -1;
	p->invocation[n > 0 ? n : 0] = 0;
	p->invocation[strcspn(p->invocation, "\n")] = 0;
	if (!p->subjects || !p->deps || !p->external || !p->internal) {
		prov_free(p);
		return NULL;
	}
	return p;
}

void prov_free(provenance *p)
{
	if (!p)
		return;
	json_decref(p->subjects);
	json_decref(p->deps);
	json_decref(p->external);
	json_decref(p->internal);
	free(p->version);
	free(p);
}

json_t *prov_external(provenance *p) { return p->external; }
json_t *prov_internal(provenance *p) { return p->internal; }

void prov_set_run(provenance *p, const char *version, long long started, long long finished)
{
	free(p->version);
	p->version = xstrdup(version);
	p->started = started;
	p->finished = finished;
}

/* A relative path that stays below its base: no "/" in front, no ".."
 * component (a record's subjects are read back from there). */
static bool path_below(const char *path)
{
	if (!path[0] || path[0] == '/')
		return false;
	for (const char *s = path; s; s = strchr(s, '/') ? strchr(s, '/') + 1 : NULL)
		if (!strncmp(s, "..", 2) && (s[2] == '/' || s[2] == 0))
			return false;
	return true;
}

/* sha256 of basefd/path, a regular file, streamed. */
static int hash_file(int basefd, const char *path, kb_digest *ret, kb_error *e)
{
	_cleanup_(sha256_freep) sha256_ctx *c = sha256_new();
	char buf[1 << 16];
	struct stat st;
	ssize_t n;

	if (!c)
		return kb_err_oom(e, path);
	/* The subject names come from the record, which verify does not
	 * trust: O_NOFOLLOW guards only the last component, so the directory
	 * is opened below basefd with no symlink on the way (sync-file.h). */
	const char *slash = strrchr(path, '/');
	_cleanup_free_ char *dir = slash ? strndup(path, (size_t)(slash - path)) : NULL;
	if (slash && !dir)
		return kb_err_oom(e, path);
	_cleanup_close_ int dfd = dir ? sfile_open_dir(basefd, dir) : -1;
	if (dir && dfd < 0)
		return kb_err(e, -dfd, "%s", path);
	_cleanup_close_ int fd = openat(dir ? dfd : basefd, slash ? slash + 1 : path,
					O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return kb_err(e, errno, "%s", path);
	if (fstat(fd, &st) < 0)
		return kb_err(e, errno, "%s", path);
	if (!S_ISREG(st.st_mode))
		return kb_errx(e, EINVAL, "%s: not a regular file", path);
	while ((n = read(fd, buf, sizeof buf)) > 0)
		sha256_update(c, buf, (size_t)n);
	if (n < 0)
		return kb_err(e, errno, "%s", path);
	sha256_final(c, ret);
	return 0;
}

int prov_add_file(provenance *p, int basefd, const char *path, const char *manifest, kb_error *e)
{
	kb_digest d;
	int r;

	if (!path_below(path))
		return kb_errx(e, EINVAL, "provenance subject %s: not a path below the checkout", path);
	if ((r = hash_file(basefd, path, &d, e)) < 0)
		return r;
	json_t *s = json_pack("{s:s, s:{s:s}}", "name", path, "digest", "sha256", d.hex);
	if (s && manifest)
		json_object_set_new(s, "annotations", json_pack("{s:s}", "kbuildns_manifestDigest", manifest));
	if (!s || json_array_append_new(p->subjects, s) < 0)
		return kb_err_oom(e, "provenance");
	return 0;
}

int prov_add_dep(provenance *p, const char *name, const char *uri, const char *kind, const char *digest,
		 const char *akey, const char *aval, kb_error *e)
{
	json_t *d = json_pack("{s:{s:s}}", "digest", kind, digest);
	if (d && name)
		json_object_set_new(d, "name", json_string(name));
	if (d && uri)
		json_object_set_new(d, "uri", json_string(uri));
	if (d && akey && aval)
		json_object_set_new(d, "annotations", json_pack("{s:s}", akey, aval));
	if (!d || json_array_append_new(p->deps, d) < 0)
		return kb_err_oom(e, "provenance");
	return 0;
}

static int by_name(const void *a, const void *b)
{
	json_t *const *x = a, *const *y = b;
	return strcmp(json_string_value(json_object_get(*x, "name")), json_string_value(json_object_get(*y, "name")));
}

/* The subjects in name order (C collation): two runs list them alike. */
static json_t *sorted_subjects(provenance *p)
{
	size_t n = json_array_size(p->subjects);
	json_t **v = calloc(n + 1, sizeof *v), *out = json_array();
	if (!v || !out) {
		free(v);
		json_decref(out);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(p->subjects, i);
	qsort(v, n, sizeof *v, by_name);
	for (size_t i = 0; i < n; i++)
		json_array_append(out, v[i]);
	free(v);
	return out;
}

static void rfc3339(long long t, char buf[32])
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

char *prov_statement(provenance *p, kb_error *e)
{
	char started[32], finished[32];
	rfc3339(p->started, started);
	rfc3339(p->finished, finished);
	json_t *subjects = sorted_subjects(p);
	json_t *st = json_pack("{s:s, s:o?, s:s, s:{s:{s:s, s:O, s:O, s:O}, s:{s:{s:s, s:{s:s?}}, s:{s:s, s:s, s:s}}}}",
			       "_type", "https://in-toto.io/Statement/v1", "subject", subjects, "predicateType",
			       "https://slsa.dev/provenance/v1", "predicate", "buildDefinition", "buildType",
			       PROV_BUILD_TYPE, "externalParameters", p->external, "internalParameters", p->internal,
			       "resolvedDependencies", p->deps, "runDetails", "builder", "id", PROV_BUILDER_ID,
			       "version", "kbuild-ns", p->version, "metadata", "invocationId", p->invocation,
			       "startedOn", started, "finishedOn", finished);
	if (!st)
		return kb_err_oom(e, "provenance"), NULL;
	char *text = json_dumps(st, JSON_SORT_KEYS | JSON_INDENT(2));
	json_decref(st);
	if (!text)
		kb_err_oom(e, "provenance");
	return text;
}

/* ---- DSSE ---- */

char *dsse_pae(const char *type, const char *body, size_t body_len, size_t *ret_len)
{
	char head[512];
	int n = snprintf(head, sizeof head, "DSSEv1 %zu %s %zu ", strlen(type), type, body_len);
	if (n < 0 || (size_t)n >= sizeof head)
		return NULL;
	char *pae = malloc((size_t)n + body_len + 1);
	if (!pae)
		return NULL;
	memcpy(pae, head, (size_t)n);
	memcpy(pae + n, body, body_len);
	pae[n + body_len] = 0;
	*ret_len = (size_t)n + body_len;
	return pae;
}

static char *b64(const unsigned char *p, size_t n)
{
	char *s = malloc(4 * ((n + 2) / 3) + 1);
	if (s)
		EVP_EncodeBlock((unsigned char *)s, p, (int)n);
	return s;
}

/* Base64 to bytes; -1 for anything that is not canonical base64. */
static ssize_t unb64(const char *s, unsigned char **ret)
{
	size_t n = strlen(s);
	if (n % 4 || n > MAX_RECORD)
		return -1;
	unsigned char *out = malloc(n / 4 * 3 + 1);
	if (!out)
		return -1;
	int m = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
	if (m < 0) {
		free(out);
		return -1;
	}
	m -= (n && s[n - 1] == '=') + (n > 1 && s[n - 2] == '=');
	*ret = out;
	return m;
}

/* Ed25519 signs the message itself; ECDSA P-256 a SHA-256 of it. */
static const EVP_MD *md_for(EVP_PKEY *k)
{
	return EVP_PKEY_id(k) == EVP_PKEY_ED25519 ? NULL : EVP_sha256();
}

static bool key_usable(EVP_PKEY *k)
{
	return EVP_PKEY_id(k) == EVP_PKEY_ED25519 || EVP_PKEY_id(k) == EVP_PKEY_EC;
}

/* keyid: the sha256 of the public key's DER form. */
static void key_id(EVP_PKEY *k, kb_digest *ret)
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(k, &der);
	sha256_buf(der, n > 0 ? (size_t)n : 0, ret);
	OPENSSL_free(der);
}

static int sign_pae(const char *keyfile, const char *pae, size_t len, char **ret_sig, kb_digest *ret_id, kb_error *e)
{
	_cleanup_fclose_ FILE *f = fopen(keyfile, "re");
	if (!f)
		return kb_err(e, errno, "signing key %s", keyfile);
	EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	if (!k)
		return kb_errx(e, EINVAL, "signing key %s: not a PEM private key (unencrypted)", keyfile);
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	size_t n = 0;
	unsigned char *sig = NULL;
	int r = 0;
	if (!key_usable(k))
		r = kb_errx(e, EINVAL, "signing key %s: must be Ed25519 or ECDSA P-256", keyfile);
	else if (!c || EVP_DigestSignInit(c, NULL, md_for(k), NULL, k) != 1 ||
		 EVP_DigestSign(c, NULL, &n, (const unsigned char *)pae, len) != 1 || !(sig = malloc(n)) ||
		 EVP_DigestSign(c, sig, &n, (const unsigned char *)pae, len) != 1)
		r = kb_errx(e, EINVAL, "signing key %s: signing failed", keyfile);
	if (r == 0 && !(*ret_sig = b64(sig, n)))
		r = kb_err_oom(e, "provenance signature");
	if (r == 0)
		key_id(k, ret_id);
	free(sig);
	EVP_MD_CTX_free(c);
	EVP_PKEY_free(k);
	return r;
}

static int write_envelope(int dirfd, const char *name, const char *stmt, const char *key, kb_error *e)
{
	size_t len = 0;
	kb_digest id;
	_cleanup_free_ char *pae = dsse_pae(PROV_PAYLOAD_TYPE, stmt, strlen(stmt), &len);
	_cleanup_free_ char *payload = b64((const unsigned char *)stmt, strlen(stmt)), *sig = NULL;
	int r;

	if (!pae || !payload)
		return kb_err_oom(e, "provenance envelope");
	if ((r = sign_pae(key, pae, len, &sig, &id, e)) < 0)
		return r;
	json_t *env = json_pack("{s:s, s:s, s:[{s:s, s:s}]}", "payloadType", PROV_PAYLOAD_TYPE, "payload", payload,
				"signatures", "keyid", id.hex, "sig", sig);
	_cleanup_free_ char *text = env ? json_dumps(env, JSON_SORT_KEYS | JSON_INDENT(2)) : NULL;
	json_decref(env);
	if (!text)
		return kb_err_oom(e, "provenance envelope");
	size_t nl = strlen(name);
	_cleanup_free_ char *ename = nl > 5 && !strcmp(name + nl - 5, ".json") ? xasprintf("%.*s.dsse.json", (int)(nl - 5), name)
									    : xasprintf("%s.dsse.json", name);
	if ((r = write_file_atomic(dirfd, ename, text, strlen(text))) < 0)
		return kb_err(e, -r, "%s", ename);
	return 0;
}

int prov_write(provenance *p, int dirfd, const char *name, const char *key, kb_error *e)
{
	_cleanup_free_ char *stmt = prov_statement(p, e);
	int r;
	if (!stmt)
		return -ENOMEM;
	if ((r = write_file_atomic(dirfd, name, stmt, strlen(stmt))) < 0)
		return kb_err(e, -r, "%s", name);
	return key ? write_envelope(dirfd, name, stmt, key, e) : 0;
}

/* ---- verify ---- */

/* The envelope's signatures: one must verify with pubkey over the PAE. */
static int check_signature(json_t *env, const unsigned char *payload, size_t len, const char *pubkey, kb_error *e)
{
	_cleanup_fclose_ FILE *f = fopen(pubkey, "re");
	json_t *s;
	size_t i;
	bool good = false;

	if (!f)
		return kb_err(e, errno, "public key %s", pubkey);
	EVP_PKEY *k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	if (!k || !key_usable(k)) {
		EVP_PKEY_free(k);
		return kb_errx(e, EINVAL, "public key %s: not a PEM Ed25519 or ECDSA public key", pubkey);
	}
	size_t plen = 0;
	_cleanup_free_ char *pae = dsse_pae(PROV_PAYLOAD_TYPE, (const char *)payload, len, &plen);
	json_array_foreach(json_object_get(env, "signatures"), i, s) {
		unsigned char *sig = NULL;
		const char *b = json_string_value(json_object_get(s, "sig"));
		ssize_t n = b ? unb64(b, &sig) : -1;
		EVP_MD_CTX *c = EVP_MD_CTX_new();
		if (pae && n > 0 && c && EVP_DigestVerifyInit(c, NULL, md_for(k), NULL, k) == 1 &&
		    EVP_DigestVerify(c, sig, (size_t)n, (const unsigned char *)pae, plen) == 1)
			good = true;
		EVP_MD_CTX_free(c);
		free(sig);
	}
	EVP_PKEY_free(k);
	return good ? 0 : kb_errx(e, EPERM, "no signature verifies with %s", pubkey);
}

/* The statement a record holds: the file itself, or a DSSE envelope's
 * payload (checked against pubkey when one is given). */
static json_t *load_statement(const char *path, const char *pubkey, kb_error *e)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r = read_file_at(AT_FDCWD, path, MAX_RECORD, &text, &len);
	if (r < 0)
		return kb_err(e, -r, "%s", path), NULL;
	json_t *j = json_loadb(text, len, 0, NULL);
	if (!json_is_object(j)) {
		json_decref(j);
		return kb_errx(e, EINVAL, "%s: not a JSON object", path), NULL;
	}
	if (!json_object_get(j, "payloadType")) {
		if (pubkey) {
			json_decref(j);
			return kb_errx(e, EPERM, "%s: not signed (a plain statement, not a DSSE envelope)", path), NULL;
		}
		return j;
	}
	unsigned char *payload = NULL;
	const char *type = json_string_value(json_object_get(j, "payloadType"));
	const char *b = json_string_value(json_object_get(j, "payload"));
	ssize_t n = b ? unb64(b, &payload) : -1;
	json_t *st = NULL;
	if (!type || strcmp(type, PROV_PAYLOAD_TYPE) || n < 0)
		kb_errx(e, EINVAL, "%s: not an in-toto DSSE envelope", path);
	else if (!pubkey || check_signature(j, payload, (size_t)n, pubkey, e) == 0)
		if (!(st = json_loadb((const char *)payload, (size_t)n, 0, NULL)))
			kb_errx(e, EINVAL, "%s: the envelope's payload is not JSON", path);
	free(payload);
	json_decref(j);
	return st;
}

/* The statement's form: what every consumer of the record relies on. */
static int check_form(json_t *st, const char *path, kb_error *e)
{
	json_t *s, *pred = json_object_get(st, "predicate");
	size_t i;
	if (strcmp(json_string_value(json_object_get(st, "_type")) ?: "", "https://in-toto.io/Statement/v1") ||
	    strcmp(json_string_value(json_object_get(st, "predicateType")) ?: "", "https://slsa.dev/provenance/v1"))
		return kb_errx(e, EINVAL, "%s: not an in-toto Statement v1 with a SLSA provenance v1 predicate", path);
	if (!json_is_string(json_object_get(json_object_get(pred, "buildDefinition"), "buildType")) ||
	    !json_is_string(json_object_get(json_object_get(json_object_get(pred, "runDetails"), "builder"), "id")))
		return kb_errx(e, EINVAL, "%s: the predicate lacks buildDefinition.buildType or runDetails.builder.id", path);
	if (!json_is_array(json_object_get(st, "subject")) || json_array_size(json_object_get(st, "subject")) == 0)
		return kb_errx(e, EINVAL, "%s: no subjects", path);
	json_array_foreach(json_object_get(st, "subject"), i, s) {
		const char *h = json_string_value(json_object_get(json_object_get(s, "digest"), "sha256"));
		if (!json_is_string(json_object_get(s, "name")) || !h || !digest_hex_valid(h))
			return kb_errx(e, EINVAL, "%s: subject %zu: needs a name and a sha256 digest", path, i);
	}
	return 0;
}

static void mismatch(prov_mismatch *ret, size_t max, size_t *n, const char *name, const char *why)
{
	if (*n < max) {
		snprintf(ret[*n].name, sizeof ret[*n].name, "%s", name);
		snprintf(ret[*n].why, sizeof ret[*n].why, "%.159s", why);
	}
	(*n)++;
}

int prov_verify(const char *path, int basefd, const char *pubkey, prov_mismatch *ret, size_t max, size_t *ret_n,
		kb_error *e)
{
	json_t *st = load_statement(path, pubkey, e), *s;
	size_t i;
	int r;

	*ret_n = 0;
	if (!st)
		return -EINVAL;
	if ((r = check_form(st, path, e)) < 0) {
		json_decref(st);
		return r;
	}
	json_array_foreach(json_object_get(st, "subject"), i, s) {
		const char *name = json_string_value(json_object_get(s, "name"));
		const char *want = json_string_value(json_object_get(json_object_get(s, "digest"), "sha256"));
		kb_digest got;
		kb_error fe = { 0 };
		char why[160];
		if (!path_below(name)) {
			mismatch(ret, max, ret_n, name, "not a path below the base directory");
		} else if (hash_file(basefd, name, &got, &fe) < 0) {
			mismatch(ret, max, ret_n, name, fe.errnum == ENOENT ? "missing" : fe.msg);
		} else if (strcmp(got.hex, want)) {
			snprintf(why, sizeof why, "sha256 %.12s…, recorded %.12s…", got.hex, want);
			mismatch(ret, max, ret_n, name, why);
		}
	}
	json_decref(st);
	return 0;
}
