#include "pattern.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

int pattern_add(pattern_list *l, const char *pat)
{
	if (!pat[0] || !strcmp(pat, "/"))
		return -EINVAL;
	char **v = realloc(l->v, (l->n + 1) * sizeof *v);
	if (!v)
		return -ENOMEM;
	l->v = v;
	if (!(v[l->n] = strdup(pat)))
		return -ENOMEM;
	l->n++;
	return 0;
}

void pattern_list_free(pattern_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* fnmatch where "*" stops at "/" unless the pattern has a "**" (then every
 * "*" crosses: rsync's rule is finer, but the filters we ship need no more). */
static bool fnm(const char *pat, size_t len, const char *s)
{
	char buf[4096];
	if (len >= sizeof buf)
		return false;
	memcpy(buf, pat, len);
	buf[len] = 0;
	return fnmatch(buf, s, strstr(buf, "**") ? 0 : FNM_PATHNAME) == 0;
}

bool pattern_match(const char *pat, const char *path, bool is_dir)
{
	size_t len = strlen(pat);
	if (pat[len - 1] == '/') {
		if (!is_dir)
			return false;
		len--;
	}
	if (pat[0] == '/')
		return fnm(pat + 1, len - 1, path);
	/* Unanchored: try the whole path, then each tail after a "/". */
	bool has_slash = memchr(pat, '/', len) != NULL;
	for (const char *s = path; s; s = strchr(s, '/') ? strchr(s, '/') + 1 : NULL) {
		if (fnm(pat, len, s))
			return true;
		if (!has_slash) {    /* only the last component can match */
			const char *last = strrchr(s, '/');
			return last && fnm(pat, len, last + 1);
		}
	}
	return false;
}

bool pattern_any(const pattern_list *l, const char *path, bool is_dir)
{
	for (size_t i = 0; i < l->n; i++)
		if (pattern_match(l->v[i], path, is_dir))
			return true;
	return false;
}

bool pattern_covers_below(const pattern_list *l, const char *dirpath)
{
	for (size_t i = 0; i < l->n; i++) {
		size_t len = strlen(l->v[i]);
		if (len > 3 && !strcmp(l->v[i] + len - 3, "/**") && l->v[i][0] == '/' &&
		    fnm(l->v[i] + 1, len - 4, dirpath))
			return true;
	}
	return false;
}
