/* Image records (image.h): load, save, list, find, commit, remove, prune. */
#include "image/image.h"
#include "image/import/oci.h"
#include "base/jsontext.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_RECORD_SIZE (4u << 20)

void image_rec_free(image_rec *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_names; i++)
		free(r->names[i]);
	free(r->names);
	for (size_t i = 0; i < r->n_layers; i++)
		free(r->layers[i].media_type);
	free(r->layers);
	free(r->created);
	image_source_clear(&r->source);
	free(r);
}

void image_source_clear(image_source *s)
{
	free(s->location);
	free(s->via);
	memset(s, 0, sizeof *s);
}

int image_source_copy(image_source *dst, const image_source *src)
{
	*dst = *src;
	dst->location = src->location ? strdup(src->location) : NULL;
	dst->via = src->via ? strdup(src->via) : NULL;
	if ((src->location && !dst->location) || (src->via && !dst->via)) {
		image_source_clear(dst);
		return -ENOMEM;
	}
	return 0;
}

static json_t *source_json(const image_source *s)
{
	json_t *j = json_pack("{s:s, s:s}", "type", s->kind == SRC_REGISTRY ? "registry" : "archive",
			      s->kind == SRC_REGISTRY ? "reference" : "path", s->location ? s->location : "");
	char buf[80];
	if (j && s->has_digest) {
		snprintf(buf, sizeof buf, "sha256:%s", s->digest.hex);
		json_object_set_new(j, s->kind == SRC_REGISTRY ? "digest" : "sha256", json_string(buf));
	}
	if (j && s->via)
		json_object_set_new(j, "via", json_string(s->via));
	return j;
}

/* Optional, and only informative: an odd "source" is left out. */
static void parse_source(json_t *j, image_source *s)
{
	const char *type = json_string_value(json_object_get(j, "type"));
	bool reg = type && !strcmp(type, "registry");
	const char *loc = json_string_value(json_object_get(j, reg ? "reference" : "path"));
	const char *dg = json_string_value(json_object_get(j, reg ? "digest" : "sha256"));
	const char *via = json_string_value(json_object_get(j, "via"));
	kb_error ignored = { 0 };

	if (!type || (!reg && strcmp(type, "archive")) || !loc)
		return;
	s->kind = reg ? SRC_REGISTRY : SRC_ARCHIVE;
	s->location = strdup(loc);
	s->via = via ? strdup(via) : NULL;
	s->has_digest = dg && digest_parse(dg, &s->digest, &ignored) == 0;
}

void image_list_free(image_rec **l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		image_rec_free(l[i]);
	free(l);
}

uint64_t image_size(const image_rec *r)
{
	uint64_t t = 0;
	for (size_t i = 0; i < r->n_layers; i++)
		t += r->layers[i].unpacked_size;
	return t;
}

static json_t *digest_json(const kb_digest *d)
{
	char buf[80];
	snprintf(buf, sizeof buf, "sha256:%s", d->hex);
	return json_string(buf);
}

static json_t *platform_json(const kb_platform *p)
{
	json_t *j = json_pack("{s:s, s:s}", "os", p->os, "architecture", p->arch);
	if (j && p->variant[0])
		json_object_set_new(j, "variant", json_string(p->variant));
	return j;
}

static json_t *record_json(const image_rec *r)
{
	json_t *j = json_object(), *names = json_array(), *layers = json_array();
	json_object_set_new(j, "id", digest_json(&r->id));
	for (size_t i = 0; i < r->n_names; i++)
		json_array_append_new(names, json_string(r->names[i]));
	json_object_set_new(j, "names", names);
	json_object_set_new(j, "platform", platform_json(&r->platform));
	if (r->has_manifest)
		json_object_set_new(j, "manifest", digest_json(&r->manifest));
	if (r->created)
		json_object_set_new(j, "created", json_string(r->created));
	if (r->source.kind != SRC_NONE)
		json_object_set_new(j, "source", source_json(&r->source));
	for (size_t i = 0; i < r->n_layers; i++) {
		const layer_rec *l = &r->layers[i];
		json_t *lj = json_object();
		json_object_set_new(lj, "diff_id", digest_json(&l->diff_id));
		json_object_set_new(lj, "digest", digest_json(&l->digest));
		if (l->media_type)
			json_object_set_new(lj, "media_type", json_string(l->media_type));
		json_object_set_new(lj, "size", json_integer((json_int_t)l->size));
		json_object_set_new(lj, "unpacked_size", json_integer((json_int_t)l->unpacked_size));
		json_array_append_new(layers, lj);
	}
	json_object_set_new(j, "layers", layers);
	return j;
}

int image_save(kb_store *s, const image_rec *r, kb_error *e)
{
	json_t *j = record_json(r);
	char *txt = j ? json_dumps(j, JSON_INDENT(1) | JSON_SORT_KEYS) : NULL;
	json_decref(j);
	if (!txt)
		return kb_err_oom(e, "image record");
	_cleanup_free_ char *name = xasprintf("%s.json", r->id.hex);
	size_t len = strlen(txt);
	int res = store_write_file(s, s->images_fd, name, txt, len, e);
	free(txt);
	return res;
}

/* Records are our own files, but a damaged one must still fail cleanly. */
static int parse_record(const char *txt, size_t len, const char *hex, image_rec **ret, kb_error *e)
{
	_cleanup_(image_rec_freep) image_rec *r = calloc(1, sizeof *r);
	json_t *j = json_loadb(txt, len, 0, NULL), *a, *v;
	size_t i;
	int res = -EINVAL;

	if (!r || !json_is_object(j))
		goto bad;
	if (digest_parse(json_string_value(json_object_get(j, "id")), &r->id, e) < 0 || strcmp(r->id.hex, hex))
		goto bad;
	a = json_object_get(j, "names");
	r->names = calloc(json_array_size(a) + 1, sizeof *r->names);
	if (!r->names)
		goto bad;
	json_array_foreach(a, i, v)
		if (json_is_string(v))
			r->names[r->n_names++] = strdup(json_string_value(v));
	v = json_object_get(j, "platform");
	snprintf(r->platform.os, sizeof r->platform.os, "%s", json_string_value(json_object_get(v, "os")) ?: "");
	snprintf(r->platform.arch, sizeof r->platform.arch, "%s",
		 json_string_value(json_object_get(v, "architecture")) ?: "");
	snprintf(r->platform.variant, sizeof r->platform.variant, "%s",
		 json_string_value(json_object_get(v, "variant")) ?: "");
	if ((v = json_object_get(j, "manifest"))) {
		if (digest_parse(json_string_value(v), &r->manifest, e) < 0)
			goto bad;
		r->has_manifest = true;
	}
	if (json_is_string(json_object_get(j, "created")))
		r->created = strdup(json_string_value(json_object_get(j, "created")));
	if (json_is_object(json_object_get(j, "source")))
		parse_source(json_object_get(j, "source"), &r->source);
	a = json_object_get(j, "layers");
	if (!json_is_array(a))
		goto bad;
	r->layers = calloc(json_array_size(a) + 1, sizeof *r->layers);
	if (!r->layers)
		goto bad;
	json_array_foreach(a, i, v) {
		layer_rec *l = &r->layers[r->n_layers++];
		if (digest_parse(json_string_value(json_object_get(v, "diff_id")), &l->diff_id, e) < 0 ||
		    digest_parse(json_string_value(json_object_get(v, "digest")), &l->digest, e) < 0)
			goto bad;
		if (json_is_string(json_object_get(v, "media_type")))
			l->media_type = strdup(json_string_value(json_object_get(v, "media_type")));
		l->size = (uint64_t)json_integer_value(json_object_get(v, "size"));
		l->unpacked_size = (uint64_t)json_integer_value(json_object_get(v, "unpacked_size"));
	}
	res = 0;
	*ret = steal_ptr(r);
bad:
	json_decref(j);
	if (res < 0) {
		memset(e, 0, sizeof *e);
		return kb_errx(e, EINVAL, "image record images/%.12s….json is damaged", hex);
	}
	return 0;
}

int image_load(kb_store *s, const char *hex, image_rec **ret, kb_error *e)
{
	_cleanup_free_ char *name = xasprintf("%s.json", hex), *txt = NULL;
	size_t len;
	int r = read_file_at(s->images_fd, name, MAX_RECORD_SIZE, &txt, &len);
	if (r < 0)
		return kb_errx(e, -r, "image sha256:%.12s: %s", hex, read_file_strerror(r));
	return parse_record(txt, len, hex, ret, e);
}

static const char *first_name(const image_rec *r) { return r->n_names ? r->names[0] : NULL; }

static int rec_cmp(const void *a, const void *b)
{
	const char *x = first_name(*(image_rec *const *)a), *y = first_name(*(image_rec *const *)b);
	if (!x || !y)
		return x ? -1 : y ? 1 : 0;
	return strcmp(x, y);
}

int image_list(kb_store *s, image_rec ***ret, size_t *ret_n, kb_error *e)
{
	DIR *d = opendir_at(s->images_fd);
	struct dirent *de;
	image_rec **out = NULL;
	size_t n = 0;

	if (!d) {
		return kb_err(e, errno, "store %s/images", s->root);
	}
	while ((de = readdir(d))) {
		char hex[DIGEST_HEX_LEN + 1];
		if (strlen(de->d_name) != DIGEST_HEX_LEN + 5 || strcmp(de->d_name + DIGEST_HEX_LEN, ".json"))
			continue;
		memcpy(hex, de->d_name, DIGEST_HEX_LEN);
		hex[DIGEST_HEX_LEN] = 0;
		if (!digest_hex_valid(hex))
			continue;
		image_rec *r;
		kb_error le = { 0 };
		if (image_load(s, hex, &r, &le) < 0)
			continue;    /* vanished (rm in between) or damaged: not listed */
		image_rec **no = realloc(out, (n + 1) * sizeof *no);
		if (!no) {
			image_rec_free(r);
			closedir(d);
			image_list_free(out, n);
			return kb_err_oom(e, "image list");
		}
		out = no;
		out[n++] = r;
	}
	closedir(d);
	if (n)
		qsort(out, n, sizeof *out, rec_cmp);
	*ret = out;
	*ret_n = n;
	return 0;
}

static bool name_matches_suffix(const char *name, const char *ref)
{
	size_t nl = strlen(name), rl = strlen(ref);
	return nl > rl && name[nl - rl - 1] == '/' && !strcmp(name + nl - rl, ref);
}

static bool is_id_ref(const char *ref, const char **hex)
{
	const char *h = !strncmp(ref, "sha256:", 7) ? ref + 7 : ref;
	size_t n = strlen(h);
	if (n < 4 || n > DIGEST_HEX_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
			return false;
	*hex = h;
	return true;
}

/* ---- lookup ---- */

/* The name of image i that ref (normalised) matches in tier 0 (the full
 * name) or 1 (a name ending in "/REF"), or NULL. */
static const char *matching_name(const image_rec *r, const char *norm, int tier)
{
	for (size_t k = 0; k < r->n_names && norm; k++)
		if (tier == 0 ? !strcmp(r->names[k], norm) : name_matches_suffix(r->names[k], norm))
			return r->names[k];
	return NULL;
}

typedef struct hit {
	image_rec *rec;
	const char *name;            /* the name that matched, NULL for the id */
	char others[256];            /* the other matches of the same tier */
} hit;

/* Tiers, most specific first: the full name, a name that ends in "/REF"
 * (so kube-cross:TAG finds registry.k8s.io/…/kube-cross:TAG), then an id
 * prefix.  The first tier with a match decides; two matches there is
 * ambiguous (h->others is then set). */
static void match(image_rec **l, size_t n, const char *ref, const char *norm, hit *h)
{
	const char *hex = NULL;
	bool id_ref = is_id_ref(ref, &hex);

	for (int tier = 0; tier < 3 && !h->rec; tier++) {
		for (size_t i = 0; i < n; i++) {
			const char *name = tier < 2 ? matching_name(l[i], norm, tier) : NULL;
			bool m = tier < 2 ? name != NULL : id_ref && !strncmp(l[i]->id.hex, hex, strlen(hex));
			if (!m)
				continue;
			if (!h->rec) {
				h->rec = l[i];
				h->name = name;
				continue;
			}
			size_t ol = strlen(h->others);
			snprintf(h->others + ol, sizeof h->others - ol, "%s%s", ol ? ", " : "",
				 first_name(l[i]) ? first_name(l[i]) : l[i]->id.hex);
		}
	}
}

int image_lookup(kb_store *s, const char *ref, image_rec **ret, char **ret_name, kb_error *e)
{
	image_rec **l;
	size_t n;
	int r = image_list(s, &l, &n, e);
	if (r < 0)
		return r;
	const char *why = NULL, *hex = NULL;
	_cleanup_free_ char *norm = oci_name_normalize_why(ref, &why);
	hit h = { 0 };
	char hint[512];

	match(l, n, ref, norm, &h);
	if (h.rec && h.others[0]) {
		r = kb_errx(e, EINVAL, "image %s: ambiguous: matches %s, %s", ref,
			    first_name(h.rec) ? first_name(h.rec) : h.rec->id.hex, h.others);
	} else if (h.rec) {
		if (ret_name)
			*ret_name = h.name ? xstrdup(h.name) : NULL;
		for (size_t i = 0; i < n; i++)
			if (l[i] == h.rec)
				l[i] = NULL;
		*ret = h.rec;
		r = 0;
	} else if (!norm && !is_id_ref(ref, &hex)) {
		r = kb_errx(e, EINVAL, "image %s: %s", ref, why);
	} else if (image_suggest_in(l, n, ref, hint, sizeof hint) > 0) {
		r = kb_errx(e, ENOENT, "image %s: not found; did you mean %s?", ref, hint);
	} else {
		r = kb_errx(e, ENOENT, "image %s: not found (kbuild-ns image ls lists the imported images)", ref);
	}
	image_list_free(l, n);
	return r;
}

int image_find(kb_store *s, const char *ref, image_rec **ret, kb_error *e)
{
	return image_lookup(s, ref, ret, NULL, e);
}

int image_untag(kb_store *s, image_rec *rec, const char *name, kb_error *e)
{
	size_t keep = 0;
	for (size_t k = 0; k < rec->n_names; k++) {
		if (!strcmp(rec->names[k], name))
			free(rec->names[k]);
		else
			rec->names[keep++] = rec->names[k];
	}
	if (keep == rec->n_names)
		return kb_errx(e, ENOENT, "image sha256:%.12s: has no name %s", rec->id.hex, name);
	rec->n_names = keep;
	return image_save(s, rec, e);
}

static bool has_name(const image_rec *r, const char *name)
{
	for (size_t i = 0; i < r->n_names; i++)
		if (!strcmp(r->names[i], name))
			return true;
	return false;
}

int image_commit(kb_store *s, image_rec *rec, kb_error *e)
{
	image_rec **l;
	size_t n;
	int r = image_list(s, &l, &n, e);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && r >= 0; i++) {
		image_rec *o = l[i];
		if (!strcmp(o->id.hex, rec->id.hex)) {
			/* Re-import: keep the names it had. */
			for (size_t k = 0; k < o->n_names; k++) {
				if (has_name(rec, o->names[k]))
					continue;
				char **nn = realloc(rec->names, (rec->n_names + 1) * sizeof *nn);
				if (!nn) {
					r = kb_err_oom(e, "image record");
					break;
				}
				rec->names = nn;
				rec->names[rec->n_names++] = steal_ptr(o->names[k]);
			}
			continue;
		}
		/* A name belongs to one image per platform: the newest import
		 * takes it from an image of the same platform, and the images
		 * of a multi-platform base share it (release builds look them
		 * up by name and platform). */
		if (!platform_match(&o->platform, &rec->platform))
			continue;
		size_t keep = 0;
		bool changed = false;
		for (size_t k = 0; k < o->n_names; k++) {
			if (has_name(rec, o->names[k])) {
				free(o->names[k]);
				changed = true;
			} else {
				o->names[keep++] = o->names[k];
			}
		}
		o->n_names = keep;
		if (changed)
			r = image_save(s, o, e);
	}
	image_list_free(l, n);
	if (r < 0)
		return r;
	return image_save(s, rec, e);
}

/* ---- deletion ---- */

typedef struct refs {
	char (*hex)[DIGEST_HEX_LEN + 1];
	size_t n;
} refs;

static int refs_cmp(const void *a, const void *b) { return strcmp(a, b); }

static int refs_add(refs *r, const kb_digest *d)
{
	void *nh = realloc(r->hex, (r->n + 1) * sizeof *r->hex);
	if (!nh)
		return -ENOMEM;
	r->hex = nh;
	memcpy(r->hex[r->n++], d->hex, DIGEST_HEX_LEN + 1);
	return 0;
}

static bool refs_has(const refs *r, const char *hex)
{
	return r->n && bsearch(hex, r->hex, r->n, sizeof *r->hex, refs_cmp);
}

/* Digests of every layer and blob the remaining images use. */
static int collect_refs(kb_store *s, refs *layers, refs *blobs, kb_error *e)
{
	image_rec **l;
	size_t n;
	int r = image_list(s, &l, &n, e);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && r >= 0; i++) {
		r = refs_add(blobs, &l[i]->id);
		if (r >= 0 && l[i]->has_manifest)
			r = refs_add(blobs, &l[i]->manifest);
		for (size_t k = 0; k < l[i]->n_layers && r >= 0; k++) {
			r = refs_add(layers, &l[i]->layers[k].diff_id);
			if (r >= 0)    /* its blob, when import kept it */
				r = refs_add(blobs, &l[i]->layers[k].digest);
		}
	}
	image_list_free(l, n);
	if (r < 0)
		return kb_err(e, -r, "image list");
	if (layers->n)
		qsort(layers->hex, layers->n, sizeof *layers->hex, refs_cmp);
	if (blobs->n)
		qsort(blobs->hex, blobs->n, sizeof *blobs->hex, refs_cmp);
	return 0;
}

static int sweep(kb_store *s, const refs *layers, const refs *blobs, int dirfd, bool is_layers,
		 uint64_t *count, kb_error *e)
{
	DIR *d = opendir_at(dirfd);
	struct dirent *de;
	int r = 0;

	if (!d) {
		return kb_err(e, errno, "store %s", s->root);
	}
	while ((de = readdir(d)) && r >= 0) {
		if (!digest_hex_valid(de->d_name))
			continue;
		if (refs_has(is_layers ? layers : blobs, de->d_name))
			continue;
		if (is_layers)
			r = store_remove_layer(s, de->d_name, e);
		else if (unlinkat(dirfd, de->d_name, 0) < 0 && errno != ENOENT)
			r = kb_err(e, errno, "blob sha256:%.12s: remove", de->d_name);
		if (r >= 0)
			(*count)++;
	}
	closedir(d);
	return r;
}

int image_prune(kb_store *s, prune_stats *st, kb_error *e)
{
	refs layers = { 0 }, blobs = { 0 };
	int r = collect_refs(s, &layers, &blobs, e);
	memset(st, 0, sizeof *st);
	if (r >= 0)
		r = sweep(s, &layers, &blobs, s->layers_fd, true, &st->layers, e);
	if (r >= 0)
		r = sweep(s, &layers, &blobs, s->blobs_fd, false, &st->blobs, e);
	free(layers.hex);
	free(blobs.hex);
	return r;
}

int image_remove(kb_store *s, const image_rec *rec, kb_error *e)
{
	_cleanup_free_ char *name = xasprintf("%s.json", rec->id.hex);
	_cleanup_(image_rec_freep) image_rec *now = NULL;
	_cleanup_close_ int lock_fd = -1;
	bool waited;
	int r;

	/* Not while a build uses the image: its layers are under an overlay
	 * (store_claim_image waits, saying for whom). */
	char what[80];
	snprintf(what, sizeof what, "%s", rec->n_names ? rec->names[0] : rec->id.hex);
	if ((r = store_claim_image(s, &rec->id, what, &lock_fd, &waited, e)) < 0)
		return r;
	if (waited) {
		/* The store was open to others meanwhile: the record as it is now. */
		kb_error le = { 0 };
		if (image_load(s, rec->id.hex, &now, &le) < 0)
			return le.errnum == ENOENT ? 0 : (*e = le, -le.errnum);
		rec = now;
	}
	if (unlinkat(s->images_fd, name, 0) < 0)
		return kb_err(e, errno, "image sha256:%.12s", rec->id.hex);
	store_drop_image_lock(s, &rec->id);
	refs layers = { 0 }, blobs = { 0 };
	r = collect_refs(s, &layers, &blobs, e);
	for (size_t i = 0; i < rec->n_layers && r >= 0; i++) {
		if (!refs_has(&layers, rec->layers[i].diff_id.hex))
			r = store_remove_layer(s, rec->layers[i].diff_id.hex, e);
		if (r >= 0 && !refs_has(&blobs, rec->layers[i].digest.hex))
			(void)unlinkat(s->blobs_fd, rec->layers[i].digest.hex, 0);
	}
	if (r >= 0 && !refs_has(&blobs, rec->id.hex))
		(void)unlinkat(s->blobs_fd, rec->id.hex, 0);
	if (r >= 0 && rec->has_manifest && !refs_has(&blobs, rec->manifest.hex))
		(void)unlinkat(s->blobs_fd, rec->manifest.hex, 0);
	free(layers.hex);
	free(blobs.hex);
	return r;
}

/* ---- presentation ---- */

json_t *image_json(kb_store *s, const image_rec *r, bool with_config)
{
	json_t *j = record_json(r);
	if (!j)
		return NULL;
	json_object_set_new(j, "size", json_integer((json_int_t)image_size(r)));
	json_t *layers = json_object_get(j, "layers"), *lj;
	size_t i;
	json_array_foreach(layers, i, lj) {
		char *p = xasprintf("%s/layers/%s", s->root, r->layers[i].diff_id.hex);
		json_object_set_new(lj, "path", json_text(p));    /* the state dir's path is bytes */
		free(p);
		json_object_set_new(lj, "blob_kept", json_boolean(faccessat(s->blobs_fd, r->layers[i].digest.hex, F_OK,
									  AT_SYMLINK_NOFOLLOW) == 0));
	}
	if (!with_config)
		return j;
	_cleanup_free_ char *cfg = NULL;
	size_t len;
	kb_error e = { 0 };
	json_t *out = json_object();
	if (store_read_blob(s, &r->id, MAX_CONFIG_SIZE, &cfg, &len, &e) == 0) {
		json_t *c = json_loadb(cfg, len, 0, NULL);
		json_t *cc = json_object_get(c, "config");
		static const char *keys[] = { "Env", "WorkingDir", "User", "Entrypoint", "Cmd" };
		for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
			json_t *v = json_object_get(cc, keys[k]);
			bool str = k == 1 || k == 2;
			json_object_set_new(out, keys[k], v ? json_incref(v) : str ? json_string("") :
					    k == 0 ? json_array() : json_null());
		}
		json_decref(c);
	}
	json_object_set_new(j, "config", out);
	return j;
}
