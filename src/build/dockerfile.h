/* A Dockerfile read into a typed list of instructions: the one
 * Dockerfile reader of kbuild-ns.  It only parses; each user interprets
 * the list its own way: the data sandbox's init follows a tree's
 * build/build-image/Dockerfile (buildimage.c), and an image builder can
 * follow the small Dockerfiles of a release flow.
 *
 * What it reads, as docker build's parser does: instructions in any case,
 * one per logical line; a line ending in "\" continues on the next;
 * comment lines ("#" first) anywhere, also inside a continued line; the
 * parser directives "# syntax=" (ignored) and "# escape=\" at the top;
 * flags "--name=value" after FROM, RUN, COPY, ADD and HEALTHCHECK; the
 * JSON ("exec") form of RUN, CMD, ENTRYPOINT, SHELL, COPY, ADD and VOLUME;
 * ENV and LABEL in both forms ("KEY VALUE" and "KEY=VALUE ..."); ARG with
 * and without a default.
 *
 * Refused with "NAME:LINE: why": an unknown instruction, a here-document,
 * "# escape=`", ENV/LABEL/ARG without a name or ENV/LABEL without a value,
 * a FROM that is not "IMAGE [AS NAME]", COPY/ADD without a destination,
 * an unterminated quote.  A last line that asks to continue is taken as
 * it is, as docker build does.
 *
 * Words are kept raw (quotes and "$" as written): dockerfile_expand
 * removes the quotes and expands the variables when the user of the list
 * knows their values. */
#pragma once
#include "base/util.h"
#include "runtime/error.h"

typedef enum df_kind {
	DF_FROM, DF_RUN, DF_CMD, DF_ENTRYPOINT, DF_SHELL, DF_ENV, DF_ARG, DF_LABEL, DF_WORKDIR, DF_USER,
	DF_COPY, DF_ADD, DF_EXPOSE, DF_VOLUME, DF_STOPSIGNAL, DF_HEALTHCHECK, DF_ONBUILD, DF_MAINTAINER,
} df_kind;

typedef struct df_flag {
	char *name;                 /* "platform" for --platform=... */
	char *value;                /* raw; NULL for a bare --name */
} df_flag;

typedef struct df_pair {
	char *key;
	char *value;                /* raw; NULL for an ARG without a default */
} df_pair;

typedef struct df_instr {
	df_kind kind;
	unsigned line;              /* where the instruction starts */
	df_flag *flags;
	size_t n_flags;
	bool json;                  /* exec form: args are the JSON array's strings, final */
	/* RUN, CMD, ENTRYPOINT, SHELL in shell form, WORKDIR, USER,
	 * STOPSIGNAL, HEALTHCHECK, ONBUILD, MAINTAINER: one string, the rest
	 * of the line (continuations joined).  FROM, COPY, ADD, EXPOSE,
	 * VOLUME: the words, raw. */
	char **args;
	size_t n_args;
	df_pair *pairs;             /* ENV, LABEL, ARG */
	size_t n_pairs;
} df_instr;

typedef struct dockerfile {
	char *name;                 /* for messages: "build/build-image/Dockerfile" */
	df_instr *v;
	size_t n;
} dockerfile;

int dockerfile_parse(const char *text, size_t len, const char *name, dockerfile **ret, kb_error *e);
void dockerfile_free(dockerfile *df);
static inline void dockerfile_freep(dockerfile **df) { dockerfile_free(*df); }
/* "RUN", "COPY", ... */
const char *dockerfile_kind_name(df_kind k);
/* The value of flag name of in, NULL when absent; *ret_present says
 * whether it is there at all (a bare --name has no value). */
const char *dockerfile_flag(const df_instr *in, const char *name, bool *ret_present);

/* One word as docker build processes it: quotes removed ('...' literal,
 * "..." with \" \\ \$ escapes), a backslash outside quotes taking the next
 * character literally, and $NAME, ${NAME}, ${NAME:-word}, ${NAME-word},
 * ${NAME:+word} and ${NAME+word} expanded from vars ("NAME=VALUE"
 * strings, the last of a name winning; an unset name is empty).  A "$"
 * before anything else stays.  -EINVAL naming the construct for any other
 * ${...} form, an unterminated quote or brace. */
int dockerfile_expand(const char *word, char *const *vars, size_t n_vars, char **ret, kb_error *e);
