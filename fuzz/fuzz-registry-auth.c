/* Fuzz target: what a registry's answers and the user's auth files say
 * about authentication (image pull).  Sections (common.h): lines of
 * response headers (the text before the first "--- " line, or
 * "headers"), read as the client reads them (reg_header_value), each
 * WWW-Authenticate value taken apart as a challenge (reg_challenge_param:
 * realm, service, scope); and "auth", an auth.json (Docker's or
 * containers'), in which credentials for a few registries are looked up
 * (creds_find); "token", a token service's JSON answer (reg_token_text:
 * a token, when there is one, is 1 to 16384 printable characters without
 * spaces); and "error", a registry's JSON error body (reg_error_text:
 * what it gives fits the buffer and has no control character). */
#include "fuzz/common.h"
#include "image/pull/auth.h"
#include "image/pull/registry.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static char *scratch;
static int sfd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	scratch = fz_scratch("registry-auth");
	sfd = open(scratch, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0)
		fz_fail("%s: %s", scratch, strerror(errno));
	/* Only the file written here is read: no user's credentials. */
	char *auth = xasprintf("%s/auth.json", scratch), *dk = xasprintf("%s/no-docker", scratch);
	setenv("REGISTRY_AUTH_FILE", auth, 1);
	setenv("DOCKER_CONFIG", dk, 1);
	free(auth);
	free(dk);
	return 0;
}

static void challenge(const char *v)
{
	static const char *const params[] = { "realm", "service", "scope", "error" };
	for (size_t i = 0; i < ARRAY_SIZE(params); i++) {
		char *p = reg_challenge_param(v, params[i]);
		if (p && strlen(p) > strlen(v))
			fz_fail("challenge parameter %s longer than the challenge", params[i]);
		free(p);
	}
}

static void token(const fz_section *s)
{
	char *t = reg_token_text(s->data, s->len);
	size_t n = t ? strlen(t) : 0;
	if (t && (n == 0 || n > 16384))
		fz_fail("token of %zu characters accepted", n);
	for (size_t i = 0; i < n; i++)
		if (t[i] <= 0x20 || t[i] >= 0x7f)
			fz_fail("token with character %#x accepted", (unsigned char)t[i]);
	free(t);
}

static void error_body(const fz_section *s)
{
	char out[160];
	memset(out, 'x', sizeof out);
	reg_error_text(s->data, s->len, out, sizeof out);
	if (!memchr(out, 0, sizeof out))
		fz_fail("error text not terminated within its buffer");
	for (const char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			fz_fail("error text with control character %#x", (unsigned char)*p);
}

static void headers(const fz_section *s)
{
	static const char *const names[] = { "WWW-Authenticate", "Content-Type", "Docker-Content-Digest" };
	const char *end = s->data + s->len;
	for (const char *line = s->data; line < end;) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t n = nl ? (size_t)(nl - line) + 1 : (size_t)(end - line);
		/* curl hands header lines over as bytes with their length. */
		for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
			char *v = reg_header_value(line, n, names[i]);
			if (v && i == 0)
				challenge(v);
			free(v);
		}
		line += n;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const regs[][2] = { { "docker.io", "library/busybox" }, { "127.0.0.1:5000", "a/b" },
					       { "registry.k8s.io", "build-image/kube-cross" } };
	fz_sections ss;

	if (size > (64u << 10))
		return 0;
	(void)unlinkat(sfd, "auth.json", 0);
	fz_sections_split(data, size, 8, &ss);
	for (size_t i = 0; i < ss.n; i++) {
		const fz_section *s = &ss.v[i];
		if (!s->name[0] || !strcmp(s->name, "headers")) {
			headers(s);
			/* The section as one challenge, NUL-terminated. */
			char *c = strndup(s->data, s->len);
			if (c)
				challenge(c);
			free(c);
		} else if (!strcmp(s->name, "auth")) {
			fz_write(sfd, "auth.json", s->data, s->len);
		} else if (!strcmp(s->name, "token")) {
			token(s);
		} else if (!strcmp(s->name, "error")) {
			error_body(s);
		}
	}
	fz_sections_free(&ss);
	for (size_t i = 0; i < ARRAY_SIZE(regs); i++) {
		reg_creds c;
		kb_error e = { 0 };
		int r = creds_find(regs[i][0], regs[i][1], &c, &e);
		fz_check_error(r, &e, "creds_find");
		if (r == 0 && c.user && (!c.pass || strchr(c.user, ':')))
			fz_fail("credentials split wrong: user %s", c.user);
		if (r == 0)
			creds_clear(&c);
	}
	return 0;
}
