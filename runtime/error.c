/* The error constructors (error.h). */
#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int vset(kb_error *e, int code, int errnum, bool with_strerror, const char *fmt, va_list ap)
{
	int r = errnum ? -errnum : -EIO;

	if (!e || e->msg[0])    /* keep the first, most specific message */
		return r;
	e->code = code;
	e->errnum = errnum;
	int n = vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	if (with_strerror && errnum && n >= 0 && (size_t)n < sizeof e->msg)
		snprintf(e->msg + n, sizeof e->msg - (size_t)n, ": %s", strerror(errnum));
	return r;
}

int kb_verr(kb_error *e, int code, int errnum, const char *fmt, va_list ap)
{
	return vset(e, code, errnum, true, fmt, ap);
}

int kb_err(kb_error *e, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vset(e, 0, errnum, true, fmt, ap);
	va_end(ap);
	return r;
}

int kb_errx(kb_error *e, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vset(e, 0, errnum, false, fmt, ap);
	va_end(ap);
	return r;
}

int kb_err_code(kb_error *e, int code, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vset(e, code, errnum, true, fmt, ap);
	va_end(ap);
	return r;
}

int kb_err_oom(kb_error *e, const char *what)
{
	return kb_errx(e, ENOMEM, "%s: out of memory", what);
}

void kb_err_prefix(kb_error *e, const char *fmt, ...)
{
	char prefix[512], old[sizeof e->msg];
	va_list ap;

	if (!e || !e->msg[0])
		return;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	/* Truncation is fine here: the message stays a readable prefix. */
	memcpy(old, e->msg, sizeof old);
	size_t pl = strnlen(prefix, sizeof prefix - 1);
	memcpy(e->msg, prefix, pl);
	memcpy(e->msg + pl, ": ", 2);
	size_t room = sizeof e->msg - pl - 3;
	size_t ol = strnlen(old, room);
	memcpy(e->msg + pl + 2, old, ol);
	e->msg[pl + 2 + ol] = 0;
}
