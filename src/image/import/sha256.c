/* SHA-256 through OpenSSL, which uses the CPU's SHA extensions: a
 * quarter of an import's time goes to hashing.  Only `image import`
 * (kbuild-ns-image) links it; digest.c, which every command uses, needs
 * no crypto library. */
#include "image/import/sha256.h"
#include "base/digest.h"

#include <openssl/evp.h>

struct sha256_ctx {
	EVP_MD_CTX *md;
};

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
