/* Fuzz target: the image metadata readers as `image import` runs them
 * (oci_plan): oci-layout, index.json and nested indexes, manifests,
 * configs, the Docker 25+ manifest.json beside an index, and the classic
 * docker-save manifest.json with its <hex>.json configs.
 *
 * The input is a set of named sections ("--- NAME" lines, common.h)
 * written as members of a tar archive (a file in a scratch directory:
 * source_open wants a path it can resolve), which source_open indexes as
 * it indexes any archive.  Blobs are content-addressed, so that the fuzzer
 * can get past the digest checks: a section named "blob" is stored as
 * blobs/sha256/<its sha256>, one named "cfg" as <its sha256>.json (the
 * classic form), and in any section "@N" becomes "sha256:<hex>" of the
 * N-th blob or cfg section (N is 1-9, then a-z: 35 of them, counted
 * from the top), "%N" its bare hex and "#N" its size.  Sections are resolved from the last to the
 * first, so a section can refer only to those below it (an index to its
 * manifest, a manifest to its config and layers).  Any other name is
 * stored as it is.
 *
 * Each input is planned twice: for the host's platform as import does
 * by default, and for --platform linux/arm64/v8.  Then each planned
 * layer is looked up the way the unpacker does (source_find). */
#include "fuzz/common.h"
#include "image/import/oci.h"
#include "image/import/sha256.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SECTIONS 48
#define MAX_SUBST_OUT (1u << 20)

static char *tmpdir, *archive;
static int tmpfd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	tmpdir = fz_scratch("oci-plan");
	tmpfd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tmpfd < 0)
		fz_fail("%s: %s", tmpdir, strerror(errno));
	archive = xasprintf("%s/archive.tar", tmpdir);
	return 0;
}

typedef struct blob_ref {
	bool done;
	kb_digest d;
	size_t size;
} blob_ref;

/* Blob n of the archive, once its body is made (fz_subst). */
typedef struct refs_arg {
	const blob_ref *refs;
	size_t n;
} refs_arg;

static bool blob_of(void *arg, size_t n, const kb_digest **d, size_t *size)
{
	const refs_arg *a = arg;
	if (n >= a->n || !a->refs[n].done)
		return false;
	*d = &a->refs[n].d;
	*size = a->refs[n].size;
	return true;
}

/* The archive: one member per section, in the input's order. */
static int write_archive(const fz_sections *ss)
{
	blob_ref refs[MAX_SECTIONS] = { 0 };
	char *bodies[MAX_SECTIONS] = { 0 };
	size_t lens[MAX_SECTIONS] = { 0 }, ref_of[MAX_SECTIONS], n_refs = 0;

	for (size_t i = 0; i < ss->n; i++)
		ref_of[i] = !strcmp(ss->v[i].name, "blob") || !strcmp(ss->v[i].name, "cfg") ? n_refs++ : SIZE_MAX;
	for (size_t i = ss->n; i-- > 0;) {
		refs_arg ra = { refs, n_refs };
		bodies[i] = fz_subst(&ss->v[i], blob_of, &ra, MAX_SUBST_OUT * 4, &lens[i]);
		if (ref_of[i] != SIZE_MAX) {
			blob_ref *b = &refs[ref_of[i]];
			sha256_buf(bodies[i], lens[i], &b->d);
			b->size = lens[i];
			b->done = true;
		}
	}
	int fd = openat(tmpfd, "archive.tar", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		fz_fail("archive.tar: %s", strerror(errno));
	for (size_t i = 0; i < ss->n; i++) {
		char name[200];
		const fz_section *s = &ss->v[i];
		if (ref_of[i] != SIZE_MAX && s->name[0] == 'b')
			snprintf(name, sizeof name, "blobs/sha256/%s", refs[ref_of[i]].d.hex);
		else if (ref_of[i] != SIZE_MAX)
			snprintf(name, sizeof name, "%s.json", refs[ref_of[i]].d.hex);
		else
			snprintf(name, sizeof name, "%s", s->name[0] ? s->name : "index.json");
		fz_tar_add(fd, name, '0', bodies[i], lens[i], NULL);
		free(bodies[i]);
	}
	fz_tar_end(fd);
	return fd;
}

static void plan_once(kb_source *src, const plan_opts *o)
{
	image_plan **plans = NULL;
	size_t n = 0;
	image_format fmt;
	kb_error e = { 0 };

	int r = oci_plan(src, o, &fmt, &plans, &n, &e);
	fz_check_error(r, &e, "oci_plan");
	if (r < 0)
		return;
	if (n == 0)
		fz_fail("oci_plan succeeded with no image");
	for (size_t i = 0; i < n; i++) {
		image_plan *p = plans[i];
		if (fmt != FMT_ROOTFS && (!p->config || p->n_layers > MAX_LAYERS))
			fz_fail("plan %zu: no config, or %zu layers", i, p->n_layers);
		for (size_t k = 0; k < p->n_layers; k++) {
			kb_span sp = { .fd = -1 };
			kb_error le = { 0 };
			if (p->layers[k].member) {
				r = source_find(src, p->layers[k].member, &sp, &le);
				fz_check_error(r, &le, "source_find");
				span_close(&sp);
			}
		}
		image_plan_free(p);
	}
	free(plans);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_sections ss;
	kb_source *src = NULL;
	kb_error e = { 0 };

	if (size > (256u << 10))
		return 0;
	fz_sections_split(data, size, MAX_SECTIONS, &ss);
	_cleanup_close_ int fd = write_archive(&ss);
	fz_sections_free(&ss);

	int r = source_open(archive, tmpfd, &src, &e);
	fz_check_error(r, &e, "source_open");
	if (r < 0)
		return 0;
	plan_opts host = { 0 }, arm = { .want_explicit = true };
	platform_host(&host.want);
	snprintf(arm.want.os, sizeof arm.want.os, "linux");
	snprintf(arm.want.arch, sizeof arm.want.arch, "arm64");
	snprintf(arm.want.variant, sizeof arm.want.variant, "v8");
	plan_once(src, &host);
	plan_once(src, &arm);
	source_free(src);
	return 0;
}
