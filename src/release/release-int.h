/* What release.c (the flow, the environment, the provenance) and
 * relcheck.c (the preflight, the snapshot's modes and hash) share. */
#pragma once
#include "release/release.h"
#include "build/build.h"
#include "build/data.h"
#include "image/image.h"

/* Inside the build sandbox. */
#define REL_BIN "/run/kbuild-ns/bin"
#define REL_STEPS "/run/kbuild-ns/libexec/release-steps"
#define REL_STORE "/run/kbuild-ns/store"
#define REL_HOSTNAME "kube-build"

typedef struct rel_base {
	char platform[64];
	char *name;
	image_rec *rec;              /* found in the store */
} rel_base;

typedef struct rel {
	const release_opts *o;
	release_result *res;
	kb_error *e;
	kb_build *b;
	build_opts bo;               /* the build keeps a pointer to it */
	build_facts f;
	char *libexec;               /* where kbuild-ns-docker and the scripts are */
	rt_bind binds[4];
	char *bind_src[4];
	/* what the preflight found */
	bool has_git, git_tool, shallow;
	char *head, *describe, *dirty, *origin, *go_want, *go_have;
	long long commit_time;
	rel_base *bases;
	size_t n_bases;
	/* decided */
	long long sde;
	const char *sde_from;        /* "option", "environment" or "commit" */
	char *dirhash;               /* of the snapshot, when dirty */
	long long started;
} rel;

/* relcheck.c */
int rel_preflight(rel *r);
void rel_problem(rel *r, const char *fmt, ...) _printf_(2, 3);
int rel_snapshot_modes(rel *r);
int rel_dirhash(rel *r);
void rel_free_facts(rel *r);
