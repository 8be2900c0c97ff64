/* rsync filter rules read out of a tree's shell scripts: the --filter
 * words build/common.sh passes to rsync in its sync functions, and the
 * "filter =" line build/build-image/rsyncd.sh writes into the rsync
 * daemon's configuration.
 *
 * The reader is small and strict.  It finds a function by its definition
 * line ("function NAME() {", "function NAME {" or "NAME() {") and takes
 * the body up to the "}" line at the same indentation, then splits the
 * body into shell words (quotes, backslashes, comments, here-documents,
 * "$(...)" skipped whole).  A word --filter=RULE, or --filter followed by
 * a word RULE, gives a rule; so do --include=PATTERN ("+ PATTERN") and
 * --exclude=PATTERN ("- PATTERN").  The rule must be literal: a word with
 * a parameter expansion, a command substitution or an unquoted pattern
 * character is refused, as are --exclude-from, --include-from,
 * --files-from, --cvs-exclude and --delete-excluded, with
 * "FILE:LINE: why".  It never runs the script. */
#pragma once
#include "base/util.h"
#include "runtime/error.h"
#include "build/filter.h"

/* Append to l the rules of function fn of the script text (named file,
 * for origins "file:LINE" and messages).  1 when the function is there
 * (*ret_line: its definition line; it may hold no rule), 0 when it is
 * not, or -EINVAL with e when it cannot be read safely. */
int shell_function_filters(const char *text, const char *file, const char *fn, filter_list *l, unsigned *ret_line,
			   kb_error *e);

/* Append to l the rules of the "filter = RULES" lines of text (an rsync
 * daemon configuration, or a script writing one), as the daemon reads
 * them: split on blanks, an unanchored pattern with a "/" inside anchored
 * at the top.  1 when there is such a line, 0 when not, -EINVAL when its
 * value is not literal. */
int rsyncd_filters(const char *text, const char *file, filter_list *l, kb_error *e);
