/* The provenance of a release: an in-toto Statement v1 whose predicate is
 * SLSA provenance v1 (slsa.dev/provenance/v1), written next to the
 * release tarballs, optionally wrapped in a DSSE envelope signed with an
 * Ed25519 or ECDSA P-256 key (OpenSSL).  A local builder can claim SLSA
 * Build L1 only: the record is an inventory and rebuild instructions, not
 * proof; two reproducible builds with equal subjects prove more.
 *
 * Subjects (every tarball and image archive, with its sha256; images with
 * their manifest digest) are sorted by name, and everything but
 * runDetails.metadata is derived from the inputs, so two reproducible
 * runs of one commit give records that differ only there. */
#pragma once
#include "base/util.h"
#include "base/digest.h"
#include "runtime/error.h"
#include <jansson.h>

#define PROV_BUILD_TYPE "https://kbuild-ns.dev/buildtypes/k8s-release/v1"
#define PROV_BUILDER_ID "urn:kbuild-ns:builder:local"
#define PROV_PAYLOAD_TYPE "application/vnd.in-toto+json"

typedef struct provenance provenance;

provenance *prov_new(void);
/* A subject: path (relative to basefd, as it is named in the record) is
 * hashed now.  manifest: an image archive's manifest digest, or NULL. */
int prov_add_file(provenance *p, int basefd, const char *path, const char *manifest, kb_error *e);
/* A resolved dependency: uri and/or name, and one digest (kind is
 * "sha256", "gitCommit" or "dirHash"); annotation key/value may be NULL. */
int prov_add_dep(provenance *p, const char *name, const char *uri, const char *kind, const char *digest,
		 const char *akey, const char *aval, kb_error *e);
/* externalParameters and internalParameters: objects the caller fills
 * (owned by p). */
json_t *prov_external(provenance *p);
json_t *prov_internal(provenance *p);
/* runDetails: the builder's version and when the build ran (Unix seconds). */
void prov_set_run(provenance *p, const char *version, long long started, long long finished);
/* The statement, keys sorted, one per line indented (JSON_INDENT 2). */
char *prov_statement(provenance *p, kb_error *e);
/* Write the statement to dirfd/name (a name, no "/") atomically; with key (a PEM private
 * key file), also dirfd/<name minus .json>.dsse.json, the DSSE envelope. */
int prov_write(provenance *p, int dirfd, const char *name, const char *key, kb_error *e);
void prov_free(provenance *p);
static inline void prov_freep(provenance **p) { prov_free(*p); }

/* DSSE's pre-authentication encoding: "DSSEv1 <len> <type> <len> <body>". */
char *dsse_pae(const char *type, const char *body, size_t body_len, size_t *ret_len);

/* One subject whose file does not match the record. */
typedef struct prov_mismatch {
	char name[512];
	char why[160];               /* "missing", "sha256 …, recorded …" */
} prov_mismatch;

/* Check a record (a statement or a DSSE envelope) at path: its form (an
 * in-toto Statement v1 with a SLSA v1 predicate), every subject re-hashed
 * from basefd, and with pubkey (a PEM public key) the envelope's
 * signature.  Mismatches go to *ret (at most max; *ret_n counts them all);
 * a record that cannot be read or checked at all is an error. */
int prov_verify(const char *path, int basefd, const char *pubkey, prov_mismatch *ret, size_t max, size_t *ret_n,
		kb_error *e);
