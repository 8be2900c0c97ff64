/* Fuzz target: the decompressing, digesting reader every blob goes
 * through (zstream): gzip (ISA-L igzip), zstd or plain, sniffed by magic
 * bytes, with a cap on the inflated size.  The input is the stored blob,
 * read to the end as the importer does: from a byte range of a file (an
 * archive's member), here one that starts at offset 1. */
#include "fuzz/common.h"
#include "image/import/zstream.h"

#include <string.h>

#define CAP (8u << 20)

int LLVMFuzzerInitialize(int *argc, char ***argv) { return 0; }

static void read_all(int fd, uint64_t off, uint64_t len)
{
	zstream *z = NULL;
	kb_error e = { 0 };
	const void *buf;
	ssize_t n;
	uint64_t out = 0;

	int r = zstream_open(&z, fd, off, len, ZS_DETECT | ZS_HASH_IN | ZS_HASH_OUT, CAP, "blob", &e);
	fz_check_error(r, &e, "zstream_open");
	if (r < 0)
		return;
	while ((n = zstream_read(z, &buf, &e)) > 0)
		out += (uint64_t)n;
	fz_check_error((int)n, &e, "zstream_read");
	if (n == 0) {
		kb_digest din, dout;
		zstream_digest_in(z, &din);
		zstream_digest_out(z, &dout);
		if (out > CAP || zstream_out_bytes(z) != out)
			fz_fail("%llu bytes out (counted %llu), cap %u", (unsigned long long)zstream_out_bytes(z),
				(unsigned long long)out, CAP);
		if (zstream_in_bytes(z) != len)
			fz_fail("%llu of %llu bytes read in", (unsigned long long)zstream_in_bytes(z),
				(unsigned long long)len);
		if (zstream_kind(z) == ZS_PLAIN && (out != len || strcmp(din.hex, dout.hex)))
			fz_fail("plain stream changed on the way");
	}
	zstream_free(z);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > (1u << 20))
		return 0;
	/* A leading byte the range leaves out (each stream costs ~1.3 MB of
	 * buffers, which ASan maps and unmaps: one read per input). */
	_cleanup_close_ int fd = fz_memfd("\0", 1);
	if (size && write_all(fd, data, size) < 0)
		fz_fail("memfd: write failed");
	read_all(fd, 1, size);
	return 0;
}
