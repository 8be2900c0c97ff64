/* Reading rsync filter rules out of shell scripts (shellrules.h). */
#include "build/shellrules.h"

#include <errno.h>
#include <string.h>

#define MAX_HEREDOCS 8
/* Quotes inside command substitutions inside quotes...: each level is a
 * call, so a script could nest until the stack runs out. */
#define MAX_NESTING 64

/* ---- the words of a function body ---- */

typedef struct scan {
	const char *s, *end;
	unsigned line;
	const char *file;
	kb_error *e;
	struct {
		char delim[128];
		bool strip_tabs;
	} here[MAX_HEREDOCS];
	int n_here;
	int depth;                  /* skip_nested/skip_quoted calls in progress */
} scan;

typedef struct word {
	char *val;
	unsigned line;
	const char *unsafe;         /* why the shell would not leave it as written, or NULL */
} word;

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_op(char c)
{
	return c == ';' || c == '&' || c == '|' || c == '(' || c == ')' || c == '<' || c == '>';
}

static int append(char **v, size_t *n, size_t *cap, char c)
{
	if (*n + 2 > *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		char *nv = realloc(*v, nc);
		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = nc;
	}
	(*v)[(*n)++] = c;
	(*v)[*n] = 0;
	return 0;
}

static int scan_fail(scan *sc, const char *why)
{
	return kb_errx(sc->e, EINVAL, "%s:%u: %s", sc->file, sc->line, why);
}

static int skip_quoted(scan *sc, char q);

/* Past a "$(...)", "${...}", "$((...))" or a backquoted command, nested
 * quotes included: only its extent matters, never its value. */
static int skip_nested_in(scan *sc, char open, char close);

static int skip_nested(scan *sc, char open, char close)
{
	if (sc->depth >= MAX_NESTING)
		return scan_fail(sc, "quotes and substitutions nested too deep");
	sc->depth++;
	int r = skip_nested_in(sc, open, close);
	sc->depth--;
	return r;
}

static int skip_nested_in(scan *sc, char open, char close)
{
	int depth = 1;
	while (sc->s < sc->end) {
		char c = *sc->s++;
		if (c == '\n')
			sc->line++;
		else if (c == '\\' && sc->s < sc->end && open != '`')
			sc->line += *sc->s++ == '\n';
		else if ((c == '\'' && open != '`') || (c == '"' && open != '`')) {
			int r = skip_quoted(sc, c);
			if (r < 0)
				return r;
		} else if (c == close && --depth == 0)
			return 0;
		else if (c == open && open != '`')
			depth++;
	}
	return scan_fail(sc, "unterminated expansion or command substitution");
}

/* Past the rest of a quoted string ('...' literal, "..." with escapes and
 * expansions inside). */
static int skip_quoted_in(scan *sc, char q);

static int skip_quoted(scan *sc, char q)
{
	if (sc->depth >= MAX_NESTING)
		return scan_fail(sc, "quotes and substitutions nested too deep");
	sc->depth++;
	int r = skip_quoted_in(sc, q);
	sc->depth--;
	return r;
}

static int skip_quoted_in(scan *sc, char q)
{
	while (sc->s < sc->end) {
		char c = *sc->s++;
		if (c == '\n')
			sc->line++;
		if (c == q)
			return 0;
		if (q == '"' && c == '\\' && sc->s < sc->end)
			sc->line += *sc->s++ == '\n';
		else if (q == '"' && c == '$' && sc->s < sc->end && (*sc->s == '(' || *sc->s == '{')) {
			char open = *sc->s++;
			int r = skip_nested(sc, open, open == '(' ? ')' : '}');
			if (r < 0)
				return r;
		} else if (q == '"' && c == '`') {
			int r = skip_nested(sc, '`', '`');
			if (r < 0)
				return r;
		}
	}
	return scan_fail(sc, "unterminated quote");
}

/* After "$": past the expansion; false when the "$" is literal. */
static int skip_dollar(scan *sc, bool *literal)
{
	*literal = false;
	if (sc->s >= sc->end) {
		*literal = true;
		return 0;
	}
	char c = *sc->s;
	if (c == '(' || c == '{') {
		sc->s++;
		return skip_nested(sc, c, c == '(' ? ')' : '}');
	}
	if (c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
		while (sc->s < sc->end && (*sc->s == '_' || (*sc->s >= 'a' && *sc->s <= 'z') ||
					   (*sc->s >= 'A' && *sc->s <= 'Z') || (*sc->s >= '0' && *sc->s <= '9')))
			sc->s++;
		return 0;
	}
	if (strchr("0123456789#?$!@*-", c)) {
		sc->s++;
		return 0;
	}
	*literal = true;
	return 0;
}

/* Skip the bodies of the here-documents whose "<<" was on the line
 * just ended. */
static void skip_heredocs(scan *sc)
{
	for (int i = 0; i < sc->n_here; i++) {
		while (sc->s < sc->end) {
			const char *nl = memchr(sc->s, '\n', (size_t)(sc->end - sc->s));
			const char *l = sc->s, *le = nl ? nl : sc->end;
			sc->s = nl ? nl + 1 : sc->end;
			sc->line++;
			while (sc->here[i].strip_tabs && l < le && *l == '\t')
				l++;
			if ((size_t)(le - l) == strlen(sc->here[i].delim) && !memcmp(l, sc->here[i].delim, (size_t)(le - l)))
				break;
		}
	}
	sc->n_here = 0;
}

/* The word at sc->s (not blank, not an operator). */
static int read_word(scan *sc, word *w)
{
	char *v = NULL;
	size_t n = 0, cap = 0;
	int r = append(&v, &n, &cap, 0);
	n = 0;
	*w = (word){ .line = sc->line };
	if (sc->s < sc->end && *sc->s == '~')
		w->unsafe = "a tilde expansion";
	while (r == 0 && sc->s < sc->end && !is_blank(*sc->s) && *sc->s != '\n' && !is_op(*sc->s)) {
		char c = *sc->s++;
		bool literal;
		if (c == '\\') {
			if (sc->s < sc->end && *sc->s == '\n') {
				sc->s++;
				sc->line++;
			} else if (sc->s < sc->end) {
				r = append(&v, &n, &cap, *sc->s++);
			}
		} else if (c == '\'') {
			const char *q = memchr(sc->s, '\'', (size_t)(sc->end - sc->s));
			if (!q) {
				free(v);
				return scan_fail(sc, "unterminated single quote");
			}
			for (; r == 0 && sc->s < q; sc->s++) {
				sc->line += *sc->s == '\n';
				r = append(&v, &n, &cap, *sc->s);
			}
			sc->s = q + 1;
		} else if (c == '"') {
			while (r == 0 && sc->s < sc->end && *sc->s != '"') {
				c = *sc->s++;
				if (c == '\\' && sc->s < sc->end && strchr("$`\"\\\n", *sc->s)) {
					if (*sc->s == '\n')
						sc->line++, sc->s++;
					else
						r = append(&v, &n, &cap, *sc->s++);
				} else if (c == '$' || c == '`') {
					if (c == '`')
						r = skip_nested(sc, '`', '`');
					else if ((r = skip_dollar(sc, &literal)) == 0 && literal)
						r = append(&v, &n, &cap, '$');
					if (r == 0 && !(c == '$' && literal))
						w->unsafe = "an expansion or command substitution";
				} else {
					sc->line += c == '\n';
					r = append(&v, &n, &cap, c);
				}
			}
			if (r == 0 && sc->s >= sc->end) {
				free(v);
				return scan_fail(sc, "unterminated double quote");
			}
			sc->s++;
		} else if (c == '$' || c == '`') {
			if (c == '`')
				r = skip_nested(sc, '`', '`');
			else if ((r = skip_dollar(sc, &literal)) == 0 && literal)
				r = append(&v, &n, &cap, '$');
			if (r == 0 && !(c == '$' && literal))
				w->unsafe = "an expansion or command substitution";
		} else {
			if (c == '*' || c == '?' || c == '[' || c == '{')
				w->unsafe = "an unquoted pattern or brace the shell would expand";
			r = append(&v, &n, &cap, c);
		}
	}
	if (r < 0) {
		free(v);
		return r == -ENOMEM ? kb_err_oom(sc->e, sc->file) : r;
	}
	w->val = v;
	return 1;
}

/* "<<" or "<<-": the delimiter word, quotes removed. */
static int read_heredoc(scan *sc)
{
	bool strip = sc->s < sc->end && *sc->s == '-';
	word w;
	if (strip)
		sc->s++;
	while (sc->s < sc->end && is_blank(*sc->s))
		sc->s++;
	if (sc->s >= sc->end || *sc->s == '\n' || is_op(*sc->s))
		return scan_fail(sc, "here-document without a delimiter");
	int r = read_word(sc, &w);
	if (r < 0)
		return r;
	if (sc->n_here == MAX_HEREDOCS || strlen(w.val) >= sizeof sc->here[0].delim) {
		free(w.val);
		return scan_fail(sc, "too many or too long here-documents");
	}
	snprintf(sc->here[sc->n_here].delim, sizeof sc->here[0].delim, "%s", w.val);
	sc->here[sc->n_here++].strip_tabs = strip;
	free(w.val);
	return 0;
}

/* The next word: 1, 0 at the end, or an error. */
static int next_word(scan *sc, word *w)
{
	while (sc->s < sc->end) {
		char c = *sc->s;
		if (is_blank(c)) {
			sc->s++;
		} else if (c == '\\' && sc->s + 1 < sc->end && sc->s[1] == '\n') {
			sc->s += 2;
			sc->line++;
		} else if (c == '\n') {
			sc->s++;
			sc->line++;
			skip_heredocs(sc);
		} else if (c == '#') {
			while (sc->s < sc->end && *sc->s != '\n')
				sc->s++;
		} else if (is_op(c)) {
			sc->s++;
			if (c == '<' && sc->s < sc->end && *sc->s == '<' && (sc->s + 1 >= sc->end || sc->s[1] != '<')) {
				sc->s++;
				int r = read_heredoc(sc);
				if (r < 0)
					return r;
			}
		} else {
			return read_word(sc, w);
		}
	}
	return 0;
}

/* ---- the rules ---- */

/* The rule a word gives: "--filter=RULE" and friends.  *want_next: the
 * option takes the next word ("--filter RULE"); its prefix in *prefix. */
static int rule_of(scan *sc, const word *w, const char **prefix, bool *want_next, const char **rule)
{
	static const char *const refused[] = { "--exclude-from", "--include-from", "--files-from", "--cvs-exclude",
					       "--delete-excluded" };
	static const struct { const char *opt, *prefix; } opts[] = {
		{ "--filter", "" }, { "--include", "+ " }, { "--exclude", "- " },
	};
	*rule = NULL;
	*want_next = false;
	for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
		size_t n = strlen(refused[i]);
		if (!strncmp(w->val, refused[i], n) && (!w->val[n] || w->val[n] == '=')) {
			sc->line = w->line;
			return kb_errx(sc->e, EINVAL, "%s:%u: rsync %s: kbuild-ns reads only literal --filter, --include and "
				       "--exclude rules", sc->file, w->line, refused[i]);
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(opts); i++) {
		size_t n = strlen(opts[i].opt);
		if (strncmp(w->val, opts[i].opt, n))
			continue;
		*prefix = opts[i].prefix;
		if (!w->val[n])
			*want_next = true;
		else if (w->val[n] == '=')
			*rule = w->val + n + 1;
		else
			continue;
		return 1;
	}
	return 0;
}

static int add_rule(scan *sc, filter_list *l, const word *w, const char *prefix, const char *rule)
{
	char origin[512];
	snprintf(origin, sizeof origin, "%s:%u", sc->file, w->line);
	if (w->unsafe)
		return kb_errx(sc->e, EINVAL, "%s: rsync filter \"%s\" has %s: kbuild-ns reads only literal rules",
			       origin, rule, w->unsafe);
	_cleanup_free_ char *text = xasprintf("%s%s", prefix, rule);
	int r = filter_add(l, text, origin, sc->e);
	if (r < 0)
		kb_err_prefix(sc->e, "%s", origin);
	return r;
}

static int body_filters(scan *sc, filter_list *l)
{
	const char *prefix = "";
	bool want_next = false;
	word w;
	int r;

	while ((r = next_word(sc, &w)) > 0) {
		const char *rule = NULL;
		bool next = false;
		if (want_next)
			r = add_rule(sc, l, &w, prefix, w.val);
		else if ((r = rule_of(sc, &w, &prefix, &next, &rule)) > 0 && rule)
			r = add_rule(sc, l, &w, prefix, rule);
		want_next = next;
		free(w.val);
		if (r < 0)
			return r;
	}
	if (r == 0 && want_next)
		return scan_fail(sc, "rsync --filter without its rule");
	return r;
}

/* ---- finding the function ---- */

static const char *skip_blanks(const char *s, const char *end)
{
	while (s < end && is_blank(*s))
		s++;
	return s;
}

/* Is the line [s, end) the definition of fn?  Its indentation in *indent. */
static bool is_definition(const char *s, const char *end, const char *fn, size_t *indent)
{
	const char *t = skip_blanks(s, end);
	bool kw = (size_t)(end - t) > 9 && !strncmp(t, "function", 8) && is_blank(t[8]);
	size_t fl = strlen(fn);
	*indent = (size_t)(t - s);
	if (kw)
		t = skip_blanks(t + 9, end);
	if ((size_t)(end - t) < fl || strncmp(t, fn, fl))
		return false;
	t += fl;
	if (t < end && !is_blank(*t) && *t != '(' && *t != '{')
		return false;
	t = skip_blanks(t, end);
	bool parens = (size_t)(end - t) >= 2 && t[0] == '(' && t[1] == ')';
	if (parens)
		t = skip_blanks(t + 2, end);
	else if (!kw)
		return false;
	if (t >= end || *t != '{')
		return false;
	t = skip_blanks(t + 1, end);
	return t == end || *t == '#';
}

/* A line "}" at the given indentation (a comment may follow). */
static bool is_end(const char *s, const char *end, size_t indent)
{
	const char *t = skip_blanks(s, end);
	if ((size_t)(t - s) != indent || t >= end || *t != '}')
		return false;
	t = skip_blanks(t + 1, end);
	return t == end || *t == '#' || *t == ';';
}

int shell_function_filters(const char *text, const char *file, const char *fn, filter_list *l, unsigned *ret_line,
			   kb_error *e)
{
	const char *end = text + strlen(text), *s = text, *body = NULL;
	unsigned line = 1, def_line = 0;
	size_t indent = 0;

	for (; s < end; line++) {
		const char *nl = memchr(s, '\n', (size_t)(end - s)), *le = nl ? nl : end;
		if (!body && is_definition(s, le, fn, &indent)) {
			body = nl ? nl + 1 : end;
			def_line = line;
		} else if (body && is_end(s, le, indent)) {
			scan sc = { .s = body, .end = s, .line = def_line + 1, .file = file, .e = e };
			*ret_line = def_line;
			int r = body_filters(&sc, l);
			return r < 0 ? r : 1;
		}
		s = nl ? nl + 1 : end;
	}
	if (body)
		return kb_errx(e, EINVAL, "%s:%u: function %s: no closing \"}\" at its indentation", file, def_line, fn);
	return 0;
}

/* ---- the daemon's filter line ---- */

/* A word that is a rule's kind alone ("-", "+!", "exclude"), whose
 * pattern is the next word. */
static bool is_kind_word(const char *w)
{
	static const char *const names[] = { "exclude", "include", "hide", "show", "protect", "risk" };
	size_t n = strcspn(w, ",");
	bool named = n == 1 && strchr("-+HSPR", w[0]);
	for (size_t i = 0; !named && i < ARRAY_SIZE(names); i++)
		named = strlen(names[i]) == n && !strncmp(w, names[i], n);
	if (!named)
		return false;
	const char *m = w[n] == ',' ? w + n + 1 : w + (n == 1 ? 1 : n);
	return strspn(m, "!sprp") == strlen(m);
}

/* One daemon rule: an unanchored pattern with a "/" inside is anchored
 * at the module's top (rsync's XFLG_ABS_IF_SLASH for daemon rules). */
static int add_daemon_rule(filter_list *l, const char *kind, const char *pat, const char *origin, kb_error *e)
{
	size_t len = strlen(pat);
	bool inner = memchr(pat, '/', len > 1 && pat[len - 1] == '/' ? len - 1 : len) != NULL;
	_cleanup_free_ char *text = xasprintf("%s %s%s", kind, inner && pat[0] != '/' ? "/" : "", pat);
	int r = filter_add(l, text, origin, e);
	if (r < 0)
		kb_err_prefix(e, "%s", origin);
	return r;
}

int rsyncd_filters(const char *text, const char *file, filter_list *l, kb_error *e)
{
	const char *end = text + strlen(text), *s = text;
	int found = 0;

	for (unsigned line = 1; s < end; line++) {
		const char *nl = memchr(s, '\n', (size_t)(end - s)), *le = nl ? nl : end;
		const char *t = skip_blanks(s, le);
		char origin[512];
		snprintf(origin, sizeof origin, "%s:%u", file, line);
		if ((size_t)(le - t) > 6 && !strncmp(t, "filter", 6) && (is_blank(t[6]) || t[6] == '=')) {
			const char *v = skip_blanks(t + 6, le);
			if (v < le && *v == '=') {
				_cleanup_free_ char *val = strndup(v + 1, (size_t)(le - v - 1));
				if (!val)
					return kb_err_oom(e, file);
				if (strpbrk(val, "$`\\"))
					return kb_errx(e, EINVAL, "%s: rsync daemon filter has an expansion: kbuild-ns reads "
						       "only literal rules", origin);
				/* Word-split: a kind alone takes the next word as its pattern. */
				char *save = NULL, *kind = NULL;
				for (char *w = strtok_r(val, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
					int r;
					if (kind) {
						r = add_daemon_rule(l, kind, w, origin, e);
						kind = NULL;
					} else if (is_kind_word(w)) {
						kind = w;
						continue;
					} else {
						r = filter_add(l, w, origin, e);
						if (r < 0)
							kb_err_prefix(e, "%s", origin);
					}
					if (r < 0)
						return r;
				}
				if (kind)
					return kb_errx(e, EINVAL, "%s: rsync daemon filter rule \"%s\" without a pattern", origin,
						       kind);
				found = 1;
			}
		}
		s = nl ? nl + 1 : end;
	}
	return found;
}
