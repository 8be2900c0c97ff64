/* kbuild-ns status [--json]: what kbuild-ns keeps for this checkout. */
#include "cmd.h"
#include "image.h"
#include "profile.h"
#include "project.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <string.h>
#include <sys/file.h>
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
static uint64_t disk_use(const char *dir, const char *sub)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", dir, sub);
	du_total = 0;
	nftw(path, du_one, 32, FTW_PHYS | FTW_MOUNT);
	return du_total;
}

/* The pid in the lock file while a kbuild-ns holds the lock, else 0. */
static long lock_holder(int dirfd)
{
	_cleanup_close_ int fd = dirfd >= 0 ? openat(dirfd, "lock", O_RDONLY | O_CLOEXEC | O_NOFOLLOW) : -1;
	char buf[32] = "";
	if (fd < 0 || flock(fd, LOCK_SH | LOCK_NB) == 0)
		return 0;
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	buf[n > 0 ? n : 0] = 0;
	long pid = atol(buf);
	return pid > 0 ? pid : -1;
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

int cmd_status(kb_ctx *c, int argc, char **argv)
{
	_cleanup_(project_freep) kb_project *p = NULL;
	_cleanup_(profile_freep) kb_profile *prof = NULL;
	_cleanup_free_ char *idmap = NULL, *metatext = NULL;
	kb_error e = { 0 };
	bool json = false;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("%s\nSee kbuild-ns help status.\n", usage_status);
			return 0;
		} else
			return cmd_usage(usage_status, "status: unexpected argument %s", argv[i]);
	}
	if (project_open(c->state_dir, ".", false, NULL, &p, &e) < 0)
		return cmd_fail("status", &e);
	_cleanup_close_ int cfd = open(p->checkout, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cfd < 0 || profile_load(cfd, p->kube, false, &prof, &e) < 0)
		return cfd < 0 ? cmd_failx("status", "checkout %s: %s", p->checkout, strerror(errno)) : cmd_fail("status", &e);
	const char *env_img = getenv("KBUILD_NS_IMAGE");
	_cleanup_free_ char *ref = env_img && *env_img ? strdup(env_img) : prof->image ? strdup(prof->image) :
				  p->cross_tag ? xasprintf("kube-cross:%s", p->cross_tag) : NULL;
	bool exists = p->dirfd >= 0;
	if (exists) {
		read_file_at(p->dirfd, "idmap", 256, &idmap, NULL);
		read_file_at(p->dirfd, "meta.json", 1 << 20, &metatext, NULL);
	}
	json_t *meta = metatext ? json_loads(metatext, 0, NULL) : NULL;
	/* No configured image (a generic checkout run with --image): the
	 * one the last run used. */
	if (!ref && json_is_string(json_object_get(meta, "image")))
		ref = strdup(json_string_value(json_object_get(meta, "image")));

	json_t *out = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:s?, s:b, s:s?, s:b, s:I, s:I}",
				"checkout", p->checkout, "branch", p->branch, "key", p->key, "version", p->version,
				"state_dir", p->dir, "exists", exists, "profile", prof->name, "image", ref,
				"image_present", image_present(c->state_dir, ref), "idmap", idmap,
				"ready", exists && project_ready(p),
				"upper_bytes", (json_int_t)(exists ? disk_use(p->dir, "upper") : 0),
				"snapshot_bytes", (json_int_t)(exists ? disk_use(p->dir, "snapshot") : 0));
	if (!out)
		return cmd_failx("status", "out of memory");
	json_object_set(out, "last_command", meta ? json_object_get(meta, "last_command") : json_null());
	json_object_set(out, "last_status", meta ? json_object_get(meta, "last_status") : json_null());
	json_object_set(out, "last_time", meta ? json_object_get(meta, "last_time") : json_null());
	long holder = lock_holder(p->dirfd);
	json_object_set_new(out, "lock_pid", holder ? json_integer(holder) : json_null());
	if (json) {
		json_dumpf(out, stdout, JSON_INDENT(2));
		putchar('\n');
	} else {
		char a[32], b[32], when[64] = "";
		json_t *lt = json_object_get(out, "last_time");
		if (json_is_integer(lt)) {
			time_t t = (time_t)json_integer_value(lt);
			strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime(&t));
		}
		printf("checkout:    %s\n", p->checkout);
		printf("branch:      %s\n", p->branch[0] ? p->branch : "(none: detached HEAD or no git)");
		printf("key:         %s\n", p->key);
		printf("version:     %s\n", p->version);
		printf("state:       %s%s\n", p->dir, exists ? "" : " (none yet: run kbuild-ns make)");
		printf("profile:     %s%s\n", prof->name, prof->from_file ? " (kbuild-ns.conf)" : "");
		printf("image:       %s%s\n", ref ? ref : "(none: give --image or set KBUILD_NS_IMAGE)",
		       !ref ? "" : json_is_true(json_object_get(out, "image_present")) ? "" : " (not imported)");
		if (exists) {
			printf("id mapping:  %s\n", idmap ? idmap : "(not used yet)");
			printf("ready:       %s\n", project_ready(p) ? "yes" : "no (the next run initialises it)");
			printf("data layer:  %s\n", human_size((uint64_t)json_integer_value(json_object_get(out, "upper_bytes")), a, sizeof a));
			printf("snapshot:    %s\n", human_size((uint64_t)json_integer_value(json_object_get(out, "snapshot_bytes")), b, sizeof b));
			if (json_is_string(json_object_get(out, "last_command")))
				printf("last run:    %s (exit %lld) at %s\n", json_string_value(json_object_get(out, "last_command")),
				       (long long)json_integer_value(json_object_get(out, "last_status")), when);
			printf("in use:      %s", holder ? "yes" : "no\n");
			if (holder > 0)
				printf(" (pid %ld)\n", holder);
			else if (holder)
				putchar('\n');
		}
	}
	json_decref(out);
	json_decref(meta);
	return 0;
}
