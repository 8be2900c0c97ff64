/* Image metadata readers (oci.h): OCI layouts and indexes, manifests,
 * configs, and the classic docker-save manifest.json. */
#include "image/import/sha256.h"
#include "image/import/oci.h"
#include "image/image.h"    /* oci_name_normalize */
#include "base/words.h"

#include <errno.h>
#include <string.h>

#define MAX_INDEX_DEPTH 4
#define MAX_CANDIDATES 1024

#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_V1 "application/vnd.docker.distribution.manifest.v1"    /* +json, +prettyjws */

/* ---- small JSON helpers: every field is type-checked, and a wrong
 * type is reported with the field's name and the document's name. ---- */

static json_t *parse_json(const char *buf, size_t len, const char *what, json_type want, kb_error *e)
{
	json_error_t je;
	json_t *j = json_loadb(buf, len, 0, &je);
	if (!j) {
		kb_errx(e, EINVAL, "%s: malformed JSON (%s at line %d)", what, je.text, je.line);
		return NULL;
	}
	if (json_typeof(j) != want) {
		kb_errx(e, EINVAL, "%s: expected a JSON %s", what, want == JSON_OBJECT ? "object" : "array");
		json_decref(j);
		return NULL;
	}
	return j;
}

/* json_decrefp comes with jansson (>= 2.11). */
#define _cleanup_json_ _cleanup_(json_decrefp)

/* Optional string field: *ret is NULL when absent. */
static int get_str(json_t *o, const char *key, bool required, const char **ret, const char *what, kb_error *e)
{
	json_t *v = json_object_get(o, key);
	*ret = NULL;
	if (!v || json_is_null(v)) {
		if (required)
			return kb_errx(e, EINVAL, "%s: missing field \"%s\"", what, key);
		return 0;
	}
	if (!json_is_string(v))
		return kb_errx(e, EINVAL, "%s: field \"%s\" must be a string", what, key);
	*ret = json_string_value(v);
	return 0;
}

static int get_array(json_t *o, const char *key, bool required, json_t **ret, const char *what, kb_error *e)
{
	json_t *v = json_object_get(o, key);
	*ret = NULL;
	if (!v || (!required && json_is_null(v))) {
		if (required)
			return kb_errx(e, EINVAL, "%s: missing field \"%s\"", what, key);
		return 0;
	}
	if (!json_is_array(v))
		return kb_errx(e, EINVAL, "%s: field \"%s\" must be an array", what, key);
	*ret = v;
	return 0;
}

static int get_object(json_t *o, const char *key, bool required, json_t **ret, const char *what, kb_error *e)
{
	json_t *v = json_object_get(o, key);
	*ret = NULL;
	if (!v || (!required && json_is_null(v))) {
		if (required)
			return kb_errx(e, EINVAL, "%s: missing field \"%s\"", what, key);
		return 0;
	}
	if (!json_is_object(v))
		return kb_errx(e, EINVAL, "%s: field \"%s\" must be an object", what, key);
	*ret = v;
	return 0;
}

static int check_str_array(json_t *o, const char *key, const char *what, kb_error *e)
{
	json_t *a, *v;
	size_t i;
	int r = get_array(o, key, false, &a, what, e);
	if (r < 0 || !a)
		return r;
	json_array_foreach(a, i, v)
		if (!json_is_string(v))
			return kb_errx(e, EINVAL, "%s: field \"%s\" must be an array of strings", what, key);
	return 0;
}

/* ---- descriptors ---- */

typedef struct desc {
	const char *media_type;
	kb_digest digest;
	uint64_t size;
	bool has_platform;
	kb_platform platform;
	const char *name;        /* from annotations, may be NULL */
	const char *tag;         /* org.opencontainers.image.ref.name when it is only a tag */
} desc;

static int copy_token(char *dst, size_t n, const char *s, const char *what, const char *key, kb_error *e)
{
	if (strlen(s) >= n)
		return kb_errx(e, EINVAL, "%s: platform %s \"%.40s\" is too long", what, key, s);
	strcpy(dst, s);
	return 0;
}

static int parse_desc(json_t *d, const char *what, desc *ret, kb_error *e)
{
	const char *s;
	json_t *v, *plat, *ann;
	int r;

	memset(ret, 0, sizeof *ret);
	if (!json_is_object(d))
		return kb_errx(e, EINVAL, "%s: descriptor must be an object", what);
	if ((r = get_str(d, "mediaType", false, &ret->media_type, what, e)) < 0)
		return r;
	if ((r = get_str(d, "digest", true, &s, what, e)) < 0)
		return r;
	if ((r = digest_parse(s, &ret->digest, e)) < 0) {
		kb_err_prefix(e, "%s", what);
		return r;
	}
	v = json_object_get(d, "size");
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return kb_errx(e, EINVAL, "%s: descriptor of sha256:%.12s: \"size\" must be a non-negative integer",
			       what, ret->digest.hex);
	ret->size = (uint64_t)json_integer_value(v);
	if ((r = get_object(d, "platform", false, &plat, what, e)) < 0)
		return r;
	if (plat) {
		const char *os, *arch, *var;
		if ((r = get_str(plat, "os", true, &os, what, e)) < 0 ||
		    (r = get_str(plat, "architecture", true, &arch, what, e)) < 0 ||
		    (r = get_str(plat, "variant", false, &var, what, e)) < 0)
			return r;
		if ((r = copy_token(ret->platform.os, sizeof ret->platform.os, os, what, "os", e)) < 0 ||
		    (r = copy_token(ret->platform.arch, sizeof ret->platform.arch, arch, what, "architecture", e)) < 0 ||
		    (var && (r = copy_token(ret->platform.variant, sizeof ret->platform.variant, var, what, "variant", e)) < 0))
			return r;
		ret->has_platform = true;
	}
	if ((r = get_object(d, "annotations", false, &ann, what, e)) < 0)
		return r;
	if (ann) {
		const char *full = NULL, *ref = NULL;
		get_str(ann, "io.containerd.image.name", false, &full, what, e);
		get_str(ann, "org.opencontainers.image.ref.name", false, &ref, what, e);
		if (kb_err_set(e))
			return -EINVAL;
		/* ref.name is often just a tag ("latest"); only a value with a
		 * repository part can name an image on its own. */
		if (full)
			ret->name = full;
		else if (ref && (strchr(ref, '/') || strchr(ref, ':')))
			ret->name = ref;
		else if (ref)
			ret->tag = ref;
	}
	return 0;
}

static bool is_index_type(const char *mt)
{
	return mt && (!strcmp(mt, MT_OCI_INDEX) || !strcmp(mt, MT_DOCKER_LIST));
}

/* ---- names ---- */

static int add_name(image_plan *p, const char *name)
{
	_cleanup_free_ char *n = oci_name_normalize(name);
	if (!n)
		return 0;    /* unusable names in archives are ignored, not fatal */
	for (size_t i = 0; i < p->n_names; i++)
		if (!strcmp(p->names[i], n))
			return 0;
	char **nn = realloc(p->names, (p->n_names + 1) * sizeof *nn);
	if (!nn)
		return -ENOMEM;
	p->names = nn;
	p->names[p->n_names++] = steal_ptr(n);
	return 0;
}

void image_plan_free(image_plan *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_names; i++)
		free(p->names[i]);
	free(p->names);
	for (size_t i = 0; i < p->n_layers; i++) {
		free(p->layers[i].member);
		free(p->layers[i].media_type);
	}
	free(p->layers);
	free(p->manifest);
	free(p->config);
	free(p);
}

static void image_plan_freep(image_plan **p) { image_plan_free(*p); }

/* ---- config ---- */

int oci_config_check(image_plan *p, const char *cfg, size_t len, kb_error *e)
{
	char what[48];
	snprintf(what, sizeof what, "config sha256:%.12s", p->config_digest.hex);
	_cleanup_json_ json_t *j = parse_json(cfg, len, what, JSON_OBJECT, e);
	json_t *rootfs, *ids, *c, *v;
	const char *s, *os, *arch, *var;
	size_t i;
	int r;

	if (!j)
		return -EINVAL;
	if ((r = get_object(j, "rootfs", true, &rootfs, what, e)) < 0 ||
	    (r = get_str(rootfs, "type", true, &s, what, e)) < 0)
		return r;
	if (strcmp(s, "layers"))
		return kb_errx(e, EINVAL, "%s: rootfs.type is \"%.32s\", not \"layers\"", what, s);
	if ((r = get_array(rootfs, "diff_ids", true, &ids, what, e)) < 0)
		return r;
	if (json_array_size(ids) != p->n_layers)
		return kb_errx(e, EINVAL, "%s: %zu %s for %zu %s", what, json_array_size(ids),
			       plural(json_array_size(ids), "diff_id", "diff_ids"), p->n_layers, plural(p->n_layers, "layer", "layers"));
	json_array_foreach(ids, i, v) {
		if (!json_is_string(v))
			return kb_errx(e, EINVAL, "%s: rootfs.diff_ids must be an array of strings", what);
		if ((r = digest_parse(json_string_value(v), &p->layers[i].diff_id, e)) < 0) {
			kb_err_prefix(e, "%s: diff_id %zu", what, i);
			return r;
		}
		p->layers[i].has_diff_id = true;
	}
	if ((r = get_str(j, "os", true, &os, what, e)) < 0 ||
	    (r = get_str(j, "architecture", true, &arch, what, e)) < 0 ||
	    (r = get_str(j, "variant", false, &var, what, e)) < 0)
		return r;
	snprintf(p->platform.os, sizeof p->platform.os, "%s", os);
	snprintf(p->platform.arch, sizeof p->platform.arch, "%s", arch);
	snprintf(p->platform.variant, sizeof p->platform.variant, "%s", var ? var : "");
	if ((r = get_str(j, "created", false, &s, what, e)) < 0 ||
	    (r = get_object(j, "config", false, &c, what, e)) < 0)
		return r;
	if (c && ((r = check_str_array(c, "Env", what, e)) < 0 ||
		  (r = check_str_array(c, "Entrypoint", what, e)) < 0 ||
		  (r = check_str_array(c, "Cmd", what, e)) < 0 ||
		  (r = get_str(c, "WorkingDir", false, &s, what, e)) < 0 ||
		  (r = get_str(c, "User", false, &s, what, e)) < 0))
		return r;
	return 0;
}

/* A docker-save config, named by its member. */
static int load_config_member(kb_source *src, image_plan *p, const char *member, const kb_digest *d, kb_error *e)
{
	int r = source_read(src, member, MAX_CONFIG_SIZE, &p->config, &p->config_len, e);
	if (r < 0)
		return r;
	sha256_buf(p->config, p->config_len, &p->config_digest);
	if (d && strcmp(d->hex, p->config_digest.hex))
		return kb_errx(e, EINVAL, "config %s: digest mismatch (expected sha256:%s, got sha256:%s)",
			       member, d->hex, p->config_digest.hex);
	return oci_config_check(p, p->config, p->config_len, e);
}

static int load_config(const blob_reader *br, image_plan *p, const kb_digest *d, uint64_t size, kb_error *e)
{
	int r = br->read(br->ctx, BLOB_CONFIG, d, size, MAX_CONFIG_SIZE, &p->config, &p->config_len, e);
	if (r < 0)
		return r;
	p->config_digest = *d;
	return oci_config_check(p, p->config, p->config_len, e);
}

/* An archive's blobs/sha256/<hex>, as a blob_reader. */
static int source_blob(void *ctx, blob_kind kind, const kb_digest *d, uint64_t size, size_t max, char **ret,
		       size_t *ret_len, kb_error *e)
{
	(void)kind;
	return source_read_blob(ctx, d, size, max, ret, ret_len, e);
}

/* ---- OCI ---- */

typedef struct cand {
	desc d;
	char *name;
} cand;

typedef struct cands {
	cand *c;
	size_t n;
} cands;

static int walk_index(const blob_reader *br, json_t *idx, const char *what, const char *inherited,
		      int depth, cands *out, kb_error *e)
{
	json_t *ms, *d;
	size_t i;
	int r;

	if ((r = get_array(idx, "manifests", true, &ms, what, e)) < 0)
		return r;
	if (json_array_size(ms) == 0)
		return kb_errx(e, EINVAL, "%s: empty index (no manifests)", what);
	json_array_foreach(ms, i, d) {
		desc de;
		if ((r = parse_desc(d, what, &de, e)) < 0)
			return r;
		const char *name = de.name ? de.name : inherited;
		if (is_index_type(de.media_type)) {
			if (depth >= MAX_INDEX_DEPTH)
				return kb_errx(e, EINVAL, "%s: indexes nested more than %d deep", what, MAX_INDEX_DEPTH);
			_cleanup_free_ char *buf = NULL;
			size_t len;
			char sub[48];
			snprintf(sub, sizeof sub, "index sha256:%.12s", de.digest.hex);
			if ((r = br->read(br->ctx, BLOB_MANIFEST, &de.digest, de.size, MAX_INDEX_SIZE, &buf, &len, e)) < 0)
				return r;
			json_t *j = parse_json(buf, len, sub, JSON_OBJECT, e);
			if (!j)
				return -EINVAL;
			r = walk_index(br, j, sub, name, depth + 1, out, e);
			json_decref(j);    /* candidates keep copies, not pointers */
			if (r < 0)
				return r;
			continue;
		}
		if (de.media_type && strcmp(de.media_type, MT_OCI_MANIFEST) && strcmp(de.media_type, MT_DOCKER_MANIFEST))
			continue;    /* artifacts, signatures: not images */
		if (de.has_platform && !strcmp(de.platform.os, "unknown"))
			continue;    /* buildkit attestation manifests */
		if (out->n >= MAX_CANDIDATES)
			return kb_errx(e, E2BIG, "%s: more than %d manifests", what, MAX_CANDIDATES);
		cand *nc = realloc(out->c, (out->n + 1) * sizeof *nc);
		if (!nc)
			return kb_err_oom(e, what);
		out->c = nc;
		out->c[out->n].d = de;
		out->c[out->n].d.media_type = out->c[out->n].d.name = out->c[out->n].d.tag = NULL;
		out->c[out->n].name = name ? strdup(name) : NULL;
		out->n++;
	}
	return 0;
}

/* The image manifest in p->manifest: its layers and its config. */
static int parse_manifest(const blob_reader *br, image_plan *p, kb_error *e)
{
	char what[48];
	snprintf(what, sizeof what, "manifest sha256:%.12s", p->manifest_digest.hex);
	_cleanup_json_ json_t *j = parse_json(p->manifest, p->manifest_len, what, JSON_OBJECT, e);
	json_t *cfg, *layers, *l;
	const char *mt;
	size_t i;
	int r;

	if (!j)
		return -EINVAL;
	if ((r = get_str(j, "mediaType", false, &mt, what, e)) < 0)
		return r;
	if (mt && strcmp(mt, MT_OCI_MANIFEST) && strcmp(mt, MT_DOCKER_MANIFEST))
		return kb_errx(e, EINVAL, "%s: media type \"%.80s\" is not an image manifest", what, mt);
	if ((r = get_object(j, "config", true, &cfg, what, e)) < 0 ||
	    (r = get_array(j, "layers", true, &layers, what, e)) < 0)
		return r;
	if (json_array_size(layers) > MAX_LAYERS)
		return kb_errx(e, E2BIG, "%s: %zu layers, more than overlayfs' %d", what, json_array_size(layers), MAX_LAYERS);
	p->layers = calloc(json_array_size(layers) + 1, sizeof *p->layers);
	if (!p->layers)
		return kb_err_oom(e, what);
	json_array_foreach(layers, i, l) {
		desc ld;
		if ((r = parse_desc(l, what, &ld, e)) < 0)
			return r;
		layer_plan *lp = &p->layers[p->n_layers++];
		lp->member = xasprintf("blobs/sha256/%s", ld.digest.hex);
		lp->media_type = ld.media_type ? strdup(ld.media_type) : NULL;
		lp->has_digest = true;
		lp->digest = ld.digest;
		lp->size = ld.size;
	}
	desc cd;
	if ((r = parse_desc(cfg, what, &cd, e)) < 0)
		return r;
	return load_config(br, p, &cd.digest, cd.size, e);
}

static int load_manifest(const blob_reader *br, const desc *d, image_plan *p, kb_error *e)
{
	int r = br->read(br->ctx, BLOB_MANIFEST, &d->digest, d->size, MAX_MANIFEST_SIZE, &p->manifest,
			 &p->manifest_len, e);
	if (r < 0)
		return r;
	p->has_manifest = true;
	p->manifest_digest = d->digest;
	return parse_manifest(br, p, e);
}

/* Docker 25+ archives also carry manifest.json; its RepoTags name the
 * images when index.json's annotations do not. */
static int add_repotags(kb_source *src, image_plan *p, kb_error *e_out)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	kb_error e = { 0 };
	json_t *ent, *tags, *t;
	size_t i, k;

	/* Optional: an unreadable or odd manifest.json only names nothing. */
	if (source_read(src, "manifest.json", MAX_MANIFEST_SIZE, &buf, &len, &e) < 0)
		return 0;
	_cleanup_json_ json_t *j = json_loadb(buf, len, 0, NULL);
	if (!json_is_array(j))
		return 0;
	json_array_foreach(j, i, ent) {
		const char *c = json_string_value(json_object_get(ent, "Config"));
		if (!c || !strstr(c, p->config_digest.hex))
			continue;
		tags = json_object_get(ent, "RepoTags");
		json_array_foreach(tags, k, t)
			if (json_is_string(t) && add_name(p, json_string_value(t)) < 0)
				return kb_err_oom(e_out, "image names");
	}
	return 0;
}

/* The images a source holds, as they are planned. */
typedef struct plan_list {
	image_plan **v;
	size_t n;
} plan_list;

static int plan_list_add(plan_list *l, image_plan **p, const char *what, kb_error *e)
{
	image_plan **nv = realloc(l->v, (l->n + 1) * sizeof *nv);
	if (!nv)
		return kb_err_oom(e, what);
	l->v = nv;
	l->v[l->n++] = steal_ptr(*p);
	return 0;
}

static void plan_list_free(plan_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		image_plan_free(l->v[i]);
	free(l->v);
	*l = (plan_list){ 0 };
}

static void cands_free(cands *cs)
{
	for (size_t i = 0; i < cs->n; i++)
		free(cs->c[i].name);
	free(cs->c);
}

static int check_layout(kb_source *src, kb_error *e)
{
	_cleanup_free_ char *buf = NULL;
	const char *ver;
	size_t len;
	int r;

	if ((r = source_read(src, "oci-layout", 4096, &buf, &len, e)) < 0)
		return r;
	_cleanup_json_ json_t *lay = parse_json(buf, len, "oci-layout", JSON_OBJECT, e);
	if (!lay)
		return -EINVAL;
	return get_str(lay, "imageLayoutVersion", true, &ver, "oci-layout", e);
}

/* Among the manifests named like cs->c[i] (all marked done), the first
 * for the wanted platform; *members counts them. */
static int pick_manifest(const cands *cs, size_t i, bool *done, const plan_opts *o, const char *what, size_t *ret,
			 size_t *members, kb_error *e)
{
	const char *name = cs->c[i].name;
	size_t pick = SIZE_MAX;
	char avail[256] = "";

	*members = 0;
	for (size_t k = i; k < cs->n; k++) {
		if ((name == NULL) != (cs->c[k].name == NULL) || (name && strcmp(name, cs->c[k].name)))
			continue;
		done[k] = true;
		(*members)++;
		if (pick != SIZE_MAX)
			continue;
		if (!cs->c[k].d.has_platform || platform_match(&o->want, &cs->c[k].d.platform)) {
			pick = k;
		} else {
			char pb[100];
			size_t al = strlen(avail);
			snprintf(avail + al, sizeof avail - al, "%s%s", al ? ", " : "",
				 platform_str(&cs->c[k].d.platform, pb, sizeof pb));
		}
	}
	/* One image offers no choice: without --platform it is taken whatever
	 * its platform, as `docker load` takes it (a base image for another
	 * architecture, carried in for a cross build). */
	if (pick == SIZE_MAX && *members == 1 && !o->want_explicit)
		pick = i;
	if (pick == SIZE_MAX) {
		char wb[100];
		return kb_errx(e, ENOENT, "%s: no image for platform %s (available: %s)", what,
			       platform_str(&o->want, wb, sizeof wb), avail);
	}
	*ret = pick;
	return 0;
}

/* The plan of the manifest picked for one name. */
static int plan_manifest(kb_source *src, const blob_reader *br, const cands *cs, size_t pick, size_t members, const plan_opts *o,
			 plan_list *l, kb_error *e)
{
	_cleanup_(image_plan_freep) image_plan *p = calloc(1, sizeof *p);
	int r;

	if (!p)
		return kb_err_oom(e, "index.json");
	if ((r = load_manifest(br, &cs->c[pick].d, p, e)) < 0)
		return r;
	/* A manifest picked without platform information must still be for
	 * the wanted platform when the user asked for one, or when the index
	 * offered a choice. */
	if ((o->want_explicit || members > 1) && !platform_match(&o->want, &p->platform)) {
		char wb[100], gb[100];
		return kb_errx(e, ENOENT, "manifest sha256:%.12s: image is for %s, not %s", cs->c[pick].d.digest.hex,
			       platform_str(&p->platform, gb, sizeof gb), platform_str(&o->want, wb, sizeof wb));
	}
	if ((cs->c[pick].name && add_name(p, cs->c[pick].name) < 0))
		return kb_err_oom(e, "image names");
	if (src && (r = add_repotags(src, p, e)) < 0)
		return r;
	return plan_list_add(l, &p, "index.json", e);
}

static int plan_oci(kb_source *src, const plan_opts *o, image_plan ***ret, size_t *ret_n, kb_error *e)
{
	_cleanup_free_ char *buf = NULL;
	_cleanup_free_ bool *done = NULL;
	cands cs = { 0 };
	plan_list l = { 0 };
	size_t len;
	int r;

	if ((r = check_layout(src, e)) < 0 || (r = source_read(src, "index.json", MAX_INDEX_SIZE, &buf, &len, e)) < 0)
		return r;
	json_t *idx = parse_json(buf, len, "index.json", JSON_OBJECT, e);
	if (!idx)
		return -EINVAL;
	blob_reader br = { source_blob, src };
	r = walk_index(&br, idx, "index.json", NULL, 0, &cs, e);
	json_decref(idx);
	/* Signatures, attestations and other artifacts are skipped: an index
	 * of nothing else holds no image, and importing it must not succeed
	 * with nothing imported. */
	if (r == 0 && cs.n == 0)
		r = kb_errx(e, EINVAL, "index.json: no image manifest (only other artifacts, such as "
			    "signatures or attestations)");
	if (r == 0 && !(done = calloc(cs.n + 1, sizeof *done)))
		r = kb_err_oom(e, "index.json");
	/* One image per distinct name; among a name's manifests, the one
	 * for the wanted platform. */
	for (size_t i = 0; i < cs.n && r == 0; i++) {
		size_t pick = 0, members = 0;
		if (!done[i] && (r = pick_manifest(&cs, i, done, o, "index.json", &pick, &members, e)) == 0)
			r = plan_manifest(src, &br, &cs, pick, members, o, &l, e);
	}
	cands_free(&cs);
	if (r < 0) {
		plan_list_free(&l);
		return r;
	}
	*ret = l.v;
	*ret_n = l.n;
	return 0;
}

/* ---- a registry's answer ---- */

static bool is_schema1(const char *mt, json_t *doc)
{
	json_t *v = json_object_get(doc, "schemaVersion");
	return (mt && !strncmp(mt, MT_DOCKER_V1, strlen(MT_DOCKER_V1))) ||
	       (json_is_integer(v) && json_integer_value(v) == 1);
}

/* The manifest for the wanted platform among an index's. */
static int plan_remote_index(const blob_reader *br, json_t *idx, const char *what, const plan_opts *o,
			     plan_list *l, kb_error *e)
{
	cands cs = { 0 };
	_cleanup_free_ bool *done = NULL;
	size_t pick = 0, members = 0;
	int r = walk_index(br, idx, what, NULL, 0, &cs, e);

	/* A registry's index names one image: annotations name nothing. */
	for (size_t i = 0; i < cs.n; i++) {
		free(cs.c[i].name);
		cs.c[i].name = NULL;
	}
	if (r == 0 && cs.n == 0)
		r = kb_errx(e, ENOENT, "%s: no image manifest in the index (only other artifacts)", what);
	if (r == 0 && !(done = calloc(cs.n, sizeof *done)))
		r = kb_err_oom(e, what);
	if (r == 0 && (r = pick_manifest(&cs, 0, done, o, what, &pick, &members, e)) == 0)
		r = plan_manifest(NULL, br, &cs, pick, members, o, l, e);
	cands_free(&cs);
	return r;
}

int oci_plan_remote(const blob_reader *br, const remote_root *root, const char *name, const plan_opts *o,
		    image_plan **ret, kb_error *e)
{
	char what[48];
	const char *mt = NULL;
	plan_list l = { 0 };
	int r;

	snprintf(what, sizeof what, "manifest sha256:%.12s", root->digest.hex);
	_cleanup_json_ json_t *j = parse_json(root->data, root->len, what, JSON_OBJECT, e);
	if (!j)
		return -EINVAL;
	if ((r = get_str(j, "mediaType", false, &mt, what, e)) < 0)
		return r;
	if (!mt)
		mt = root->media_type;
	if (is_schema1(mt, j))
		return kb_errx(e, ENOTSUP, "%s: a Docker schema 1 manifest: not supported (it is what Docker before 1.10 "
			       "pushed; push the image again with a current tool)", what);
	if (is_index_type(mt) || (!json_object_get(j, "layers") && json_object_get(j, "manifests"))) {
		snprintf(what, sizeof what, "index sha256:%.12s", root->digest.hex);
		r = plan_remote_index(br, j, what, o, &l, e);
	} else {
		image_plan *p = calloc(1, sizeof *p);
		if (!p || !(p->manifest = malloc(root->len + 1))) {
			free(p);
			return kb_err_oom(e, what);
		}
		memcpy(p->manifest, root->data, root->len);
		p->manifest[root->len] = 0;
		p->manifest_len = root->len;
		p->has_manifest = true;
		p->manifest_digest = root->digest;
		char wb[100], gb[100];
		if ((r = parse_manifest(br, p, e)) == 0 && o->want_explicit && !platform_match(&o->want, &p->platform))
			r = kb_errx(e, ENOENT, "%s: image is for %s, not %s", what,
				    platform_str(&p->platform, gb, sizeof gb), platform_str(&o->want, wb, sizeof wb));
		if (r == 0)
			r = plan_list_add(&l, &p, what, e);
		image_plan_free(p);
	}
	if (r == 0 && add_name(l.v[0], name) < 0)
		r = kb_err_oom(e, what);
	if (r < 0) {
		plan_list_free(&l);
		return r;
	}
	*ret = l.v[0];
	free(l.v);
	return 0;
}

/* ---- classic docker save ---- */

/* "<hex>.json" or "blobs/sha256/<hex>": the config's name is its digest. */
static bool digest_from_name(const char *member, kb_digest *ret)
{
	const char *b = strrchr(member, '/');
	b = b ? b + 1 : member;
	char hex[DIGEST_HEX_LEN + 1];
	size_t n = strlen(b);
	if (n == DIGEST_HEX_LEN + 5 && !strcmp(b + DIGEST_HEX_LEN, ".json"))
		n = DIGEST_HEX_LEN;
	if (n != DIGEST_HEX_LEN)
		return false;
	memcpy(hex, b, DIGEST_HEX_LEN);
	hex[DIGEST_HEX_LEN] = 0;
	if (!digest_hex_valid(hex))
		return false;
	memcpy(ret->hex, hex, sizeof hex);
	return true;
}

/* The plan of one manifest.json entry; *ret stays NULL for an image of
 * another platform (listed in avail) when --platform was given. */
static int plan_docker_entry(kb_source *src, json_t *ent, size_t i, const plan_opts *o, char *avail, size_t avail_len,
			     image_plan **ret, kb_error *e)
{
	char what[48];
	const char *cfg;
	json_t *layers, *tags, *v;
	size_t k;
	int r;

	snprintf(what, sizeof what, "manifest.json entry %zu", i);
	if (!json_is_object(ent))
		return kb_errx(e, EINVAL, "%s: expected an object", what);
	if ((r = get_str(ent, "Config", true, &cfg, what, e)) < 0 ||
	    (r = get_array(ent, "Layers", true, &layers, what, e)) < 0 ||
	    (r = get_array(ent, "RepoTags", false, &tags, what, e)) < 0)
		return r;
	if (json_array_size(layers) > MAX_LAYERS)
		return kb_errx(e, E2BIG, "%s: more than %d layers", what, MAX_LAYERS);
	_cleanup_(image_plan_freep) image_plan *p = calloc(1, sizeof *p);
	if (!p || !(p->layers = calloc(json_array_size(layers) + 1, sizeof *p->layers)))
		return kb_err_oom(e, what);
	json_array_foreach(layers, k, v) {
		if (!json_is_string(v))
			return kb_errx(e, EINVAL, "%s: field \"Layers\" must be an array of strings", what);
		if (!(p->layers[p->n_layers++].member = strdup(json_string_value(v))))
			return kb_err_oom(e, what);
	}
	kb_digest want;
	bool named = digest_from_name(cfg, &want);
	if ((r = load_config_member(src, p, cfg, named ? &want : NULL, e)) < 0)
		return r;
	if (o->want_explicit && !platform_match(&o->want, &p->platform)) {
		char pb[100];
		size_t al = strlen(avail);
		snprintf(avail + al, avail_len - al, "%s%s", al ? ", " : "", platform_str(&p->platform, pb, sizeof pb));
		return 0;
	}
	json_array_foreach(tags, k, v) {
		if (!json_is_string(v))
			return kb_errx(e, EINVAL, "%s: field \"RepoTags\" must be an array of strings", what);
		if (add_name(p, json_string_value(v)) < 0)
			return kb_err_oom(e, what);
	}
	*ret = steal_ptr(p);
	return 0;
}

static int plan_docker(kb_source *src, const plan_opts *o, image_plan ***ret, size_t *ret_n, kb_error *e)
{
	_cleanup_free_ char *buf = NULL;
	size_t len, i;
	json_t *ent;
	plan_list l = { 0 };
	char avail[256] = "";
	int r = 0;

	if ((r = source_read(src, "manifest.json", MAX_MANIFEST_SIZE, &buf, &len, e)) < 0)
		return r;
	_cleanup_json_ json_t *j = parse_json(buf, len, "manifest.json", JSON_ARRAY, e);
	if (!j)
		return -EINVAL;
	if (json_array_size(j) == 0)
		return kb_errx(e, EINVAL, "manifest.json: no images");
	json_array_foreach(j, i, ent) {
		image_plan *p = NULL;
		if ((r = plan_docker_entry(src, ent, i, o, avail, sizeof avail, &p, e)) < 0 ||
		    (p && (r = plan_list_add(&l, &p, "manifest.json", e)) < 0))
			break;
	}
	if (r >= 0 && l.n == 0) {
		char wb[100];
		r = kb_errx(e, ENOENT, "manifest.json: no image for platform %s (available: %s)",
			    platform_str(&o->want, wb, sizeof wb), avail);
	}
	if (r < 0) {
		plan_list_free(&l);
		return r;
	}
	*ret = l.v;
	*ret_n = l.n;
	return 0;
}

int oci_plan(kb_source *src, const plan_opts *o, image_format *ret_fmt,
	     image_plan ***ret, size_t *ret_n, kb_error *e)
{
	if (source_has(src, "oci-layout") || source_has(src, "index.json")) {
		*ret_fmt = FMT_OCI;
		return plan_oci(src, o, ret, ret_n, e);
	}
	if (source_has(src, "manifest.json")) {
		*ret_fmt = FMT_DOCKER;
		return plan_docker(src, o, ret, ret_n, e);
	}
	if (src->dirfd >= 0)
		return kb_errx(e, EINVAL, "%s: a directory without oci-layout and index.json is not an OCI image layout",
			       src->path);
	*ret_fmt = FMT_ROOTFS;
	image_plan *p = calloc(1, sizeof *p);
	if (!p || !(p->layers = calloc(1, sizeof *p->layers))) {
		free(p);
		return kb_err_oom(e, src->path);
	}
	p->n_layers = 1;
	platform_host(&p->platform);
	if (o->want_explicit)
		p->platform = o->want;
	image_plan **out = malloc(sizeof *out);
	if (!out) {
		image_plan_free(p);
		return kb_err_oom(e, src->path);
	}
	out[0] = p;
	*ret = out;
	*ret_n = 1;
	return 0;
}

int oci_rootfs_config(image_plan *p, kb_error *e)
{
	/* Like `docker import`: one layer, the default PATH, no "created"
	 * stamp, so the same tarball always gives the same image id. */
	_cleanup_json_ json_t *j = json_pack("{s:s, s:s, s:{s:[s]}, s:{s:s, s:[s]}}",
		"architecture", p->platform.arch, "os", p->platform.os,
		"config", "Env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"rootfs", "type", "layers", "diff_ids", "");
	if (!j)
		return kb_err_oom(e, "config");
	if (p->platform.variant[0])
		json_object_set_new(j, "variant", json_string(p->platform.variant));
	char *id = xasprintf("sha256:%s", p->layers[0].diff_id.hex);
	json_array_set_new(json_object_get(json_object_get(j, "rootfs"), "diff_ids"), 0, json_string(id));
	free(id);
	free(p->config);
	p->config = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	if (!p->config)
		return kb_err_oom(e, "config");
	p->config_len = strlen(p->config);
	sha256_buf(p->config, p->config_len, &p->config_digest);
	return 0;
}
