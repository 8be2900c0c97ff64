/* The sandbox's filesystem, built inside the new mount namespace. */
#pragma once
#include "sandbox.h"

/* Build the whole root under s->rootdir and pivot into it.  On failure,
 * err names the step and the path. */
int rt_build_root(const rt_spec *s, kb_error *err);
