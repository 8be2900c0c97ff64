/* `image import` (import.h): plan, unpack the missing layers in parallel,
 * check every digest, publish.  import_plans is the part `image pull`
 * shares; kb_import feeds it from an archive or layout. */
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
#include <sys/statfs.h>
#include <linux/fs.h>
#include <linux/magic.h>

typedef struct job {
	layer_plan *lp;              /* first plan layer with this content */
	bool present;                /* already in the store: nothing to do */
	bool published;              /* moved into layers/ by this import */
	bool kept;                   /* published early: stays if the import fails */
	zs_kind kind;
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
	size_t *order;               /* job indexes, largest layer first */
	atomic_int cancel;
	pthread_mutex_t lock;
	kb_error err;
	kb_store *s;
	const layer_feed *feed;
	kb_source *src;              /* feed->src: the archive, or NULL */
	const import_opts *o;
	bool keep;                   /* keep the layers' blobs (import_opts.keep_blobs) */
	bars *bars;
} pool;

/* One worker thread: its number goes to the feed (a registry keeps a
 * connection per worker). */
typedef struct worker_arg {
	pool *p;
	int w;
} worker_arg;

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

/* Unpack the opened layer into a new work directory and check it. */
static int unpack_job(pool *p, size_t i, layer_input *in, kb_error *e)
{
	job *j = &p->jobs[i];
	layer_plan *lp = j->lp;
	int r;

	if (lp->has_digest && in->len != lp->size)
		return kb_errx(e, EINVAL, "%s: size mismatch (expected %llu, got %llu)", j->label,
			       (unsigned long long)lp->size, (unsigned long long)in->len);
	bars_start(p->bars, i, j->label, in->len);

	snprintf(j->dir, sizeof j->dir, "L%zu", i);
	if (mkdirat(p->s->work_fd, j->dir, 0755) < 0)
		return kb_err(e, errno, "%s: work directory", j->label);
	_cleanup_close_ int root = openat(p->s->work_fd, j->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (root < 0)
		return kb_err(e, errno, "%s: work directory", j->label);

	_cleanup_(zstream_freep) zstream *z = NULL;
	unsigned zf = ZS_DETECT | ZS_HASH_IN | ZS_HASH_OUT;
	r = in->read ? zstream_open_reader(&z, in->read, in->read_ctx, in->len, zf, p->o->max_layer_size, j->label, e)
		     : zstream_open(&z, in->fd, in->off, in->len, zf, p->o->max_layer_size, j->label, e);
	if (r < 0)
		return r;
	/* A store on overlayfs (a container's root file system) keeps
	 * whiteouts in OCI form: extract.h says why. */
	struct statfs sf;
	bool oci = fstatfs(root, &sf) == 0 && (unsigned long)sf.f_type == OVERLAYFS_SUPER_MAGIC;
	extract_opts xo = { .relax_modes = p->o->relax_modes, .oci_whiteouts = oci, .cancel = &p->cancel };
	void *ctx[2] = { p, (void *)(uintptr_t)i };
	if ((r = extract_tar(z, root, &xo, j->label, on_progress, ctx, &j->st, e)) < 0)
		return r;

	zstream_digest_in(z, &j->digest);
	zstream_digest_out(z, &j->diff_id);
	j->size = zstream_in_bytes(z);
	j->unpacked = zstream_out_bytes(z);
	j->kind = zstream_kind(z);
	return 0;
}

static int check_job(pool *p, size_t i, kb_error *e)
{
	job *j = &p->jobs[i];
	layer_plan *lp = j->lp;

	if (lp->has_digest && strcmp(j->digest.hex, lp->digest.hex))
		return kb_errx(e, EINVAL, "%s: digest mismatch (expected sha256:%s, got sha256:%s)",
			       j->label, lp->digest.hex, j->digest.hex);
	if (lp->has_diff_id && strcmp(j->diff_id.hex, lp->diff_id.hex))
		return kb_errx(e, EINVAL, "%s: diff_id mismatch (expected sha256:%s, got sha256:%s)",
			       j->label, lp->diff_id.hex, j->diff_id.hex);
	return 0;
}

static int run_job(pool *p, int w, size_t i, kb_error *e)
{
	job *j = &p->jobs[i];
	layer_input in = { .fd = -1 };
	int r;

	if ((r = p->feed->open(p->feed->ctx, w, j->lp, j->label, &in, e)) < 0)
		return r;
	r = unpack_job(p, i, &in, e);
	/* The feed's end check comes before the digests: a transfer that
	 * went on past its size says more than "digest mismatch". */
	kb_error ce = { 0 };
	int rc = p->feed->close(p->feed->ctx, w, &in, r == 0, &ce);
	if (r == 0 && rc < 0) {
		*e = ce;
		r = rc;
	}
	if (r == 0)
		r = check_job(p, i, e);
	if (r < 0)
		return r;
	/* Checked: a pull may publish it now, so that an interrupted pull
	 * does not fetch it again. */
	if (p->feed->publish_early) {
		if ((r = store_publish_layer(p->s, j->dir, &j->diff_id, e)) < 0)
			return r;
		j->published = j->kept = true;
	}
	char hb[2][24], res[80];
	snprintf(res, sizeof res, "%s %s, %s unpacked", human_size(j->size, hb[0], sizeof hb[0]),
		 zs_kind_name(j->kind), human_size(j->unpacked, hb[1], sizeof hb[1]));
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
	pool *p = ((worker_arg *)arg)->p;
	int w = ((worker_arg *)arg)->w;
	for (;;) {
		size_t k = atomic_fetch_add(&p->next, 1);
		if (k >= p->n || atomic_load(&p->cancel))
			break;
		size_t i = p->order[k];
		job *j = &p->jobs[i];
		if (j->present && !j->want_blob)
			continue;
		kb_error e = { 0 };
		int r = j->present ? 0 : run_job(p, w, i, &e);
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

static pool *sort_pool;    /* qsort has no context argument */

static int by_size_desc(const void *a, const void *b)
{
	const layer_plan *x = sort_pool->jobs[*(const size_t *)a].lp, *y = sort_pool->jobs[*(const size_t *)b].lp;
	uint64_t sx = x->has_digest ? x->size : 0, sy = y->has_digest ? y->size : 0;
	return sx < sy ? 1 : sx > sy ? -1 : 0;
}

/* Largest layer first: the last layer to start then is a small one, so
 * the workers end together instead of one unpacking the biggest layer
 * alone at the end (the longest-processing-time rule).  Called before
 * any worker starts. */
static int order_jobs(pool *p, kb_error *e)
{
	if (!(p->order = calloc(p->n + 1, sizeof *p->order)))
		return kb_err_oom(e, "import");
	for (size_t i = 0; i < p->n; i++)
		p->order[i] = i;
	sort_pool = p;
	qsort(p->order, p->n, sizeof *p->order, by_size_desc);
	sort_pool = NULL;
	return 0;
}

static int run_pool(pool *p, int jobs, kb_error *e)
{
	size_t todo = 0;
	for (size_t i = 0; i < p->n; i++)
		todo += !p->jobs[i].present || p->jobs[i].want_blob;
	if (todo == 0)
		return 0;
	if (order_jobs(p, e) < 0)
		return -ENOMEM;
	if (jobs < 1)
		jobs = 1;
	if ((size_t)jobs > todo)
		jobs = (int)todo;
	pthread_t *t = calloc((size_t)jobs, sizeof *t);
	worker_arg *wa = calloc((size_t)jobs, sizeof *wa);
	int started = 0;
	if (!t || !wa) {
		free(t);
		free(wa);
		return kb_err_oom(e, "import");
	}
	for (int k = 0; k < jobs; k++)
		wa[k] = (worker_arg){ p, k };
	pthread_mutex_init(&p->lock, NULL);
	/* Worker 0 is this thread; the rest are new ones.  Each keeps a few
	 * MB of buffers, whatever the layer size. */
	for (int k = 1; k < jobs; k++)
		if (pthread_create(&t[k], NULL, worker, &wa[k]) == 0)
			started = k;
		else
			break;
	worker(&wa[0]);
	for (int k = 1; k <= started; k++)
		pthread_join(t[k], NULL);
	free(t);
	free(wa);
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

static int make_record(image_plan *ip, pool *p, image_rec **old, size_t n_old, const image_source *src,
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
	if (src && image_source_copy(&r->source, src) < 0)
		return kb_err_oom(e, "import");
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

/* --name (each one given): the one image of the source gets those names,
 * and only them. */
static int apply_names(image_plan **plans, size_t n_plans, const import_opts *o, kb_error *e)
{
	if (n_plans > 1)
		return kb_errx(e, EINVAL, "%s: --name given, but the archive holds %zu images", o->path, n_plans);
	char **names = calloc(o->n_names + 1, sizeof *names);
	size_t n = 0;
	if (!names)
		return kb_err_oom(e, "import");
	for (size_t i = 0; i < o->n_names; i++) {
		const char *why = NULL;
		char *nm = oci_name_normalize_why(o->names[i], &why);
		bool dup = false;
		if (!nm) {
			for (size_t k = 0; k < n; k++)
				free(names[k]);
			free(names);
			return kb_errx(e, EINVAL, "--name %s: %s", o->names[i], why);
		}
		for (size_t k = 0; k < n && !dup; k++)
			dup = !strcmp(names[k], nm);
		if (dup)
			free(nm);
		else
			names[n++] = nm;
	}
	for (size_t i = 0; i < plans[0]->n_names; i++)
		free(plans[0]->names[i]);
	free(plans[0]->names);
	plans[0]->names = names;
	plans[0]->n_names = n;
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
	p->bars = p->o->progress ? bars_new(p->n, p->o->cmd ? p->o->cmd : "import") : NULL;
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
static int publish_records(pool *p, image_plan **plans, size_t n_plans, const image_source *src,
			   import_result *ret, added *a, kb_error *e)
{
	image_rec **old = NULL;
	size_t n_old = 0;
	int r;

	if ((r = image_list(p->s, &old, &n_old, e)) < 0)
		return r;
	for (size_t i = 0; i < n_plans && r == 0; i++) {
		image_rec *rec = NULL;
		if ((r = make_record(plans[i], p, old, n_old, src, &rec, e)) < 0)
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
static int publish(pool *p, image_plan **plans, size_t n_plans, const image_source *src, import_result *ret,
		   added *a, kb_error *e)
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
		ret->bytes_read += j->size;
		ret->skipped_devices += j->st.skipped_devices;
		ret->skipped_sockets += j->st.skipped_sockets;
		if (j->published)
			continue;
		if ((r = store_publish_layer(p->s, j->dir, &j->diff_id, e)) < 0)
			return r;
		j->published = true;
	}
	if ((r = publish_blobs(p, ret, a, e)) < 0)
		return r;
	return publish_records(p, plans, n_plans, src, ret, a, e);
}

/* Take back what a failed import added, unless a record refers to it. */
static void rollback(pool *p, const added *a)
{
	kb_error ignored = { 0 };
	if (a->committed)
		return;
	for (size_t i = 0; i < p->n; i++)
		if (p->jobs[i].published && !p->jobs[i].kept)
			(void)store_remove_layer(p->s, p->jobs[i].diff_id.hex, &ignored);
	for (size_t i = 0; i < a->n_blobs; i++)
		(void)unlinkat(p->s->blobs_fd, a->blobs[i].hex, 0);
}

int import_plans(kb_store *s, image_plan **plans, size_t n_plans, image_format fmt, const layer_feed *f,
		 const import_opts *o, const image_source *src, import_result *ret, kb_error *e)
{
	pool p = { .s = s, .o = o, .feed = f, .src = f->src };
	added a = { 0 };
	int r;

	ret->format = fmt;
	p.keep = p.src && keep_wanted(&p, plans, n_plans);
	if ((r = make_jobs(&p, plans, n_plans, ret, e)) == 0 && (r = run_pool(&p, o->jobs, e)) == 0 &&
	    (!f->ready || (r = f->ready(f->ctx, e)) == 0) && (r = publish(&p, plans, n_plans, src, ret, &a, e)) < 0)
		rollback(&p, &a);
	free(a.blobs);
	bars_free(p.bars);
	free(p.order);
	free(p.jobs);
	return r;
}

/* ---- import: layers from the archive's members ---- */

typedef struct import_feed {
	kb_source *src;
	image_source is;             /* the records' source: path and sha256 */
} import_feed;

static int source_open_layer(void *ctx, int w, const layer_plan *lp, const char *label, layer_input *in,
			     kb_error *e)
{
	kb_source *src = ((import_feed *)ctx)->src;
	kb_span sp;
	int r;

	(void)w;
	if (lp->member) {
		if ((r = source_find(src, lp->member, &sp, e)) < 0) {
			kb_err_prefix(e, "%s", label);
			return r;
		}
	} else {
		sp = (kb_span){ .fd = src->fd, .off = 0, .len = src->size };
	}
	*in = (layer_input){ .fd = sp.fd, .own_fd = sp.own_fd, .off = sp.off, .len = sp.len };
	return 0;
}

static int source_close_layer(void *ctx, int w, layer_input *in, bool ok, kb_error *e)
{
	(void)ctx, (void)w, (void)ok, (void)e;
	if (in->own_fd && in->fd >= 0)
		close(in->fd);
	in->fd = -1;
	return 0;
}

/* The archive's sha256, hashed beside the unpacking (source.h). */
static int source_ready(void *ctx, kb_error *e)
{
	import_feed *f = ctx;
	int r = source_hash_wait(f->src, &f->is.digest, e);
	if (r < 0)
		return r;
	f->is.has_digest = r > 0;
	return 0;
}

int kb_import(kb_store *s, const import_opts *o, import_result *ret, kb_error *e)
{
	_cleanup_(source_freep) kb_source *src = NULL;
	image_plan **plans = NULL;
	size_t n_plans = 0;
	image_format fmt;
	int r;

	memset(ret, 0, sizeof *ret);
	if ((r = store_lock_import(s, e)) < 0 || (r = store_workdir(s, e)) < 0 ||
	    (r = source_open(o->path, s->work_fd, &src, e)) < 0)
		return r;
	if ((r = oci_plan(src, &o->plat, &fmt, &plans, &n_plans, e)) < 0) {
		if (!strstr(e->msg, o->path))
			kb_err_prefix(e, "%s", o->path);
		return r;
	}
	if (fmt == FMT_ROOTFS && !o->n_names)
		r = kb_errx(e, EINVAL, "%s: not an image archive (no index.json or manifest.json); "
			    "to import it as a root filesystem, give it a --name", o->path);
	else if (o->n_names)
		r = apply_names(plans, n_plans, o, e);
	import_feed f = { .src = src, .is = { .kind = SRC_ARCHIVE, .location = src->real_path } };
	layer_feed feed = { .open = source_open_layer, .close = source_close_layer, .ready = source_ready, .ctx = &f,
			    .src = src };
	if (r == 0) {
		source_hash_start(src);
		r = import_plans(s, plans, n_plans, fmt, &feed, o, &f.is, ret, e);
	}
	for (size_t i = 0; i < n_plans; i++)
		image_plan_free(plans[i]);
	free(plans);
	if (r < 0)
		import_result_clear(ret);
	/* A full or read-only disk is the store's: say which (the messages
	 * below name a layer or a member). */
	if (r < 0 && disk_write_error(e->errnum) && !strstr(e->msg, s->root))
		kb_err_prefix(e, "store %s", s->root);
	return r;
}
