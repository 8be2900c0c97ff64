/* Fuzz target: image references and the user's registries.conf, as
 * `image pull` and pulling on demand read them.  Sections (common.h):
 * "refs" (or the text before the first "--- " line), one reference per
 * line, each parsed (ref_parse), printed (ref_name) and parsed again,
 * which must give the same name; "conf", a registries.conf
 * (regconf_load), in which the section of each reference is looked up
 * (regconf_find) as the puller looks up its mirrors. */
#include "fuzz/common.h"
#include "image/image.h"
#include "image/ref.h"
#include "image/regconf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static char *conf_path;
static int sfd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char *scratch = fz_scratch("registry-conf");
	sfd = open(scratch, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0)
		fz_fail("%s: %s", scratch, strerror(errno));
	conf_path = xasprintf("%s/registries.conf", scratch);
	return 0;
}

static void one_ref(const char *s, const reg_conf *conf)
{
	image_ref r;
	kb_error e = { 0 };
	int rc = ref_parse(s, &r, &e);
	fz_check_error(rc, &e, "ref_parse");
	if (rc < 0)
		return;
	char *name = ref_name(&r);
	image_ref again;
	kb_error e2 = { 0 };
	rc = ref_parse(name, &again, &e2);
	if (rc < 0)
		fz_fail("ref_name(ref_parse(\"%s\")) = \"%s\" does not parse: %s", s, name, e2.msg);
	char *name2 = ref_name(&again);
	if (strcmp(name, name2))
		fz_fail("\"%s\" -> \"%s\" -> \"%s\"", s, name, name2);
	(void)ref_api_host(r.domain);
	(void)host_is_loopback(r.domain);
	(void)ref_name_matches(name, s);
	char *full = xasprintf("%s/%s", r.domain, r.path);
	(void)regconf_find(conf, full);
	free(full);
	free(name);
	free(name2);
	ref_clear(&again);
	ref_clear(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_sections ss;
	reg_conf *conf = NULL;
	bool have_conf = false;

	if (size > (64u << 10))
		return 0;
	fz_sections_split(data, size, 8, &ss);
	for (size_t i = 0; i < ss.n; i++)
		if (!strcmp(ss.v[i].name, "conf")) {
			fz_write(sfd, "registries.conf", ss.v[i].data, ss.v[i].len);
			have_conf = true;
		}
	if (have_conf) {
		kb_error e = { 0 };
		int r = regconf_load(conf_path, &conf, &e);
		fz_check_error(r, &e, "regconf_load");
		for (size_t i = 0; r == 0 && i < conf->n_sec; i++)
			if (conf->sec[i].n_mirrors > REG_MAX_MIRRORS)
				fz_fail("section %zu: %zu mirrors", i, conf->sec[i].n_mirrors);
	}
	for (size_t i = 0; i < ss.n; i++) {
		if (ss.v[i].name[0] && strcmp(ss.v[i].name, "refs"))
			continue;
		char *text = strndup(ss.v[i].data, ss.v[i].len);
		for (char *line = text, *next; line; line = next) {
			next = strchr(line, '\n');
			if (next)
				*next++ = 0;
			one_ref(line, conf);
		}
		free(text);
	}
	pull_policy pp;
	(void)pull_policy_parse("missing", &pp);
	regconf_free(conf);
	fz_sections_free(&ss);
	return 0;
}
