/* The sandbox's filesystem, built inside the new mount namespace. */
#pragma once
#include "sandbox.h"

/* err->code of the one failure rt_run answers by trying again: the
 * kernel refused a fresh proc because this /proc has parts masked.  It
 * never leaves the runtime (sandbox.c turns it into a retry). */
#define RT_CODE_PROC_MASKED 1

/* Build the whole root under s->rootdir and pivot into it.  bind_proc:
 * the sandbox has no pid namespace of its own and gets the outer /proc,
 * read-only, instead of a fresh one.  On failure, err names the step and
 * the path; a fresh proc refused as too revealing fails with
 * RT_CODE_PROC_MASKED before anything else is mounted. */
int rt_build_root(const rt_spec *s, bool bind_proc, kb_error *err);
