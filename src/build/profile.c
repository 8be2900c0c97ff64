/* The build profile of a checkout (profile.h): the checkout's facts, the
 * built-in profiles and kbuild-ns.conf. */
#include "build/profile.h"
#include "base/progress.h"

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
	free(p->subdir);
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
 * .git/HEAD directly (no git needed on the host); "" when detached or
 * not a git checkout.  A .git or HEAD that is there but no regular file
 * (a FIFO, say) is an error: silently another branch would be another
 * state key. */
static int read_branch(int dirfd, const char *checkout, char **ret, kb_error *e)
{
	_cleanup_free_ char *head = NULL, *gitfile = NULL;
	_cleanup_close_ int gitdir = -1;
	struct stat st;
	int r;

	*ret = NULL;
	if (fstatat(dirfd, ".git", &st, 0) < 0)
		return (*ret = strdup("")) ? 0 : kb_err_oom(e, "checkout");
	if (S_ISDIR(st.st_mode)) {
		gitdir = openat(dirfd, ".git", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} else if ((r = read_file_at(dirfd, ".git", 4096, &gitfile, NULL)) < 0) {
		return kb_errx(e, -r, "checkout %s: .git: %s", checkout, read_file_strerror(r));
	} else if (!strncmp(gitfile, "gitdir: ", 8)) {
		/* A worktree or submodule: ".git" names the real git dir. */
		gitfile[strcspn(gitfile, "\n")] = 0;
		gitdir = openat(dirfd, gitfile + 8, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (gitdir >= 0 && (r = read_file_at(gitdir, "HEAD", 4096, &head, NULL)) < 0 && r != -ENOENT)
		return kb_errx(e, -r, "checkout %s: .git/HEAD: %s", checkout, read_file_strerror(r));
	if (!head || strncmp(head, "ref: refs/heads/", 16))
		return (*ret = strdup("")) ? 0 : kb_err_oom(e, "checkout");
	head[strcspn(head, "\n")] = 0;
	return (*ret = strdup(head + 16)) ? 0 : kb_err_oom(e, "checkout");
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
		return kb_errx(e, -r, "checkout %s: %s: %s", p->checkout, file, read_file_strerror(r));
	w[strcspn(w, " \t\r\n")] = 0;
	if (!w[0] || strchr(w, '/')) {
		free(w);
		return kb_errx(e, EINVAL, "checkout %s: %s does not hold a tag", p->checkout, file);
	}
	*ret = w;
	return 0;
}

/* ---- the checkout's top ---- */

/* What marks a checkout's top, in the order -v names them. */
static const char *const top_marks[] = { "build/build-image/cross/VERSION", CONF_NAME, ".git" };

static const char *top_mark(const char *dir)
{
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;
	for (size_t i = 0; dfd >= 0 && i < ARRAY_SIZE(top_marks); i++)
		if (fstatat(dfd, top_marks[i], &st, 0) == 0)
			return top_marks[i];
	return NULL;
}

/* The parent of an absolute physical path, cut in place; false at "/". */
static bool up(char *path)
{
	char *slash = strrchr(path, '/');
	if (!slash || (slash == path && !path[1]))
		return false;
	slash[slash == path] = 0;    /* "/a" -> "/" */
	return true;
}

/* Walk up from start (physical) to the checkout's top (profile.h).  The
 * stops are git's, and $HOME: a home directory that is a git repository
 * (dotfiles) must not become the checkout of every directory under it. */
static int find_top(kb_profile *p, const char *start, kb_error *e)
{
	_cleanup_free_ char *cur = xstrdup(start), *home = NULL;
	const char *h = getenv("HOME");
	struct stat st0, st;

	if (h && *h == '/')
		home = realpath(h, NULL);
	if (stat(start, &st0) < 0)
		return kb_err(e, errno, "checkout %s", start);
	do {
		bool at_start = !strcmp(cur, start);
		if (!at_start && (!strcmp(cur, "/") || (home && !strcmp(cur, home))))
			break;
		if (!at_start && (stat(cur, &st) < 0 || st.st_dev != st0.st_dev))
			break;
		if ((p->found_by = top_mark(cur))) {
			p->checkout = steal_ptr(cur);
			break;
		}
	} while (up(cur));
	if (!p->checkout)
		p->checkout = xstrdup(start);
	size_t n = strlen(p->checkout);
	p->subdir = xstrdup(start[n] == '/' ? start + n + 1 : !strcmp(p->checkout, "/") ? start + 1 : "");
	if (!p->found_by)
		out_verbose("checkout %s (no %s, %s or %s here or above it)", p->checkout, top_marks[0], top_marks[1],
			    top_marks[2]);
	else if (p->subdir[0])
		out_verbose("checkout %s (it has %s; started in its subdirectory %s)", p->checkout, p->found_by, p->subdir);
	else
		out_verbose("checkout %s (it has %s)", p->checkout, p->found_by);
	return 0;
}

static int read_checkout(kb_profile *p, const char *dir, int *ret_cfd, kb_error *e)
{
	_cleanup_free_ char *start = realpath(dir, NULL);
	int r;

	if (!start)
		return kb_err(e, errno, "checkout %s", dir);
	if ((r = find_top(p, start, e)) < 0)
		return r;
	int cfd = open(p->checkout, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cfd < 0)
		return kb_err(e, errno, "checkout %s", p->checkout);
	*ret_cfd = cfd;
	if ((r = read_branch(cfd, p->checkout, &p->branch, e)) < 0)
		return r;
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
		return kb_errx(e, -r, "%s/" CONF_NAME ": %s", p->checkout, read_file_strerror(r));
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
