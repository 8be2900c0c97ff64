/* The version step (version.h): a short sandbox that runs the tree's
 * hack/lib/version.sh on the host's checkout. */
#include "build/version.h"
#include "base/md5.h"
#include "base/progress.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define VERSION_DIR "/tmp/kbuild-ns-version"
#define VERSION_OUT VERSION_DIR "/version-defs"
#define MAX_VERSION_ENV 512

/* As build/common.sh: hack/lib/init.sh (which sources version.sh with
 * the rest of hack/lib), then the two functions.  $1 is KUBE_ROOT, $2 the
 * file to write.  /tmp is the sandbox's own tmpfs.  safe.directory lets
 * git read a checkout that belongs to another uid; it is honoured only
 * from protected configuration, which the command-line scope of
 * GIT_CONFIG_COUNT/KEY/VALUE is (git 2.31 on; older gits ignore them,
 * and before 2.35.2 git made no such check): set in the environment, it
 * costs no process, where `git config --global` cost two. */
static const char script[] =
	"export HOME=/tmp GIT_OPTIONAL_LOCKS=0 GIT_CONFIG_COUNT=2 GIT_CONFIG_KEY_0=safe.directory \\\n"
	"  GIT_CONFIG_VALUE_0='*' GIT_CONFIG_KEY_1=safe.directory GIT_CONFIG_VALUE_1=\"$1\"\n"
	"unset KUBE_GIT_VERSION_FILE\n"
	"if [ -f \"$1/hack/lib/init.sh\" ]; then\n"
	"  source \"$1/hack/lib/init.sh\"\n"
	"else\n"
	"  KUBE_ROOT=$1\n"
	"  source \"$1/hack/lib/version.sh\"\n"
	"fi\n"
	"kube::version::get_version_vars\n"
	"kube::version::save_version_vars \"$2\"\n";

/* Host variables the version code reads, as upstream's scripts read them
 * on the host. */
static const char *const host_vars[] = {
	"KUBE_GIT_COMMIT", "KUBE_GIT_TREE_STATE", "KUBE_GIT_VERSION", "KUBE_GIT_MAJOR", "KUBE_GIT_MINOR", "KUBE_VERBOSE",
};

/* Is path at or below dir? */
static bool below(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	return !strncmp(path, dir, n) && (path[n] == '/' || !path[n]);
}

/* A git directory outside the checkout, that a worktree's or submodule's
 * ".git" file names, and its common directory (a worktree's objects and
 * refs) when that is elsewhere too: mounted at the same paths inside,
 * read-only, so that the ".git" file leads to them. */
static size_t git_dirs(const char *checkout, char *dirs[2])
{
	_cleanup_free_ char *gitfile = NULL, *common = NULL, *rel = NULL, *cfile = NULL, *crel = NULL;
	_cleanup_close_ int cfd = open(checkout, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;
	size_t n = 0;

	if (cfd < 0 || fstatat(cfd, ".git", &st, 0) < 0 || !S_ISREG(st.st_mode) ||
	    read_file_at(cfd, ".git", 4096, &gitfile, NULL) < 0 || strncmp(gitfile, "gitdir: ", 8))
		return 0;
	gitfile[strcspn(gitfile, "\n")] = 0;
	rel = gitfile[8] == '/' ? xstrdup(gitfile + 8) : xasprintf("%s/%s", checkout, gitfile + 8);
	char *gd = realpath(rel, NULL);
	if (!gd)
		return 0;
	cfile = xasprintf("%s/commondir", gd);
	char *cd = NULL;
	if (read_file_at(AT_FDCWD, cfile, 4096, &common, NULL) == 0) {
		common[strcspn(common, "\n")] = 0;
		crel = common[0] == '/' ? xstrdup(common) : xasprintf("%s/%s", gd, common);
		cd = realpath(crel, NULL);
	}
	if (cd && !below(cd, checkout))
		dirs[n++] = cd;
	else
		free(cd);
	if (!below(gd, checkout) && !(n && below(gd, dirs[0])))
		dirs[n++] = gd;
	else
		free(gd);
	return n;
}

static int env_add(char **env, size_t *n, char *entry)
{
	size_t kl = strcspn(entry, "=");
	for (size_t i = 0; i < *n; i++)
		if (!strncmp(env[i], entry, kl) && env[i][kl] == '=') {
			free(env[i]);
			env[i] = entry;
			return 0;
		}
	if (*n + 1 >= MAX_VERSION_ENV) {
		free(entry);
		return -E2BIG;
	}
	env[(*n)++] = entry;
	env[*n] = NULL;
	return 0;
}

/* What the step runs with: its environment and the git directories
 * outside the checkout.  Freed by step_free. */
typedef struct step {
	char *env[MAX_VERSION_ENV];
	size_t n_env;
	char *gd[2];
	size_t n_gd;
} step;

static void step_free(step *st)
{
	for (size_t i = 0; i < st->n_env; i++)
		free(st->env[i]);
	free(st->gd[0]);
	free(st->gd[1]);
}

static int step_init(const version_args *a, step *st, kb_error *e)
{
	int r = env_add(st->env, &st->n_env, xstrdup("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));

	st->n_gd = git_dirs(a->checkout, st->gd);
	for (size_t i = 0; r == 0 && i < a->n_image_env; i++)
		r = strchr(a->image_env[i], '=') ? env_add(st->env, &st->n_env, xstrdup(a->image_env[i])) : 0;
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(host_vars); i++)
		if (getenv(host_vars[i]))
			r = env_add(st->env, &st->n_env, xasprintf("%s=%s", host_vars[i], getenv(host_vars[i])));
	if (r < 0)
		return kb_errx(e, -r, "version step: environment: more than %d variables", MAX_VERSION_ENV - 1);
	return 0;
}

static int version_run(const version_args *a, step *st, const char *out, kb_error *e)
{
	char *argv[] = { "/bin/bash", "-c", (char *)script, "kbuild-ns-version", (char *)a->root, VERSION_OUT, NULL };
	rt_bind binds[4] = {
		{ .src = a->checkout, .dst = a->root, .ro = true },
		{ .src = out, .dst = VERSION_OUT, .ro = false },
	};
	int r, status = 0;

	for (size_t i = 0; i < st->n_gd; i++)
		binds[2 + i] = (rt_bind){ .src = st->gd[i], .dst = st->gd[i], .ro = true };
	rt_spec s = *a->build;
	s.binds = binds;
	s.n_binds = 2 + st->n_gd;
	s.argv = argv;
	s.envp = st->env;
	s.cwd = a->root;
	s.fn = NULL;
	s.tty = s.net_host = false;
	/* The caller's own uid inside: git's index records it as the files'
	 * owner, so a matching owner spares git reading every file. */
	s.user_host = true;
	s.range = NULL;
	s.userns = NULL;
	if ((r = rt_run(&s, &status, NULL, e)) < 0)
		kb_err_prefix(e, "version step");
	else if (status != 0)
		r = kb_errx(e, EIO, "version step: hack/lib/version.sh (kube::version::get_version_vars, "
			    "save_version_vars): exit status %d", status);
	return r;
}

/* ---- the last run's output, when nothing the step reads changed ---- */

/* The step reads the checkout (git status looks at every file and each
 * .gitignore), its git directory (HEAD, refs, packed-refs, the index,
 * config, info/exclude), the image (bash, git, their configuration), its
 * environment and this script.  The last three go into a key.  For the
 * first two, the kernel's ctime rule: writing, truncating, chmod, chown,
 * link, unlink or rename sets a file's ctime to the current time, and
 * adding, removing or renaming an entry sets its directory's.  So when no
 * entry of the tree has a ctime at or after the moment just before the
 * last step started, nothing has changed since, and the step would write
 * what it wrote then.  That moment is read from the coarse clock the
 * kernel stamps files with (CLOCK_REALTIME_COARSE); fine-grained stamps
 * are never earlier than it.  Git's object directories are not walked:
 * objects are only added, and what names them (HEAD, refs, packed-refs,
 * the index) is walked.  A clock set back, or a network file system
 * whose server's clock lags ours, could hide a change:
 * KBUILD_NS_VERSION_STEP=always runs the step every time. */
#define RECORD_HEAD "kbuild-ns version step 1"
#define WALK_DEPTH 200

/* The walk runs on every core: a checkout the size of Kubernetes' is
 * tens of thousands of fstatat calls, each a few microseconds.  Threads
 * take directories from one stack; a directory found while the stack
 * holds WALK_QUEUE of them (each an open fd) is walked by the thread that
 * found it.  The first change found stops every thread. */
#define WALK_QUEUE 128
#define WALK_THREADS 8

typedef struct wdir {
	struct wdir *next;
	int fd;
	bool in_git;
	unsigned depth;
	char path[];                 /* for the message: the tree's path and below */
} wdir;

typedef struct walker {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	wdir *stack;
	size_t queued;
	unsigned busy;               /* threads inside a directory */
	const struct timespec *since;
	int result;                  /* 1: changed, -errno: unreadable */
	char where[PATH_MAX];
} walker;

static wdir *wdir_new(int fd, const char *parent, const char *name, bool in_git, unsigned depth)
{
	wdir *d = malloc(sizeof *d + strlen(parent) + strlen(name) + 2);
	if (!d)
		return NULL;
	*d = (wdir){ .fd = fd, .in_git = in_git, .depth = depth };
	sprintf(d->path, "%s%s%s", parent, *name ? "/" : "", name);
	return d;
}

static void walk_stop(walker *w, int r, const char *dir, const char *name)
{
	pthread_mutex_lock(&w->mu);
	if (!w->result) {
		w->result = r;
		snprintf(w->where, sizeof w->where, "%s%s%s", dir, *name ? "/" : "", name);
		pthread_cond_broadcast(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
}

static bool walk_stopped(walker *w)
{
	pthread_mutex_lock(&w->mu);
	bool r = w->result != 0;
	pthread_mutex_unlock(&w->mu);
	return r;
}

/* One directory (d, which this takes): every entry's ctime against since,
 * its subdirectories queued or walked here.  in_git: d is in a git
 * directory, where "objects" beside a HEAD is the object store, only
 * ever added to (what names its objects, HEAD, refs, packed-refs and the
 * index, is walked). */
static void walk_dir(walker *w, wdir *d)
{
	DIR *dir = fdopendir(d->fd);
	struct dirent *de;
	unsigned n = 0;

	if (!dir) {
		walk_stop(w, -errno, d->path, "");
		close(d->fd);
		free(d);
		return;
	}
	while ((errno = 0, de = readdir(dir))) {
		const char *nm = de->d_name;
		struct stat st;
		if (!strcmp(nm, ".") || !strcmp(nm, ".."))
			continue;
		if ((++n & 63) == 0 && walk_stopped(w))
			break;
		if (fstatat(dirfd(dir), nm, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			walk_stop(w, errno == ENOENT ? 1 : -errno, d->path, nm);    /* gone meanwhile: changed */
			break;
		}
		if (ts_cmp(&st.st_ctim, w->since) >= 0) {
			walk_stop(w, 1, d->path, nm);
			break;
		}
		if (!S_ISDIR(st.st_mode) ||
		    (d->in_git && !strcmp(nm, "objects") && faccessat(dirfd(dir), "HEAD", F_OK, AT_SYMLINK_NOFOLLOW) == 0))
			continue;
		if (d->depth >= WALK_DEPTH) {
			walk_stop(w, 1, d->path, nm);    /* deeper than any checkout: say changed */
			break;
		}
		int cfd = openat(dirfd(dir), nm, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		wdir *c = cfd < 0 ? NULL : wdir_new(cfd, d->path, nm, d->in_git || !strcmp(nm, ".git"), d->depth + 1);
		if (!c) {
			walk_stop(w, cfd < 0 ? -errno : -ENOMEM, d->path, nm);
			if (cfd >= 0)
				close(cfd);
			break;
		}
		pthread_mutex_lock(&w->mu);
		bool queue = w->queued < WALK_QUEUE;
		if (queue) {
			c->next = w->stack;
			w->stack = c;
			w->queued++;
			pthread_cond_signal(&w->cv);
		}
		pthread_mutex_unlock(&w->mu);
		if (!queue)
			walk_dir(w, c);
	}
	if (!de && errno)
		walk_stop(w, -errno, d->path, "");
	closedir(dir);
	free(d);
}

static void *walk_worker(void *arg)
{
	walker *w = arg;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->stack && w->busy && !w->result)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->result || !w->stack) {
			pthread_cond_broadcast(&w->cv);
			break;
		}
		wdir *d = w->stack;
		w->stack = d->next;
		w->queued--;
		w->busy++;
		pthread_mutex_unlock(&w->mu);
		walk_dir(w, d);
		pthread_mutex_lock(&w->mu);
		w->busy--;
		if (!w->busy && !w->stack)
			pthread_cond_broadcast(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* The trees (the checkout, and git directories outside it, which are
 * git directories from the top) changed since?  1 with the first changed
 * path in where, 0 when nothing is, -errno when one cannot be read. */
static int trees_changed(const char *const *tops, const bool *in_git, size_t n, const struct timespec *since,
			 char *where, size_t cap)
{
	walker w = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .since = since };
	pthread_t th[WALK_THREADS];
	size_t nth = 0, want = (size_t)cpu_count();

	for (size_t i = 0; i < n && !w.result; i++) {
		struct stat st;
		int fd = open(tops[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		wdir *d = fd >= 0 && fstat(fd, &st) == 0 ? wdir_new(fd, tops[i], "", in_git[i], 0) : NULL;
		if (!d) {
			walk_stop(&w, fd < 0 ? -errno : -ENOMEM, tops[i], "");
			if (fd >= 0)
				close(fd);
		} else if (ts_cmp(&st.st_ctim, since) >= 0) {
			walk_stop(&w, 1, tops[i], "");
			close(fd);
			free(d);
		} else {
			d->next = w.stack;
			w.stack = d;
			w.queued++;
		}
	}
	want = want < 1 ? 1 : want > WALK_THREADS ? WALK_THREADS : want;
	while (nth + 1 < want && pthread_create(&th[nth], NULL, walk_worker, &w) == 0)
		nth++;
	walk_worker(&w);
	for (size_t i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	for (wdir *d = w.stack, *next; d; d = next) {    /* left when a change stopped the walk */
		next = d->next;
		close(d->fd);
		free(d);
	}
	snprintf(where, cap, "%s", w.where);
	return w.result;
}

/* What the step's output depends on besides the trees. */
static void step_key(const version_args *a, const step *st, char out[2 * MD5_LEN + 1])
{
	const char *parts[] = { script, a->image_id ? a->image_id : "", a->checkout, a->root, a->file };
	unsigned char d[MD5_LEN];
	md5_ctx c;

	md5_init(&c);
	for (size_t i = 0; i < ARRAY_SIZE(parts); i++)
		md5_update(&c, parts[i], strlen(parts[i]) + 1);
	for (size_t i = 0; i < st->n_env; i++)
		md5_update(&c, st->env[i], strlen(st->env[i]) + 1);
	for (size_t i = 0; i < st->n_gd; i++)
		md5_update(&c, st->gd[i], strlen(st->gd[i]) + 1);
	md5_final(&c, d);
	for (size_t i = 0; i < MD5_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* The last run's output, when its key matches and no tree changed since
 * it started: 1 with the text in *ret.  0 when the step must run, why
 * says for -v. */
static int last_output(const version_args *a, const step *st, const char *key, char **ret, size_t *ret_len,
		       char *why, size_t cap)
{
	_cleanup_free_ char *rec = NULL;
	char k[2 * MD5_LEN + 1];
	long long sec;
	long nsec;
	int off = -1, r;
	size_t len = 0;
	const char *always = getenv("KBUILD_NS_VERSION_STEP");

	if (always && !strcmp(always, "always")) {
		snprintf(why, cap, "KBUILD_NS_VERSION_STEP=always");
		return 0;
	}
	if (!(rec = data_read_version_record(a->data, &len))) {
		snprintf(why, cap, "no earlier run");
		return 0;
	}
	char *body = strstr(rec, "\n\n");
	if (body) {
		*body = 0;
		body += 2;
	}
	if (!body || sscanf(rec, RECORD_HEAD " key %32[0-9a-f] since %lld.%9ld%n", k, &sec, &nsec, &off) != 3 ||
	    rec[off] || nsec < 0) {
		snprintf(why, cap, "its record is unreadable");
		return 0;
	}
	if (strcmp(k, key)) {
		snprintf(why, cap, "the image, the variables or the git directories are not those of the last run");
		return 0;
	}
	struct timespec since = { .tv_sec = (time_t)sec, .tv_nsec = nsec };
	char where[PATH_MAX];
	const char *tops[3] = { a->checkout, st->gd[0], st->gd[1] };
	const bool in_git[3] = { false, true, true };
	r = trees_changed(tops, in_git, 1 + st->n_gd, &since, where, sizeof where);
	if (r != 0) {
		if (r > 0)
			snprintf(why, cap, "%s changed since the last run", where);
		else
			snprintf(why, cap, "%s: %s", where, strerror(-r));
		return 0;
	}
	*ret_len = len - (size_t)(body - rec);
	*ret = xasprintf("%.*s", (int)*ret_len, body);
	return 1;
}

/* Record what the step wrote, for last_output. */
static void record_step(const version_args *a, const char *key, const struct timespec *since, int sfd,
			const char *name)
{
	_cleanup_free_ char *out = NULL, *head = NULL;
	size_t len = 0;
	kb_error e = { 0 };

	if (read_file_at(sfd, name, 1 << 20, &out, &len) < 0)
		return;
	if (len > INT_MAX || memchr(out, 0, len))
		return;
	head = xasprintf(RECORD_HEAD "\nkey %s\nsince %lld.%09ld\n\n%.*s", key, (long long)since->tv_sec,
			 since->tv_nsec, (int)len, out);
	if (data_write_version_record(a->data, head, strlen(head), &e) < 0)
		out_verbose("version step: its output is not recorded (%s): it runs again next time", e.msg);
}

/* ---- the job: decided before the sync, done after it ---- */

struct version_job {
	version_args a;
	char *name;                 /* the version file, at the top of the snapshot */
	char *path;                 /* the same on the host, for messages */
	const char *text;           /* what to write: the host's file or the last output; NULL: run the step */
	char *own_text;
	size_t len;
	bool nothing;               /* no version file */
	step st;
	char key[2 * MD5_LEN + 1];
};

void version_job_free(version_job *j)
{
	if (!j)
		return;
	free(j->name);
	free(j->path);
	free(j->own_text);
	step_free(&j->st);
	free(j);
}

int version_prepare(const version_args *a, version_job **ret, kb_error *e)
{
	version_job *j = calloc(1, sizeof *j);
	const char *vf = a->file;
	size_t wl = strlen(a->root);
	char why[PATH_MAX + 128];
	int r;

	if (!j)
		return kb_err_oom(e, "version step");
	j->a = *a;
	*ret = j;
	if (!vf || (!a->step && !a->host_text)) {
		j->nothing = true;
		return 0;
	}
	if (strncmp(vf, a->root, wl) || vf[wl] != '/' || !vf[wl + 1] || strchr(vf + wl + 1, '/')) {
		out_verbose("KUBE_GIT_VERSION_FILE %s is not a file at the top of %s: no version file", vf, a->root);
		j->nothing = true;
		return 0;
	}
	j->name = xstrdup(vf + wl + 1);
	j->path = xasprintf("%s/%s", a->snapshot, j->name);
	if (a->host_text) {
		j->text = a->host_text;
		j->len = a->host_len;
		return 0;
	}
	if ((r = step_init(a, &j->st, e)) < 0)
		return r;
	step_key(a, &j->st, j->key);
	if (last_output(a, &j->st, j->key, &j->own_text, &j->len, why, sizeof why) > 0) {
		j->text = j->own_text;
		out_verbose("version step: not run, nothing it reads changed since the last run");
	} else {
		out_verbose("version step: runs (%s)", why);
	}
	return 0;
}

bool version_job_runs(const version_job *j)
{
	return !j->nothing && !j->text;
}

/* Run the step, writing the snapshot's file name, and record it. */
static int run_and_record(version_job *j, int sfd, kb_error *e)
{
	/* Before the step starts: a change made while it runs is at or
	 * after this, and makes the next make run it again. */
	struct timespec since;
	int r;

	clock_gettime(CLOCK_REALTIME_COARSE, &since);
	data_drop_version_record(j->a.data);
	/* The step writes through a mount of this file. */
	_cleanup_close_ int fd = openat(sfd, j->name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return kb_err(e, errno, "%s", j->path);
	if ((r = version_run(&j->a, &j->st, j->path, e)) < 0)
		return r;
	record_step(&j->a, j->key, &since, sfd, j->name);
	return 1;
}

int version_finish(version_job *j, kb_error *e)
{
	_cleanup_free_ char *cur = NULL;
	size_t cur_len = 0;
	int r;

	if (j->nothing)
		return 0;
	_cleanup_close_ int sfd = open(j->a.snapshot, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0)
		return kb_err(e, errno, "%s", j->a.snapshot);
	if (!j->text)
		return run_and_record(j, sfd, e);
	/* Rewritten only when it differs: its mtime is a make prerequisite. */
	if (read_file_at(sfd, j->name, 1 << 20, &cur, &cur_len) == 0 && cur_len == j->len && !memcmp(cur, j->text, j->len))
		return 0;
	if ((r = write_file_atomic(sfd, j->name, j->text, j->len)) < 0)
		return kb_err(e, -r, "%s", j->path);
	return 0;
}
