/* `image pull REF`: the image a registry reference names, streamed into
 * the store.  The reference's registry, or the mirrors the user's
 * configuration lists for it (tried first, in order), answers the
 * manifest; the plan comes from import's readers (oci_plan_remote), and
 * the layers go through import's jobs, worker pool, checks and
 * publishing (import_plans), each downloaded, checked (size, digest,
 * diff_id) and unpacked in one pass, with no copy of the compressed blob
 * on disk.  Layers already in the store are not downloaded; each layer
 * is published as soon as it checks out, so an interrupted pull resumes
 * from the layers it finished. */
#pragma once
#include "image/import/import.h"
#include "image/pull/registry.h"

typedef struct pull_opts {
	const char *ref;             /* as the user wrote it */
	const char *name;            /* --name, or NULL: the full reference */
	import_opts unpack;          /* platform, jobs, limits, progress */
	const char *cert_dir;
	bool no_tls_verify;
	long connect_timeout;
	const reg_conf *conf;
} pull_opts;

typedef struct pull_result {
	import_result r;
	char *name;                  /* the full reference pulled */
	char *via;                   /* the mirror that answered, or NULL */
	kb_digest digest;            /* what the reference resolved to */
} pull_result;

/* The store must be open (shared lock); takes the import lock itself.
 * A registry that cannot be reached at all (every endpoint) fails with
 * errnum ENETUNREACH. */
int kb_pull(kb_store *s, const pull_opts *o, pull_result *ret, kb_error *e);
void pull_result_clear(pull_result *r);
