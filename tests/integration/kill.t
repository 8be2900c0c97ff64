#!/bin/sh
# SIGKILL during `image import` leaves a consistent store.
#
# A moderately big image (5 layers, gzip and zstd, ~120 MB and ~20000
# files unpacked)
# is imported once into a reference store; the listing of each layer dir
# (names, types, modes, sizes, content hashes, link counts, xattrs) is the
# reference.  Then, ITER times, an import into the test store is started in
# the background and SIGKILLed after a random delay (0-1.5 s), and the store
# is checked before any other command runs:
#   - every dir in store/layers is one of the image's layers and complete;
#   - every store/images/*.json parses and names only present layers;
# then `image ls --json` must work, list only images whose layer paths
# exist, and leave store/tmp empty.  The image (if the import finished) is removed again so the next
# import has work to do.  Finally a normal import succeeds.
. "$SRCDIR/tests/integration/lib.sh"
need timeout

ITER=${KILL_ITERATIONS:-20}
FX=$SRCDIR/tests/fixtures
SCR=$WORK/scratch
REF=$WORK/ref-state
mkdir -p "$SCR/ref"
"$PYTHON" "$FX/ocilib.py" image oci-archive "$SCR/big.tar" --name latest --meta - \
	--layer name=k1,files=4000,bytes=6000 --layer name=k2,files=4000,bytes=6000 \
	--layer name=k3,files=4000,bytes=6000,comp=zstd --layer name=k4,files=4000,bytes=6000 \
	--layer name=k5,files=4000,bytes=6000 \
	>"$SCR/big.json" 2>"$SCR/gen.log" ||
	{ sed 's/^/# /' "$SCR/gen.log"; echo "Bail out! fixture generation failed"; exit 1; }
user_own "$SCR"
jget() { "$PYTHON" "$FX/ocilib.py" jget "$1"; }
BIN=$(readlink -f "$KBUILD_NS")
# kbuild-ns execs kbuild-ns-image (next to it in a build tree) to import.
HELPER=$(dirname "$BIN")/kbuild-ns-image
ours() { [ "$1" = "$BIN" ] || [ "$1" = "$HELPER" ]; }

plan $((ITER + 8))

# ---- the reference import, in its own state dir
t0=$(date +%s.%N)
as_user "$KBUILD_NS" -q --state-dir "$REF" image import "$SCR/big.tar" --name big:1 >"$SCR/ref.out" 2>&1
rc=$?
t1=$(date +%s.%N)
is "reference import succeeds" "$rc" 0
echo "# reference import took $(awk "BEGIN { printf \"%.3f\", $t1 - $t0 }") s"
nref=0
for d in $(jget 'layers.*.diff_id' <"$SCR/big.json"); do
	h=${d#sha256:}
	if [ -d "$REF/store/layers/$h" ]; then
		"$PYTHON" "$FX/ocilib.py" listing "$REF/store/layers/$h" >"$SCR/ref/$h.listing"
		[ -s "$SCR/ref/$h.listing" ] && nref=$((nref + 1))
	fi
done
is "reference store has the 5 layers" "$nref" 5

# T: how long a whole import takes in the test store (timed once, then
# removed again); the kill delays are drawn from it.
t0=$(date +%s.%N)
kb image import "$SCR/big.tar" --name big:1 >"$SCR/warm.out" 2>&1
rc=$?
t1=$(date +%s.%N)
kb image rm big:1 >/dev/null 2>&1
T=$(awk "BEGIN { printf \"%.3f\", $t1 - $t0 }")
echo "# a full import into the test store took $T s"
is "timed import into the test store succeeds, rm leaves no layer" "$rc $(ls "$STATE/store/layers" | wc -l)" "0 0"

# start_import: the import as the test user in the background, with no
# shell or function wrapper left in between: $! is the subshell, which
# execs setpriv/env, which exec the next program, so it becomes kbuild-ns
# (checked below via /proc).
start_import() {
	( as_user_exec "$KBUILD_NS" -q --state-dir "$STATE" \
		image import "$SCR/big.tar" --name big:1 ) >"$SCR/imp.out" 2>&1 &
	PID=$!
}

killed=0 finished=0 hit=0 stray=0
i=0
while [ "$i" -lt "$ITER" ]; do
	i=$((i + 1))
	# Random delay in 0-1.5 s: on odd rounds anywhere in the time a whole
	# import takes here (T), on even rounds near its end, where layers,
	# blobs and the record are published.
	delay=$("$PYTHON" -c 'import random, sys
t, odd = float(sys.argv[1]), int(sys.argv[2]) % 2
lo, hi = (0, t) if odd else (0.8 * t, 1.3 * t)
print("%.3f" % random.uniform(min(lo, 1.5), min(hi, 1.5)))' "$T" "$i")
	start_import
	sleep "$delay"
	exe=$(readlink "/proc/$PID/exe" 2>/dev/null)
	kids=$(descendants "$PID")
	if kill -KILL "$PID" 2>/dev/null; then
		killed=$((killed + 1))
		ours "$exe" && hit=$((hit + 1))
	fi
	wait "$PID" 2>/dev/null; st=$?
	[ "$st" = 137 ] || finished=$((finished + 1))
	# Helpers kbuild-ns forked must not outlive it (they could go on
	# writing); end any that did, by pid, and count them.
	for k in $kids; do
		if ours "$(readlink "/proc/$k/exe" 2>/dev/null)"; then
			sleep 0.2
			[ -e "/proc/$k" ] && { stray=$((stray + 1)); kill -KILL "$k" 2>/dev/null; }
		fi
	done

	# The store as the killed process left it, before any command runs.
	probs=$("$PYTHON" "$FX/ocilib.py" storecheck "$STATE/store" "$SCR/ref" 2>&1)
	# Then through kbuild-ns: every listed image has all its layer dirs.
	if kb image ls --json >"$SCR/ls.json" 2>"$SCR/ls.err"; then
		for p in $(jget '*.layers.*.path' <"$SCR/ls.json" | tr -d '[],"'); do
			[ -d "$p" ] || probs="$probs
image ls names missing layer $p"
		done
	else
		probs="$probs
image ls --json failed: $(cat "$SCR/ls.err")"
	fi
	# ... and that command removed what the killed import left in tmp/.
	left=$(find "$STATE/store/tmp" -mindepth 1 -maxdepth 1 2>/dev/null | head -3)
	[ -z "$left" ] || probs="$probs
store/tmp leftovers after image ls: $left"
	nl=$(ls "$STATE/store/layers" 2>/dev/null | wc -l)
	desc="kill $i after ${delay}s (exit $st, was ${exe##*/}, $nl layers there): store consistent"
	if [ -z "$probs" ]; then
		_result 0 "$desc"
	else
		printf '%s\n' "$probs" | head -10 | sed 's/^/# /'
		_result 1 "$desc"
	fi
	# Give the next iteration something to do: remove the image; on odd
	# rounds also prune what a killed import left, on even rounds let the
	# next import find (and reuse) published layers.
	if kb image inspect big:1 >/dev/null 2>&1; then
		kb image rm big:1 >/dev/null 2>&1 || echo "# image rm big:1 failed"
	fi
	[ $((i % 2)) = 1 ] && { kb image prune >/dev/null 2>&1 || echo "# image prune failed"; }
done
echo "# $killed kills ($hit while kbuild-ns ran), $finished imports finished first"

# At least a third of the kills must have hit a running kbuild-ns process, or
# this test proves nothing (the import would be too fast or too slow).
[ "$hit" -ge $((ITER / 3)) ]; _result $? "at least a third of the kills hit kbuild-ns ($hit of $ITER)"
is "no kbuild-ns helper outlived a killed import" "$stray" 0

ok "import after the kills succeeds" kb image import "$SCR/big.tar" --name big:1
is "image ls shows the image" "$(kb image ls --json | jget '*.names')" '["big:1"]'
probs=$("$PYTHON" "$FX/ocilib.py" storecheck "$STATE/store" "$SCR/ref" 2>&1)
is "final store complete and consistent" "$probs$(ls "$STATE/store/layers" | wc -l)" 5

[ "$_tap_failed" = 0 ]
