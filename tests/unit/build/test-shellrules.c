/* Reading rsync filter rules out of shell scripts (shellrules.c), and the
 * profile that follows them (profile.c): the three era trees of
 * tests/fixtures/kube-eras, scripts shaped to trap a careless reader, and
 * what is refused, with file and line (nesting too deep for the stack
 * included). */
#include "unit.h"
#include "build/profile.h"
#include "build/shellrules.h"

/* The rules of fn in text as one "|"-joined string; "ABSENT" when the
 * function is not there, "ERR: message" when refused. */
static char *rules_of(const char *text, const char *fn)
{
	filter_list l = { 0 };
	kb_error e = { 0 };
	unsigned line = 0;
	int r = shell_function_filters(text, "common.sh", fn, &l, &line, &e);
	char *out = r < 0 ? xasprintf("ERR: %s", e.msg) : r == 0 ? xstrdup("ABSENT") : xstrdup("");
	for (size_t i = 0; r > 0 && i < l.n; i++) {
		char *n = xasprintf("%s%s%s@%s", out, i ? "|" : "", l.v[i].text, l.v[i].origin);
		free(out);
		out = n;
	}
	filter_list_free(&l);
	return out;
}

static void is_rules(const char *text, const char *fn, const char *want)
{
	char *got = rules_of(text, fn);
	if (strncmp(want, "ERR", 3) ? strcmp(got, want) : !strstr(got, want + 5))
		fail_msg("%s:\n got  %s\n want %s", fn, got, want);
	free(got);
}

static void test_reader(void **state)
{
	(void)state;
	const char *text =
		"#!/bin/bash\n"                                                   /* 1 */
		"msg() {\n"                                                       /* 2 */
		"  cat <<EOF\n"                                                   /* 3 */
		"Don't be fooled: function kube::build::sync_to_container() {\n"  /* 4 */
		"EOF\n"                                                           /* 5 */
		"}\n"                                                             /* 6 */
		"function kube::build::sync_to_container() {\n"                   /* 7 */
		"  # --filter='- /commented/'\n"                                  /* 8 */
		"  local x=\"$(echo ')' \"--filter='- /no/'\")\"\n"              /* 9 */
		"  kube::build::rsync --delete \\\n"                              /* 10 */
		"    --filter='H /.git/' \\\n"                                    /* 11 */
		"    --filter=\"- /_tmp/\" --filter '- /_output/' \\\n"           /* 12 */
		"    --exclude=/x/ --include='*.go' \\\n"                         /* 13 */
		"    --filter=-\\ /esc/ \\\n"                                     /* 14 */
		"    \"${KUBE_ROOT}/\" \"rsync://k8s@${KUBE_RSYNC_ADDR}/k8s/\"\n" /* 15 */
		"  if [[ 1 ]]; then { echo; }; fi\n"                              /* 16 */
		"}\n"                                                             /* 17 */
		"kube::build::copy_output () {\n"                                 /* 18 */
		"  rsync --filter=\"- /${VAR}/\"\n"                              /* 19 */
		"}\n"                                                             /* 20 */
		"function kube::build::rsync {\n"                                 /* 21 */
		"  rsync --filter='+ */' \"$@\"\n"                               /* 22 */
		"  }\n"                                                           /* 23 */
		"}\n";                                                            /* 24 */
	is_rules(text, "kube::build::sync_to_container",
		 "H /.git/@common.sh:11|- /_tmp/@common.sh:12|- /_output/@common.sh:12|- /x/@common.sh:13|"
		 "+ *.go@common.sh:13|- /esc/@common.sh:14");
	is_rules(text, "kube::build::copy_output", "ERR: common.sh:19: rsync filter \"- //\" has an expansion");
	is_rules(text, "kube::build::rsync", "+ */@common.sh:22");
	is_rules(text, "kube::build::missing", "ABSENT");
	is_rules("function f() {\n  rsync --filter=- /x/\n}\n", "f", "ERR: common.sh:2: filter rule \"-\": no pattern");
	is_rules("function f() {\n  rsync --filter\n}\n", "f", "ERR: rsync --filter without its rule");
	is_rules("function f() {\n  rsync --filter=-_*.o\n}\n", "f", "ERR: an unquoted pattern");
	is_rules("function f() {\n  rsync --filter=\"- $(cat x)\"\n}\n", "f", "ERR: an expansion or command substitution");
	is_rules("function f() {\n  rsync --exclude-from=x\n}\n", "f", "ERR: common.sh:2: rsync --exclude-from");
	is_rules("function f() {\n  rsync --filter='merge x'\n}\n", "f", "ERR: common.sh:2: filter rule \"merge x\"");
	is_rules("function f() {\n  rsync --filter='- x'\n", "f", "ERR: common.sh:1: function f: no closing");
	is_rules("function f() {\n  echo 'open\n}\n", "f", "ERR: unterminated single quote");
	is_rules("function f() {\n  echo nothing\n}\n", "f", "");

	/* Seen while writing fuzz-shellrules (which reports it as a stack
	 * overflow): quotes inside command substitutions inside quotes, 60000
	 * deep, ran the reader (one call per level) out of stack; kbuild-ns
	 * make and status crashed (SIGSEGV) on such a build/common.sh. */
	char *deep = malloc(60000 * 3 + 64), *p = stpcpy(deep, "function f() {\n  echo ");
	for (int i = 0; i < 60000; i++)
		p = stpcpy(p, "\"$(");
	strcpy(p, "\n}\n");
	is_rules(deep, "f", "ERR: common.sh:2: quotes and substitutions nested too deep");
	free(deep);
	/* 20 levels, as deep as any script nests: fine. */
	is_rules("function f() {\n  x=\"$(a \"$(b \"$(c \"$(d \"$(e \"$(f \"$(g \"$(h \"$(i \"$(j)\")\")\")\")\")\")\")\")\")\"\n"
		 "  rsync --filter='- /x/'\n}\n", "f", "- /x/@common.sh:3");
}

static void test_daemon(void **state)
{
	(void)state;
	filter_list l = { 0 };
	kb_error e = { 0 };
	const char *conf = "cat <<EOF2 >\"${CONFFILE}\"\n[k8s]\n  path = ${VOLUME}\n  filter = - /.make/ - /_tmp/ +_a/b\nEOF2\n";
	assert_int_equal(rsyncd_filters(conf, "rsyncd.sh", &l, &e), 1);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.v[0].text, "- /.make/");
	assert_string_equal(l.v[0].origin, "rsyncd.sh:4");
	assert_string_equal(l.v[2].text, "+_a/b");
	filter_list_free(&l);
	assert_int_equal(rsyncd_filters("filter = - a/b\n", "r", &l, &e), 1);
	assert_string_equal(l.v[0].text, "- /a/b");    /* a "/" inside: anchored, as the daemon does */
	filter_list_free(&l);
	assert_int_equal(rsyncd_filters("path = x\n", "r", &l, &e), 0);
	assert_int_equal(rsyncd_filters("filter = - /${X}/\n", "r", &l, &e), -EINVAL);
	assert_contains(e.msg, "r:1: rsync daemon filter has an expansion");
	e = (kb_error){ 0 };
	assert_int_equal(rsyncd_filters("filter = - /x/ -\n", "r", &l, &e), -EINVAL);
	filter_list_free(&l);
}

/* ---- the profile of the era trees ---- */

static char *rule_texts(const filter_list *l)
{
	char *out = xstrdup("");
	for (size_t i = 0; i < l->n; i++) {
		char *n = xasprintf("%s%s%s", out, i ? "|" : "", l->v[i].text);
		free(out);
		out = n;
	}
	return out;
}

static kb_profile *era(const char *t, const char *name)
{
	const char *top = getenv("SRCDIR");
	kb_profile *p = NULL;
	kb_error e = { 0 };
	if (!top)
		return NULL;
	assert_int_equal(run("cp -a %s/tests/fixtures/kube-eras/%s %s/%s", top, name, t, name), 0);
	char *dir = xasprintf("%s/%s", t, name);
	if (profile_load(dir, false, &p, &e) < 0)
		fail_msg("profile of %s: %s", name, e.msg);
	free(dir);
	return p;
}

static void test_profile_eras(void **state)
{
	(void)state;
	char *t = tmpdir_new();
	kb_profile *p = era(t, "2017");
	if (!p) {
		print_message("# SRCDIR not set: era trees not checked\n");
		tmpdir_free(t);
		return;
	}
	char *in = rule_texts(&p->rules.in), *out = rule_texts(&p->rules.out);
	assert_false(kb_err_set(&p->refusal));
	/* The version file's protection, the daemon's rules, then
	 * sync_to_container's, as written. */
	assert_string_equal(in, "P /.dockerized-kube-version-defs|- /.make/|- /_tmp/|H /.git/|- /.make/|- /_tmp/|"
				"- /_output/|- /|H zz_generated.*|H generated.proto");
	assert_string_equal(out, "- /.make/|- /_tmp/|- /_temp/|+ /vendor/|+ /Godeps/|+ /staging/***/Godeps/**|"
				 "+ /_output/dockerized/bin/**|+ zz_generated.*|+ generated.proto|+ *.pb.go|+ types.go|"
				 "+ */|- /**");
	assert_contains(p->rules_from[0], "build/common.sh:");
	assert_contains(p->rules_from[0], "(kube::build::sync_to_container)");
	assert_contains(p->rules.in.v[3].origin, "build/common.sh:454");
	assert_string_equal(p->from_ref, "gcr.io/google_containers/kube-cross:v1.15.15-1");
	assert_string_equal(p->from_short, "kube-cross:v1.15.15-1");
	assert_string_equal(p->workdir, "/go/src/k8s.io/kubernetes");
	assert_contains(p->workdir_from, "build/build-image/Dockerfile:");
	assert_true(p->version_step);
	assert_int_equal(p->n_env, 0);    /* the Dockerfile's ENV replace the built-in ones */
	free(in);
	free(out);
	profile_free(p);

	p = era(t, "2024");
	in = rule_texts(&p->rules.in);
	assert_string_equal(in, "P /.dockerized-kube-version-defs|- /_tmp/|- /_tmp/|- /_output/|- /");
	assert_string_equal(p->from_ref, "kube-cross:v1.31.0-go1.19.8-bookworm.0");
	assert_null(p->from_short);
	free(in);
	profile_free(p);

	/* kbuild-ns.conf wins; an unreadable rule is refused unless it does. */
	assert_int_equal(run("cd %s/2024 && sed -i \"s|--filter='- /_tmp/'|--filter=\\\"- /\\${TMPDIR}/\\\"|\" build/common.sh", t), 0);
	kb_error e = { 0 };
	char *dir = xasprintf("%s/2024", t);
	assert_int_equal(profile_load(dir, false, &p, &e), 0);
	assert_true(kb_err_set(&p->refusal));
	assert_contains(p->refusal.msg, "build/common.sh:48");
	assert_contains(p->refusal.msg, "kbuild-ns reads only literal rules");
	profile_free(p);
	assert_int_equal(run("printf 'exclude = /_output/\\n' > %s/kbuild-ns.conf", dir), 0);
	assert_int_equal(profile_load(dir, false, &p, &e), 0);
	assert_false(kb_err_set(&p->refusal));
	in = rule_texts(&p->rules.in);
	assert_string_equal(in, "P /.dockerized-kube-version-defs|- /_output/");
	assert_string_equal(p->rules_from[0], "kbuild-ns.conf (exclude)");
	assert_contains(p->rules.in.v[1].origin, "kbuild-ns.conf:1");
	free(in);
	profile_free(p);
	free(dir);
	tmpdir_free(t);
}

static void test_profile_builtin(void **state)
{
	(void)state;
	char *t = tmpdir_new();
	kb_profile *p = NULL;
	kb_error e = { 0 };
	/* A kube checkout with no build/common.sh nor Dockerfile. */
	assert_int_equal(run("mkdir -p %s/build/build-image/cross && echo v1 > %s/build/build-image/cross/VERSION", t, t), 0);
	assert_int_equal(profile_load(t, false, &p, &e), 0);
	char *in = rule_texts(&p->rules.in), *out = rule_texts(&p->rules.out);
	assert_string_equal(in, "P /.dockerized-kube-version-defs|- /_tmp/|- /_output/");
	assert_string_equal(out, "- /_tmp/|- /_temp/|- /_output/dockerized/go/**|+ /_output/dockerized/bin/**|"
				 "+ zz_generated.*|+ generated.proto|+ *.pb.go|+ types.go|+ */|- /**");
	assert_string_equal(p->rules_from[0], "built in");
	assert_string_equal(p->rules.in.v[1].origin, "built in");
	assert_false(p->version_step);
	assert_null(p->dockerfile);
	assert_int_equal(p->n_env, 2);
	bool said = false;
	for (size_t i = 0; i < p->n_notes; i++)
		said |= strstr(p->notes[i], "no readable build/common.sh") != NULL;
	assert_true(said);
	free(in);
	free(out);
	profile_free(p);
	/* A Dockerfile kbuild-ns cannot follow: the profile says why. */
	assert_int_equal(run("printf 'FROM a\\nADD secret /\\n' > %s/build/build-image/Dockerfile", t), 0);
	assert_int_equal(profile_load(t, false, &p, &e), 0);
	assert_contains(p->refusal.msg, "build/build-image/Dockerfile:2: ADD secret: kbuild-ns supplies only");
	profile_free(p);
	tmpdir_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reader),
		cmocka_unit_test(test_daemon),
		cmocka_unit_test(test_profile_eras),
		cmocka_unit_test(test_profile_builtin),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
