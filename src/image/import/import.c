/* `image import` (import.h): plan, unpack the missing layers in parallel,
 * check every digest, publish. */
#include "image/import/import.h"
#include "image/import/sha256.h"
#include "base/progress.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/fs.h>

typedef struct job {
	layer_plan *lp;              /* first plan layer with this content */
	bool present;                /* already in the store: nothing to do */
	bool published;              /* moved into layers/ by this import */
	bool want_blob;              /* keep the layer's blob, which the store lacks */
	bool blob_done;              /* copied to the work file blob, as blob_digest */
	char dir[32];                /* work directory name */
	char blob[32];               /* work file name of the blob */
	kb_digest blob_digest;
	char label[40];
	kb_digest digest, diff_id;
	uint64_t size, unpacked;
	extract_stats st;
} job;

typedef struct pool {
	job *jobs;
	size_t n;
	atomic_size_t next;
	atomic_int cancel;
	pthread_mutex_t lock;
	kb_error err;
	kb_store *s;
	kb_source *src;
	const import_opts *o;
	bool keep;                   /* keep the layers' blobs (import_opts.keep_blobs) */
	bars *bars;
} pool;

void import_result_clear(import_result *r)
{
	image_list_free(r->images, r->n_images);
	memset(r, 0, sizeof *r);
}

static void on_progress(void *ctx, uint64_t bytes)
{
	pool *p = ((void **)ctx)[0];
	size_t i = (size_t)(uintptr_t)((void **)ctx)[1];
	bars_update(p->bars, i, bytes);
}

static int run_job(pool *p, size_t i, kb_error *e)
{
	job *j = &p->jobs[i];
	layer_plan *lp = j->lp;
	kb_span sp;
	int r;

	if (lp->member) {
		if ((r = source_find(p->src, lp->member, &sp, e)) < 0) {
			kb_err_prefix(e, "%s", j->label);
			return r;
		}
	} else {
		sp = (kb_span){ .fd = p->src->fd, .off = 0, .len = p->src->size };
	}
	_cleanup_(span_close) kb_span span = sp;
	if (lp->has_digest && span.len != lp->size)
		return kb_errx(e, EINVAL, "%s: size mismatch (expected %llu, got %llu)", j->label,
			       (unsigned long long)lp->size, (unsigned long long)span.len);
	bars_start(p->bars, i, j->label, span.len);

	snprintf(j->dir, sizeof j->dir, "L%zu", i);
	if (mkdirat(p->s->work_fd, j->dir, 0755) < 0)
		return kb_err(e, errno, "%s: work directory", j->label);
	_cleanup_close_ int root = openat(p->s->work_fd, j->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (root < 0)
		return kb_err(e, errno, "%s: work directory", j->label);

	_cleanup_(zstream_freep) zstream *z = NULL;
	if ((r = zstream_open(&z, span.fd, span.off, span.len, ZS_DETECT | ZS_HASH_IN | ZS_HASH_OUT,
			      p->o->max_layer_size, j->label, e)) < 0)
		return r;
	extract_opts xo = { .relax_modes = p->o->relax_modes, .cancel = &p->cancel };
	void *ctx[2] = { p, (void *)(uintptr_t)i };
	if ((r = extract_tar(z, root, &xo, j->label, on_progress, ctx, &j->st, e)) < 0)
		return r;

	zstream_digest_in(z, &j->digest);
	zstream_digest_out(z, &j->diff_id);
	j->size = zstream_in_bytes(z);
	j->unpacked = zstream_out_bytes(z);
	if (lp->has_digest && strcmp(j->digest.hex, lp->digest.hex))
		return kb_errx(e, EINVAL, "%s: digest mismatch (expected sha256:%s, got sha256:%s)",
			       j->label, lp->digest.hex, j->digest.hex);
	if (lp->has_diff_id && strcmp(j->diff_id.hex, lp->diff_id.hex))
		return kb_errx(e, EINVAL, "%s: diff_id mismatch (expected sha256:%s, got sha256:%s)",
			       j->label, lp->diff_id.hex, j->diff_id.hex);
	char hb[2][24], res[80];
	snprintf(res, sizeof res, "%s %s, %s unpacked", human_size(j->size, hb[0], sizeof hb[0]),
		 zs_kind_name(zstream_kind(z)), human_size(j->unpacked, hb[1], sizeof hb[1]));
	bars_finish(p->bars, i, res);
	return 0;
}

/* The layer's bytes as the archive holds them (compressed or not), into
 * the work directory, hashed on the way: what gets published is what
 * was hashed, whatever happens to the archive meanwhile. */
static int copy_blob(pool *p, size_t i, kb_error *e)
{
	job *j = &p->jobs[i];
	kb_span sp = { .fd = p->src->fd, .off = 0, .len = p->src->size };
	int r;

	if (j->lp->member && (r = source_find(p->src, j->lp->member, &sp, e)) < 0) {
		kb_err_prefix(e, "%s", j->label);
		return r;
	}
	_cleanup_(span_close) kb_span span = sp;
	_cleanup_(sha256_freep) sha256_ctx *c = sha256_new();
	_cleanup_free_ char *buf = malloc(1 << 20);
	if (!c || !buf)
		return kb_err_oom(e, j->label);
	snprintf(j->blob, sizeof j->blob, "B%zu", i);
	_cleanup_close_ int out = openat(p->s->work_fd, j->blob, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (out < 0)
		return kb_err(e, errno, "%s: keep its blob", j->label);
	for (uint64_t off = 0; off < span.len;) {
		size_t want = span.len - off < (1u << 20) ? (size_t)(span.len - off) : 1u << 20;
		ssize_t n = atomic_load(&p->cancel) ? (errno = ECANCELED, -1) : pread(span.fd, buf, want, (off_t)(span.off + off));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return kb_err(e, n < 0 ? errno : EIO, "%s: keep its blob", j->label);
		sha256_update(c, buf, (size_t)n);
		if ((r = write_all(out, buf, (size_t)n)) < 0)
			return kb_err(e, -r, "%s: keep its blob", j->label);
		off += (uint64_t)n;
	}
	sha256_final(c, &j->blob_digest);
	const kb_digest *expect = j->lp->has_digest ? &j->lp->digest : !j->present ? &j->digest : NULL;
	if (expect && strcmp(expect->hex, j->blob_digest.hex))
		return kb_errx(e, EINVAL, "%s: digest mismatch on a second read (expected sha256:%s, got sha256:%s)",
			       j->label, expect->hex, j->blob_digest.hex);
	j->blob_done = true;
	return 0;
}

static void *worker(void *arg)
{
	pool *p = arg;
	for (;;) {
		size_t i = atomic_fetch_add(&p->next, 1);
		if (i >= p->n || atomic_load(&p->cancel))
			break;
		job *j = &p->jobs[i];
		if (j->present && !j->want_blob)
			continue;
		kb_error e = { 0 };
		int r = j->present ? 0 : run_job(p, i, &e);
		if (r == 0 && j->want_blob)
			r = copy_blob(p, i, &e);
		if (r < 0) {
			/* The first failure is the one to report; the others are
			 * mostly "cancelled" echoes of it. */
			pthread_mutex_lock(&p->lock);
			if (!atomic_exchange(&p->cancel, 1))
				p->err = e;
			pthread_mutex_unlock(&p->lock);
			break;
		}
	}
	return NULL;
}

static int run_pool(pool *p, int jobs, kb_error *e)
{
	size_t todo = 0;
	for (size_t i = 0; i < p->n; i++)
		todo += !p->jobs[i].present || p->jobs[i].want_blob;
	if (todo == 0)
		return 0;
	if (jobs < 1)
		jobs = 1;
	if ((size_t)jobs > todo)
		jobs = (int)todo;
	pthread_t *t = calloc((size_t)jobs, sizeof *t);
	int started = 0;
	if (!t)
		return kb_err_oom(e, "import");
	pthread_mutex_init(&p->lock, NULL);
	/* Worker 0 is this thread; the rest are new ones.  Each keeps a few
	 * MB of buffers, whatever the layer size. */
	for (int k = 1; k < jobs; k++)
		if (pthread_create(&t[k], NULL, worker, p) == 0)
			started = k;
		else
			break;
	worker(p);
	for (int k = 1; k <= started; k++)
		pthread_join(t[k], NULL);
	free(t);
	pthread_mutex_destroy(&p->lock);
	if (kb_err_set(&p->err)) {
		*e = p->err;
		return -EIO;
	}
	return 0;
}

/* The size of a layer we did not unpack this time, from the records. */
static uint64_t known_unpacked(image_rec **l, size_t n, const kb_digest *d)
{
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < l[i]->n_layers; k++)
			if (!strcmp(l[i]->layers[k].diff_id.hex, d->hex))
				return l[i]->layers[k].unpacked_size;
	return 0;
}

static job *job_for(pool *p, const layer_plan *lp)
{
	for (size_t i = 0; i < p->n; i++) {
		const layer_plan *q = p->jobs[i].lp;
		if (lp->has_diff_id && q->has_diff_id && !strcmp(lp->diff_id.hex, q->diff_id.hex))
			return &p->jobs[i];
		if (!lp->has_diff_id && lp == q)
			return &p->jobs[i];
	}
	return NULL;
}

static int make_record(image_plan *ip, pool *p, image_rec **old, size_t n_old,
		       image_rec **ret, kb_error *e)
{
	_cleanup_(image_rec_freep) image_rec *r = calloc(1, sizeof *r);
	if (!r || !(r->layers = calloc(ip->n_layers + 1, sizeof *r->layers)) ||
	    !(r->names = calloc(ip->n_names + 1, sizeof *r->names)))
		return kb_err_oom(e, "import");
	r->id = ip->config_digest;
	r->platform = ip->platform;
	r->has_manifest = ip->has_manifest;
	r->manifest = ip->manifest_digest;
	for (size_t i = 0; i < ip->n_names; i++)
		r->names[r->n_names++] = strdup(ip->names[i]);
	json_t *cfg = json_loadb(ip->config, ip->config_len, 0, NULL);
	if (json_is_string(json_object_get(cfg, "created")))
		r->created = strdup(json_string_value(json_object_get(cfg, "created")));
	json_decref(cfg);
	for (size_t i = 0; i < ip->n_layers; i++) {
		layer_plan *lp = &ip->layers[i];
		job *j = job_for(p, lp);
		layer_rec *l = &r->layers[r->n_layers++];
		l->diff_id = lp->has_diff_id ? lp->diff_id : j->diff_id;
		l->digest = lp->has_digest ? lp->digest : j->blob_done ? j->blob_digest : j->present ? lp->diff_id : j->digest;
		l->size = lp->has_digest ? lp->size : j->size;
		l->unpacked_size = j->present ? known_unpacked(old, n_old, &l->diff_id) : j->unpacked;
		l->media_type = lp->media_type ? strdup(lp->media_type) : NULL;
	}
	*ret = steal_ptr(r);
	return 0;
}

/* --name: the one image of the source gets that name, and only it. */
static int apply_name(image_plan **plans, size_t n_plans, const import_opts *o, kb_error *e)
{
	if (n_plans > 1)
		return kb_errx(e, EINVAL, "%s: --name given, but the archive holds %zu images", o->path, n_plans);
	char *n = oci_name_normalize(o->name);
	if (!n)
		return kb_errx(e, EINVAL, "--name %s: not a valid image name", o->name);
	char **names = malloc(sizeof *names);
	if (!names) {
		free(n);
		return kb_err_oom(e, "import");
	}
	for (size_t i = 0; i < plans[0]->n_names; i++)
		free(plans[0]->names[i]);
	free(plans[0]->names);
	names[0] = n;
	plans[0]->names = names;
	plans[0]->n_names = 1;
	return 0;
}

/* Keep the layers' blobs?  Auto: when the archive's layers total at most
 * keep_blobs_max (base images are small; a build image is not, and its
 * blobs would double its size in the store for nothing). */
static bool keep_wanted(pool *p, image_plan **plans, size_t n_plans)
{
	uint64_t total = 0;
	if (p->o->keep_blobs != KEEP_BLOBS_AUTO)
		return p->o->keep_blobs == KEEP_BLOBS_YES;
	for (size_t i = 0; i < n_plans; i++)
		for (size_t k = 0; k < plans[i]->n_layers; k++) {
			const layer_plan *lp = &plans[i]->layers[k];
			kb_span sp = { .fd = -1, .len = p->src->size };
			kb_error ignored = { 0 };
			if (lp->has_digest)
				sp.len = lp->size;
			else if (lp->member && source_find(p->src, lp->member, &sp, &ignored) < 0)
				return false;
			span_close(&sp);
			total += sp.len;
		}
	return total <= p->o->keep_blobs_max;
}

/* The store has the blob a layer would be kept as. */
static bool blob_present(pool *p, const layer_plan *lp)
{
	const kb_digest *d = lp->has_digest ? &lp->digest : lp->has_diff_id ? &lp->diff_id : NULL;
	return d && faccessat(p->s->blobs_fd, d->hex, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

/* One job per distinct layer content across all images; those already
 * in the store are marked present (and shown as such). */
static int make_jobs(pool *p, image_plan **plans, size_t n_plans, import_result *ret, kb_error *e)
{
	size_t total = 0;
	for (size_t i = 0; i < n_plans; i++)
		total += plans[i]->n_layers;
	if (!(p->jobs = calloc(total + 1, sizeof *p->jobs)))
		return kb_err_oom(e, "import");
	for (size_t i = 0; i < n_plans; i++)
		for (size_t k = 0; k < plans[i]->n_layers; k++) {
			layer_plan *lp = &plans[i]->layers[k];
			if (job_for(p, lp))
				continue;
			job *j = &p->jobs[p->n++];
			char sb[24];
			j->lp = lp;
			j->present = lp->has_diff_id && store_has_layer(p->s, &lp->diff_id);
			j->want_blob = p->keep && !blob_present(p, lp);
			if (lp->has_digest || lp->has_diff_id)
				snprintf(j->label, sizeof j->label, "layer %s",
					 digest_short(lp->has_digest ? &lp->digest : &lp->diff_id, sb));
			else
				snprintf(j->label, sizeof j->label, "root filesystem");
			ret->layers_present += j->present;
		}
	p->bars = p->o->progress ? bars_new(p->n) : NULL;
	for (size_t i = 0; i < p->n && p->bars; i++) {
		bars_label(p->bars, i, p->jobs[i].label);
		if (p->jobs[i].present) {
			bars_start(p->bars, i, p->jobs[i].label, 0);
			bars_finish(p->bars, i, "already in the store");
		}
	}
	return 0;
}

/* What one import adds to the store, so that a failure before a record
 * refers to it can take it back. */
typedef struct added {
	kb_digest *blobs;
	size_t n_blobs;
	bool committed;             /* a record now refers to the layers */
} added;

static int put_blob(kb_store *s, const kb_digest *d, const void *data, size_t len, added *a, kb_error *e)
{
	int r = store_put_blob(s, d, data, len, e);
	if (r > 0)
		a->blobs[a->n_blobs++] = *d;
	return r < 0 ? r : 0;
}

/* The image records, last: once one is written, the layers are the
 * store's (no rollback). */
static int publish_records(pool *p, image_plan **plans, size_t n_plans, import_result *ret, added *a, kb_error *e)
{
	image_rec **old = NULL;
	size_t n_old = 0;
	int r;

	if ((r = image_list(p->s, &old, &n_old, e)) < 0)
		return r;
	for (size_t i = 0; i < n_plans && r == 0; i++) {
		image_rec *rec = NULL;
		if ((r = make_record(plans[i], p, old, n_old, &rec, e)) < 0)
			break;
		ret->images[ret->n_images++] = rec;
		if ((r = image_commit(p->s, rec, e)) == 0)
			a->committed = true;
	}
	image_list_free(old, n_old);
	return r;
}

/* The kept layer blobs, by rename (a blob already there wins). */
static int publish_blobs(pool *p, import_result *ret, added *a, kb_error *e)
{
	for (size_t i = 0; i < p->n; i++) {
		job *j = &p->jobs[i];
		if (!j->blob_done)
			continue;
		if (syscall(SYS_renameat2, p->s->work_fd, j->blob, p->s->blobs_fd, j->blob_digest.hex, RENAME_NOREPLACE) == 0) {
			a->blobs[a->n_blobs++] = j->blob_digest;
			ret->blobs_kept++;
		} else if (errno == EEXIST) {
			(void)unlinkat(p->s->work_fd, j->blob, 0);
		} else {
			return kb_err(e, errno, "%s: keep its blob", j->label);
		}
	}
	return 0;
}

/* All layers check out: only now does anything become visible, blobs,
 * then layers, then the records that refer to them. */
static int publish(pool *p, image_plan **plans, size_t n_plans, import_result *ret, added *a, kb_error *e)
{
	int r;

	if (!(ret->images = calloc(n_plans + 1, sizeof *ret->images)) ||
	    !(a->blobs = calloc(2 * n_plans + p->n + 1, sizeof *a->blobs)))
		return kb_err_oom(e, "import");
	for (size_t i = 0; i < p->n; i++) {
		job *j = &p->jobs[i];
		if (!j->present && !j->lp->has_diff_id) {    /* root filesystem: learned by reading it */
			j->lp->diff_id = j->diff_id;
			j->lp->has_diff_id = true;
		}
	}
	for (size_t i = 0; i < n_plans; i++) {
		image_plan *ip = plans[i];
		if ((ret->format == FMT_ROOTFS && (r = oci_rootfs_config(ip, e)) < 0) ||
		    (ip->has_manifest && (r = put_blob(p->s, &ip->manifest_digest, ip->manifest, ip->manifest_len, a, e)) < 0) ||
		    (r = put_blob(p->s, &ip->config_digest, ip->config, ip->config_len, a, e)) < 0)
			return r;
	}
	for (size_t i = 0; i < p->n; i++) {
		job *j = &p->jobs[i];
		if (j->present)
			continue;
		ret->layers_unpacked++;
		ret->skipped_devices += j->st.skipped_devices;
		ret->skipped_sockets += j->st.skipped_sockets;
		if ((r = store_publish_layer(p->s, j->dir, &j->diff_id, e)) < 0)
			return r;
		j->published = true;
	}
	if ((r = publish_blobs(p, ret, a, e)) < 0)
		return r;
	return publish_records(p, plans, n_plans, ret, a, e);
}

/* Take back what a failed import added, unless a record refers to it. */
static void rollback(pool *p, const added *a)
{
	kb_error ignored = { 0 };
	if (a->committed)
		return;
	for (size_t i = 0; i < p->n; i++)
		if (p->jobs[i].published)
			(void)store_remove_layer(p->s, p->jobs[i].diff_id.hex, &ignored);
	for (size_t i = 0; i < a->n_blobs; i++)
		(void)unlinkat(p->s->blobs_fd, a->blobs[i].hex, 0);
}

int kb_import(kb_store *s, const import_opts *o, import_result *ret, kb_error *e)
{
	_cleanup_(source_freep) kb_source *src = NULL;
	image_plan **plans = NULL;
	size_t n_plans = 0;
	pool p = { .s = s, .o = o };
	added a = { 0 };
	int r;

	memset(ret, 0, sizeof *ret);
	if ((r = store_lock_import(s, e)) < 0 || (r = store_workdir(s, e)) < 0 ||
	    (r = source_open(o->path, s->work_fd, &src, e)) < 0)
		return r;
	p.src = src;
	if ((r = oci_plan(src, &o->plat, &ret->format, &plans, &n_plans, e)) < 0) {
		if (!strstr(e->msg, o->path))
			kb_err_prefix(e, "%s", o->path);
		return r;
	}
	if (ret->format == FMT_ROOTFS && !o->name)
		r = kb_errx(e, EINVAL, "%s: not an image archive (no index.json or manifest.json); "
			    "to import it as a root filesystem, give it a --name", o->path);
	else if (o->name)
		r = apply_name(plans, n_plans, o, e);
	p.keep = r == 0 && keep_wanted(&p, plans, n_plans);
	if (r == 0 && (r = make_jobs(&p, plans, n_plans, ret, e)) == 0 && (r = run_pool(&p, o->jobs, e)) == 0 &&
	    (r = publish(&p, plans, n_plans, ret, &a, e)) < 0)
		rollback(&p, &a);
	free(a.blobs);
	bars_free(p.bars);
	free(p.jobs);
	for (size_t i = 0; i < n_plans; i++)
		image_plan_free(plans[i]);
	free(plans);
	if (r < 0)
		import_result_clear(ret);
	return r;
}
