/* What cache export, import and key share (cache.h): the checkout's
 * profile, its data sandbox, the image id; and the key. */
#include "cache/cache.h"
#include "build/data.h"
#include "build/profile.h"
#include "image/image.h"
#include "image/import/sha256.h"

#include <errno.h>
#include <string.h>

int cache_target_open(const char *state_dir, const char *image, bool create, cache_target *t, kb_error *e)
{
	_cleanup_(store_closep) kb_store *s = NULL;
	_cleanup_(image_rec_freep) image_rec *img = NULL;
	_cleanup_free_ char *ref = NULL;
	kb_platform host;
	int r;

	*t = (cache_target){ 0 };
	platform_host(&host);
	snprintf(t->arch, sizeof t->arch, "%s", host.arch);
	if ((r = profile_load(".", false, &t->prof, e)) < 0 || (r = data_open(state_dir, t->prof, create, &t->data, e)) < 0)
		return r;
	if (!(ref = profile_image_ref(t->prof, image)))
		return kb_errx(e, EINVAL, "no image: give --image REF (this checkout names none)");
	if ((r = store_open(state_dir, LOCK_SH, NULL, &s, e)) < 0)
		return r;
	/* As make finds it: the Dockerfile's base image under its short
	 * name too. */
	r = image_find(s, ref, &img, e);
	const char *alt = profile_image_alt(t->prof, ref);
	if (r < 0 && e->errnum == ENOENT && alt) {
		kb_error first = *e;
		*e = (kb_error){ 0 };
		if ((r = image_find(s, alt, &img, e)) < 0 && e->errnum == ENOENT)
			*e = first;
	}
	if (r < 0)
		return r;
	snprintf(t->image_id, sizeof t->image_id, "sha256:%s", img->id.hex);
	return 0;
}

/* A cache is the data sandbox's overlay upper layer and the snapshot's
 * _output.  With the state directory on overlayfs there is no upper
 * layer: the build's writes are mixed into a copy of the image
 * (build/flatroot.h), and telling them from the image's files would take
 * a comparison with the layers that is not written yet.  So both
 * directions refuse, naming the mode and the fix. */
int cache_refuse_copied_root(const char *state_dir, kb_error *e)
{
	if (!data_on_overlayfs(state_dir))
		return 0;
	return kb_errx(e, EOPNOTSUPP, "state directory %s is on overlayfs, where builds run on a copied root "
		       "with no overlay upper layer to carry: put --state-dir (or KBUILD_NS_STATE_DIR) on a volume "
		       "or an emptyDir (kbuild-ns doctor)", state_dir);
}

void cache_target_close(cache_target *t)
{
	data_free(t->data);
	profile_free(t->prof);
	*t = (cache_target){ 0 };
}

int cache_key(const char *state_dir, const char *image, char **ret, kb_error *e)
{
	cache_target t;
	kb_digest d;
	int r = cache_target_open(state_dir, image, false, &t, e);
	if (r < 0) {
		cache_target_close(&t);
		return r;
	}
	/* What makes a cache usable: the image, the state format and
	 * version, the machine, the branch (a CI job keys on it anyway, and
	 * kbuild-ns keeps a state per branch). */
	_cleanup_free_ char *in = xasprintf("%d\n%s\n%s\n%s\n%s\n", CACHE_FORMAT, t.image_id, t.data->version, t.arch,
					    t.prof->branch);
	sha256_buf(in, strlen(in), &d);
	*ret = xasprintf("kbuild-ns-%.16s", d.hex);
	cache_target_close(&t);
	return 0;
}
