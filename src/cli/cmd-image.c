/* kbuild-ns image import | pull | ls | inspect | rm | prune */
#include "cli/cmd.h"
#include "image/image.h"
#include "base/progress.h"
#include "base/words.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

/* `image import` reads archives with libarchive, libzstd, ISA-L and
 * OpenSSL, `image pull` registries with libcurl.  Loading those (21
 * shared libraries with their dependencies, before libcurl) took 3 ms of
 * every start of kbuild-ns, so they live in a second program,
 * kbuild-ns-image, which this one execs for import and pull alone.  It is
 * looked for in $KBUILD_NS_LIBEXEC_DIR, then next to this program (a
 * build tree), then where `make install` puts it. */
char *image_helper_path(void)
{
	const char *dir = getenv("KBUILD_NS_LIBEXEC_DIR");
	if (dir && *dir)
		return xasprintf("%s/kbuild-ns-image", dir);
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	char *slash = n > 0 ? memrchr(self, '/', (size_t)n) : NULL;
	if (slash) {
		*slash = 0;
		char *p = xasprintf("%s/kbuild-ns-image", self);
		if (access(p, X_OK) == 0)
			return p;
		free(p);
	}
	return xasprintf("%s/kbuild-ns-image", PKGLIBEXECDIR);
}

/* kbuild-ns-image [-q|-v...] --state-dir DIR COMMAND ARGS...: -C is done
 * and the state directory checked and absolute (main.c); messages and
 * exit status are the helper's own, as if this process had made them. */
int cmd_exec_image_program(kb_ctx *c, int argc, char **argv)
{
	_cleanup_free_ char *path = image_helper_path();
	_cleanup_free_ char **args = calloc((size_t)argc + 16, sizeof *args);
	const char *what = !strcmp(argv[0], "import") ? "image import" : argv[0];    /* as errors name it */
	size_t n = 0;

	if (!args)
		return cmd_failx(what, "out of memory");
	args[n++] = path;
	if (c->verbosity < 0)
		args[n++] = "-q";
	for (int v = 0; v < c->verbosity && v < 8; v++)
		args[n++] = "-v";
	args[n++] = "--state-dir";
	args[n++] = c->state_dir;
	for (int i = 0; i < argc; i++)
		args[n++] = argv[i];
	args[n] = NULL;
	fflush(NULL);
	execv(path, args);
	return cmd_failx(what, "cannot run %s: %s (set KBUILD_NS_LIBEXEC_DIR to the directory that holds it)",
			 path, strerror(errno));
}

/* The arguments of a subcommand that takes no options but --help:
 * *ret_help after --help; a usage error for anything else that looks like
 * an option (a global one out of place says where it goes). */
static int plain_args(const char *cmd, const char *usage, int argc, char **argv, bool *ret_help)
{
	*ret_help = false;
	for (int i = 1; i < argc; i++) {
		if (cmd_is_help(argv[i])) {
			*ret_help = true;
			return cmd_help_text(usage, "image");
		}
		if (!strcmp(argv[i], "--"))
			break;
		const char *hint = argv[i][0] == '-' ? cmd_global_hint(cmd, argv[i]) : NULL;
		if (hint)
			return cmd_usage(usage, "%s: %s", cmd, hint);
	}
	return 0;
}

static void print_ls(image_rec **l, size_t n)
{
	/* The NAME column as wide as the longest name (docker.io/library/…
	 * names are long), at least 20. */
	int w = 20;
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < l[i]->n_names; k++)
			if ((int)strlen(l[i]->names[k]) > w)
				w = (int)strlen(l[i]->names[k]);
	printf("%-*s %-12s %-14s %6s %10s\n", w, "NAME", "ID", "PLATFORM", "LAYERS", "SIZE");
	for (size_t i = 0; i < n; i++) {
		char pb[100], sb[24];
		platform_str(&l[i]->platform, pb, sizeof pb);
		human_size(image_size(l[i]), sb, sizeof sb);
		for (size_t k = 0; k < (l[i]->n_names ? l[i]->n_names : 1); k++)
			printf("%-*s %-12.12s %-14s %6zu %10s\n", w, l[i]->n_names ? l[i]->names[k] : "<none>",
			       l[i]->id.hex, pb, l[i]->n_layers, sb);
	}
}

static int do_ls(kb_ctx *c, int argc, char **argv)
{
	bool json = false, help;
	int r = plain_args("image ls", usage_image_ls, argc, argv, &help);
	if (r || help)
		return r;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else
			return cmd_usage(usage_image_ls, "image ls: unexpected argument %s", argv[i]);
	}
	_cleanup_(store_closep) kb_store *s = NULL;
	kb_error e = { 0 };
	image_rec **l;
	size_t n;
	if (store_open(c->state_dir, LOCK_SH, out_notify, &s, &e) < 0 || image_list(s, &l, &n, &e) < 0)
		return cmd_fail("image ls", &e);
	if (json) {
		json_t *a = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(a, image_json(s, l[i], false));
		json_dumpf(a, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(a);
	} else {
		print_ls(l, n);
	}
	image_list_free(l, n);
	return 0;
}

static int do_inspect(kb_ctx *c, int argc, char **argv)
{
	bool help;
	int rc = plain_args("image inspect", usage_image_inspect, argc, argv, &help);
	if (rc || help)
		return rc;
	if (argc != 2)
		return cmd_usage(usage_image_inspect, "image inspect: give exactly one image reference");
	_cleanup_(store_closep) kb_store *s = NULL;
	_cleanup_(image_rec_freep) image_rec *r = NULL;
	kb_error e = { 0 };
	if (store_open(c->state_dir, LOCK_SH, out_notify, &s, &e) < 0 || image_find(s, argv[1], &r, &e) < 0)
		return cmd_fail("image inspect", &e);
	json_t *j = image_json(s, r, true);
	json_dumpf(j, stdout, JSON_INDENT(2));
	putchar('\n');
	json_decref(j);
	return 0;
}

/* One reference of `image rm`: a name goes (docker's "Untagged"), and
 * the image with its last name, or when it was named by its id. */
static int rm_one(kb_store *s, const char *ref, kb_error *e)
{
	_cleanup_(image_rec_freep) image_rec *r = NULL;
	_cleanup_free_ char *name = NULL;
	int res;
	if ((res = image_lookup(s, ref, &r, &name, e)) < 0)
		return res;
	if (name && r->n_names > 1) {
		if ((res = image_untag(s, r, name, e)) < 0)
			return res;
		printf("Untagged %s\n", name);
		return 0;
	}
	if ((res = image_remove(s, r, e)) < 0)
		return res;
	if (name)
		printf("Untagged %s\n", name);
	printf("Deleted sha256:%s\n", r->id.hex);
	return 0;
}

static int do_rm(kb_ctx *c, int argc, char **argv)
{
	bool help;
	int rc = plain_args("image rm", usage_image_rm, argc, argv, &help);
	if (rc || help)
		return rc;
	if (argc < 2)
		return cmd_usage(usage_image_rm, "image rm: give at least one image reference");
	_cleanup_(store_closep) kb_store *s = NULL;
	kb_error e = { 0 };
	/* Exclusive: nothing may be using a layer we are about to delete. */
	if (store_open(c->state_dir, LOCK_EX, out_notify, &s, &e) < 0)
		return cmd_fail("image rm", &e);
	for (int i = 1; i < argc; i++)
		if (rm_one(s, argv[i], &e) < 0)
			return cmd_fail("image rm", &e);
	return 0;
}

static int do_prune(kb_ctx *c, int argc, char **argv)
{
	bool help;
	int rc = plain_args("image prune", usage_image_prune, argc, argv, &help);
	if (rc || help)
		return rc;
	if (argc != 1)
		return cmd_usage(usage_image_prune, "image prune: unexpected argument %s", argv[1]);
	_cleanup_(store_closep) kb_store *s = NULL;
	kb_error e = { 0 };
	prune_stats st;
	if (store_open(c->state_dir, LOCK_EX, out_notify, &s, &e) < 0 || image_prune(s, &st, &e) < 0)
		return cmd_fail("image prune", &e);
	printf("Removed %llu unused %s and %llu unused %s\n", (unsigned long long)st.layers,
	       plural(st.layers, "layer", "layers"), (unsigned long long)st.blobs, plural(st.blobs, "blob", "blobs"));
	return 0;
}

int cmd_image(kb_ctx *c, int argc, char **argv)
{
	if (argc < 2)
		return cmd_usage(usage_image, "image: no subcommand given");
	const char *sub = argv[1];
	if (cmd_is_help(sub)) {
		printf("%s\n       kbuild-ns image pull REF [--name NAME:TAG] [PULL-OPTIONS]\n"
		       "       kbuild-ns image ls [--json]\n       kbuild-ns image inspect REF\n"
		       "       kbuild-ns image rm REF...\n       kbuild-ns image prune\n", usage_image_import);
		return cmd_help_text("Every subcommand takes --help.", "image");
	}
	if (!strcmp(sub, "import") || !strcmp(sub, "pull"))
		return cmd_exec_image_program(c, argc - 1, argv + 1);
	if (!strcmp(sub, "ls") || !strcmp(sub, "list"))
		return do_ls(c, argc - 1, argv + 1);
	if (!strcmp(sub, "inspect"))
		return do_inspect(c, argc - 1, argv + 1);
	if (!strcmp(sub, "rm") || !strcmp(sub, "remove"))
		return do_rm(c, argc - 1, argv + 1);
	if (!strcmp(sub, "prune"))
		return do_prune(c, argc - 1, argv + 1);
	const char *hint = cmd_global_hint("image", sub);
	if (hint)
		return cmd_usage(usage_image, "image: %s", hint);
	return cmd_usage(usage_image, "image: unknown subcommand \"%s\"", sub);
}
