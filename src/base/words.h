/* Words in messages: the plural of a count ("1 layer", "2 layers") and
 * the distance between two words, for "did you mean …?" lines.  Nothing
 * here prints. */
#pragma once
#include <stddef.h>

/* one when n is 1, else many: printf("%zu %s", n, plural(n, "entry", "entries")). */
static inline const char *plural(unsigned long long n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* The edit distance between a and b (insertions, deletions, changes and
 * swaps of two neighbours each count 1: "imgae" is 1 from "image"),
 * or max + 1 when it is larger than max (the work stops early). */
size_t word_distance(const char *a, const char *b, size_t max);
