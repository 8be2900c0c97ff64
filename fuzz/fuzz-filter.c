/* Fuzz target: the rsync filter engine (filter.h), which reads the rules
 * of a tree's build/common.sh and rsyncd.sh and of kbuild-ns.conf, and
 * decides for every path of every sync what is sent and what is kept.
 * The input's first section holds rules, one per line (filter_add); a
 * section "--- paths" holds paths, one per line, a trailing "/" marking
 * a directory (a fixed list when there is none).  Every rule is matched
 * against every path, and each path asked about on both sides, as the
 * sync engine asks.  Matching is rsync's wildmatch: a pattern that takes
 * over 2 s on a short path is a hang. */
#include "fuzz/common.h"
#include "build/filter.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv) { return 0; }

static const char *const default_paths[] = {
	"_output", "_output/", "_output/dockerized/bin/linux/amd64/kubectl", ".git/", ".git/HEAD",
	"pkg/apis/core/v1/zz_generated.deepcopy.go", "vendor/k8s.io/api/", "a/b/c/d/e/f/g", "-", "x y/z",
};

static void each_line(char *text, size_t len, void (*fn)(const char *line, void *ctx), void *ctx)
{
	char *end = text + len;
	for (char *line = text; line < end;) {
		char *nl = memchr(line, '\n', (size_t)(end - line));
		if (nl)
			*nl = 0;
		fn(line, ctx);
		line = nl ? nl + 1 : end;
	}
}

static void add_rule(const char *line, void *ctx)
{
	kb_error e = { 0 };
	filter_list *l = ctx;
	if (strlen(line) >= 4096)
		return;
	int r = filter_add(l, line, "fuzz:1", &e);
	fz_check_error(r, &e, "filter_add");
}

typedef struct match_ctx {
	const filter_list *l;
} match_ctx;

static void ask(const char *line, void *ctx)
{
	const filter_list *l = ((match_ctx *)ctx)->l;
	char path[4096];
	size_t n = strlen(line);
	if (n == 0 || n >= sizeof path)
		return;
	bool dir = line[n - 1] == '/';
	memcpy(path, line, n + 1);
	if (dir)
		path[n - 1] = 0;
	for (size_t i = 0; i < l->n; i++)
		(void)filter_rule_matches(&l->v[i], path, dir);
	(void)filter_hides(l, path, dir);
	(void)filter_protects(l, path, dir);
	const filter_rule *r = filter_first(l, true, path, dir);
	if (r && !(r->flags & FILTER_SENDER))
		fz_fail("filter_first(sender) gave a receiver-only rule: %s", r->text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_sections ss;
	filter_list l = { 0 };

	if (size > (64u << 10))
		return 0;
	fz_sections_split(data, size, 4, &ss);
	for (size_t i = 0; i < ss.n; i++)
		if (!ss.v[i].name[0] || !strcmp(ss.v[i].name, "rules"))
			each_line(ss.v[i].data, ss.v[i].len, add_rule, &l);
	match_ctx m = { &l };
	bool paths = false;
	for (size_t i = 0; i < ss.n; i++)
		if (!strcmp(ss.v[i].name, "paths")) {
			each_line(ss.v[i].data, ss.v[i].len, ask, &m);
			paths = true;
		}
	for (size_t i = 0; !paths && i < ARRAY_SIZE(default_paths); i++)
		ask(default_paths[i], &m);
	/* A copy of the list, as profile.c makes them. */
	filter_list copy = { 0 };
	kb_error e = { 0 };
	int r = filter_append(&copy, &l, &e);
	fz_check_error(r, &e, "filter_append");
	filter_list_free(&copy);
	filter_list_free(&l);
	fz_sections_free(&ss);
	return 0;
}
