/* kbuild-ns clean [--all]: the host's _output and this checkout's state,
 * every version of it (build/make-clean.sh).  Needs no namespaces. */
#include "cmd.h"
#include "image.h"
#include "progress.h"
#include "project.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

static const char usage_clean[] = "usage: kbuild-ns clean [--all]";

/* Remove projects/<name> unless a kbuild-ns holds its lock. */
static int remove_state(int pfd, const char *pdir, const char *name, kb_error *e)
{
	_cleanup_free_ char *lk = xasprintf("%s/lock", name);
	_cleanup_close_ int lfd = openat(pfd, lk, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (lfd >= 0 && flock(lfd, LOCK_EX | LOCK_NB) < 0) {
		char pid[32] = "";
		ssize_t n = pread(lfd, pid, sizeof pid - 1, 0);
		pid[n > 0 ? n : 0] = 0;
		pid[strcspn(pid, "\n")] = 0;
		return kb_errx(e, EBUSY, "state %s/%s: in use by a running kbuild-ns%s%s%s", pdir, name,
			       pid[0] ? " (pid " : "", pid, pid[0] ? ")" : "");
	}
	int r = cmd_rm_tree(pfd, name);
	if (r < 0)
		return kb_err(e, -r, "state %s/%s%s", pdir, name,
			      r == -EACCES || r == -EPERM ? " (files of other ids, and no subordinate id range to map "
							      "them: remove as root)" : "");
	return 0;
}

int cmd_clean(kb_ctx *c, int argc, char **argv)
{
	_cleanup_(project_freep) kb_project *p = NULL;
	kb_error e = { 0 };
	bool all = false;
	int r;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--all"))
			all = true;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("%s\nSee kbuild-ns help clean.\n", usage_clean);
			return 0;
		} else
			return cmd_usage(usage_clean, "clean: unexpected argument %s", argv[i]);
	}
	if (project_open(c->state_dir, ".", false, NULL, &p, &e) < 0)
		return cmd_fail("clean", &e);

	/* Host _output: Go writes its module cache read-only, so a plain
	 * rm -rf fails (kubernetes/kubernetes#117510); rm_rf_at opens each
	 * directory up before it empties it. */
	_cleanup_close_ int cfd = open(p->checkout, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cfd < 0)
		return cmd_failx("clean", "checkout %s: %s", p->checkout, strerror(errno));
	out_status("Cleaning %s/_output", p->checkout);
	if ((r = rm_rf_at(cfd, "_output")) < 0)
		return cmd_failx("clean", "%s/_output: %s", p->checkout, strerror(-r));

	_cleanup_free_ char *pdir = xasprintf("%s/projects", c->state_dir);
	_cleanup_close_ int pfd = open(pdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0 && errno != ENOENT)
		return cmd_failx("clean", "%s: %s", pdir, strerror(errno));
	DIR *d = pfd >= 0 ? opendir_at(pfd) : NULL;
	struct dirent *de;
	int rc = 0;
	size_t removed = 0;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		/* Ours: <key>-<any version>; with --all, every checkout's. */
		if (!all && (strncmp(de->d_name, p->key, 10) || de->d_name[10] != '-'))
			continue;
		if (remove_state(pfd, pdir, de->d_name, &e) < 0) {
			rc = cmd_fail("clean", &e);
			e = (kb_error){ 0 };
			continue;
		}
		removed++;
	}
	if (d)
		closedir(d);
	out_status("Removed %zu build state%s of %s", removed, removed == 1 ? "" : "s",
		   all ? "every checkout" : p->checkout);
	if (all && rc == 0) {
		_cleanup_(store_closep) kb_store *s = NULL;
		prune_stats st = { 0 };
		if (store_open(c->state_dir, LOCK_EX, out_notify, &s, &e) < 0 || image_prune(s, &st, &e) < 0)
			return cmd_fail("clean", &e);
		out_status("Removed %llu unused layer%s and %llu blob%s from the image store",
			   (unsigned long long)st.layers, st.layers == 1 ? "" : "s", (unsigned long long)st.blobs,
			   st.blobs == 1 ? "" : "s");
	}
	return rc;
}
