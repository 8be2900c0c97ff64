/* OS/architecture/variant (platform.h): parsing, matching, the host's. */
#include "image/platform.h"

#include <errno.h>
#include <string.h>
#include <sys/utsname.h>

static bool token_ok(const char *s, size_t n)
{
	if (n == 0 || n >= 32)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

int platform_parse(const char *s, kb_platform *ret, kb_error *e)
{
	kb_platform p = { 0 };
	const char *a = strchr(s, '/');
	const char *v = a ? strchr(a + 1, '/') : NULL;

	if (!a || !token_ok(s, (size_t)(a - s)) ||
	    !token_ok(a + 1, v ? (size_t)(v - a - 1) : strlen(a + 1)) ||
	    (v && !token_ok(v + 1, strlen(v + 1))))
		return kb_errx(e, EINVAL, "platform \"%.64s\": expected OS/ARCH or OS/ARCH/VARIANT (e.g. linux/amd64)", s);
	memcpy(p.os, s, (size_t)(a - s));
	memcpy(p.arch, a + 1, v ? (size_t)(v - a - 1) : strlen(a + 1));
	if (v)
		strcpy(p.variant, v + 1);
	*ret = p;
	return 0;
}

const char *platform_goarch(const char *m, const char **ret_variant)
{
	static const struct { const char *uname, *goarch, *variant; } map[] = {
		{ "x86_64", "amd64", "" },   { "aarch64", "arm64", "v8" }, { "arm64", "arm64", "v8" },
		{ "armv7l", "arm", "v7" },   { "armv6l", "arm", "v6" },    { "i686", "386", "" },
		{ "i386", "386", "" },       { "ppc64le", "ppc64le", "" }, { "s390x", "s390x", "" },
		{ "riscv64", "riscv64", "" }, { "loongarch64", "loong64", "" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(map); i++)
		if (!strcmp(m, map[i].uname)) {
			if (ret_variant)
				*ret_variant = map[i].variant;
			return map[i].goarch;
		}
	if (ret_variant)
		*ret_variant = "";
	return m;
}

void platform_host(kb_platform *ret)
{
	struct utsname u;
	const char *variant = "";

	memset(ret, 0, sizeof *ret);
	strcpy(ret->os, "linux");
	if (uname(&u) < 0)
		strcpy(u.machine, "unknown");
	snprintf(ret->arch, sizeof ret->arch, "%s", platform_goarch(u.machine, &variant));
	snprintf(ret->variant, sizeof ret->variant, "%s", variant);
}

static const char *norm_variant(const kb_platform *p)
{
	/* arm64 images rarely say "v8"; treat the two spellings alike. */
	if (!strcmp(p->arch, "arm64") && !p->variant[0])
		return "v8";
	return p->variant;
}

bool platform_match(const kb_platform *w, const kb_platform *c)
{
	if (strcmp(w->os, c->os) || strcmp(w->arch, c->arch))
		return false;
	const char *wv = norm_variant(w), *cv = norm_variant(c);
	return !wv[0] || !cv[0] || !strcmp(wv, cv);
}

const char *platform_str(const kb_platform *p, char *buf, size_t len)
{
	if (p->variant[0])
		snprintf(buf, len, "%s/%s/%s", p->os, p->arch, p->variant);
	else
		snprintf(buf, len, "%s/%s", p->os, p->arch);
	return buf;
}
