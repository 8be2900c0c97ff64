#!/usr/bin/env python3
"""Canonical listings of file trees, so that two trees can be compared with diff.

    treecmp.py list DIR
        one line per entry below DIR (DIR itself excluded), sorted by path:
            PATH <TAB> TYPE <TAB> PERM <TAB> DETAIL
        TYPE   d f l p c b s (directory, file, symlink, fifo, char/block
               device, socket)
        PERM   permission bits in octal with setuid/setgid masked out (the
               store keeps them only in an xattr); "-" for symlinks
        DETAIL file: sha256 of the contents and the size; symlink: target;
               device: major,minor
        Owners and times are left out: they legitimately differ between tools.

    treecmp.py merged LAYER_TOP [LAYER ...]
        the same listing of the overlay-merged view of kbuild-ns layer
        directories, computed here instead of mounted: a 0/0 character
        device is a whiteout, a directory with the xattr
        user.overlay.opaque=y hides what the layers below have at that path.
        Layers are given top first, as overlay's lowerdir= takes them.

    treecmp.py stat PATH
        one line describing PATH itself (not following a symlink):
            type=T mode=MMMMM rdev=MAJ,MIN nlink=N ino=I uid=U gid=G [XATTR=VALUE ...]
        mode is the full octal mode, setuid/setgid included; every user.*
        xattr is shown.

A file the caller cannot read (mode 000) is read anyway when the caller owns
it: its mode is raised for the read and put back (run inside `unshare -Ur`
to avoid even that).
"""

import hashlib
import os
import stat
import sys


def show(path):
    """A path in a form that diff shows on one line."""
    s = path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return s.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")


def with_access(path, st, want, fn):
    """fn(), and if that is refused on a file we own, again with WANT mode
    bits added for the duration."""
    try:
        return fn()
    except PermissionError:
        if st.st_uid != os.geteuid():
            raise
        os.chmod(path, stat.S_IMODE(st.st_mode) | want)
        try:
            return fn()
        finally:
            os.chmod(path, stat.S_IMODE(st.st_mode))


def file_digest(path, st):
    def read():
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 16), b""):
                h.update(chunk)
        return h.hexdigest()
    try:
        return with_access(path, st, stat.S_IRUSR, read)
    except OSError as e:
        return "unreadable(%s)" % e.strerror


def list_dir(path, st):
    return sorted(with_access(path, st, stat.S_IRUSR | stat.S_IXUSR,
                              lambda: os.listdir(path)))


def line(rel, path, st):
    m = st.st_mode
    perm = "%04o" % (stat.S_IMODE(m) & ~(stat.S_ISUID | stat.S_ISGID))
    if stat.S_ISDIR(m):
        return "%s\td\t%s\t" % (show(rel), perm)
    if stat.S_ISREG(m):
        return "%s\tf\t%s\t%s %d" % (show(rel), perm, file_digest(path, st), st.st_size)
    if stat.S_ISLNK(m):
        return "%s\tl\t-\t%s" % (show(rel), show(os.readlink(path)))
    if stat.S_ISFIFO(m):
        return "%s\tp\t%s\t" % (show(rel), perm)
    if stat.S_ISCHR(m) or stat.S_ISBLK(m):
        t = "c" if stat.S_ISCHR(m) else "b"
        return "%s\t%s\t%s\t%d,%d" % (show(rel), t, perm,
                                      os.major(st.st_rdev), os.minor(st.st_rdev))
    if stat.S_ISSOCK(m):
        return "%s\ts\t%s\t" % (show(rel), perm)
    return "%s\t?\t%s\t" % (show(rel), perm)


def walk(root, rel, out):
    d = os.path.join(root, rel) if rel else root
    for name in list_dir(d, os.lstat(d)):
        r = os.path.join(rel, name) if rel else name
        p = os.path.join(root, r)
        st = os.lstat(p)
        out.append(line(r, p, st))
        if stat.S_ISDIR(st.st_mode):
            walk(root, r, out)


# ---- overlay semantics ----------------------------------------------------

def is_whiteout(st):
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def is_opaque(path):
    try:
        return os.getxattr(path, "user.overlay.opaque", follow_symlinks=False) == b"y"
    except OSError:
        return False


def merged_walk(layers, rel, out):
    """List the merged directory REL, to which LAYERS (top first) contribute:
    each has a directory at REL, and none below an opaque one is included."""
    decided = set()
    for i, layer in enumerate(layers):
        d = os.path.join(layer, rel) if rel else layer
        for name in list_dir(d, os.lstat(d)):
            if name in decided:
                continue
            decided.add(name)
            r = os.path.join(rel, name) if rel else name
            p = os.path.join(layer, r)
            st = os.lstat(p)
            if is_whiteout(st):
                continue            # hides NAME in every layer below
            out.append(line(r, p, st))
            if not stat.S_ISDIR(st.st_mode):
                continue
            # The directory merges with the same directory in the layers
            # below, down to a non-directory or whiteout (which ends it) and
            # stopping after an opaque one.
            sub = [layer]
            if not is_opaque(p):
                for lower in layers[i + 1:]:
                    try:
                        lst = os.lstat(os.path.join(lower, r))
                    except FileNotFoundError:
                        continue
                    if not stat.S_ISDIR(lst.st_mode):
                        break
                    sub.append(lower)
                    if is_opaque(os.path.join(lower, r)):
                        break
            merged_walk(sub, r, out)


def stat_line(path):
    st = os.lstat(path)
    m = st.st_mode
    t = {stat.S_IFDIR: "d", stat.S_IFREG: "f", stat.S_IFLNK: "l", stat.S_IFIFO: "p",
         stat.S_IFCHR: "c", stat.S_IFBLK: "b", stat.S_IFSOCK: "s"}.get(stat.S_IFMT(m), "?")
    parts = ["type=" + t, "mode=%05o" % stat.S_IMODE(m),
             "rdev=%d,%d" % (os.major(st.st_rdev), os.minor(st.st_rdev)),
             "nlink=%d" % st.st_nlink, "ino=%d" % st.st_ino,
             "uid=%d" % st.st_uid, "gid=%d" % st.st_gid]
    try:
        names = sorted(os.listxattr(path, follow_symlinks=False))
    except OSError:
        names = []
    for n in names:
        if n.startswith("user."):
            try:
                v = os.getxattr(path, n, follow_symlinks=False)
                v = v.decode("utf-8", "backslashreplace")
            except PermissionError:     # user.* needs read access
                v = "<unreadable>"
            parts.append("%s=%s" % (n, v))
    return " ".join(parts)


def main(argv):
    if len(argv) >= 2 and argv[0] == "list":
        out = []
        walk(argv[1], "", out)
    elif len(argv) >= 2 and argv[0] == "merged":
        layers = argv[1:]
        out = []
        # the merged root: every layer's root, down to the first opaque one
        roots = []
        for layer in layers:
            roots.append(layer)
            if is_opaque(layer):
                break
        merged_walk(roots, "", out)
        out.sort()
    elif len(argv) == 2 and argv[0] == "stat":
        try:
            out = [stat_line(argv[1])]
        except OSError as e:
            sys.stderr.write("treecmp: %s: %s\n" % (argv[1], e.strerror))
            return 1
    else:
        sys.stderr.write(__doc__)
        return 2
    out.sort()
    sys.stdout.write("".join(l + "\n" for l in out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
