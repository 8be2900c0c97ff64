#include "digest.h"

#include <errno.h>
#include <string.h>
#include <openssl/evp.h>

struct sha256_ctx {
	EVP_MD_CTX *md;
};

bool digest_hex_valid(const char *s)
{
	size_t i;
	for (i = 0; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i == DIGEST_HEX_LEN;
}

int digest_parse(const char *s, kb_digest *ret, kb_error *e)
{
	const char *colon;

	if (!s)
		return kb_errx(e, EINVAL, "missing digest");
	colon = strchr(s, ':');
	if (!colon)
		return kb_errx(e, EINVAL, "digest \"%.80s\": no algorithm", s);
	if ((size_t)(colon - s) != 6 || strncmp(s, "sha256", 6))
		return kb_errx(e, EINVAL, "digest \"%.80s\": unsupported algorithm \"%.*s\" (only sha256)",
			       s, (int)(colon - s) > 16 ? 16 : (int)(colon - s), s);
	if (!digest_hex_valid(colon + 1))
		return kb_errx(e, EINVAL, "digest \"%.80s\": not 64 lowercase hex digits", s);
	memcpy(ret->hex, colon + 1, DIGEST_HEX_LEN + 1);
	return 0;
}

const char *digest_short(const kb_digest *d, char buf[static 24])
{
	snprintf(buf, 24, "sha256:%.12s", d->hex);
	return buf;
}

sha256_ctx *sha256_new(void)
{
	sha256_ctx *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->md = EVP_MD_CTX_new();
	if (!c->md || EVP_DigestInit_ex(c->md, EVP_sha256(), NULL) != 1) {
		sha256_free(c);
		return NULL;
	}
	return c;
}

void sha256_update(sha256_ctx *c, const void *p, size_t n)
{
	if (n)
		EVP_DigestUpdate(c->md, p, n);
}

void sha256_final(sha256_ctx *c, kb_digest *ret)
{
	unsigned char md[32];
	unsigned int len = 0;
	static const char hx[] = "0123456789abcdef";

	EVP_DigestFinal_ex(c->md, md, &len);
	for (unsigned i = 0; i < 32; i++) {
		ret->hex[2 * i] = hx[md[i] >> 4];
		ret->hex[2 * i + 1] = hx[md[i] & 15];
	}
	ret->hex[64] = 0;
}

void sha256_free(sha256_ctx *c)
{
	if (!c)
		return;
	EVP_MD_CTX_free(c->md);
	free(c);
}

void sha256_buf(const void *p, size_t n, kb_digest *ret)
{
	sha256_ctx *c = sha256_new();
	if (!c)
		abort();
	sha256_update(c, p, n);
	sha256_final(c, ret);
	sha256_free(c);
}
