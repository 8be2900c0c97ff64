/* Text for JSON output.  File names, branch names and command lines are
 * bytes, not UTF-8, while JSON strings (and jansson, which refuses
 * anything else) are Unicode.  A string that is valid UTF-8 goes out
 * unchanged; in one that is not, each byte that is not part of a valid
 * UTF-8 sequence becomes the four characters \xNN (two lowercase hex
 * digits), so the output stays valid JSON and shows which bytes were odd.
 * (A name that itself contains a backslash and "x" is not changed, so the
 * form is for people and for matching, not a lossless encoding.) */
#pragma once
#include <jansson.h>
#include <stdbool.h>

/* s, escaped as above when it is not valid UTF-8 (malloc'd; NULL when
 * out of memory). */
char *json_text_escape(const char *s);
/* A JSON string of s, escaped as above; NULL when s is NULL or memory
 * runs out (json_pack's "o?" makes that a null). */
json_t *json_text(const char *s);
/* Is s valid UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
 * above U+10FFFF)? */
bool utf8_valid(const char *s);
