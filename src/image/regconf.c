/* The user's registry configuration (regconf.h): "key = value" lines as
 * in kbuild-ns.conf, in [PREFIX] sections. */
#include "image/regconf.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

#define MAX_REGCONF (256 * 1024)
#define MAX_SECTIONS 256

int pull_policy_parse(const char *s, pull_policy *ret)
{
	static const char *const names[] = { "missing", "never", "always" };
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcmp(s, names[i])) {
			*ret = (pull_policy)i;
			return 0;
		}
	return -EINVAL;
}

const char *pull_policy_name(pull_policy p)
{
	return p == PULL_NEVER ? "never" : p == PULL_ALWAYS ? "always" : "missing";
}

void regconf_free(reg_conf *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_sec; i++) {
		free(c->sec[i].prefix);
		for (size_t k = 0; k < c->sec[i].n_mirrors; k++)
			free(c->sec[i].mirrors[k]);
		free(c->sec[i].cert_dir);
	}
	free(c->sec);
	free(c->path);
	free(c);
}

/* A registry location: host[:port][/path], no scheme, no user
 * information (credentials belong in the auth files, not here). */
static bool location_valid(const char *s)
{
	if (!*s || strstr(s, "://") || strchr(s, '@') || strchr(s, ' ') || s[strlen(s) - 1] == '/' || s[0] == '/')
		return false;
	return true;
}

static int set_bool(int *dst, const char *val, const char *path, unsigned ln, const char *key, kb_error *e)
{
	if (!strcmp(val, "true"))
		*dst = 1;
	else if (!strcmp(val, "false"))
		*dst = 0;
	else
		return kb_errx(e, EINVAL, "%s:%u: %s %s: must be true or false", path, ln, key, val);
	return 0;
}

static int section_key(reg_section *s, const char *key, const char *val, const char *path, unsigned ln, kb_error *e)
{
	if (!strcmp(key, "mirror")) {
		if (!location_valid(val))
			return kb_errx(e, EINVAL, "%s:%u: mirror %s: expected HOST[:PORT][/PATH]", path, ln, val);
		if (s->n_mirrors >= REG_MAX_MIRRORS)
			return kb_errx(e, E2BIG, "%s:%u: more than %d mirrors for %s", path, ln, REG_MAX_MIRRORS, s->prefix);
		s->mirrors[s->n_mirrors++] = xstrdup(val);
		return 0;
	}
	if (!strcmp(key, "insecure"))
		return set_bool(&s->insecure, val, path, ln, key, e);
	if (!strcmp(key, "cert-dir")) {
		if (val[0] != '/')
			return kb_errx(e, EINVAL, "%s:%u: cert-dir %s: must be an absolute path", path, ln, val);
		free(s->cert_dir);
		s->cert_dir = xstrdup(val);
		return 0;
	}
	return kb_errx(e, EINVAL, "%s:%u: unknown key \"%s\" in [%s]", path, ln, key, s->prefix);
}

static int new_section(reg_conf *c, char *line, const char *path, unsigned ln, kb_error *e)
{
	size_t n = strlen(line);
	if (line[n - 1] != ']')
		return kb_errx(e, EINVAL, "%s:%u: expected \"[REGISTRY]\"", path, ln);
	line[n - 1] = 0;
	char *p = str_trim(line + 1);
	if (!location_valid(p))
		return kb_errx(e, EINVAL, "%s:%u: [%s]: expected a registry HOST[:PORT] or a repository prefix", path, ln, p);
	if (c->n_sec >= MAX_SECTIONS)
		return kb_errx(e, E2BIG, "%s:%u: more than %d sections", path, ln, MAX_SECTIONS);
	reg_section *ns = realloc(c->sec, (c->n_sec + 1) * sizeof *ns);
	if (!ns)
		return kb_err_oom(e, path);
	c->sec = ns;
	c->sec[c->n_sec++] = (reg_section){ .prefix = xstrdup(p), .insecure = -1 };
	return 0;
}

static int parse(reg_conf *c, char *text, kb_error *e)
{
	unsigned ln = 0;
	char *s, *key, *val;
	while ((s = conf_next_line(&text, &ln))) {
		int r = 0;
		if (*s == '[') {
			if ((r = new_section(c, s, c->path, ln, e)) < 0)
				return r;
			continue;
		}
		if (!conf_split(s, &key, &val))
			return kb_errx(e, EINVAL, "%s:%u: expected \"key = value\"", c->path, ln);
		if (c->n_sec) {
			r = section_key(&c->sec[c->n_sec - 1], key, val, c->path, ln, e);
		} else if (!strcmp(key, "pull")) {
			pull_policy p = PULL_MISSING;
			if (pull_policy_parse(val, &p) < 0)
				r = kb_errx(e, EINVAL, "%s:%u: pull %s: must be missing, never or always", c->path, ln, val);
			c->pull = (int)p;
		} else {
			r = kb_errx(e, EINVAL, "%s:%u: unknown key \"%s\" (registry keys go in a [REGISTRY] section)",
				    c->path, ln, key);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

/* The file to read: the first of the places in regconf.h that exists. */
static char *find_path(void)
{
	const char *env = getenv("KBUILD_NS_REGISTRIES_CONF"), *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	if (env && *env)
		return xstrdup(env);
	char *p = NULL;
	if (xdg && xdg[0] == '/')
		p = xasprintf("%s/kbuild-ns/registries.conf", xdg);
	else if (home && home[0] == '/')
		p = xasprintf("%s/.config/kbuild-ns/registries.conf", home);
	if (p && access(p, F_OK) == 0)
		return p;
	free(p);
	return xstrdup("/etc/kbuild-ns/registries.conf");
}

int regconf_load(const char *path, reg_conf **ret, kb_error *e)
{
	_cleanup_(regconf_freep) reg_conf *c = calloc(1, sizeof *c);
	_cleanup_free_ char *text = NULL;
	if (!c)
		return kb_err_oom(e, "registries.conf");
	c->pull = -1;
	c->path = path ? xstrdup(path) : find_path();
	int r = read_file_at(AT_FDCWD, c->path, MAX_REGCONF, &text, NULL);
	if (r == -ENOENT && !path) {
		free(c->path);
		c->path = NULL;
		*ret = steal_ptr(c);
		return 0;
	}
	if (r < 0)
		return kb_err(e, -r, "%s", c->path);
	if ((r = parse(c, text, e)) < 0)
		return r;
	*ret = steal_ptr(c);
	return 0;
}

const reg_section *regconf_find(const reg_conf *c, const char *name)
{
	const reg_section *best = NULL;
	size_t best_len = 0;
	for (size_t i = 0; c && i < c->n_sec; i++) {
		size_t n = strlen(c->sec[i].prefix);
		if (strncmp(name, c->sec[i].prefix, n) || (name[n] && name[n] != '/'))
			continue;
		if (n > best_len) {
			best = &c->sec[i];
			best_len = n;
		}
	}
	return best;
}
