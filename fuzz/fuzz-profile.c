/* Fuzz target: what profile_load reads from a checkout: kbuild-ns.conf,
 * build/build-image/cross/VERSION and build/build-image/VERSION,
 * .git/HEAD, or a .git file ("gitdir: ...", a worktree), and the tree's
 * own rules: build/common.sh, build/build-image/rsyncd.sh and
 * build/build-image/Dockerfile.  The input is a set of named sections
 * (common.h): "conf", "cross", "version", "head", "gitfile", "common",
 * "rsyncd" and "dockerfile" (the text before the first "--- " line is
 * the conf);
 * each present section becomes that file of a scratch checkout, which
 * is then loaded as `kbuild-ns make` loads it (profile_load, then
 * profile_image_ref). */
#include "fuzz/common.h"
#include "build/profile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static char *checkout;
static int cfd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	checkout = fz_scratch("profile");
	cfd = open(checkout, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cfd < 0 || mkdir_p_at(cfd, "build/build-image/cross", 0755) < 0 || mkdirat(cfd, "gitdir", 0755) < 0)
		fz_fail("%s: %s", checkout, strerror(errno));
	unsetenv("KBUILD_NS_IMAGE");
	return 0;
}

static void put(const char *name, const fz_section *s)
{
	fz_write(cfd, name, s->data, s->len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const files[] = { "kbuild-ns.conf", "build/build-image/cross/VERSION",
					     "build/build-image/VERSION", ".git", "gitdir/HEAD", "build/common.sh",
					     "build/build-image/rsyncd.sh", "build/build-image/Dockerfile" };
	fz_sections ss;
	kb_profile *p = NULL;
	kb_error e = { 0 };

	if (size > (256u << 10))
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(files); i++)
		(void)rm_rf_at(cfd, files[i]);
	fz_sections_split(data, size, 12, &ss);
	bool head = false;
	for (size_t i = 0; i < ss.n; i++) {
		const char *n = ss.v[i].name;
		if (!n[0] || !strcmp(n, "conf"))
			put("kbuild-ns.conf", &ss.v[i]);
		else if (!strcmp(n, "cross"))
			put("build/build-image/cross/VERSION", &ss.v[i]);
		else if (!strcmp(n, "version"))
			put("build/build-image/VERSION", &ss.v[i]);
		else if (!strcmp(n, "head"))
			put("gitdir/HEAD", &ss.v[i]), head = true;
		else if (!strcmp(n, "gitfile"))
			put(".git", &ss.v[i]);
		else if (!strcmp(n, "common"))
			put("build/common.sh", &ss.v[i]);
		else if (!strcmp(n, "rsyncd"))
			put("build/build-image/rsyncd.sh", &ss.v[i]);
		else if (!strcmp(n, "dockerfile"))
			put("build/build-image/Dockerfile", &ss.v[i]);
	}
	/* A HEAD alone: .git is the directory, as in a plain clone. */
	if (head && faccessat(cfd, ".git", F_OK, AT_SYMLINK_NOFOLLOW) < 0 && symlinkat("gitdir", cfd, ".git") < 0)
		fz_fail(".git: %s", strerror(errno));
	fz_sections_free(&ss);

	int r = profile_load(checkout, false, &p, &e);
	fz_check_error(r, &e, "profile_load");
	if (r == 0) {
		char *ref = profile_image_ref(p, NULL);
		free(ref);
		if (!p->workdir || p->workdir[0] != '/' || !p->home || p->home[0] != '/')
			fz_fail("profile with workdir %s, home %s", p->workdir, p->home);
		profile_free(p);
	}
	return 0;
}
