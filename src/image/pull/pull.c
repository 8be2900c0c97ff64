/* `image pull` (pull.h): endpoints, the manifest, the plan, and layers
 * fed to import_plans from the registry. */
#include "image/pull/pull.h"
#include "image/import/sha256.h"
#include "image/ref.h"
#include "base/progress.h"

#include <errno.h>
#include <string.h>

void pull_result_clear(pull_result *r)
{
	import_result_clear(&r->r);
	free(r->name);
	free(r->via);
	memset(r, 0, sizeof *r);
}

/* Where a reference may be pulled from: its mirrors, then itself. */
typedef struct endpoint {
	char *domain;                /* as configured ("docker.io", "127.0.0.1:5000") */
	char *repo;                  /* repository path on it */
	bool mirror;
} endpoint;

static size_t endpoints(const image_ref *ref, const reg_conf *conf, endpoint *out, size_t max)
{
	_cleanup_free_ char *name = xasprintf("%s/%s", ref->domain, ref->path);
	const reg_section *s = regconf_find(conf, name);
	size_t n = 0;
	for (size_t i = 0; s && i < s->n_mirrors && n + 1 < max; i++) {
		/* The mirror's location replaces the section's prefix. */
		const char *rest = name + strlen(s->prefix);
		_cleanup_free_ char *loc = xasprintf("%s%s", s->mirrors[i], rest);
		char *slash = strchr(loc, '/');
		if (!slash || !slash[1])
			continue;    /* a mirror of a whole registry needs a path after it */
		*slash = 0;
		out[n++] = (endpoint){ xstrdup(loc), xstrdup(slash + 1), true };
	}
	out[n++] = (endpoint){ xstrdup(ref->domain), xstrdup(ref->path), false };
	return n;
}

typedef struct puller {
	kb_store *s;
	reg_client *c;               /* the endpoint that answered */
	const pull_opts *o;
	image_source src;
} puller;

/* Indexes, manifests and configs by digest: the store's copy when it has
 * one (a second pull fetches only the reference's own document). */
static int remote_blob(void *ctx, blob_kind kind, const kb_digest *d, uint64_t size, size_t max, char **ret,
		       size_t *ret_len, kb_error *e)
{
	puller *p = ctx;
	_cleanup_free_ char *buf = NULL;
	size_t len;
	kb_error ignored = { 0 };
	if (store_read_blob(p->s, d, max, &buf, &len, &ignored) == 0 && (size == UINT64_MAX || len == size)) {
		kb_digest got;
		sha256_buf(buf, len, &got);
		if (!strcmp(got.hex, d->hex)) {
			*ret = steal_ptr(buf);
			*ret_len = len;
			return 0;
		}
	}
	return reg_get_doc(p->c, 0, kind, d, size, max, ret, ret_len, e);
}

static int open_layer(void *ctx, int w, const layer_plan *lp, const char *label, layer_input *in, kb_error *e)
{
	puller *p = ctx;
	reg_stream *st;
	int r = reg_stream_open(p->c, w, &lp->digest, lp->size, label, &st, e);
	if (r < 0)
		return r;
	*in = (layer_input){ .fd = -1, .len = lp->size, .read = reg_stream_read, .read_ctx = st };
	return 0;
}

static int close_layer(void *ctx, int w, layer_input *in, bool ok, kb_error *e)
{
	(void)ctx, (void)w;
	return reg_stream_close(in->read_ctx, ok, e);
}

/* The reference's manifest or index, from the first endpoint that has
 * it; p->c is then that endpoint's client. */
static int fetch_root(puller *p, const image_ref *ref, const reg_opts *ro, char **doc, size_t *len, char **type,
		      kb_digest *dg, kb_error *e)
{
	endpoint eps[REG_MAX_MIRRORS + 1];
	size_t n = endpoints(ref, p->o->conf, eps, ARRAY_SIZE(eps));
	const char *tag = ref->has_digest ? NULL : ref->tag;
	_cleanup_free_ char *dref = ref->has_digest ? xasprintf("sha256:%s", ref->digest.hex) : NULL;
	bool all_offline = true;
	int r = -EIO;

	for (size_t i = 0; i < n; i++) {
		kb_error ee = { 0 };
		reg_client *c = NULL;
		if (eps[i].mirror)
			out_verbose("pull: trying mirror %s/%s", eps[i].domain, eps[i].repo);
		r = reg_open(ref_api_host(eps[i].domain), eps[i].repo, eps[i].domain, ro, &c, &ee);
		if (r == 0)
			r = reg_get_manifest(c, dref ? dref : tag, MAX_MANIFEST_SIZE, doc, len, type, dg, &ee);
		if (r == 0) {
			p->c = c;
			if (eps[i].mirror)
				p->src.via = xasprintf("%s/%s", eps[i].domain, eps[i].repo);
			break;
		}
		reg_close(c);
		all_offline = all_offline && ee.errnum == ENETUNREACH;
		if (i + 1 < n)
			out_warn("pull: mirror %s: %s", eps[i].domain, ee.msg);
		else
			*e = ee;
	}
	for (size_t i = 0; i < n; i++) {
		free(eps[i].domain);
		free(eps[i].repo);
	}
	if (r < 0 && all_offline)
		e->errnum = ENETUNREACH;
	return r;
}

static int plan_pull(puller *p, const image_ref *ref, const reg_opts *ro, image_plan **ret, kb_error *e)
{
	_cleanup_free_ char *doc = NULL, *type = NULL;
	size_t len;
	kb_digest dg;
	int r = fetch_root(p, ref, ro, &doc, &len, &type, &dg, e);
	if (r < 0)
		return r;
	p->src.has_digest = true;
	p->src.digest = dg;
	blob_reader br = { remote_blob, p };
	remote_root root = { doc, len, type, dg };
	return oci_plan_remote(&br, &root, p->o->name ? p->o->name : p->src.location, &p->o->unpack.plat, ret, e);
}

int kb_pull(kb_store *s, const pull_opts *o, pull_result *ret, kb_error *e)
{
	image_ref ref;
	image_plan *plan = NULL;
	int r;

	memset(ret, 0, sizeof *ret);
	if ((r = ref_parse(o->ref, &ref, e)) < 0)
		return r;
	puller p = { .s = s, .o = o, .src = { .kind = SRC_REGISTRY, .location = ref_name(&ref) } };
	reg_opts ro = { .cert_dir = o->cert_dir, .no_tls_verify = o->no_tls_verify, .conf = o->conf,
			.connect_timeout = o->connect_timeout, .workers = o->unpack.jobs > 0 ? o->unpack.jobs : 1 };
	layer_feed feed = { .open = open_layer, .close = close_layer, .ctx = &p, .publish_early = true };

	if ((r = store_lock_import(s, e)) == 0 && (r = store_workdir(s, e)) == 0 &&
	    (r = plan_pull(&p, &ref, &ro, &plan, e)) == 0)
		r = import_plans(s, &plan, 1, FMT_OCI, &feed, &o->unpack, &p.src, &ret->r, e);
	if (r == 0) {
		ret->name = steal_ptr(p.src.location);
		ret->via = steal_ptr(p.src.via);
		ret->digest = p.src.digest;
	}
	image_plan_free(plan);
	reg_close(p.c);
	image_source_clear(&p.src);
	ref_clear(&ref);
	return r;
}
