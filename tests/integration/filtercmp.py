#!/usr/bin/env python3
"""filtercmp.py SYNC_TREE WORK: the sync engine's filter rules against rsync.

For each list of rules, the tree below is synced twice from the same
source: by rsync (`rsync -a --filter=RULE...`, with --prune-empty-dirs for
copy-out, with --delete into a snapshot that has extra files) and by
tests/helpers/sync-tree with the same rules; the entries that land (type
and path) must be the same.  Printed as TAP, one test per comparison.

Two differences are kbuild-ns's on purpose (kbuild-ns-make(1)) and are
checked as such: what the sending side hides (H, or - with the s
modifier) stays in the snapshot where rsync --delete deletes it; and a
directory the source no longer has is deleted whole, where rsync keeps
the entries in it that a rule protects.
"""
import os
import shutil
import subprocess
import sys

TREE = """zz_generated.deepcopy.go types.go x.pb.go generated.proto Makefile .git/HEAD .git/objects/ab/cd
.make/pkg/gofiles.mk _tmp/t _tmp/zz_generated.t _output/bin/x _output/dockerized/bin/linux/amd64/kubectl
_output/dockerized/go/src/k8s.io/types.go _output/dockerized/go/cache/01/abc-d _temp/zz_generated.x
vendor/k8s.io/api/zz_generated.deepcopy.go vendor/k8s.io/api/types.go vendor/a/b.go vendor/modules.txt
Godeps/Godeps.json Godeps/Readme staging/src/k8s.io/code-generator/Godeps/Godeps.json
staging/src/k8s.io/code-generator/x.go staging/Godeps/Godeps.json staging/a/b/Godeps/c/d.json
pkg/apis/demo/v1/zz_generated.deepcopy.go pkg/apis/demo/v1/types.go pkg/apis/demo/v1/doc.go pkg/zz_generated.d/x.go
foo/bar/baz foo/baz bar/foo a/foo/bar/x x/foo/y/bar foo/q/r/bar abc abd ab/c acd b.o src/a.c src/x/a.c
d1/d2/d3/d4/file.c d1/file.c file.c weird[1]/f star*/f""".split()

ERAS = {
    "2017 sync-in": ["H /.git/", "- /.make/", "- /_tmp/", "- /_output/", "- /", "H zz_generated.*", "H generated.proto"],
    "2017 copy-out": ["- /_temp/", "+ /vendor/", "+ /Godeps/", "+ /staging/***/Godeps/**", "+ /_output/dockerized/bin/**",
                      "+ zz_generated.*", "+ generated.proto", "+ *.pb.go", "+ types.go", "+ */", "- /**"],
    "2023 sync-in": ["H /.git", "- /_tmp/", "- /_output/", "- /"],
    "2024 copy-out": ["- /_temp/", "+ /vendor/", "+ /staging/***/Godeps/**", "+ /_output/dockerized/bin/**",
                      "- /_output/dockerized/go/**", "+ zz_generated.*", "+ generated.proto", "+ *.pb.go",
                      "+ types.go", "+ */", "- /**"],
    "daemon": ["- /.make/", "- /_tmp/"],
}
RULES = [
    ["- *.o"], ["+ */", "+ *.c", "- *"], ["+ foo/", "+ foo/bar.c", "- *"], ["- foo/*/bar"], ["- /foo/**/bar"],
    ["- foo/"], ["- /foo"], ["- foo/bar"], ["- **/baz"], ["- d1/**/file.c"], ["- d1/***"], ["+ /d1/***", "- *"],
    ["- ab?"], ["- a[b-c]?"], ["- [!a]*"], ["-! */"], ["- *", "+ *.c"], ["+ *.c", "- /**"], ["- /*/*/*"],
    ["H *.go", "S types.go"], ["- /staging/***/Godeps/**"], ["- **/Godeps/**"], ["- staging/**/Godeps"],
    ["- weird\\[1]/"], ["- star\\*/"], ["exclude foo"], ["- [[:digit:]]*"], ["- a*/**/x"], ["- */bar"],
    ["- **foo"], ["- *o*/"], ["- /src/*.c"], ["- .*"], ["-! *.go"], ["-p */"], ["- [ab]*/***"],
    ["- vendor/k8s.io/*"], ["+ link.go", "- *.go"],
]
# Deletion: the snapshot has these too; the source does not.
EXTRA = "a/stale.go a/stale.o b/c/gone.txt .make/more _output/new extra.o pkg/zz_generated.y keep/other.txt".split()
DELETE = [
    (["- /.make/", "- /_output/", "- /_tmp/"], None), (["- *.o"], None), (["P *.o"], None),
    (["- *.o", "R a/*.o"], None), (["R a/stale.o", "P *.o"], None), (["P /keep/***"], None),
    (["+ */", "- *.txt"], None), (["-r zz_generated.*"], None),
    (["H zz_generated.*"], "f pkg/zz_generated.y"), (["-s zz_generated.*"], "f pkg/zz_generated.y"),
]


def make_tree(root, files):
    for f in files:
        p = os.path.join(root, f)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as fh:
            fh.write(f)


def listing(d):
    out = subprocess.run(["find", d, "-mindepth", "1", "-printf", "%y %P\n"], capture_output=True, text=True).stdout
    return sorted(out.splitlines())


class Tap:
    def __init__(self):
        self.n = 0

    def result(self, ok, desc, detail=()):
        self.n += 1
        for line in detail:
            print("# " + line)
        print("%s %d - %s" % ("ok" if ok else "not ok", self.n, desc))


def compare(tap, tool, work, src, name, rules, out, extra_dst=None, deviation=None):
    r, k = os.path.join(work, "r"), os.path.join(work, "k")
    for d in (r, k):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        if extra_dst is not None:
            make_tree(d, extra_dst)
    flags = [a for rule in rules for a in ("--filter", rule)]
    opts = ["--prune-empty-dirs"] if out else ["--delete"] if extra_dst is not None else []
    p = subprocess.run(["rsync", "-a"] + opts + flags + [src + "/", r + "/"], capture_output=True, text=True)
    q = subprocess.run([tool] + (["--out"] if out else []) + flags + [src, k], capture_output=True, text=True)
    desc = "%s: %s %s" % (name, " ".join(repr(x) for x in rules), "copy-out" if out else "sync-in")
    if p.returncode or q.returncode:
        return tap.result(False, desc, [p.stderr.strip(), q.stderr.strip()])
    a, b = listing(r), listing(k)
    if deviation:
        # kbuild-ns keeps what the sending side hides; rsync deletes it.
        ok = deviation not in a and deviation in b and sorted(set(b) - {deviation}) == a
        return tap.result(ok, desc + " (kept: " + deviation + ", rsync deletes it)", [])
    detail = ["rsync only: " + x for x in sorted(set(a) - set(b))] + ["ours only: " + x for x in sorted(set(b) - set(a))]
    tap.result(a == b, desc, detail[:20])


def main(argv):
    tool, work = argv[1], argv[2]
    src = os.path.join(work, "src")
    shutil.rmtree(src, ignore_errors=True)
    make_tree(src, TREE)
    os.makedirs(os.path.join(src, "emptydir/sub"))
    os.symlink("../../staging/src/k8s.io/code-generator", os.path.join(src, "vendor/k8s.io/code-generator"))
    os.symlink("x.go", os.path.join(src, "staging/src/k8s.io/code-generator/link.go"))
    cases = [(k, v) for k, v in ERAS.items()] + [("rsync(1)", v) for v in RULES]
    print("1..%d" % (2 * len(cases) + len(DELETE) + 1))
    tap = Tap()
    for name, rules in cases:
        for out in (False, True):
            compare(tap, tool, work, src, name, rules, out)
    dsrc = os.path.join(work, "dsrc")
    make_tree(dsrc, "a/x.go a/y.o b/c/d.txt .make/rec _output/bin/k _tmp/t keep/me.txt top.o pkg/types.go".split())
    for rules, deviation in DELETE:
        compare(tap, tool, work, dsrc, "--delete", rules, False,
                "a/x.go a/y.o b/c/d.txt keep/me.txt pkg/types.go".split() + EXTRA, deviation)
    # A directory gone from the source goes whole, protected files in it too.
    r = os.path.join(work, "k")
    shutil.rmtree(r, ignore_errors=True)
    make_tree(r, ["gone/a.o", "gone/b.txt"])
    q = subprocess.run([tool, "--filter", "- *.o", dsrc, r], capture_output=True, text=True)
    tap.result(q.returncode == 0 and not os.path.exists(os.path.join(r, "gone")),
               "--delete: a directory the source no longer has is removed whole, its protected a.o too", [q.stderr])


if __name__ == "__main__":
    main(sys.argv)
