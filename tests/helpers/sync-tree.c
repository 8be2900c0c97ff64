/* sync-tree [--out|--round [--no-reuse]] [--profile kube|generic] [--threads N] [--mark DIR] [--filter RULE]... [-v] SRC DST
 * Runs the tree sync that kbuild-ns make uses (src/build/sync.c), in this
 * process and without the sync sandbox's namespaces, for tests and for
 * bench/sync.sh.  Prints "checked N copied N deleted N bytes N".  --round
 * runs both passes as a build does: sync-in SRC to DST, then copy-out
 * from DST back to SRC with the listings sync-in left (sync-seen.h), and
 * prints one line for each, with "reused N" (directories not listed
 * again) and "ms N" (the pass's wall time); --no-reuse: copy-out lists
 * every directory, as without those listings.  With
 * --mark, sync-in applies the ctime rule as make does, with the sync mark
 * kept in DIR (data_sync_mark).  --filter RULE (repeatable): rsync filter
 * rules (build/filter.h) in place of the profile's for the direction run,
 * for comparisons with rsync. */
#include "build/data.h"
#include "build/profile.h"
#include "build/sync.h"

#include <fcntl.h>
#include <string.h>
#include <time.h>

static void show(const char *kind, const char *path)
{
	printf("%s %s\n", kind, path);
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* --round: sync-in, then copy-out with what sync-in saw. */
static int both(int sfd, int dfd, sync_opts *o, const char *src, bool reuse)
{
	kb_error e = { 0 };
	sync_stats st;
	struct timespec t0;
	int rc = 0;
	o->seen = seen_new();
	for (int out = 0; out < 2 && rc == 0; out++) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		o->dst_path = out ? src : NULL;
		sync_seen *seen = o->seen;
		if (out && !reuse)
			o->seen = NULL;
		int r = out ? sync_copy_out(dfd, sfd, o, &st, &e) : sync_mirror(sfd, dfd, o, &st, &e);
		o->seen = seen;
		if (r < 0) {
			fprintf(stderr, "sync-tree: %s: %s\n", out ? "copy-out" : "sync-in", e.msg);
			rc = 1;
			continue;
		}
		printf("%s: checked %llu copied %llu deleted %llu bytes %llu reused %llu ms %.1f\n",
		       out ? "copy-out" : "sync-in", (unsigned long long)st.checked, (unsigned long long)st.copied,
		       (unsigned long long)st.deleted, (unsigned long long)st.bytes, (unsigned long long)st.reused,
		       ms_since(&t0));
	}
	seen_free(o->seen);
	return rc;
}

int main(int argc, char **argv)
{
	bool out = false, round = false, reuse = true, kube = true, verbose = false;
	int i = 1, threads = 0;
	const char *mark = NULL;
	filter_list own = { 0 };
	bool have_own = false;
	kb_error e = { 0 };
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--out"))
			out = true;
		else if (!strcmp(argv[i], "--round"))
			round = true;
		else if (!strcmp(argv[i], "--no-reuse"))
			reuse = false;
		else if (!strcmp(argv[i], "-v"))
			verbose = true;
		else if (!strcmp(argv[i], "--profile") && i + 1 < argc)
			kube = !strcmp(argv[++i], "kube");
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			threads = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--mark") && i + 1 < argc)
			mark = argv[++i];
		else if (!strcmp(argv[i], "--filter") && i + 1 < argc) {
			have_own = true;
			if (filter_add(&own, argv[++i], "--filter", &e) < 0) {
				fprintf(stderr, "sync-tree: %s\n", e.msg);
				return 2;
			}
		}
		else
			break;
	}
	if (argc - i != 2) {
		fprintf(stderr, "usage: sync-tree [--out|--round [--no-reuse]] [--profile kube|generic] [--threads N] [--mark DIR] [--filter RULE]... [-v] SRC DST\n");
		return 2;
	}
	int sfd = open(argv[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int dfd = open(argv[i + 1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0 || dfd < 0) {
		perror(sfd < 0 ? argv[i] : argv[i + 1]);
		return 1;
	}
	kb_profile *p = NULL;
	if (profile_builtin(kube ? "kube" : "generic", false, &p, &e) < 0) {
		fprintf(stderr, "sync-tree: %s\n", e.msg);
		return 1;
	}
	if (have_own) {
		filter_list *l = out ? &p->rules.out : &p->rules.in;
		filter_list_free(l);
		*l = own;
	}
	kb_data d = { .dir = (char *)mark, .dirfd = mark ? open(mark, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1,
		      .lock_fd = -1 };
	struct timespec since;
	if (mark && (d.dirfd < 0 || data_sync_mark(&d, &since) < 0)) {
		perror(mark);
		return 1;
	}
	sync_opts o = { .rules = &p->rules, .threads = threads, .log = verbose ? show : NULL,
			.resend_since = mark ? &since : NULL, .dst_path = argv[i + 1] };
	sync_stats st;
	if (round)
		return both(sfd, dfd, &o, argv[i], reuse);
	int r = out ? sync_copy_out(sfd, dfd, &o, &st, &e) : sync_mirror(sfd, dfd, &o, &st, &e);
	if (r == 0 && mark && !out && (st.copied || st.modes))
		r = data_set_sync_mark(&d, &e);
	profile_free(p);
	if (r < 0) {
		fprintf(stderr, "sync-tree: %s\n", e.msg);
		return 1;
	}
	printf("checked %llu copied %llu deleted %llu bytes %llu\n", (unsigned long long)st.checked,
	       (unsigned long long)st.copied, (unsigned long long)st.deleted, (unsigned long long)st.bytes);
	return 0;
}
