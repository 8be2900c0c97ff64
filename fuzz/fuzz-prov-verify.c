/* Fuzz target: `kbuild-ns provenance verify` reading a provenance record
 * that came with a release (prov_verify): a plain in-toto statement or a
 * DSSE envelope, checked without a key and with an Ed25519 public key.
 * The subjects are looked up in a scratch base directory holding two
 * small files (a.tar.gz, "A\n"; sub/b.tar.gz, "B\n"); the input is the
 * record. */
#include "fuzz/common.h"
#include "release/provenance.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A throwaway key: `openssl genpkey -algorithm ed25519 | openssl pkey -pubout`. */
static const char pubkey_pem[] =
	"-----BEGIN PUBLIC KEY-----\n"
	"MCowBQYDK2VwAyEASy21s4tftBt8dZGxXZ2PaMSHKD4fd2vQNX8MfZnDf0A=\n"
	"-----END PUBLIC KEY-----\n";

static char *scratch, *record, *pubkey;
static int basefd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	scratch = fz_scratch("prov-verify");
	int fd = open(scratch, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || mkdirat(fd, "base", 0755) < 0 || (basefd = openat(fd, "base", O_RDONLY | O_DIRECTORY)) < 0 ||
	    mkdirat(basefd, "sub", 0755) < 0)
		fz_fail("%s: %s", scratch, strerror(errno));
	fz_write(basefd, "a.tar.gz", "A\n", 2);
	fz_write(basefd, "sub/b.tar.gz", "B\n", 2);
	fz_write(fd, "key.pub", pubkey_pem, sizeof pubkey_pem - 1);
	close(fd);
	record = xasprintf("%s/record.json", scratch);
	pubkey = xasprintf("%s/key.pub", scratch);
	return 0;
}

static void verify(const char *key)
{
	prov_mismatch mm[4];
	size_t n = 0;
	kb_error e = { 0 };
	int r = prov_verify(record, basefd, key, mm, ARRAY_SIZE(mm), &n, &e);
	fz_check_error(r, &e, "prov_verify");
	for (size_t i = 0; r == 0 && i < n && i < ARRAY_SIZE(mm); i++)
		if (!memchr(mm[i].name, 0, sizeof mm[i].name) || !memchr(mm[i].why, 0, sizeof mm[i].why))
			fz_fail("mismatch %zu not terminated", i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > (256u << 10))
		return 0;
	int dfd = open(scratch, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		fz_fail("%s: %s", scratch, strerror(errno));
	fz_write(dfd, "record.json", data, size);
	close(dfd);
	verify(NULL);
	verify(pubkey);
	return 0;
}
