/* The sync sandbox around src/sync.c: sync-in mirrors the checkout into
 * the data sandbox's snapshot/, copy-out brings binaries and generated
 * files back.  Each runs in a child in its own user and mount namespaces
 * (runtime/isolate.c) that sees the tree it reads read-only. */
#pragma once
#include "project.h"
#include "sync.h"
#include "userns.h"

typedef struct snap_result {
	sync_stats st;
	bool isolated;              /* false: no user namespaces, ran in process */
	bool mapped;                /* needed the subordinate range (files of other ids) */
} snap_result;

/* range: the caller's subordinate ids, tried when the caller's own ids
 * are refused (files of other ids in the snapshot); may be NULL. */
int snapshot_sync_in(kb_project *p, const sync_rules *rules, sync_log_fn log, const rt_idrange *range,
		     snap_result *res, kb_error *e);
int snapshot_copy_out(kb_project *p, const sync_rules *rules, sync_log_fn log, const rt_idrange *range,
		      snap_result *res, kb_error *e);
