/* Registry credentials from Docker's and containers' auth files
 * (auth.h). */
#include "image/pull/auth.h"
#include "base/progress.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <string.h>

#define MAX_AUTH_FILE (1u << 20)

void creds_clear(reg_creds *c)
{
	/* Wipe, not only free: a core dump should not show them. */
	if (c->pass)
		explicit_bzero(c->pass, strlen(c->pass));
	free(c->user);
	free(c->pass);
	free(c->file);
	memset(c, 0, sizeof *c);
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *base64_encode(const void *data, size_t len)
{
	const unsigned char *p = data;
	char *out = malloc(4 * ((len + 2) / 3) + 1), *o = out;
	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (i + 1 < len ? (unsigned)p[i + 1] << 8 : 0) |
			     (i + 2 < len ? p[i + 2] : 0);
		*o++ = B64[v >> 18 & 63];
		*o++ = B64[v >> 12 & 63];
		*o++ = i + 1 < len ? B64[v >> 6 & 63] : '=';
		*o++ = i + 2 < len ? B64[v & 63] : '=';
	}
	*o = 0;
	return out;
}

/* Decode base64 (padding optional); NULL when it is not base64. */
static char *base64_decode(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(n + 1);
	size_t o = 0;
	unsigned v = 0;
	int bits = 0;
	if (!out)
		return NULL;
	for (size_t i = 0; i < n && s[i] != '='; i++) {
		const char *c = strchr(B64, s[i]);
		if (!c || !s[i]) {
			free(out);
			return NULL;
		}
		v = v << 6 | (unsigned)(c - B64);
		if ((bits += 6) >= 8) {
			bits -= 8;
			out[o++] = (char)(v >> bits & 0xff);
		}
	}
	out[o] = 0;
	return out;
}

/* "https://index.docker.io/v1/" and "host:port/path" alike: the key
 * without scheme and trailing slashes; Docker Hub's names as docker.io. */
static char *key_norm(const char *k)
{
	const char *s = strstr(k, "://");
	s = s ? s + 3 : k;
	char *n = xstrdup(s);
	size_t l = strlen(n);
	while (l && n[l - 1] == '/')
		n[--l] = 0;
	if (!strcmp(n, "index.docker.io/v1") || !strcmp(n, "index.docker.io") || !strcmp(n, "registry-1.docker.io") ||
	    !strcmp(n, "registry.hub.docker.com")) {
		free(n);
		n = xstrdup("docker.io");
	}
	return n;
}

/* The best entry of one file's "auths" for domain/path: the longest key
 * that is the domain or a repository prefix under it. */
static int match_file(json_t *auths, const char *domain, const char *path, const char **ret_auth,
		      bool *ret_helper_only)
{
	const char *key;
	json_t *v;
	size_t best = 0;
	_cleanup_free_ char *full = xasprintf("%s/%s", domain, path);
	*ret_auth = NULL;
	json_object_foreach(auths, key, v) {
		_cleanup_free_ char *k = key_norm(key);
		size_t kl = strlen(k);
		if (strncmp(full, k, kl) || (full[kl] && full[kl] != '/') || kl < strlen(domain))
			continue;
		const char *a = json_string_value(json_object_get(v, "auth"));
		if (!a || !*a) {
			*ret_helper_only = true;    /* an entry a credential store fills */
			continue;
		}
		if (kl > best) {
			best = kl;
			*ret_auth = a;
		}
	}
	return 0;
}

static int from_file(const char *file, const char *domain, const char *path, reg_creds *ret, kb_error *e)
{
	_cleanup_free_ char *txt = NULL;
	size_t len;
	int r = read_file_at(AT_FDCWD, file, MAX_AUTH_FILE, &txt, &len);
	if (r == -ENOENT || r == -ENOTDIR)
		return 0;
	if (r < 0)
		return kb_err(e, -r, "auth file %s", file);
	json_t *j = json_loadb(txt, len, 0, NULL);
	explicit_bzero(txt, len);
	if (!json_is_object(j)) {
		json_decref(j);
		return kb_errx(e, EINVAL, "auth file %s: not a JSON object", file);
	}
	const char *a = NULL;
	bool helper = json_object_get(j, "credsStore") || json_object_get(json_object_get(j, "credHelpers"), domain);
	match_file(json_object_get(j, "auths"), domain, path, &a, &helper);
	char *up = a ? base64_decode(a) : NULL;
	json_decref(j);
	if (a && (!up || !strchr(up, ':'))) {
		free(up);
		return kb_errx(e, EINVAL, "auth file %s: the entry for %s is not base64 of USER:PASSWORD", file, domain);
	}
	if (!up) {
		if (helper)
			out_verbose("pull: %s names a credential helper for %s; helpers are not run (see kbuild-ns.conf(5))",
				    file, domain);
		return 0;
	}
	char *colon = strchr(up, ':');
	*colon = 0;
	ret->user = xstrdup(up);
	ret->pass = xstrdup(colon + 1);
	ret->file = xstrdup(file);
	explicit_bzero(colon + 1, strlen(colon + 1));
	free(up);
	return 1;
}

int creds_find(const char *domain, const char *path, reg_creds *ret, kb_error *e)
{
	const char *env = getenv("REGISTRY_AUTH_FILE"), *run = getenv("XDG_RUNTIME_DIR");
	const char *cfg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME"), *dk = getenv("DOCKER_CONFIG");
	char *files[4] = { 0 };
	size_t n = 0;
	int r = 0;

	memset(ret, 0, sizeof *ret);
	if (env && *env) {
		files[n++] = xstrdup(env);
	} else {
		if (run && *run)
			files[n++] = xasprintf("%s/containers/auth.json", run);
		if (cfg && *cfg)
			files[n++] = xasprintf("%s/containers/auth.json", cfg);
		else if (home && *home)
			files[n++] = xasprintf("%s/.config/containers/auth.json", home);
	}
	if (dk && *dk)
		files[n++] = xasprintf("%s/config.json", dk);
	else if (home && *home)
		files[n++] = xasprintf("%s/.docker/config.json", home);
	for (size_t i = 0; i < n && r == 0; i++)
		r = from_file(files[i], domain, path, ret, e);
	for (size_t i = 0; i < n; i++)
		free(files[i]);
	return r < 0 ? r : 0;
}
