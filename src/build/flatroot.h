/* The copied root: a data sandbox's root without overlay, for a state
 * directory on overlayfs (a container's root file system).
 *
 * The kernel takes no overlay upper layer on overlayfs (params.c,
 * ovl_mount_dir_check: its dentries revalidate, as a network file
 * system's do, "not supported as upperdir"), and no 0/0 device can be
 * made through it (ovl_mknod: EPERM), so the store keeps whiteouts there
 * in OCI form (image/import/extract.h).  Instead of mounting the image's
 * layers under upper/, the build then merges them once into one plain
 * directory, the data sandbox's rootfs/, applying whiteouts and opaque
 * directories as overlayfs would, and binds that as the root
 * (rt_spec.plain_root); the build's persistent writes land in it.
 *
 * A full copy, not hard links: the sandbox's root (root inside, with
 * CAP_DAC_OVERRIDE over the caller's files) would write through a hard
 * link into the store's file, and so into every later build of the
 * image.  copy_file_range shares the blocks where the file system below
 * can reflink (xfs, btrfs), and copies them elsewhere. */
#pragma once
#include "runtime/error.h"
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct flatroot_stats {
	uint64_t files, dirs, symlinks, hardlinks, others, bytes;
	uint64_t whiteouts, opaques;
} flatroot_stats;

typedef enum flatroot_kind {
	FLATROOT_ENTRY,       /* an entry to copy */
	FLATROOT_WHITEOUT,    /* hides the lower entry *ret_target */
	FLATROOT_OPAQUE,      /* the OCI opaque marker: handled with its directory */
	FLATROOT_SKIP,        /* AUFS bookkeeping (.wh..wh.plnk ...), or nothing to copy */
} flatroot_kind;

/* What the layer entry name (of type mode, device rdev) is, in overlay
 * form (0/0 character devices) or OCI form (".wh.NAME"); for a whiteout
 * *ret_target is the name it hides. */
flatroot_kind flatroot_classify(const char *name, mode_t mode, dev_t rdev, bool oci, const char **ret_target);

/* Is the layer directory fd in OCI form (its root's mark)? */
bool flatroot_layer_oci(int fd);
/* The same by path (one getxattr: every build asks it of each layer). */
bool flatroot_layer_path_oci(const char *path);

/* Merge the layers (directory fds, bottom first) into the empty
 * directory dstfd.  Run as root of a user namespace mapping the caller,
 * so that the layers' unreadable files and read-only directories can be
 * read and filled. */
int flatroot_merge(int dstfd, const int *layers, size_t n, flatroot_stats *st, kb_error *e);

/* The data sandbox's copied root for the image: kept when rootfs/ was
 * made from image_id, else made again (the data layer reset with it, so
 * its init runs again).  layers are the store's layer directories' names
 * (diff_id hex) under layers_dir, bottom first.  The merge runs in a
 * child in a user namespace (runtime/isolate.h), with range when the
 * builds map one.  *ret_made says it was made now, *ret_ms in how long. */
struct kb_data;
struct rt_idrange;
typedef struct flatroot_args {
	struct kb_data *data;
	const char *layers_dir;
	const char *const *layers;
	size_t n_layers;
	const char *image_id;
	const struct rt_idrange *range;
} flatroot_args;
int flatroot_ensure(const flatroot_args *a, bool *ret_made, flatroot_stats *ret_st, long *ret_ms, kb_error *e);
