#!/bin/sh
# `kbuild-ns make`, `run` and `shell` on a snapshot of the checkout (the
# default --source), `copy-output`, `clean`, `status` and kbuild-ns.conf, on
# the busybox image of run-lib.sh, as the test user.  No Go is needed: the
# build commands are shell scripts that write what a Kubernetes build would.
#
# Checkouts:
#   $CO   generic (run-lib.sh's), workdir /src, with a fake .git
#   $KCO  Kubernetes-shaped: build/build-image/cross/VERSION, the same rootfs
#         imported as kube-cross:<tag>, so the kube profile, its data-sandbox
#         init and its copy-out filters are exercised
#   $CO2  a second generic checkout (parallel runs, clean)
#   $FCO, $BCO  generic checkouts with a good and a bad kbuild-ns.conf
# status and copy-output without state are checked on $KCO before its
# first build.
#
# Covered: sync-in (files at the workdir, tree writes inside do not reach
# the host and are undone by the next sync-in, host deletions reach the
# snapshot, _output/ and _tmp/ neither sent nor deleted, symlinks verbatim,
# modes and mtimes of files and directories, .git); kube copy-out (modes
# 0755/0644 under umask 077, owner, mtimes, generated files anywhere,
# never _output/dockerized/go/ or _temp/, no empty directories, no host
# deletion); status lines and their order; KUBE_VERBOSE=6 change lines;
# KUBE_RUN_COPY_OUTPUT=n then copy-output; a failing command;
# --no-copy-output; shell; the kube data-sandbox init and environment; an
# interrupted init redone; the data layer persisting; a branch switch and a
# version change; clean (read-only _output, other keys kept, in use) and
# clean --all; status and status --json; kbuild-ns.conf; the lock and
# parallel checkouts; `kbuild-ns make` argument splitting; --source bind;
# run, shell and make started in a subdirectory; a missing image's "did
# you mean"; no state made by a run refused before it starts.
. "$SRCDIR/tests/integration/lib.sh"
need python3
. "$SRCDIR/tests/integration/run-lib.sh"

plan 172

# The host environment must not steer the checks.
unset KUBE_RUN_COPY_OUTPUT KUBE_VERBOSE KBUILD_NS_IMAGE KUBE_GIT_VERSION_FILE FOO GOLDFLAGS

# $KB: kbuild-ns on this script's state, bounded by timeout.  Status lines
# are on (no -q) unless a call adds -q.
KB=$WORK/kb
cat >"$KB" <<EOF
#!/bin/sh
exec timeout -k 5 '$RUN_TIMEOUT' '$KBUILD_NS' --state-dir '$STATE' "\$@"
EOF
chmod 755 "$KB"

# kx ARGS...: kbuild-ns ARGS as the test user, stdin /dev/null.
kx() { as_user "$KB" "$@" </dev/null; }
# kxe NAME=VALUE... "$KB" ARGS...: the same with variables added.
kxe() { as_user env "$@" </dev/null; }
# status lines of a stderr file, without their `+++ [MMDD HH:MM:SS] ' prefix.
stl() { sed -n 's/^+++ \[[0-9]\{4\} [0-9][0-9]:[0-9][0-9]:[0-9][0-9]\] //p' "$1"; }
# keep: save what the last ok/fails command printed, for later greps.
keep() { cp "$WORK/.out" "$WORK/last.out"; }
# has FILE TEXT: FILE has a line containing TEXT (fixed string).
has() { grep -qF -- "$2" "$1"; }
# jget CHECKOUT FIELD: a field of `status --json` (lib.sh).
jget() { status_get "$1" "$2"; }
projects() { ls "$STATE/projects" 2>/dev/null | sort | paste -sd' '; }

# =============================================================================
# Generic checkout: sync-in
# =============================================================================
hu '
	cd "$1"
	mkdir -p .git/refs/heads sub/deep deldir/a _output _tmp
	echo "ref: refs/heads/main" >.git/HEAD
	printf "[core]\n\tbare = false\n" >.git/config
	echo 0600 >f600; chmod 600 f600; touch -d @1000000000 f600
	printf "#!/bin/sh\necho 0755\n" >f755; chmod 755 f755; touch -d @1100000000 f755
	echo deep >sub/deep/file
	echo del >del-me; echo del >deldir/a/file
	echo same-size-1 >edited
	ln -s README ln-rel
	ln -s /etc/passwd ln-abs
	ln -s ../no/such/file ln-dangling
	ln -s sub ln-dir
	chmod 750 sub; touch -d @1200000000 sub
	echo host >_output/host-marker
	echo host >_tmp/host-marker
' "$CO"

fails "generic run 1: exit status 0" 0 sb -- sh -c '
	echo inside >/src/inside-only
	echo changed-inside >/src/README
	mkdir -p /src/_output/bin /src/_tmp
	echo kept >/src/_output/keep
	echo kept >/src/_tmp/keep
	echo tool >/src/_output/bin/tool; chmod 700 /src/_output/bin/tool'
is "the workdir is /src and holds the checkout's files" \
	"$(sb -- sh -c 'pwd; cat sub/deep/file' 2>&1 | paste -sd' ')" "/src deep"
is ".git is in the snapshot" "$(sb -- cat /src/.git/HEAD /src/.git/config 2>&1 | paste -sd' ')" \
	"$(cat "$CO/.git/HEAD" "$CO/.git/config" | paste -sd' ')"
is "a file written inside the tree (outside _output/_tmp) does not reach the host" \
	"$(test -e "$CO/inside-only" && echo present)" ""
fails "... and the next sync-in removes it from the snapshot" 1 sb -- test -e /src/inside-only
is "a file changed inside gets the host's content back at the next sync-in" \
	"$(sb -- cat /src/README 2>&1)" "a generic checkout"
is "a file in the snapshot's _output/ survives to the next run" "$(sb -- cat /src/_output/keep 2>&1)" kept
is "a file in the snapshot's _tmp/ is not deleted by sync-in" "$(sb -- cat /src/_tmp/keep 2>&1)" kept
fails "the host's _output/host-marker is not in the snapshot" 1 sb -- test -e /src/_output/host-marker
fails "the host's _tmp/host-marker is not in the snapshot" 1 sb -- test -e /src/_tmp/host-marker
is "generic copy-out: _output/bin/tool comes back, 0755" "$(stat -c %a "$CO/_output/bin/tool" 2>&1)" 755
is "generic copy-out: _output/keep (outside _output/bin) does not" \
	"$(test -e "$CO/_output/keep" && echo present)" ""

want=$(cd "$CO" && for l in ln-rel ln-abs ln-dangling ln-dir; do echo "$l -> $(readlink "$l")"; done | paste -sd' ')
got=$(sb -- sh -c 'for l in ln-rel ln-abs ln-dangling ln-dir; do test -L $l && echo "$l -> $(readlink $l)"; done' 2>&1 | paste -sd' ')
is "symbolic links are reproduced verbatim (relative, absolute, dangling, to a directory)" "$got" "$want"
is "a 0600 file keeps its mode and mtime" "$(sb -- stat -c '%a %Y' /src/f600 2>&1)" "$(stat -c '%a %Y' "$CO/f600")"
is "a 0755 file keeps its mode and mtime" "$(sb -- stat -c '%a %Y' /src/f755 2>&1)" "$(stat -c '%a %Y' "$CO/f755")"
is "a 0750 directory keeps its mode and mtime" "$(sb -- stat -c '%a %Y' /src/sub 2>&1)" "$(stat -c '%a %Y' "$CO/sub")"

hu 'cd "$1"; rm -rf del-me deldir; echo same-size-2 >edited; touch -d @1300000000 edited' "$CO"
fails "a file deleted on the host is gone inside at the next run" 1 sb -- test -e /src/del-me
fails "a directory tree deleted on the host is gone inside" 1 sb -- test -e /src/deldir
is "a host edit of the same size (new mtime) reaches the snapshot" "$(sb -- cat /src/edited 2>&1)" same-size-2

fails "--source bind: the command writes straight into the checkout" 0 \
	sb --source bind -- sh -c 'echo bound >/src/bind-file'
is "... and the file is on the host" "$(cat "$CO/bind-file" 2>&1)" bound
hu 'rm -f "$1/bind-file"' "$CO"

# =============================================================================
# Kubernetes-shaped checkout
# =============================================================================
KCO=$WORK/kco
TAG1=v1.0.0-kbtest.0
TAG2=v1.0.1-kbtest.0
hu '
	mkdir -p "$1/build/build-image/cross" "$1/.git" "$1/hack" "$1/_output/dockerized/bin" "$1/_tmp"
	cd "$1"
	echo "$2" >build/build-image/cross/VERSION
	echo "ref: refs/heads/main" >.git/HEAD
	echo "a kubernetes-shaped checkout" >README.md
	echo "#!/bin/sh" >hack/build.sh; chmod 755 hack/build.sh
	echo gone >gone.txt
	echo mine >_output/dockerized/bin/host-only
	echo mine >_tmp/keep
' "$KCO" "$TAG1"
kb image import "$WORK/rootfs.tar" --name "kube-cross:$TAG1" >"$WORK/.import" 2>&1 || {
	sed 's/^/# /' "$WORK/.import"; echo "Bail out! importing the rootfs as kube-cross:$TAG1 failed"; exit 1; }

# status before any build: says so, creates nothing.
before=$(projects)
kx -C "$KCO" status >"$WORK/st0.out" 2>&1; rc=$?
is "status on a checkout without state: exit 0" "$rc" 0
ok "... says there is no state yet" has "$WORK/st0.out" "(none yet: run kbuild-ns make)"
is "... and creates nothing in the state directory" "$(projects)" "$before"
KEY=$(jget "$KCO" key)
VER1=s1-$TAG1
is "status --json: exists is false before the first build" "$(jget "$KCO" exists)" false
fails "copy-output without state: 125" 125 kx -C "$KCO" copy-output; keep
ok "... 'no build state for checkout ...; run kbuild-ns make first'" \
	has "$WORK/last.out" "no build state for checkout $KCO; run kbuild-ns make first"

# Run 1: a "build" that writes binaries, generated files and caches, with
# umask 077 on the host.
as_user sh -c 'umask 077; exec "$@"' sh "$KB" -C "$KCO" run -- sh -ec '
	b=_output/dockerized/bin/linux/amd64
	mkdir -p $b _output/dockerized/bin/emptydir
	echo exe >$b/kubectl; chmod 700 $b/kubectl; touch -d @1234567890 $b/kubectl
	echo data >$b/notes.txt; chmod 600 $b/notes.txt
	mkdir -p pkg/apis/v1 api/proto staging/src/k8s.io/api/core/v1 pkg/nomatch empty/a/b _temp
	echo g >zz_generated.x.go
	echo g >pkg/apis/v1/zz_generated.deepcopy.go
	echo g >api/proto/generated.proto
	echo g >pkg/apis/v1/foo.pb.go
	echo g >staging/src/k8s.io/api/core/v1/types.go
	echo g >pkg/apis/v1/other.go
	echo g >pkg/nomatch/x.go
	echo t >_temp/types.go
	mkdir -p _output/dockerized/go/pkg/mod _output/dockerized/go/src/x _output/dockerized/go/bin
	echo c >_output/dockerized/go/pkg/mod/cache.bin
	echo c >_output/dockerized/go/src/x/types.go
	echo c >_output/dockerized/go/bin/tool; chmod 755 _output/dockerized/go/bin/tool
	echo built' </dev/null >"$WORK/k1.out" 2>"$WORK/k1.err"
rc=$?
[ "$rc" = 0 ] || sed 's/^/# k1: /' "$WORK/k1.err"
is "kube run 1: exit status 0" "$rc" 0
is "... status lines in order" "$(flat "$(stl "$WORK/k1.err")")" \
	"Verifying Prerequisites.... | Preparing the data sandbox $KEY-$VER1 | Syncing sources to the snapshot | Output from this build will be copied back upon completion. Set KUBE_RUN_COPY_OUTPUT=n to disable. | Running build command... | Copying output back to the checkout"
is "... every +++ line has the form '+++ [MMDD HH:MM:SS] '" \
	"$(grep -c '^+++' "$WORK/k1.err")" "$(stl "$WORK/k1.err" | wc -l)"
ok "... the state directory is $KEY-$VER1" test -d "$STATE/projects/$KEY-$VER1"
B=$KCO/_output/dockerized/bin/linux/amd64
is "an executable (0700 inside) comes back 0755 despite umask 077" "$(stat -c %a "$B/kubectl" 2>&1)" 755
is "a non-executable (0600 inside) comes back 0644" "$(stat -c %a "$B/notes.txt" 2>&1)" 644
is "... both owned by the test user" "$(stat -c %u:%g "$B/kubectl" "$B/notes.txt" 2>&1 | paste -sd' ')" \
	"$TEST_UID:$TEST_GID $TEST_UID:$TEST_GID"
is "... with their mtime from the snapshot" "$(stat -c %Y "$B/kubectl" 2>&1)" 1234567890
for f in zz_generated.x.go pkg/apis/v1/zz_generated.deepcopy.go api/proto/generated.proto \
	pkg/apis/v1/foo.pb.go staging/src/k8s.io/api/core/v1/types.go; do
	ok "generated file $f comes back at the same path" test -f "$KCO/$f"
done
ok "_output/dockerized/go/ never comes back (not even its types.go)" test ! -e "$KCO/_output/dockerized/go"
ok "_temp/types.go does not come back" test ! -e "$KCO/_temp"
ok "a non-matching file (pkg/apis/v1/other.go) does not come back" test ! -e "$KCO/pkg/apis/v1/other.go"
ok "a directory with only non-matching files (pkg/nomatch) is not made" test ! -e "$KCO/pkg/nomatch"
ok "an empty directory under _output/dockerized/bin/ is not made" test ! -e "$KCO/_output/dockerized/bin/emptydir"
is "copy-out creates no empty directories at all" "$(cd "$KCO" && find . -type d -empty | sort | paste -sd' ')" ""
is "a host-only file in _output/dockerized/bin/ stays" "$(cat "$KCO/_output/dockerized/bin/host-only" 2>&1)" mine

# Run 2, KUBE_VERBOSE=6: a new host file, a host deletion, a new binary.
hu 'cd "$1"; echo new >hack/new.sh; rm gone.txt' "$KCO"
kxe KUBE_VERBOSE=6 "$KB" -C "$KCO" run -- sh -c \
	'echo x >_output/dockerized/bin/linux/amd64/kubelet; chmod 755 _output/dockerized/bin/linux/amd64/kubelet' \
	>"$WORK/k2.out" 2>"$WORK/k2.err"
rc=$?
sed 's/^/# k2: /' "$WORK/k2.err"
is "kube run 2 (KUBE_VERBOSE=6): exit status 0" "$rc" 0
ok "... no 'Preparing the data sandbox' the second time" sh -c '! grep -q "Preparing the data sandbox" "$1"' sh "$WORK/k2.err"
ok "... sync-in lists the new host file ('> hack/new.sh')" grep -qx '> hack/new.sh' "$WORK/k2.err"
ok "... sync-in lists the deletion ('deleting gone.txt')" grep -q 'deleting gone.txt$' "$WORK/k2.err"
ok "... copy-out lists the new binary" grep -qx '> _output/dockerized/bin/linux/amd64/kubelet' "$WORK/k2.err"
is "... unchanged files are not listed (README.md, kubectl)" \
	"$(grep -c -e 'README.md' -e 'amd64/kubectl$' "$WORK/k2.err")" 0
hu 'echo newer >"$1/hack/new.sh"; touch -d @1400000000 "$1/hack/new.sh"' "$KCO"
kxe KUBE_VERBOSE=6 "$KB" -q -C "$KCO" run -- true >/dev/null 2>"$WORK/k2q.err"
ok "-q with KUBE_VERBOSE=6: no status line, the change line still" \
	sh -c '! grep -q "^+++" "$1" && grep -qx "> hack/new.sh" "$1"' sh "$WORK/k2q.err"

# The kube profile inside.
if [ -e /etc/localtime ]; then
	cp -L /etc/localtime "$WORK/localtime" && chmod 644 "$WORK/localtime"
else
	: >"$WORK/localtime"
fi
kxe FOO=bar GOLDFLAGS= "$KB" -q -C "$KCO" run --bind "$WORK/localtime:/host-localtime:ro" -- sh -c '
	echo "pwd=$(pwd)"; echo "home=$HOME"
	echo "subpath=$KUBE_OUTPUT_SUBPATH"; echo "tmpdir=$TMPDIR"
	test -f /kube-build-image && echo marker=yes
	echo "tmpk8s=$(stat -c %a /tmp.k8s)"
	touch /var/run/kubernetes/w && echo varrun=writable
	echo "varrunmode=$(stat -c %a /var/run/kubernetes)"
	echo "ltmode=$(stat -c %a /etc/localtime)"
	echo "gitconfig=$(tr -d " \t" </etc/gitconfig | LC_ALL=C sort | paste -sd" ")"
	cmp -s /etc/localtime /host-localtime && echo localtime=same
	echo "foo=$(env | grep -c "^FOO=")"
	echo "goldflags=$(env | grep -x "GOLDFLAGS=")"' >"$WORK/k3.out" 2>&1
sed 's/^/# k3: /' "$WORK/k3.out"
kv() { sed -n "s/^$1=//p" "$WORK/k3.out"; }
ok "kube: /kube-build-image exists" test "$(kv marker)" = yes
is "kube: /tmp.k8s has mode 1777" "$(kv tmpk8s)" 1777
ok "kube: /var/run/kubernetes is writable" test "$(kv varrun)" = writable
is "kube: /var/run/kubernetes has mode 0777" "$(kv varrunmode)" 777
is "kube: /etc/gitconfig has user.name kube-build-image and user.email nobody@k8s.io" \
	"$(kv gitconfig)" "[user] email=nobody@k8s.io name=kube-build-image"
if [ -e /etc/localtime ]; then
	ok "kube: /etc/localtime has the host's content" test "$(kv localtime)" = same
	is "kube: /etc/localtime has mode 0644" "$(kv ltmode)" 644
else
	skip_one "kube: /etc/localtime has the host's content" "the host has no /etc/localtime"
	skip_one "kube: /etc/localtime has mode 0644" "the host has no /etc/localtime"
fi
is "kube: pwd is /go/src/k8s.io/kubernetes" "$(kv pwd)" /go/src/k8s.io/kubernetes
is "kube: HOME is /go/src/k8s.io/kubernetes" "$(kv home)" /go/src/k8s.io/kubernetes
is "kube: KUBE_OUTPUT_SUBPATH=_output/dockerized" "$(kv subpath)" _output/dockerized
is "kube: TMPDIR=/tmp.k8s" "$(kv tmpdir)" /tmp.k8s
is "kube: FOO=bar (not in the allow-list) does not reach the build" "$(kv foo)" 0
is "kube: GOLDFLAGS set but empty reaches it" "$(kv goldflags)" GOLDFLAGS=

# KUBE_RUN_COPY_OUTPUT=n, then copy-output.
kxe KUBE_RUN_COPY_OUTPUT=n "$KB" -C "$KCO" run -- sh -c '
	echo n >_output/dockerized/bin/linux/amd64/kube-n; chmod 755 _output/dockerized/bin/linux/amd64/kube-n
	mkdir -p pkg/n; echo n >pkg/n/zz_generated.n.go' >/dev/null 2>"$WORK/k4.err"
is "KUBE_RUN_COPY_OUTPUT=n: exit status 0" "$?" 0
ok "... says 'Output from this build will NOT be copied back. Set KUBE_RUN_COPY_OUTPUT=y to enable.'" \
	has "$WORK/k4.err" "Output from this build will NOT be copied back. Set KUBE_RUN_COPY_OUTPUT=y to enable."
ok "... prints no 'Copying output back' line" sh -c '! grep -q "Copying output back" "$1"' sh "$WORK/k4.err"
ok "... the binary is not copied back" test ! -e "$B/kube-n"
ok "... nor the generated file" test ! -e "$KCO/pkg/n"
kx -C "$KCO" copy-output >/dev/null 2>"$WORK/co.err"
is "kbuild-ns copy-output: exit status 0" "$?" 0
ok "... prints 'Copying output back to the checkout'" has "$WORK/co.err" "Copying output back to the checkout"
is "... brings the binary back, 0755" "$(stat -c %a "$B/kube-n" 2>&1)" 755
ok "... and the generated file" test -f "$KCO/pkg/n/zz_generated.n.go"

# A failing command, --no-copy-output, shell.
kx -C "$KCO" run -- sh -c 'echo f >_output/dockerized/bin/linux/amd64/kube-fail; exit 7' >/dev/null 2>"$WORK/k5.err"
is "a failing command: its status (7) is returned" "$?" 7
ok "... nothing is copied back" test ! -e "$B/kube-fail"
ok "... no 'Copying output back' line" sh -c '! grep -q "Copying output back" "$1"' sh "$WORK/k5.err"
kxe KUBE_RUN_COPY_OUTPUT=y "$KB" -C "$KCO" run --no-copy-output -- \
	sh -c 'echo f >_output/dockerized/bin/linux/amd64/kube-nco' >/dev/null 2>"$WORK/k6.err"
is "--no-copy-output (with KUBE_RUN_COPY_OUTPUT=y): exit status 0" "$?" 0
ok "... nothing is copied back" test ! -e "$B/kube-nco"
ok "... and it says output will NOT be copied back" has "$WORK/k6.err" "will NOT be copied back"
echo 'exit 3' | as_user "$KB" -q -C "$KCO" shell >/dev/null 2>&1
is "echo 'exit 3' | kbuild-ns shell: exit status 3" "$?" 3
printf 'echo s >_output/dockerized/bin/linux/amd64/kube-sh\nexit 0\n' | as_user "$KB" -q -C "$KCO" shell >/dev/null 2>&1
is "a shell exiting 0: status 0" "$?" 0
ok "... copies nothing back by default" test ! -e "$B/kube-sh"
printf 'echo s >_output/dockerized/bin/linux/amd64/kube-sh2\nexit 0\n' |
	as_user env KUBE_RUN_COPY_OUTPUT=y "$KB" -q -C "$KCO" shell >/dev/null 2>&1
ok "a shell with KUBE_RUN_COPY_OUTPUT=y copies back" test -f "$B/kube-sh2"

# status and status --json after these runs (the last: the shell, exit 0).
kx -C "$KCO" status >"$WORK/st1.out" 2>&1
is "status: exit status 0" "$?" 0
ok "status: key line" grep -Eq "^key: +$KEY\$" "$WORK/st1.out"
ok "status: version line" grep -Eq "^version: +$VER1\$" "$WORK/st1.out"
ok "status: ready: yes" grep -Eq '^ready: +yes$' "$WORK/st1.out"
ok "status: last run ... (exit 0)" grep -Eq '^last run: +.*\(exit 0\)' "$WORK/st1.out"
ok "status: branch main, profile kube" \
	sh -c 'grep -Eq "^branch: +main\$" "$1" && grep -Eq "^profile: +kube\$" "$1"' sh "$WORK/st1.out"
kx -C "$KCO" status --json >"$WORK/st1.json" 2>&1
ok "status --json is JSON" "$PYTHON" -c 'import json, sys; json.load(open(sys.argv[1]))' "$WORK/st1.json"
is "status --json: key, version, ready, last_status, exists, image_present" \
	"$("$PYTHON" -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(d.get("key"), d.get("version"), d.get("ready"), d.get("last_status"), d.get("exists"), d.get("image_present"))' \
	"$WORK/st1.json" 2>&1)" "$KEY $VER1 True 0 True True"

# =============================================================================
# The data layer: persistence, interrupted init
# =============================================================================
fails "run 1 writes /var/tmp/x outside the tree (data layer)" 0 \
	kx -q -C "$KCO" run -- sh -c 'mkdir -p /var/tmp && echo layer >/var/tmp/x'
is "... run 2 reads it (ready kept)" "$(kx -q -C "$KCO" run -- cat /var/tmp/x 2>&1)" layer
SD1=$STATE/projects/$KEY-$VER1
ok "the state directory has a ready file" test -f "$SD1/ready"
rm -f "$SD1/ready"
kx -C "$KCO" run -- sh -c 'test -f /kube-build-image && echo marker; test -e /var/tmp/x && echo old-layer
	test -f _output/dockerized/bin/linux/amd64/kubectl && echo snapshot-kept' >"$WORK/d.out" 2>"$WORK/d.err"
rc=$?
is "without ready: the next run works" "$rc" 0
ok "... prints 'Preparing the data sandbox $KEY-$VER1'" has "$WORK/d.err" "Preparing the data sandbox $KEY-$VER1"
ok "... the init is redone (/kube-build-image)" grep -qx marker "$WORK/d.out"
ok "... on an emptied data layer (/var/tmp/x is gone)" sh -c '! grep -q old-layer "$1"' sh "$WORK/d.out"
ok "... the snapshot is kept (_output/ inside)" grep -qx snapshot-kept "$WORK/d.out"
ok "... and ready is written again" test -f "$SD1/ready"
is "status --json: ready is true again" "$(jget "$KCO" ready)" true

# =============================================================================
# Branch switch and version change
# =============================================================================
hu 'echo "ref: refs/heads/other" >"$1/.git/HEAD"' "$KCO"
KEY2=$(jget "$KCO" key)
is "status --json: branch other" "$(jget "$KCO" branch)" other
ok "another branch has another key" test -n "$KEY2" -a "$KEY2" != "$KEY"
fails "a run on branch other: status 1 (cold: no kubectl in the snapshot)" 1 \
	kx -q -C "$KCO" run -- test -e _output/dockerized/bin/linux/amd64/kubectl
ok "... in its own state directory $KEY2-$VER1" test -d "$STATE/projects/$KEY2-$VER1"
ok "... the first branch's state is kept" test -d "$SD1"
hu 'echo "ref: refs/heads/main" >"$1/.git/HEAD"' "$KCO"
kx -C "$KCO" run -- test -e _output/dockerized/bin/linux/amd64/kubectl >/dev/null 2>"$WORK/b.err"
is "back on main: warm (kubectl is in the snapshot)" "$?" 0
ok "... without preparing the data sandbox again" sh -c '! grep -q "Preparing" "$1"' sh "$WORK/b.err"

hu 'echo "$2" >"$1/build/build-image/cross/VERSION"' "$KCO" "$TAG2"
kb image import "$WORK/rootfs.tar" --name "kube-cross:$TAG2" >"$WORK/.import" 2>&1 ||
	sed 's/^/# /' "$WORK/.import"
VER2=s1-$TAG2
is "status: the version follows cross/VERSION" "$(jget "$KCO" version)" "$VER2"
kx -C "$KCO" run -- test -e _output/dockerized/bin/linux/amd64/kubectl >/dev/null 2>"$WORK/v.err"
is "after a version change: cold (no kubectl in the snapshot)" "$?" 1
ok "... prints 'Preparing the data sandbox $KEY-$VER2'" has "$WORK/v.err" "Preparing the data sandbox $KEY-$VER2"
ok "... the new state directory exists" test -d "$STATE/projects/$KEY-$VER2"
ok "... the old version's state directory is removed" test ! -e "$SD1"
ok "... the other branch's state is untouched" test -d "$STATE/projects/$KEY2-$VER1"
ok "... and so is the host's _output/" test -f "$B/kubectl"
hu 'echo 5 >"$1/build/build-image/VERSION"' "$KCO"
VER3=s1-5-$TAG2
is "with build/build-image/VERSION the version is s1-<base>-<tag>" "$(jget "$KCO" version)" "$VER3"
fails "a run with it: exit 0" 0 kx -q -C "$KCO" run -- true
is "... state dirs of this key: only $VER3" \
	"$(ls "$STATE/projects" | grep "^$KEY-" | paste -sd' ')" "$KEY-$VER3"

# =============================================================================
# kbuild-ns make: argument splitting (busybox has no make)
# =============================================================================
fails "kbuild-ns make --no-copy-output FOO=1: 127 (no make in the image)" 127 \
	kx -q -C "$CO" make --image "$IMG" --no-copy-output FOO=1; keep
ok "... the message names make" grep -q make "$WORK/last.out"
fails "kbuild-ns make -j4 (kube checkout): 127, -j4 is make's" 127 kx -q -C "$KCO" make -j4; keep
ok "... the message names make, no usage error" \
	sh -c 'grep -q make "$1" && ! grep -qi -e usage -e "unknown option" -e "invalid option" "$1"' sh "$WORK/last.out"
# A command that could not be started is recorded too.
is "... status: last_command 'make -j4', last_status 127" \
	"$(jget "$KCO" last_command), $(jget "$KCO" last_status)" "make -j4, 127"
nproj=$(projects | wc -w)
# A stand-in make(1), bound at /usr/local/bin/make, that prints its
# arguments.  The host PATH is set so that the command is found whichever
# PATH kbuild-ns searches (see the -e PATH check below).
hu 'printf "#!/bin/sh\necho \"make-args: \$*\"\n" >"$1/fakemake"; chmod 755 "$1/fakemake"' "$WORK"
fmake() {
	as_user env PATH=/usr/local/bin:/usr/bin:/bin "$KB" -q -C "$CO" make --image "$IMG" \
		--bind "$WORK/fakemake:/usr/local/bin/make:ro" "$@" </dev/null 2>&1
}
is "make --image R --bind B -j4 -e FOO=1: make gets '-j4 -e FOO=1'" "$(fmake -j4 -e FOO=1)" "make-args: -j4 -e FOO=1"
is "make ... -- -e -C dir WHAT=x: make gets '-e -C dir WHAT=x'" "$(fmake -- -e -C dir WHAT=x)" \
	"make-args: -e -C dir WHAT=x"
is "make ... -C x: -C after 'make' is make's" "$(fmake -C x)" "make-args: -C x"
is "make ... '' a '': empty arguments reach make" "$(fmake '' a '')" "make-args:  a "
is "make with no make arguments: make gets none" "$(fmake)" "make-args: "
is "... status: last_command 'make'" "$(jget "$CO" last_command)" make
# Started in a subdirectory (issue 14): the checkout is found above it;
# run and shell start in the same subdirectory of the workdir, make at the
# top (where the Makefile is, as build/run.sh make does).
is "run from sub/deep: the command starts in /src/sub/deep" \
	"$(kx -q -C "$CO/sub/deep" run --image "$IMG" -- sh -c 'pwd; cat file' 2>&1 | paste -sd' ')" "/src/sub/deep deep"
is "shell from sub: the shell opens in /src/sub" \
	"$(echo pwd | as_user "$KB" -q -C "$CO/sub" shell --image "$IMG" 2>&1)" /src/sub
hu 'printf "#!/bin/sh\necho \"make-in: \$(pwd)\"\n" >"$1/pwdmake"; chmod 755 "$1/pwdmake"' "$WORK"
is "make from sub/deep: make runs at the top, /src" \
	"$(as_user env PATH=/usr/local/bin:/usr/bin:/bin "$KB" -q -C "$CO/sub/deep" make --image "$IMG" \
		--bind "$WORK/pwdmake:/usr/local/bin/make:ro" </dev/null 2>&1)" "make-in: /src"
is "... all three used the checkout's one state" "$(projects | wc -w)" "$nproj"
hu 'mkdir -p "$1/_tmp/host-only"' "$CO"
kx -C "$CO/_tmp/host-only" run --image "$IMG" -- pwd >"$WORK/sub.out" 2>&1
is "run from a subdirectory sync-in leaves out: at the top, with a warning" \
	"$(grep -v '^+++ ' "$WORK/sub.out" | paste -sd'|')" \
	"kbuild-ns: warning: _tmp/host-only is not in the tree the command sees; starting at the top of /src|/src"
# A missing image names the closest one; a run refused before it starts
# (here by a bad -e, found after the image) makes no state directory.
fails "run --image runbox:2: 125" 125 kx -q -C "$CO" run --image runbox:2 -- true; keep
ok "... did you mean runbox:1?" grep -q 'image runbox:2: not found; did you mean runbox:1?' "$WORK/last.out"
hu 'mkdir -p "$1/co-e"' "$WORK"
fails "run -e =x on a new checkout: 125" 125 kx -q -C "$WORK/co-e" run --image "$IMG" -e =x -- true
is "... and no state directory was made for it" "$(projects | wc -w)" "$nproj"
# The command is looked up in the sandbox's PATH (kbuild-ns-run(1), 127:
# "not found in the sandbox's PATH"), here set with -e, not in the host's.
hu 'mkdir -p "$1/tools"; printf "#!/bin/sh\necho kbtool\n" >"$1/tools/kbtool"; chmod 755 "$1/tools/kbtool"' "$CO"
is "run -e PATH=/src/tools:/bin -- kbtool: found in the sandbox's PATH" \
	"$(as_user env PATH=/usr/bin:/bin "$KB" -q -C "$CO" run --image "$IMG" -e PATH=/src/tools:/bin -- kbtool </dev/null 2>&1)" \
	kbtool

# =============================================================================
# kbuild-ns.conf
# =============================================================================
FCO=$WORK/fco
BCO=$WORK/bco
hu '
	mkdir -p "$1" "$2"
	printf "%s\n" "# kbuild-ns.conf of a generic project" "image = runbox:1" "" \
		"workdir = /work" "env = A=b" "copy-out = /out/**" >"$1/kbuild-ns.conf"
	printf "%s\n" "# a comment" "image = runbox:1" "imgae = runbox:1" >"$2/kbuild-ns.conf"
' "$FCO" "$BCO"
kx -q -C "$FCO" run -- sh -c 'pwd; echo "A=$A"; mkdir -p out/sub _output/bin
	echo x >out/x; echo y >out/sub/y; echo z >_output/bin/z' >"$WORK/f.out" 2>&1
rc=$?
sed 's/^/# f: /' "$WORK/f.out"
is "kbuild-ns.conf (image, workdir, env, copy-out): exit status 0" "$rc" 0
ok "... pwd inside is /work" grep -qx /work "$WORK/f.out"
ok "... A=b inside" grep -qx A=b "$WORK/f.out"
ok "... out/x and out/sub/y come back" test -f "$FCO/out/x" -a -f "$FCO/out/sub/y"
ok "... _output/bin/z does not (the file's copy-out replaces the profile's)" test ! -e "$FCO/_output/bin/z"
ok "... status says 'generic (kbuild-ns.conf)'" \
	as_user sh -c '"$1" -C "$2" status | grep -Eq "^profile: +generic \(kbuild-ns.conf\)$"' sh "$KB" "$FCO"
fails "an unknown key: exit status 125" 125 kx -q -C "$BCO" run --image "$IMG" -- true
is "... one line on stderr naming kbuild-ns.conf:3:" \
	"$(wc -l <"$WORK/.out") $(grep -c 'kbuild-ns.conf:3: unknown key "imgae"' "$WORK/.out")" "1 1"
fails "status with that kbuild-ns.conf: 125" 125 kx -C "$BCO" status

# =============================================================================
# The lock; parallel checkouts; clean while in use
# =============================================================================
CO2=$WORK/co2
hu 'mkdir -p "$1" && echo two >"$1/README"' "$CO2"
fails "a second generic checkout runs" 0 kx -q -C "$CO2" run --image "$IMG" -- \
	sh -c 'mkdir -p _output/bin && echo t >_output/bin/t'
# The first run says through a bound host directory that it has started,
# and holds the checkout until the test opens its gate there (up to a
# minute): no timing is assumed.
hu 'mkdir -p "$1"' "$WORK/sig"
gate='i=0; while [ ! -e /sig/$1 ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done'
( kb_exec -C "$CO" run --image "$IMG" --bind "$WORK/sig:/sig" -- \
	sh -c "echo started >/sig/started; $gate; echo done >/src/_output/first-done" sh go ) \
	>"$WORK/l1.out" 2>&1 </dev/null &
lpid=$!
wait_file "$WORK/sig/started" started 60
fails "while a run holds the checkout, --no-wait fails with 125" 125 kx -q -C "$CO" run --image "$IMG" --no-wait -- true
# The first run is still held at its gate: the refusal did not wait for it.
ok "... at once (the first run is still held)" kill -0 "$lpid"
fails "clean while the state is in use: 125" 125 kx -q -C "$CO" clean; keep
ok "... names the state in use" grep -q 'in use' "$WORK/last.out"
ok "... and leaves it" test -d "$STATE/projects/$(jget "$CO" key)-s1-generic"
( kx -C "$CO" run --image "$IMG" -- cat /src/_output/first-done >"$WORK/l2.out" 2>&1; echo "rc=$?" >>"$WORK/l2.out" ) &
p2=$!
wait_file "$WORK/l2.out" "waiting for another kbuild-ns" 60
hu 'touch "$1"' "$WORK/sig/go"
wait "$p2"
ok "a second run prints 'waiting for another kbuild-ns'" has "$WORK/l2.out" "waiting for another kbuild-ns"
is "... and runs after the first ended" "$(grep -x 'rc=[0-9]*' "$WORK/l2.out"):$(grep -cx "done" "$WORK/l2.out")" rc=0:1
wait "$lpid"
is "the first run succeeded" "$?" 0

# Both runs start, say so, and wait for the gate, which opens only once
# both have said so: they ran at the same time, whatever the machine's
# speed or load.
( kb_exec -C "$CO" run --image "$IMG" --bind "$WORK/sig:/sig" -- \
	sh -c "echo a >/sig/a; $gate" sh both ) >/dev/null 2>&1 </dev/null &
p1=$!
( kb_exec -C "$CO2" run --image "$IMG" --bind "$WORK/sig:/sig" -- \
	sh -c "echo b >/sig/b; $gate" sh both ) >/dev/null 2>&1 </dev/null &
p2=$!
wait_file "$WORK/sig/a" a 60 && wait_file "$WORK/sig/b" b 60; both=$?
hu 'touch "$1"' "$WORK/sig/both"
wait "$p1"; r1=$?
wait "$p2"; r2=$?
is "two checkouts: both succeed" "$r1 $r2" "0 0"
is "... in parallel (each started before the other ended)" "$both" 0

# =============================================================================
# clean, clean --all
# =============================================================================
hu 'mkdir -p "$1/_output/ro/a/b" && echo r >"$1/_output/ro/a/b/f" && chmod -R a-w "$1/_output"' "$KCO"
fails "clean on the kube checkout with a read-only _output/ tree: exit 0" 0 kx -q -C "$KCO" clean
ok "... the host's _output/ is gone" test ! -e "$KCO/_output"
is "... no state directory of its key is left" "$(ls "$STATE/projects" | grep -c "^$KEY-")" 0
ok "... the other branch's state is kept" test -d "$STATE/projects/$KEY2-$VER1"
ok "... another checkout's state is kept" test -d "$STATE/projects/$(jget "$CO2" key)-s1-generic"
ok "... _tmp/ and generated files in the checkout are kept" \
	test -f "$KCO/_tmp/keep" -a -f "$KCO/pkg/apis/v1/zz_generated.deepcopy.go"
fails "clean --all: exit 0" 0 kx -q -C "$CO2" clean --all
is "... every project state directory is gone" "$(projects)" ""
ok "... the images stay" as_user sh -c '"$1" image ls | grep -q "kube-cross:$2"' sh "$KB" "$TAG2"
ok "... and the checkout's _output/ is gone" test ! -e "$CO2/_output"

[ "$_tap_failed" = 0 ]
