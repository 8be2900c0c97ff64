#!/bin/sh
# SIGKILL during `image pull` leaves a consistent store, and the next pull
# resumes from the layers already published.
#
# fakeregistry.py serves a 4-layer image (gzip and zstd), its blobs slowed
# to about 16 MB/s so that a pull takes a second or two and a kill lands
# in the middle.  The reference listing of each layer comes from a pull
# into another state directory.  Then, ITER times, a pull is started in
# the background and SIGKILLed after a random delay, and the store is
# checked before any other command runs (ocilib.py storecheck: every
# layer directory is complete, every record names only present layers);
# `image ls` must then work and leave store/tmp empty.  Every other round
# removes the image and prunes, so that the next pull has work to do; the
# others leave what was published for the next pull to reuse.
. "$SRCDIR/tests/integration/lib.sh"
need timeout curl
. "$SRCDIR/tests/integration/registry-lib.sh"

ITER=${KILL_ITERATIONS:-20}
FX=$SRCDIR/tests/fixtures
SCR=$WORK/scratch
REF=$WORK/ref-state
mkdir -p "$SCR/ref"
L=$SCR/layout
"$PYTHON" "$FX/ocilib.py" image oci-dir "$L" --name 1 --meta - \
	--layer name=p1,files=1500,bytes=5000 --layer name=p2,files=1500,bytes=5000,comp=zstd \
	--layer name=p3,files=1500,bytes=5000 --layer name=p4,files=1500,bytes=5000 \
	>"$SCR/img.json" 2>"$SCR/gen.log" ||
	{ sed 's/^/# /' "$SCR/gen.log"; echo "Bail out! fixture generation failed"; exit 1; }
[ "$(id -u)" = 0 ] && chown -R "$TEST_UID:$TEST_GID" "$SCR"
jget() { "$PYTHON" "$FX/ocilib.py" jget "$1"; }

reg_start_fake slow --repo img="$L" --fault 'rate=16000000,match=/blobs/' ||
	{ echo "Bail out! fakeregistry did not start"; exit 1; }
IMG=$REG_HOST/img:1

plan $((ITER + 6))

as_user "$KBUILD_NS" -q --state-dir "$REF" image pull "$IMG" >"$SCR/ref.out" 2>&1
is "reference pull succeeds" "$?" 0
nref=0
for d in $(jget 'layers.*.diff_id' <"$SCR/img.json"); do
	h=${d#sha256:}
	if [ -d "$REF/store/layers/$h" ]; then
		"$PYTHON" "$FX/ocilib.py" listing "$REF/store/layers/$h" >"$SCR/ref/$h.listing"
		[ -s "$SCR/ref/$h.listing" ] && nref=$((nref + 1))
	fi
done
is "reference store has the 4 layers" "$nref" 4

t0=$(date +%s.%N)
kb image pull "$IMG" >/dev/null 2>&1
T=$(awk "BEGIN { printf \"%.3f\", $(date +%s.%N) - $t0 }")
kb image rm "$IMG" >/dev/null 2>&1
echo "# a whole pull into the test store took $T s"

# start_pull: kbuild-ns execs kbuild-ns-image, so $! is the pulling process.
start_pull() {
	if [ "$(id -u)" = 0 ]; then
		setpriv --reuid="$TEST_UID" --regid="$TEST_GID" --clear-groups \
			env HOME="$WORK/home" "$KBUILD_NS" -q --state-dir "$STATE" image pull "$IMG" >"$SCR/pull.out" 2>&1 &
	else
		env HOME="$WORK/home" "$KBUILD_NS" -q --state-dir "$STATE" image pull "$IMG" >"$SCR/pull.out" 2>&1 &
	fi
	PID=$!
}

killed=0 i=0
while [ "$i" -lt "$ITER" ]; do
	i=$((i + 1))
	delay=$("$PYTHON" -c 'import random, sys; print("%.3f" % random.uniform(0, min(float(sys.argv[1]), 3.0)))' "$T")
	start_pull
	sleep "$delay"
	kill -KILL "$PID" 2>/dev/null && killed=$((killed + 1))
	wait "$PID" 2>/dev/null; st=$?
	probs=$("$PYTHON" "$FX/ocilib.py" storecheck "$STATE/store" "$SCR/ref" 2>&1)
	kb image ls --json >"$SCR/ls.json" 2>"$SCR/ls.err" || probs="$probs
image ls --json failed: $(cat "$SCR/ls.err")"
	left=$(find "$STATE/store/tmp" -mindepth 1 -maxdepth 1 2>/dev/null | head -3)
	[ -z "$left" ] || probs="$probs
store/tmp leftovers after image ls: $left"
	nl=$(ls "$STATE/store/layers" 2>/dev/null | wc -l)
	desc="kill $i after ${delay}s (exit $st, $nl layers published): store consistent"
	if [ -z "$probs" ]; then _result 0 "$desc"
	else printf '%s\n' "$probs" | head -10 | sed 's/^/# /'; _result 1 "$desc"; fi
	if [ $((i % 2)) = 1 ]; then
		kb image inspect "$IMG" >/dev/null 2>&1 && kb image rm "$IMG" >/dev/null 2>&1
		kb image prune >/dev/null 2>&1
	fi
done
echo "# $killed of $ITER pulls were killed before they finished"

# Resuming: a pull killed once at least one layer is published; the next
# pull finds that layer and fetches only the others.
kb image inspect "$IMG" >/dev/null 2>&1 && kb image rm "$IMG" >/dev/null 2>&1
kb image prune >/dev/null 2>&1
start_pull
n=0
while [ "$(ls "$STATE/store/layers" 2>/dev/null | wc -l)" -lt 1 ] && [ "$n" -lt 300 ]; do sleep 0.02; n=$((n + 1)); done
kill -KILL "$PID" 2>/dev/null
wait "$PID" 2>/dev/null
have=$(ls "$STATE/store/layers" | wc -l)
as_user "$KBUILD_NS" --state-dir "$STATE" image pull "$IMG" >"$SCR/resume.out" 2>&1
is "pull after a kill with $have layer(s) published succeeds" "$?" 0
ok "... and does not fetch those again ($have already present)" grep -q "$((4 - have)) layer(s) downloaded and unpacked .*, $have already present" "$SCR/resume.out"
is "image ls shows the image" "$(kb image ls --json | jget '*.names')" "[\"$IMG\"]"
probs=$("$PYTHON" "$FX/ocilib.py" storecheck "$STATE/store" "$SCR/ref" 2>&1)
is "final store complete and consistent" "$probs$(ls "$STATE/store/layers" | wc -l)" 4

[ "$_tap_failed" = 0 ]
