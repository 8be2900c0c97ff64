/* What dfbuild.c (stages, arguments, configuration, the result) and
 * dfcopy.c (COPY, ADD, RUN setcap, paths in a stage's file system) share. */
#pragma once
#include "release/dfbuild.h"
#include "build/dockerfile.h"
#include "image/image.h"

typedef struct stage {
	char *name;                  /* AS NAME, or NULL */
	char *ref;                   /* FROM, expanded; "scratch" for none */
	kb_platform plat;
	image_rec *base;             /* NULL for scratch, or a base not in the store */
	kb_error base_err;           /* why, for a base not in the store */
	json_t *config;              /* the image configuration being made */
	int *layer_fds;              /* the base's unpacked layers, top first (opened on first use) */
	size_t n_layer_fds;
	bool layers_open;
	fs_tree fs;                  /* what this stage adds */
	char **args;                 /* declared ARGs, "NAME=VALUE" */
	size_t n_args;
	char *workdir;               /* relative to "/", "" for the root */
	bool cmd_set;
	char *created_by;            /* the stage's instructions, for the history */
} stage;

typedef struct dfb {
	const df_build_opts *o;
	dockerfile *df;
	int ctxfd;
	char **globals;              /* global ARGs and the automatic ones */
	size_t n_globals;
	stage *st;
	size_t n_st;
	size_t final;
	kb_error *e;
} dfb;

/* "Dockerfile:12: " errors, into b->e. */
int dfb_fail(const dfb *b, const df_instr *in, int err, const char *fmt, ...) _printf_(4, 5);
/* The variables for expanding an instruction's words in st. */
char **dfb_vars(const stage *st, size_t *ret_n);
int dfb_expand(const dfb *b, const stage *st, const df_instr *in, const char *word, char **ret, kb_error *e);
/* "a/./b/../c/" -> "a/c": relative to the root, no "/" at either end. */
char *dfb_clean(const char *path);
/* The stage's base image and configuration; required: a base that is
 * not in the store is an error now (else only when its files are read). */
int dfb_load_base(dfb *b, stage *st, const df_instr *in, bool plat_given, bool required);
/* A stage by name or index, NULL when none. */
stage *dfb_stage(dfb *b, const char *name_or_index, size_t before);

/* dfcopy.c */
int dfb_copy(dfb *b, stage *st, const df_instr *in, kb_error *e);
int dfb_run(dfb *b, stage *st, const df_instr *in, kb_error *e);
int dfb_workdir_node(dfb *b, stage *st, const char *path, kb_error *e);
void dfb_close_layers(stage *st);
