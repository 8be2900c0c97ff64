/* rsync's filter rules (rsync(1), FILTER RULES), the one filter engine of
 * kbuild-ns: the rules a tree's build/common.sh passes to rsync, read as
 * written, the built-in ones and kbuild-ns.conf's all take this form, and
 * the sync engine (sync.c) asks these functions what to send and what to
 * keep.
 *
 * A rule is "KIND[,MODIFIERS] PATTERN" (a space or "_" before the
 * pattern), KIND one of
 *   -  exclude   not sent, and kept from deletion on the receiving side
 *   +  include   sent, and not kept
 *   H  hide      not sent (the sending side only)
 *   S  show      sent (the sending side only)
 *   P  protect   kept from deletion (the receiving side only)
 *   R  risk      not kept (the receiving side only)
 * or its long name (exclude, include, hide, show, protect, risk).
 * MODIFIERS: "!" (the rule takes effect when the pattern does not match),
 * "s" or "r" (a - or + rule for one side only), "p" (perishable).
 *
 * PATTERN, matched as rsync does against the path relative to the top of
 * the transfer:
 *   - a leading "/" anchors it at the top; a trailing "/" matches
 *     directories only;
 *   - without a "/" inside (a trailing one aside) and without "**", it
 *     matches the last component, anywhere; with a "/" inside it matches
 *     that many trailing components; with "**" (and no leading "/") the
 *     whole path from the top or from after any "/";
 *   - "*" is any run of characters but "/", "**" any run, "?" one
 *     character but "/", "[...]" one character of a class ("[!...]" or
 *     "[^...]" negated, "a-z" ranges, "[:alpha:]" classes), a backslash
 *     makes the next character literal (only in a pattern that has one
 *     of "*?[", as rsync);
 *   - "dir/" followed by "***" matches the directory dir and everything
 *     below it.
 * The first rule that applies to the side asked about and matches
 * decides; when none does, a path is sent, and at risk of deletion.
 *
 * filter_add refuses what has no meaning for a local mirror or cannot be
 * read safely: merge files ("." ":" merge dir-merge), the clear rule "!",
 * and the modifiers "/", "x", "C", "e", "n", "w". */
#pragma once
#include "base/util.h"
#include "runtime/error.h"

enum {
	FILTER_INCLUDE = 1u << 0,     /* +, S, R; otherwise an exclude */
	FILTER_SENDER = 1u << 1,      /* decides what is sent */
	FILTER_RECEIVER = 1u << 2,    /* decides what is kept from deletion */
	FILTER_NEGATE = 1u << 3,      /* "!" */
	FILTER_PERISHABLE = 1u << 4,  /* "p" */
	FILTER_DIR = 1u << 5,         /* trailing "/": directories only */
	FILTER_ANCHORED = 1u << 6,    /* leading "/" */
	FILTER_WILD = 1u << 7,        /* has one of "*?[" */
	FILTER_WILD2 = 1u << 8,       /* has "**" */
	FILTER_WILD2_PREFIX = 1u << 9,  /* starts with "**" */
	FILTER_WILD3_SUFFIX = 1u << 10, /* ends with "***" */
};

typedef struct filter_rule {
	char *text;                 /* the rule as written: "H /.git/" */
	char *pattern;              /* what is matched: no leading "/", no trailing "/" */
	unsigned flags;
	unsigned slashes;           /* "/" in the pattern as written, a trailing one aside */
	char *origin;               /* where it comes from: "build/common.sh:454", "built in" */
} filter_rule;

typedef struct filter_list {
	filter_rule *v;
	size_t n;
} filter_list;

/* Parse rule and append it; origin is copied.  -EINVAL with e naming the
 * rule and the reason when it is malformed or refused, -ENOMEM. */
int filter_add(filter_list *l, const char *rule, const char *origin, kb_error *e);
/* Append every rule of src (copies). */
int filter_append(filter_list *l, const filter_list *src, kb_error *e);
void filter_list_free(filter_list *l);

/* Whether rule r's pattern (with "!" applied) matches path, a path
 * relative to the top without a leading "/". */
bool filter_rule_matches(const filter_rule *r, const char *path, bool is_dir);
/* The first rule of l for the sending (sender true) or receiving side
 * that matches, or NULL. */
const filter_rule *filter_first(const filter_list *l, bool sender, const char *path, bool is_dir);
/* The sending side's verdict: path is not sent (an exclude or hide rule
 * decides).  What is not sent is not looked into either. */
bool filter_hides(const filter_list *l, const char *path, bool is_dir);
/* The receiving side's: path is kept from deletion (an exclude or protect
 * rule decides). */
bool filter_protects(const filter_list *l, const char *path, bool is_dir);
