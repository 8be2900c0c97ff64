/* kbuild-ns doctor, and its advice for other commands. */
#pragma once
#include "cmd.h"

int cmd_doctor(kb_ctx *c, int argc, char **argv);

/* After a command has printed its one error line for a sandbox step that
 * failed with errnum (a positive errno), print doctor's explanation and
 * fix for it on f, indented, when the failure comes from the host's set-up
 * (user namespaces disabled, AppArmor, no overlay in a user namespace, a
 * masked /proc, ...).  step is the failing step or the whole message, e.g.
 * "write uid_map of the sandbox" or "mount overlay on /x".  Returns true
 * when something was printed. */
bool doctor_advise(FILE *f, int errnum, const char *step);
