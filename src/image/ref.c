/* Image references (ref.h), normalised as Docker's ParseNormalizedNamed
 * does, with the grammar of its reference package (names, tags, sha256
 * digests only). */
#include "image/ref.h"
#include "image/image.h"    /* oci_name_normalize */

#include <ctype.h>
#include <errno.h>
#include <string.h>

void ref_clear(image_ref *r)
{
	free(r->domain);
	free(r->path);
	free(r->tag);
	memset(r, 0, sizeof *r);
}

static bool alnum_lower(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

/* One path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* */
static bool path_component_valid(const char *s, size_t n)
{
	size_t i = 0;
	if (n == 0 || !alnum_lower(s[0]) || !alnum_lower(s[n - 1]))
		return false;
	while (i < n) {
		if (alnum_lower(s[i])) {
			i++;
			continue;
		}
		size_t k = i;
		while (k < n && (s[k] == '.' || s[k] == '_' || s[k] == '-'))
			k++;
		size_t run = k - i;
		if (run == 0)
			return false;    /* neither a letter, a digit nor a separator */
		bool dashes = strspn(s + i, "-") >= run;
		if (!(run == 1 || (run == 2 && s[i] == '_' && s[i + 1] == '_') || dashes))
			return false;
		i = k;
	}
	return true;
}

/* host[:port], a host being dot-separated labels or a bracketed IPv6
 * address. */
static bool domain_valid(const char *s)
{
	const char *port = NULL;
	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (!end || end == s + 1 || strspn(s + 1, "0123456789abcdefABCDEF:") != (size_t)(end - s - 1))
			return false;
		port = end[1] == ':' ? end + 2 : NULL;
		if (end[1] && !port)
			return false;
	} else {
		const char *colon = strchr(s, ':');
		size_t hl = colon ? (size_t)(colon - s) : strlen(s);
		port = colon ? colon + 1 : NULL;
		for (size_t i = 0, start = 0; i <= hl; i++) {
			if (i < hl && s[i] != '.') {
				if (!isalnum((unsigned char)s[i]) && s[i] != '-')
					return false;
				continue;
			}
			if (i == start || s[start] == '-' || s[i - 1] == '-')
				return false;
			start = i + 1;
		}
	}
	if (port && (!*port || strspn(port, "0123456789") != strlen(port) || strlen(port) > 5))
		return false;
	return true;
}

static bool tag_valid(const char *t)
{
	size_t n = strlen(t);
	if (n == 0 || n > 128 || !(isalnum((unsigned char)t[0]) || t[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(isalnum((unsigned char)t[i]) || t[i] == '_' || t[i] == '.' || t[i] == '-'))
			return false;
	return true;
}

static bool path_valid(const char *p)
{
	for (const char *c = p;;) {
		const char *slash = strchr(c, '/');
		size_t n = slash ? (size_t)(slash - c) : strlen(c);
		if (!path_component_valid(c, n))
			return false;
		if (!slash)
			return true;
		c = slash + 1;
	}
}

/* Split "name[:tag][@digest]" into its parts, name still with its domain. */
static int split_ref(char *s, const char *orig, char **tag, image_ref *r, kb_error *e)
{
	char *at = strchr(s, '@');
	if (at) {
		*at = 0;
		if (digest_parse(at + 1, &r->digest, e) < 0) {
			kb_err_prefix(e, "image reference %s", orig);
			return -EINVAL;
		}
		r->has_digest = true;
	}
	char *slash = strrchr(s, '/'), *colon = strrchr(slash ? slash : s, ':');
	*tag = NULL;
	if (colon) {
		*colon = 0;
		if (!tag_valid(colon + 1))
			return kb_errx(e, EINVAL, "image reference %s: tag \"%.130s\" is not valid", orig, colon + 1);
		*tag = colon + 1;
	}
	return 0;
}

int ref_parse(const char *in, image_ref *ret, kb_error *e)
{
	image_ref r = { 0 };
	char *tag;

	/* Checked on the input as typed, which may be shorter than the name
	 * it normalises to ("x" is "docker.io/library/x"), so the bound must
	 * hold the whole form: ref_name's output must parse again. */
	if (!*in || strlen(in) > REF_FULL_MAX)
		return kb_errx(e, EINVAL, "image reference \"%.80s\": empty or too long", in);
	_cleanup_free_ char *s = xstrdup(in);
	if (split_ref(s, in, &tag, &r, e) < 0)
		return -EINVAL;
	/* Docker's rule for a first component that names a registry. */
	char *slash = strchr(s, '/');
	const char *rest = s;
	if (slash) {
		*slash = 0;
		bool lower = true;
		for (char *c = s; *c; c++)
			lower = lower && !isupper((unsigned char)*c);
		if (strchr(s, '.') || strchr(s, ':') || !strcmp(s, "localhost") || !lower) {
			r.domain = xstrdup(s);
			rest = slash + 1;
		} else {
			*slash = '/';
		}
	}
	if (!r.domain || !strcmp(r.domain, "index.docker.io")) {
		free(r.domain);
		r.domain = xstrdup("docker.io");
	}
	r.path = !strcmp(r.domain, "docker.io") && !strchr(rest, '/') ? xasprintf("library/%s", rest) : xstrdup(rest);
	r.tag = tag ? xstrdup(tag) : r.has_digest ? NULL : xstrdup("latest");
	int res = 0;
	if (!domain_valid(r.domain))
		res = kb_errx(e, EINVAL, "image reference %s: \"%s\" is not a registry host[:port]", in, r.domain);
	else if (!path_valid(r.path))
		res = kb_errx(e, EINVAL, "image reference %s: repository \"%s\" is not valid (lowercase letters, digits, "
			      "and . _ __ - between them)", in, r.path);
	else if (strlen(r.domain) + 1 + strlen(r.path) > REF_MAX)
		res = kb_errx(e, EINVAL, "image reference %.80s…: name longer than %d characters", in, REF_MAX);
	if (res < 0) {
		ref_clear(&r);
		return res;
	}
	*ret = r;
	return 0;
}

char *ref_name(const image_ref *r)
{
	return xasprintf("%s/%s%s%s%s%s", r->domain, r->path, r->tag ? ":" : "", r->tag ? r->tag : "",
			 r->has_digest ? "@sha256:" : "", r->has_digest ? r->digest.hex : "");
}

const char *ref_api_host(const char *domain)
{
	return !strcmp(domain, "docker.io") ? "registry-1.docker.io" : domain;
}

bool host_is_loopback(const char *hp)
{
	char host[256];
	if (hp[0] == '[') {
		const char *end = strchr(hp, ']');
		if (!end || (size_t)(end - hp - 1) >= sizeof host)
			return false;
		memcpy(host, hp + 1, (size_t)(end - hp - 1));
		host[end - hp - 1] = 0;
		return !strcmp(host, "::1") || !strcmp(host, "0:0:0:0:0:0:0:1");
	}
	size_t n = strcspn(hp, ":");
	if (n >= sizeof host)
		return false;
	memcpy(host, hp, n);
	host[n] = 0;
	if (!strcasecmp(host, "localhost"))
		return true;
	unsigned a, b, c, d;
	char extra;
	return sscanf(host, "%u.%u.%u.%u%c", &a, &b, &c, &d, &extra) == 4 && a == 127 && b < 256 && c < 256 &&
	       d < 256;
}

bool ref_name_matches(const char *name, const char *want)
{
	_cleanup_free_ char *n = oci_name_normalize(want);
	if (!n)
		return false;
	size_t nl = strlen(name), wl = strlen(n);
	return !strcmp(name, n) || (nl > wl && name[nl - wl - 1] == '/' && !strcmp(name + nl - wl, n));
}
