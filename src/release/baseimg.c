/* Base images by Docker name and platform (baseimg.h). */
#include "release/baseimg.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

/* Does the first component of a name say where its registry is? */
static bool has_domain(const char *s, size_t n)
{
	return memchr(s, '.', n) || memchr(s, ':', n) || (n == 9 && !strncmp(s, "localhost", 9));
}

char *docker_ref_full(const char *ref)
{
	_cleanup_free_ char *norm = oci_name_normalize(ref);    /* trims; checks the characters; adds :latest */
	if (!norm)
		return NULL;
	const char *at = strchr(norm, '@');
	if (at && (strncmp(at + 1, "sha256:", 7) || !digest_hex_valid(at + 8)))
		return NULL;
	if (at && at > norm && at[-1] == ':')
		return NULL;
	/* oci_name_normalize added ":latest" after a digest reference too?
	 * No: it leaves names with "@" alone. */
	const char *slash = strchr(norm, '/');
	size_t first = slash && (!at || slash < at) ? (size_t)(slash - norm) : 0;
	if (first && has_domain(norm, first)) {
		if ((first == 9 && !strncmp(norm, "docker.io", 9)) || (first == 15 && !strncmp(norm, "index.docker.io", 15))) {
			const char *rest = norm + first + 1;
			const char *rs = strchr(rest, '/');
			return xasprintf("docker.io/%s%s", rs && (!at || rs < at) ? "" : "library/", rest);
		}
		return steal_ptr(norm);
	}
	return xasprintf("docker.io/%s%s", first ? "" : "library/", norm);
}

char *docker_ref_familiar(const char *ref)
{
	_cleanup_free_ char *full = docker_ref_full(ref);
	if (!full)
		return NULL;
	if (!strncmp(full, "docker.io/library/", 18))
		return xstrdup(full + 18);
	if (!strncmp(full, "docker.io/", 10))
		return xstrdup(full + 10);
	return steal_ptr(full);
}

const char *docker_ref_tag(const char *full)
{
	if (strchr(full, '@'))
		return "";
	const char *slash = strrchr(full, '/');
	const char *colon = strrchr(slash ? slash : full, ':');
	return colon ? colon + 1 : "latest";
}

/* Does record r carry the name full (a fully qualified reference)? */
static bool rec_named(const image_rec *r, const char *full)
{
	const char *at = strchr(full, '@');
	for (size_t i = 0; i < r->n_names; i++) {
		_cleanup_free_ char *n = docker_ref_full(r->names[i]);
		if (!n)
			continue;
		if (!at && !strcmp(n, full))
			return true;
		if (at) {
			/* NAME@sha256:D: the repository matches and D is r's manifest. */
			const char *tagpos = strrchr(n, ':');
			const char *slash = strrchr(n, '/');
			size_t repo = tagpos && (!slash || tagpos > slash) ? (size_t)(tagpos - n) : strlen(n);
			if (repo == (size_t)(at - full) && !strncmp(n, full, repo) && r->has_manifest &&
			    !strcmp(r->manifest.hex, at + 8))
				return true;
		}
	}
	return false;
}

static int pick(image_rec **l, size_t n, const char *ref, const kb_platform *want, image_rec **ret, kb_error *e)
{
	kb_platform host;
	char avail[256] = "", pb[96];
	size_t named = 0, hits = 0, hit = 0;

	platform_host(&host);
	for (size_t i = 0; i < n; i++) {
		size_t al = strlen(avail);
		snprintf(avail + al, sizeof avail - al, "%s%s", al ? ", " : "", platform_str(&l[i]->platform, pb, sizeof pb));
		named++;
		if (want ? platform_match(want, &l[i]->platform) : platform_match(&host, &l[i]->platform)) {
			hits++;
			hit = i;
		}
	}
	if (!want && hits == 0 && named == 1)
		hits = 1, hit = 0;    /* not the host's platform, but the only one there is */
	if (hits == 1) {
		*ret = l[hit];
		l[hit] = NULL;
		return 0;
	}
	if (hits > 1)
		return kb_errx(e, EINVAL, "base image %s: ambiguous: the store has it for %s", ref, avail);
	return kb_errx(e, ENOENT, "base image %s: not in the store for %s (it has %s); import that platform's "
		       "archive: kbuild-ns image import ARCHIVE --platform %s --name %s",
		       ref, platform_str(want ? want : &host, pb, sizeof pb), avail, pb, ref);
}

int baseimg_find(kb_store *s, const char *ref, const kb_platform *want, image_rec **ret, kb_error *e)
{
	_cleanup_free_ char *full = docker_ref_full(ref);
	image_rec **l = NULL, **named = NULL;
	size_t n = 0, nn = 0;
	int r;

	if (!full)
		return kb_errx(e, EINVAL, "base image \"%s\": not an image name", ref);
	if ((r = image_list(s, &l, &n, e)) < 0)
		return r;
	if (!(named = calloc(n + 1, sizeof *named))) {
		image_list_free(l, n);
		return kb_err_oom(e, "base image");
	}
	for (size_t i = 0; i < n; i++)
		if (rec_named(l[i], full)) {
			named[nn++] = l[i];
			l[i] = NULL;
		}
	image_list_free(l, n);
	if (nn == 0) {
		char pb[96] = "";
		if (want)
			platform_str(want, pb, sizeof pb);
		r = kb_errx(e, ENOENT, "base image %s: not in the store; import it: kbuild-ns image import ARCHIVE%s%s --name %s",
			    ref, want ? " --platform " : "", pb, ref);
	} else {
		r = pick(named, nn, ref, want, ret, e);
	}
	image_list_free(named, nn);
	return r;
}

const layer_rec *baseimg_missing_blob(kb_store *s, const image_rec *r)
{
	for (size_t i = 0; i < r->n_layers; i++)
		if (faccessat(s->blobs_fd, r->layers[i].digest.hex, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
			return &r->layers[i];
	return NULL;
}
