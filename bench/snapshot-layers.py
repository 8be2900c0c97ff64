#!/usr/bin/python3
"""Helpers for bench/import.sh: image layers from snapshots of a real root
filesystem (mmdebstrap's, a GB of Debian packages), written from the trees
on disk and streamed, unlike the small images tests/fixtures/ocilib.py
makes in memory.

  snapshot-layers.py layer OLD|- NEW OUT.tar    diff of two trees as an OCI layer tar
  snapshot-layers.py top BASE OUT.tar           the small top layer (whiteouts, opaque dir)
  snapshot-layers.py layout DIR TAG CMP:TAR:BLOB...   OCI image layout from layer files
                                                (hard-linked, not read into memory)

A layer holds every entry of NEW that is new or whose metadata changed
(type, mode, owner, size, mtime, link target, device number: the same test
as Docker's tree diff), every ancestor directory of such an entry (as an
overlay upper directory would), and a `.wh.NAME` whiteout for every entry of
OLD that is gone from NEW.  Paths that a container build never keeps
(/dev, /proc, /sys, /run and /tmp contents, apt's lists and package cache)
are left out, as a Dockerfile that cleans up after apt-get would.

Python 3 standard library only.
"""
import hashlib
import io
import json
import os
import shutil
import stat
import sys
import tarfile

SKIP_CONTENTS = ("dev", "proc", "sys", "run", "tmp",
                 "var/cache/apt", "var/lib/apt/lists", "var/log/apt",
                 "var/cache/debconf")
# mmdebstrap leaves these behind inside the chroot while hooks run.
SKIP_NAMES = ("etc/apt/apt.conf.d/99mmdebstrap", "usr/sbin/policy-rc.d",
              "usr/sbin/start-stop-daemon.REAL")


def skipped(rel):
    if rel in SKIP_NAMES:
        return True
    return any(rel.startswith(p + "/") for p in SKIP_CONTENTS)


def walk_sorted(root, rel=""):
    """Plain recursive sorted walk: (relpath, lstat), a directory before its contents."""
    full = os.path.join(root, rel) if rel else root
    for name in sorted(os.listdir(full)):
        sub = f"{rel}/{name}" if rel else name
        if skipped(sub):
            continue
        st = os.lstat(os.path.join(root, sub))
        yield sub, st
        if stat.S_ISDIR(st.st_mode):
            yield from walk_sorted(root, sub)


def same(a, b):
    if stat.S_IFMT(a.st_mode) != stat.S_IFMT(b.st_mode):
        return False
    if (a.st_mode, a.st_uid, a.st_gid) != (b.st_mode, b.st_uid, b.st_gid):
        return False
    if int(a.st_mtime) != int(b.st_mtime):
        return False
    if stat.S_ISREG(a.st_mode) and a.st_size != b.st_size:
        return False
    if (stat.S_ISCHR(a.st_mode) or stat.S_ISBLK(a.st_mode)) and a.st_rdev != b.st_rdev:
        return False
    return True


def new_tar(out):
    return tarfile.open(out, "w", format=tarfile.PAX_FORMAT)


def add(tf, root, rel):
    """Add root/rel to the layer with numeric owners only (hard links of this
    layer become link members: tarfile tracks inodes per archive)."""
    full = os.path.join(root, rel)
    ti = tf.gettarinfo(full, arcname=rel)
    ti.uname = ti.gname = ""
    if ti.isreg():
        with open(full, "rb") as f:
            tf.addfile(ti, f)
    else:
        tf.addfile(ti)


def whiteout(tf, rel, mtime):
    parent, name = os.path.split(rel)
    ti = tarfile.TarInfo(os.path.join(parent, ".wh." + name))
    ti.mtime = mtime
    ti.mode = 0o600
    tf.addfile(ti, io.BytesIO(b""))


def cmd_layer(old, new, out):
    emitted = set()
    wanted = []
    for rel, st in walk_sorted(new):
        if old != "-":
            try:
                ost = os.lstat(os.path.join(old, rel))
                if same(ost, st):
                    continue
            except FileNotFoundError:
                pass
        wanted.append(rel)
    # Ancestors of every changed entry, like an overlay upper directory.
    need = set(wanted)
    for rel in wanted:
        p = os.path.dirname(rel)
        while p and p not in need:
            need.add(p)
            p = os.path.dirname(p)
    gone = []
    if old != "-":
        skip_under = None
        for rel, _ in walk_sorted(old):
            if skip_under and rel.startswith(skip_under):
                continue
            if not os.path.lexists(os.path.join(new, rel)):
                gone.append(rel)
                skip_under = rel + "/"
                p = os.path.dirname(rel)
                while p and p not in need:
                    need.add(p)
                    p = os.path.dirname(p)
    with new_tar(out) as tf:
        order = sorted(need, key=lambda r: r.split("/"))
        for rel in order:
            add(tf, new, rel)
            emitted.add(rel)
        mtime = int(os.lstat(new).st_mtime)
        for rel in gone:
            whiteout(tf, rel, mtime)
    print(f"{out}: {len(emitted)} entries, {len(gone)} whiteouts", file=sys.stderr)


def cmd_top(base, out):
    """A small kube-cross-like top layer over BASE: a few files added, some
    deleted (file and directory whiteouts), one directory made opaque."""
    mtime = 1716163200  # fixed: the layer is reproducible
    def exists(rel):
        return os.path.lexists(os.path.join(base, rel))

    def reg(tf, rel, data, mode=0o644, uid=0, gid=0):
        ti = tarfile.TarInfo(rel)
        ti.size, ti.mode, ti.uid, ti.gid, ti.mtime = len(data), mode, uid, gid, mtime
        tf.addfile(ti, io.BytesIO(data))

    def dir_(tf, rel, mode=0o755):
        ti = tarfile.TarInfo(rel)
        ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, mode, mtime
        tf.addfile(ti)

    n_wh = 0
    with new_tar(out) as tf:
        # Deleted files and a deleted directory tree (the lower layers keep them).
        for d in ("usr", "usr/share", "usr/share/doc"):
            dir_(tf, d)
        for pkg in sorted(os.listdir(os.path.join(base, "usr/share/doc")))[:40]:
            if os.path.isdir(os.path.join(base, "usr/share/doc", pkg)) and \
               not os.path.islink(os.path.join(base, "usr/share/doc", pkg)):
                whiteout(tf, f"usr/share/doc/{pkg}", mtime)
                n_wh += 1
        # Single files deleted: the changelogs of the next 40 packages.
        for pkg in sorted(os.listdir(os.path.join(base, "usr/share/doc")))[40:80]:
            rel = f"usr/share/doc/{pkg}/changelog.Debian.gz"
            p = os.path.join(base, rel)
            if os.path.isfile(p) and not os.path.islink(p) and \
               not os.path.islink(os.path.dirname(p)):
                dir_(tf, f"usr/share/doc/{pkg}")
                whiteout(tf, rel, mtime)
                n_wh += 1
        for rel in ("usr/share/man", "usr/share/info"):
            if exists(rel):
                whiteout(tf, rel, mtime)
                n_wh += 1
        # An opaque directory: the lower layers' /etc/apt/sources.list.d
        # content is hidden and replaced.
        for d in ("etc", "etc/apt", "etc/apt/sources.list.d"):
            dir_(tf, d)
        reg(tf, "etc/apt/sources.list.d/.wh..wh..opq", b"", 0o600)
        reg(tf, "etc/apt/sources.list.d/bench.list",
            b"# kbuild-ns bench image: no extra sources\n")
        # New content: the kube-cross workdir and a few files.
        for d in ("go", "go/src", "go/src/k8s.io", "go/src/k8s.io/kubernetes", "go/bin"):
            dir_(tf, d, 0o777)
        dir_(tf, "etc/profile.d")
        reg(tf, "etc/profile.d/go.sh", b"export GOPATH=/go PATH=/go/bin:$PATH\n")
        for i in range(64):
            # Incompressible but reproducible content.
            data = b"".join(hashlib.sha256(b"%d:%d" % (i, j)).digest() for j in range(512))
            reg(tf, f"go/bin/tool{i:02d}", data, 0o755)
        ti = tarfile.TarInfo("go/bin/tool-latest")
        ti.type, ti.linkname, ti.mtime = tarfile.SYMTYPE, "tool63", mtime
        tf.addfile(ti)
        ti = tarfile.TarInfo("go/bin/tool-hardlink")
        ti.type, ti.linkname, ti.mtime = tarfile.LNKTYPE, "go/bin/tool00", mtime
        tf.addfile(ti)
        for d in ("usr/local", "usr/local/bin"):
            dir_(tf, d)
        reg(tf, "usr/local/bin/setuid-helper", b"#!/bin/sh\n", 0o4755)
    print(f"{out}: top layer, {n_wh} whiteouts, 1 opaque dir", file=sys.stderr)


def sha256_file(path, opener=open):
    h = hashlib.sha256()
    with opener(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def write_blob(layout, data):
    hexd = hashlib.sha256(data).hexdigest()
    with open(os.path.join(layout, "blobs/sha256", hexd), "wb") as f:
        f.write(data)
    return hexd, len(data)


def cmd_layout(layout, tag, specs):
    """specs: COMPRESSION:UNCOMPRESSED_TAR:COMPRESSED_BLOB (gzip|zstd|none)."""
    os.makedirs(os.path.join(layout, "blobs/sha256"), exist_ok=True)
    media = {"gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
             "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
             "none": "application/vnd.oci.image.layer.v1.tar"}
    layers, diff_ids, history = [], [], []
    for spec in specs:
        comp, tar, blob = spec.split(":", 2)
        diff_id = sha256_file(tar)
        digest = sha256_file(blob)
        dst = os.path.join(layout, "blobs/sha256", digest)
        if not os.path.exists(dst):
            try:
                os.link(blob, dst)
            except OSError:
                shutil.copyfile(blob, dst)
        layers.append({"mediaType": media[comp], "digest": "sha256:" + digest,
                       "size": os.path.getsize(blob)})
        diff_ids.append("sha256:" + diff_id)
        history.append({"created": "2024-05-20T00:00:00Z",
                        "created_by": f"kbuild-ns bench: {os.path.basename(tar)}"})
    config = {
        "created": "2024-05-20T00:00:00Z",
        "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                           "GOPATH=/go"],
                   "WorkingDir": "/go/src/k8s.io/kubernetes", "Cmd": ["/bin/bash"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }
    chex, csize = write_blob(layout, json.dumps(config, indent=1).encode())
    manifest = {"schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           "digest": "sha256:" + chex, "size": csize},
                "layers": layers}
    mhex, msize = write_blob(layout, json.dumps(manifest, indent=1).encode())
    index = {"schemaVersion": 2,
             "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                            "digest": "sha256:" + mhex, "size": msize,
                            "annotations": {"org.opencontainers.image.ref.name": tag}}]}
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    print(f"{layout}: {len(layers)} layers, manifest sha256:{mhex}", file=sys.stderr)


def main(argv):
    if len(argv) == 4 and argv[0] == "layer":
        cmd_layer(argv[1], argv[2], argv[3])
    elif len(argv) == 3 and argv[0] == "top":
        cmd_top(argv[1], argv[2])
    elif len(argv) >= 4 and argv[0] == "layout":
        cmd_layout(argv[1], argv[2], argv[3:])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
