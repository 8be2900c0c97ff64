#!/usr/bin/env python3
"""Seed corpora of the fuzz targets, made at build time (nothing binary is
committed): images and layers from the test suite's writer
(tests/fixtures/ocilib.py) and hostile archives (tests/fixtures/hostile.py),
plus the committed corpus fuzz/corpus/TARGET/ (text files as they are,
*.b64 files decoded: the inputs that once found a defect).

  seeds.py SRCDIR OUTDIR TARGET...   writes OUTDIR/TARGET/ afresh
"""
import base64
import hashlib
import json
import os
import re
import shutil
import sys

SRC = sys.argv[1]
sys.path.insert(0, os.path.join(SRC, "tests", "fixtures"))
import ocilib  # noqa: E402
from ocilib import Image, Tar, compress, content_tars, jdump  # noqa: E402

HEX = re.compile(rb"[0-9a-f]{64}")
REF_CHARS = "123456789abcdefghijklmnopqrstuvwxyz"


# ---- oci-plan: an archive's members as named sections (fuzz-oci-plan.c)

def sections(members):
    """(name, bytes) members of an archive -> the section text: blobs
    become "blob"/"cfg" sections referred to by @N/%N/#N, layers short
    text, metadata documents stay as they are, in referrer-first order."""
    by_hex, order, roots = {}, [], []
    for name, data in members:
        if data is None:
            continue
        m = re.fullmatch(r"blobs/sha256/([0-9a-f]{64})", name)
        c = re.fullmatch(r"([0-9a-f]{64})\.json", name)
        if m or c:
            by_hex[(m or c).group(1)] = ("blob" if m else "cfg", data)
        elif name.endswith("/layer.tar"):
            roots.append((name, b"layer\n"))
        elif name in ("index.json", "manifest.json", "oci-layout", "repositories"):
            roots.append((name, data))
    # referrers first: breadth-first from the roots
    queue = [d for _, d in roots]
    while queue:
        data = queue.pop(0)
        for h in HEX.findall(data):
            h = h.decode()
            if h in by_hex and h not in order:
                order.append(h)
                queue.append(by_hex[h][1])
    order = order[:len(REF_CHARS)]
    ref = {h: REF_CHARS[i] for i, h in enumerate(order)}

    def rewrite(data):
        try:
            obj = json.loads(data)
        except ValueError:
            return b"layer\n"

        def walk(o):
            if isinstance(o, dict):
                d = o.get("digest")
                if isinstance(d, str) and d[7:] in ref and "size" in o:
                    o["size"] = "@@SIZE%s@@" % ref[d[7:]]
                for v in o.values():
                    walk(v)
            elif isinstance(o, list):
                for v in o:
                    walk(v)
        walk(obj)
        text = json.dumps(obj, sort_keys=True, indent=1).encode()
        text = re.sub(rb'"@@SIZE(.)@@"', rb"#\1", text)
        text = re.sub(rb"sha256:([0-9a-f]{64})",
                      lambda m: b"@" + ref[m.group(1).decode()].encode() if m.group(1).decode() in ref
                      else m.group(0), text)
        return HEX.sub(lambda m: b"%" + ref[m.group(0).decode()].encode() if m.group(0).decode() in ref
                       else m.group(0), text)

    out = b""
    for name, data in roots:
        out += b"--- " + name.encode() + b"\n" + (rewrite(data) if data != b"layer\n" else data) + b"\n"
    for h in order:
        kind, data = by_hex[h]
        out += b"--- " + kind.encode() + b"\n" + rewrite(data) + b"\n"
    return out


def tar_members(data):
    import io
    import tarfile
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        return [(m.name.lstrip("./") if m.name.startswith("./") else m.name,
                 tf.extractfile(m).read() if m.isfile() else None) for m in tf.getmembers()]


def small_image(name=None, media_types="oci", platform="linux/amd64", comp="gzip"):
    t = Tar().dir("etc/").file("etc/hostname", "fuzz\n").symlink("bin", "usr/bin")
    return Image([(t.bytes(), comp)], platform=platform, name=name, media_types=media_types)


def gen_oci_plan():
    out = {}
    img = small_image("example.com/fuzz/base:1")
    out["oci-archive"] = sections(img.layout().members())
    out["docker-save"] = sections(tar_members(small_image("fuzz:2", comp="plain").docker_save()))
    out["docker25"] = sections(tar_members(small_image("fuzz:3").docker25()))
    out["docker-types"] = sections(small_image(None, media_types="docker").layout().members())
    lay, _ = ocilib.multi_platform_layout("gzip", "oci", name="multi:1")
    out["multi-platform"] = sections(lay.members())
    multi = Image([(t, "gzip") for t in content_tars("multi")], name="layers:3")
    out["three-layers"] = sections(multi.layout().members())
    return out


# ---- the archive and layer targets

def hostile_cases():
    """(name, Layout or bytes) of tests/fixtures/hostile.py's cases."""
    import hostile
    hostile.CASES.clear()
    hostile.register("/outside", "outside")
    out = []
    for name, fn, *_ in hostile.CASES:
        try:
            out.append((name, fn()))
        except Exception:      # a case needing a real file system: skip it
            pass
    return out


def is_json(b):
    try:
        json.loads(b)
        return True
    except ValueError:
        return False


def gen_tarindex(cases):
    out = {"oci-archive": small_image("fuzz:1").layout().tar(),
           "docker-save": small_image("fuzz:2", comp="plain").docker_save(),
           "docker25": small_image("fuzz:3").docker25(),
           "layer-base": content_tars("base")[0],
           "layer-dot": content_tars("multi")[2]}
    for name, v in cases:
        if isinstance(v, bytes) and len(v) < 65536:
            out["hostile-" + name] = v
        elif hasattr(v, "tar"):
            t = v.tar()
            if len(t) < 65536:
                out["hostile-" + name] = t
    return out


def gen_extract(cases):
    out = {}
    for i, t in enumerate(content_tars("multi")):
        out["multi-%d" % i] = t
    out["base-gzip"] = compress(content_tars("base")[0], "gzip")
    out["base-zstd"] = compress(content_tars("base")[0], "zstd")
    for name, v in cases:
        if not hasattr(v, "blobs"):
            continue
        for i, (_, data) in enumerate(sorted(v.blobs.items())):
            if not is_json(data) and len(data) < 65536:
                out["hostile-%s-%d" % (name, i)] = data
    return out


def gen_zstream():
    t = Tar().dir("etc/").file("etc/hostname", "fuzz\n").file("etc/motd", "hello " * 100).bytes()
    return {"plain": t, "gzip": compress(t, "gzip"), "zstd": compress(t, "zstd"),
            "gzip-two-members": compress(b"one\n", "gzip") + compress(b"two\n", "gzip"),
            "zstd-two-frames": compress(b"one\n", "zstd") + compress(b"two\n", "zstd"),
            "gzip-empty": compress(b"", "gzip"), "zstd-empty": compress(b"", "zstd")}


def gen_cache_meta():
    meta = jdump({"format": 1, "key": "0123456789", "version": "v1-v1.31.0-go1.23.1-bullseye.0",
                  "image": "sha256:" + "ab" * 32, "profile": "kube", "arch": "amd64", "branch": "main",
                  "entries": 2, "files": 1, "bytes": 5})
    t = Tar().file("kbuild-ns-cache.json", meta).dir("upper/").file("upper/x", "data\n")
    t = t.dir("snapshot/").dir("snapshot/_output/").bytes()
    return {"plain": t, "zstd": compress(t, "zstd"), "gzip": compress(t, "gzip")}


ERAS = os.path.join(SRC, "tests", "fixtures", "kube-eras")


def era_files(name):
    """{era: bytes} of one file of each era of tests/fixtures/kube-eras."""
    out = {}
    for era in sorted(os.listdir(ERAS)):
        p = os.path.join(ERAS, era, name)
        if os.path.isfile(p):
            with open(p, "rb") as f:
                out[era] = f.read()
    return out


def gen_profile():
    out = {}
    files = {"cross": "build/build-image/cross/VERSION", "version": "build/build-image/VERSION",
             "common": "build/common.sh", "rsyncd": "build/build-image/rsyncd.sh",
             "dockerfile": "build/build-image/Dockerfile"}
    got = {k: era_files(v) for k, v in files.items()}
    for era in sorted(got["cross"]):
        text = b""
        for k in files:
            if era in got[k]:
                text += b"--- " + k.encode() + b"\n" + got[k][era]
        out["era-" + era] = text + b"--- head\nref: refs/heads/release-" + era.encode() + b"\n"
        out["era-%s-plain" % era] = b"".join(b"--- %s\n%s" % (k.encode(), got[k][era])
                                             for k in ("cross", "version") if era in got[k])
    return out


def gen_shellrules():
    out = {"common-" + k: v for k, v in era_files("build/common.sh").items()}
    # Once a stack overflow (quotes in substitutions in quotes, one call
    # per level): too big to commit, so made here.
    out["deep-nesting"] = b"function kube::build::rsync() {\n  echo " + b'"$(' * 60000 + b"\n}\n"
    out.update({"rsyncd-" + k: v for k, v in era_files("build/build-image/rsyncd.sh").items()})
    return out


def gen_dockerfile():
    out = {"era-" + k: v for k, v in era_files("build/build-image/Dockerfile").items()}
    # Once a stack overflow (a call per ${A:-...} level): made here.
    out["deep-expansion"] = b"FROM x\nWORKDIR " + b"${A:-" * 100000 + b"x" + b"}" * 100000 + b"\n"
    for root, _, files in os.walk(os.path.join(SRC, "examples")):
        for f in files:
            if f == "Dockerfile":
                with open(os.path.join(root, f), "rb") as fh:
                    out["example-" + os.path.relpath(root, SRC).replace("/", "-")] = fh.read()
    return out


def gen_prov_verify():
    a, b = hashlib.sha256(b"A\n").hexdigest(), hashlib.sha256(b"B\n").hexdigest()
    st = {"_type": "https://in-toto.io/Statement/v1",
          "predicateType": "https://slsa.dev/provenance/v1",
          "subject": [{"name": "a.tar.gz", "digest": {"sha256": a}},
                      {"name": "sub/b.tar.gz", "digest": {"sha256": b},
                       "annotations": {"kbuildns_manifestDigest": "sha256:" + a}},
                      {"name": "missing.tar.gz", "digest": {"sha256": b}}],
          "predicate": {"buildDefinition": {"buildType": "https://kbuild-ns.dev/buildtypes/k8s-release/v1",
                                            "externalParameters": {}, "internalParameters": {},
                                            "resolvedDependencies": []},
                        "runDetails": {"builder": {"id": "urn:kbuild-ns:builder:local"},
                                       "metadata": {"startedOn": "2026-01-01T00:00:00Z"}}}}
    text = json.dumps(st, sort_keys=True, indent=2).encode()
    env = {"payloadType": "application/vnd.in-toto+json",
           "payload": base64.b64encode(text).decode(),
           "signatures": [{"keyid": "", "sig": base64.b64encode(b"\x01" * 64).decode()}]}
    return {"statement": text, "envelope": json.dumps(env, indent=2).encode()}


def gen_registry_manifest():
    """The registry's documents: the root is what index.json listed."""
    out = {}
    lay, _ = ocilib.multi_platform_layout("gzip", "oci", name="multi:1")
    imgs = {"single": small_image().layout(), "multi-platform": lay,
            "docker-types": small_image(media_types="docker").layout()}
    for name, l in imgs.items():
        text = sections([m for m in l.members() if m[0] != "oci-layout"])
        out[name] = text.replace(b"--- index.json\n", b"--- root\n", 1)
    out["docker-types"] = b"--- type\napplication/vnd.oci.image.index.v1+json\n" + out["docker-types"]
    return out


def gen_oci_config():
    img = Image([(t, "gzip") for t in content_tars("multi")])
    return {"multi": b"3" + img.config_blob(), "small": b"1" + small_image().config_blob()}


def gen_seen():
    """A few records as sync-in keeps them (src/build/sync-seen.c), after
    the 32 bytes of the stat the target looks up with: a snapshot and a
    checkout record of one directory, a snapshot record that takes the
    checkout record's entries ("same"), and an empty directory."""
    import struct
    DT = {"dir": 4, "reg": 8, "lnk": 10}

    HEAD = "<IIIIQQqq"    # seen_rec: len, n, side, same, dev, ino, ctime

    def rec(side, rel, entries, same=0, dev=0x801, ino=42, sec=1700000000, nsec=123):
        body = rel.encode() + b"\0" + b"".join(bytes([DT[t]]) + name.encode() + b"\0" for t, name in entries)
        size = (struct.calcsize(HEAD) + len(body) + 7) & ~7
        head = struct.pack(HEAD, size, len(entries), side, same, dev, ino, sec, nsec)
        return (head + body).ljust(size, b"\0")

    stat = struct.pack("<QQqq", 0x801, 42, 1700000000, 123)
    ents = [("reg", "BUILD"), ("dir", "api"), ("lnk", "vendor"), ("reg", "zz_generated.deepcopy.go")]
    return {
        "pair": stat + rec(1, "pkg/apis", ents) + rec(0, "pkg/apis", ents),
        "same": stat + rec(1, "pkg", ents[:2]) + rec(0, "pkg", [], same=1) + rec(0, "pkg/empty", [], ino=7),
        "other": stat + rec(0, "a", [("reg", "x")], ino=43) + rec(0, "", [("dir", "a")], sec=1),
    }


def main():
    out_dir, targets = sys.argv[2], sys.argv[3:]
    cases = None
    for t in targets:
        d = os.path.join(out_dir, t)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        gen = {"oci-plan": gen_oci_plan, "oci-config": gen_oci_config, "zstream": gen_zstream,
               "cache-meta": gen_cache_meta, "profile": gen_profile, "prov-verify": gen_prov_verify,
               "shellrules": gen_shellrules, "dockerfile": gen_dockerfile,
               "registry-manifest": gen_registry_manifest, "seen": gen_seen}.get(t)
        if t in ("tarindex", "extract"):
            cases = cases if cases is not None else hostile_cases()
            seeds = gen_tarindex(cases) if t == "tarindex" else gen_extract(cases)
        else:
            seeds = gen() if gen else {}
        for name, data in seeds.items():
            with open(os.path.join(d, "seed-" + name), "wb") as f:
                f.write(data)
        committed = os.path.join(SRC, "fuzz", "corpus", t)
        for name in sorted(os.listdir(committed)) if os.path.isdir(committed) else []:
            with open(os.path.join(committed, name), "rb") as f:
                data = f.read()
            if name.endswith(".b64"):
                data, name = base64.b64decode(data), name[:-4]
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)


main()
