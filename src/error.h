/* Errors travel up as a negative errno plus a message object (crun
 * style); only the command layer prints them.  A message names the
 * object first and the cause second: "layer sha256:3f2a…: digest
 * mismatch (expected …, got …)". */
#pragma once
#include "util.h"

typedef struct kb_error {
	int errnum;        /* positive errno, or 0 when the cause is in msg only */
	char msg[1024];
} kb_error;

/* Set the error (if none is set yet) and return -errnum (or -EIO when
 * errnum is 0).  errnum's strerror is appended when errnum != 0. */
int kb_err(kb_error *e, int errnum, const char *fmt, ...) _printf_(3, 4);
/* Like kb_err but without appending strerror. */
int kb_errx(kb_error *e, int errnum, const char *fmt, ...) _printf_(3, 4);
/* Put "prefix: " in front of an existing message. */
void kb_err_prefix(kb_error *e, const char *fmt, ...) _printf_(2, 3);
static inline bool kb_err_set(const kb_error *e) { return e && e->msg[0]; }
