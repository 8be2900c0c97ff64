/* store and image records: store_open's layout, the work directory,
 * store_clean_tmp (stale work dirs go, ones whose lock is held stay),
 * lock waiting, store_publish_layer (an existing layer wins),
 * store_put_blob (idempotent); image_save/load/list/find (full name,
 * short-name suffix, :latest, id prefix, ambiguity, not found), the
 * name a lookup matched and image_untag, the "did you mean" names,
 * image_commit moving names, image_json, and image_remove/image_prune
 * deleting only what no remaining image uses. */
#include "image/import/sha256.h"
#include "unit.h"
#include "image/image.h"

#include <dirent.h>
#include <signal.h>

static char *dir;
static kb_store *s;
static kb_error err;

static int setup(void **state)
{
	dir = tmpdir_new();
	memset(&err, 0, sizeof err);
	char *st = xasprintf("%s/state/a/b", dir);
	if (store_open(st, LOCK_SH, NULL, &s, &err) < 0)
		fail_msg("store_open: %s", err.msg);
	free(st);
	return 0;
}

static int teardown(void **state)
{
	store_close(s);
	tmpdir_free(dir);
	return 0;
}

static mode_t mode_at(int dfd, const char *name)
{
	struct stat sb;
	if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	return sb.st_mode;
}

static bool has(int dfd, const char *name) { return mode_at(dfd, name) != 0; }

static kb_digest dg(const char *s0)
{
	kb_digest d;
	sha256_buf(s0, strlen(s0), &d);
	return d;
}

static void test_layout(void **state)
{
	char *root = xasprintf("%s/state/a/b/store", dir);
	assert_string_equal(s->root, root);
	static const char *dirs[] = { "blobs", "blobs/sha256", "layers", "images", "tmp" };
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
		assert_int_equal(mode_at(s->fd, dirs[i]), S_IFDIR | 0700);
	assert_true(S_ISREG(mode_at(s->fd, "lock")));
	/* Opening again (a second command) finds it as it is. */
	kb_store *s2;
	char *st = xasprintf("%s/state/a/b", dir);
	assert_int_equal(store_open(st, LOCK_SH, NULL, &s2, &err), 0);
	assert_string_equal(s2->root, root);
	store_close(s2);
	free(st);
	free(root);
}

static void test_workdir(void **state)
{
	assert_int_equal(s->work_fd, -1);
	assert_int_equal(store_workdir(s, &err), 0);
	int fd = s->work_fd;
	char *name = strdup(s->work_name), *lock = xasprintf("%s.lock", name);
	assert_true(fd >= 0);
	assert_int_equal(mode_at(s->tmp_fd, name), S_IFDIR | 0700);
	assert_true(S_ISREG(mode_at(s->tmp_fd, lock)));
	assert_int_equal(store_workdir(s, &err), 0);
	assert_int_equal(s->work_fd, fd);
	/* Closing the store removes both. */
	int tmp = dup(s->tmp_fd);
	store_close(s);
	s = NULL;
	assert_false(has(tmp, name));
	assert_false(has(tmp, lock));
	close(tmp);
	char *st = xasprintf("%s/state/a/b", dir);
	assert_int_equal(store_open(st, LOCK_SH, NULL, &s, &err), 0);
	free(st);
	free(name);
	free(lock);
}

static void test_clean_tmp(void **state)
{
	assert_int_equal(store_workdir(s, &err), 0);
	assert_int_equal(run("cd %s/state/a/b/store/tmp && mkdir -p wstale/x/ro && touch wstale/x/ro/f && "
			     "chmod 0555 wstale/x/ro && touch wstale.lock && mkdir -p wheld/y && touch wheld.lock && "
			     "mkdir orphan && touch orphan/f && touch .hidden", dir), 0);
	/* Another process's lock: a different open file description conflicts. */
	int held = openat(s->tmp_fd, "wheld.lock", O_RDWR | O_CLOEXEC);
	assert_true(held >= 0);
	assert_int_equal(flock(held, LOCK_EX | LOCK_NB), 0);
	store_clean_tmp(s);
	assert_false(has(s->tmp_fd, "wstale"));
	assert_false(has(s->tmp_fd, "wstale.lock"));
	assert_false(has(s->tmp_fd, "orphan"));
	assert_true(has(s->tmp_fd, "wheld/y"));
	assert_true(has(s->tmp_fd, "wheld.lock"));
	assert_true(has(s->tmp_fd, ".hidden"));
	assert_true(has(s->tmp_fd, s->work_name));    /* our own */
	close(held);                                  /* its owner is gone */
	store_clean_tmp(s);
	assert_false(has(s->tmp_fd, "wheld"));
	assert_false(has(s->tmp_fd, "wheld.lock"));
	assert_true(has(s->tmp_fd, s->work_name));
}

static char notified[256];
static void notify(const char *msg) { snprintf(notified, sizeof notified, "%s", msg); }

/* LOCK_EX waits for a LOCK_SH holder, saying so first, and naming it
 * when it is an import (which registers itself in users/). */
static void test_lock_wait(void **state)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	assert_int_equal(store_lock_import(s, &err), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		kb_store *x;
		kb_error e = { 0 };
		alarm(10);             /* never hang the suite */
		close(s->lock_fd);     /* the parent's shared lock lives on in this copy too */
		char *st = xasprintf("%s/state/a/b", dir);
		int r = store_open(st, LOCK_EX, notify, &x, &e);
		char *who = xasprintf("waiting for the image store, held by kbuild-ns pid %d (", (int)getppid());
		char c = r == 0 && strstr(notified, who) ? 'y' : 'n';
		(void)!write(p[1], &c, 1);
		_exit(0);
	}
	close(p[1]);
	usleep(300 * 1000);
	int status;
	assert_int_equal(waitpid(pid, &status, WNOHANG), 0);    /* still waiting */
	store_close(s);
	s = NULL;
	char c = 0;
	assert_int_equal(read(p[0], &c, 1), 1);
	assert_int_equal(c, 'y');
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(p[0]);
	char *st = xasprintf("%s/state/a/b", dir);
	assert_int_equal(store_open(st, LOCK_SH, NULL, &s, &err), 0);
	free(st);
}

static void test_publish_layer(void **state)
{
	kb_digest d = dg("layer"), other = dg("other");
	assert_int_equal(store_workdir(s, &err), 0);
	assert_int_equal(run("cd %s/state/a/b/store/tmp/%s && mkdir -p L1/etc L2 && echo one > L1/etc/f && "
			     "echo two > L2/g", dir, s->work_name), 0);
	assert_false(store_has_layer(s, &d));
	assert_int_equal(store_publish_layer(s, "L1", &d, &err), 0);
	assert_true(store_has_layer(s, &d));
	assert_false(store_has_layer(s, &other));
	assert_false(has(s->work_fd, "L1"));
	char *f = xasprintf("%s/etc/f", d.hex), *g = xasprintf("%s/g", d.hex);
	assert_true(has(s->layers_fd, f));
	/* A second copy of the same layer: the first one stays. */
	assert_int_equal(store_publish_layer(s, "L2", &d, &err), 0);
	assert_true(has(s->layers_fd, f));
	assert_false(has(s->layers_fd, g));
	assert_false(has(s->work_fd, "L2"));
	/* Nothing to publish. */
	assert_true(store_publish_layer(s, "nothere", &other, &err) < 0);
	assert_contains(err.msg, "publish");
	assert_false(store_has_layer(s, &other));
	/* And taken back. */
	assert_int_equal(store_remove_layer(s, d.hex, &err), 0);
	assert_false(store_has_layer(s, &d));
	assert_int_equal(store_remove_layer(s, d.hex, &err), 0);    /* already gone */
	free(f);
	free(g);
}

static void test_blobs(void **state)
{
	kb_digest d = dg("hello"), missing = dg("missing");
	char *buf;
	size_t len;
	assert_int_equal(store_put_blob(s, &d, "hello", 5, &err), 1);
	assert_int_equal(store_put_blob(s, &d, "HELLO!", 6, &err), 0);    /* present: kept */
	assert_int_equal(store_read_blob(s, &d, 100, &buf, &len, &err), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(buf, "hello", 5);
	free(buf);
	assert_int_equal(store_read_blob(s, &d, 4, &buf, &len, &err), -EFBIG);
	memset(&err, 0, sizeof err);
	assert_int_equal(store_read_blob(s, &missing, 100, &buf, &len, &err), -ENOENT);
	assert_contains(err.msg, "blob sha256:");
}

/* A record with id = 64 x id_char (or the sha256 of a seed), names and
 * layers given as comma-separated seeds. */
static image_rec *rec(const char *id, const char *names, const char *layers)
{
	image_rec *r = calloc(1, sizeof *r);
	char *dup = strdup(names), *save, *tok;
	assert_non_null(r);
	if (strlen(id) == 64)
		memcpy(r->id.hex, id, 65);
	else
		r->id = dg(id);
	r->names = calloc(8, sizeof *r->names);
	for (tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		r->names[r->n_names++] = strdup(tok);
	free(dup);
	snprintf(r->platform.os, sizeof r->platform.os, "linux");
	snprintf(r->platform.arch, sizeof r->platform.arch, "arm64");
	snprintf(r->platform.variant, sizeof r->platform.variant, "v8");
	r->has_manifest = true;
	char *m = xasprintf("manifest-%s", id);
	r->manifest = dg(m);
	free(m);
	r->created = strdup("2024-05-06T07:08:09Z");
	r->layers = calloc(8, sizeof *r->layers);
	dup = strdup(layers);
	for (tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		layer_rec *l = &r->layers[r->n_layers++];
		l->diff_id = dg(tok);
		char *c = xasprintf("compressed-%s", tok);
		l->digest = dg(c);
		free(c);
		l->media_type = strdup("application/vnd.oci.image.layer.v1.tar+zstd");
		l->size = 1000 + r->n_layers;
		l->unpacked_size = 5000 + r->n_layers;
	}
	free(dup);
	return r;
}

static void save(image_rec *r)
{
	if (image_save(s, r, &err) < 0)
		fail_msg("image_save: %s", err.msg);
	image_rec_free(r);
}

static void test_save_load(void **state)
{
	image_rec *r = rec("one", "busybox:latest,example.com/busybox:1", "l1,l2"), *back;
	assert_int_equal(image_save(s, r, &err), 0);
	assert_int_equal(image_load(s, r->id.hex, &back, &err), 0);
	assert_string_equal(back->id.hex, r->id.hex);
	assert_int_equal(back->n_names, 2);
	assert_string_equal(back->names[1], "example.com/busybox:1");
	assert_string_equal(back->platform.arch, "arm64");
	assert_string_equal(back->platform.variant, "v8");
	assert_true(back->has_manifest);
	assert_string_equal(back->manifest.hex, r->manifest.hex);
	assert_string_equal(back->created, "2024-05-06T07:08:09Z");
	assert_int_equal(back->n_layers, 2);
	assert_string_equal(back->layers[1].diff_id.hex, r->layers[1].diff_id.hex);
	assert_string_equal(back->layers[1].digest.hex, r->layers[1].digest.hex);
	assert_string_equal(back->layers[1].media_type, r->layers[1].media_type);
	assert_int_equal(back->layers[1].size, 1002);
	assert_int_equal(back->layers[1].unpacked_size, 5002);
	assert_int_equal(image_size(back), 5001 + 5002);
	image_rec_free(back);

	/* A damaged record fails to load and is left out of the list. */
	char *name = xasprintf("%s.json", dg("two").hex);
	write_at(s->images_fd, name, "{\"id\":", 0);
	assert_int_equal(image_load(s, dg("two").hex, &back, &err), -EINVAL);
	assert_contains(err.msg, "damaged");
	image_rec **l;
	size_t n;
	assert_int_equal(image_list(s, &l, &n, &err), 0);
	assert_int_equal(n, 1);
	image_list_free(l, n);
	image_rec_free(r);
	free(name);
}

#define ID_A "aaaa111111111111111111111111111111111111111111111111111111111111"
#define ID_B "aaaa222222222222222222222222222222222222222222222222222222222222"
#define ID_C "beef333333333333333333333333333333333333333333333333333333333333"
#define KC "registry.k8s.io/build-image/kube-cross:v1.31.0-go1.22.5-bullseye.0"

static void expect_find(const char *ref, const char *id)
{
	image_rec *r = NULL;
	kb_error e = { 0 };
	int res = image_find(s, ref, &r, &e);
	if (res < 0)
		fail_msg("image_find(\"%s\"): %s", ref, e.msg);
	assert_string_equal(r->id.hex, id);
	image_rec_free(r);
}

static void expect_no_find(const char *ref, int errnum, const char *text)
{
	image_rec *r = NULL;
	kb_error e = { 0 };
	int res = image_find(s, ref, &r, &e);
	if (res >= 0)
		fail_msg("image_find(\"%s\") found %s", ref, r->id.hex);
	assert_int_equal(res, -errnum);
	assert_contains(e.msg, ref);
	assert_contains(e.msg, text);
}

static void test_find(void **state)
{
	save(rec(ID_A, KC ",a.io/x/foo:1", "l1"));
	save(rec(ID_B, "busybox:latest,b.io/y/foo:1", "l2"));
	save(rec(ID_C, "", "l3"));
	expect_find(KC, ID_A);
	expect_find("kube-cross:v1.31.0-go1.22.5-bullseye.0", ID_A);
	expect_find("build-image/kube-cross:v1.31.0-go1.22.5-bullseye.0", ID_A);
	expect_no_find("ube-cross:v1.31.0-go1.22.5-bullseye.0", ENOENT, "not found");
	expect_no_find("kube-cross", ENOENT, "not found");    /* = kube-cross:latest */
	expect_find("busybox", ID_B);
	expect_find("busybox:latest", ID_B);
	expect_no_find("foo:1", EINVAL, "ambiguous");
	expect_find("x/foo:1", ID_A);
	expect_find("beef", ID_C);
	expect_find("sha256:beef3333", ID_C);
	expect_find(ID_C, ID_C);
	expect_no_find("aaaa", EINVAL, "ambiguous");
	expect_find("aaaa2", ID_B);
	expect_no_find("bee", ENOENT, "not found");    /* too short for an id */
	expect_no_find("cafe", ENOENT, "not found");
	/* An exact name beats a suffix match and an id prefix. */
	save(rec(dg("exact").hex, "foo:1,beef:latest", "l4"));
	expect_find("foo:1", dg("exact").hex);
	expect_find("beef", dg("exact").hex);

	image_rec **l;
	size_t n;
	assert_int_equal(image_list(s, &l, &n, &err), 0);
	assert_int_equal(n, 4);
	assert_string_equal(l[0]->names[0], "busybox:latest");
	assert_string_equal(l[1]->names[0], "foo:1");
	assert_string_equal(l[2]->names[0], KC);
	assert_int_equal(l[3]->n_names, 0);    /* unnamed last */
	image_list_free(l, n);
}

/* image_lookup says which name a reference matched: `image rm NAME`
 * takes that name away; an id matches no name. */
static void test_lookup_untag(void **state)
{
	save(rec(ID_A, KC ",kube-cross:dev", "l1"));
	image_rec *r = NULL;
	char *name = NULL;
	assert_int_equal(image_lookup(s, "kube-cross:v1.31.0-go1.22.5-bullseye.0", &r, &name, &err), 0);
	assert_string_equal(name, KC);    /* the full name the short one stands for */
	assert_int_equal(image_untag(s, r, name, &err), 0);
	assert_int_equal(r->n_names, 1);
	free(name);
	image_rec_free(r);
	expect_no_find(KC, ENOENT, "not found");
	expect_find("kube-cross:dev", ID_A);
	assert_int_equal(image_lookup(s, "aaaa1111", &r, &name, &err), 0);
	assert_null(name);
	assert_int_equal(image_untag(s, r, "nosuch:1", &err), -ENOENT);
	image_rec_free(r);
}

/* A reference that finds nothing names the store's closest names: the
 * same repository with another tag first, then a typo or two away, in the
 * form the user typed (short or full); none for an id or a far name. */
static void test_suggest(void **state)
{
	char buf[512];
	save(rec(ID_A, "registry.k8s.io/build-image/kube-cross:v1.0.0-go1.19-bookworm.0", "l1"));
	save(rec(ID_B, "busybox:1.36,alpine:3.19", "l2"));
	save(rec(ID_C, "kube-crass:v1.0.0", "l3"));
	assert_int_equal(image_suggest(s, "kube-cross:v1.0.0", buf, sizeof buf), 2);
	assert_string_equal(buf, "kube-cross:v1.0.0-go1.19-bookworm.0 or kube-crass:v1.0.0");
	expect_no_find("kube-cross:v1.0.0", ENOENT, "did you mean kube-cross:v1.0.0-go1.19-bookworm.0 or");
	assert_int_equal(image_suggest(s, "registry.k8s.io/build-image/kube-cross:v1", buf, sizeof buf), 1);
	assert_string_equal(buf, "registry.k8s.io/build-image/kube-cross:v1.0.0-go1.19-bookworm.0");
	assert_int_equal(image_suggest(s, "busybx:1.36", buf, sizeof buf), 1);
	assert_string_equal(buf, "busybox:1.36");
	assert_int_equal(image_suggest(s, "busybox", buf, sizeof buf), 1);    /* busybox:latest */
	assert_int_equal(image_suggest(s, "debian:12", buf, sizeof buf), 0);
	assert_int_equal(image_suggest(s, "0123456789ab", buf, sizeof buf), 0);
	expect_no_find("debian:12", ENOENT, "image ls lists");
	/* An upper-case repository is refused, and the message says why. */
	expect_no_find("Busybox:1.36", EINVAL, "lower-case");
}

static bool rec_has(const char *hex, const char *name)
{
	image_rec *r;
	bool found = false;
	assert_int_equal(image_load(s, hex, &r, &err), 0);
	for (size_t i = 0; i < r->n_names; i++)
		found = found || !strcmp(r->names[i], name);
	image_rec_free(r);
	return found;
}

static void test_commit(void **state)
{
	image_rec *a = rec("A", "x:1,y:1", "l1"), *b = rec("B", "x:1", "l2"), *a2 = rec("A", "z:1", "l1");
	assert_int_equal(image_commit(s, a, &err), 0);
	assert_int_equal(image_commit(s, b, &err), 0);    /* takes x:1 from A */
	assert_false(rec_has(dg("A").hex, "x:1"));
	assert_true(rec_has(dg("A").hex, "y:1"));
	assert_true(rec_has(dg("B").hex, "x:1"));
	assert_int_equal(image_commit(s, a2, &err), 0);   /* re-import: keeps y:1 */
	assert_true(rec_has(dg("A").hex, "y:1"));
	assert_true(rec_has(dg("A").hex, "z:1"));
	assert_true(rec_has(dg("B").hex, "x:1"));
	image_rec_free(a);
	image_rec_free(b);
	image_rec_free(a2);
}

static void test_json(void **state)
{
	image_rec *r = rec("J", "j:1", "l1,l2");
	const char *cfg = "{\"config\":{\"Env\":[\"PATH=/bin\"],\"WorkingDir\":\"/w\"},\"os\":\"linux\"}";
	r->id = dg(cfg);
	assert_int_equal(store_put_blob(s, &r->id, cfg, strlen(cfg), &err), 1);
	json_t *j = image_json(s, r, true);
	assert_non_null(j);
	char *id = xasprintf("sha256:%s", r->id.hex), *path = xasprintf("%s/layers/%s", s->root, r->layers[1].diff_id.hex);
	assert_string_equal(json_string_value(json_object_get(j, "id")), id);
	json_t *l1 = json_array_get(json_object_get(j, "layers"), 1);
	assert_string_equal(json_string_value(json_object_get(l1, "path")), path);
	assert_int_equal(json_integer_value(json_object_get(l1, "unpacked_size")), 5002);
	json_t *c = json_object_get(j, "config");
	assert_string_equal(json_string_value(json_array_get(json_object_get(c, "Env"), 0)), "PATH=/bin");
	assert_string_equal(json_string_value(json_object_get(c, "WorkingDir")), "/w");
	assert_string_equal(json_string_value(json_object_get(c, "User")), "");
	assert_true(json_is_null(json_object_get(c, "Cmd")));
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "platform"), "variant")), "v8");
	json_decref(j);
	j = image_json(s, r, false);
	assert_null(json_object_get(j, "config"));
	json_decref(j);
	image_rec_free(r);
	free(id);
	free(path);
}

/* Lay down an image's layers and blobs as an import would. */
static void materialize(const image_rec *r)
{
	for (size_t i = 0; i < r->n_layers; i++)
		assert_int_equal(run("mkdir -p %s/layers/%s/etc/ro && touch %s/layers/%s/etc/ro/f && chmod 0555 %s/layers/%s/etc/ro",
				     s->root, r->layers[i].diff_id.hex, s->root, r->layers[i].diff_id.hex,
				     s->root, r->layers[i].diff_id.hex), 0);
	assert_true(store_put_blob(s, &r->id, "c", 1, &err) >= 0);
	assert_true(store_put_blob(s, &r->manifest, "m", 1, &err) >= 0);
}

static void test_remove_prune(void **state)
{
	image_rec *a = rec("A", "a:1", "l1,l2"), *b = rec("B", "b:1", "l1,l3"), *x = rec("X", "", "l9");
	materialize(a);
	materialize(b);
	materialize(x);    /* X's layers and blobs, but no record */
	assert_int_equal(image_save(s, a, &err), 0);
	assert_int_equal(image_save(s, b, &err), 0);

	assert_int_equal(image_remove(s, a, &err), 0);
	char *rec_a = xasprintf("%s.json", a->id.hex);
	assert_false(has(s->images_fd, rec_a));
	assert_true(store_has_layer(s, &a->layers[0].diff_id));     /* l1: B uses it */
	assert_false(store_has_layer(s, &a->layers[1].diff_id));    /* l2 */
	assert_true(store_has_layer(s, &b->layers[1].diff_id));     /* l3 */
	assert_false(has(s->blobs_fd, a->id.hex));
	assert_false(has(s->blobs_fd, a->manifest.hex));
	assert_true(has(s->blobs_fd, b->id.hex));
	assert_true(has(s->blobs_fd, b->manifest.hex));
	assert_true(store_has_layer(s, &x->layers[0].diff_id));     /* rm leaves others' garbage */

	prune_stats ps;
	assert_int_equal(image_prune(s, &ps, &err), 0);
	assert_int_equal(ps.layers, 1);
	assert_int_equal(ps.blobs, 2);
	assert_false(store_has_layer(s, &x->layers[0].diff_id));
	assert_false(has(s->blobs_fd, x->id.hex));
	assert_true(store_has_layer(s, &b->layers[0].diff_id));
	assert_true(store_has_layer(s, &b->layers[1].diff_id));
	assert_true(has(s->blobs_fd, b->id.hex));
	assert_int_equal(image_prune(s, &ps, &err), 0);    /* nothing left to do */
	assert_int_equal(ps.layers + ps.blobs, 0);

	assert_int_equal(image_remove(s, b, &err), 0);
	image_rec **l;
	size_t n;
	assert_int_equal(image_list(s, &l, &n, &err), 0);
	assert_int_equal(n, 0);
	free(l);
	DIR *d = opendir_at(s->layers_fd);
	struct dirent *de;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			fail_msg("layer %s left behind", de->d_name);
	closedir(d);
	image_rec_free(a);
	image_rec_free(b);
	image_rec_free(x);
	free(rec_a);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_layout), T(test_workdir), T(test_clean_tmp), T(test_lock_wait), T(test_publish_layer),
		T(test_blobs), T(test_save_load), T(test_find), T(test_lookup_untag),
		T(test_suggest), T(test_commit), T(test_json), T(test_remove_prune),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
