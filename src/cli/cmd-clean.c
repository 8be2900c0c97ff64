/* kbuild-ns clean [--all]: the host's _output and this checkout's state,
 * every version of it (build/make-clean.sh).  Needs no namespaces. */
#include "cli/cmd.h"
#include "base/progress.h"
#include "build/data.h"
#include "image/image.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

static const char usage_clean[] = "usage: kbuild-ns clean [--all]";

/* With --all, the layers and blobs no image uses go too. */
static int prune_store(kb_ctx *c, kb_error *e)
{
	_cleanup_(store_closep) kb_store *s = NULL;
	prune_stats st = { 0 };
	int r;
	if ((r = store_open(c->state_dir, LOCK_EX, out_notify, &s, e)) < 0 || (r = image_prune(s, &st, e)) < 0)
		return r;
	out_status("Removed %llu unused layer%s and %llu blob%s from the image store", (unsigned long long)st.layers,
		   st.layers == 1 ? "" : "s", (unsigned long long)st.blobs, st.blobs == 1 ? "" : "s");
	return 0;
}

int cmd_clean(kb_ctx *c, int argc, char **argv)
{
	_cleanup_(profile_freep) kb_profile *p = NULL;
	_cleanup_(data_freep) kb_data *d = NULL;
	kb_error e = { 0 };
	bool all = false;
	size_t removed = 0;
	int r;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--all"))
			all = true;
		else if (cmd_is_help(argv[i]))
			return cmd_help_text(usage_clean, "clean");
		else
			return cmd_unexpected("clean", usage_clean, argv[i]);
	}
	if (profile_load(".", false, &p, &e) < 0 || data_open(c->state_dir, p, false, &d, &e) < 0)
		return cmd_fail("clean", &e);

	/* Host _output: Go writes its module cache read-only, so a plain
	 * rm -rf fails (kubernetes/kubernetes#117510); rm_rf_at opens each
	 * directory up before it empties it. */
	_cleanup_close_ int cfd = open(p->checkout, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cfd < 0)
		return cmd_failx("clean", "checkout %s: %s", p->checkout, strerror(errno));
	struct stat st;
	if (fstatat(cfd, "_output", &st, AT_SYMLINK_NOFOLLOW) == 0)    /* say it only when there is one */
		out_status("Cleaning %s/_output", p->checkout);
	if ((r = rm_rf_at(cfd, "_output")) < 0)
		return cmd_failx("clean", "%s/_output: %s", p->checkout, strerror(-r));

	int rc = data_remove_states(c->state_dir, d->key, all, &removed, &e) < 0 ? cmd_fail("clean", &e) : 0;
	out_status("Removed %zu build state%s of %s", removed, removed == 1 ? "" : "s",
		   all ? "every checkout" : p->checkout);
	if (all && rc == 0 && prune_store(c, &e) < 0)
		return cmd_fail("clean", &e);
	return rc;
}
