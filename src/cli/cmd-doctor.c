/* kbuild-ns doctor: check the host, print the fix for each problem.
 *
 *   ok       userns: a user namespace with a single-id map works
 *   PROBLEM  xattrs: /nfs/home/me/.local/share/kbuild-ns is on nfs, which ...
 *            put the state directory on a local filesystem ...
 *              kbuild-ns --state-dir /var/tmp/kbuild-ns-me doctor
 *
 * The probes themselves (runtime/probe.c) try the real thing; this file
 * only prints.  Exit 0 when nothing is a PROBLEM, 125 otherwise. */
#include "cli/cmd.h"
#include "runtime/probe.h"

#include <string.h>
#include <time.h>

static const char usage_doctor[] = "usage: kbuild-ns doctor";

#define INDENT "         "    /* under the check's name: width of "PROBLEM  " */

static const char *state_word(rt_probe_state st)
{
	switch (st) {
	case RT_PROBE_OK:
		return "ok";
	case RT_PROBE_PROBLEM:
		return "PROBLEM";
	case RT_PROBE_NOTE:
	case RT_PROBE_UNKNOWN:
		break;
	}
	return "note";
}

int cmd_doctor(kb_ctx *c, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (cmd_is_help(argv[i]))
			return cmd_help_text(usage_doctor, "doctor");
		return cmd_unexpected("doctor", usage_doctor, argv[i]);
	}

	rt_probe res[RT_PROBE_COUNT];
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rt_probe_all(c->state_dir, res);
	clock_gettime(CLOCK_MONOTONIC, &t1);

	int problems = 0;
	for (int i = 0; i < RT_PROBE_COUNT; i++) {
		const rt_probe *p = &res[i];
		/* Doctor's report is its output, like `image ls`: -q does not
		 * hide it (it only silences progress). */
		printf("%-7s  %s: %s\n", state_word(p->state), p->id, p->finding);
		if (p->state == RT_PROBE_PROBLEM)
			problems++;
		if (p->fix[0] && p->state != RT_PROBE_OK)
			cmd_print_lines(stdout, INDENT, p->fix);
	}
	if (c->verbosity > 0)
		printf("(%d checks in %.1f ms; state directory %s)\n", RT_PROBE_COUNT,
		       (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6,
		       c->state_dir ? c->state_dir : "none");
	if (!problems)
		return 0;
	fflush(stdout);
	return cmd_failx("doctor", "%d problem%s found; the fix is under each PROBLEM line", problems,
			 problems == 1 ? "" : "s");
}
