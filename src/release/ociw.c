/* Writing layers, image documents and image archives (ociw.h). */
#include "release/ociw.h"
#include "release/baseimg.h"
#include "image/import/sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <linux/openat2.h>

/* ---- the files a build adds ---- */

fs_node *fs_find(const fs_tree *t, const char *path)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->v[i]->path, path))
			return t->v[i];
	return NULL;
}

static void node_clear(fs_node *n)
{
	free(n->link);
	free(n->src);
	char *path = n->path;
	*n = (fs_node){ .path = path, .srcdir = -1 };
}

fs_node *fs_put(fs_tree *t, const char *path)
{
	fs_node *n = fs_find(t, path);
	if (n) {
		node_clear(n);
		return n;
	}
	fs_node **v = realloc(t->v, (t->n + 1) * sizeof *v);
	if (!v)
		return NULL;
	t->v = v;
	if (!(n = calloc(1, sizeof *n)))
		return NULL;
	n->path = xstrdup(path);
	n->srcdir = -1;
	t->v[t->n++] = n;
	return n;
}

void fs_free(fs_tree *t)
{
	for (size_t i = 0; i < t->n; i++) {
		node_clear(t->v[i]);
		free(t->v[i]->path);
		free(t->v[i]);
	}
	free(t->v);
	t->v = NULL;
	t->n = 0;
}

static int by_path(const void *a, const void *b)
{
	return strcmp((*(fs_node *const *)a)->path, (*(fs_node *const *)b)->path);
}

static int open_in_root(int dirfd, const char *path)
{
	struct open_how how = { .flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
				.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

static int write_node(tarw *w, const fs_node *n, long long mtime, kb_error *e)
{
	tar_xattr cap = { "security.capability", n->cap, sizeof n->cap };
	tar_entry en = { .path = n->path, .type = n->type, .mode = n->mode, .uid = n->uid, .gid = n->gid,
			 .size = n->size, .mtime = mtime, .link = n->link, .xattrs = n->has_cap ? &cap : NULL,
			 .n_xattrs = n->has_cap };
	if (n->type != '0')
		return tarw_header(w, &en, e);
	_cleanup_close_ int fd = open_in_root(n->srcdir, n->src);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return kb_err(e, errno, "%s", n->src);
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != n->size)
		return kb_errx(e, EIO, "%s: changed while the image was being built", n->src);
	return tarw_file_fd(w, &en, fd, e);
}

int fs_write_layer(const fs_tree *t, long long mtime, tar_sink_fn sink, void *ctx, kb_error *e)
{
	_cleanup_free_ fs_node **v = t->n ? malloc(t->n * sizeof *v) : NULL;
	tarw w;
	int r = 0;

	if (t->n && !v)
		return kb_err_oom(e, "layer");
	if (t->n)
		memcpy(v, t->v, t->n * sizeof *v);
	/* Sorted by the whole path: parents before children, and the same
	 * order whatever order the Dockerfile or the disk gave. */
	if (t->n)
		qsort(v, t->n, sizeof *v, by_path);
	tarw_init(&w, sink, ctx);
	for (size_t i = 0; i < t->n && r == 0; i++)
		r = write_node(&w, v[i], mtime, e);
	return r < 0 ? r : tarw_finish(&w, e);
}

/* ---- an image ---- */

void oci_time(long long t, char buf[32])
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

const char *oci_layer_media(const unsigned char *head, size_t n)
{
	if (n >= 2 && head[0] == 0x1f && head[1] == 0x8b)
		return MT_OCI_LAYER_GZIP;
	if (n >= 4 && head[0] == 0x28 && head[1] == 0xb5 && head[2] == 0x2f && head[3] == 0xfd)
		return MT_OCI_LAYER_ZSTD;
	return MT_OCI_LAYER;
}

void oci_image_free(oci_image *im)
{
	if (!im)
		return;
	free(im->config);
	free(im->manifest);
	free(im->layers);
	free(im);
}

static json_t *digest_str(const kb_digest *d)
{
	char buf[80];
	snprintf(buf, sizeof buf, "sha256:%s", d->hex);
	return json_string(buf);
}

static void platform_of(const char *config, size_t len, kb_platform *p)
{
	json_t *c = json_loadb(config, len, 0, NULL);
	snprintf(p->os, sizeof p->os, "%s", json_string_value(json_object_get(c, "os")) ?: "");
	snprintf(p->arch, sizeof p->arch, "%s", json_string_value(json_object_get(c, "architecture")) ?: "");
	snprintf(p->variant, sizeof p->variant, "%s", json_string_value(json_object_get(c, "variant")) ?: "");
	json_decref(c);
}

/* Compact, keys sorted: the same bytes for the same content. */
static char *dump(json_t *j, size_t *len)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	*len = s ? strlen(s) : 0;
	return s;
}

int oci_image_make(json_t *config, const oci_layer *layers, size_t n, oci_image **ret, kb_error *e)
{
	_cleanup_(oci_image_freep) oci_image *im = calloc(1, sizeof *im);
	json_t *m = NULL, *ls;
	int r = -ENOMEM;

	if (!im || !(im->layers = calloc(n + 1, sizeof *im->layers)) || !(im->config = dump(config, &im->config_len)))
		goto out;
	sha256_buf(im->config, im->config_len, &im->config_digest);
	memcpy(im->layers, layers, n * sizeof *layers);
	im->n_layers = n;
	m = json_pack("{s:i, s:s, s:{s:s, s:o, s:I}, s:[]}", "schemaVersion", 2, "mediaType", MT_OCI_MANIFEST, "config",
		      "mediaType", MT_OCI_CONFIG, "digest", digest_str(&im->config_digest), "size",
		      (json_int_t)im->config_len, "layers");
	if (!m)
		goto out;
	ls = json_object_get(m, "layers");
	for (size_t i = 0; i < n; i++)
		if (json_array_append_new(ls, json_pack("{s:s, s:o, s:I}", "mediaType", layers[i].media, "digest",
							digest_str(&layers[i].digest), "size", (json_int_t)layers[i].size)) < 0)
			goto out;
	if (!(im->manifest = dump(m, &im->manifest_len)))
		goto out;
	sha256_buf(im->manifest, im->manifest_len, &im->manifest_digest);
	platform_of(im->config, im->config_len, &im->platform);
	*ret = steal_ptr(im);
	r = 0;
out:
	json_decref(m);
	json_decref(config);
	return r < 0 ? kb_err_oom(e, "image configuration") : 0;
}

int oci_image_parse(const char *manifest, size_t mlen, const char *config, size_t clen, oci_image **ret, kb_error *e)
{
	_cleanup_(oci_image_freep) oci_image *im = calloc(1, sizeof *im);
	json_t *m = json_loadb(manifest, mlen, 0, NULL), *v;
	kb_digest cd;
	size_t i;
	int r = -EINVAL;

	if (!im || !json_is_object(m))
		goto out;
	sha256_buf(config, clen, &cd);
	if (digest_parse(json_string_value(json_object_get(json_object_get(m, "config"), "digest")),
			 &im->config_digest, e) < 0 || strcmp(cd.hex, im->config_digest.hex))
		goto out;
	json_t *ls = json_object_get(m, "layers");
	im->layers = calloc(json_array_size(ls) + 1, sizeof *im->layers);
	if (!im->layers)
		goto out;
	json_array_foreach(ls, i, v) {
		oci_layer *l = &im->layers[im->n_layers++];
		if (digest_parse(json_string_value(json_object_get(v, "digest")), &l->digest, e) < 0)
			goto out;
		l->size = (uint64_t)json_integer_value(json_object_get(v, "size"));
		snprintf(l->media, sizeof l->media, "%s", json_string_value(json_object_get(v, "mediaType")) ?: MT_OCI_LAYER);
	}
	im->config = malloc(clen + 1);
	im->manifest = malloc(mlen + 1);
	if (!im->config || !im->manifest)
		goto out;
	memcpy(im->config, config, clen);
	im->config_len = clen;
	memcpy(im->manifest, manifest, mlen);
	im->manifest_len = mlen;
	sha256_buf(manifest, mlen, &im->manifest_digest);
	platform_of(config, clen, &im->platform);
	*ret = steal_ptr(im);
	r = 0;
out:
	json_decref(m);
	if (r < 0) {
		*e = (kb_error){ 0 };
		return kb_errx(e, EINVAL, "image: its manifest or configuration is damaged");
	}
	return 0;
}

/* ---- an image archive ---- */

typedef struct arc_blob {
	kb_digest d;
	uint64_t size;
	const char *mem;             /* a document in memory, or NULL: open_blob */
} arc_blob;

static int by_hex(const void *a, const void *b)
{
	return strcmp(((const arc_blob *)a)->d.hex, ((const arc_blob *)b)->d.hex);
}

/* Every blob of the images once, sorted by digest. */
static arc_blob *collect(const oci_tagged *imgs, size_t n, size_t *ret_n)
{
	size_t cap = 0, k = 0;
	for (size_t i = 0; i < n; i++)
		cap += imgs[i].im->n_layers + 2;
	arc_blob *v = calloc(cap + 1, sizeof *v);
	if (!v)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const oci_image *im = imgs[i].im;
		v[k++] = (arc_blob){ im->config_digest, im->config_len, im->config };
		v[k++] = (arc_blob){ im->manifest_digest, im->manifest_len, im->manifest };
		for (size_t l = 0; l < im->n_layers; l++)
			v[k++] = (arc_blob){ im->layers[l].digest, im->layers[l].size, NULL };
	}
	qsort(v, k, sizeof *v, by_hex);
	size_t out = 0;
	for (size_t i = 0; i < k; i++)
		if (!out || strcmp(v[out - 1].d.hex, v[i].d.hex))
			v[out++] = v[i];
	*ret_n = out;
	return v;
}

static json_t *blob_path(const kb_digest *d)
{
	char buf[96];
	snprintf(buf, sizeof buf, "blobs/sha256/%s", d->hex);
	return json_string(buf);
}

/* index.json: one entry per image and tag, named as containerd and
 * Docker 25 name them. */
static json_t *index_json(const oci_tagged *imgs, size_t n)
{
	json_t *ms = json_array();
	for (size_t i = 0; i < n; i++) {
		const oci_image *im = imgs[i].im;
		for (size_t t = 0; t < (imgs[i].n_tags ? imgs[i].n_tags : 1); t++) {
			json_t *d = json_pack("{s:s, s:o, s:I, s:{s:s, s:s}}", "mediaType", MT_OCI_MANIFEST, "digest",
					      digest_str(&im->manifest_digest), "size", (json_int_t)im->manifest_len,
					      "platform", "architecture", im->platform.arch, "os", im->platform.os);
			if (d && im->platform.variant[0])
				json_object_set_new(json_object_get(d, "platform"), "variant", json_string(im->platform.variant));
			if (d && imgs[i].n_tags)
				json_object_set_new(d, "annotations",
						    json_pack("{s:s, s:s}", "io.containerd.image.name", imgs[i].tags[t],
							      "org.opencontainers.image.ref.name", docker_ref_tag(imgs[i].tags[t])));
			json_array_append_new(ms, d);
		}
	}
	return json_pack("{s:i, s:s, s:o}", "schemaVersion", 2, "mediaType", MT_OCI_INDEX, "manifests", ms);
}

/* manifest.json: what `docker load` of every version reads. */
static json_t *docker_manifest_json(const oci_tagged *imgs, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *tags = json_array(), *layers = json_array();
		for (size_t t = 0; t < imgs[i].n_tags; t++) {
			char *f = docker_ref_familiar(imgs[i].tags[t]);
			json_array_append_new(tags, json_string(f ? f : imgs[i].tags[t]));
			free(f);
		}
		for (size_t l = 0; l < imgs[i].im->n_layers; l++)
			json_array_append_new(layers, blob_path(&imgs[i].im->layers[l].digest));
		json_array_append_new(a, json_pack("{s:o, s:o, s:o}", "Config", blob_path(&imgs[i].im->config_digest),
						   "RepoTags", tags, "Layers", layers));
	}
	return a;
}

static int put_doc(tarw *w, const char *name, json_t *j, long long mtime, kb_error *e)
{
	size_t len;
	_cleanup_free_ char *s = j ? dump(j, &len) : NULL;
	json_decref(j);
	if (!s)
		return kb_err_oom(e, name);
	tar_entry en = { .path = name, .type = '0', .mode = 0644, .size = len, .mtime = mtime };
	int r = tarw_header(w, &en, e);
	return r < 0 ? r : tarw_data(w, s, len, e);
}

static int put_blob(tarw *w, const arc_blob *b, long long mtime, blob_open_fn open_blob, void *ctx, kb_error *e)
{
	char name[96];
	snprintf(name, sizeof name, "blobs/sha256/%s", b->d.hex);
	tar_entry en = { .path = name, .type = '0', .mode = 0644, .size = b->size, .mtime = mtime };
	if (b->mem) {
		int r = tarw_header(w, &en, e);
		return r < 0 ? r : tarw_data(w, b->mem, b->size, e);
	}
	int fd = open_blob(ctx, &b->d, e);
	if (fd < 0)
		return fd;
	int r = tarw_file_fd(w, &en, fd, e);
	close(fd);
	return r;
}

int oci_write_archive(int fd, const oci_tagged *imgs, size_t n, long long mtime, blob_open_fn open_blob, void *ctx,
		      kb_error *e)
{
	size_t nb = 0;
	_cleanup_free_ arc_blob *blobs = collect(imgs, n, &nb);
	_cleanup_free_ fd_sink *sink = calloc(1, sizeof *sink);
	tarw w;
	int r;

	if (!blobs || !sink)
		return kb_err_oom(e, "image archive");
	sink->fd = fd;
	tarw_init(&w, fd_sink_write, sink);
	tar_entry dir = { .path = "blobs", .type = '5', .mode = 0755, .mtime = mtime };
	if ((r = tarw_header(&w, &dir, e)) < 0)
		return r;
	dir.path = "blobs/sha256";
	if ((r = tarw_header(&w, &dir, e)) < 0)
		return r;
	for (size_t i = 0; i < nb; i++)
		if ((r = put_blob(&w, &blobs[i], mtime, open_blob, ctx, e)) < 0)
			return r;
	if ((r = put_doc(&w, "index.json", index_json(imgs, n), mtime, e)) < 0 ||
	    (r = put_doc(&w, "manifest.json", docker_manifest_json(imgs, n), mtime, e)) < 0 ||
	    (r = put_doc(&w, "oci-layout", json_pack("{s:s}", "imageLayoutVersion", "1.0.0"), mtime, e)) < 0 ||
	    (r = tarw_finish(&w, e)) < 0)
		return r;
	return fd_sink_flush(sink, e);
}
