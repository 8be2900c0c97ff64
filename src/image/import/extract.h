/* Unpack one layer's tar stream into a directory, in overlay form.
 *
 * Safety rules (the archive is hostile until proven otherwise):
 *  - every parent directory is resolved with openat2(RESOLVE_IN_ROOT |
 *    RESOLVE_NO_MAGICLINKS), so ".." and symlinks, absolute or relative,
 *    chained or not, can never lead outside the layer root;
 *  - members with a ".." component are refused outright;
 *  - the last component is never followed: an existing entry is removed
 *    and a new inode made (O_EXCL|O_NOFOLLOW), so no write goes through a
 *    symlink or into a hard-linked file;
 *  - hard links must point at a file already in this layer.
 *
 * Overlay form: ".wh.NAME" becomes a 0/0 character device, ".wh..wh..opq"
 * the xattr user.overlay.opaque=y (and plain whiteouts in that directory
 * are dropped); files belong to the caller, and an owner other than 0:0
 * or a setuid/setgid bit is kept in user.containers.override_stat as
 * "UID:GID:0MODE"; device nodes and sockets are skipped and counted. */
#pragma once
#include "image/import/zstream.h"

typedef struct extract_opts {
	/* Add u+rwx to directories and u+rw to files on disk: needed when we
	 * are not root in a user namespace and so lack CAP_DAC_OVERRIDE over
	 * our own 0555 directories. */
	bool relax_modes;
	/* OCI form (the store on overlayfs): whiteouts stay ".wh.NAME" and
	 * opaque markers ".wh..wh..opq", as empty regular files, and the
	 * layer's root gets STORE_XATTR_LAYER_FORM = "oci" (image/store.h).  overlayfs refuses
	 * to create a 0/0 device through itself (ovl_mknod: EPERM, so that
	 * no one makes a whiteout in its merged view), and a user.overlay.*
	 * xattr is its own on a userxattr mount; such a layer is read only
	 * by build/flatroot.c's merge, never used as an overlay lower. */
	bool oci_whiteouts;
	/* Set by another thread to stop early (another layer failed). */
	const _Atomic int *cancel;
} extract_opts;

typedef struct extract_stats {
	uint64_t entries, files, dirs, symlinks, hardlinks, fifos;
	uint64_t whiteouts, opaques, skipped_devices, skipped_sockets;
	uint64_t bytes;
} extract_stats;

/* Read the tar stream from z and unpack it under rootfd (a directory
 * opened O_RDONLY|O_DIRECTORY).  what names the layer in messages.
 * progress (may be NULL) is called now and then with bytes read so far. */
int extract_tar(zstream *z, int rootfd, const extract_opts *o, const char *what,
		void (*progress)(void *ctx, uint64_t bytes), void *progress_ctx,
		extract_stats *st, kb_error *e);

/* Clean a member path: strip leading "/" and "./", drop "." components
 * and repeated slashes.  Returns NULL (and sets e) for a ".." component
 * or an over-long path; "" is the layer root. */
char *extract_clean_path(const char *p, kb_error *e);
