/* Image names (image.h): what a valid name is, and which names of the
 * store are close to a reference that finds nothing. */
#include "image/image.h"
#include "image/ref.h"
#include "base/words.h"

#include <string.h>

/* ---- valid names ---- */

/* Where the repository's path starts: after a registry host ("a.io/",
 * "localhost:5000/"), which docker recognises by a dot or a colon in the
 * first component, or by the name localhost. */
static size_t path_start(const char *s)
{
	const char *slash = strchr(s, '/');
	if (!slash)
		return 0;
	size_t n = (size_t)(slash - s);
	bool host = memchr(s, '.', n) || memchr(s, ':', n) || (n == 9 && !strncmp(s, "localhost", 9));
	return host ? n + 1 : 0;
}

/* The repository (the name without its tag or digest) has an upper-case
 * letter outside the registry host: docker refuses those ("repository name
 * must be lowercase"), and so do we, or Foo:1 and foo:1 would be two
 * images.  Tags may have upper case. */
static bool upper_in_repository(const char *s)
{
	const char *last = strrchr(s, '/');
	last = last ? last + 1 : s;
	size_t end = strcspn(last, ":@") + (size_t)(last - s);
	for (size_t i = path_start(s); i < end; i++)
		if (s[i] >= 'A' && s[i] <= 'Z')
			return true;
	return false;
}

char *oci_name_normalize_why(const char *in, const char **ret_why)
{
	const char *why = "not a valid image name";
	/* Names come from files and command lines: surrounding blanks and a
	 * trailing newline are not part of them. */
	while (*in == ' ' || *in == '\t' || *in == '\n' || *in == '\r')
		in++;
	size_t n = strlen(in);
	while (n && (in[n - 1] == ' ' || in[n - 1] == '\t' || in[n - 1] == '\n' || in[n - 1] == '\r'))
		n--;
	_cleanup_free_ char *s = strndup(in, n);
	if (ret_why)
		*ret_why = why;
	/* Docker's bounds, as ref_parse has them: the name up to REF_MAX,
	 * the whole reference with its tag and digest up to REF_FULL_MAX (a
	 * pulled image is stored under its full name). */
	if (!s || n == 0 || n > REF_FULL_MAX)
		return NULL;
	const char *base = strrchr(s, '/');
	base = base ? base + 1 : s;
	if ((size_t)(base - s) + strcspn(base, ":@") > REF_MAX)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-' || c == '/' || c == ':' || c == '@'))
			return NULL;
	}
	if (s[0] == '/' || s[0] == ':' || s[n - 1] == ':' || s[n - 1] == '/' || strstr(s, "//") || strstr(s, ".."))
		return NULL;
	if (upper_in_repository(s)) {
		if (ret_why)
			*ret_why = "repository names must be lower-case (a tag may have upper case)";
		return NULL;
	}
	const char *last = strrchr(s, '/');
	last = last ? last + 1 : s;
	if (!strchr(last, ':') && !strchr(last, '@'))
		return xasprintf("%s:latest", s);
	return steal_ptr(s);
}

char *oci_name_normalize(const char *in)
{
	return oci_name_normalize_why(in, NULL);
}

/* ---- names close to a reference ---- */

typedef struct guess {
	char *text;
	size_t rank;                 /* 0 for the same repository, else 1 + distance */
} guess;

/* Where the tag (":TAG") or digest ("@…") of a normalised name starts. */
static size_t repo_len(const char *name)
{
	const char *last = strrchr(name, '/');
	last = last ? last + 1 : name;
	return (size_t)(last - name) + strcspn(last, ":@");
}

/* The last k "/" components of name (all of it when it has fewer). */
static const char *tail(const char *name, size_t k)
{
	const char *p = name + strlen(name);
	while (p > name) {
		if (p[-1] == '/' && --k == 0)
			break;
		p--;
	}
	return p;
}

static size_t count_char(const char *s, char c)
{
	size_t n = 0;
	for (; *s; s++)
		n += *s == c;
	return n;
}

/* How close name is to the reference norm; the text to show is name's
 * last components, as many as norm has (the form the user typed). */
static bool guess_for(const char *norm, const char *name, guess *g)
{
	const char *t = tail(name, count_char(norm, '/') + 1);
	size_t rl = repo_len(norm), tl = repo_len(t);
	size_t max = strlen(norm) / 4 > 2 ? strlen(norm) / 4 : 2;

	if (rl == tl && !strncmp(norm, t, rl) && strcmp(norm, t)) {
		g->rank = 0;    /* the same repository with another tag */
	} else {
		size_t d = word_distance(norm, t, max);
		if (d > max || d == 0)
			return false;
		g->rank = 1 + d;
	}
	g->text = xstrdup(t);
	return true;
}

static int guess_cmp(const void *a, const void *b)
{
	const guess *x = a, *y = b;
	return x->rank != y->rank ? (x->rank < y->rank ? -1 : 1) : strcmp(x->text, y->text);
}

size_t image_suggest_in(image_rec **l, size_t n, const char *ref, char *buf, size_t len)
{
	_cleanup_free_ char *norm = oci_name_normalize(ref);
	_cleanup_free_ guess *g = NULL;
	size_t ng = 0, shown = 0, total = 0;

	buf[0] = 0;
	for (size_t i = 0; i < n; i++)
		total += l[i] ? l[i]->n_names : 0;
	if (!norm || !total || !(g = calloc(total, sizeof *g)))
		return 0;
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; l[i] && k < l[i]->n_names; k++) {
			bool dup = false;
			if (!guess_for(norm, l[i]->names[k], &g[ng]))
				continue;
			for (size_t j = 0; j < ng && !dup; j++)
				dup = !strcmp(g[j].text, g[ng].text);
			if (dup)
				free(g[ng].text);
			else
				ng++;
		}
	qsort(g, ng, sizeof *g, guess_cmp);
	for (size_t i = 0; i < ng; i++) {
		if (i < 3) {
			size_t bl = strlen(buf);
			snprintf(buf + bl, len - bl, "%s%s", i == 0 ? "" : i + 1 == (ng < 3 ? ng : 3) ? " or " : ", ",
				 g[i].text);
			shown++;
		}
		free(g[i].text);
	}
	return shown;
}

size_t image_suggest(kb_store *s, const char *ref, char *buf, size_t len)
{
	image_rec **l;
	size_t n;
	kb_error ignored = { 0 };
	buf[0] = 0;
	if (image_list(s, &l, &n, &ignored) < 0)
		return 0;
	size_t r = image_suggest_in(l, n, ref, buf, len);
	image_list_free(l, n);
	return r;
}

