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

static bool image_present(const char *state_dir, const char *ref)
{
	_cleanup_free_ char *sd = xasprintf("%s/store", state_dir);
	_cleanup_(store_closep) kb_store *s = NULL;
	_cleanup_(image_rec_freep) image_rec *img = NULL;
	kb_error e = { 0 };
	struct stat st;
	if (!ref || stat(sd, &st) < 0)    /* do not make a store just to look */
		return false;
	return store_open(state_dir, LOCK_SH, NULL, &s, &e) == 0 && image_find(s, ref, &img, &e) == 0;
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
	json_t *out = json_pack("{s:o, s:o, s:s, s:o, s:o, s:b, s:s, s:o?, s:b, s:s?, s:b, s:I, s:I}",
				"checkout", json_text(p->checkout), "branch", json_text(p->branch), "key", d->key,
				"version", json_text(d->version), "state_dir", json_text(d->dir), "exists", exists,
				"profile", p->name, "image", json_text(ref),
				"image_present", image_present(c->state_dir, ref), "idmap", idmap, "ready", data_ready(d),
				"upper_bytes", (json_int_t)(exists ? disk_use(d->upper) : 0),
				"snapshot_bytes", (json_int_t)(exists ? disk_use(d->snapshot) : 0));
	if (out) {
		json_object_set(out, "last_command", meta ? json_object_get(meta, "last_command") : json_null());
		json_object_set(out, "last_status", meta ? json_object_get(meta, "last_status") : json_null());
		json_object_set(out, "last_time", meta ? json_object_get(meta, "last_time") : json_null());
		long holder = data_lock_holder(d);
		json_object_set_new(out, "lock_pid", holder ? json_integer(holder) : json_null());
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

static void print_text(const kb_profile *p, json_t *s)
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
	printf("image:       %s%s\n", ref ? ref : "(none: give --image or set KBUILD_NS_IMAGE)",
	       !ref || json_is_true(json_object_get(s, "image_present")) ? "" : " (not imported)");
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
		print_text(p, s);
	}
	json_decref(s);
	return 0;
}
