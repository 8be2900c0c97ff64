/* kbuild-ns copy-output: copy-out alone, from the snapshot the last
 * build left (build/copy-output.sh). */
#include "cmd.h"
#include "profile.h"
#include "progress.h"
#include "snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

static const char usage_copy[] = "usage: kbuild-ns copy-output";


int cmd_copy_output(kb_ctx *c, int argc, char **argv)
{
	_cleanup_(project_freep) kb_project *p = NULL;
	_cleanup_(profile_freep) kb_profile *prof = NULL;
	kb_error e = { 0 };
	snap_result res = { 0 };

	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("%s\nSee kbuild-ns help copy-output.\n", usage_copy);
		return 0;
	}
	if (argc > 1)
		return cmd_usage(usage_copy, "copy-output: unexpected argument %s", argv[1]);
	if (project_open(c->state_dir, ".", false, NULL, &p, &e) < 0)
		return cmd_fail("copy-output", &e);
	if (p->dirfd < 0 || faccessat(p->dirfd, "snapshot", F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		return cmd_failx("copy-output", "no build state for checkout %s; run kbuild-ns make first", p->checkout);
	_cleanup_close_ int cfd = open(p->checkout, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cfd < 0)
		return cmd_failx("copy-output", "checkout %s: %s", p->checkout, strerror(errno));
	if (profile_load(cfd, p->kube, false, &prof, &e) < 0)
		return cmd_fail("copy-output", &e);
	/* Not while a build writes the snapshot. */
	if (project_lock(p, true, out_notify, &e) < 0)
		return cmd_fail("copy-output", &e);
	out_status("Copying output back to the checkout");
	rt_idrange range;
	bool use_range = cmd_find_range(&range);
	if (snapshot_copy_out(p, &prof->rules, cmd_change_log(), use_range ? &range : NULL,
			      &res, &e) < 0)
		return cmd_fail("copy-output", &e);
	out_verbose("copy-out: %llu files checked, %llu copied (%llu bytes)", (unsigned long long)res.st.checked,
		    (unsigned long long)res.st.copied, (unsigned long long)res.st.bytes);
	return 0;
}
