/* The instructions of a Dockerfile that touch files (dfbuild.h): COPY and
 * ADD from the context, a stage or an image, RUN setcap, WORKDIR's
 * directory; and a stage's file system as they see it: what the stage
 * added, over its base image's unpacked layers (store/layers/, overlay
 * form: a 0/0 character device is a deleted file). */
#include "release/dfbuild-int.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <linux/openat2.h>

/* What import records of a file the disk cannot show (extract.c). */
#define XATTR_OVERRIDE "user.containers.override_stat"
#define MAX_LINKS 40

void dfb_close_layers(stage *st)
{
	for (size_t i = 0; i < st->n_layer_fds; i++)
		if (st->layer_fds[i] >= 0)
			close(st->layer_fds[i]);
	free(st->layer_fds);
	st->layer_fds = NULL;
	st->n_layer_fds = 0;
}

static int open_layers(dfb *b, stage *st)
{
	if (st->layers_open || !st->base)
		return 0;
	st->layers_open = true;
	if (!(st->layer_fds = calloc(st->base->n_layers + 1, sizeof *st->layer_fds)))
		return kb_err_oom(b->e, "layers");
	for (size_t i = st->base->n_layers; i-- > 0;) {    /* top first */
		int fd = openat(b->o->store->layers_fd, st->base->layers[i].diff_id.hex,
				O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			return kb_err(b->e, errno, "base image %s: layer sha256:%.12s", st->ref, st->base->layers[i].diff_id.hex);
		st->layer_fds[st->n_layer_fds++] = fd;
	}
	return 0;
}

/* path in the base's layers: the topmost layer that has it (a deleted
 * one is not there).  *ret_fd is that layer's directory. */
static bool base_stat(dfb *b, stage *st, const char *path, struct stat *ret, int *ret_fd)
{
	if (!*path || open_layers(b, st) < 0) {
		*b->e = (kb_error){ 0 };
		return false;
	}
	for (size_t i = 0; i < st->n_layer_fds; i++) {
		if (fstatat(st->layer_fds[i], path, ret, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISCHR(ret->st_mode) && ret->st_rdev == makedev(0, 0))
			return false;
		*ret_fd = st->layer_fds[i];
		return true;
	}
	return false;
}

/* Owner and mode as the base image has them: the override import
 * recorded, else what the disk says (import unpacks as root of a user
 * namespace, so files there are root's). */
static void base_meta(int layerfd, const char *path, const struct stat *st, fs_node *n)
{
	char buf[64];
	unsigned long uid, gid, mode;
	n->mode = st->st_mode & 07777;
	n->uid = n->gid = 0;
	_cleanup_close_ int fd = openat(layerfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	ssize_t len = fd >= 0 ? fgetxattr(fd, XATTR_OVERRIDE, buf, sizeof buf - 1) : -1;
	if (len <= 0)
		return;
	buf[len] = 0;
	if (sscanf(buf, "%lu:%lu:%lo", &uid, &gid, &mode) == 3) {
		n->uid = (unsigned)uid;
		n->gid = (unsigned)gid;
		n->mode = (unsigned)mode & 07777;
	}
}

/* The target of path when it is a symlink (in what the stage added, else
 * in its base), or NULL. */
static char *link_of(dfb *b, stage *st, const char *path)
{
	const fs_node *n = fs_find(&st->fs, path);
	struct stat sb;
	int lfd;
	if (n)
		return n->type == '2' ? xstrdup(n->link) : NULL;
	if (!base_stat(b, st, path, &sb, &lfd) || !S_ISLNK(sb.st_mode))
		return NULL;
	char buf[4096];
	ssize_t len = readlinkat(lfd, path, buf, sizeof buf - 1);
	if (len <= 0)
		return NULL;
	buf[len] = 0;
	return xstrdup(buf);
}

/* path with every symlink among its parents followed, inside the stage's
 * root (as docker build follows them: COPY x /bin/ on an image whose
 * /bin links to usr/bin writes usr/bin/x). */
static char *resolve(dfb *b, stage *st, const char *path)
{
	char *cur = dfb_clean(path);
	for (int hops = 0; cur && hops < MAX_LINKS; hops++) {
		char *slash = NULL, *link = NULL;
		for (char *s = strchr(cur, '/'); s && !link; s = strchr(s + 1, '/')) {
			*s = 0;
			link = link_of(b, st, cur);
			*s = '/';
			slash = s;
		}
		if (!link)
			return cur;
		*slash = 0;
		const char *dir = strrchr(cur, '/');
		_cleanup_free_ char *joined = link[0] == '/' ? xasprintf("%s/%s", link, slash + 1)
							     : xasprintf("%.*s/%s/%s", dir ? (int)(dir - cur) : 0, cur, link, slash + 1);
		free(link);
		free(cur);
		cur = dfb_clean(joined);
	}
	return cur;
}

static bool is_dir(dfb *b, stage *st, const char *path)
{
	const fs_node *n = fs_find(&st->fs, path);
	struct stat sb;
	int lfd;
	if (!*path)
		return true;
	if (n)
		return n->type == '5';
	return base_stat(b, st, path, &sb, &lfd) && S_ISDIR(sb.st_mode);
}

/* Directory entries for every parent of path the stage does not have
 * yet, with the base's owner and mode where it has them. */
static int parents(dfb *b, stage *st, const char *path)
{
	_cleanup_free_ char *p = xstrdup(path);
	for (char *s = strchr(p, '/'); s; s = strchr(s + 1, '/')) {
		*s = 0;
		if (!fs_find(&st->fs, p)) {
			struct stat sb;
			int lfd;
			bool in_base = base_stat(b, st, p, &sb, &lfd);
			if (in_base && !S_ISDIR(sb.st_mode))
				return kb_errx(b->e, ENOTDIR, "/%s: not a directory in the base image", p);
			fs_node *n = fs_put(&st->fs, p);
			if (!n)
				return kb_err_oom(b->e, p);
			n->type = '5';
			n->mode = 0755;
			if (in_base)
				base_meta(lfd, p, &sb, n);
		}
		*s = '/';
	}
	return 0;
}

int dfb_workdir_node(dfb *b, stage *st, const char *path, kb_error *e)
{
	_cleanup_free_ char *p = resolve(b, st, path);
	(void)e;
	if (!p || !*p || is_dir(b, st, p))
		return 0;
	int r = parents(b, st, p);
	fs_node *n = r < 0 ? NULL : fs_put(&st->fs, p);
	if (r == 0 && !n)
		r = kb_err_oom(b->e, p);
	if (n) {
		n->type = '5';
		n->mode = 0755;
	}
	return r;
}

/* ---- COPY and ADD ---- */

typedef struct copy_opts {
	bool chmod_set;
	unsigned chmod;
	unsigned uid, gid;
	bool add;
	const df_instr *in;
} copy_opts;

/* A node at dest (resolved, parents made) with the copy's owner and,
 * for files and directories, mode. */
static fs_node *put(dfb *b, stage *st, const copy_opts *co, const char *dest, char type, unsigned mode)
{
	_cleanup_free_ char *p = resolve(b, st, dest);
	if (!p || !*p || parents(b, st, p) < 0)
		return NULL;
	fs_node *n = fs_put(&st->fs, p);
	if (!n)
		return NULL;
	n->type = type;
	n->mode = co->chmod_set && type != '2' ? co->chmod : mode;
	n->uid = co->uid;
	n->gid = co->gid;
	return n;
}

static int put_fail(dfb *b, const copy_opts *co, const char *dest)
{
	if (kb_err_set(b->e))
		return -EIO;
	return dfb_fail(b, co->in, EINVAL, "%s: cannot be written (the root itself, or out of memory)", dest);
}

static bool is_archive(int fd)
{
	unsigned char h[512] = { 0 };
	ssize_t n = pread(fd, h, sizeof h, 0);
	return n >= 4 && ((h[0] == 0x1f && h[1] == 0x8b) || !memcmp(h, "BZh", 3) || !memcmp(h, "\xfd" "7zXZ", 5) ||
			  !memcmp(h, "\x28\xb5\x2f\xfd", 4) || (n >= 262 && !memcmp(h + 257, "ustar", 5)));
}

/* One entry of the context (src, relative to it) at dest. */
static int ctx_entry(dfb *b, stage *st, const copy_opts *co, int dfd, const char *name, const char *src,
		     const char *dest, int depth);

static int ctx_dir(dfb *b, stage *st, const copy_opts *co, int dfd, const char *src, const char *dest, int depth)
{
	DIR *d = opendir_at(dfd);
	struct dirent *de;
	int r = 0;
	if (!d)
		return kb_err(b->e, errno, "%s", src);
	while (r == 0 && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		_cleanup_free_ char *s = *src ? xasprintf("%s/%s", src, de->d_name) : xstrdup(de->d_name);
		_cleanup_free_ char *t = xasprintf("%s/%s", dest, de->d_name);
		r = ctx_entry(b, st, co, dfd, de->d_name, s, t, depth + 1);
	}
	closedir(d);
	return r;
}

static int ctx_entry(dfb *b, stage *st, const copy_opts *co, int dfd, const char *name, const char *src,
		     const char *dest, int depth)
{
	struct stat sb;
	fs_node *n;
	if (depth > 256)
		return dfb_fail(b, co->in, ELOOP, "%s: too deep", src);
	if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return kb_err(b->e, errno, "%s", src);
	if (S_ISDIR(sb.st_mode)) {
		_cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			return kb_err(b->e, errno, "%s", src);
		if (!(n = put(b, st, co, dest, '5', sb.st_mode & 07777)))
			return put_fail(b, co, dest);
		return ctx_dir(b, st, co, fd, src, dest, depth);
	}
	if (S_ISLNK(sb.st_mode)) {
		char buf[4096];
		ssize_t len = readlinkat(dfd, name, buf, sizeof buf - 1);
		if (len < 0)
			return kb_err(b->e, errno, "%s", src);
		buf[len] = 0;
		if (!(n = put(b, st, co, dest, '2', 0777)))
			return put_fail(b, co, dest);
		n->link = xstrdup(buf);
		return 0;
	}
	if (!S_ISREG(sb.st_mode))
		return dfb_fail(b, co->in, EINVAL, "%s: not a file, directory or symlink", src);
	if (!(n = put(b, st, co, dest, '0', sb.st_mode & 07777)))
		return put_fail(b, co, dest);
	n->size = (uint64_t)sb.st_size;
	n->srcdir = b->ctxfd;
	n->src = xstrdup(src);
	return 0;
}

/* A source in the context: followed if it is a symlink (inside the
 * context), a directory's content copied into dest. */
static int from_context(dfb *b, stage *st, const copy_opts *co, const char *word, const char *dest, bool dest_dir)
{
	_cleanup_free_ char *src = dfb_clean(word);
	struct open_how how = { .flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	struct stat sb;

	if (strpbrk(word, "*?["))
		return dfb_fail(b, co->in, ENOTSUP, "%s: wildcards are not supported", word);
	if (co->add && strstr(word, "://"))
		return dfb_fail(b, co->in, ENOTSUP, "ADD %s: downloads are not possible in a release build", word);
	_cleanup_close_ int fd = (int)syscall(SYS_openat2, b->ctxfd, *src ? src : ".", &how, sizeof how);
	if (fd < 0 || fstat(fd, &sb) < 0)
		return dfb_fail(b, co->in, errno, "%s: not found in the build context (%s)", word, strerror(errno));
	if (S_ISDIR(sb.st_mode)) {
		if (*dest && !fs_find(&st->fs, dest) && !is_dir(b, st, dest) && !put(b, st, co, dest, '5', sb.st_mode & 07777))
			return put_fail(b, co, dest);
		return ctx_dir(b, st, co, fd, src, dest, 0);
	}
	if (!S_ISREG(sb.st_mode))
		return dfb_fail(b, co->in, EINVAL, "%s: not a file or directory", word);
	if (co->add && is_archive(fd))
		return dfb_fail(b, co->in, ENOTSUP, "ADD %s: ADD unpacks a local archive, which kbuild-ns does not do "
				"(use COPY to copy it as it is)", word);
	const char *base = strrchr(src, '/');
	_cleanup_free_ char *target = dest_dir ? xasprintf("%s%s%s", dest, *dest ? "/" : "", base ? base + 1 : src)
					       : xstrdup(dest);
	fs_node *n = put(b, st, co, target, '0', sb.st_mode & 07777);
	if (!n)
		return put_fail(b, co, target);
	n->size = (uint64_t)sb.st_size;
	n->srcdir = b->ctxfd;
	n->src = xstrdup(src);
	return 0;
}

/* Copy node s of another stage to dest. */
static int copy_node(dfb *b, stage *st, const copy_opts *co, const fs_node *s, const char *dest)
{
	fs_node *n = put(b, st, co, dest, s->type, s->mode);
	if (!n)
		return put_fail(b, co, dest);
	n->size = s->size;
	n->srcdir = s->srcdir;
	n->src = s->src ? xstrdup(s->src) : NULL;
	n->link = s->link ? xstrdup(s->link) : NULL;
	n->has_cap = s->has_cap;
	memcpy(n->cap, s->cap, sizeof n->cap);
	return 0;
}

/* A source in another stage (or image): what that stage added, else a
 * file of its base image. */
static int from_stage(dfb *b, stage *st, const copy_opts *co, stage *from, const char *word, const char *dest,
		      bool dest_dir)
{
	_cleanup_free_ char *src = resolve(b, from, word);
	if (!src || !*src)
		return dfb_fail(b, co->in, ENOTSUP, "COPY --from of a stage's whole root is not supported");
	const fs_node *s = fs_find(&from->fs, src);
	const char *base = strrchr(src, '/');
	_cleanup_free_ char *target = (s && s->type == '5') || !dest_dir ? xstrdup(dest)
					: xasprintf("%s%s%s", dest, *dest ? "/" : "", base ? base + 1 : src);
	if (s && s->type != '5')
		return copy_node(b, st, co, s, target);
	if (s) {    /* a directory: it and everything under it */
		size_t pl = strlen(src);
		int r = copy_node(b, st, co, s, target);
		for (size_t i = 0; r == 0 && i < from->fs.n; i++) {
			const fs_node *c = from->fs.v[i];
			if (!strncmp(c->path, src, pl) && c->path[pl] == '/') {
				_cleanup_free_ char *t = xasprintf("%s%s", target, c->path + pl);
				r = copy_node(b, st, co, c, t);
			}
		}
		return r;
	}
	struct stat sb;
	int lfd;
	if (from->ref && strcasecmp(from->ref, "scratch") && !from->base) {
		*b->e = from->base_err;
		kb_err_prefix(b->e, "%s:%u: COPY --from", b->df->name, co->in->line);
		return -ENOENT;
	}
	if (!base_stat(b, from, src, &sb, &lfd))
		return dfb_fail(b, co->in, ENOENT, "%s: not found in stage %s", word, from->name ? from->name : from->ref);
	if (!S_ISREG(sb.st_mode))
		return dfb_fail(b, co->in, ENOTSUP, "%s: only files can be copied from a base image", word);
	fs_node tmp = { .type = '0', .size = (uint64_t)sb.st_size, .srcdir = lfd, .src = src };
	base_meta(lfd, src, &sb, &tmp);
	return copy_node(b, st, co, &tmp, target);
}

static int copy_flags(dfb *b, const df_instr *in, stage *st, copy_opts *co, char **ret_from)
{
	for (size_t i = 0; i < in->n_flags; i++) {
		const char *name = in->flags[i].name;
		_cleanup_free_ char *v = NULL;
		char *end;
		int r;
		if (!in->flags[i].value)
			return dfb_fail(b, in, EINVAL, "--%s needs a value", name);
		if ((r = dfb_expand(b, st, in, in->flags[i].value, &v, b->e)) < 0)
			return r;
		if (!strcmp(name, "chmod")) {
			co->chmod = (unsigned)strtoul(v, &end, 8);
			if (!*v || *end || co->chmod > 07777)
				return dfb_fail(b, in, EINVAL, "--chmod=%s: only an octal mode is supported", v);
			co->chmod_set = true;
		} else if (!strcmp(name, "chown")) {
			co->uid = (unsigned)strtoul(v, &end, 10);
			co->gid = *end == ':' ? (unsigned)strtoul(end + 1, &end, 10) : co->uid;
			if (!*v || *end)
				return dfb_fail(b, in, EINVAL, "--chown=%s: only numeric UID[:GID] is supported", v);
		} else if (!strcmp(name, "from") && !co->add) {
			*ret_from = steal_ptr(v);
		} else {
			return dfb_fail(b, in, ENOTSUP, "%s --%s is not supported", dockerfile_kind_name(in->kind), name);
		}
	}
	return 0;
}

/* --from=NAME that names no stage: an image, as a stage of its own. */
static int image_stage(dfb *b, const df_instr *in, const char *ref, stage *tmp)
{
	int r;
	tmp->ref = xstrdup(ref);
	tmp->workdir = xstrdup("");
	platform_host(&tmp->plat);
	if (b->o->platform)
		tmp->plat = *b->o->platform;
	r = dfb_load_base(b, tmp, in, b->o->platform != NULL, true);
	return r;
}

/* The sources of one COPY or ADD, each to dest. */
static int copy_sources(dfb *b, stage *st, const copy_opts *co, stage *from)
{
	const df_instr *in = co->in;
	_cleanup_free_ char *dword = NULL;
	int r = dfb_expand(b, st, in, in->args[in->n_args - 1], &dword, b->e);
	if (r < 0)
		return r;
	size_t n_src = in->n_args - 1, dl = strlen(dword);
	_cleanup_free_ char *joined = dword[0] == '/' ? xstrdup(dword) : xasprintf("%s/%s", st->workdir, dword);
	_cleanup_free_ char *dest = dfb_clean(joined);
	_cleanup_free_ char *rdest = dest ? resolve(b, st, dest) : NULL;
	/* A directory when docker build takes it as one. */
	bool dest_dir = n_src > 1 || (dl && dword[dl - 1] == '/') || !strcmp(dword, ".") ||
			(dl >= 2 && !strcmp(dword + dl - 2, "/.")) || (rdest && is_dir(b, st, rdest));
	if (!dest)
		return kb_err_oom(b->e, dword);
	for (size_t i = 0; r == 0 && i < n_src; i++) {
		_cleanup_free_ char *w = NULL;
		if ((r = dfb_expand(b, st, in, in->args[i], &w, b->e)) < 0)
			break;
		r = from ? from_stage(b, st, co, from, w, dest, dest_dir) : from_context(b, st, co, w, dest, dest_dir);
	}
	return r;
}

int dfb_copy(dfb *b, stage *st, const df_instr *in, kb_error *e)
{
	copy_opts co = { .add = in->kind == DF_ADD, .in = in };
	_cleanup_free_ char *from = NULL;
	stage *src_stage = NULL, tmp = { 0 };
	int r;

	(void)e;
	if ((r = copy_flags(b, in, st, &co, &from)) < 0)
		return r;
	if (from && !(src_stage = dfb_stage(b, from, (size_t)(st - b->st)))) {
		src_stage = &tmp;
		r = image_stage(b, in, from, &tmp);
	}
	if (r == 0 && !from && faccessat(b->ctxfd, ".dockerignore", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		r = dfb_fail(b, in, ENOTSUP, "the build context has a .dockerignore, which is not supported");
	if (r == 0)
		r = copy_sources(b, st, &co, src_stage);
	if (src_stage == &tmp) {
		free(tmp.ref);
		free(tmp.workdir);
		image_rec_free(tmp.base);
		json_decref(tmp.config);
		dfb_close_layers(&tmp);
	}
	return r;
}

/* ---- RUN setcap ---- */

static const char *const cap_names[] = {
	"chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid", "setuid", "setpcap",
	"linux_immutable", "net_bind_service", "net_broadcast", "net_admin", "net_raw", "ipc_lock", "ipc_owner",
	"sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct", "sys_admin", "sys_boot", "sys_nice",
	"sys_resource", "sys_time", "sys_tty_config", "mknod", "lease", "audit_write", "audit_control", "setfcap",
	"mac_override", "mac_admin", "syslog", "wake_alarm", "block_suspend", "audit_read", "perfmon", "bpf",
	"checkpoint_restore",
};

/* "cap_a,cap_b" (or "all") as a mask; 0 with *ok false for a bad name. */
static uint64_t cap_list(const char *s, size_t n, bool *ok)
{
	uint64_t m = 0;
	*ok = n > 0;
	while (n && *ok) {
		size_t w = 0;
		while (w < n && s[w] != ',')
			w++;
		bool found = false;
		if (w == 3 && !strncasecmp(s, "all", 3)) {
			m |= (1ull << ARRAY_SIZE(cap_names)) - 1;
			found = true;
		}
		for (size_t i = 0; !found && i < ARRAY_SIZE(cap_names); i++)
			if (w == 4 + strlen(cap_names[i]) && !strncasecmp(s, "cap_", 4) && !strncasecmp(s + 4, cap_names[i], w - 4)) {
				m |= 1ull << i;
				found = true;
			}
		*ok = found;
		s += w + (w < n);
		n -= w + (w < n);
	}
	return m;
}

/* libcap's text form, clauses "CAPS" followed by operators "=", "+" or
 * "-" with flags from "eip". */
int df_caps_v2(const char *text, unsigned char out[20], kb_error *e)
{
	uint64_t perm = 0, inh = 0, eff = 0;
	for (const char *s = text; *s;) {
		while (*s == ' ')
			s++;
		size_t n = strcspn(s, "=+- ");
		bool ok;
		uint64_t caps = cap_list(s, n, &ok);
		if (!ok || !strchr("=+-", s[n]) || !s[n])
			return kb_errx(e, EINVAL, "setcap %s: not a capability text such as cap_net_bind_service=+ep", text);
		s += n;
		while (*s && strchr("=+-", *s)) {
			char op = *s++;
			uint64_t *sets[3] = { &eff, &inh, &perm };
			if (op == '=')
				perm &= ~caps, inh &= ~caps, eff &= ~caps;
			for (; *s && strchr("eipEIP", *s); s++) {
				uint64_t *m = sets[strchr("eip", *s | 0x20) - "eip"];
				*m = op == '-' ? *m & ~caps : *m | caps;
			}
		}
	}
	/* struct vfs_cap_data, little-endian: magic_etc (VFS_CAP_REVISION_2,
	 * VFS_CAP_FLAGS_EFFECTIVE when any capability is effective), then
	 * {permitted, inheritable} of capabilities 0-31 and 32-63. */
	uint32_t w[5] = { 0x02000000u | (eff ? 1u : 0u), (uint32_t)perm, (uint32_t)inh, (uint32_t)(perm >> 32),
			  (uint32_t)(inh >> 32) };
	for (int i = 0; i < 5; i++)
		for (int k = 0; k < 4; k++)
			out[i * 4 + k] = (unsigned char)(w[i] >> (8 * k));
	return perm || inh ? 1 : 0;
}

/* RUN's words: the exec form's, or the shell form split at blanks and
 * expanded as the shell would (quotes removed). */
static int run_words(dfb *b, stage *st, const df_instr *in, char ***ret, size_t *ret_n)
{
	char **v = calloc(in->json ? in->n_args + 1 : strlen(in->args[0]) + 1, sizeof *v);
	size_t n = 0;
	if (!v)
		return kb_err_oom(b->e, "RUN");
	*ret = v;
	if (in->json) {
		for (size_t i = 0; i < in->n_args; i++)
			v[n++] = xstrdup(in->args[i]);
		*ret_n = n;
		return 0;
	}
	for (const char *s = in->args[0]; *s;) {
		while (*s == ' ' || *s == '\t')
			s++;
		size_t w = strcspn(s, " \t");
		if (!w)
			break;
		_cleanup_free_ char *raw = strndup(s, w);
		int r = raw ? dfb_expand(b, st, in, raw, &v[n], b->e) : kb_err_oom(b->e, "RUN");
		if (r < 0) {
			*ret_n = n;
			return r;
		}
		n++;
		s += w;
	}
	*ret_n = n;
	return 0;
}

int dfb_run(dfb *b, stage *st, const df_instr *in, kb_error *e)
{
	char **w = NULL;
	size_t n = 0;
	int r = run_words(b, st, in, &w, &n);
	const char *prog = n ? strrchr(w[0], '/') : NULL;
	prog = prog ? prog + 1 : n ? w[0] : "";

	(void)e;
	if (r == 0 && (n != 3 || strcmp(prog, "setcap") || w[1][0] == '-'))
		r = dfb_fail(b, in, ENOTSUP, "RUN %s: kbuild-ns runs no container while it builds an image; the only RUN "
			     "it does is \"setcap CAPS FILE\", which it writes into the layer itself",
			     in->json ? "[...]" : in->args[0]);
	unsigned char cap[20];
	int have = r == 0 ? df_caps_v2(w[1], cap, b->e) : -1;
	if (r == 0 && have < 0) {
		char m[sizeof b->e->msg];
		snprintf(m, sizeof m, "%s", b->e->msg);
		*b->e = (kb_error){ 0 };
		r = dfb_fail(b, in, EINVAL, "%s", m);
	}
	if (r == 0) {
		_cleanup_free_ char *joined = w[2][0] == '/' ? xstrdup(w[2]) : xasprintf("%s/%s", st->workdir, w[2]);
		_cleanup_free_ char *path = resolve(b, st, joined);
		fs_node *node = path ? fs_find(&st->fs, path) : NULL;
		struct stat sb;
		int lfd;
		if (!node && path && base_stat(b, st, path, &sb, &lfd) && S_ISREG(sb.st_mode)) {
			fs_node tmp = { .type = '0', .size = (uint64_t)sb.st_size, .srcdir = lfd, .src = path };
			copy_opts co = { .in = in };
			base_meta(lfd, path, &sb, &tmp);
			if ((r = copy_node(b, st, &co, &tmp, path)) == 0)
				node = fs_find(&st->fs, path);
		}
		if (r == 0 && (!node || node->type != '0'))
			r = dfb_fail(b, in, ENOENT, "setcap: %s: no such file in this stage", w[2]);
		if (r == 0) {
			node->has_cap = have > 0;
			memcpy(node->cap, cap, sizeof cap);
		}
	}
	for (size_t i = 0; i < n; i++)
		free(w[i]);
	free(w);
	return r;
}
