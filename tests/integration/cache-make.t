#!/bin/sh
# The CI-cache round trip on examples/kube-mini with the kube-cross-like
# image, as the test user: make (cold), cache export, clean --all, cache
# import, make — which compiles nothing (GOFLAGS=-x logs no compiler run)
# because Go's build cache came back with its mtimes.  Then the version
# step's record: carried in a cache made in this boot, kept by an import
# into a new state directory, so that the make after it does not run the
# step; from another boot (the description says so), not kept.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/make-lib.sh"

plan 11

unset KBUILD_NS_IMAGE KUBE_GIT_VERSION_FILE GOFLAGS
# km ARGS...: kbuild-ns on $KCO as the test user; GOFLAGS from $GX.
km() { as_user env GOFLAGS="${GX:-}" timeout -k 5 "$MAKE_TIMEOUT" "$KBUILD_NS" -q --state-dir "$STATE" -C "$KCO" "$@" </dev/null; }
ncompile() { grep -c '/compile ' "$1" 2>/dev/null; }
C=$WORK/kube-mini.cache.tar.zst

t0=$(ms)
GX=-x; ok "a cold make" km make; GX=
echo "# cold make: $(($(ms) - t0)) ms, $(ncompile "$WORK/.out") compiler runs"
t0=$(ms)
ok "cache export" km cache export "$C"
echo "# export: $(($(ms) - t0)) ms, $(wc -c <"$C") bytes"
ok "clean --all removes every state" km clean --all
is "... none left" "$(ls "$STATE/projects" 2>/dev/null | wc -l)" 0
t0=$(ms)
ok "cache import" km cache import "$C"
echo "# import: $(($(ms) - t0)) ms"
t0=$(ms)
GX=-x; ok "a make after the import" km make; GX=
cp "$WORK/.out" "$WORK/warm.out"
echo "# make after import: $(($(ms) - t0)) ms"
is "... compiles nothing" "$(ncompile "$WORK/warm.out")" 0
ok "... and the binaries came back to the checkout" as_user test -x "$KCO/_output/dockerized/bin/linux/$(uname -m | sed 's/x86_64/amd64/; s/aarch64/arm64/')/kube-mini-apiserver"

# Two makes settle the checkout (clean --all removed its _output, the
# import's make brought it back): the second does not run the step.
km make >/dev/null 2>&1
km -v make >"$WORK/settle.out" 2>&1
ok "cache export of a state whose version record holds" km cache export "$C"
ST2=$WORK/state2
as_user "$KBUILD_NS" -q --state-dir "$ST2" image import "$KUBE_ARCHIVE" >"$WORK/ki.out" 2>&1 ||
	{ sed 's/^/# /' "$WORK/ki.out"; echo "Bail out! importing the image into a second state failed"; exit 1; }
k2() { as_user timeout -k 5 "$MAKE_TIMEOUT" "$KBUILD_NS" --state-dir "$ST2" -C "$KCO" "$@" </dev/null; }
k2 -q cache import "$C" >"$WORK/ci.out" 2>&1 && k2 -v make >"$WORK/m2.out" 2>&1
rc=$?
[ "$rc" = 0 ] || tail -20 "$WORK/ci.out" "$WORK/m2.out" | sed 's/^/# /'
is "imported into a new state directory, the make after it does not run the version step (same boot)" \
	"$rc $(grep -c 'version step: not run' "$WORK/m2.out") $(grep -c 'version step: not run' "$WORK/settle.out")" "0 1 1"

# The same cache, its description saying another boot made it.
python3 - "$C" "$WORK/other-boot.cache" <<'PY'
import io, json, subprocess, sys, tarfile
raw = subprocess.run(["zstd", "-dc", sys.argv[1]], check=True, capture_output=True).stdout
t = tarfile.open(fileobj=io.BytesIO(raw), mode="r:")
m = t.next()
meta = json.load(t.extractfile(m))
end = m.offset_data + (m.size + 511) // 512 * 512
meta["version_step"]["boot"] = "00000000-0000-0000-0000-000000000000"
data = json.dumps(meta).encode()
out = io.BytesIO()
with tarfile.open(fileobj=out, mode="w:", format=tarfile.PAX_FORMAT) as w:
    m.size = len(data)
    w.addfile(m, io.BytesIO(data))
body = out.getvalue().rstrip(b"\0")
body += b"\0" * (-len(body) % 512)
subprocess.run(["zstd", "-q", "-o", sys.argv[2]], input=body + raw[end:], check=True)
PY
chmod a+r "$WORK/other-boot.cache"
k2 -q cache import "$WORK/other-boot.cache" >"$WORK/ci.out" 2>&1 && k2 -v make >"$WORK/m3.out" 2>&1
rc=$?
[ "$rc" = 0 ] || tail -20 "$WORK/ci.out" "$WORK/m3.out" | sed 's/^/# /'
is "a cache from another boot: imported, and the make after it runs the step (its record was not kept)" \
	"$rc $(grep -c 'version step: runs (no earlier run)' "$WORK/m3.out")" "0 1"
k2 -q clean --all >/dev/null 2>&1

exit $((_tap_failed > 0))
