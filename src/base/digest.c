/* sha256 digest strings (digest.h): parsing and checking. */
#include "base/digest.h"

#include <errno.h>
#include <string.h>

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
