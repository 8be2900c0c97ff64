/* What the fuzz targets share (fuzz/README.md): turning the fuzzer's
 * bytes into what the library reads (a memfd, a tar of named sections,
 * files in a scratch directory), and the checks every target makes on
 * the library's answer.  Harness code only: every target calls the same
 * library functions the programs call, never a copy of them. */
#pragma once
#include "base/digest.h"
#include "base/util.h"
#include "runtime/error.h"

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

/* libFuzzer's entry points. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Stop the run with a message: the fuzzer records the input. */
_Noreturn void fz_fail(const char *fmt, ...) _printf_(1, 2);

/* The library's error contract (docs/architecture.md, "Errors"): a
 * negative return comes with a message, since the command layer prints
 * it as the one line the user gets; success leaves no message behind. */
void fz_check_error(int r, const kb_error *e, const char *call);

/* An anonymous file holding data (the fuzzer's input as a "file"). */
int fz_memfd(const void *data, size_t len);
/* Write dirfd/name whole (no fsync: scratch files only). */
void fz_write(int dirfd, const char *name, const void *data, size_t len);

/* A fresh directory under $TMPDIR (or /tmp) for this target's run;
 * removed at exit. */
char *fz_scratch(const char *target);

/* Named sections: the input is split on lines "--- NAME"; the text
 * before the first such line is a section with an empty name.  Parts
 * point into a private copy of the input. */
typedef struct fz_section {
	char *name;
	char *data;
	size_t len;
} fz_section;

typedef struct fz_sections {
	char *buf;
	fz_section *v;
	size_t n;
} fz_sections;

void fz_sections_split(const uint8_t *data, size_t size, size_t max, fz_sections *ret);
void fz_sections_free(fz_sections *s);

/* A minimal ustar writer into an fd (GNU 'L' records for long names). */
void fz_tar_add(int fd, const char *name, char type, const void *data, size_t len, const char *link);
void fz_tar_end(int fd);

/* The input as a C string, as read_file_at gives a file: a copy with a
 * NUL after it (so cut at an inner NUL by strlen); NULL when over max
 * bytes or out of memory (the input is then skipped). */
char *fz_text(const uint8_t *data, size_t size, size_t max);

/* A section with "@N", "%N" and "#N" (N = 1-9, then a-z for 10-35)
 * replaced by "sha256:<hex>", "<hex>" and the size of blob N, when ref
 * knows blob N (returns true and fills *d, *size); anything else kept.
 * At most max bytes out, else the run stops as out of memory. */
typedef bool (*fz_ref_fn)(void *arg, size_t n, const kb_digest **d, size_t *size);
char *fz_subst(const fz_section *s, fz_ref_fn ref, void *arg, size_t max, size_t *ret_len);
