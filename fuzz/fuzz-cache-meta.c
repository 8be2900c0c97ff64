/* Fuzz target: the first thing `cache import` reads from a CI cache (a
 * tar or tar.zst from a runner's cache, so anyone's bytes): the
 * description member, through the zstream reader and libarchive
 * (cache_read_meta).  What follows it is unpacked by the layer unpacker,
 * which fuzz-extract covers.  The input is the cache file. */
#include "fuzz/common.h"
#include "cache/cache.h"

#include <jansson.h>

int LLVMFuzzerInitialize(int *argc, char ***argv) { return 0; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *m = NULL;
	kb_error e = { 0 };

	if (size > (1u << 20))
		return 0;
	_cleanup_close_ int fd = fz_memfd(data, size);
	int r = cache_read_meta(fd, size, "cache.tar.zst", &m, &e);
	fz_check_error(r, &e, "cache_read_meta");
	if (r == 0 && !json_is_object(m))
		fz_fail("cache description accepted but not an object");
	json_decref(m);
	return 0;
}
