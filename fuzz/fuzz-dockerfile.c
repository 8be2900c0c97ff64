/* Fuzz target: the Dockerfile reader (dockerfile.h) and what the data
 * sandbox's init makes of a tree's build/build-image/Dockerfile
 * (buildimage_plan): the input is the Dockerfile.  After a successful
 * parse every word of every instruction is also expanded
 * (dockerfile_expand) with a few variables set, as the plan does. */
#include "fuzz/common.h"
#include "build/buildimage.h"
#include "build/dockerfile.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv) { return 0; }

static char *const vars[] = { "PATH=/usr/local/go/bin:/usr/bin:/bin", "KUBE_CROSS_VERSION=v1.31.0-go1.23.1-bullseye.0",
			      "HOME=/go/src/k8s.io/kubernetes", "EMPTY=" };

static void expand(const char *w)
{
	char *out = NULL;
	kb_error e = { 0 };
	int r = dockerfile_expand(w, vars, ARRAY_SIZE(vars), &out, &e);
	fz_check_error(r, &e, "dockerfile_expand");
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	dockerfile *df = NULL;
	kb_error e = { 0 };
	char *text = fz_text(data, size, 1u << 20);    /* profile.c's MAX_TREE_FILE */
	if (!text)
		return 0;
	/* profile.c hands it over as a C string (strlen). */
	int r = dockerfile_parse(text, strlen(text), "build/build-image/Dockerfile", &df, &e);
	fz_check_error(r, &e, "dockerfile_parse");
	if (r == 0) {
		for (size_t i = 0; i < df->n; i++) {
			const df_instr *in = &df->v[i];
			if (!dockerfile_kind_name(in->kind))
				fz_fail("instruction %zu: kind %d has no name", i, (int)in->kind);
			for (size_t k = 0; !in->json && k < in->n_args; k++)
				expand(in->args[k]);
			for (size_t k = 0; k < in->n_pairs; k++)
				if (in->pairs[k].value)
					expand(in->pairs[k].value);
			bool present;
			(void)dockerfile_flag(in, "platform", &present);
		}
		kb_buildimage *b = NULL;
		kb_error pe = { 0 };
		buildimage_args a = { .file = "build/build-image/Dockerfile", .image_env = vars,
				      .n_image_env = ARRAY_SIZE(vars), .cross_tag = "v1.31.0-go1.23.1-bullseye.0" };
		r = buildimage_plan(df, &a, &b, &pe);
		fz_check_error(r, &pe, "buildimage_plan");
		if (r == 0) {
			unsigned line;
			(void)buildimage_getenv(b, "HOME", &line);
			buildimage_free(b);
		}
		dockerfile_free(df);
	}
	free(text);
	return 0;
}
