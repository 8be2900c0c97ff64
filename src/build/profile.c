/* The build profile of a checkout (profile.h): the checkout's facts, the
 * built-in profiles and kbuild-ns.conf. */
#include "build/profile.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#define KUBE_WORKDIR "/go/src/k8s.io/kubernetes"
#define CONF_NAME "kbuild-ns.conf"
#define MAX_CONF (64 * 1024)

void profile_free(kb_profile *p)
{
	if (!p)
		return;
	free(p->checkout);
	free(p->branch);
	free(p->cross_tag);
	free(p->base_version);
	free(p->image);
	free(p->workdir);
	free(p->home);
	sync_rules_free(&p->rules);
	for (size_t i = 0; i < p->n_env; i++)
		free(p->env[i]);
	free(p->env);
	for (size_t i = 0; i < p->n_pass; i++)
		free(p->pass[i]);
	free(p->pass);
	free(p);
}

static int add_str(char ***v, size_t *n, const char *s)
{
	char **nv = realloc(*v, (*n + 1) * sizeof *nv);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	if (!(nv[*n] = strdup(s)))
		return -ENOMEM;
	(*n)++;
	return 0;
}

/* The classic filters (build/common.sh): /_tmp/ and /_output/ are never
 * sent and never deleted inside, so the build's _output survives; only
 * binaries and generated code come back, never the Go workspace. */
static int set_defaults(kb_profile *p, bool kube, bool user_host)
{
	static const char *const in_excl[] = { "/_tmp/", "/_output/" };
	static const char *const kube_out[] = { "/_output/dockerized/bin/**", "zz_generated.*", "generated.proto",
						"*.pb.go", "types.go" };
	static const char *const kube_out_excl[] = { "/_output/dockerized/go/**", "/_temp/" };
	static const char *const gen_out[] = { "/_output/bin/**" };
	int r = 0;

	p->name = kube ? "kube" : "generic";
	p->kube = kube;
	free(p->workdir);
	free(p->home);
	p->workdir = strdup(kube ? KUBE_WORKDIR : "/src");
	p->home = strdup(kube ? KUBE_WORKDIR : user_host ? "/src" : "/root");
	sync_rules_free(&p->rules);
	for (size_t i = 0; i < ARRAY_SIZE(in_excl) && r == 0; i++)
		r = pattern_add(&p->rules.exclude, in_excl[i]);
	for (size_t i = 0; kube && i < ARRAY_SIZE(kube_out) && r == 0; i++)
		r = pattern_add(&p->rules.include, kube_out[i]);
	for (size_t i = 0; kube && i < ARRAY_SIZE(kube_out_excl) && r == 0; i++)
		r = pattern_add(&p->rules.out_exclude, kube_out_excl[i]);
	for (size_t i = 0; !kube && i < ARRAY_SIZE(gen_out) && r == 0; i++)
		r = pattern_add(&p->rules.include, gen_out[i]);
	if (kube && r == 0)
		r = add_str(&p->env, &p->n_env, "KUBE_OUTPUT_SUBPATH=_output/dockerized");
	if (kube && r == 0)
		r = add_str(&p->env, &p->n_env, "TMPDIR=/tmp.k8s");
	if (!p->workdir || !p->home)
		r = -ENOMEM;
	return r;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = 0;
	return s;
}

/* Split "key = value" lines; calls fn for each.  Returns fn's error. */
typedef int (*line_fn)(kb_profile *p, const char *key, const char *val, bool *replaced, kb_error *e,
		       unsigned line);

static int each_line(char *text, kb_profile *p, line_fn fn, kb_error *e)
{
	bool replaced[3] = { false, false, false };
	unsigned ln = 0;
	for (char *line = text, *next; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		ln++;
		char *s = trim(line);
		if (!*s || *s == '#')
			continue;
		char *eq = strchr(s, '=');
		if (!eq)
			return kb_errx(e, EINVAL, CONF_NAME ":%u: expected \"key = value\"", ln);
		*eq = 0;
		char *key = trim(s), *val = trim(eq + 1);
		int r = fn(p, key, val, replaced, e, ln);
		*eq = '=';
		if (r < 0)
			return r;
	}
	return 0;
}

static int first_pass(kb_profile *p, const char *key, const char *val, bool *replaced, kb_error *e, unsigned ln)
{
	(void)replaced;
	if (strcmp(key, "profile"))
		return 0;
	if (strcmp(val, "kube") && strcmp(val, "generic"))
		return kb_errx(e, EINVAL, CONF_NAME ":%u: profile %s: must be kube or generic", ln, val);
	p->name = !strcmp(val, "kube") ? "kube" : "generic";
	return 0;
}

static int set_path(char **dst, const char *key, const char *val, kb_error *e, unsigned ln)
{
	if (val[0] != '/' || strstr(val, "/../") || !strcmp(val, "/") ||
	    (strlen(val) >= 3 && !strcmp(val + strlen(val) - 3, "/..")))
		return kb_errx(e, EINVAL, CONF_NAME ":%u: %s %s: must be an absolute path below /", ln, key, val);
	free(*dst);
	return (*dst = strdup(val)) ? 0 : -ENOMEM;
}

static int list_key(pattern_list *l, bool *replaced, const char *key, const char *val, kb_error *e, unsigned ln)
{
	if (!*replaced) {    /* the file's list replaces the profile's */
		pattern_list_free(l);
		*replaced = true;
	}
	if (pattern_add(l, val) < 0)
		return kb_errx(e, EINVAL, CONF_NAME ":%u: %s: empty pattern", ln, key);
	return 0;
}

static int second_pass(kb_profile *p, const char *key, const char *val, bool *replaced, kb_error *e, unsigned ln)
{
	if (!strcmp(key, "profile"))
		return 0;
	if (!strcmp(key, "image")) {
		free(p->image);
		return (p->image = strdup(val)) ? 0 : -ENOMEM;
	}
	if (!strcmp(key, "workdir"))
		return set_path(&p->workdir, key, val, e, ln);
	if (!strcmp(key, "home"))
		return set_path(&p->home, key, val, e, ln);
	if (!strcmp(key, "exclude"))
		return list_key(&p->rules.exclude, &replaced[0], key, val, e, ln);
	if (!strcmp(key, "copy-out"))
		return list_key(&p->rules.include, &replaced[1], key, val, e, ln);
	if (!strcmp(key, "copy-out-exclude"))
		return list_key(&p->rules.out_exclude, &replaced[2], key, val, e, ln);
	if (!strcmp(key, "env")) {
		const char *q = strchr(val, '=');
		if (!q || q == val)
			return kb_errx(e, EINVAL, CONF_NAME ":%u: env %s: expected NAME=VALUE", ln, val);
		return add_str(&p->env, &p->n_env, val);
	}
	if (!strcmp(key, "pass-env")) {
		if (!*val || strchr(val, '='))
			return kb_errx(e, EINVAL, CONF_NAME ":%u: pass-env %s: expected a variable name", ln, val);
		return add_str(&p->pass, &p->n_pass, val);
	}
	return kb_errx(e, EINVAL, CONF_NAME ":%u: unknown key \"%s\"", ln, key);
}

/* ---- the checkout's facts ---- */

/* The branch as `git symbolic-ref --short -q HEAD` prints it, read from
 * .git/HEAD directly (no git needed on the host); "" when detached. */
static char *read_branch(int dirfd)
{
	_cleanup_free_ char *head = NULL, *gitfile = NULL;
	_cleanup_close_ int gitdir = -1;
	struct stat st;

	if (fstatat(dirfd, ".git", &st, 0) < 0)
		return strdup("");
	if (S_ISDIR(st.st_mode)) {
		gitdir = openat(dirfd, ".git", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} else if (read_file_at(dirfd, ".git", 4096, &gitfile, NULL) == 0 && !strncmp(gitfile, "gitdir: ", 8)) {
		/* A worktree or submodule: ".git" names the real git dir. */
		gitfile[strcspn(gitfile, "\n")] = 0;
		gitdir = openat(dirfd, gitfile + 8, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (gitdir < 0 || read_file_at(gitdir, "HEAD", 4096, &head, NULL) < 0)
		return strdup("");
	head[strcspn(head, "\n")] = 0;
	if (strncmp(head, "ref: refs/heads/", 16))
		return strdup("");
	return strdup(head + 16);
}

/* The first word of a one-line file of the checkout (a tag or a
 * version): *ret stays NULL when the file is absent. */
static int read_word(int cfd, const kb_profile *p, const char *file, char **ret, kb_error *e)
{
	char *w = NULL;
	int r = read_file_at(cfd, file, 4096, &w, NULL);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return kb_err(e, -r, "checkout %s: %s", p->checkout, file);
	w[strcspn(w, " \t\r\n")] = 0;
	if (!w[0] || strchr(w, '/')) {
		free(w);
		return kb_errx(e, EINVAL, "checkout %s: %s does not hold a tag", p->checkout, file);
	}
	*ret = w;
	return 0;
}

static int read_checkout(kb_profile *p, const char *dir, int *ret_cfd, kb_error *e)
{
	int r;

	if (!(p->checkout = realpath(dir, NULL)))
		return kb_err(e, errno, "checkout %s", dir);
	int cfd = open(p->checkout, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cfd < 0)
		return kb_err(e, errno, "checkout %s", p->checkout);
	*ret_cfd = cfd;
	if (!(p->branch = read_branch(cfd)))
		return kb_err_oom(e, "checkout");
	if ((r = read_word(cfd, p, "build/build-image/cross/VERSION", &p->cross_tag, e)) < 0)
		return r;
	/* Upstream's state version is VERSION_BASE-CROSS_TAG (build/common.sh). */
	if (p->cross_tag && (r = read_word(cfd, p, "build/build-image/VERSION", &p->base_version, e)) < 0)
		return r;
	return 0;
}

int profile_load(const char *dir, bool user_host, kb_profile **ret, kb_error *e)
{
	_cleanup_(profile_freep) kb_profile *p = calloc(1, sizeof *p);
	_cleanup_free_ char *text = NULL;
	_cleanup_close_ int cfd = -1;
	int r;

	if (!p)
		return kb_err_oom(e, "profile");
	if ((r = read_checkout(p, dir, &cfd, e)) < 0)
		return r;
	r = read_file_at(cfd, CONF_NAME, MAX_CONF, &text, NULL);
	if (r < 0 && r != -ENOENT)
		return kb_err(e, -r, "%s/" CONF_NAME, p->checkout);
	p->name = p->cross_tag ? "kube" : "generic";
	/* each_line cuts the text it reads: the first pass gets a copy. */
	_cleanup_free_ char *copy = text ? strdup(text) : NULL;
	if (text && !copy)
		return kb_err_oom(e, CONF_NAME);
	if (copy && (r = each_line(copy, p, first_pass, e)) < 0)
		return r;
	if ((r = set_defaults(p, !strcmp(p->name, "kube"), user_host)) < 0)
		return kb_err_oom(e, "profile");
	if (text && (r = each_line(text, p, second_pass, e)) < 0)
		return r == -ENOMEM ? kb_err_oom(e, CONF_NAME) : r;
	p->from_file = text != NULL;
	*ret = steal_ptr(p);
	return 0;
}

int profile_builtin(const char *name, bool user_host, kb_profile **ret, kb_error *e)
{
	_cleanup_(profile_freep) kb_profile *p = calloc(1, sizeof *p);
	if (!p)
		return kb_err_oom(e, "profile");
	if (strcmp(name, "kube") && strcmp(name, "generic"))
		return kb_errx(e, EINVAL, "profile %s: must be kube or generic", name);
	if (set_defaults(p, !strcmp(name, "kube"), user_host) < 0)
		return kb_err_oom(e, "profile");
	*ret = steal_ptr(p);
	return 0;
}

char *profile_image_ref(const kb_profile *p, const char *opt)
{
	const char *env = getenv("KBUILD_NS_IMAGE");
	if (opt)
		return xstrdup(opt);
	if (env && *env)
		return xstrdup(env);
	if (p->image)
		return xstrdup(p->image);
	return p->cross_tag ? xasprintf("kube-cross:%s", p->cross_tag) : NULL;
}

/* The default of `NAME="${NAME:-VALUE}"` in a shell script's text. */
static char *shell_default(const char *text, const char *name)
{
	_cleanup_free_ char *pat = xasprintf("%s=\"${%s:-", name, name);
	const char *p = strstr(text, pat);
	if (!p)
		return NULL;
	p += strlen(pat);
	size_t n = strcspn(p, "}\"\n");
	if (n == 0 || p[n] != '}' || memchr(p, '$', n))
		return NULL;
	return strndup(p, n);
}

/* The kube-cross repository the tree's own build names. */
static char *tree_cross_repo(const kb_profile *p)
{
	_cleanup_close_ int cfd = open(p->checkout, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_free_ char *common = NULL, *docker = NULL;
	char *v = NULL;
	if (cfd < 0)
		return NULL;
	if (read_file_at(cfd, "build/common.sh", MAX_CONF * 4, &common, NULL) == 0 &&
	    (v = shell_default(common, "KUBE_BASE_IMAGE_REGISTRY"))) {
		char *r = xasprintf("%s/kube-cross", v);
		free(v);
		return r;
	}
	/* 2017: FROM gcr.io/google_containers/kube-cross:KUBE_BUILD_IMAGE_CROSS_TAG */
	if (read_file_at(cfd, "build/build-image/Dockerfile", MAX_CONF, &docker, NULL) == 0) {
		const char *f = strstr(docker, "\nFROM ");
		const char *t = f ? strstr(f, ":KUBE_BUILD_IMAGE_CROSS_TAG") : NULL;
		if (t && !memchr(f + 6, '\n', (size_t)(t - f - 6)))
			return strndup(f + 6, (size_t)(t - f - 6));
	}
	return NULL;
}

char *profile_pull_ref(const kb_profile *p, const char *opt)
{
	const char *env = getenv("KBUILD_NS_IMAGE");
	if (opt || (env && *env) || p->image || !p->cross_tag)
		return profile_image_ref(p, opt);
	const char *img = getenv("KUBE_CROSS_IMAGE"), *ver = getenv("KUBE_CROSS_VERSION");
	const char *base = getenv("KUBE_BASE_IMAGE_REGISTRY");
	_cleanup_free_ char *repo = NULL;
	if (img && *img)
		repo = xstrdup(img);
	else if (base && *base)
		repo = xasprintf("%s/kube-cross", base);
	else if (!(repo = tree_cross_repo(p)))
		repo = xstrdup("registry.k8s.io/build-image/kube-cross");
	return xasprintf("%s:%s", repo, ver && *ver ? ver : p->cross_tag);
}
