/* kbuild-ns's one error type, from the sandbox runtime up to the command
 * line.  A function that fails returns a negative errno and fills a
 * kb_error; only the command layer (src/cli/) prints it, as one line.  It
 * lives here, in the lowest layer, so that an error made in the sandbox
 * between clone and execve reaches the command line as the same object:
 * it crosses the sandbox's error pipe unchanged (sizeof (kb_error) is well
 * under PIPE_BUF, so one write(2) carries it whole).  It names nothing of
 * images or Kubernetes.
 *
 * A message names the object first and the cause second:
 *   "layer sha256:3f2a1b0c9d8e: digest mismatch (expected …, got …)"
 * Each level that adds context does so with kb_err_prefix (umoci's
 * "unpack entry: %s: %w"). */
#pragma once
#include <stdarg.h>
#include <stdbool.h>

/* Exit statuses (DESIGN §2): kbuild-ns's own failure, as podman and
 * docker use it; a command that was found but cannot be executed; one
 * that was not found; and 128+N for a command killed by signal N. */
enum {
	KB_EXIT_FAIL = 125,
	KB_EXIT_CANNOT_EXEC = 126,
	KB_EXIT_NOT_FOUND = 127,
	KB_EXIT_SIGNAL = 128,
};

typedef struct kb_error {
	int code;          /* exit status the command should end with: 0 means KB_EXIT_FAIL */
	int errnum;        /* positive errno, or 0 when the cause is in msg only */
	char msg[1024];
} kb_error;

#ifndef _printf_
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#endif

/* Set the error (unless one is set already: the first, innermost message
 * is the most specific) and return -errnum, or -EIO when errnum is 0.
 * kb_err appends ": strerror(errnum)" when errnum is not 0; kb_errx does
 * not.  kb_err_code also sets the exit status (126, 127). */
int kb_err(kb_error *e, int errnum, const char *fmt, ...) _printf_(3, 4);
int kb_errx(kb_error *e, int errnum, const char *fmt, ...) _printf_(3, 4);
int kb_err_code(kb_error *e, int code, int errnum, const char *fmt, ...) _printf_(4, 5);
int kb_verr(kb_error *e, int code, int errnum, const char *fmt, va_list ap) _printf_(4, 0);
/* Out of memory, said once and plainly: "<what>: out of memory". */
int kb_err_oom(kb_error *e, const char *what);
/* Put "prefix: " in front of an existing message. */
void kb_err_prefix(kb_error *e, const char *fmt, ...) _printf_(2, 3);
static inline bool kb_err_set(const kb_error *e) { return e && e->msg[0]; }
/* The exit status for a failure reported in e. */
static inline int kb_err_exit(const kb_error *e) { return e && e->code ? e->code : KB_EXIT_FAIL; }
