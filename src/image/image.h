/* Image records (store/images/<id>.json): what an import leaves behind
 * and what every later command looks images up in. */
#pragma once
#include "image/store.h"
#include "image/platform.h"
#include <jansson.h>

typedef struct layer_rec {
	kb_digest diff_id, digest;
	char *media_type;
	uint64_t size, unpacked_size;
} layer_rec;

/* Where an image came from, for `image inspect` ("source" in the record;
 * records written before it have none). */
typedef enum { SRC_NONE, SRC_ARCHIVE, SRC_REGISTRY } image_source_kind;
typedef struct image_source {
	image_source_kind kind;
	char *location;              /* the archive's absolute path, or the reference pulled */
	char *via;                   /* registry: the mirror that served it, or NULL */
	bool has_digest;
	kb_digest digest;            /* the archive's sha256, or the digest the reference resolved to */
} image_source;

typedef struct image_rec {
	kb_digest id;                /* = config digest */
	char **names;
	size_t n_names;
	kb_platform platform;
	bool has_manifest;
	kb_digest manifest;
	char *created;
	layer_rec *layers;
	size_t n_layers;
	image_source source;
} image_rec;

int image_source_copy(image_source *dst, const image_source *src);
void image_source_clear(image_source *s);

int image_load(kb_store *s, const char *hex, image_rec **ret, kb_error *e);
int image_save(kb_store *s, const image_rec *r, kb_error *e);
/* All records, sorted by first name (unnamed last). */
int image_list(kb_store *s, image_rec ***ret, size_t *ret_n, kb_error *e);
void image_list_free(image_rec **l, size_t n);
/* Find by full name, name suffix (short name "kube-cross:TAG"), or id
 * prefix; a name without a tag means ":latest".  A reference that finds
 * nothing fails with ENOENT and, when the store has names close to it,
 * says them ("did you mean kube-cross:v1?"). */
int image_find(kb_store *s, const char *ref, image_rec **ret, kb_error *e);
/* The same, and which of the image's names ref matched (a copy in
 * *ret_name), or NULL when it matched the id: `image rm NAME` removes
 * that name, `image rm ID` the image. */
int image_lookup(kb_store *s, const char *ref, image_rec **ret, char **ret_name, kb_error *e);
/* The names of the store closest to ref, for a "did you mean" line: those
 * of the same repository with another tag first, then those within a few
 * typos, at most three ("a, b or c") in buf; returns how many. */
size_t image_suggest(kb_store *s, const char *ref, char *buf, size_t len);
/* The same among the records l (NULL entries skipped). */
size_t image_suggest_in(image_rec **l, size_t n, const char *ref, char *buf, size_t len);
/* Take one name away from the image and save its record. */
int image_untag(kb_store *s, image_rec *r, const char *name, kb_error *e);
/* Record a freshly imported image: merge names with an existing record
 * of the same id and take the names away from any other image. */
int image_commit(kb_store *s, image_rec *r, kb_error *e);
/* Delete the record, then the layers and blobs no other image uses.
 * Waits (after a notice naming it) for a build that uses the image; the
 * store lock must be held exclusively. */
int image_remove(kb_store *s, const image_rec *r, kb_error *e);

typedef struct prune_stats {
	uint64_t layers, blobs;
} prune_stats;
/* Delete layers and blobs no image uses (store lock held exclusive). */
int image_prune(kb_store *s, prune_stats *st, kb_error *e);

/* Normalise a reference given by a user or an archive: trims, adds
 * ":latest" when there is no tag.  NULL when it is not a valid name
 * (names.c; not in oci.c, so that looking an image up needs none of the
 * archive readers). */
char *oci_name_normalize(const char *s);
/* The same; on NULL, *ret_why says what is wrong with the name. */
char *oci_name_normalize_why(const char *s, const char **ret_why);

/* JSON for ls --json (with_config false) and inspect (true). */
json_t *image_json(kb_store *s, const image_rec *r, bool with_config);
uint64_t image_size(const image_rec *r);
void image_rec_free(image_rec *r);
static inline void image_rec_freep(image_rec **r) { image_rec_free(*r); }
