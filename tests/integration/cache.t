#!/bin/sh
# `kbuild-ns cache export | import | key` on the busybox image of
# run-lib.sh, as the test user: a data layer with a whiteout, an opaque
# directory, hard links, a symlink and old mtimes goes out as a sorted
# tar.zst that zstd and tar read, comes back into a cleaned checkout whole,
# and a cache for another image, a hostile cache (traversal, symlink
# escape, members outside upper/ and snapshot/_output) or a killed import
# leaves the state as it was.  (The Go round trip on examples/kube-mini is
# in cache-make.t.)
. "$SRCDIR/tests/integration/lib.sh"
need python3 zstd
. "$SRCDIR/tests/integration/run-lib.sh"

plan 38

unset KBUILD_NS_IMAGE
C=$WORK/cache.tar.zst
# in the sandbox, on $CO with $IMG (no probe needed)
sbx() { as_user timeout -k 5 "$RUN_TIMEOUT" "$KBUILD_NS" -q --state-dir "$STATE" -C "$CO" run --image "$IMG" -- "$@" </dev/null; }
kc() { as_user timeout -k 5 "$RUN_TIMEOUT" "$KBUILD_NS" -q --state-dir "$STATE" -C "$CO" "$@" </dev/null; }
projects() { ls "$STATE/projects" 2>/dev/null | sort | paste -sd' '; }

# ---- a data layer worth carrying ----
ok "a build leaves a whiteout, an opaque dir, hard links, old mtimes" sbx sh -ec '
	rm /etc/group
	rm -rf /root; mkdir /root; echo new >/root/NEW
	mkdir -p _output/go/cache/00 _output/bin
	echo obj >_output/go/cache/00/a; ln _output/go/cache/00/a _output/go/cache/00/b
	touch -d "2001-02-03 04:05:06" _output/go/cache/00/a
	echo data >/data; ln -s /etc/passwd /etc/link; chmod 0555 _output/bin'
ok "cache key prints a key" kc cache key --image "$IMG"
key=$(last_output)
case $key in kbuild-ns-????????????????) k=0 ;; *) k=1 ;; esac
is "... of the form kbuild-ns-<16 hex>" "$k" 0
ok "cache key is stable" kc cache key --image "$IMG"
is "... same key twice" "$(last_output)" "$key"
ok "cache export" kc cache export "$C" --image "$IMG"

# ---- what the file holds ----
zstd -dc "$C" >"$WORK/cache.tar" 2>"$WORK/.zstd"
is "zstd -d reads it" "$?" 0
tar -tvf "$WORK/cache.tar" >"$WORK/list" 2>&1
is "tar -t reads it" "$?" 0
is "its first member describes it" "$(head -1 "$WORK/list" | awk '{print $NF}')" kbuild-ns-cache.json
python3 - "$WORK/cache.tar" >"$WORK/members" <<'EOF' || echo "python failed" >"$WORK/members"
import sys, tarfile
for m in tarfile.open(sys.argv[1]):
    print("%s %o %d:%d %d %s" % (m.name, m.mode, m.uid, m.gid, int(m.mtime), m.linkname))
EOF
# GNU tar's --sort=name order: depth first, each directory's entries by
# name (bytes), i.e. sorted by the list of path components.
sorted=$(python3 -c '
import sys
n = [l.split(" ")[0] for l in open(sys.argv[1]).read().splitlines()[1:]]
k = [[c.encode() for c in x.split("/")] for x in n]
print("sorted" if k == sorted(k) else "not sorted: " + " ".join(n))' "$WORK/members")
is "members after the first are sorted" "$sorted" sorted
grep -q '^upper/etc/.wh.group ' "$WORK/members"
is "the whiteout is a .wh. entry" "$?" 0
grep -q '^upper/root/.wh..wh..opq ' "$WORK/members"
is "the opaque dir has .wh..wh..opq" "$?" 0
grep -q '^snapshot/_output/go/cache/00/b .* snapshot/_output/go/cache/00/a$' "$WORK/members"
is "the second name is a hard link" "$?" 0
is "the mtime is kept, not clamped" "$(awk '$1 == "snapshot/_output/go/cache/00/a" {print $4}' "$WORK/members")" \
	"$(TZ=UTC date -d '2001-02-03 04:05:06' +%s 2>/dev/null || echo 981173106)"
is "owners are ids inside (0:0)" "$(awk 'NR > 1 {print $3}' "$WORK/members" | sort -u | paste -sd' ')" "0:0"
python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(m["format"], m["image"][:7], m["counts"]["whiteouts"] >= 1)' \
	"$(tar -xOf "$WORK/cache.tar" kbuild-ns-cache.json >"$WORK/meta.json" && echo "$WORK/meta.json")" >"$WORK/meta.out" 2>&1
is "the description: format, image, counts" "$(cat "$WORK/meta.out")" "1 sha256: True"

# ---- the round trip ----
ok "clean removes the state" kc clean
is "... no state left" "$(projects)" ""
ok "cache import" kc cache import "$C" --image "$IMG"
ok "the layer is back: whiteout, opaque dir, files, link, hard links, mtime, modes" sbx sh -ec '
	! test -e /etc/group
	test "$(ls /root)" = NEW
	test "$(cat /data)" = data
	test "$(readlink /etc/link)" = /etc/passwd
	test "$(stat -c %i _output/go/cache/00/a)" = "$(stat -c %i _output/go/cache/00/b)"
	test "$(stat -c %Y _output/go/cache/00/a)" = "$(TZ=UTC date -d "2001-02-03 04:05:06" +%s)"
	test "$(stat -c %a _output/bin)" = 555'
fails "export of a checkout with no state fails" 125 as_user "$KBUILD_NS" -q --state-dir "$WORK/empty-state" -C "$CO" \
	cache export "$WORK/x.tar.zst" --image "$IMG"

# ---- refusals ----
# Another image: the same rootfs under another name is the same image, so
# make one that differs.
hu 'mkdir -p "$1/r2"; tar -C "$1/r2" -xf "$1/rootfs.tar"; echo other >"$1/r2/etc/other"
    tar -C "$1/r2" --numeric-owner --owner=0 --group=0 -cf "$1/rootfs2.tar" .' "$WORK"
ok "a second image" kb image import "$WORK/rootfs2.tar" --name other:1
before=$(projects)
fails "a cache made for another image is refused" 125 kc cache import "$C" --image other:1
grep -q "made for image" "$WORK/.out"
is "... the line says so" "$?" 0
is "... and the state is as it was" "$(projects)" "$before"
ok "... unless --force" kc cache import "$C" --image other:1 --force

# Hostile caches: a good description, then a bad member.
hostile() {
	python3 - "$WORK/meta.json" "$1" "$2" <<'EOF'
import io, sys, tarfile, subprocess
meta, kind, out = sys.argv[1], sys.argv[2], sys.argv[3]
buf = io.BytesIO()
t = tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT)
t.add(meta, arcname="kbuild-ns-cache.json")
def f(name, data=b"x"):
    i = tarfile.TarInfo(name); i.size = len(data); t.addfile(i, io.BytesIO(data))
def l(name, target):
    i = tarfile.TarInfo(name); i.type = tarfile.SYMTYPE; i.linkname = target; t.addfile(i)
d = tarfile.TarInfo("upper"); d.type = tarfile.DIRTYPE; t.addfile(d)
if kind == "dotdot":
    f("upper/../../../canary/owned")
elif kind == "symlink":
    l("upper/evil", sys.argv[1].rsplit("/", 1)[0] + "/canary")
    f("upper/evil/owned")
elif kind == "extra":
    f("lock")
t.close()
open(out, "wb").write(subprocess.run(["zstd", "-q", "-c"], input=buf.getvalue(), stdout=subprocess.PIPE, check=True).stdout)
EOF
}
hu 'mkdir -p "$1/canary"; echo safe >"$1/canary/file"' "$WORK"
for kind in dotdot symlink extra; do
	hostile "$kind" "$WORK/$kind.tar.zst" && chmod 644 "$WORK/$kind.tar.zst"
	before=$(projects)
	fails "a $kind cache is refused" 125 kc cache import "$WORK/$kind.tar.zst" --image "$IMG"
	is "... the canary untouched, the state as it was" \
		"$(ls "$WORK/canary" | paste -sd' ') $(projects)" "file $before"
done

# ---- a killed import ----
ok "a bigger layer to import" sbx sh -ec 'dd if=/dev/urandom of=/big bs=1M count=64 2>/dev/null'
ok "export it" kc cache export "$WORK/big.tar.zst" --image "$IMG"
ok "a marker the big cache does not have" sbx sh -ec 'echo before >/marker'
killed=0
for delay in 0.05 0.2 0.5; do
	( as_user_exec "$KBUILD_NS" -q --state-dir "$STATE" -C "$CO" cache import "$WORK/big.tar.zst" --image "$IMG" \
		</dev/null >/dev/null 2>&1 ) &
	pid=$!
	sleep "$delay"
	kill -KILL "$pid" 2>/dev/null && killed=$((killed + 1))
	wait "$pid" 2>/dev/null
	# The state is the old one or the new one, whole.
	sbx sh -ec 'test -e /marker || test -e /big' || echo "mixed state after a kill at $delay s" >>"$WORK/kills"
done
is "after SIGKILLs during imports the state is whole" "$(cat "$WORK/kills" 2>/dev/null)" ""
ok "the next import succeeds" kc cache import "$WORK/big.tar.zst" --image "$IMG"
ok "... and left nothing beside the state" sh -c "! ls '$STATE/projects' | grep -q cache-new"

exit $((_tap_failed > 0))
