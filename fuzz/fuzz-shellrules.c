/* Fuzz target: the reader of the rsync filters a Kubernetes tree passes
 * in its shell scripts (shellrules.h): the --filter words of
 * build/common.sh's kube::build::rsync, sync_to_container and
 * copy_output, and the "filter =" line of build/build-image/rsyncd.sh.
 * The input is the script, read both ways, as profile_load reads it. */
#include "fuzz/common.h"
#include "build/shellrules.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv) { return 0; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const fns[] = { "kube::build::rsync", "kube::build::sync_to_container",
					   "kube::build::copy_output" };
	/* As read_file_at gives it: NUL-terminated, cut at an inner NUL. */
	char *text = fz_text(data, size, 1u << 20);    /* profile.c's MAX_TREE_FILE */
	if (!text)
		return 0;

	for (size_t i = 0; i < ARRAY_SIZE(fns); i++) {
		filter_list l = { 0 };
		unsigned line = 0;
		kb_error e = { 0 };
		int r = shell_function_filters(text, "build/common.sh", fns[i], &l, &line, &e);
		fz_check_error(r, &e, "shell_function_filters");
		if (r > 0 && line == 0)
			fz_fail("%s found without a line", fns[i]);
		for (size_t k = 0; k < l.n; k++)
			(void)filter_hides(&l, "_output/bin/kubectl", false);
		filter_list_free(&l);
	}
	filter_list l = { 0 };
	kb_error e = { 0 };
	int r = rsyncd_filters(text, "build/build-image/rsyncd.sh", &l, &e);
	fz_check_error(r, &e, "rsyncd_filters");
	filter_list_free(&l);
	free(text);
	return 0;
}
