/* kbuild-ns status [--json]: what kbuild-ns keeps for this checkout. */
#include "cli/cmd.h"
#include "build/data.h"
#include "build/profile.h"
#include "base/jsontext.h"
#include "image/image.h"

#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const char usage_status[] = "usage: kbuild-ns status [--json]";

static uint64_t du_total;

static int du_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)path, (void)flag, (void)f;
	du_total += (uint64_t)st->st_blocks * 512;
	return 0;
}

/* Disk use of a tree, like du -s (unreadable parts are left out). */
static uint64_t disk_use(const char *path)
{
	du_total = 0;
	(void)nftw(path, du_one, 32, FTW_PHYS | FTW_MOUNT);
	return du_total;
}

/* The name ref is found under in the store (ref, or alt, the short
 * form of a Dockerfile's FROM), or NULL. */
static const char *image_present(const char *state_dir, const char *ref, const char *alt)
{
	_cleanup_free_ char *sd = xasprintf("%s/store", state_dir);
	_cleanup_(store_closep) kb_store *s = NULL;
	_cleanup_(image_rec_freep) image_rec *img = NULL;
	kb_error e = { 0 };
	struct stat st;
	if (!ref || stat(sd, &st) < 0)    /* do not make a store just to look */
		return NULL;
	if (store_open(state_dir, LOCK_SH, NULL, &s, &e) < 0)
		return NULL;
	if (image_find(s, ref, &img, &e) == 0)
		return ref;
	return alt && image_find(s, alt, &img, &e) == 0 ? alt : NULL;
}

/* The rules of one direction: where the list comes from, each rule and
 * its origin. */
static json_t *rules_json(const char *from, const filter_list *l)
{
	json_t *list = json_array();
	for (size_t i = 0; i < l->n; i++)
		json_array_append_new(list, json_pack("{s:s, s:s}", "rule", l->v[i].text, "from", l->v[i].origin));
	return json_pack("{s:s, s:o}", "from", from ? from : "", "list", list);
}

/* What the checkout's build follows: kbuild-ns-status(1), "The rules". */
static json_t *rules_collect(const kb_profile *p)
{
	json_t *steps = json_array(), *notes = json_array();
	const kb_buildimage *b = p->plan;
	for (size_t i = 0; b && i < b->n_steps; i++)
		json_array_append_new(steps, json_pack("{s:s, s:i}", "step", b->steps[i].what, "line", b->steps[i].line));
	for (size_t i = 0; i < p->n_notes; i++)
		json_array_append_new(notes, json_string(p->notes[i]));
	const char *init = !p->kube ? "none" : b ? b->file : "built in";
	return json_pack("{s:o, s:o, s:{s:s, s:o}, s:s, s:s, s:s, s:s, s:b, s:o, s:s?}", "sync_in",
			 rules_json(p->rules_from[0], &p->rules.in), "copy_out", rules_json(p->rules_from[1], &p->rules.out),
			 "init", "from", init, "steps", steps, "workdir", p->workdir, "workdir_from", p->workdir_from,
			 "home", p->home, "home_from", p->home_from, "version_step", p->version_step, "notes", notes,
			 "refused", kb_err_set(&p->refusal) ? p->refusal.msg : NULL);
}

/* Everything status shows, as the JSON that --json prints. */
static json_t *collect(kb_ctx *c, const kb_profile *p, const kb_data *d)
{
	bool exists = d->dirfd >= 0;
	_cleanup_free_ char *idmap = data_read_idmap(d);
	json_t *meta = data_read_meta(d);
	_cleanup_free_ char *ref = profile_image_ref(p, NULL);
	/* No configured image (a generic checkout run with --image): the
	 * one the last run used. */
	if (!ref && json_is_string(json_object_get(meta, "image")))
		ref = xstrdup(json_string_value(json_object_get(meta, "image")));
	/* Paths, the branch and the image named by a file or the
	 * environment are bytes: json_text escapes what is not UTF-8. */
	const char *found = image_present(c->state_dir, ref, profile_image_alt(p, ref));
	json_t *out = json_pack("{s:o, s:o, s:s, s:o, s:o, s:b, s:s, s:o?, s:b, s:o?, s:s?, s:b, s:I, s:I}",
				"checkout", json_text(p->checkout), "branch", json_text(p->branch), "key", d->key,
				"version", json_text(d->version), "state_dir", json_text(d->dir), "exists", exists,
				"profile", p->name, "image", json_text(ref),
				"image_present", found != NULL, "image_found_as", json_text(found), "idmap", idmap, "ready", data_ready(d),
				"upper_bytes", (json_int_t)(exists ? disk_use(d->upper) : 0),
				"snapshot_bytes", (json_int_t)(exists ? disk_use(d->snapshot) : 0));
	if (out) {
		json_object_set(out, "last_command", meta ? json_object_get(meta, "last_command") : json_null());
		json_object_set(out, "last_status", meta ? json_object_get(meta, "last_status") : json_null());
		json_object_set(out, "last_time", meta ? json_object_get(meta, "last_time") : json_null());
		long holder = data_lock_holder(d);
		json_object_set_new(out, "lock_pid", holder ? json_integer(holder) : json_null());
		json_object_set_new(out, "rules", rules_collect(p));
	}
	json_decref(meta);
	return out;
}

static const char *str(json_t *j, const char *key)
{
	return json_string_value(json_object_get(j, key));
}

static long long num(json_t *j, const char *key)
{
	return (long long)json_integer_value(json_object_get(j, key));
}

static void print_list(const char *what, json_t *dir)
{
	size_t i;
	json_t *r;
	printf("%-13s%s\n", what, str(dir, "from"));
	json_array_foreach(json_object_get(dir, "list"), i, r)
		printf("               %-36s %s\n", str(r, "rule"), str(r, "from"));
}

/* -v: which rules come from the tree (FILE:LINE) and which are built in. */
static void print_rules(json_t *rules)
{
	size_t i;
	json_t *v;
	print_list("sync-in:", json_object_get(rules, "sync_in"));
	print_list("copy-out:", json_object_get(rules, "copy_out"));
	json_t *init = json_object_get(rules, "init");
	printf("init:        %s\n", str(init, "from"));
	json_array_foreach(json_object_get(init, "steps"), i, v)
		printf("               %s:%lld: %s\n", str(init, "from"), num(v, "line"), str(v, "step"));
	printf("workdir:     %s (%s)\n", str(rules, "workdir"), str(rules, "workdir_from"));
	printf("home:        %s (%s)\n", str(rules, "home"), str(rules, "home_from"));
	printf("version:     %s\n", json_is_true(json_object_get(rules, "version_step"))
				     ? "hack/lib/version.sh, on the host's checkout, before each build" : "none");
	json_array_foreach(json_object_get(rules, "notes"), i, v)
		printf("%s%s\n", i ? "             " : "notes:       ", json_string_value(v));
}

static void print_text(const kb_profile *p, json_t *s, int verbosity)
{
	char a[32], b[32], when[64] = "";
	bool exists = json_is_true(json_object_get(s, "exists"));
	const char *ref = str(s, "image");

	printf("checkout:    %s\n", p->checkout);
	printf("branch:      %s\n", p->branch[0] ? p->branch : "(none: detached HEAD or no git)");
	printf("key:         %s\n", str(s, "key"));
	printf("version:     %s\n", str(s, "version"));
	printf("state:       %s%s\n", str(s, "state_dir"), exists ? "" : " (none yet: run kbuild-ns make)");
	printf("profile:     %s%s\n", p->name, p->from_file ? " (kbuild-ns.conf)" : "");
	const char *as = str(s, "image_found_as");
	_cleanup_free_ char *suffix = !ref || (as && !strcmp(as, ref)) ? xstrdup("")
				      : as ? xasprintf(" (imported as %s)", as) : xstrdup(" (not imported)");
	printf("image:       %s%s\n", ref ? ref : "(none: give --image or set KBUILD_NS_IMAGE)", suffix);
	json_t *rules = json_object_get(s, "rules");
	if (str(rules, "refused"))
		printf("refused:     %s\n", str(rules, "refused"));
	if (verbosity > 0)
		print_rules(rules);
	if (!exists)
		return;
	printf("id mapping:  %s\n", str(s, "idmap") ? str(s, "idmap") : "(not used yet)");
	printf("ready:       %s\n", json_is_true(json_object_get(s, "ready")) ? "yes" : "no (the next run initialises it)");
	printf("data layer:  %s\n", human_size((uint64_t)num(s, "upper_bytes"), a, sizeof a));
	printf("snapshot:    %s\n", human_size((uint64_t)num(s, "snapshot_bytes"), b, sizeof b));
	if (str(s, "last_command")) {
		time_t t = (time_t)num(s, "last_time");
		strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime(&t));
		printf("last run:    %s (exit %lld) at %s\n", str(s, "last_command"), num(s, "last_status"), when);
	}
	long long holder = json_is_integer(json_object_get(s, "lock_pid")) ? num(s, "lock_pid") : 0;
	if (holder > 0)
		printf("in use:      yes (pid %lld)\n", holder);
	else
		printf("in use:      %s\n", holder ? "yes" : "no");
}

int cmd_status(kb_ctx *c, int argc, char **argv)
{
	_cleanup_(profile_freep) kb_profile *p = NULL;
	_cleanup_(data_freep) kb_data *d = NULL;
	kb_error e = { 0 };
	bool json = false;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (cmd_is_help(argv[i]))
			return cmd_help_text(usage_status, "status");
		else
			return cmd_unexpected("status", usage_status, argv[i]);
	}
	if (profile_load(".", false, &p, &e) < 0 || data_open(c->state_dir, p, false, &d, &e) < 0)
		return cmd_fail("status", &e);
	json_t *s = collect(c, p, d);
	if (!s)
		return cmd_failx("status", "out of memory");
	if (json) {
		json_dumpf(s, stdout, JSON_INDENT(2));
		putchar('\n');
	} else {
		print_text(p, s, c->verbosity);
	}
	json_decref(s);
	return 0;
}
