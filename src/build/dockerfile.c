/* The Dockerfile reader (dockerfile.h): logical lines, instructions,
 * their flags and arguments; and the word expansion docker build applies
 * to the arguments of ENV, ARG, LABEL, WORKDIR, USER, COPY, ADD, FROM. */
#include "build/dockerfile.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <string.h>

#define MAX_DOCKERFILE_LINE (1u << 20)

static const char *const kind_names[] = {
	[DF_FROM] = "FROM", [DF_RUN] = "RUN", [DF_CMD] = "CMD", [DF_ENTRYPOINT] = "ENTRYPOINT",
	[DF_SHELL] = "SHELL", [DF_ENV] = "ENV", [DF_ARG] = "ARG", [DF_LABEL] = "LABEL",
	[DF_WORKDIR] = "WORKDIR", [DF_USER] = "USER", [DF_COPY] = "COPY", [DF_ADD] = "ADD",
	[DF_EXPOSE] = "EXPOSE", [DF_VOLUME] = "VOLUME", [DF_STOPSIGNAL] = "STOPSIGNAL",
	[DF_HEALTHCHECK] = "HEALTHCHECK", [DF_ONBUILD] = "ONBUILD", [DF_MAINTAINER] = "MAINTAINER",
};

const char *dockerfile_kind_name(df_kind k)
{
	return (size_t)k < ARRAY_SIZE(kind_names) ? kind_names[k] : "?";
}

static void instr_free(df_instr *in)
{
	for (size_t i = 0; i < in->n_flags; i++) {
		free(in->flags[i].name);
		free(in->flags[i].value);
	}
	free(in->flags);
	for (size_t i = 0; i < in->n_args; i++)
		free(in->args[i]);
	free(in->args);
	for (size_t i = 0; i < in->n_pairs; i++) {
		free(in->pairs[i].key);
		free(in->pairs[i].value);
	}
	free(in->pairs);
}

void dockerfile_free(dockerfile *df)
{
	if (!df)
		return;
	for (size_t i = 0; i < df->n; i++)
		instr_free(&df->v[i]);
	free(df->v);
	free(df->name);
	free(df);
}

const char *dockerfile_flag(const df_instr *in, const char *name, bool *ret_present)
{
	for (size_t i = 0; i < in->n_flags; i++)
		if (!strcmp(in->flags[i].name, name)) {
			if (ret_present)
				*ret_present = true;
			return in->flags[i].value;
		}
	if (ret_present)
		*ret_present = false;
	return NULL;
}

/* ---- small growing arrays ---- */

static int push_str(char ***v, size_t *n, char *s)
{
	if (!s)
		return -ENOMEM;
	char **nv = realloc(*v, (*n + 1) * sizeof *nv);
	if (!nv) {
		free(s);
		return -ENOMEM;
	}
	nv[(*n)++] = s;
	*v = nv;
	return 0;
}

static int push_pair(df_instr *in, char *key, char *value)
{
	df_pair *v = key ? realloc(in->pairs, (in->n_pairs + 1) * sizeof *v) : NULL;
	if (!v) {
		free(key);
		free(value);
		return -ENOMEM;
	}
	in->pairs = v;
	v[in->n_pairs++] = (df_pair){ key, value };
	return 0;
}

static int push_flag(df_instr *in, char *name, char *value)
{
	df_flag *v = name ? realloc(in->flags, (in->n_flags + 1) * sizeof *v) : NULL;
	if (!v) {
		free(name);
		free(value);
		return -ENOMEM;
	}
	in->flags = v;
	v[in->n_flags++] = (df_flag){ name, value };
	return 0;
}

/* ---- words ---- */

static const char *skip_blank(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* The end of the raw word at s: blanks outside quotes end it; quotes
 * and backslash escapes are kept as written.  NULL for an open quote. */
static const char *word_end(const char *s)
{
	char q = 0;
	for (; *s; s++) {
		if (q) {
			if (*s == '\\' && q == '"' && s[1])
				s++;
			else if (*s == q)
				q = 0;
		} else if (*s == '\\' && s[1]) {
			s++;
		} else if (*s == '\'' || *s == '"') {
			q = *s;
		} else if (*s == ' ' || *s == '\t') {
			break;
		}
	}
	return q ? NULL : s;
}

/* Split s into raw words. */
static int split_words(const char *s, char ***v, size_t *n)
{
	for (s = skip_blank(s); *s; s = skip_blank(s)) {
		const char *end = word_end(s);
		if (!end)
			return -EINVAL;
		int r = push_str(v, n, strndup(s, (size_t)(end - s)));
		if (r < 0)
			return r;
		s = end;
	}
	return 0;
}

/* The JSON array form: every element a string.  1 when it is one, 0 when
 * the text is not (then it is the shell form, as docker build decides). */
static int parse_json_form(const char *s, df_instr *in)
{
	json_error_t err;
	json_t *j = json_loads(s, JSON_REJECT_DUPLICATES, &err);
	size_t i;
	json_t *el;

	if (!json_is_array(j)) {
		json_decref(j);
		return 0;
	}
	json_array_foreach(j, i, el)
		if (!json_is_string(el)) {
			json_decref(j);
			return 0;
		}
	json_array_foreach(j, i, el)
		if (push_str(&in->args, &in->n_args, strdup(json_string_value(el))) < 0) {
			json_decref(j);
			return -ENOMEM;
		}
	json_decref(j);
	in->json = true;
	return 1;
}

/* ---- instructions ---- */

typedef struct parser {
	const char *name;
	unsigned line;
	kb_error *e;
} parser;

static int fail(const parser *p, const char *fmt, const char *a)
{
	return kb_errx(p->e, EINVAL, "%s:%u: %s%s", p->name, p->line, fmt, a ? a : "");
}

static int parse_kind(const char *word, size_t len, df_kind *ret)
{
	for (size_t i = 0; i < ARRAY_SIZE(kind_names); i++)
		if (strlen(kind_names[i]) == len && !strncasecmp(word, kind_names[i], len)) {
			*ret = (df_kind)i;
			return 0;
		}
	return -EINVAL;
}

/* "--name=value" words at the start of rest. */
static int parse_flags(const parser *p, const char **rest, df_instr *in)
{
	const char *s = *rest;
	while (s[0] == '-' && s[1] == '-') {
		const char *end = word_end(s);
		if (!end)
			return fail(p, "unterminated quote in a flag", NULL);
		const char *eq = memchr(s, '=', (size_t)(end - s));
		char *name = strndup(s + 2, (size_t)((eq ? eq : end) - s - 2));
		char *value = eq ? strndup(eq + 1, (size_t)(end - eq - 1)) : NULL;
		if ((eq && !value) || push_flag(in, name, value) < 0)
			return kb_err_oom(p->e, p->name);
		s = skip_blank(end);
	}
	*rest = s;
	return 0;
}

/* ENV and LABEL: "KEY VALUE..." or "KEY=VALUE ..."; ARG: "NAME[=VALUE] ...". */
static int parse_pairs(const parser *p, const char *rest, df_instr *in)
{
	_cleanup_free_ char **words = NULL;
	size_t n = 0;
	int r = split_words(rest, &words, &n);
	const char *what = dockerfile_kind_name(in->kind);

	if (r == -EINVAL)
		r = fail(p, "unterminated quote", NULL);
	else if (r < 0)
		r = kb_err_oom(p->e, p->name);
	else if (n == 0)
		r = fail(p, what, " without a name");
	if (r == 0 && in->kind != DF_ARG && !strchr(words[0], '=')) {
		/* The legacy form: one key, the value is the rest of the line. */
		const char *v = skip_blank(rest + strlen(words[0]));
		size_t len = strlen(v);
		while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
			len--;
		if (!len)
			r = fail(p, what, " needs a value (KEY VALUE or KEY=VALUE)");
		else if (push_pair(in, strdup(words[0]), strndup(v, len)) < 0)
			r = kb_err_oom(p->e, p->name);
	} else {
		for (size_t i = 0; r == 0 && i < n; i++) {
			char *eq = strchr(words[i], '=');
			if ((!eq && in->kind != DF_ARG) || eq == words[i])
				r = fail(p, what, eq ? ": a name is empty" : ": every word must be KEY=VALUE");
			else if (push_pair(in, eq ? strndup(words[i], (size_t)(eq - words[i])) : strdup(words[i]),
					   eq ? strdup(eq + 1) : NULL) < 0)
				r = kb_err_oom(p->e, p->name);
		}
	}
	for (size_t i = 0; i < n; i++)
		free(words[i]);
	return r;
}

/* A here-document ("<<EOF", "<<-'EOF'") in RUN, COPY or ADD. */
static bool has_heredoc(const char *s)
{
	for (const char *h = strstr(s, "<<"); h; h = strstr(h + 2, "<<")) {
		const char *t = h + 2;
		if (*t == '-')
			t++;
		if (isalpha((unsigned char)*t) || *t == '_' || *t == '"' || *t == '\'')
			return true;
	}
	return false;
}

static int parse_args(const parser *p, const char *rest, df_instr *in)
{
	int r = 0;
	switch (in->kind) {
	case DF_ENV:
	case DF_LABEL:
	case DF_ARG:
		return parse_pairs(p, rest, in);
	case DF_RUN:
	case DF_CMD:
	case DF_ENTRYPOINT:
	case DF_SHELL:
	case DF_COPY:
	case DF_ADD:
	case DF_VOLUME:
		if (in->kind != DF_CMD && in->kind != DF_ENTRYPOINT && in->kind != DF_SHELL && has_heredoc(rest))
			return fail(p, "here-documents are not supported", NULL);
		if (rest[0] == '[' && (r = parse_json_form(rest, in)) != 0)
			return r < 0 ? kb_err_oom(p->e, p->name) : 0;
		if (in->kind == DF_SHELL)
			return fail(p, "SHELL wants a JSON array", NULL);
		if (in->kind == DF_COPY || in->kind == DF_ADD || in->kind == DF_VOLUME)
			break;
		/* The shell form: one string, as below. */
		__attribute__((fallthrough));
	case DF_WORKDIR:
	case DF_USER:
	case DF_STOPSIGNAL:
	case DF_HEALTHCHECK:
	case DF_ONBUILD:
	case DF_MAINTAINER:
		if (!*rest && in->kind != DF_CMD && in->kind != DF_ENTRYPOINT)
			return fail(p, dockerfile_kind_name(in->kind), " needs an argument");
		if (push_str(&in->args, &in->n_args, strdup(rest)) < 0)
			return kb_err_oom(p->e, p->name);
		return 0;
	case DF_FROM:
	case DF_EXPOSE:
		break;
	}
	r = split_words(rest, &in->args, &in->n_args);
	if (r == -EINVAL)
		return fail(p, "unterminated quote", NULL);
	if (r < 0)
		return kb_err_oom(p->e, p->name);
	if (in->kind == DF_FROM && in->n_args != 1 && !(in->n_args == 3 && !strcasecmp(in->args[1], "AS")))
		return fail(p, "FROM wants IMAGE or IMAGE AS NAME", NULL);
	if ((in->kind == DF_COPY || in->kind == DF_ADD) && in->n_args < 2)
		return fail(p, dockerfile_kind_name(in->kind), " wants a source and a destination");
	return 0;
}

/* One logical line (continuations joined, trailing blanks gone). */
static int parse_line(dockerfile *df, const parser *p, const char *text)
{
	const char *w = skip_blank(text), *rest;
	size_t len = strcspn(w, " \t");
	df_instr in = { .line = p->line };
	int r;

	if (parse_kind(w, len, &in.kind) < 0) {
		char word[64];
		snprintf(word, sizeof word, "%.*s", (int)(len < 40 ? len : 40), w);
		return fail(p, "unknown instruction ", word);
	}
	rest = skip_blank(w + len);
	if (in.kind == DF_FROM || in.kind == DF_RUN || in.kind == DF_COPY || in.kind == DF_ADD ||
	    in.kind == DF_HEALTHCHECK)
		r = parse_flags(p, &rest, &in);
	else
		r = 0;
	if (r == 0)
		r = parse_args(p, rest, &in);
	if (r == 0) {
		df_instr *v = realloc(df->v, (df->n + 1) * sizeof *v);
		if (!v)
			r = kb_err_oom(p->e, p->name);
		else {
			df->v = v;
			v[df->n++] = in;
			return 0;
		}
	}
	instr_free(&in);
	return r;
}

/* "# key=value" lines at the very top. */
static int directives(const char **sp, unsigned *line, const parser *p0)
{
	const char *s = *sp;
	for (;;) {
		const char *t = skip_blank(s);
		if (*t != '#')
			break;
		t = skip_blank(t + 1);
		size_t klen = strspn(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
		const char *eq = skip_blank(t + klen);
		if (!klen || *eq != '=')
			break;
		const char *v = skip_blank(eq + 1);
		parser p = *p0;
		p.line = *line;
		if (!strncasecmp(t, "escape", klen) && klen == 6 && *v != '\\')
			return fail(&p, "only the escape character \\ is supported", NULL);
		s += strcspn(s, "\n");
		if (*s)
			s++;
		(*line)++;
	}
	*sp = s;
	return 0;
}

int dockerfile_parse(const char *text, size_t len, const char *name, dockerfile **ret, kb_error *e)
{
	_cleanup_(dockerfile_freep) dockerfile *df = calloc(1, sizeof *df);
	_cleanup_free_ char *logical = NULL;
	size_t used = 0;
	parser p = { .name = name, .line = 1, .e = e };
	unsigned line = 1;
	int r;

	if (!df || !(df->name = strdup(name)) || !(logical = malloc(len + 1)))
		return kb_err_oom(e, name);
	if (memchr(text, 0, len))
		return kb_errx(e, EINVAL, "%s: not a text file", name);
	const char *s = text, *end = text + len;
	if ((r = directives(&s, &line, &p)) < 0)
		return r;
	for (; s < end; line++) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t n = (size_t)((nl ? nl : end) - s);
		const char *t = skip_blank(s);
		bool blank = (size_t)(t - s) >= n || *t == '\r';
		if (n > MAX_DOCKERFILE_LINE)
			return kb_errx(e, EINVAL, "%s:%u: line too long", name, line);
		/* Comment lines go, also inside a continued line; so do blank
		 * lines (docker build warns about those inside one). */
		if (!blank && *t != '#') {
			if (!used)
				p.line = line;
			while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
				n--;
			bool cont = n && s[n - 1] == '\\';
			memcpy(logical + used, s, n - cont);
			used += n - cont;
			if (!cont) {
				logical[used] = 0;
				used = 0;
				if ((r = parse_line(df, &p, logical)) < 0)
					return r;
			}
		}
		s = nl ? nl + 1 : end;
	}
	if (used) {    /* docker build takes a last line that asks to continue as it is */
		logical[used] = 0;
		if ((r = parse_line(df, &p, logical)) < 0)
			return r;
	}
	*ret = steal_ptr(df);
	return 0;
}

/* ---- word expansion ---- */

typedef struct buf {
	char *s;
	size_t n, cap;
} buf;

static int put(buf *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t cap = (b->n + n + 1) * 2;
		char *ns = realloc(b->s, cap);
		if (!ns)
			return -ENOMEM;
		b->s = ns;
		b->cap = cap;
	}
	memcpy(b->s + b->n, s, n);
	b->n += n;
	b->s[b->n] = 0;
	return 0;
}

static const char *lookup(char *const *vars, size_t n, const char *name, size_t len)
{
	for (size_t i = n; i-- > 0;)
		if (!strncmp(vars[i], name, len) && vars[i][len] == '=')
			return vars[i] + len + 1;
	return NULL;
}

/* ${A:-${B:-...}} nests a call per level: a Dockerfile must not run the
 * reader out of stack (a logical line may be a megabyte). */
#define MAX_EXPAND_DEPTH 32

static int expand_into(buf *b, const char **sp, char stop, char *const *vars, size_t nv, unsigned depth,
		       kb_error *e);

/* "${...}" at *sp (just past "${"). */
static int expand_brace(buf *b, const char **sp, char *const *vars, size_t nv, unsigned depth, kb_error *e)
{
	const char *s = *sp;
	size_t len = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
	const char *val = len ? lookup(vars, nv, s, len) : NULL;
	const char *op = s + len;

	if (!len || isdigit((unsigned char)*s))
		return kb_errx(e, EINVAL, "${%.20s: not a variable name", s);
	if (depth >= MAX_EXPAND_DEPTH)
		return kb_errx(e, EINVAL, "${%.20s: nested more than %d deep", s, MAX_EXPAND_DEPTH);
	if (*op == '}') {
		*sp = op + 1;
		return val ? put(b, val, strlen(val)) : 0;
	}
	bool colon = *op == ':';
	char kind = op[colon];
	if (kind != '-' && kind != '+')
		return kb_errx(e, EINVAL, "${%.*s%.3s...}: only ${NAME}, ${NAME:-word} and ${NAME:+word} are supported",
			       (int)len, s, op);
	/* ":-" and ":+" treat an empty value as unset; "-" and "+" do not. */
	bool set = val && (!colon || *val);
	bool use_word = kind == '-' ? !set : set;
	buf alt = { 0 };
	const char *w = op + colon + 1;
	int r = expand_into(&alt, &w, '}', vars, nv, depth + 1, e);
	if (r == 0 && *w != '}')
		r = kb_errx(e, EINVAL, "${%.*s...: no closing brace", (int)len, s);
	if (r == 0)
		r = use_word ? put(b, alt.s ? alt.s : "", alt.n) : val ? put(b, val, strlen(val)) : 0;
	free(alt.s);
	*sp = w + 1;
	return r;
}

/* "$..." at *sp (just past the "$"). */
static int expand_dollar(buf *b, const char **sp, char *const *vars, size_t nv, unsigned depth, kb_error *e)
{
	const char *s = *sp;
	if (*s == '{') {
		*sp = s + 1;
		return expand_brace(b, sp, vars, nv, depth, e);
	}
	size_t len = isalpha((unsigned char)*s) || *s == '_'
			     ? strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
			     : 0;
	if (!len)
		return put(b, "$", 1);    /* "$" before anything else stays */
	const char *val = lookup(vars, nv, s, len);
	*sp = s + len;
	return val ? put(b, val, strlen(val)) : 0;
}

/* Expand up to stop (0: the end) outside quotes; *sp ends on stop. */
static int expand_into(buf *b, const char **sp, char stop, char *const *vars, size_t nv, unsigned depth,
		       kb_error *e)
{
	const char *s = *sp;
	int r = put(b, "", 0);
	while (r == 0 && *s && *s != stop) {
		if (*s == '\\' && s[1]) {
			r = put(b, s + 1, 1);
			s += 2;
		} else if (*s == '\'') {
			const char *q = strchr(s + 1, '\'');
			if (!q)
				return kb_errx(e, EINVAL, "unterminated single quote");
			r = put(b, s + 1, (size_t)(q - s - 1));
			s = q + 1;
		} else if (*s == '"') {
			for (s++; r == 0 && *s != '"'; ) {
				if (!*s)
					return kb_errx(e, EINVAL, "unterminated double quote");
				if (*s == '\\' && (s[1] == '"' || s[1] == '\\' || s[1] == '$')) {
					r = put(b, s + 1, 1);
					s += 2;
				} else if (*s == '$') {
					s++;
					r = expand_dollar(b, &s, vars, nv, depth, e);
				} else {
					r = put(b, s++, 1);
				}
			}
			s++;
		} else if (*s == '$') {
			s++;
			r = expand_dollar(b, &s, vars, nv, depth, e);
		} else {
			r = put(b, s++, 1);
		}
	}
	*sp = s;
	return r == -ENOMEM ? kb_err_oom(e, "word expansion") : r;
}

int dockerfile_expand(const char *word, char *const *vars, size_t n_vars, char **ret, kb_error *e)
{
	buf b = { 0 };
	const char *s = word;
	int r = expand_into(&b, &s, 0, vars, n_vars, 0, e);
	if (r < 0) {
		free(b.s);
		return r;
	}
	*ret = b.s;
	return 0;
}
