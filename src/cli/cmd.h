/* The command layer: option parsing, output, exit codes.  The code in
 * src/cli/ is the only code that prints errors or decides the exit
 * status; everything below it returns a kb_error (runtime/error.h). */
#pragma once
#include "base/util.h"
#include "runtime/error.h"
#include "build/build.h"

typedef struct kb_ctx {
	char *state_dir;
	int verbosity;           /* -1 with -q, +1 per -v */
} kb_ctx;

/* One function per command (cmd-<command>.c). */
int cmd_image(kb_ctx *c, int argc, char **argv);
int cmd_help(kb_ctx *c, int argc, char **argv);
int cmd_doctor(kb_ctx *c, int argc, char **argv);
int cmd_run(kb_ctx *c, int argc, char **argv);
int cmd_shell(kb_ctx *c, int argc, char **argv);
int cmd_make(kb_ctx *c, int argc, char **argv);
int cmd_copy_output(kb_ctx *c, int argc, char **argv);
int cmd_clean(kb_ctx *c, int argc, char **argv);
int cmd_status(kb_ctx *c, int argc, char **argv);
/* `image import` and `image pull`, in kbuild-ns-image (image-main.c);
 * kbuild-ns execs that program for them (cmd-image.c). */
int cmd_image_import(kb_ctx *c, int argc, char **argv);
int cmd_image_pull(kb_ctx *c, int argc, char **argv);
/* Where kbuild-ns-image is (cmd-image.c). */
char *image_helper_path(void);
/* The usage of `image` as a whole and of each subcommand. */
extern const char usage_image[], usage_image_import[], usage_image_pull[], usage_image_ls[],
	usage_image_inspect[], usage_image_rm[], usage_image_prune[];
/* `provenance verify` and `cache`, also in kbuild-ns-image (libcrypto,
 * libzstd, libarchive). */
int cmd_provenance(kb_ctx *c, int argc, char **argv);
int cmd_cache(kb_ctx *c, int argc, char **argv);
/* `release`, also in kbuild-ns-image (libcrypto, libarchive). */
int cmd_release(kb_ctx *c, int argc, char **argv);
/* Exec kbuild-ns-image with argv (a command it runs) and this process's
 * options; returns only on failure (cmd-image.c). */
int cmd_exec_image_program(kb_ctx *c, int argc, char **argv);

/* The options of run, shell and make, parsed (cmd-run.c).  Parsing does
 * not print: a usage error comes back in e. */
#define RUN_MAX_ENVS 256
#define RUN_MAX_BINDS 64
typedef struct run_opts {
	const char *cmd;            /* "run", "shell" or "make" */
	build_opts b;               /* what the build gets */
	bool help;                  /* --help was given */
	const char *envs[RUN_MAX_ENVS];
	rt_bind binds[RUN_MAX_BINDS];
	char **argv;                /* the command; for make, "make" and its arguments */
	char **own_argv;            /* allocated by make_parse */
} run_opts;

int run_parse(run_opts *o, const char *cmd, int argc, char **argv, kb_error *e);
/* make's own scan: leading options that are ours (long ones, and -e) are
 * taken; the first other word starts make's arguments, so `make -j4
 * cross` needs no "--". */
int make_parse(run_opts *o, int argc, char **argv, kb_error *e);
void run_opts_free(run_opts *o);
const char *run_usage(const char *cmd);

/* "kbuild-ns: <cmd>: <message>" on stderr; returns the error's exit
 * status (125 unless it carries 126 or 127). */
int cmd_fail(const char *cmd, const kb_error *e);
int cmd_failx(const char *cmd, const char *fmt, ...) _printf_(2, 3);
/* After getopt_long returned '?' (with opterr = 0): a description of
 * the option it could not take, for the command cmd ("image import"). */
const char *cmd_bad_option(const char *cmd, int argc, char **argv);
/* -h or --help: every command and subcommand takes them. */
bool cmd_is_help(const char *arg);
/* --help's answer: the usage, then "See kbuild-ns help PAGE."; returns 0. */
int cmd_help_text(const char *usage, const char *page);
/* When arg is one of the global options (-v, -q, -C, --state-dir, …)
 * given after the command cmd: "-q is a global option: put it before the
 * command (kbuild-ns -q status ...)"; else NULL. */
const char *cmd_global_hint(const char *cmd, const char *arg);
/* A usage error for an argument cmd does not take (with the hint above
 * when it is a global option). */
int cmd_unexpected(const char *cmd, const char *usage, const char *arg);
/* Each line of text on f, with prefix in front. */
void cmd_print_lines(FILE *f, const char *prefix, const char *text);
/* A usage error: the message, then a usage line for cmd; exit 125. */
int cmd_usage(const char *usage, const char *fmt, ...) _printf_(2, 3);
