/* What the user sees while kbuild-ns works.  Three modes: a live bar per
 * layer when stderr is a terminal, plain status lines in the Kubernetes
 * form ("+++ [1125 14:03:11] …") otherwise, nothing with -q.  Errors do
 * not go through here: the command layer prints those. */
#pragma once
#include "base/util.h"

typedef enum { OUT_QUIET, OUT_PLAIN, OUT_TTY } out_mode;

void out_init(int verbosity);          /* -1 quiet, 0 normal, 1+ verbose */
out_mode out_get_mode(void);
int out_verbosity(void);
void out_status(const char *fmt, ...) _printf_(1, 2);
void out_verbose(const char *fmt, ...) _printf_(1, 2);
void out_warn(const char *fmt, ...) _printf_(1, 2);
void out_notify(const char *msg);      /* for lock waits */
/* One change of a sync, rsync -i style ("> path", "*deleting path"): the
 * list build/common.sh shows at KUBE_VERBOSE >= 6. */
void out_change(const char *kind, const char *path);

/* Per-layer progress.  Thread-safe; redraws at most ten times a second. */
typedef struct bars bars;
/* cmd ("import", "pull") starts the plain lines; a static string. */
bars *bars_new(size_t n, const char *cmd);
void bars_label(bars *b, size_t i, const char *label);
void bars_start(bars *b, size_t i, const char *label, uint64_t total);
void bars_update(bars *b, size_t i, uint64_t done);
void bars_finish(bars *b, size_t i, const char *result);
void bars_free(bars *b);
