/* The user's registry configuration (kbuild-ns.conf(5), REGISTRIES):
 * whether make/run/shell may pull a missing image, and per registry (or
 * repository prefix) its mirrors, whether it may be reached without
 * verified TLS, and where its private CA certificates are.
 *
 *   $KBUILD_NS_REGISTRIES_CONF, else ${XDG_CONFIG_HOME:-~/.config}/kbuild-ns/registries.conf,
 *   else /etc/kbuild-ns/registries.conf; none at all is an empty one.
 *
 *   pull = missing                 # never (air-gapped) | always
 *   [registry.k8s.io]              # a registry, or a repository prefix
 *   mirror = 127.0.0.1:5000        # tried in order before the source
 *   [127.0.0.1:5000]
 *   insecure = true                # plain HTTP or unverified TLS
 *   cert-dir = /etc/kbuild-ns/certs.d/127.0.0.1:5000
 */
#pragma once
#include "base/util.h"
#include "runtime/error.h"

typedef enum { PULL_MISSING, PULL_NEVER, PULL_ALWAYS } pull_policy;

#define REG_MAX_MIRRORS 16

typedef struct reg_section {
	char *prefix;                /* "registry.k8s.io", "example.com:5000/team" */
	char *mirrors[REG_MAX_MIRRORS];
	size_t n_mirrors;
	int insecure;                /* -1 unset */
	char *cert_dir;
} reg_section;

typedef struct reg_conf {
	char *path;                  /* the file read, or NULL */
	int pull;                    /* -1 unset, else a pull_policy */
	reg_section *sec;
	size_t n_sec;
} reg_conf;

/* Read the configuration (path NULL: the places above). */
int regconf_load(const char *path, reg_conf **ret, kb_error *e);
void regconf_free(reg_conf *c);
static inline void regconf_freep(reg_conf **c) { regconf_free(*c); }
/* The section with the longest prefix of "domain/path" (a prefix ends at
 * a "/" or the end), or NULL. */
const reg_section *regconf_find(const reg_conf *c, const char *name);
int pull_policy_parse(const char *s, pull_policy *ret);
const char *pull_policy_name(pull_policy p);
