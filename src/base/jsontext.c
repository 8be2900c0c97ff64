/* Text for JSON output (jsontext.h): bytes that are not UTF-8 as \xNN. */
#include "base/jsontext.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s, or 0 when s[0] does not
 * start one (RFC 3629, section 4: the well-formed byte sequences). */
static size_t seq_len(const unsigned char *s)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;    /* a continuation byte, C0, C1, F5..FF */
	/* The second byte's range rules out overlong forms (E0, F0),
	 * surrogates (ED) and code points above U+10FFFF (F4). */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

bool utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		size_t n = seq_len(p);
		if (!n)
			return false;
		p += n;
	}
	return true;
}

char *json_text_escape(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	/* At worst every byte becomes four characters. */
	char *out = malloc(strlen(s) * 4 + 1), *q = out;

	if (!out)
		return NULL;
	while (*p) {
		size_t n = seq_len(p);
		if (n) {
			memcpy(q, p, n);
			q += n;
			p += n;
		} else {
			q += sprintf(q, "\\x%02x", *p++);
		}
	}
	*q = 0;
	return out;
}

json_t *json_text(const char *s)
{
	if (!s)
		return NULL;
	if (utf8_valid(s))
		return json_string(s);
	char *esc = json_text_escape(s);
	json_t *j = esc ? json_string(esc) : NULL;
	free(esc);
	return j;
}
