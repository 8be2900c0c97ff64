/* Path patterns for the sync filters, a small subset of rsync's:
 *   "/x/y"  anchored at the tree's top;  "name"  the last component, anywhere;
 *   "a/b"   (a slash inside, none in front) the tail of the path, anywhere;
 *   "*" and "?" stay inside one component, "**" crosses "/";
 *   a trailing "/" matches directories only.
 * Paths handed in are relative to the top, without a leading "/". */
#pragma once
#include <stdbool.h>
#include <stddef.h>

typedef struct pattern_list {
	char **v;
	size_t n;
} pattern_list;

/* Add one pattern (copied).  -EINVAL for an empty one, -ENOMEM. */
int pattern_add(pattern_list *l, const char *pat);
void pattern_list_free(pattern_list *l);
bool pattern_match(const char *pat, const char *path, bool is_dir);
/* True when some pattern of l matches. */
bool pattern_any(const pattern_list *l, const char *path, bool is_dir);
/* True when everything below directory path is matched by an anchored
 * pattern that ends in slash-star-star (a walk need not go in at all). */
bool pattern_covers_below(const pattern_list *l, const char *dirpath);
