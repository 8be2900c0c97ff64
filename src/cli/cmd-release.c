/* kbuild-ns release [--quick] [OPTIONS] [--] [MAKE-ARGS...]: Kubernetes'
 * release tarballs and server images, offline and reproducibly
 * (release/release.h).  Runs in kbuild-ns-image (it links libcrypto and
 * libarchive for the provenance); kbuild-ns execs it. */
#include "cli/cmd.h"
#include "release/release.h"
#include "base/progress.h"

#include <errno.h>
#include <string.h>

static const char usage_release[] =
	"usage: kbuild-ns release [--quick] [--allow-dirty] [--source-date-epoch N] [--sign-key KEY]\n"
	"                         [--image REF] [--no-wait] [--] [MAKE-ARGS...]";

static int take_value(release_opts *o, const char *name, const char *v)
{
	char *end;
	if (!strcmp(name, "--sign-key")) {
		o->sign_key = v;
	} else if (!strcmp(name, "--image")) {
		o->image = v;
	} else {
		errno = 0;
		o->sde = strtoll(v, &end, 10);
		if (!*v || *end || errno || o->sde < 0)
			return cmd_usage(usage_release, "release: --source-date-epoch %s: not a number of seconds", v);
		o->sde_set = true;
	}
	return 0;
}

/* Our leading options; the first other word starts make's arguments.
 * An unknown long option is an error (a mistyped --quick must not start
 * a full release); make's own go after "--". */
static int parse(int argc, char **argv, release_opts *o, bool *help)
{
	static const char *const flags[] = { "--quick", "--allow-dirty", "--no-wait", "--help", "-h" };
	static const char *const valued[] = { "--source-date-epoch", "--sign-key", "--image" };
	int i;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *eq = strchr(a, '=');
		size_t nl = eq ? (size_t)(eq - a) : strlen(a);
		int f = -1, v = -1, r;
		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		for (int k = 0; k < (int)ARRAY_SIZE(flags); k++)
			if (!eq && !strcmp(a, flags[k]))
				f = k;
		for (int k = 0; k < (int)ARRAY_SIZE(valued); k++)
			if (strlen(valued[k]) == nl && !strncmp(a, valued[k], nl))
				v = k;
		if (f < 0 && v < 0 && !strncmp(a, "--", 2))
			return cmd_usage(usage_release, "release: unknown option %s (make's own options go after --)", a);
		if (f < 0 && v < 0)
			break;
		if (f == 0)
			o->quick = true;
		else if (f == 1)
			o->allow_dirty = true;
		else if (f == 2)
			o->no_wait = true;
		else if (f >= 3)
			*help = true;
		else if (!eq && i + 1 >= argc)
			return cmd_usage(usage_release, "release: option %s: missing its argument", a);
		else if ((r = take_value(o, valued[v], eq ? eq + 1 : argv[++i])) != 0)
			return r;
	}
	o->make_args = argv + i;
	o->n_make_args = (size_t)(argc - i);
	return 0;
}

static int report(const release_result *res, const kb_error *e)
{
	if (res->n_problems) {
		/* One line per missing input, each saying how to bring it in. */
		for (size_t i = 0; i < res->n_problems; i++)
			fprintf(stderr, "kbuild-ns: release: %s\n", res->problems[i]);
		return KB_EXIT_FAIL;
	}
	if (kb_err_set(e))
		return cmd_fail("release", e);
	if (res->status) {
		fprintf(stderr, "kbuild-ns: release: %s failed (exit status %d)\n", res->step, res->status);
		return res->status;
	}
	out_status("Release: done; the record of what was built and from what: %s", res->record);
	return 0;
}

int cmd_release(kb_ctx *c, int argc, char **argv)
{
	release_opts o = { .argv = argv, .argc = (size_t)argc };
	release_result res = { 0 };
	kb_error e = { 0 };
	bool help = false;
	int r = parse(argc, argv, &o, &help);

	(void)c;
	if (r)
		return r;
	if (help) {
		printf("%s\nSee kbuild-ns help release.\n", usage_release);
		return 0;
	}
	(void)release_run(c->state_dir, &o, &res, &e);
	r = report(&res, &e);
	release_result_clear(&res);
	return r;
}
