#include "snapshot.h"
#include "isolate.h"

#include <errno.h>
#include <string.h>

typedef struct shared {
	int r;
	sync_stats st;
	kb_error e;
} shared;

typedef struct job {
	const sync_rules *rules;
	sync_log_fn log;
	bool out;
} job;

static int sync_fn(void *arg, const int *fds, void *area)
{
	const job *j = arg;
	shared *sh = area;
	sync_opts o = { .rules = j->rules, .log = j->log };
	sh->r = j->out ? sync_copy_out(fds[0], fds[1], &o, &sh->st, &sh->e)
		       : sync_mirror(fds[0], fds[1], &o, &sh->st, &sh->e);
	return sh->r < 0 ? 1 : 0;
}

static int run(kb_project *p, const sync_rules *rules, sync_log_fn log, bool out, const rt_idrange *range,
	       snap_result *res, kb_error *e)
{
	_cleanup_free_ char *snap = xasprintf("%s/snapshot", p->dir);
	/* Reading side read-only: sync-in cannot touch the checkout, and
	 * copy-out cannot change the snapshot it reads. */
	rt_iso_dir dirs[2] = {
		{ .path = out ? snap : p->checkout, .ro = true },
		{ .path = out ? p->checkout : snap, .ro = false },
	};
	job j = { .rules = rules, .log = log, .out = out };
	shared *sh = rt_iso_shared(sizeof *sh);
	rt_error rerr = { 0 };

	if (!sh)
		return kb_err(e, errno, "sync sandbox");
	int r = rt_isolate(dirs, 2, range, sync_fn, &j, sh, &res->isolated, &rerr);
	if (r < 0) {
		kb_errx(e, rerr.errnum, "sync sandbox: %s", rerr.msg);
	} else if (sh->r < 0) {
		*e = sh->e;
		r = -1;
	} else if (r != 0) {
		kb_errx(e, EIO, "sync sandbox: exit status %d", r);
		r = -1;
	}
	res->st = sh->st;
	rt_iso_shared_free(sh, sizeof *sh);
	return r < 0 ? -EIO : 0;
}

/* Files of subordinate ids (a range-mapped build that ran something as
 * another user, or unpacked a tar as root) are out of reach of the
 * caller's own ids: on EACCES/EPERM, once more with the range mapped. */
static int run_retry(kb_project *p, const sync_rules *rules, sync_log_fn log, bool out, const rt_idrange *range,
		     snap_result *res, kb_error *e)
{
	int r = run(p, rules, log, out, NULL, res, e);
	if (r < 0 && range && (e->errnum == EACCES || e->errnum == EPERM)) {
		*e = (kb_error){ 0 };
		r = run(p, rules, log, out, range, res, e);
		res->mapped = true;
	}
	return r;
}

int snapshot_sync_in(kb_project *p, const sync_rules *rules, sync_log_fn log, const rt_idrange *range,
		     snap_result *res, kb_error *e)
{
	return run_retry(p, rules, log, false, range, res, e);
}

int snapshot_copy_out(kb_project *p, const sync_rules *rules, sync_log_fn log, const rt_idrange *range,
		      snap_result *res, kb_error *e)
{
	return run_retry(p, rules, log, true, range, res, e);
}
