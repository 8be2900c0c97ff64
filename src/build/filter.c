/* rsync's filter rules (filter.h): parsing, and matching with rsync's
 * wildcard semantics, written from rsync(1)'s FILTER RULES and PATTERN
 * MATCHING RULES and checked against rsync itself (tests/unit/build/
 * test-filter.c, tests/integration/eras.t). */
#include "build/filter.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

#define MAX_MATCH_PATH 4096

/* ---- wildcards ---- */

/* What wild() says: a match, no match here, or no match at any later
 * start either.  STOP_ALL: the text ran out while the pattern still
 * needed some, so starting later (with less text) cannot help.
 * STOP_STAR: a single "*" met a "/" it cannot cross, so an enclosing
 * single "*" cannot help by taking more text either; only "**" can. */
enum { W_NO = 0, W_YES = 1, W_STOP_ALL = -1, W_STOP_STAR = -2 };

/* c against the class "[:name:]": 1 or 0, -1 for an unknown name. */
static int in_class(const char *name, size_t len, unsigned char c)
{
	static const struct { const char *n; int (*f)(int); } classes[] = {
		{ "alnum", isalnum }, { "alpha", isalpha }, { "blank", isblank }, { "cntrl", iscntrl },
		{ "digit", isdigit }, { "graph", isgraph }, { "lower", islower }, { "print", isprint },
		{ "punct", ispunct }, { "space", isspace }, { "upper", isupper }, { "xdigit", isxdigit },
	};
	for (size_t i = 0; i < ARRAY_SIZE(classes); i++)
		if (strlen(classes[i].n) == len && !memcmp(classes[i].n, name, len))
			return classes[i].f(c) != 0;
	return -1;
}

/* One "[...]" at *pp (just past the "["), against c.  Returns W_YES or
 * W_NO and moves *pp past the "]", or W_STOP_ALL for a class without
 * its "]" or with an unknown "[:name:]" (nothing can match). */
static int bracket(const char **pp, unsigned char c)
{
	const char *p = *pp;
	bool negate = *p == '!' || *p == '^', hit = false;
	unsigned char prev = 0;

	if (negate)
		p++;
	/* The first member may be "]" itself. */
	for (bool first = true; first || *p != ']'; first = false, p++) {
		unsigned char m = (unsigned char)*p;
		if (!m)
			return W_STOP_ALL;
		if (m == '\\') {
			if (!(m = (unsigned char)*++p))
				return W_STOP_ALL;
			hit |= c == m;
		} else if (m == '-' && prev && p[1] && p[1] != ']') {
			unsigned char hi = (unsigned char)*++p;
			if (hi == '\\' && !(hi = (unsigned char)*++p))
				return W_STOP_ALL;
			hit |= c >= prev && c <= hi;
			prev = 0;
			continue;
		} else if (m == '[' && p[1] == ':') {
			const char *name = p + 2, *end = strstr(name, ":]");
			if (!end || memchr(name, ']', (size_t)(end - name))) {
				hit |= c == '[';    /* not a class: a plain "[" */
			} else {
				int k = in_class(name, (size_t)(end - name), c);
				if (k < 0)
					return W_STOP_ALL;
				hit |= k == 1;
				p = end + 1;
				prev = 0;
				continue;
			}
		} else {
			hit |= c == m;
		}
		prev = m;
	}
	*pp = p + 1;
	return hit != negate ? W_YES : W_NO;
}

/* Match pattern p against all of text t. */
static int wild(const char *p, const char *t)
{
	for (; *p; p++, t++) {
		if (*p == '*') {
			bool dbl = p[1] == '*';
			while (*p == '*')
				p++;
			if (!*p)    /* a trailing "**" takes the rest, a "*" only a last component */
				return dbl || !strchr(t, '/') ? W_YES : W_NO;
			for (;; t++) {
				int r = wild(p, t);
				if (r == W_YES || r == W_STOP_ALL || (r == W_STOP_STAR && !dbl))
					return r;
				if (!*t)
					return W_STOP_ALL;
				if (!dbl && *t == '/')
					return W_STOP_STAR;
			}
		}
		if (!*t)
			return W_STOP_ALL;
		if (*p == '?') {
			if (*t == '/')
				return W_NO;
		} else if (*p == '[') {
			const char *q = p + 1;
			int r = bracket(&q, (unsigned char)*t);
			if (r != W_YES)
				return r;
			p = q - 1;
		} else {
			if (*p == '\\' && p[1])
				p++;
			if (*p != *t)
				return W_NO;
		}
	}
	return *t ? W_NO : W_YES;
}

/* ---- rules ---- */

void filter_list_free(filter_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].text);
		free(l->v[i].pattern);
		free(l->v[i].origin);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int push_rule(filter_list *l, const filter_rule *r)
{
	filter_rule *v = realloc(l->v, (l->n + 1) * sizeof *v);
	if (!v)
		return -ENOMEM;
	l->v = v;
	v[l->n] = (filter_rule){ .text = strdup(r->text), .pattern = strdup(r->pattern), .flags = r->flags,
				 .slashes = r->slashes, .origin = strdup(r->origin ? r->origin : "") };
	if (!v[l->n].text || !v[l->n].pattern || !v[l->n].origin) {
		free(v[l->n].text);
		free(v[l->n].pattern);
		free(v[l->n].origin);
		return -ENOMEM;
	}
	l->n++;
	return 0;
}

int filter_append(filter_list *l, const filter_list *src, kb_error *e)
{
	for (size_t i = 0; i < src->n; i++)
		if (push_rule(l, &src->v[i]) < 0)
			return kb_err_oom(e, "filter rules");
	return 0;
}

/* The kind: its flags, and the length of its name, or 0. */
static size_t parse_kind(const char *s, unsigned *flags)
{
	static const struct { const char *name; char c; unsigned flags; } kinds[] = {
		{ "exclude", '-', FILTER_SENDER | FILTER_RECEIVER },
		{ "include", '+', FILTER_INCLUDE | FILTER_SENDER | FILTER_RECEIVER },
		{ "hide", 'H', FILTER_SENDER },
		{ "show", 'S', FILTER_INCLUDE | FILTER_SENDER },
		{ "protect", 'P', FILTER_RECEIVER },
		{ "risk", 'R', FILTER_INCLUDE | FILTER_RECEIVER },
	};
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		size_t n = strlen(kinds[i].name);
		*flags = kinds[i].flags;
		if (!strncmp(s, kinds[i].name, n) && (!s[n] || s[n] == ' ' || s[n] == '_' || s[n] == ','))
			return n;
		if (s[0] == kinds[i].c)
			return 1;
	}
	return 0;
}

/* The modifiers after the kind; sets *flags or says why not. */
static const char *parse_mods(const char **sp, unsigned *flags)
{
	const char *s = *sp;
	bool sides = false;
	bool both = (*flags & (FILTER_SENDER | FILTER_RECEIVER)) == (FILTER_SENDER | FILTER_RECEIVER);

	if (*s == ',')
		s++;
	for (; *s && *s != ' ' && *s != '_'; s++) {
		switch (*s) {
		case '!': *flags |= FILTER_NEGATE; break;
		case 'p': *flags |= FILTER_PERISHABLE; break;
		case 's':
		case 'r':
			if (!both)
				return "the s and r modifiers go with - and + only";
			if (!sides)
				*flags &= ~(unsigned)(FILTER_SENDER | FILTER_RECEIVER);
			sides = true;
			*flags |= *s == 's' ? FILTER_SENDER : FILTER_RECEIVER;
			break;
		case '/': return "the / modifier (absolute paths of the host) is not supported";
		case 'x': return "xattr rules are not supported";
		default: return "unknown or unsupported modifier";
		}
	}
	*sp = s;
	return NULL;
}

/* The pattern's flags and slash count, and the pattern as matched. */
static void classify(filter_rule *r, const char *pat)
{
	size_t len = strlen(pat);
	/* rsync: a lone "/" keeps its slash (and so matches nothing but
	 * the top itself, which is never matched). */
	if (len > 1 && pat[len - 1] == '/') {
		r->flags |= FILTER_DIR;
		len--;
	}
	for (size_t i = 0; i < len; i++)
		r->slashes += pat[i] == '/';
	if (pat[0] == '/') {
		r->flags |= FILTER_ANCHORED;
		pat++;
		len--;
	}
	r->pattern = strndup(pat, len);
	if (!r->pattern)
		return;
	if (strpbrk(r->pattern, "*?[")) {
		r->flags |= FILTER_WILD;
		const char *dd = strstr(r->pattern, "**");
		if (dd) {
			r->flags |= FILTER_WILD2;
			if (dd == r->pattern && !(r->flags & FILTER_ANCHORED))
				r->flags |= FILTER_WILD2_PREFIX;
			if (len >= 3 && !strcmp(r->pattern + len - 3, "***"))
				r->flags |= FILTER_WILD3_SUFFIX;
		}
	}
}

int filter_add(filter_list *l, const char *rule, const char *origin, kb_error *e)
{
	filter_rule r = { .text = (char *)rule, .origin = (char *)origin };
	const char *s = rule, *why;
	size_t n = parse_kind(s, &r.flags);

	if (!n) {
		if (s[0] == '.' || s[0] == ':' || !strncmp(s, "merge", 5) || !strncmp(s, "dir-merge", 9))
			return kb_errx(e, EINVAL, "filter rule \"%s\": merge files are not supported", rule);
		if (s[0] == '!' || !strncmp(s, "clear", 5))
			return kb_errx(e, EINVAL, "filter rule \"%s\": the clear rule is not supported", rule);
		return kb_errx(e, EINVAL, "filter rule \"%s\": not a rule (want -, +, H, S, P or R and a pattern)", rule);
	}
	s += n;
	if ((why = parse_mods(&s, &r.flags)))
		return kb_errx(e, EINVAL, "filter rule \"%s\": %s", rule, why);
	if (*s != ' ' && *s != '_')
		return kb_errx(e, EINVAL, "filter rule \"%s\": no pattern", rule);
	s++;
	if (!*s)
		return kb_errx(e, EINVAL, "filter rule \"%s\": no pattern", rule);
	classify(&r, s);
	if (!r.pattern)
		return kb_err_oom(e, "filter rules");
	int ret = push_rule(l, &r);
	free(r.pattern);
	return ret < 0 ? kb_err_oom(e, "filter rules") : 0;
}

/* ---- matching ---- */

static bool match_here(const filter_rule *r, const char *s)
{
	return r->flags & FILTER_WILD ? wild(r->pattern, s) == W_YES : !strcmp(r->pattern, s);
}

/* The pattern against name (the path, or its last component), tried
 * where rsync tries it. */
static bool match_name(const filter_rule *r, const char *name)
{
	if (r->flags & FILTER_ANCHORED)
		return match_here(r, name);
	if (r->slashes && !(r->flags & FILTER_WILD2)) {
		/* "a/b": as many trailing components as the pattern has. */
		const char *s = name + strlen(name);
		for (unsigned k = r->slashes + 1; s > name; s--)
			if (s[-1] == '/' && --k == 0)
				break;
		return match_here(r, s);
	}
	if ((r->flags & FILTER_WILD2) && !(r->flags & FILTER_WILD2_PREFIX)) {
		/* An inner or trailing "**": from the top, or after any "/". */
		for (const char *s = name;; s++) {
			if ((s == name || s[-1] == '/') && *s) {
				int w = wild(r->pattern, s);
				if (w == W_YES)
					return true;
				if (w == W_STOP_ALL)
					return false;
			}
			if (!*s)
				return false;
		}
	}
	return match_here(r, name);
}

bool filter_rule_matches(const filter_rule *r, const char *path, bool is_dir)
{
	bool neg = (r->flags & FILTER_NEGATE) != 0;
	char buf[MAX_MATCH_PATH + 3];

	if (!*path)
		return false;
	if ((r->flags & FILTER_DIR) && !is_dir)
		return neg;
	const char *name = path;
	if (!r->slashes && !(r->flags & FILTER_WILD2)) {
		const char *slash = strrchr(path, '/');
		name = slash ? slash + 1 : path;
	}
	bool pre = (r->flags & FILTER_WILD2_PREFIX) != 0, post = is_dir && (r->flags & FILTER_WILD3_SUFFIX);
	if (pre || post) {
		/* "**" at the front may match nothing before a first "/";
		 * a trailing "***" after "dir/" matches "dir" itself: add the "/"
		 * each needs. */
		size_t len = strlen(name);
		if (len > MAX_MATCH_PATH)
			return neg;
		buf[0] = '/';
		memcpy(buf + pre, name, len);
		buf[pre + len] = '/';
		buf[pre + len + post] = 0;
		name = buf;
	}
	return match_name(r, name) != neg;
}

const filter_rule *filter_first(const filter_list *l, bool sender, const char *path, bool is_dir)
{
	unsigned side = sender ? FILTER_SENDER : FILTER_RECEIVER;
	for (size_t i = 0; i < l->n; i++)
		if ((l->v[i].flags & side) && filter_rule_matches(&l->v[i], path, is_dir))
			return &l->v[i];
	return NULL;
}

bool filter_hides(const filter_list *l, const char *path, bool is_dir)
{
	const filter_rule *r = filter_first(l, true, path, is_dir);
	return r && !(r->flags & FILTER_INCLUDE);
}

bool filter_protects(const filter_list *l, const char *path, bool is_dir)
{
	const filter_rule *r = filter_first(l, false, path, is_dir);
	return r && !(r->flags & FILTER_INCLUDE);
}
