/* The Dockerfile reader (dockerfile.c) and the kube-build image plan made
 * from it (buildimage.c): the three era Dockerfiles of
 * tests/fixtures/kube-eras, the forms a release flow's Dockerfiles use,
 * word expansion (nested too deep for the stack included), and what is
 * refused, with file and line. */
#include "unit.h"
#include "build/buildimage.h"
#include "build/dockerfile.h"

static dockerfile *parse_ok(const char *text)
{
	dockerfile *df = NULL;
	kb_error e = { 0 };
	int r = dockerfile_parse(text, strlen(text), "Dockerfile", &df, &e);
	if (r < 0)
		fail_msg("parse: %s", e.msg);
	return df;
}

static void parse_fails(const char *text, const char *want)
{
	dockerfile *df = NULL;
	kb_error e = { 0 };
	assert_int_equal(dockerfile_parse(text, strlen(text), "Dockerfile", &df, &e), -EINVAL);
	assert_null(df);
	assert_contains(e.msg, want);
}

static char *fixture(const char *rel)
{
	const char *top = getenv("SRCDIR");
	char *text = NULL;
	if (!top)
		return NULL;
	char *path = xasprintf("%s/tests/fixtures/kube-eras/%s", top, rel);
	if (read_file_at(AT_FDCWD, path, 1 << 20, &text, NULL) < 0)
		text = NULL;
	free(path);
	return text;
}

static void test_forms(void **state)
{
	(void)state;
	dockerfile *df = parse_ok(
		"# syntax=docker/dockerfile:1\n"
		"# escape=\\\n"
		"ARG BASE=debian\n"
		"ARG TAG\n"
		"from --platform=$BUILDPLATFORM ${BASE}:${TAG:-12} AS build\n"
		"\n"
		"# a comment\n"
		"RUN set -e; \\\n"
		"  # a comment inside\n"
		"  echo one \\\n"
		"\n"
		"  two\n"
		"RUN [\"/bin/echo\", \"exec form\"]\n"
		"RUN [not json\n"
		"ENV A=1 B=\"two words\" C='$A'\n"
		"ENV LEGACY value with  blanks  \n"
		"COPY --chmod=0755 --from=build /out/app /usr/local/bin/\n"
		"COPY [\"a b\", \"/c/\"]\n"
		"LABEL org.opencontainers.image.title=\"kube\" version=1\n"
		"USER 65532:65532\n"
		"WORKDIR /go/src/k8s.io/kubernetes\n"
		"ENTRYPOINT [\"/go-runner\"]\n"
		"CMD [\"--help\"]\n"
		"RUN setcap cap_net_bind_service=+ep /usr/local/bin/app\n");
	assert_int_equal(df->n, 16);
	assert_int_equal(df->v[0].kind, DF_ARG);
	assert_string_equal(df->v[0].pairs[0].key, "BASE");
	assert_string_equal(df->v[0].pairs[0].value, "debian");
	assert_null(df->v[1].pairs[0].value);
	assert_int_equal(df->v[2].kind, DF_FROM);
	assert_int_equal(df->v[2].line, 5);
	assert_string_equal(dockerfile_flag(&df->v[2], "platform", NULL), "$BUILDPLATFORM");
	assert_int_equal(df->v[2].n_args, 3);
	assert_string_equal(df->v[2].args[0], "${BASE}:${TAG:-12}");
	/* Continuations joined, comment and blank lines inside dropped. */
	assert_int_equal(df->v[3].kind, DF_RUN);
	assert_int_equal(df->v[3].line, 8);
	assert_false(df->v[3].json);
	assert_string_equal(df->v[3].args[0], "set -e;   echo one   two");
	assert_true(df->v[4].json);
	assert_int_equal(df->v[4].n_args, 2);
	assert_string_equal(df->v[4].args[1], "exec form");
	assert_false(df->v[5].json);    /* not JSON: the shell form */
	assert_string_equal(df->v[5].args[0], "[not json");
	assert_int_equal(df->v[6].n_pairs, 3);
	assert_string_equal(df->v[6].pairs[1].value, "\"two words\"");    /* raw until expanded */
	assert_string_equal(df->v[7].pairs[0].key, "LEGACY");
	assert_string_equal(df->v[7].pairs[0].value, "value with  blanks");
	bool present = false;
	assert_string_equal(dockerfile_flag(&df->v[8], "chmod", &present), "0755");
	assert_true(present);
	assert_string_equal(dockerfile_flag(&df->v[8], "from", NULL), "build");
	assert_null(dockerfile_flag(&df->v[8], "chown", &present));
	assert_false(present);
	assert_int_equal(df->v[8].n_args, 2);
	assert_true(df->v[9].json);
	assert_string_equal(df->v[9].args[0], "a b");
	assert_int_equal(df->v[10].kind, DF_LABEL);
	assert_int_equal(df->v[10].n_pairs, 2);
	assert_int_equal(df->v[11].kind, DF_USER);
	assert_string_equal(df->v[11].args[0], "65532:65532");
	assert_int_equal(df->v[12].kind, DF_WORKDIR);
	assert_int_equal(df->v[13].kind, DF_ENTRYPOINT);
	assert_int_equal(df->v[14].kind, DF_CMD);
	assert_string_equal(dockerfile_kind_name(df->v[15].kind), "RUN");
	dockerfile_free(df);
}

static void test_refused(void **state)
{
	(void)state;
	parse_fails("FROM a\nRUNN x\n", "Dockerfile:2: unknown instruction RUNN");
	parse_fails("FROM a\nRUN <<EOF\necho\nEOF\n", "Dockerfile:2: here-documents are not supported");
	parse_fails("# escape=`\nFROM a\n", "Dockerfile:1: only the escape character");
	parse_fails("FROM a\n\nENV ONLYKEY\n", "Dockerfile:3: ENV needs a value");
	parse_fails("FROM a\nENV A=1 B\n", "Dockerfile:2: ENV: every word must be KEY=VALUE");
	parse_fails("FROM a\nENV =x\n", "Dockerfile:2: ENV: a name is empty");
	parse_fails("FROM a\nENV A=\"open\n", "Dockerfile:2: unterminated quote");
	parse_fails("FROM a b\n", "Dockerfile:1: FROM wants IMAGE or IMAGE AS NAME");
	parse_fails("FROM a\nCOPY onlyone\n", "Dockerfile:2: COPY wants a source and a destination");
	parse_fails("FROM a\nWORKDIR\n", "Dockerfile:2: WORKDIR needs an argument");
	parse_fails("FROM a\nSHELL /bin/bash -c\n", "Dockerfile:2: SHELL wants a JSON array");
}

static void expands(char *const *vars, size_t n, const char *word, const char *want)
{
	char *got = NULL;
	kb_error e = { 0 };
	if (dockerfile_expand(word, vars, n, &got, &e) < 0)
		fail_msg("expand %s: %s", word, e.msg);
	assert_string_equal(got, want);
	free(got);
}

static void test_expand(void **state)
{
	(void)state;
	char *vars[] = { "HOME=/go/src/k8s.io/kubernetes", "EMPTY=", "A=1", "A=2" };
	size_t n = ARRAY_SIZE(vars);
	expands(vars, n, "${HOME}/.dockerized-kube-version-defs", "/go/src/k8s.io/kubernetes/.dockerized-kube-version-defs");
	expands(vars, n, "$HOME/x", "/go/src/k8s.io/kubernetes/x");
	expands(vars, n, "$A", "2");                       /* the last wins */
	expands(vars, n, "$UNSET.", ".");
	expands(vars, n, "${UNSET:-kube-cross}:${A}", "kube-cross:2");
	expands(vars, n, "${EMPTY:-d}|${EMPTY-d}|${EMPTY:+s}|${EMPTY+s}|${A:+s}|${UNSET+s}", "d|||s|s|");
	expands(vars, n, "${UNSET:-${A}x}", "2x");
	expands(vars, n, "'$A' \"$A\" \\$A \"\\$A\" a\\ b", "$A 2 $A $A a b");
	expands(vars, n, "cost: $ 5 $", "cost: $ 5 $");
	expands(vars, n, "\"a 'b' c\"", "a 'b' c");
	char *got = NULL;
	kb_error e = { 0 };
	assert_int_equal(dockerfile_expand("${A#x}", vars, n, &got, &e), -EINVAL);
	assert_contains(e.msg, "only ${NAME}");
	e = (kb_error){ 0 };
	assert_int_equal(dockerfile_expand("${A", vars, n, &got, &e), -EINVAL);
	e = (kb_error){ 0 };
	assert_int_equal(dockerfile_expand("'open", vars, n, &got, &e), -EINVAL);
	e = (kb_error){ 0 };
	assert_int_equal(dockerfile_expand("${1}", vars, n, &got, &e), -EINVAL);

	/* Seen while writing fuzz-dockerfile: ${A:-${A:-...}} 100000 deep (a
	 * 600 kB WORKDIR) ran the expansion (a call per level) out of stack,
	 * and kbuild-ns status and make crashed on such a Dockerfile.  32
	 * levels expand, 33 and more are refused. */
	static const int depths[] = { 100000, 33, 32 };
	for (size_t k = 0; k < ARRAY_SIZE(depths); k++) {
		char *deep = malloc((size_t)depths[k] * 6 + 2), *p = deep;
		for (int i = 0; i < depths[k]; i++)
			p = stpcpy(p, "${A:-");
		*p++ = 'x';
		for (int i = 0; i < depths[k]; i++)
			*p++ = '}';
		*p = 0;
		if (depths[k] <= 32) {
			expands(vars, n, deep, "2");
		} else {
			e = (kb_error){ 0 };
			assert_int_equal(dockerfile_expand(deep, vars, n, &got, &e), -EINVAL);
			assert_contains(e.msg, "nested more than 32 deep");
		}
		free(deep);
	}
}

/* ---- the plan ---- */

static kb_buildimage *plan_of(const char *text, const char *tag, kb_error *e)
{
	char *env[] = { "PATH=/go/bin:/usr/bin:/bin", "GOPATH=/go", "K8S_PATCHED_GOROOT=/usr/local/go_k8s_patched" };
	dockerfile *df = NULL;
	kb_buildimage *b = NULL;
	buildimage_args a = { .file = "build/build-image/Dockerfile", .image_env = env, .n_image_env = 3,
			      .cross_tag = tag, .localtime = "/etc/passwd" };
	int r = dockerfile_parse(text, strlen(text), a.file, &df, e);
	if (r == 0)
		r = buildimage_plan(df, &a, &b, e);
	dockerfile_free(df);
	return r == 0 ? b : NULL;
}

static const char *step_what(const kb_buildimage *b, size_t i)
{
	return i < b->n_steps ? b->steps[i].what : "(none)";
}

static void test_plan_eras(void **state)
{
	(void)state;
	char *t17 = fixture("2017/build/build-image/Dockerfile"), *t24 = fixture("2024/build/build-image/Dockerfile");
	if (!t17 || !t24) {
		print_message("# SRCDIR not set or fixtures missing: era Dockerfiles not checked\n");
		free(t17);
		free(t24);
		return;
	}
	/* 2017: the placeholder as build/common.sh's sed leaves it. */
	char *p = strstr(t17, "KUBE_BUILD_IMAGE_CROSS_TAG");
	assert_non_null(p);
	memcpy(p, "v1.15.15-1                ", 26);
	kb_error e = { 0 };
	kb_buildimage *b = plan_of(t17, "v1.15.15-1", &e);
	if (!b)
		fail_msg("2017 plan: %s", e.msg);
	assert_string_equal(b->from, "gcr.io/google_containers/kube-cross:v1.15.15-1");
	assert_string_equal(b->workdir, "/go/src/k8s.io/kubernetes");
	unsigned line = 0;
	assert_string_equal(buildimage_getenv(b, "KUBE_GIT_VERSION_FILE", &line),
			    "/go/src/k8s.io/kubernetes/.dockerized-kube-version-defs");
	assert_true(line > 0);
	assert_string_equal(buildimage_getenv(b, "KUBE_OUTPUT_SUBPATH", NULL), "_output/dockerized");
	/* touch, chmod (K8S_PATCHED_GOROOT from the image's Env, expanded by
	 * the shell), mkdir, WORKDIR, ADD localtime, chmod; rsyncd's four
	 * skipped. */
	assert_int_equal(b->n_steps, 6);
	assert_string_equal(step_what(b, 0), "RUN touch /kube-build-image");
	assert_string_equal(b->steps[0].argv[0], "/bin/sh");
	assert_string_equal(b->steps[0].argv[2], "touch /kube-build-image");
	assert_string_equal(step_what(b, 3), "WORKDIR /go/src/k8s.io/kubernetes");
	assert_int_equal(b->steps[4].kind, INIT_FILE);
	assert_string_equal(b->steps[4].path, "/etc/localtime");
	assert_string_equal(b->steps[5].path, "/go/src/k8s.io/kubernetes");    /* RUN after WORKDIR runs there */
	assert_int_equal(b->n_notes, 4);
	assert_contains(b->notes[0], "build/build-image/Dockerfile:");
	assert_contains(b->notes[0], "ADD rsyncd.password: skipped");
	assert_contains(b->notes[1], "RUN chmod a+r /rsyncd.password: skipped");
	char mark17[33];
	memcpy(mark17, b->mark, sizeof mark17);
	buildimage_free(b);

	/* 2024: ARG-built FROM, key=value ENV, git identity, GOPATH. */
	b = plan_of(t24, "v1.31.0-go1.19.8-bookworm.0", &e);
	if (!b)
		fail_msg("2024 plan: %s", e.msg);
	assert_string_equal(b->from, "kube-cross:v1.31.0-go1.19.8-bookworm.0");
	assert_string_equal(buildimage_getenv(b, "HOME", NULL), "/go/src/k8s.io/kubernetes");
	assert_int_equal(b->n_steps, 8);
	assert_contains(step_what(b, 4), "RUN git config --system user.email");
	assert_string_equal(step_what(b, 5), "RUN chmod -R a+rwx $GOPATH");
	assert_true(strcmp(mark17, b->mark) != 0);
	/* The RUN environment: the image's Env and ENV so far; an ARG
	 * declared before FROM only is not in the stage (docker build). */
	bool gopath = false, arg = false, home = false;
	for (char **v = b->steps[5].env; *v; v++) {
		gopath |= !strcmp(*v, "GOPATH=/go");
		home |= !strcmp(*v, "HOME=/go/src/k8s.io/kubernetes");
		arg |= !strncmp(*v, "KUBE_CROSS_VERSION=", 19);
	}
	assert_true(gopath && home && !arg);
	buildimage_free(b);
	free(t17);
	free(t24);
}

static void plan_fails(const char *text, const char *want)
{
	kb_error e = { 0 };
	kb_buildimage *b = plan_of(text, "v1", &e);
	if (b)
		fail_msg("planned, wanted: %s", want);
	assert_contains(e.msg, want);
}

static void test_plan_refused(void **state)
{
	(void)state;
	plan_fails("FROM a\nFROM b\n", "build/build-image/Dockerfile:2: FROM: a second FROM");
	plan_fails("FROM a\nUSER nobody\n", "build/build-image/Dockerfile:2: USER: the data sandbox's init runs as root");
	plan_fails("FROM a\nADD build.tar.gz /\n", "Dockerfile:2: ADD build.tar.gz: kbuild-ns supplies only");
	plan_fails("FROM a\nADD https://example.com/x /x\n", "kbuild-ns supplies only");
	plan_fails("FROM a\nCOPY --chown=1:1 localtime /etc/\n", "Dockerfile:2: COPY: flags");
	plan_fails("FROM a\nADD rsyncd.sh /\nRUN /rsyncd.sh --daemon\n", "Dockerfile:3: RUN /rsyncd.sh --daemon: needs");
	plan_fails("FROM a\nADD rsyncd.sh /\nRUN chmod a+x /rsyncd.sh && touch /x\n", "needs a build-context file");
	plan_fails("RUN true\nFROM a\n", "Dockerfile:1: RUN: before FROM");
	plan_fails("ARG X\n", "no FROM");
	plan_fails("FROM a\nENV X=${Y%z}\n", "Dockerfile:2: ENV:");
	plan_fails("FROM a\nRUN --mount=type=cache,target=/x true\n", "Dockerfile:2: RUN: flags");

	/* What is accepted: ARG defaults, a global ARG redeclared, SHELL,
	 * relative WORKDIR, ignored instructions noted. */
	kb_error e = { 0 };
	kb_buildimage *b = plan_of("ARG IMG=base\nFROM ${IMG}:${KUBE_CROSS_VERSION:-x}\nARG IMG\nARG D=/w\n"
				   "SHELL [\"/bin/bash\", \"-ec\"]\nWORKDIR $D\nWORKDIR sub/\nRUN echo $IMG\n"
				   "LABEL a=b\nCMD [\"x\"]\nENV P=$PATH:/x\n", "v9", &e);
	if (!b)
		fail_msg("plan: %s", e.msg);
	assert_string_equal(b->from, "base:x");
	assert_string_equal(b->workdir, "/w/sub");
	assert_string_equal(b->steps[2].argv[0], "/bin/bash");
	assert_string_equal(b->steps[2].argv[1], "-ec");
	assert_string_equal(b->steps[2].path, "/w/sub");
	bool img = false;
	for (char **v = b->steps[2].env; *v; v++)
		img |= !strcmp(*v, "IMG=base");
	assert_true(img);
	assert_string_equal(buildimage_getenv(b, "P", NULL), "/go/bin:/usr/bin:/bin:/x");
	assert_int_equal(b->n_notes, 2);
	assert_contains(b->notes[0], "Dockerfile:9: LABEL: ignored");
	buildimage_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_expand),
		cmocka_unit_test(test_plan_eras),
		cmocka_unit_test(test_plan_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
