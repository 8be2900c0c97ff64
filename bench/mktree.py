#!/usr/bin/python3
"""Source trees for bench/sync.sh, shaped like a large Go repository.

  mktree.py generate DEST [--files N] [--seed S]
      write a Kubernetes-shaped checkout into DEST (which must not exist):
      N files and symbolic links in the part that is synced (default
      65000, counting .git), deep package directories under staging/,
      vendor/, pkg/, cmd/, test/ ..., many small Go files, some large text
      and binary files, vendor/k8s.io/X -> ../../staging/src/k8s.io/X
      links and a few other links, a real git repository (commits made with
      git fast-import and git commit, `git gc`, a second pack from an
      incremental `git repack`, a few loose objects), and the _output/ and
      _tmp/ directories that the sync filters must leave alone (Go build
      cache, read-only module cache, binaries)
  mktree.py change TREE ROUND [--count 20]
      change COUNT files of TREE (appended edits, a same-size edit, an
      mtime-only touch, an edit of a large file, a new file in a new
      directory, a deletion); ROUND picks different files each time; prints
      the changed paths
  mktree.py plant DIR
      put a few files under DIR/_output/ and DIR/_tmp/ (what a build leaves
      in the snapshot), for the check that a sync never deletes them
  mktree.py stats TREE
      count files, links, directories and bytes, synced part and filtered part

Deterministic for a given seed (contents, names and modes; not mtimes).
Python 3 standard library and git only.
"""
import argparse
import math
import os
import random
import stat
import subprocess
import sys
import time

FILTERED = ("_output", "_tmp")

WORDS = """pod node service endpoint volume claim secret config map namespace
replica set deployment daemon stateful job cron ingress policy role binding
cluster account token event lease lock quota limit range priority class
storage csi driver attach mount device plugin runtime container image
probe handler status spec condition phase reason message label selector
annotation owner reference finalizer generation resource version watch list
informer lister client scheme codec serializer decoder encoder converter
validator admission webhook mutating authorizer authenticator request
response handler server options flags controller manager scheduler queue
cache store indexer reflector backoff retry timeout deadline context
logger metrics counter gauge histogram tracer span exporter registry
network proxy iptables ipvs address port protocol dns hostname subnet cidr
taint toleration affinity topology zone region capacity allocatable
pressure eviction preemption disruption budget autoscaler horizontal
vertical custom definition schema openapi field path value default
merge patch strategic apply manager conflict owner object meta type""".split()
GOPKGS = ("fmt", "context", "errors", "strings", "time", "sync", "sort",
          "metav1", "corev1", "appsv1", "runtime", "schema", "klog", "utilruntime",
          "wait", "sets", "field", "labels", "fields", "types", "watch", "cache")
HOSTS = (("github.com", 0.62), ("golang.org/x", 0.10), ("google.golang.org", 0.08),
         ("sigs.k8s.io", 0.08), ("go.opentelemetry.io", 0.06), ("gopkg.in", 0.06))
STAGING = """api apiextensions-apiserver apimachinery apiserver cli-runtime
client-go cloud-provider cluster-bootstrap code-generator component-base
component-helpers controller-manager cri-api cri-client csi-translation-lib
dynamic-resource-allocation endpointslice externaljwt kms kube-aggregator
kube-controller-manager kube-proxy kube-scheduler kubectl kubelet
metrics mount-utils pod-security-admission sample-apiserver sample-cli-plugin
sample-controller""".split()
LICENSE = """/*
Copyright 20%02d The Kubernetes Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

"""


def camel(r, n):
    return "".join(w.capitalize() for w in r.choices(WORDS, k=n))


def lower_camel(r, n):
    s = camel(r, n)
    return s[0].lower() + s[1:]


def sentence(r, lo, hi):
    return " ".join(r.choices(WORDS, k=r.randint(lo, hi)))


def make_block(r):
    """One Go declaration (a function, a type or a var block); "@@" is
    replaced by a per-file suffix, so that files share shapes but not text."""
    kind = r.random()
    out = []
    if kind < 0.55:
        name, typ, arg = camel(r, 2), camel(r, 2), lower_camel(r, 1)
        pkg = r.choice(GOPKGS)
        out.append(f"// {name}@@ {sentence(r, 6, 18)}.\n")
        if r.random() < 0.4:
            out.append(f"// {sentence(r, 6, 14)}.\n")
        out.append(f"func (c *{typ}@@) {name}(ctx context.Context, {arg} *{pkg}.{camel(r, 1)}, "
                   f"opts {pkg}.{camel(r, 2)}Options) (*{typ}, error) {{\n")
        for _ in range(r.randint(2, 12)):
            s = r.random()
            v, f1, f2 = lower_camel(r, 1), camel(r, 1), camel(r, 2)
            if s < 0.3:
                out.append(f"\tif {arg}.{f1} == nil {{\n\t\treturn nil, fmt.Errorf(\"{sentence(r, 2, 6)}: %v\", {arg}.{f2})\n\t}}\n")
            elif s < 0.55:
                out.append(f"\t{v} := &{camel(r, 2)}{{{f1}: {arg}.{f1}, {f2}: opts.{f2}}}\n")
            elif s < 0.7:
                out.append(f"\tfor _, {v} := range {arg}.{f2} {{\n\t\tif err := c.{lower_camel(r, 2)}(ctx, {v}); err != nil {{\n"
                           f"\t\t\tklog.V({r.randint(2, 6)}).InfoS(\"{sentence(r, 3, 7)}\", \"{v}\", {v}, \"err\", err)\n\t\t\tcontinue\n\t\t}}\n\t}}\n")
            elif s < 0.85:
                out.append(f"\t// {sentence(r, 5, 15)}\n\tc.{lower_camel(r, 2)}.{f1}({arg}.{f2}, {r.randint(0, 4096)})\n")
            else:
                out.append(f"\tswitch {arg}.{f1} {{\n\tcase {pkg}.{camel(r, 2)}:\n\t\treturn c.{lower_camel(r, 2)}(ctx, {arg})\n"
                           f"\tcase {pkg}.{camel(r, 2)}, {pkg}.{camel(r, 2)}:\n\t\tbreak\n\tdefault:\n\t\treturn nil, errors.New(\"{sentence(r, 2, 5)}\")\n\t}}\n")
        out.append(f"\treturn c.{lower_camel(r, 2)}(ctx, {arg}, opts)\n}}\n\n")
    elif kind < 0.85:
        name = camel(r, 2)
        out.append(f"// {name}@@ {sentence(r, 8, 20)}.\ntype {name}@@ struct {{\n")
        for _ in range(r.randint(2, 14)):
            f, t = camel(r, r.randint(1, 3)), r.choice(("string", "int32", "int64", "bool", "*int64",
                                                        "[]string", "map[string]string", "metav1.Time",
                                                        "metav1.ObjectMeta", camel(r, 2), "[]" + camel(r, 1)))
            tag = f[0].lower() + f[1:]
            if r.random() < 0.5:
                out.append(f"\t// {sentence(r, 5, 16)}.\n\t// +optional\n")
            out.append(f"\t{f} {t} `json:\"{tag},omitempty\" protobuf:\"bytes,{r.randint(1, 40)},opt,name={tag}\"`\n")
        out.append("}\n\n")
    else:
        out.append("var (\n")
        for _ in range(r.randint(2, 8)):
            out.append(f"\t{lower_camel(r, 2)}@@ = {r.choice(GOPKGS)}.{camel(r, 2)}(\"{'-'.join(r.choices(WORDS, k=3))}\", {r.randint(1, 1 << 20)})\n")
        out.append(")\n\n")
    return "".join(out)


class Text:
    """Go-like text of a given size, from a pool of generated declarations."""

    def __init__(self, seed, pool=6000):
        r = random.Random(seed * 7919 + 1)
        self.pool = [make_block(r).encode() for _ in range(pool)]

    def go(self, r, size, pkg):
        suffix = ("%06x" % r.getrandbits(24)).encode()
        parts = [(LICENSE % r.randint(14, 24)).encode(), b"package %s\n\nimport (\n" % pkg.encode()]
        for p in r.sample(GOPKGS, r.randint(2, 7)):
            parts.append(b'\t"%s"\n' % p.encode())
        parts.append(b")\n\n")
        n = sum(len(p) for p in parts)
        pool = self.pool
        while n < size:
            b = pool[r.randrange(len(pool))].replace(b"@@", suffix)
            parts.append(b)
            n += len(b)
        return b"".join(parts)[:max(size, 1)]

    def json(self, r, size):
        parts = [b"{\n"]
        n = 2
        while n < size:
            k = "%s.%s" % (r.choice(WORDS), camel(r, 2))
            b = ('  "%s": {\n    "description": "%s",\n    "type": "%s",\n    "x-kubernetes-%s": %d\n  },\n'
                 % (k, sentence(r, 6, 20), r.choice(("object", "string", "integer", "array")),
                    r.choice(WORDS), r.randint(0, 9999))).encode()
            parts.append(b)
            n += len(b)
        return b"".join(parts)[:size - 2] + b"}\n"

    def prose(self, r, size):
        parts, n = [], 0
        while n < size:
            b = ("%s %s.\n" % (camel(r, 1), sentence(r, 8, 30))).encode()
            parts.append(b)
            n += len(b)
        return b"".join(parts)[:size]


def lognormal_size(r, median, sigma, lo, hi):
    return int(min(hi, max(lo, r.lognormvariate(math.log(median), sigma))))


class Spec:
    """One entry of the tree: a file (kind text/json/prose/bin), a link or an
    empty directory."""
    __slots__ = ("path", "kind", "size", "seed", "mode", "target", "pkg")

    def __init__(self, path, kind, size=0, seed=0, mode=0o644, target=None, pkg="main"):
        self.path, self.kind, self.size, self.seed = path, kind, size, seed
        self.mode, self.target, self.pkg = mode, target, pkg


def content(text, s, version=0):
    r = random.Random(s.seed * 1000003 + version)
    size = s.size + (version * 97 if version else 0)
    if s.kind == "go":
        return text.go(r, size, s.pkg)
    if s.kind == "json":
        return text.json(r, size)
    if s.kind == "prose":
        return text.prose(r, size)
    if s.kind == "bin":
        return r.randbytes(size)
    if s.kind == "empty":
        return b""
    if s.kind == "literal":
        return s.target.encode()
    raise ValueError(s.kind)


def plan(nfiles, seed):
    """The list of Specs of the synced part (without .git)."""
    r = random.Random(seed)
    specs = []
    seeds = iter(range(1, 10 ** 9))

    def add(path, kind, size=0, mode=0o644, pkg="main", target=None):
        specs.append(Spec(path, kind, size, next(seeds), mode, target, pkg))

    def small(lo=200, hi=120_000):
        return lognormal_size(r, 2800, 0.95, lo, hi)

    def package(d, nfile):
        """A Go package directory with about nfile files."""
        pkg = os.path.basename(d).replace("-", "").replace(".", "") or "main"
        if pkg[0].isdigit():
            pkg = "p" + pkg
        names = set()
        add(f"{d}/doc.go", "go", r.randint(400, 1500), pkg=pkg)
        left = nfile - 1
        if left > 0 and r.random() < 0.35:
            add(f"{d}/types.go", "go", small(2000), pkg=pkg)
            left -= 1
        if left > 0 and r.random() < 0.3:
            add(f"{d}/zz_generated.deepcopy.go", "go", small(3000), pkg=pkg)
            left -= 1
        if left > 1 and r.random() < 0.06:
            add(f"{d}/generated.pb.go", "go", lognormal_size(r, 60_000, 1.2, 8000, 2_500_000), pkg=pkg)
            add(f"{d}/generated.proto", "prose", small(2000))
            left -= 2
        if left > 0 and r.random() < 0.2:
            add(f"{d}/OWNERS", "prose", r.randint(60, 400))
            left -= 1
        if left > 2 and r.random() < 0.05:
            for i in range(min(left - 1, r.randint(2, 12))):
                add(f"{d}/testdata/{r.choice(WORDS)}-{i}.{r.choice(('json', 'yaml'))}", "json", small(100))
                left -= 1
        while left > 0:
            w = "_".join(r.choices(WORDS, k=r.randint(1, 2)))
            if w in names:
                w += str(len(names))
            names.add(w)
            add(f"{d}/{w}.go", "go", small(), pkg=pkg)
            left -= 1
            if left > 0 and r.random() < 0.55:
                add(f"{d}/{w}_test.go", "go", small(), pkg=pkg)
                left -= 1

    def tree(root, nfile, max_depth):
        """Package directories under root, grown by adding a component to
        a random existing directory (deep paths share prefixes)."""
        dirs = [(root, 0)]
        while nfile > 0:
            parent, depth = r.choice(dirs[-40:] if r.random() < 0.5 else dirs)
            if depth >= max_depth:
                parent, depth = dirs[0]
            comp = r.choice(WORDS) + (r.choice(("", "", "v1", "v1beta1", "util", "s")))
            d = f"{parent}/{comp}"
            dirs.append((d, depth + 1))
            n = min(nfile, max(1, int(r.expovariate(1 / 7))))
            package(d, n)
            nfile -= n

    budget = nfiles - 1180        # .git and the fixed files below
    shares = {"staging": 0.31, "vendor": 0.30, "pkg": 0.20, "test": 0.085, "cmd": 0.035,
              "plugin": 0.02, "cluster": 0.02, "third_party": 0.01}
    # staging/src/k8s.io/X and the vendor/k8s.io/X links to them
    per = int(budget * shares["staging"] / len(STAGING))
    for x in STAGING:
        base = f"staging/src/k8s.io/{x}"
        add(f"{base}/go.mod", "prose", r.randint(300, 4000))
        add(f"{base}/go.sum", "prose", r.randint(2000, 60000))
        add(f"{base}/LICENSE", "prose", 11357)
        add(f"{base}/README.md", "prose", r.randint(500, 5000))
        tree(base, per - 4, 11)
        add(f"vendor/k8s.io/{x}", "link", target=f"../../staging/src/k8s.io/{x}")
    # third-party modules under vendor/
    left = int(budget * shares["vendor"])
    while left > 0:
        h = r.choices([h for h, _ in HOSTS], [w for _, w in HOSTS])[0]
        mod = f"vendor/{h}/{r.choice(WORDS)}{r.randint(0, 999)}"
        if h == "github.com":
            mod += f"/{r.choice(WORDS)}-{r.choice(WORDS)}"
        elif h == "gopkg.in":
            mod += f".v{r.randint(1, 3)}"
        n = min(left, max(3, int(r.expovariate(1 / 90))))
        add(f"{mod}/LICENSE", "prose", r.randint(1000, 12000))
        tree(mod, n - 1, 8)
        left -= n
    add("vendor/modules.txt", "prose", 180_000)
    for top in ("pkg", "test", "cmd", "plugin", "cluster", "third_party"):
        tree(top, int(budget * shares[top]), 10)
    # test/fixtures: one directory with many entries
    for i in range(1500):
        add(f"test/fixtures/pkg/kubectl/cmd/apply/case-{i:04d}.yaml", "json", small(80, 6000))
    # scripts, docs, changelogs, licenses, top-level files
    for i in range(320):
        add(f"hack/{'-'.join(r.choices(WORDS, k=r.randint(1, 3)))}-{i}.sh", "prose", small(), mode=0o755)
    for i in range(40):
        add(f"build/{r.choice(WORDS)}/{r.choice(WORDS)}-{i}.sh", "prose", small(), mode=0o755)
    add("build/build-image/cross/VERSION", "literal", target="v1.31.0-go1.22.5-bullseye.0\n")
    add("build/build-image/VERSION", "literal", target="5\n")
    for i in range(32):
        add(f"CHANGELOG/CHANGELOG-1.{i}.md", "prose", lognormal_size(r, 300_000, 0.6, 20_000, 1_500_000))
    for i in range(180):
        add(f"LICENSES/vendor/{r.choice(WORDS)}{i}/LICENSE", "prose", r.randint(1000, 12000))
    for i in range(60):
        add(f"docs/{r.choice(WORDS)}/{r.choice(WORDS)}-{i}.md", "prose", small())
    for name, size in (("Makefile", 2000), ("go.mod", 12000), ("go.sum", 90_000), ("README.md", 4000),
                       ("CONTRIBUTING.md", 2000), ("LICENSE", 11357), ("OWNERS", 600),
                       ("OWNERS_ALIASES", 9000), ("SECURITY_CONTACTS", 500), (".golangci.yaml", 8000),
                       (".generated_files", 1500)):
        add(name, "prose", size)
    add(".gitignore", "prose", 0)     # written specially
    # large files: the OpenAPI documents, generated code, binary test data
    add("api/openapi-spec/swagger.json", "json", 4_300_000)
    for i in range(60):
        add(f"api/openapi-spec/v3/apis__{r.choice(WORDS)}__v{i}_openapi.json", "json",
            lognormal_size(r, 150_000, 1.0, 10_000, 2_000_000))
    for i in range(40):
        add(f"api/discovery/{r.choice(WORDS)}-{i}.json", "json", small())
    for i in range(25):
        add(f"logo/{r.choice(WORDS)}-{i}.png", "bin", lognormal_size(r, 250_000, 0.8, 20_000, 2_000_000))
    for i, size in enumerate((16_000_000, 8_000_000, 4_000_000, 2_000_000)):
        add(f"test/images/{r.choice(WORDS)}/testdata/layer-{i}.tar.gz", "bin", size)
    for i in range(30):
        add(f"third_party/testdata/{r.choice(WORDS)}-{i}.bin", "bin", lognormal_size(r, 200_000, 1.0, 4096, 3_000_000))
    # odd names and modes, empty files, empty directories
    add("test/fixtures/names/a file with spaces.txt", "prose", 100)
    add("test/fixtures/names/\u00fcn\u00efc\u00f6d\u00e9-\u65e5\u672c.txt", "prose", 100)
    add("test/fixtures/names/-leading-dash", "prose", 10)
    add("test/fixtures/names/.hidden", "prose", 10)
    add("test/fixtures/modes/read-only.txt", "prose", 300, mode=0o444)
    add("test/fixtures/modes/private.txt", "prose", 300, mode=0o600)
    add("test/fixtures/modes/group-writable.sh", "prose", 300, mode=0o775)
    for i in range(30):
        add(f"staging/src/k8s.io/kubectl/pkg/cmd/testdata/empty/{i}/.keep", "empty")
    for d in ("test/fixtures/empty-dir", "pkg/empty/a/b/c", "third_party/empty"):
        add(d, "dir")
    # other symbolic links: relative to files and directories, dangling,
    # absolute, a link whose path goes through a vendor/k8s.io link
    add("cluster/gce/cos/README.md", "link", target="../gci/README.md")
    add("cluster/gce/gci/README.md", "prose", 900)
    add("hack/lib/.link-to-parent", "link", target="..")
    add("hack/verify-all.sh", "link", target="make-rules/verify.sh")
    add("hack/make-rules/verify.sh", "prose", 5000, mode=0o755)
    add("test/fixtures/links/dangling", "link", target="does/not/exist")
    add("test/fixtures/links/absolute", "link", target="/usr/share/zoneinfo/UTC")
    add("test/fixtures/links/via-vendor", "link", target="../../../vendor/k8s.io/api/README.md")
    add("test/fixtures/links/self-dir", "link", target=".")
    for i in range(40):
        add(f"pkg/generated/openapi/links/l{i}.go", "link", target="../../../../staging/src/k8s.io/api/README.md")
    return specs


GITIGNORE = b"/_output*/\n/_tmp/\n/.make/\n*.swp\n.DS_Store\n"


def write_tree(dest, specs, text):
    made = set()
    for s in specs:
        p = os.path.join(dest, s.path)
        d = os.path.dirname(p)
        if d not in made:
            os.makedirs(d, exist_ok=True)
            made.add(d)
        if s.kind == "dir":
            os.makedirs(p, exist_ok=True)
        elif s.kind == "link":
            os.symlink(s.target, p)
        else:
            data = GITIGNORE if s.path == ".gitignore" else content(text, s)
            with open(p, "xb") as f:
                f.write(data)
                os.fchmod(f.fileno(), s.mode)


def fast_import_commit(w, dest, specs, ref, msg, when, parent, only=None):
    w.write(b"commit %s\n" % ref.encode())
    w.write(b"author Kube Bench <bench@example.invalid> %d +0000\n" % when)
    w.write(b"committer Kube Bench <bench@example.invalid> %d +0000\n" % when)
    w.write(b"data %d\n%s\n" % (len(msg), msg.encode()))
    if parent:
        w.write(b"from %s^0\n" % parent.encode())
    for s in specs:
        if only is not None and s.path not in only:
            continue
        if s.kind == "dir":
            continue
        path = s.path.encode()
        if s.kind == "link":
            data, mode = s.target.encode(), b"120000"
        else:
            with open(os.path.join(dest, s.path), "rb") as f:     # version 0, on disk
                data = f.read()
            mode = b"100755" if s.mode & 0o100 else b"100644"
        w.write(b"M %s inline %s\ndata %d\n" % (mode, path, len(data)))
        w.write(data)
        w.write(b"\n")
    w.write(b"\n")


def git(dest, *args, **kw):
    env = dict(os.environ, GIT_AUTHOR_NAME="Kube Bench", GIT_AUTHOR_EMAIL="bench@example.invalid",
               GIT_COMMITTER_NAME="Kube Bench", GIT_COMMITTER_EMAIL="bench@example.invalid",
               GIT_CONFIG_NOSYSTEM="1", HOME=dest)
    return subprocess.run(["git", "-C", dest, *args], check=True, env=env, **kw)


def make_git(dest, specs, text, r):
    """Commits 1 and 2 through git fast-import (one pack, no loose objects:
    no mass deletion of loose objects afterwards), git gc, then two more
    commits with git itself: one packed by an incremental repack, one left
    loose."""
    git(dest, "init", "-q", "-b", "master")
    git(dest, "config", "core.autocrlf", "false")
    git(dest, "config", "gc.auto", "0")
    t0 = 1_700_000_000
    # commit 1: 97% of the files, at version 0; commit 2: the rest, and
    # 3% of commit 1's files at version 1 (so the history has deltas)
    files = [s for s in specs if s.kind not in ("dir",)]
    later = set(s.path for s in r.sample(files, len(files) * 3 // 100))
    first = set(s.path for s in files) - later
    p = subprocess.Popen(["git", "-C", dest, "fast-import", "--quiet", "--done"], stdin=subprocess.PIPE)
    w = p.stdin
    fast_import_commit(w, dest, specs, "refs/heads/master", "Initial import", t0, None, only=first)
    w.write(b"reset refs/tags/v1.31.0\nfrom refs/heads/master\n\n")
    changed = [s for s in r.sample(files, len(files) * 3 // 100) if s.path in first and s.kind in ("go", "json", "prose") and s.mode & 0o200]
    w.write(b"commit refs/heads/master\n")
    w.write(b"author Kube Bench <bench@example.invalid> %d +0000\n" % (t0 + 86400))
    w.write(b"committer Kube Bench <bench@example.invalid> %d +0000\n" % (t0 + 86400))
    msg = b"Update generated code and add new packages"
    w.write(b"data %d\n%s\n" % (len(msg), msg))
    for s in changed:
        data = content(text, s, 1)
        mode = b"100755" if s.mode & 0o100 else b"100644"
        w.write(b"M %s inline %s\ndata %d\n%s\n" % (mode, s.path.encode(), len(data), data))
    for s in specs:
        if s.path in later and s.kind != "dir":
            if s.kind == "link":
                data, mode = s.target.encode(), b"120000"
            else:
                with open(os.path.join(dest, s.path), "rb") as f:
                    data = f.read()
                mode = b"100755" if s.mode & 0o100 else b"100644"
            w.write(b"M %s inline %s\ndata %d\n%s\n" % (mode, s.path.encode(), len(data), data))
    w.write(b"\n")
    w.write(b"reset refs/tags/v1.32.0-alpha.0\nfrom refs/heads/master\n\n")
    w.write(b"reset refs/heads/release-1.31\nfrom refs/tags/v1.31.0\n\n")
    w.write(b"done\n")
    w.close()
    if p.wait() != 0:
        raise SystemExit("mktree.py: git fast-import failed")
    # the working tree holds version 0 of every file: bring commit 2's
    # changes onto disk, then make the index (hashes every file once)
    for s in changed:
        with open(os.path.join(dest, s.path), "r+b") as f:
            f.write(content(text, s, 1))
            f.truncate()
    git(dest, "reset", "-q")
    git(dest, "gc", "-q")
    # commit 3 (a second pack, from an incremental repack) and commit 4
    # (loose objects), made the ordinary way
    gofiles = [s for s in specs if s.kind == "go"]
    for version, n, repack in ((2, 60, True), (3, 12, False)):
        for s in r.sample(gofiles, n):
            with open(os.path.join(dest, s.path), "wb") as f:
                f.write(content(text, s, version))
        git(dest, "commit", "-q", "-a", "-m", f"Change {n} files")
        if repack:
            git(dest, "repack", "-q", "-d")
    git(dest, "status", "--short", stdout=subprocess.DEVNULL)


def make_filtered(dest, r):
    """_output/ and _tmp/: what the filters must leave alone."""
    o = os.path.join(dest, "_output")
    for sub in ("local/bin/linux/amd64", "dockerized/bin/linux/amd64"):
        os.makedirs(os.path.join(o, sub))
        for name in ("kubectl", "kubelet", "kube-apiserver"):
            with open(os.path.join(o, sub, name), "wb") as f:
                f.write(r.randbytes(r.randint(8, 16) << 20))
            os.chmod(os.path.join(o, sub, name), 0o755)
    cache = os.path.join(o, "local/go/cache")
    for i in range(2000):
        d = os.path.join(cache, "%02x" % (i % 256))
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "%064x-d" % r.getrandbits(256)), "wb") as f:
            f.write(r.randbytes(lognormal_size(r, 6000, 1.2, 40, 400_000)))
    # the Go module cache is read-only (directories 0555)
    mod = os.path.join(o, "local/go/pkg/mod/github.com/example/mod@v1.2.3")
    for i in range(20):
        d = os.path.join(mod, f"pkg{i}")
        os.makedirs(d)
        for j in range(20):
            with open(os.path.join(d, f"f{j}.go"), "wb") as f:
                f.write(r.randbytes(2000))
            os.chmod(os.path.join(d, f"f{j}.go"), 0o444)
    for root, dirs, _ in os.walk(os.path.join(o, "local/go/pkg/mod"), topdown=False):
        for d in dirs:
            os.chmod(os.path.join(root, d), 0o555)
    os.symlink("local/bin/linux/amd64", os.path.join(o, "bin"))
    t = os.path.join(dest, "_tmp")
    for i in range(300):
        d = os.path.join(t, "verify-%d" % (i % 10))
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"f{i}"), "wb") as f:
            f.write(r.randbytes(r.randint(10, 5000)))


def generate(args):
    dest = args.dest.rstrip("/")
    if os.path.lexists(dest):
        raise SystemExit(f"mktree.py: {dest} exists")
    t = time.time()
    text = Text(args.seed)
    r = random.Random(args.seed)
    specs = plan(args.files, args.seed)
    seen = set()
    specs = [s for s in specs if not (s.path in seen or seen.add(s.path))]
    # no entry may live under a path that is a link or a file
    links = set(s.path for s in specs if s.kind != "dir")
    def clash(p):
        parts = p.split("/")
        return any("/".join(parts[:i]) in links for i in range(1, len(parts)))
    specs = [s for s in specs if not clash(s.path)]
    tmp = dest + ".part"
    if os.path.lexists(tmp):
        raise SystemExit(f"mktree.py: {tmp} exists (an interrupted run; remove it)")
    os.makedirs(tmp)
    write_tree(tmp, specs, text)
    print(f"mktree.py: wrote {len(specs)} entries in {time.time() - t:.0f}s", file=sys.stderr)
    make_git(tmp, specs, text, r)
    print(f"mktree.py: git done at {time.time() - t:.0f}s", file=sys.stderr)
    make_filtered(tmp, r)
    os.rename(tmp, dest)
    stats(argparse.Namespace(tree=dest))


def change(args):
    """COUNT changes; ROUND picks the files.  Of COUNT: one new file (in a
    new directory), one deletion, one large file edited, one same-size edit,
    one mtime-only touch, the rest (15 of 20) appended edits of Go files."""
    tree = args.tree.rstrip("/")
    r = random.Random(args.round * 7 + 3)
    go, big = [], []
    for root, dirs, files in os.walk(tree):
        rel = os.path.relpath(root, tree)
        if rel == ".":
            dirs[:] = [d for d in dirs if d not in FILTERED + (".git",)]
        dirs.sort()
        for f in sorted(files):
            p = os.path.join(root, f)
            st = os.lstat(p)
            if not stat.S_ISREG(st.st_mode) or not st.st_mode & 0o200:
                continue
            if f.endswith(".go") and st.st_size > 100:
                go.append(p)
            elif st.st_size > 1_000_000 and f.endswith(".json"):
                big.append(p)
    n = args.count
    if n < 6:
        raise SystemExit("mktree.py: --count must be at least 6")
    picked = r.sample(go, n - 2)
    out = []
    for p in picked[:n - 5]:                # appended edits
        with open(p, "ab") as f:
            f.write(b"\n// edited in round %d\nfunc round%dEdit() int { return %d }\n" % (args.round, args.round, args.round))
        out.append("edit   " + p)
    p = picked[n - 5]                       # same size, new content
    with open(p, "r+b") as f:
        c = f.read(1)
        f.seek(0)
        f.write(b"/" if c != b"/" else b"#")
    out.append("same-size " + p)
    p = picked[n - 4]                       # new mtime only
    os.utime(p)
    out.append("touch  " + p)
    p = r.choice(big)                       # a large file
    with open(p, "ab") as f:
        f.write(b"\n")
    out.append("large  " + p)
    d = os.path.join(os.path.dirname(picked[n - 3]), "round%d" % args.round)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "new.go"), "wb") as f:
        f.write(b"package round\n\n// new in round %d\n" % args.round)
    out.append("new    " + os.path.join(d, "new.go"))
    os.unlink(picked[n - 3])                # a deletion
    out.append("delete " + picked[n - 3])
    for line in out:
        print(line[:7] + os.path.relpath(line[7:].strip(), tree) if not line.startswith("same-size") else
              "same-size " + os.path.relpath(line[10:], tree))


# Not matched by copy-out's patterns either, so a copy-out from a planted
# snapshot has nothing to copy.
PLANTED = (("_output/dockerized/go/cache/ab/planted-d", b"cache\n"),
           ("_output/local/planted", b"local\n"),
           ("_tmp/kube-verify.123/planted", b"tmp\n"))


def plant(args):
    d = args.dir
    for rel, data in PLANTED:
        p = os.path.join(d, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)


def stats(args):
    tree = args.tree.rstrip("/")
    acc = {}
    depth = 0
    for top in sorted(os.listdir(tree)):
        part = "filtered" if top in FILTERED else (".git" if top == ".git" else "synced")
        a = acc.setdefault(part, [0, 0, 0, 0])      # files, links, dirs, bytes
        p = os.path.join(tree, top)
        entries = [p]
        if stat.S_ISDIR(os.lstat(p).st_mode):
            for root, dirs, files in os.walk(p):
                entries += [os.path.join(root, n) for n in dirs + files]
                if part != "filtered":
                    depth = max(depth, root[len(tree):].count("/"))
        for e in entries:
            st = os.lstat(e)
            if stat.S_ISREG(st.st_mode):
                a[0] += 1
                a[3] += st.st_size
            elif stat.S_ISLNK(st.st_mode):
                a[1] += 1
            elif stat.S_ISDIR(st.st_mode):
                a[2] += 1
    for part in ("synced", ".git", "filtered"):
        if part in acc:
            f, l, d, b = acc[part]
            print(f"{part:9s} {f:7d} files {l:5d} links {d:6d} dirs {b / 1e6:8.1f} MB")
    s = [acc.get(p, [0] * 4) for p in ("synced", ".git")]
    print(f"to sync   {s[0][0] + s[1][0] + s[0][1] + s[1][1]:7d} files and links, "
          f"{s[0][2] + s[1][2]} directories, {(s[0][3] + s[1][3]) / 1e6:.0f} MB, "
          f"deepest directory {depth} levels below the top")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("dest")
    g.add_argument("--files", type=int, default=65000)
    g.add_argument("--seed", type=int, default=1)
    c = sub.add_parser("change")
    c.add_argument("tree")
    c.add_argument("round", type=int)
    c.add_argument("--count", type=int, default=20)
    pl = sub.add_parser("plant")
    pl.add_argument("dir")
    st = sub.add_parser("stats")
    st.add_argument("tree")
    args = p.parse_args()
    {"generate": generate, "change": change, "plant": plant, "stats": stats}[args.cmd](args)


if __name__ == "__main__":
    main()
