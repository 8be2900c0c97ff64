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

/* Can _output go?  Asked before anything is removed, so that a
 * checkout we cannot write is not half cleaned.  *ret_there says whether
 * there is an _output at all. */
static int check_output(const char *checkout, int cfd, bool *ret_there)
{
	struct stat st;
	*ret_there = fstatat(cfd, "_output", &st, AT_SYMLINK_NOFOLLOW) == 0;
	if (!*ret_there || faccessat(cfd, ".", W_OK, AT_EACCESS) == 0)
		return 0;
	if (errno == EROFS)
		return cmd_failx("clean", "checkout %s is on a read-only file system, so its _output cannot be "
				 "removed; nothing was removed: make it writable (remount it read-write) and run "
				 "kbuild-ns clean again", checkout);
	return cmd_failx("clean", "checkout %s: %s, so its _output cannot be removed; nothing was removed: "
			 "make the checkout writable for you (chmod u+w %s), or remove _output as its owner, "
			 "and run kbuild-ns clean again", checkout, strerror(errno), checkout);
}

int cmd_clean(kb_ctx *c, int argc, char **argv)
{
	_cleanup_(profile_freep) kb_profile *p = NULL;
	_cleanup_(data_freep) kb_data *d = NULL;
	_cleanup_(data_states_freep) data_states *states = NULL;
	kb_error e = { 0 };
	bool all = false, there;
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
	/* First every lock, then the checkout: a build in use must keep its
	 * _output as well as its state (it copies out into the one and
	 * works in the other), and a clean that cannot finish starts
	 * nothing.  The locks are held to the end. */
	if (data_claim_states(c->state_dir, d->key, all, &states, &e) < 0)
		return cmd_failx("clean", "%s; nothing was removed: end that build (or shell) and run kbuild-ns clean "
				 "again", e.msg);
	_cleanup_close_ int cfd = open(p->checkout, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cfd < 0)
		return cmd_failx("clean", "checkout %s: %s", p->checkout, strerror(errno));
	if ((r = check_output(p->checkout, cfd, &there)) != 0)
		return r;

	/* Host _output: Go writes its module cache read-only, so a plain
	 * rm -rf fails (kubernetes/kubernetes#117510); rm_rf_at opens each
	 * directory up before it empties it. */
	if (there)
		out_status("Cleaning %s/_output", p->checkout);
	if (there && (r = rm_rf_at(cfd, "_output")) < 0)
		return cmd_failx("clean", "%s/_output: %s; the build state was left", p->checkout, strerror(-r));

	int rc = data_remove_claimed(states, &removed, &e) < 0 ? cmd_fail("clean", &e) : 0;
	out_status("Removed %zu build state%s of %s", removed, removed == 1 ? "" : "s",
		   all ? "every checkout" : p->checkout);
	if (all && rc == 0 && prune_store(c, &e) < 0)
		return cmd_fail("clean", &e);
	return rc;
}
