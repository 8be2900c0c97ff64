/* Fuzz target: the image config check (oci_config_check), which every
 * import runs on a config before anything is unpacked.  The first byte
 * of the input, a digit, is the number of layers the manifest listed
 * (rootfs.diff_ids must match it); the rest is the config. */
#include "fuzz/common.h"
#include "image/import/oci.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv) { return 0; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	image_plan p = { 0 };
	layer_plan layers[10];
	kb_error e = { 0 };

	if (size < 1 || size > MAX_CONFIG_SIZE)
		return 0;
	memset(layers, 0, sizeof layers);
	p.layers = layers;
	p.n_layers = data[0] >= '0' && data[0] <= '9' ? (size_t)(data[0] - '0') : 1;
	/* The config as it came from the archive: not NUL-terminated. */
	char *cfg = malloc(size - 1 ? size - 1 : 1);
	if (!cfg)
		return 0;
	memcpy(cfg, data + 1, size - 1);
	int r = oci_config_check(&p, cfg, size - 1, &e);
	fz_check_error(r, &e, "oci_config_check");
	if (r == 0) {
		for (size_t i = 0; i < p.n_layers; i++)
			if (!p.layers[i].has_diff_id)
				fz_fail("config accepted without diff_id %zu", i);
	}
	free(cfg);
	return 0;
}
