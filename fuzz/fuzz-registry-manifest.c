/* Fuzz target: what `image pull` makes of a registry's documents
 * (oci_plan_remote): the reference's own document (an image manifest,
 * an OCI index or a Docker manifest list) and the ones it names by
 * digest, served as the registry client serves them (digest, size and a
 * size cap checked).  Sections as in fuzz-oci-plan.c: the first section
 * (or "root") is the reference's document; "type" its Content-Type;
 * "blob" sections are the documents by digest, referred to by @N, %N
 * and #N.  Planned for the host's platform and for linux/arm64/v8. */
#include "fuzz/common.h"
#include "image/import/oci.h"
#include "image/import/sha256.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SECTIONS 48

int LLVMFuzzerInitialize(int *argc, char ***argv) { return 0; }

typedef struct doc {
	char *data;
	size_t len;
	kb_digest d;
	bool blob;
} doc;

typedef struct docs {
	doc v[MAX_SECTIONS];
	size_t n;
} docs;

static int serve(void *ctx, blob_kind kind, const kb_digest *d, uint64_t size, size_t max, char **ret,
		 size_t *ret_len, kb_error *e)
{
	const docs *ds = ctx;
	for (size_t i = 0; i < ds->n; i++) {
		const doc *x = &ds->v[i];
		if (!x->blob || strcmp(x->d.hex, d->hex))
			continue;
		if (size != UINT64_MAX && size != x->len)
			return kb_errx(e, EINVAL, "blob sha256:%.12s: size %zu, not %llu", d->hex, x->len,
				       (unsigned long long)size);
		if (x->len > max)
			return kb_errx(e, E2BIG, "blob sha256:%.12s: more than %zu bytes", d->hex, max);
		char *b = malloc(x->len + 1);
		if (!b)
			return kb_err_oom(e, "blob");
		memcpy(b, x->data, x->len);
		b[x->len] = 0;
		*ret = b;
		*ret_len = x->len;
		return 0;
	}
	return kb_errx(e, ENOENT, "GET blob sha256:%.12s: 404 Not Found", d->hex);
}

/* Blob n of the documents, once its body is made (fz_subst). */
typedef struct blobs_arg {
	const docs *ds;
	const size_t *at;
	size_t n;
} blobs_arg;

static bool blob_of(void *arg, size_t n, const kb_digest **d, size_t *size)
{
	const blobs_arg *a = arg;
	if (n >= a->n || !a->ds->v[a->at[n]].data)
		return false;
	*d = &a->ds->v[a->at[n]].d;
	*size = a->ds->v[a->at[n]].len;
	return true;
}

static void plan(const docs *ds, const remote_root *root, const plan_opts *o)
{
	blob_reader br = { serve, (void *)ds };
	image_plan *p = NULL;
	kb_error e = { 0 };
	int r = oci_plan_remote(&br, root, "example.com/fuzz/image:1", o, &p, &e);
	fz_check_error(r, &e, "oci_plan_remote");
	if (r < 0)
		return;
	if (!p->config || p->n_layers > MAX_LAYERS || p->n_names != 1)
		fz_fail("plan with config %p, %zu layers, %zu names", (void *)p->config, p->n_layers, p->n_names);
	for (size_t i = 0; i < p->n_layers; i++)
		if (!p->layers[i].has_digest || !p->layers[i].has_diff_id)
			fz_fail("layer %zu without digest or diff_id", i);
	image_plan_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_sections ss;
	docs ds = { 0 };
	size_t blob_at[MAX_SECTIONS], n_blobs = 0, root = SIZE_MAX, type = SIZE_MAX;

	if (size > (256u << 10))
		return 0;
	fz_sections_split(data, size, MAX_SECTIONS, &ss);
	ds.n = ss.n;
	for (size_t i = 0; i < ss.n; i++) {
		const char *n = ss.v[i].name;
		if (!strcmp(n, "blob"))
			blob_at[n_blobs++] = i, ds.v[i].blob = true;
		else if (!strcmp(n, "type") && type == SIZE_MAX)
			type = i;
		else if ((!n[0] || !strcmp(n, "root")) && root == SIZE_MAX)
			root = i;
	}
	for (size_t i = ss.n; i-- > 0;) {
		blobs_arg ba = { &ds, blob_at, n_blobs };
		ds.v[i].data = fz_subst(&ss.v[i], blob_of, &ba, SIZE_MAX, &ds.v[i].len);
		sha256_buf(ds.v[i].data, ds.v[i].len, &ds.v[i].d);
	}
	if (root != SIZE_MAX) {
		char *mt = NULL;
		if (type != SIZE_MAX)
			mt = strndup(ds.v[type].data, strcspn(ds.v[type].data, "\r\n"));
		remote_root rr = { ds.v[root].data, ds.v[root].len, mt, ds.v[root].d };
		plan_opts host = { 0 }, arm = { .want_explicit = true };
		platform_host(&host.want);
		snprintf(arm.want.os, sizeof arm.want.os, "linux");
		snprintf(arm.want.arch, sizeof arm.want.arch, "arm64");
		snprintf(arm.want.variant, sizeof arm.want.variant, "v8");
		plan(&ds, &rr, &host);
		plan(&ds, &rr, &arm);
		free(mt);
	}
	for (size_t i = 0; i < ds.n; i++)
		free(ds.v[i].data);
	fz_sections_free(&ss);
	return 0;
}
