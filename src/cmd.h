/* The command layer: option parsing, output, exit codes.  Only code in
 * main.c and cmd-*.c prints errors. */
#pragma once
#include "error.h"
#include "sync.h"

/* Exit codes (DESIGN §2): kbuild-ns's own failures are 125, like
 * podman/docker; 126/127 are for an inner command that cannot run. */
#define EXIT_KB_FAIL 125

typedef struct kb_ctx {
	char *state_dir;
	int verbosity;           /* -1 with -q, +1 per -v */
} kb_ctx;

int cmd_image(kb_ctx *c, int argc, char **argv);
/* `image import`, in kbuild-ns-image (image-main.c); kbuild-ns execs
 * that program for it (cmd-image.c). */
int cmd_image_import(kb_ctx *c, int argc, char **argv);
extern const char usage_image[];
int cmd_help(kb_ctx *c, int argc, char **argv);
int cmd_doctor(kb_ctx *c, int argc, char **argv);
int cmd_run(kb_ctx *c, int argc, char **argv, bool shell);
int cmd_make(kb_ctx *c, int argc, char **argv);
/* The caller's subordinate id range and helpers, unless absent or
 * KBUILD_NS_IDMAP=single (cmd-run.c). */
struct rt_idrange;
bool cmd_find_range(struct rt_idrange *r);
/* rm -rf of dirfd/name; files of subordinate ids (a range-mapped build)
 * are removed inside a user namespace that maps the caller's range.
 * 0 or a negative errno (idrange.c). */
int cmd_rm_tree(int dirfd, const char *name);
/* The sync's change list on stderr when KUBE_VERBOSE >= 6, else NULL. */
sync_log_fn cmd_change_log(void);
int cmd_copy_output(kb_ctx *c, int argc, char **argv);
int cmd_clean(kb_ctx *c, int argc, char **argv);
int cmd_status(kb_ctx *c, int argc, char **argv);

/* "kbuild-ns: <cmd>: <message>" on stderr; returns EXIT_KB_FAIL. */
int cmd_fail(const char *cmd, const kb_error *e);
int cmd_failx(const char *cmd, const char *fmt, ...) _printf_(2, 3);
/* After getopt_long returned '?' (with opterr = 0): a description of
 * the option it could not take. */
const char *cmd_bad_option(int argc, char **argv);
/* A usage error: the message, then a usage line for cmd; exit 125. */
int cmd_usage(const char *usage, const char *fmt, ...) _printf_(2, 3);
