/* Fuzz target: the outer archive's member index (tar_index_build), which
 * `image import` builds from the headers of every archive it is given,
 * then the lookups the metadata readers make (tar_index_find, which
 * follows links inside the archive) and the name cleaning of
 * tar_path_clean in both of its modes.  The input is the archive. */
#include "fuzz/common.h"
#include "image/import/tarindex.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv) { return 0; }

static void check_clean(const char *name, bool refuse)
{
	errno = 0;
	char *c = tar_path_clean(name, refuse);
	if (!c) {
		if (errno != EPERM && errno != ENOMEM)
			fz_fail("tar_path_clean(\"%.100s\") failed with errno %d", name, errno);
		return;
	}
	/* A clean name: relative, no "." or ".." component, no "//". */
	if (c[0] == '/' || strstr(c, "//") || !strcmp(c, ".") || !strncmp(c, "./", 2) || strstr(c, "/./") ||
	    (strlen(c) >= 2 && !strcmp(c + strlen(c) - 2, "/.")))
		fz_fail("tar_path_clean(\"%.100s\") gave \"%.100s\"", name, c);
	for (const char *s = c; s; s = strchr(s, '/') ? strchr(s, '/') + 1 : NULL)
		if (!strncmp(s, "..", 2) && (s[2] == '/' || s[2] == 0))
			fz_fail("tar_path_clean(\"%.100s\") gave \"%.100s\"", name, c);
	/* Cleaning is idempotent. */
	char *again = tar_path_clean(c, refuse);
	if (!again || strcmp(again, c))
		fz_fail("tar_path_clean not idempotent: \"%.100s\" -> \"%.100s\"", c, again ? again : "(null)");
	free(again);
	free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tar_index *t = NULL;
	kb_error e = { 0 };

	if (size > (1u << 20))
		return 0;
	_cleanup_close_ int fd = fz_memfd(data, size);
	int r = tar_index_build(fd, 1000, &t, &e);
	fz_check_error(r, &e, "tar_index_build");
	if (r < 0)
		return 0;
	size_t n = tar_index_count(t);
	for (size_t i = 0; i < n; i++) {
		const tar_member *m = tar_index_at(t, i);
		if (m->off > (uint64_t)size || m->size > (uint64_t)size - m->off)
			fz_fail("member %s: data at %llu+%llu past the end (%zu)", m->name, (unsigned long long)m->off,
				(unsigned long long)m->size, size);
		check_clean(m->name, false);
		check_clean(m->name, true);
		if (m->link) {
			check_clean(m->link, false);
			const tar_member *f = tar_index_find(t, m->link);
			(void)f;
		}
		const tar_member *f = tar_index_find(t, m->name);
		if (f && f->type != TM_FILE && f->type != TM_DIR && f->type != TM_OTHER)
			fz_fail("tar_index_find(%s) returned a link", m->name);
	}
	static const char *const names[] = { "index.json", "oci-layout", "manifest.json", "repositories",
					     "blobs/sha256", "./index.json", "/manifest.json" };
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		(void)tar_index_find(t, names[i]);
	tar_index_free(t);
	return 0;
}
