/* The kube-build image from a tree's Dockerfile (buildimage.h): the plan
 * made on the host, and the init that applies it in the sandbox. */
#include "build/buildimage.h"
#include "base/md5.h"
#include "runtime/caps.h"
#include "runtime/seccomp-filter.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define MAX_CONTEXT_FILE (1u << 20)

/* ---- lists of NAME=VALUE ---- */

typedef struct strv {
	char **v;
	size_t n;
} strv;

static void strv_free(strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	*s = (strv){ 0 };
}

static int strv_push(strv *s, char *str)
{
	char **v = str ? realloc(s->v, (s->n + 2) * sizeof *v) : NULL;
	if (!v) {
		free(str);
		return -ENOMEM;
	}
	s->v = v;
	v[s->n++] = str;
	v[s->n] = NULL;
	return 0;
}

/* Set NAME=VALUE, in place of an earlier NAME. */
static int strv_set(strv *s, const char *name, const char *value)
{
	size_t kl = strlen(name);
	char *entry = xasprintf("%s=%s", name, value);
	for (size_t i = 0; i < s->n; i++)
		if (!strncmp(s->v[i], name, kl) && s->v[i][kl] == '=') {
			free(s->v[i]);
			s->v[i] = entry;
			return 0;
		}
	return strv_push(s, entry);
}

static const char *strv_get(const strv *s, const char *name)
{
	size_t kl = strlen(name);
	for (size_t i = s->n; i-- > 0;)
		if (!strncmp(s->v[i], name, kl) && s->v[i][kl] == '=')
			return s->v[i] + kl + 1;
	return NULL;
}

static int strv_add_all(strv *s, char *const *v, size_t n)
{
	int r = 0;
	for (size_t i = 0; i < n && r == 0; i++) {
		size_t kl = strcspn(v[i], "=");
		_cleanup_free_ char *name = strndup(v[i], kl);
		r = name ? strv_set(s, name, v[i][kl] ? v[i] + kl + 1 : "") : -ENOMEM;
	}
	return r;
}

/* ---- the plan ---- */

typedef struct plan {
	const buildimage_args *a;
	kb_buildimage *b;
	kb_error *e;
	unsigned line;
	strv global;                /* ARGs before FROM, with values */
	strv args;                  /* ARGs of the stage, with values */
	strv env;                   /* ENV so far */
	strv shell;                 /* SHELL's program, /bin/sh -c by default */
	strv skipped;               /* where skipped context files would have gone (paths) */
	char *cwd;                  /* the WORKDIR so far */
	bool from_seen;
} plan;

void buildimage_free(kb_buildimage *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n_steps; i++) {
		init_step *s = &b->steps[i];
		strv a = { s->argv, 0 }, v = { s->env, 0 };
		while (a.v && a.v[a.n])
			a.n++;
		while (v.v && v.v[v.n])
			v.n++;
		strv_free(&a);
		strv_free(&v);
		free(s->what);
		free(s->path);
		free(s->data);
	}
	free(b->steps);
	strv e = { b->env, b->n_env }, n = { b->notes, b->n_notes };
	strv_free(&e);
	strv_free(&n);
	free(b->env_line);
	free(b->file);
	free(b->from);
	free(b->workdir);
	free(b);
}

const char *buildimage_getenv(const kb_buildimage *b, const char *name, unsigned *ret_line)
{
	size_t kl = strlen(name);
	for (size_t i = 0; i < b->n_env; i++)
		if (!strncmp(b->env[i], name, kl) && b->env[i][kl] == '=') {
			if (ret_line)
				*ret_line = b->env_line[i];
			return b->env[i] + kl + 1;
		}
	return NULL;
}

static int refuse(plan *p, const char *what, const char *why)
{
	return kb_errx(p->e, EINVAL, "%s:%u: %s: %s", p->a->file, p->line, what, why);
}

static int note(plan *p, const char *what, const char *why)
{
	strv n = { p->b->notes, p->b->n_notes };
	int r = strv_push(&n, xasprintf("%s:%u: %s: %s", p->a->file, p->line, what, why));
	p->b->notes = n.v;
	p->b->n_notes = n.n;
	return r < 0 ? kb_err_oom(p->e, p->a->file) : 0;
}

/* What a word sees: the image's Env, the ARGs, then ENV (which wins over
 * an ARG of the same name). */
static int vars_now(const plan *p, strv *out)
{
	int r = strv_add_all(out, p->a->image_env, p->a->image_env ? p->a->n_image_env : 0);
	if (r == 0)
		r = strv_add_all(out, p->args.v, p->args.n);
	if (r == 0)
		r = strv_add_all(out, p->env.v, p->env.n);
	return r;
}

static int expand(plan *p, const char *what, const char *word, const strv *vars, char **ret)
{
	kb_error ex = { 0 };
	if (dockerfile_expand(word, vars->v, vars->n, ret, &ex) < 0)
		return refuse(p, what, ex.msg);
	return 0;
}

static int add_step(plan *p, init_step s)
{
	init_step *v = realloc(p->b->steps, (p->b->n_steps + 1) * sizeof *v);
	if (!v) {
		free(s.what);
		free(s.path);
		free(s.data);
		return kb_err_oom(p->e, p->a->file);
	}
	p->b->steps = v;
	s.line = p->line;
	v[p->b->n_steps++] = s;
	return 0;
}

/* The value of a build argument, as upstream's build/common.sh passes
 * them (--build-arg KUBE_CROSS_IMAGE=..., KUBE_CROSS_VERSION=...): from
 * the caller's environment as common.sh takes them, else the name
 * kbuild-ns imports kube-cross images under and the cross tag. */
static const char *build_arg(const plan *p, const char *name)
{
	const char *v = getenv(name);
	if (!strcmp(name, "KUBE_CROSS_IMAGE"))
		return v && *v ? v : "kube-cross";
	if (!strcmp(name, "KUBE_CROSS_VERSION"))
		return v && *v ? v : p->a->cross_tag;
	return NULL;
}

static int do_arg(plan *p, const df_instr *in)
{
	_cleanup_(strv_free) strv vars = { 0 };
	strv *dst = p->from_seen ? &p->args : &p->global;
	int r = p->from_seen ? vars_now(p, &vars) : strv_add_all(&vars, p->global.v, p->global.n);

	for (size_t i = 0; r == 0 && i < in->n_pairs; i++) {
		const char *name = in->pairs[i].key, *given = build_arg(p, name);
		_cleanup_free_ char *def = NULL;
		if (!given && in->pairs[i].value && (r = expand(p, "ARG", in->pairs[i].value, &vars, &def)) < 0)
			return r;
		if (!given && !def && p->from_seen)
			given = strv_get(&p->global, name);    /* a global ARG redeclared in the stage */
		if (given || def)
			r = strv_set(dst, name, given ? given : def);
	}
	return r < 0 ? kb_err_oom(p->e, p->a->file) : 0;
}

/* The image's record of ENV: first-set order, the last value and line. */
static int record_env(kb_buildimage *b, const char *name, const char *value, unsigned line)
{
	size_t kl = strlen(name), i;
	for (i = 0; i < b->n_env; i++)
		if (!strncmp(b->env[i], name, kl) && b->env[i][kl] == '=')
			break;
	if (i == b->n_env) {
		char **v = realloc(b->env, (b->n_env + 2) * sizeof *v);
		if (v)
			b->env = v;
		unsigned *l = v ? realloc(b->env_line, (b->n_env + 1) * sizeof *l) : NULL;
		if (!l)
			return -ENOMEM;
		b->env_line = l;
		b->env[i] = NULL;
		b->env[++b->n_env] = NULL;
	}
	free(b->env[i]);
	b->env[i] = xasprintf("%s=%s", name, value);
	b->env_line[i] = line;
	return 0;
}

static int do_env(plan *p, const df_instr *in)
{
	_cleanup_(strv_free) strv vars = { 0 };
	_cleanup_(strv_free) strv vals = { 0 };
	int r = vars_now(p, &vars);

	/* Every value of one ENV is expanded with the variables before it. */
	for (size_t i = 0; r == 0 && i < in->n_pairs; i++) {
		char *v = NULL;
		if ((r = expand(p, "ENV", in->pairs[i].value, &vars, &v)) < 0)
			return r;
		r = strv_push(&vals, v);
	}
	for (size_t i = 0; r == 0 && i < in->n_pairs; i++)
		if ((r = strv_set(&p->env, in->pairs[i].key, vals.v[i])) == 0)
			r = record_env(p->b, in->pairs[i].key, vals.v[i], p->line);
	return r < 0 ? kb_err_oom(p->e, p->a->file) : 0;
}

/* An absolute, clean path: relative ones are below the WORKDIR. */
static char *resolve(const plan *p, const char *path)
{
	char *s = path[0] == '/' ? xstrdup(path) : xasprintf("%s/%s", strcmp(p->cwd, "/") ? p->cwd : "", path);
	size_t n = strlen(s);
	while (n > 1 && s[n - 1] == '/')
		s[--n] = 0;
	return s;
}

static int do_workdir(plan *p, const df_instr *in)
{
	_cleanup_(strv_free) strv vars = { 0 };
	_cleanup_free_ char *w = NULL;
	int r = vars_now(p, &vars);
	if (r < 0)
		return kb_err_oom(p->e, p->a->file);
	if ((r = expand(p, "WORKDIR", in->args[0], &vars, &w)) < 0)
		return r;
	if (!*w)
		return refuse(p, "WORKDIR", "empty");
	char *d = resolve(p, w);
	free(p->cwd);
	p->cwd = d;
	free(p->b->workdir);
	p->b->workdir = xstrdup(d);
	p->b->workdir_line = p->line;
	return add_step(p, (init_step){ .kind = INIT_DIR, .what = xasprintf("WORKDIR %s", d), .path = xstrdup(d) });
}

/* "chmod MODE PATH..." whose paths are all skipped files. */
static bool is_skipped(const plan *p, const char *path)
{
	for (size_t i = 0; i < p->skipped.n; i++)
		if (!strcmp(p->skipped.v[i], path))
			return true;
	return false;
}

static bool only_chmods_skipped(const plan *p, const char *cmd)
{
	_cleanup_free_ char *c = xstrdup(cmd);
	char *save = NULL, *w = strtok_r(c, " \t", &save);
	size_t paths = 0;
	if (!w || strcmp(w, "chmod") || !strtok_r(NULL, " \t", &save))
		return false;
	while ((w = strtok_r(NULL, " \t", &save))) {
		if (!is_skipped(p, w))
			return false;
		paths++;
	}
	return paths > 0;
}

static int do_run(plan *p, const df_instr *in)
{
	_cleanup_(strv_free) strv argv = { 0 };
	_cleanup_(strv_free) strv env = { 0 };
	_cleanup_free_ char *what = NULL;
	int r = 0;

	if (in->n_flags)
		return refuse(p, "RUN", "flags (--mount, --network, ...) are not supported");
	for (size_t i = 0; in->json && i < in->n_args && r == 0; i++)
		r = strv_push(&argv, xstrdup(in->args[i]));
	for (size_t i = 0; !in->json && i < p->shell.n && r == 0; i++)
		r = strv_push(&argv, xstrdup(p->shell.v[i]));
	if (r == 0 && !in->json)
		r = strv_push(&argv, xstrdup(in->args[0]));
	if (r < 0 || argv.n == 0)
		return r < 0 ? kb_err_oom(p->e, p->a->file) : refuse(p, "RUN", "no command");
	what = xasprintf("RUN %s", in->json ? argv.v[0] : in->args[0]);
	/* A RUN that changes the mode of a context file we do not supply
	 * goes with it; one that needs it otherwise cannot run. */
	for (size_t i = 0; i < p->skipped.n; i++) {
		const char *dest = p->skipped.v[i];
		for (size_t k = 0; k < argv.n; k++) {
			if (!strstr(argv.v[k], dest))
				continue;
			if (!in->json && only_chmods_skipped(p, in->args[0]))
				return note(p, what, "skipped (it only changes the mode of a build-context file that is not supplied)");
			return refuse(p, what, "needs a build-context file that kbuild-ns does not supply");
		}
	}
	if ((r = vars_now(p, &env)) < 0)
		return kb_err_oom(p->e, p->a->file);
	init_step s = { .kind = INIT_RUN, .what = steal_ptr(what), .argv = argv.v, .env = env.v, .path = xstrdup(p->cwd) };
	argv = (strv){ 0 };
	env = (strv){ 0 };
	return add_step(p, s);
}

/* The content of a build-context file kbuild-ns supplies, or a note. */
static int context_file(plan *p, const char *what, const char *src, const char *dest, bool into_dir)
{
	if (!strcmp(src, "rsyncd.password") || !strcmp(src, "rsyncd.sh")) {
		_cleanup_free_ char *d = into_dir ? xasprintf("%s/%s", strcmp(dest, "/") ? dest : "", src) : xstrdup(dest);
		if (strv_push(&p->skipped, steal_ptr(d)) < 0)
			return kb_err_oom(p->e, p->a->file);
		return note(p, what, "skipped (files of the rsync daemon; kbuild-ns syncs without one)");
	}
	if (strcmp(src, "localtime"))
		return refuse(p, what, "kbuild-ns supplies only the build-context files localtime, rsyncd.password "
			      "and rsyncd.sh");
	const char *tz = p->a->localtime ? p->a->localtime : "/etc/localtime";
	char *data = NULL;
	size_t len = 0;
	struct stat st;
	int r = read_file_at(AT_FDCWD, tz, MAX_CONTEXT_FILE, &data, &len);
	if (r < 0 || stat(tz, &st) < 0) {
		free(data);
		return note(p, what, "skipped (the host has no time zone file)");
	}
	_cleanup_free_ char *path = into_dir ? xasprintf("%s/localtime", strcmp(dest, "/") ? dest : "") : xstrdup(dest);
	return add_step(p, (init_step){ .kind = INIT_FILE, .what = xstrdup(what), .path = steal_ptr(path),
					.data = data, .len = len, .mode = st.st_mode & 07777 });
}

static int do_copy(plan *p, const df_instr *in)
{
	_cleanup_(strv_free) strv vars = { 0 };
	_cleanup_(strv_free) strv words = { 0 };
	const char *kind = dockerfile_kind_name(in->kind);
	_cleanup_free_ char *what = NULL;
	int r = vars_now(p, &vars);

	if (in->n_flags)
		return refuse(p, kind, "flags (--chown, --chmod, --from, ...) are not supported here");
	for (size_t i = 0; r == 0 && i < in->n_args; i++) {
		char *w = NULL;
		if (in->json)
			w = xstrdup(in->args[i]);
		else if ((r = expand(p, kind, in->args[i], &vars, &w)) < 0)
			return r;
		r = strv_push(&words, w);
	}
	if (r < 0)
		return kb_err_oom(p->e, p->a->file);
	what = xasprintf("%s %s", kind, words.v[0]);
	const char *last = words.v[words.n - 1];
	if (!*last)
		return refuse(p, what, "an empty destination");
	bool into_dir = words.n > 2 || last[strlen(last) - 1] == '/';
	_cleanup_free_ char *dest = resolve(p, last);
	for (size_t i = 0; i + 1 < words.n; i++)
		if ((r = context_file(p, what, words.v[i], dest, into_dir)) < 0)
			return r;
	return 0;
}

static int do_from(plan *p, const df_instr *in)
{
	if (p->from_seen)
		return refuse(p, "FROM", "a second FROM (a multi-stage build) is not supported");
	p->from_seen = true;
	if (in->n_flags)
		return note(p, "FROM", "its flags are ignored");
	_cleanup_free_ char *ref = NULL;
	int r = expand(p, "FROM", in->args[0], &p->global, &ref);
	if (r < 0)
		return r;
	free(p->b->from);
	p->b->from = steal_ptr(ref);
	p->b->from_line = p->line;
	return 0;
}

static int do_other(plan *p, const df_instr *in)
{
	const char *kind = dockerfile_kind_name(in->kind);
	if (in->kind == DF_USER) {
		const char *u = in->args[0];
		if (strcmp(u, "root") && strcmp(u, "0") && strcmp(u, "root:root") && strcmp(u, "0:0"))
			return refuse(p, "USER", "the data sandbox's init runs as root");
		return 0;
	}
	if (in->kind == DF_SHELL) {
		strv_free(&p->shell);
		for (size_t i = 0; i < in->n_args; i++)
			if (strv_push(&p->shell, xstrdup(in->args[i])) < 0)
				return kb_err_oom(p->e, p->a->file);
		return p->shell.n ? 0 : refuse(p, "SHELL", "empty");
	}
	return note(p, kind, "ignored (it changes nothing the build sees)");
}

static int step(plan *p, const df_instr *in)
{
	p->line = in->line;
	if (!p->from_seen && in->kind != DF_ARG && in->kind != DF_FROM)
		return refuse(p, dockerfile_kind_name(in->kind), "before FROM");
	switch (in->kind) {
	case DF_FROM: return do_from(p, in);
	case DF_ARG: return do_arg(p, in);
	case DF_ENV: return do_env(p, in);
	case DF_WORKDIR: return do_workdir(p, in);
	case DF_RUN: return do_run(p, in);
	case DF_COPY:
	case DF_ADD: return do_copy(p, in);
	default: return do_other(p, in);
	}
}

/* The mark: a digest of everything the init does, so that a changed
 * Dockerfile (or base image Env, or time zone) initialises anew. */
static void make_mark(kb_buildimage *b)
{
	static const char hx[] = "0123456789abcdef";
	unsigned char md[MD5_LEN];
	md5_ctx c;
	md5_init(&c);
	for (size_t i = 0; i < b->n_steps; i++) {
		const init_step *s = &b->steps[i];
		md5_update(&c, &s->kind, sizeof s->kind);
		for (char **v = s->argv; v && *v; v++)
			md5_update(&c, *v, strlen(*v) + 1);
		for (char **v = s->env; v && *v; v++)
			md5_update(&c, *v, strlen(*v) + 1);
		md5_update(&c, s->path ? s->path : "", s->path ? strlen(s->path) + 1 : 1);
		md5_update(&c, s->data ? s->data : "", s->len);
		md5_update(&c, &s->mode, sizeof s->mode);
	}
	md5_final(&c, md);
	for (size_t i = 0; i < MD5_LEN; i++) {
		b->mark[2 * i] = hx[md[i] >> 4];
		b->mark[2 * i + 1] = hx[md[i] & 15];
	}
	b->mark[2 * MD5_LEN] = 0;
}

int buildimage_plan(const dockerfile *df, const buildimage_args *a, kb_buildimage **ret, kb_error *e)
{
	_cleanup_(buildimage_freep) kb_buildimage *b = calloc(1, sizeof *b);
	plan p = { .a = a, .b = b, .e = e };
	int r = 0;

	if (!b)
		return kb_err_oom(e, a->file);
	b->file = xstrdup(a->file);
	p.cwd = xstrdup("/");
	if (strv_push(&p.shell, xstrdup("/bin/sh")) < 0 || strv_push(&p.shell, xstrdup("-c")) < 0)
		r = kb_err_oom(e, a->file);
	for (size_t i = 0; r == 0 && i < df->n; i++)
		r = step(&p, &df->v[i]);
	if (r == 0 && !p.from_seen)
		r = kb_errx(e, EINVAL, "%s: no FROM", a->file);
	strv_free(&p.global);
	strv_free(&p.args);
	strv_free(&p.env);
	strv_free(&p.shell);
	strv_free(&p.skipped);
	free(p.cwd);
	if (r < 0)
		return r;
	make_mark(b);
	*ret = steal_ptr(b);
	return 0;
}

/* ---- the init, inside ---- */

static int put_context_file(const kb_buildimage *b, const init_step *s, kb_error *e)
{
	struct stat st;
	_cleanup_free_ char *path = NULL;
	/* ADD into an existing directory puts the file in it. */
	if (stat(s->path, &st) == 0 && S_ISDIR(st.st_mode))
		path = xasprintf("%s/localtime", s->path);
	else
		path = xstrdup(s->path);
	_cleanup_free_ char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir)
		*slash = 0;
	int r = slash && slash != dir ? mkdir_p_at(AT_FDCWD, dir, 0755) : 0;
	/* Replace what is there: /etc/localtime is a symlink in Debian images. */
	(void)unlink(path);
	_cleanup_close_ int fd = r < 0 ? -1 : open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (r < 0 || fd < 0 || write_all(fd, s->data, s->len) < 0 || fchmod(fd, s->mode) < 0)
		return kb_err(e, r < 0 ? -r : errno, "%s:%u: %s", b->file, s->line, s->what);
	return 0;
}

/* A RUN step in a child: default signals, the build's capabilities and
 * seccomp filter, its directory and environment.  An exec failure comes
 * back over a close-on-exec pipe. */
static int run_step(const kb_buildimage *b, const init_step *s, kb_error *e)
{
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return kb_err(e, errno, "%s:%u: %s", b->file, s->line, s->what);
	pid_t pid = fork();
	if (pid < 0)
		return kb_err(e, errno, "%s:%u: %s", b->file, s->line, s->what);
	if (pid == 0) {
		sigset_t none;
		kb_error ce = { 0 };
		int err = 0;
		close(pfd[0]);
		for (int sig = 1; sig < NSIG; sig++)
			(void)signal(sig, SIG_DFL);
		sigemptyset(&none);
		(void)sigprocmask(SIG_SETMASK, &none, NULL);
		if (chdir(s->path) < 0)
			err = errno;
		else if (rt_caps_limit(true, &ce) < 0 ||
			 (b->seccomp_bpf && rt_seccomp_load_bpf(b->seccomp_bpf, b->seccomp_len, &ce) < 0))
			err = ce.errnum ? ce.errnum : EPERM;
		if (!err) {
			environ = s->env;    /* so that execvp searches the step's PATH */
			execvp(s->argv[0], s->argv);
			err = errno;
		}
		(void)!write(pfd[1], &err, sizeof err);
		_exit(127);
	}
	close(pfd[1]);
	int err = 0, st;
	ssize_t n = read(pfd[0], &err, sizeof err);
	close(pfd[0]);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return kb_err(e, errno, "%s:%u: %s", b->file, s->line, s->what);
	if (n == (ssize_t)sizeof err && err)
		return kb_err(e, err, "%s:%u: %s: cannot run %s", b->file, s->line, s->what, s->argv[0]);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		return kb_errx(e, EIO, "%s:%u: %s: %s %d", b->file, s->line, s->what,
			       WIFEXITED(st) ? "exit status" : "killed by signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	return 0;
}

int buildimage_init_run(void *arg, kb_error *e)
{
	const kb_buildimage *b = arg;
	int r = 0;
	for (size_t i = 0; i < b->n_steps && r == 0; i++) {
		const init_step *s = &b->steps[i];
		if (s->kind == INIT_DIR && (r = mkdir_p_at(AT_FDCWD, s->path, 0755)) < 0)
			r = kb_err(e, -r, "%s:%u: %s", b->file, s->line, s->what);
		else if (s->kind == INIT_FILE)
			r = put_context_file(b, s, e);
		else if (s->kind == INIT_RUN)
			r = run_step(b, s, e);
	}
	if (r == 0 && b->bind_workdir && (r = mkdir_p_at(AT_FDCWD, b->bind_workdir, 0755)) < 0)
		r = kb_err(e, -r, "init of the data layer: %s", b->bind_workdir);
	return r;
}
