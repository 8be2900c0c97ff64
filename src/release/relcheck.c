/* A release's preflight (release.h, step 1): the facts the build sandbox
 * reports about the checkout (release-steps preflight), and the checks
 * that fail the release before its long build, one line per missing
 * input; and two things done to the snapshot: its modes as a checkout
 * made under umask 0022 has them, and its hash when it is dirty. */
#include "release/release-int.h"
#include "release/baseimg.h"
#include "image/import/sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_FACTS (1u << 20)

void rel_problem(rel *r, const char *fmt, ...)
{
	char *line = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&line, fmt, ap) < 0)
		line = NULL;
	va_end(ap);
	char **v = line ? realloc(r->res->problems, (r->res->n_problems + 1) * sizeof *v) : NULL;
	if (!v) {
		free(line);
		return;
	}
	v[r->res->n_problems++] = line;
	r->res->problems = v;
}

/* release-steps preflight in the build sandbox, on the checkout itself
 * (read-only), its standard output into *ret. */
static int run_facts(rel *r, char **ret, size_t *ret_len)
{
	static char *argv[] = { "bash", REL_STEPS, "preflight", NULL };
	rt_bind co = { .src = r->f.checkout, .dst = r->f.workdir, .ro = true };
	_cleanup_fclose_ FILE *tmp = tmpfile();
	int status = 0, rc;

	if (!tmp)
		return kb_err(r->e, errno, "preflight: a temporary file");
	fflush(stdout);
	int saved = dup(STDOUT_FILENO);
	if (saved < 0 || dup2(fileno(tmp), STDOUT_FILENO) < 0) {
		if (saved >= 0)
			close(saved);
		return kb_err(r->e, errno, "preflight: standard output");
	}
	rc = build_run_argv(r->b, argv, &co, 1, &status, r->e);
	(void)dup2(saved, STDOUT_FILENO);
	close(saved);
	if (rc < 0)
		return rc;
	if (status != 0)
		return kb_errx(r->e, EIO, "preflight: release-steps in the build sandbox: exit status %d", status);
	rewind(tmp);
	char *buf = malloc(MAX_FACTS + 1);
	if (!buf)
		return kb_err_oom(r->e, "preflight");
	size_t n = fread(buf, 1, MAX_FACTS, tmp);
	buf[n] = 0;
	*ret = buf;
	*ret_len = n;
	return 0;
}

static void set(char **field, const char *v)
{
	free(*field);
	*field = xstrdup(v);
}

static void add_base(rel *r, const char *platform, const char *name)
{
	for (size_t i = 0; i < r->n_bases; i++)
		if (!strcmp(r->bases[i].platform, platform) && !strcmp(r->bases[i].name, name))
			return;
	rel_base *v = realloc(r->bases, (r->n_bases + 1) * sizeof *v);
	if (!v)
		return;
	r->bases = v;
	v[r->n_bases] = (rel_base){ .name = xstrdup(name) };
	snprintf(v[r->n_bases].platform, sizeof v->platform, "%s", platform);
	r->n_bases++;
}

/* "KEY\tVALUE[\tVALUE]" lines. */
static void parse_facts(rel *r, char *text)
{
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		char *v = strchr(line, '\t');
		if (!v)
			continue;
		*v++ = 0;
		char *v2 = strchr(v, '\t');
		if (v2)
			*v2++ = 0;
		if (!strcmp(line, "git"))
			r->git_tool = !strcmp(v, "yes");
		else if (!strcmp(line, "head") && *v) {
			r->has_git = true;
			set(&r->head, v);
		}
		else if (!strcmp(line, "commit_time"))
			r->commit_time = atoll(v);
		else if (!strcmp(line, "describe"))
			set(&r->describe, v);
		else if (!strcmp(line, "shallow"))
			r->shallow = !strcmp(v, "true");
		else if (!strcmp(line, "dirty"))
			set(&r->dirty, v);
		else if (!strcmp(line, "origin"))
			set(&r->origin, v);
		else if (!strcmp(line, "go_want"))
			set(&r->go_want, v);
		else if (!strcmp(line, "go_have"))
			set(&r->go_have, v);
		else if (!strcmp(line, "base") && v2)
			add_base(r, v, v2);
		else if (!strcmp(line, "error"))
			rel_problem(r, "%s: %s", r->f.checkout, v);
	}
}

/* Version stamping: git with a tag reachable from HEAD, or the host's
 * KUBE_GIT_VERSION_FILE. */
static void check_source(rel *r)
{
	const char *vf = getenv("KUBE_GIT_VERSION_FILE");
	if (vf && *vf) {
		if (access(vf, R_OK) < 0)
			rel_problem(r, "KUBE_GIT_VERSION_FILE %s: %s", vf, strerror(errno));
	} else if (!r->has_git && !r->git_tool) {
		rel_problem(r, "build image %s: has no git, which version stamping needs (or set KUBE_GIT_VERSION_FILE)",
			    r->f.image_ref);
	} else if (!r->has_git) {
		rel_problem(r, "%s: not a git checkout: version stamping needs its history with tags, or a "
			    "KUBE_GIT_VERSION_FILE (hack/print-version-defs.sh writes one)", r->f.checkout);
	} else if (!r->describe || !*r->describe) {
		rel_problem(r, "%s: no tag is reachable from HEAD%s, so git describe cannot stamp a version: fetch the "
			    "tags (git fetch --tags%s), or set KUBE_GIT_VERSION_FILE", r->f.checkout,
			    r->shallow ? " (a shallow clone)" : "", r->shallow ? " --unshallow" : "");
	}
	if (r->dirty && *r->dirty && !r->o->allow_dirty)
		rel_problem(r, "%s: the tree is dirty: %s (commit or remove it, or give --allow-dirty, which the "
			    "provenance records)", r->f.checkout, r->dirty);
}

static void check_go(rel *r)
{
	const char *force = getenv("FORCE_HOST_GO");
	if (!r->go_want || !*r->go_want || (force && *force))
		return;
	_cleanup_free_ char *want = !strncmp(r->go_want, "go", 2) ? xstrdup(r->go_want) : xasprintf("go%s", r->go_want);
	if (!r->go_have || strcmp(r->go_have, want))
		rel_problem(r, "build image %s: has %s, but the tree's .go-version asks for %s, which the build cannot "
			    "download offline: import a build image with %s", r->f.image_ref,
			    r->go_have && *r->go_have ? r->go_have : "no Go", want, want);
}

static int by_name_platform(const void *a, const void *b)
{
	const rel_base *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : strcmp(x->platform, y->platform);
}

/* Every base image for every server platform, in the store with its
 * layer blobs. */
static void check_bases(rel *r)
{
	if (r->n_bases)
		qsort(r->bases, r->n_bases, sizeof *r->bases, by_name_platform);
	for (size_t i = 0; i < r->n_bases; i++) {
		rel_base *bb = &r->bases[i];
		kb_platform p;
		kb_error e = { 0 };
		if (platform_parse(bb->platform, &p, &e) < 0 ||
		    baseimg_find(r->f.store, bb->name, &p, &bb->rec, &e) < 0) {
			rel_problem(r, "%s", e.msg);
			continue;
		}
		const layer_rec *miss = baseimg_missing_blob(r->f.store, bb->rec);
		if (miss)
			rel_problem(r, "base image %s (%s): layer sha256:%.12s was unpacked but its blob not kept: import "
				    "its archive again with --keep-blobs", bb->name, bb->platform, miss->digest.hex);
	}
}

/* The source date: --source-date-epoch, else SOURCE_DATE_EPOCH, else
 * HEAD's commit time. */
static void pick_date(rel *r)
{
	const char *env = getenv("SOURCE_DATE_EPOCH");
	char *end;
	if (r->o->sde_set) {
		r->sde = r->o->sde;
		r->sde_from = "option";
	} else if (env && *env) {
		r->sde = strtoll(env, &end, 10);
		r->sde_from = "environment";
		if (*end || r->sde < 0)
			rel_problem(r, "SOURCE_DATE_EPOCH=%s: not a number of seconds", env);
	} else if (r->has_git && r->commit_time > 0) {
		r->sde = r->commit_time;
		r->sde_from = "commit";
	} else {
		rel_problem(r, "no source date: without git history, give --source-date-epoch N");
	}
}

int rel_preflight(rel *r)
{
	_cleanup_free_ char *facts = NULL;
	size_t len;
	int rc = run_facts(r, &facts, &len);
	if (rc < 0)
		return rc;
	parse_facts(r, facts);
	check_source(r);
	check_go(r);
	check_bases(r);
	pick_date(r);
	return 0;
}

void rel_free_facts(rel *r)
{
	free(r->head);
	free(r->describe);
	free(r->dirty);
	free(r->origin);
	free(r->go_want);
	free(r->go_have);
	for (size_t i = 0; i < r->n_bases; i++) {
		free(r->bases[i].name);
		image_rec_free(r->bases[i].rec);
	}
	free(r->bases);
	free(r->dirhash);
}

/* ---- the snapshot ---- */

/* Top-level entries neither step looks at: the build's output, git's
 * own files. */
static bool skipped_top(const char *rel_path)
{
	return !strcmp(rel_path, "_output") || !strcmp(rel_path, "_tmp") || !strcmp(rel_path, ".git");
}

typedef struct walk {
	rel *r;
	const char *skip;            /* a file at the top left out too, or NULL */
	char **files;                /* dirHash: regular files, relative */
	size_t n, cap;
	bool modes;                  /* set modes as umask 0022 leaves them */
} walk;

static int walk_dir(walk *w, int dfd, const char *prefix, int depth)
{
	DIR *d = opendir_at(dfd);
	struct dirent *de;
	int rc = 0;
	if (!d || depth > 512)
		return kb_err(w->r->e, d ? ELOOP : errno, "snapshot %s", prefix);
	while (rc == 0 && (de = readdir(d))) {
		struct stat st;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || (!*prefix && (skipped_top(de->d_name) || (w->skip && !strcmp(de->d_name, w->skip)))) ||
		    fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || S_ISLNK(st.st_mode))
			continue;
		_cleanup_free_ char *path = *prefix ? xasprintf("%s/%s", prefix, de->d_name) : xstrdup(de->d_name);
		/* go-w, go+rX: what a checkout made under umask 0022 has. */
		mode_t m = st.st_mode & 07777, want = (m & ~(mode_t)022) | 044 | ((S_ISDIR(st.st_mode) || (m & 0111)) ? 011 : 0);
		if (w->modes && want != m && fchmodat(dfd, de->d_name, want, 0) < 0)
			rc = kb_err(w->r->e, errno, "snapshot %s: chmod", path);
		if (rc == 0 && S_ISDIR(st.st_mode)) {
			_cleanup_close_ int sub = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
			rc = sub < 0 ? kb_err(w->r->e, errno, "snapshot %s", path) : walk_dir(w, sub, path, depth + 1);
		} else if (rc == 0 && S_ISREG(st.st_mode) && !w->modes) {
			if (w->n == w->cap) {
				char **v = realloc(w->files, (w->cap = w->cap ? 2 * w->cap : 256) * sizeof *v);
				if (!v) {
					rc = kb_err_oom(w->r->e, "snapshot");
					break;
				}
				w->files = v;
			}
			w->files[w->n++] = steal_ptr(path);
		}
	}
	closedir(d);
	return rc;
}

int rel_snapshot_modes(rel *r)
{
	walk w = { .r = r, .modes = true };
	_cleanup_close_ int fd = open(r->f.snapshot, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? kb_err(r->e, errno, "snapshot %s", r->f.snapshot) : walk_dir(&w, fd, "", 0);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int hash_file(int dirfd, const char *path, kb_digest *ret)
{
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	_cleanup_(sha256_freep) sha256_ctx *c = sha256_new();
	char buf[1 << 16];
	ssize_t n;
	if (fd < 0 || !c)
		return -errno;
	while ((n = read(fd, buf, sizeof buf)) > 0)
		sha256_update(c, buf, (size_t)n);
	if (n < 0)
		return -errno;
	sha256_final(c, ret);
	return 0;
}

/* The version file sync-in wrote at the top of the snapshot (where the
 * build's KUBE_GIT_VERSION_FILE points): made from the checkout's git
 * state, which the record gives as kubeGit, not one of the sources. */
static const char *version_file_name(const rel *r)
{
	size_t wl = strlen(r->f.workdir);
	for (char *const *v = r->f.env; v && *v; v++)
		if (!strncmp(*v, "KUBE_GIT_VERSION_FILE=", 22)) {
			const char *p = *v + 22;
			return !strncmp(p, r->f.workdir, wl) && p[wl] == '/' && !strchr(p + wl + 1, '/') ? p + wl + 1 : NULL;
		}
	return NULL;
}

/* in-toto's dirHash: sha256 of the "<sha256>  <path>" lines of every file,
 * sorted by path in the C locale (`find . -type f | cut -c3- | LC_ALL=C
 * sort | xargs sha256sum | sha256sum`), here without .git, _output and
 * _tmp at the top, nor the version file. */
int rel_dirhash(rel *r)
{
	walk w = { .r = r, .skip = version_file_name(r) };
	_cleanup_close_ int fd = open(r->f.snapshot, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_(sha256_freep) sha256_ctx *all = sha256_new();
	int rc = fd < 0 ? kb_err(r->e, errno, "snapshot %s", r->f.snapshot) : !all ? kb_err_oom(r->e, "dirHash") : 0;
	if (rc == 0)
		rc = walk_dir(&w, fd, "", 0);
	if (rc == 0 && w.n)
		qsort(w.files, w.n, sizeof *w.files, str_cmp);
	for (size_t i = 0; rc == 0 && i < w.n; i++) {
		kb_digest d;
		if (hash_file(fd, w.files[i], &d) < 0) {
			rc = kb_err(r->e, errno, "snapshot %s", w.files[i]);
			break;
		}
		_cleanup_free_ char *line = xasprintf("%s  %s\n", d.hex, w.files[i]);
		sha256_update(all, line, strlen(line));
	}
	for (size_t i = 0; i < w.n; i++)
		free(w.files[i]);
	free(w.files);
	if (rc == 0) {
		kb_digest d;
		sha256_final(all, &d);
		r->dirhash = xstrdup(d.hex);
	}
	return rc;
}
