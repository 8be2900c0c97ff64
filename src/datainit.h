/* The build profile applied once to a checkout's data layer, inside the
 * build sandbox (user and mount namespaces, the overlay root), as the
 * classic build/build-image/Dockerfile applies it on top of kube-cross. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

typedef struct datainit {
	bool kube;                  /* the kube-build steps */
	const char *workdir;
	const char *localtime;      /* the host's /etc/localtime, or NULL */
	size_t localtime_len;
} datainit;

/* An rt_spec fn: runs as root inside, on the finished root. */
int datainit_run(void *arg, char *msg, size_t len);
