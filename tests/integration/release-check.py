#!/usr/bin/env python3
"""Checks of a release's outputs for tests/integration/release.t.  Python
3 standard library only; each command prints what it found, or "ok", and
exits 1 with the reason when a check fails.

  release-check.py tarballs SDE FILE...   every member sorted within its
                                          directory, owned 0/0, mtime SDE;
                                          gzip header without time or name
  release-check.py image ARCHIVE          one line per fact: tag, arch,
                                          layer digests, "diff_ids ok" when
                                          every diff_id is the sha256 of its
                                          uncompressed layer
  release-check.py xattr ARCHIVE PATH     the security.capability of PATH
                                          in the image's layers, in hex
  release-check.py schema RECORD          the in-toto Statement v1 and SLSA
                                          provenance v1 schemas, as written
                                          in their specifications
  release-check.py subjects RECORD DIR    the subjects name exactly the
                                          files of DIR's _output/release-tars
                                          (but the records) and
                                          _output/release-images, sorted
  release-check.py pae ENVELOPE OUTDIR    OUTDIR/pae and OUTDIR/sig from a
                                          DSSE envelope, for openssl
"""
import base64
import gzip
import hashlib
import io
import json
import os
import re
import sys
import tarfile


def die(msg):
    print(msg)
    sys.exit(1)


def tarballs(sde, files):
    sde = int(sde)
    for f in files:
        with open(f, "rb") as fh:
            head = fh.read(10)
        if head[:2] != b"\x1f\x8b" or head[3] & 0x08 or head[4:8] != b"\0\0\0\0":
            die("%s: gzip header has a name or a time: %s" % (f, head.hex()))
        with tarfile.open(f, "r:gz") as t:
            members = t.getmembers()
        kids = {}
        for m in members:
            if m.uid or m.gid:
                die("%s: %s owned %d/%d" % (f, m.name, m.uid, m.gid))
            if m.mtime != sde:
                die("%s: %s mtime %d, not %d" % (f, m.name, m.mtime, sde))
            parent, _, base = m.name.rstrip("/").rpartition("/")
            kids.setdefault(parent, []).append((base.encode(), m.isdir()))
        # Sorted by name within each directory: as GNU tar --sort=name
        # (bytes), or as git archive (a directory as if its name ended in "/").
        for parent, k in kids.items():
            plain_key = [n for n, _ in k]
            git_key = [n + (b"/" if d else b"") for n, d in k]
            if plain_key != sorted(plain_key) and git_key != sorted(git_key):
                die("%s: the members of %s/ are not sorted: %s" % (f, parent, [n.decode() for n in plain_key]))
    print("ok")


def read_archive(path):
    with tarfile.open(path) as t:
        files = {m.name: t.extractfile(m).read() for m in t.getmembers() if m.isfile()}
    index = json.loads(files["index.json"])
    mdesc = index["manifests"][0]
    manifest = json.loads(files["blobs/sha256/" + mdesc["digest"].split(":")[1]])
    config = json.loads(files["blobs/sha256/" + manifest["config"]["digest"].split(":")[1]])
    return files, index, manifest, config


def plain(blob):
    return gzip.decompress(blob) if blob[:2] == b"\x1f\x8b" else blob


def image(path):
    files, index, manifest, config = read_archive(path)
    dm = json.loads(files["manifest.json"])
    for t in dm[0]["RepoTags"]:
        print("tag", t)
    print("arch", config["architecture"])
    for l in manifest["layers"]:
        print("layer", l["digest"])
    diffs = []
    for l in manifest["layers"]:
        blob = files["blobs/sha256/" + l["digest"].split(":")[1]]
        if "sha256:" + hashlib.sha256(blob).hexdigest() != l["digest"]:
            die("layer %s: digest mismatch" % l["digest"])
        diffs.append("sha256:" + hashlib.sha256(plain(blob)).hexdigest())
    if diffs == config["rootfs"]["diff_ids"]:
        print("diff_ids ok")
    print("entrypoint", json.dumps(config.get("config", {}).get("Entrypoint")))


def xattr(path, member):
    files, _, manifest, _ = read_archive(path)
    found = None
    for l in manifest["layers"]:
        blob = plain(files["blobs/sha256/" + l["digest"].split(":")[1]])
        with tarfile.open(fileobj=io.BytesIO(blob)) as t:
            for m in t.getmembers():
                if m.name.lstrip("./") == member.lstrip("/"):
                    v = m.pax_headers.get("SCHILY.xattr.security.capability")
                    found = v.encode("utf-8", "surrogateescape").hex() if v is not None else ""
                    print("mode %o" % m.mode)
    print("xattr", found)


HEX64 = re.compile(r"^[0-9a-f]{64}$")
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def check_descriptor(d, where):
    """in-toto ResourceDescriptor: one of uri, digest, content; digest a
    map of strings; name, uri, mediaType strings; annotations an object."""
    if not isinstance(d, dict) or not ({"uri", "digest", "content"} & d.keys()):
        die("%s: a ResourceDescriptor needs uri, digest or content" % where)
    for k, v in d.items():
        if k in ("uri", "name", "mediaType", "downloadLocation", "content") and not isinstance(v, str):
            die("%s.%s: not a string" % (where, k))
        if k == "digest" and (not isinstance(v, dict) or not v or
                              not all(isinstance(a, str) and isinstance(b, str) for a, b in v.items())):
            die("%s.digest: not a DigestSet" % where)
        if k == "annotations" and not isinstance(v, dict):
            die("%s.annotations: not an object" % where)
        if k not in ("uri", "name", "mediaType", "downloadLocation", "content", "digest", "annotations"):
            die("%s: unknown field %s" % (where, k))


def schema(path):
    st = json.load(open(path))
    if st.get("_type") != "https://in-toto.io/Statement/v1":
        die("_type: %r" % st.get("_type"))
    if set(st) != {"_type", "subject", "predicateType", "predicate"}:
        die("Statement fields: %s" % sorted(st))
    if not isinstance(st["subject"], list) or not st["subject"]:
        die("subject: not a non-empty list")
    for i, s in enumerate(st["subject"]):
        check_descriptor(s, "subject[%d]" % i)
        if not isinstance(s.get("name"), str) or not HEX64.match(s.get("digest", {}).get("sha256", "")):
            die("subject[%d]: needs a name and a sha256" % i)
    if st["predicateType"] != "https://slsa.dev/provenance/v1":
        die("predicateType: %r" % st["predicateType"])
    p = st["predicate"]
    if set(p) - {"buildDefinition", "runDetails"} or "buildDefinition" not in p or "runDetails" not in p:
        die("predicate fields: %s" % sorted(p))
    bd = p["buildDefinition"]
    if not isinstance(bd.get("buildType"), str) or not re.match(r"^[a-z][a-z0-9+.-]*:", bd["buildType"]):
        die("buildType: not a URI")
    if not isinstance(bd.get("externalParameters"), dict):
        die("externalParameters: not an object")
    if set(bd) - {"buildType", "externalParameters", "internalParameters", "resolvedDependencies"}:
        die("buildDefinition fields: %s" % sorted(bd))
    if "internalParameters" in bd and not isinstance(bd["internalParameters"], dict):
        die("internalParameters: not an object")
    for i, d in enumerate(bd.get("resolvedDependencies", [])):
        check_descriptor(d, "resolvedDependencies[%d]" % i)
    rd = p["runDetails"]
    if not isinstance(rd.get("builder", {}).get("id"), str):
        die("runDetails.builder.id: missing")
    if set(rd) - {"builder", "metadata", "byproducts"}:
        die("runDetails fields: %s" % sorted(rd))
    md = rd.get("metadata", {})
    for k in ("startedOn", "finishedOn"):
        if k in md and not RFC3339.match(md[k]):
            die("metadata.%s: not a timestamp: %r" % (k, md[k]))
    if "invocationId" in md and not isinstance(md["invocationId"], str):
        die("metadata.invocationId: not a string")
    print("ok")


def subjects(path, top):
    st = json.load(open(path))
    names = [s["name"] for s in st["subject"]]
    if names != sorted(names):
        die("subjects are not sorted by name")
    want = []
    for d in ("_output/release-tars", "_output/release-images"):
        for root, _, fs in os.walk(os.path.join(top, d)):
            for f in fs:
                if not f.startswith("kbuild-ns.provenance"):
                    want.append(os.path.relpath(os.path.join(root, f), top))
    if sorted(want) != names:
        die("subjects %s, files %s" % (names, sorted(want)))
    images = [s for s in st["subject"] if s["name"].startswith("_output/release-images/")]
    if not images or not all(s.get("annotations", {}).get("kbuildns_manifestDigest", "").startswith("sha256:")
                             for s in images):
        die("image subjects without their manifest digest")
    print("ok %d" % len(names))


def pae(path, out):
    env = json.load(open(path))
    body = base64.b64decode(env["payload"])
    t = env["payloadType"].encode()
    with open(os.path.join(out, "pae"), "wb") as f:
        f.write(b"DSSEv1 %d %s %d " % (len(t), t, len(body)) + body)
    with open(os.path.join(out, "sig"), "wb") as f:
        f.write(base64.b64decode(env["signatures"][0]["sig"]))
    print("ok")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"tarballs": lambda: tarballs(args[0], args[1:]), "image": lambda: image(args[0]),
     "xattr": lambda: xattr(args[0], args[1]), "schema": lambda: schema(args[0]),
     "subjects": lambda: subjects(args[0], args[1]), "pae": lambda: pae(args[0], args[1])}[cmd]()
