/* The sync sandbox around src/sync.c: sync-in mirrors the checkout into
 * the data sandbox's snapshot/, copy-out brings binaries and generated
 * files back.  Each runs in a child in its own user and mount namespaces
 * (runtime/isolate.c) that sees the tree it reads read-only. */
#pragma once
#include "project.h"
#include "sync.h"

typedef struct snap_result {
	sync_stats st;
	bool isolated;              /* false: no user namespaces, ran in process */
} snap_result;

int snapshot_sync_in(kb_project *p, const sync_rules *rules, sync_log_fn log, snap_result *res, kb_error *e);
int snapshot_copy_out(kb_project *p, const sync_rules *rules, sync_log_fn log, snap_result *res, kb_error *e);
