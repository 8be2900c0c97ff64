/* The build profile of a checkout (profile.h): the checkout's facts, the
 * built-in profiles, the tree's own build/ files and kbuild-ns.conf. */
#include "build/profile.h"
#include "base/progress.h"
#include "build/shellrules.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

#define KUBE_WORKDIR "/go/src/k8s.io/kubernetes"
#define CONF_NAME "kbuild-ns.conf"
#define MAX_CONF (64 * 1024)
#define MAX_TREE_FILE (1u << 20)
#define COMMON_SH "build/common.sh"
#define RSYNCD_SH "build/build-image/rsyncd.sh"
#define DOCKERFILE "build/build-image/Dockerfile"
#define VERSION_SH "hack/lib/version.sh"
#define BUILT_IN "built in"
/* build/common.sh (kube::build::update_dockerfile, 2017) puts the cross
 * tag in place of this word with sed before docker build. */
#define CROSS_TAG_PLACEHOLDER "KUBE_BUILD_IMAGE_CROSS_TAG"

/* The built-in rules: the classic ones of build/common.sh and rsyncd.sh
 * in the form kbuild-ns.conf(5) lists them.  Sync-in: /_tmp/ and
 * /_output/ are never sent and never deleted inside, so the build's
 * _output survives; copy-out: binaries and generated code, never the Go
 * workspace nor the daemon's excluded /_tmp/. */
static const char *const builtin_exclude[] = { "/_tmp/", "/_output/" };
static const char *const kube_copy_out[] = { "/_output/dockerized/bin/**", "zz_generated.*", "generated.proto",
					     "*.pb.go", "types.go" };
static const char *const kube_copy_out_exclude[] = { "/_tmp/", "/_temp/", "/_output/dockerized/go/**" };
static const char *const generic_copy_out[] = { "/_output/bin/**" };

static void conf_list_free(conf_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	free(l->line);
	*l = (conf_list){ 0 };
}

static void strs_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

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
	free(p->workdir_from);
	free(p->home_from);
	sync_rules_free(&p->rules);
	free(p->rules_from[0]);
	free(p->rules_from[1]);
	strs_free(p->env, p->n_env);
	strs_free(p->pass, p->n_pass);
	conf_list_free(&p->exclude);
	conf_list_free(&p->copy_out);
	conf_list_free(&p->copy_out_exclude);
	dockerfile_free(p->dockerfile);
	buildimage_free(p->plan);
	free(p->from_ref);
	free(p->from_short);
	strs_free(p->notes, p->n_notes);
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

static void note(kb_profile *p, const char *fmt, ...) _printf_(2, 3);
static void note(kb_profile *p, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	(void)add_str(&p->notes, &p->n_notes, buf);    /* information only */
}

static void set_from(char **dst, const char *fmt, ...) _printf_(2, 3);
static void set_from(char **dst, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	free(*dst);
	*dst = s ? s : xstrdup("?");
}

static int set_defaults(kb_profile *p, bool kube, bool user_host)
{
	int r = 0;

	p->name = kube ? "kube" : "generic";
	p->kube = kube;
	free(p->workdir);
	free(p->home);
	p->workdir = xstrdup(kube ? KUBE_WORKDIR : "/src");
	p->home = xstrdup(kube ? KUBE_WORKDIR : user_host ? "/src" : "/root");
	set_from(&p->workdir_from, BUILT_IN);
	set_from(&p->home_from, BUILT_IN);
	/* As the classic kube-build image sets them on top of kube-cross. */
	if (kube)
		r = add_str(&p->env, &p->n_env, "KUBE_OUTPUT_SUBPATH=_output/dockerized");
	if (kube && r == 0)
		r = add_str(&p->env, &p->n_env, "TMPDIR=/tmp.k8s");
	return r;
}

/* ---- kbuild-ns.conf ---- */

/* Split "key = value" lines; calls fn for each.  Returns fn's error. */
typedef int (*line_fn)(kb_profile *p, const char *key, const char *val, kb_error *e, unsigned line);

static int each_line(char *text, kb_profile *p, line_fn fn, kb_error *e)
{
	unsigned ln = 0;
	char *s, *key, *val, *eq;
	while ((s = conf_next_line(&text, &ln))) {
		if (!(eq = conf_split(s, &key, &val)))
			return kb_errx(e, EINVAL, CONF_NAME ":%u: expected \"key = value\"", ln);
		int r = fn(p, key, val, e, ln);
		*eq = '=';
		if (r < 0)
			return r;
	}
	return 0;
}

static int first_pass(kb_profile *p, const char *key, const char *val, kb_error *e, unsigned ln)
{
	if (strcmp(key, "profile"))
		return 0;
	if (strcmp(val, "kube") && strcmp(val, "generic"))
		return kb_errx(e, EINVAL, CONF_NAME ":%u: profile %s: must be kube or generic", ln, val);
	p->name = !strcmp(val, "kube") ? "kube" : "generic";
	return 0;
}

static int set_path(char **dst, char **from, const char *key, const char *val, kb_error *e, unsigned ln)
{
	if (val[0] != '/' || strstr(val, "/../") || !strcmp(val, "/") ||
	    (strlen(val) >= 3 && !strcmp(val + strlen(val) - 3, "/..")))
		return kb_errx(e, EINVAL, CONF_NAME ":%u: %s %s: must be an absolute path below /", ln, key, val);
	free(*dst);
	*dst = xstrdup(val);
	set_from(from, CONF_NAME ":%u", ln);
	return 0;
}

static int list_key(conf_list *l, const char *key, const char *val, kb_error *e, unsigned ln)
{
	if (!*val)
		return kb_errx(e, EINVAL, CONF_NAME ":%u: %s: empty pattern", ln, key);
	char **v = realloc(l->v, (l->n + 1) * sizeof *v);
	if (v)
		l->v = v;
	unsigned *lines = v ? realloc(l->line, (l->n + 1) * sizeof *lines) : NULL;
	if (!lines)
		return -ENOMEM;
	l->line = lines;
	l->v[l->n] = xstrdup(val);
	l->line[l->n++] = ln;
	l->set = true;
	return 0;
}

static int second_pass(kb_profile *p, const char *key, const char *val, kb_error *e, unsigned ln)
{
	if (!strcmp(key, "profile"))
		return 0;
	if (!strcmp(key, "image")) {
		free(p->image);
		return (p->image = strdup(val)) ? 0 : -ENOMEM;
	}
	if (!strcmp(key, "workdir"))
		return set_path(&p->workdir, &p->workdir_from, key, val, e, ln);
	if (!strcmp(key, "home"))
		return set_path(&p->home, &p->home_from, key, val, e, ln);
	if (!strcmp(key, "exclude"))
		return list_key(&p->exclude, key, val, e, ln);
	if (!strcmp(key, "copy-out"))
		return list_key(&p->copy_out, key, val, e, ln);
	if (!strcmp(key, "copy-out-exclude"))
		return list_key(&p->copy_out_exclude, key, val, e, ln);
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

/* ---- the rules ---- */

/* "KIND PATTERN" for each pattern: the conf's list (with its lines) or
 * the built-in one. */
static int add_patterns(filter_list *l, const char *kind, const conf_list *conf, const char *key,
			const char *const *builtin, size_t n_builtin, kb_error *e)
{
	size_t n = conf->set ? conf->n : n_builtin;
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *rule = xasprintf("%s %s", kind, conf->set ? conf->v[i] : builtin[i]);
		_cleanup_free_ char *origin = conf->set ? xasprintf(CONF_NAME ":%u", conf->line[i]) : xstrdup(BUILT_IN);
		if (filter_add(l, rule, origin, e) < 0) {
			if (conf->set)
				kb_err_prefix(e, "%s: %s", origin, key);
			return -EINVAL;
		}
	}
	return 0;
}

/* Copy-out as kbuild-ns.conf(5) describes it: the copy-out-exclude
 * patterns, then the copy-out ones, then every directory entered and
 * nothing else sent. */
static int patterns_out(kb_profile *p, kb_error *e)
{
	filter_list *l = &p->rules.out;
	int r = p->kube ? add_patterns(l, "-", &p->copy_out_exclude, "copy-out-exclude", kube_copy_out_exclude,
				       ARRAY_SIZE(kube_copy_out_exclude), e)
			: add_patterns(l, "-", &p->copy_out_exclude, "copy-out-exclude", NULL, 0, e);
	if (r == 0)
		r = p->kube ? add_patterns(l, "+", &p->copy_out, "copy-out", kube_copy_out, ARRAY_SIZE(kube_copy_out), e)
			    : add_patterns(l, "+", &p->copy_out, "copy-out", generic_copy_out, ARRAY_SIZE(generic_copy_out), e);
	if (r == 0 && (filter_add(l, "+ */", BUILT_IN, e) < 0 || filter_add(l, "- /**", BUILT_IN, e) < 0))
		r = -ENOMEM;
	return r;
}

/* What the tree's scripts say, for one direction. */
typedef struct tree_rules {
	filter_list l;
	char *from;
	kb_error err;               /* the tree's rules could not be read */
	bool ok;
} tree_rules;

static void tree_rules_free(tree_rules *t)
{
	filter_list_free(&t->l);
	free(t->from);
}

/* One function of build/common.sh, after the daemon's and
 * kube::build::rsync's rules. */
static void tree_direction(kb_profile *p, const char *common, const filter_list *first, const char *fn, tree_rules *t)
{
	filter_list own = { 0 };
	unsigned line = 0;
	int r = shell_function_filters(common, COMMON_SH, fn, &own, &line, &t->err);
	if (r == 0)
		note(p, COMMON_SH " has no function %s: built-in rules for it", fn);
	else if (r > 0 && own.n == 0 && first->n == 0)
		note(p, COMMON_SH ":%u: %s has no literal --filter: built-in rules for it", line, fn);
	else if (r > 0 && filter_append(&t->l, first, &t->err) == 0 && filter_append(&t->l, &own, &t->err) == 0) {
		t->ok = true;
		set_from(&t->from, COMMON_SH ":%u (%s)", line, fn);
	}
	filter_list_free(&own);
}

static void read_tree_rules(kb_profile *p, int cfd, tree_rules *in, tree_rules *out)
{
	_cleanup_free_ char *common = NULL, *rsyncd = NULL;
	filter_list first = { 0 };
	unsigned line = 0;
	kb_error err = { 0 };
	int r = read_file_at(cfd, COMMON_SH, MAX_TREE_FILE, &common, NULL);

	if (r < 0) {
		note(p, "no readable " COMMON_SH ": built-in sync rules");
		return;
	}
	/* The daemon's filter comes first on its side of both transfers. */
	if (read_file_at(cfd, RSYNCD_SH, MAX_TREE_FILE, &rsyncd, NULL) == 0 &&
	    rsyncd_filters(rsyncd, RSYNCD_SH, &first, &err) < 0) {
		in->err = out->err = err;
		filter_list_free(&first);
		return;
	}
	r = shell_function_filters(common, COMMON_SH, "kube::build::rsync", &first, &line, &err);
	if (r < 0) {
		in->err = out->err = err;
	} else {
		tree_direction(p, common, &first, "kube::build::sync_to_container", in);
		tree_direction(p, common, &first, "kube::build::copy_output", out);
	}
	filter_list_free(&first);
}

/* The rules of both directions: kbuild-ns.conf's keys, else the tree's,
 * else the built-in ones.  A tree whose rules cannot be read is refused
 * unless kbuild-ns.conf gives that direction's rules. */
static int compile_rules(kb_profile *p, int cfd, kb_error *e)
{
	tree_rules in = { 0 }, out = { 0 };
	int r = 0;

	if (p->kube && !(p->exclude.set && (p->copy_out.set || p->copy_out_exclude.set)))
		read_tree_rules(p, cfd, &in, &out);
	/* The version file kbuild-ns writes into the snapshot (version.h)
	 * is the receiving side's: never deleted by sync-in. */
	if (p->kube && filter_add(&p->rules.in, "P /.dockerized-kube-version-defs", BUILT_IN, e) < 0)
		r = -ENOMEM;
	if (r == 0 && p->exclude.set) {
		r = add_patterns(&p->rules.in, "-", &p->exclude, "exclude", NULL, 0, e);
		set_from(&p->rules_from[0], CONF_NAME " (exclude)");
	} else if (r == 0 && in.ok) {
		r = filter_append(&p->rules.in, &in.l, e);
		p->rules_from[0] = steal_ptr(in.from);
	} else if (r == 0) {
		r = add_patterns(&p->rules.in, "-", &p->exclude, "exclude", builtin_exclude, ARRAY_SIZE(builtin_exclude), e);
		set_from(&p->rules_from[0], BUILT_IN);
		if (kb_err_set(&in.err) && !kb_err_set(&p->refusal))
			p->refusal = in.err;
	}
	if (r == 0 && !(p->copy_out.set || p->copy_out_exclude.set) && out.ok) {
		r = filter_append(&p->rules.out, &out.l, e);
		p->rules_from[1] = steal_ptr(out.from);
	} else if (r == 0) {
		r = patterns_out(p, e);
		set_from(&p->rules_from[1], p->copy_out.set || p->copy_out_exclude.set ? CONF_NAME " (copy-out)" : BUILT_IN);
		if (!(p->copy_out.set || p->copy_out_exclude.set) && kb_err_set(&out.err) && !kb_err_set(&p->refusal))
			p->refusal = out.err;
	}
	tree_rules_free(&in);
	tree_rules_free(&out);
	return r;
}

/* ---- build/build-image/Dockerfile, hack/lib/version.sh ---- */

/* sed "s/KUBE_BUILD_IMAGE_CROSS_TAG/TAG/" on each line, as upstream's
 * kube::build::update_dockerfile does in 2017. */
static char *fill_placeholder(const char *text, const char *tag)
{
	size_t pl = strlen(CROSS_TAG_PLACEHOLDER), n = 0;
	for (const char *s = strstr(text, CROSS_TAG_PLACEHOLDER); s; s = strstr(s + pl, CROSS_TAG_PLACEHOLDER))
		n++;
	char *out = malloc(strlen(text) + n * (strlen(tag) + 1) + 1), *o = out;
	if (!out)
		return NULL;
	for (const char *line = text; *line;) {
		size_t len = strcspn(line, "\n") + (line[strcspn(line, "\n")] ? 1 : 0);
		const char *hit = strstr(line, CROSS_TAG_PLACEHOLDER);
		if (hit && (size_t)(hit - line) < len) {
			o = mempcpy(o, line, (size_t)(hit - line));
			o = stpcpy(o, tag);
			o = mempcpy(o, hit + pl, len - (size_t)(hit - line) - pl);
		} else {
			o = mempcpy(o, line, len);
		}
		line += len;
	}
	*o = 0;
	return out;
}

/* "a/b/kube-cross:TAG" -> "kube-cross:TAG"; NULL when the same. */
static char *short_ref(const char *ref)
{
	const char *slash = strrchr(ref, '/');
	if (!slash || strchr(ref, '@'))
		return NULL;
	return xstrdup(slash + 1);
}

static void use_plan(kb_profile *p)
{
	unsigned line;
	const char *home = buildimage_getenv(p->plan, "HOME", &line);
	if (p->plan->workdir) {
		free(p->workdir);
		p->workdir = xstrdup(p->plan->workdir);
		set_from(&p->workdir_from, DOCKERFILE ":%u", p->plan->workdir_line);
	}
	if (home && home[0] == '/') {
		free(p->home);
		p->home = xstrdup(home);
		set_from(&p->home_from, DOCKERFILE ":%u", line);
	}
	if (p->plan->from) {
		p->from_ref = xstrdup(p->plan->from);
		p->from_short = short_ref(p->from_ref);
	}
	/* Its ENV replaces the built-in variables that imitate it. */
	strs_free(p->env, p->n_env);
	p->env = NULL;
	p->n_env = 0;
	for (size_t i = 0; i < p->plan->n_notes; i++)
		note(p, "%s", p->plan->notes[i]);
}

static void read_dockerfile(kb_profile *p, int cfd)
{
	_cleanup_free_ char *text = NULL, *filled = NULL;
	size_t len = 0;
	int r = read_file_at(cfd, DOCKERFILE, MAX_TREE_FILE, &text, &len);

	if (r < 0) {
		note(p, "no readable " DOCKERFILE ": the built-in kube-build steps for the data sandbox");
		return;
	}
	if (!(filled = fill_placeholder(text, p->cross_tag ? p->cross_tag : ""))) {
		kb_err_oom(&p->refusal, DOCKERFILE);
		return;
	}
	buildimage_args a = { .file = DOCKERFILE, .cross_tag = p->cross_tag ? p->cross_tag : "" };
	if (dockerfile_parse(filled, strlen(filled), DOCKERFILE, &p->dockerfile, &p->refusal) < 0 ||
	    buildimage_plan(p->dockerfile, &a, &p->plan, &p->refusal) < 0)
		return;
	use_plan(p);
}

static void read_version(kb_profile *p, int cfd)
{
	_cleanup_free_ char *text = NULL;
	if (read_file_at(cfd, VERSION_SH, MAX_TREE_FILE, &text, NULL) < 0 ||
	    !strstr(text, "kube::version::save_version_vars") || !strstr(text, "kube::version::get_version_vars")) {
		note(p, "no " VERSION_SH " with kube::version::save_version_vars: no version step");
		return;
	}
	p->version_step = true;
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
	if (p->kube) {
		read_dockerfile(p, cfd);
		read_version(p, cfd);
	}
	if (text && (r = each_line(text, p, second_pass, e)) < 0)
		return r == -ENOMEM ? kb_err_oom(e, CONF_NAME) : r;
	if ((r = compile_rules(p, cfd, e)) < 0)
		return r == -ENOMEM ? kb_err_oom(e, "profile") : r;
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
	if (set_defaults(p, !strcmp(name, "kube"), user_host) < 0 || compile_rules(p, -1, e) < 0)
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
	if (p->from_ref)
		return xstrdup(p->from_ref);
	return p->cross_tag ? xasprintf("kube-cross:%s", p->cross_tag) : NULL;
}

const char *profile_image_alt(const kb_profile *p, const char *ref)
{
	return p->from_ref && ref && !strcmp(ref, p->from_ref) ? p->from_short : NULL;
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
