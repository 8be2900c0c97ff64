/* The docker stand-in's image store (dstore.h). */
#include "release/dstore.h"
#include "release/baseimg.h"
#include "image/import/oci.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#define TAGS "tags.json"

static int sub_dir(int dirfd, const char *name, int *ret)
{
	if (mkdirat(dirfd, name, 0755) < 0 && errno != EEXIST)
		return -errno;
	*ret = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	return *ret < 0 ? -errno : 0;
}

void dstore_close(dstore *d)
{
	if (!d)
		return;
	int fds[] = { d->fd, d->blobs_fd, d->tmp_fd };
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(d);
}

int dstore_open(const char *root, kb_store *base, dstore **ret, kb_error *e)
{
	_cleanup_(dstore_closep) dstore *d = calloc(1, sizeof *d);
	int r, bfd = -1;

	if (!d)
		return kb_err_oom(e, "image store");
	d->fd = d->blobs_fd = d->tmp_fd = -1;
	d->base = base;
	if ((r = mkdir_p_at(AT_FDCWD, root, 0755)) < 0)
		return kb_err(e, -r, "image store %s", root);
	if ((d->fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return kb_err(e, errno, "image store %s", root);
	if ((r = sub_dir(d->fd, "blobs", &bfd)) < 0 || (r = sub_dir(bfd, "sha256", &d->blobs_fd)) < 0 ||
	    (r = sub_dir(d->fd, "tmp", &d->tmp_fd)) < 0) {
		if (bfd >= 0)
			close(bfd);
		return kb_err(e, -r, "image store %s", root);
	}
	close(bfd);
	*ret = steal_ptr(d);
	return 0;
}

/* Parallel builds (upstream runs one per binary at once) change the tags
 * one at a time. */
static int lock(dstore *d, kb_error *e)
{
	int fd = openat(d->fd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return kb_err(e, errno, "image store lock");
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			int err = errno;
			close(fd);
			return kb_err(e, err, "image store lock");
		}
	return fd;
}

static json_t *read_tags(dstore *d)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	json_t *j = read_file_at(d->fd, TAGS, 16 << 20, &text, &len) == 0 ? json_loadb(text, len, 0, NULL) : NULL;
	if (!json_is_object(j)) {
		json_decref(j);
		j = json_object();
	}
	return j;
}

static int write_tags(dstore *d, json_t *tags, kb_error *e)
{
	_cleanup_free_ char *s = json_dumps(tags, JSON_INDENT(1) | JSON_SORT_KEYS);
	int r = s ? write_file_atomic(d->fd, TAGS, s, strlen(s)) : -ENOMEM;
	return r < 0 ? kb_err(e, -r, "image store " TAGS) : 0;
}

static int put_doc(dstore *d, const kb_digest *dg, const char *data, size_t len, kb_error *e)
{
	if (faccessat(d->blobs_fd, dg->hex, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	int r = write_file_atomic(d->blobs_fd, dg->hex, data, len);
	return r < 0 ? kb_err(e, -r, "image store blob sha256:%.12s", dg->hex) : 0;
}

static json_t *digest_str(const kb_digest *dg)
{
	char buf[80];
	snprintf(buf, sizeof buf, "sha256:%s", dg->hex);
	return json_string(buf);
}

int dstore_load(dstore *d, const oci_image *im, const char *layer, char *const *tags, size_t n, kb_error *e)
{
	int r;
	if ((r = put_doc(d, &im->config_digest, im->config, im->config_len, e)) < 0 ||
	    (r = put_doc(d, &im->manifest_digest, im->manifest, im->manifest_len, e)) < 0)
		return r;
	if (layer && *layer) {
		const kb_digest *ld = &im->layers[im->n_layers - 1].digest;
		if (renameat(d->tmp_fd, layer, d->blobs_fd, ld->hex) < 0)
			return kb_err(e, errno, "image store blob sha256:%.12s", ld->hex);
	}
	int lfd = lock(d, e);
	if (lfd < 0)
		return lfd;
	json_t *t = read_tags(d);
	for (size_t i = 0; i < n; i++)
		json_object_set_new(t, tags[i], digest_str(&im->manifest_digest));
	r = write_tags(d, t, e);
	json_decref(t);
	close(lfd);
	return r;
}

static int load_image(dstore *d, const char *manifest_ref, oci_image **ret, kb_error *e)
{
	_cleanup_free_ char *m = NULL, *c = NULL;
	size_t ml, cl;
	kb_digest md, cd;
	int r;

	if ((r = digest_parse(manifest_ref, &md, e)) < 0)
		return r;
	if ((r = read_file_at(d->blobs_fd, md.hex, MAX_MANIFEST_SIZE, &m, &ml)) < 0)
		return kb_err(e, -r, "image store: manifest sha256:%.12s", md.hex);
	json_t *j = json_loadb(m, ml, 0, NULL);
	r = digest_parse(json_string_value(json_object_get(json_object_get(j, "config"), "digest")), &cd, e);
	json_decref(j);
	if (r < 0)
		return r;
	if ((r = read_file_at(d->blobs_fd, cd.hex, MAX_CONFIG_SIZE, &c, &cl)) < 0)
		return kb_err(e, -r, "image store: config sha256:%.12s", cd.hex);
	return oci_image_parse(m, ml, c, cl, ret, e);
}

static bool id_prefix(const char *ref, const char **hex)
{
	const char *h = !strncmp(ref, "sha256:", 7) ? ref + 7 : ref;
	size_t n = strlen(h);
	if (n < 4 || n > DIGEST_HEX_LEN || strspn(h, "0123456789abcdef") != n)
		return false;
	*hex = h;
	return true;
}

/* The manifest a reference names: its tag, else an image id prefix. */
static const char *resolve(dstore *d, json_t *tags, const char *ref, kb_error *e)
{
	_cleanup_free_ char *full = docker_ref_full(ref);
	const char *hex, *key, *hit = NULL;
	json_t *v;
	if (full && json_is_string(json_object_get(tags, full)))
		return json_string_value(json_object_get(tags, full));
	if (!id_prefix(ref, &hex)) {
		kb_errx(e, ENOENT, "No such image: %s", ref);
		return NULL;
	}
	json_object_foreach(tags, key, v) {
		oci_image *im = NULL;
		kb_error ignored = { 0 };
		if (!json_is_string(v) || load_image(d, json_string_value(v), &im, &ignored) < 0)
			continue;
		bool m = !strncmp(im->config_digest.hex, hex, strlen(hex));
		oci_image_free(im);
		if (m && hit && strcmp(hit, json_string_value(v))) {
			kb_errx(e, EINVAL, "%s: ambiguous image id", ref);
			return NULL;
		}
		if (m)
			hit = json_string_value(v);
	}
	if (!hit)
		kb_errx(e, ENOENT, "No such image: %s", ref);
	return hit;
}

int dstore_find(dstore *d, const char *ref, oci_image **ret, kb_error *e)
{
	json_t *tags = read_tags(d);
	const char *m = resolve(d, tags, ref, e);
	int r = m ? load_image(d, m, ret, e) : -ENOENT;
	json_decref(tags);
	return r;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int dstore_tags_of(dstore *d, const kb_digest *m, char ***ret, size_t *ret_n, kb_error *e)
{
	json_t *tags = read_tags(d), *v;
	const char *key;
	char **out = calloc(json_object_size(tags) + 1, sizeof *out);
	size_t n = 0;
	if (!out) {
		json_decref(tags);
		return kb_err_oom(e, "image store");
	}
	json_object_foreach(tags, key, v)
		if (json_is_string(v) && !strncmp(json_string_value(v), "sha256:", 7) && !strcmp(json_string_value(v) + 7, m->hex))
			out[n++] = xstrdup(key);
	json_decref(tags);
	if (n)
		qsort(out, n, sizeof *out, str_cmp);
	*ret = out;
	*ret_n = n;
	return 0;
}

int dstore_untag(dstore *d, const char *ref, char ***ret_untagged, size_t *ret_n, kb_error *e)
{
	_cleanup_free_ char *full = docker_ref_full(ref);
	int lfd = lock(d, e), r = 0;
	if (lfd < 0)
		return lfd;
	json_t *tags = read_tags(d);
	*ret_untagged = NULL;
	*ret_n = 0;
	if (full && json_object_get(tags, full)) {
		json_object_del(tags, full);
		*ret_untagged = calloc(2, sizeof **ret_untagged);
		(*ret_untagged)[(*ret_n)++] = steal_ptr(full);
	} else {
		const char *m = resolve(d, tags, ref, e);
		kb_digest md;
		if (!m || digest_parse(m, &md, e) < 0)
			r = -ENOENT;
		else if ((r = dstore_tags_of(d, &md, ret_untagged, ret_n, e)) == 0)
			for (size_t i = 0; i < *ret_n; i++)
				json_object_del(tags, (*ret_untagged)[i]);
	}
	if (r == 0)
		r = write_tags(d, tags, e);
	json_decref(tags);
	close(lfd);
	return r;
}

int dstore_tag(dstore *d, const char *src, const char *dst, kb_error *e)
{
	_cleanup_free_ char *full = docker_ref_full(dst);
	if (!full || strchr(full, '@'))
		return kb_errx(e, EINVAL, "%s: not a valid tag", dst);
	int lfd = lock(d, e), r = 0;
	if (lfd < 0)
		return lfd;
	json_t *tags = read_tags(d);
	const char *m = resolve(d, tags, src, e);
	if (!m)
		r = -ENOENT;
	else if (json_object_set_new(tags, full, json_string(m)) < 0)
		r = kb_err_oom(e, "image store");
	if (r == 0)
		r = write_tags(d, tags, e);
	json_decref(tags);
	close(lfd);
	return r;
}

json_t *dstore_all(dstore *d, kb_error *e)
{
	(void)e;
	return read_tags(d);
}

int dstore_open_blob(void *ctx, const kb_digest *dg, kb_error *e)
{
	dstore *d = ctx;
	int fd = openat(d->blobs_fd, dg->hex, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT && d->base)
		fd = openat(d->base->blobs_fd, dg->hex, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return kb_err(e, errno, "blob sha256:%.12s", dg->hex);
	return fd;
}
