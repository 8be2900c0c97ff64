/* MD5 as RFC 1321 describes it (section 3): 64-byte blocks, four rounds
 * of sixteen steps over four 32-bit words, little-endian throughout. */
#include "base/md5.h"

#include <string.h>

/* K[i] = floor(2^32 * |sin(i + 1)|), RFC 1321 section 3.4 ("T[i]"). */
static const uint32_t K[64] = {
	0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
	0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
	0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
	0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
	0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
	0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
	0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
	0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};

/* Left rotations, four per round. */
static const unsigned char S[4][4] = { { 7, 12, 17, 22 }, { 5, 9, 14, 20 }, { 4, 11, 16, 23 }, { 6, 10, 15, 21 } };

static uint32_t rotl(uint32_t x, unsigned n) { return (x << n) | (x >> (32 - n)); }

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void block(uint32_t h[4], const unsigned char *p)
{
	uint32_t m[16], a = h[0], b = h[1], c = h[2], d = h[3];

	for (int i = 0; i < 16; i++)
		m[i] = le32(p + 4 * i);
	for (unsigned i = 0; i < 64; i++) {
		uint32_t f;
		unsigned g, round = i / 16;
		switch (round) {
		case 0: f = (b & c) | (~b & d); g = i; break;                 /* F */
		case 1: f = (b & d) | (c & ~d); g = (5 * i + 1) % 16; break;  /* G */
		case 2: f = b ^ c ^ d;          g = (3 * i + 5) % 16; break;  /* H */
		default: f = c ^ (b | ~d);      g = (7 * i) % 16; break;      /* I */
		}
		uint32_t t = d;
		d = c;
		c = b;
		b = b + rotl(a + f + K[i] + m[g], S[round][i % 4]);
		a = t;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
}

void md5_init(md5_ctx *c)
{
	/* RFC 1321 section 3.3, the words A, B, C, D. */
	c->h[0] = 0x67452301;
	c->h[1] = 0xefcdab89;
	c->h[2] = 0x98badcfe;
	c->h[3] = 0x10325476;
	c->len = 0;
}

void md5_update(md5_ctx *c, const void *data, size_t n)
{
	const unsigned char *p = data;
	size_t have = (size_t)(c->len % 64);

	c->len += n;
	if (have) {
		size_t take = 64 - have < n ? 64 - have : n;
		memcpy(c->buf + have, p, take);
		p += take;
		n -= take;
		if (have + take < 64)
			return;
		block(c->h, c->buf);
	}
	for (; n >= 64; p += 64, n -= 64)
		block(c->h, p);
	memcpy(c->buf, p, n);
}

void md5_final(md5_ctx *c, unsigned char out[MD5_LEN])
{
	/* Section 3.1-3.2: a 1 bit, zeros up to 56 bytes mod 64, then the
	 * length in bits as a 64-bit little-endian number. */
	static const unsigned char pad[64] = { 0x80 };
	unsigned char bits[8];
	uint64_t nbits = c->len * 8;
	size_t have = (size_t)(c->len % 64);

	for (int i = 0; i < 8; i++)
		bits[i] = (unsigned char)(nbits >> (8 * i));
	md5_update(c, pad, have < 56 ? 56 - have : 120 - have);
	md5_update(c, bits, 8);
	for (int i = 0; i < 16; i++)
		out[i] = (unsigned char)(c->h[i / 4] >> (8 * (i % 4)));
}

void md5_buf(const void *p, size_t n, unsigned char out[MD5_LEN])
{
	md5_ctx c;
	md5_init(&c);
	md5_update(&c, p, n);
	md5_final(&c, out);
}
