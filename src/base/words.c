/* Words in messages (words.h). */
#include "base/words.h"

#include <stdlib.h>
#include <string.h>

/* Optimal string alignment distance: Levenshtein plus the swap of two
 * neighbours, the most common typo.  Three rows of the usual table. */
size_t word_distance(const char *a, const char *b, size_t max)
{
	size_t la = strlen(a), lb = strlen(b);
	if ((la > lb ? la - lb : lb - la) > max)
		return max + 1;
	size_t *rows = calloc(3 * (lb + 1), sizeof *rows);
	if (!rows)
		return max + 1;
	size_t *prev2 = rows, *prev = rows + lb + 1, *cur = prev + lb + 1, d;

	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t row_min = cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1];
			size_t v = prev[j - 1] + cost;
			if (prev[j] + 1 < v)
				v = prev[j] + 1;
			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && prev2[j - 2] + 1 < v)
				v = prev2[j - 2] + 1;
			cur[j] = v;
			if (v < row_min)
				row_min = v;
		}
		if (row_min > max) {
			free(rows);
			return max + 1;
		}
		size_t *t = prev2;
		prev2 = prev;
		prev = cur;
		cur = t;
	}
	d = prev[lb];
	free(rows);
	return d > max ? max + 1 : d;
}
