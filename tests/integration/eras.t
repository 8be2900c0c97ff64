#!/bin/sh
# `kbuild-ns make` follows the build rules of the tree it is given (issue
# 11), on the three Kubernetes-shaped trees of tests/fixtures/kube-eras
# (2017 classic with .make/ and H filters, 2023 with .git hidden, 2024 with
# .git mirrored), each a git checkout one commit past a release tag
# (mktree.sh), built as the test user.  For each era:
#   - a cold make stamps the binaries with upstream's version string for
#     the clean tree ("clean"), computed by the tree's own
#     hack/lib/version.sh on the host's checkout, and leaves the checkout
#     clean; the data sandbox is prepared from the tree's Dockerfile;
#   - a second make with nothing changed prepares nothing, runs no
#     generator and compiles nothing (GOFLAGS=-x);
#   - an edit makes the stamp "-dirty";
# and what each era's filters say: 2017's H rule keeps the host's
# zz_generated file out (the generator makes it inside) while .make/
# survives, its copy-out brings staging Godeps back (and, as rsync's rules
# say, not the top Godeps/Godeps.json); 2023 hides .git, 2024 mirrors it;
# 2024's changed Dockerfile prepares the data sandbox anew, and a host
# KUBE_GIT_VERSION_FILE wins over the version step.
#
# The image is make.t's (make-lib.sh builds or reuses it), turned by
# tests/fixtures/kube-eras/oldcross.py into what images/kube-cross/build.sh
# makes for the 2017 tag (K8S_PATCHED_GOROOT, which that era's Dockerfile
# uses) and tagged with the three eras' cross tags: one bookworm image
# (Go 1.19) for all three.  Time: three cold builds (~30 s each) and a
# dozen warm ones.
. "$SRCDIR/tests/integration/lib.sh"
need python3
PYTHON=python3
. "$SRCDIR/tests/integration/make-lib.sh"

plan 30

umask 022
unset KUBE_RUN_COPY_OUTPUT KUBE_VERBOSE KBUILD_NS_IMAGE KUBE_GIT_VERSION_FILE GOLDFLAGS GOFLAGS \
	KUBE_BUILD_PLATFORMS KUBE_FASTBUILD GOGCFLAGS SOURCE_DATE_EPOCH KBUILD_NS_IDMAP KUBE_CROSS_IMAGE \
	KUBE_CROSS_VERSION KUBE_GIT_COMMIT KUBE_GIT_TREE_STATE KUBE_GIT_VERSION KUBE_GIT_MAJOR KUBE_GIT_MINOR

ERAS_TAGS="v1.15.15-1 v1.27.0-go1.19.8-bookworm.0 v1.31.0-go1.19.8-bookworm.0"
# shellcheck disable=SC2086
"$PYTHON" "$SRCDIR/tests/fixtures/kube-eras/oldcross.py" "$KUBE_ARCHIVE" "$WORK/eras.tar" $ERAS_TAGS >"$WORK/.old" 2>&1 &&
	chown "$TEST_UID:$TEST_GID" "$WORK/eras.tar" 2>/dev/null; [ -s "$WORK/eras.tar" ] ||
	{ sed 's/^/# /' "$WORK/.old"; echo "Bail out! oldcross.py failed"; exit 1; }
kb image import "$WORK/eras.tar" >"$WORK/.import" 2>&1 ||
	{ sed 's/^/# /' "$WORK/.import"; echo "Bail out! importing the eras' image failed"; exit 1; }

# ek ERA ARGS...: kbuild-ns on the era's checkout, status lines on.
ek() { _e=$1; shift; as_user timeout -k 5 "$MAKE_TIMEOUT" "$KBUILD_NS" --state-dir "$STATE" -C "$WORK/$_e" "$@" </dev/null; }
ekq() { _e=$1; shift; as_user timeout -k 5 "$MAKE_TIMEOUT" "$KBUILD_NS" -q --state-dir "$STATE" -C "$WORK/$_e" "$@" </dev/null; }
ekx() { _e=$1; shift; as_user env GOFLAGS=-x timeout -k 5 "$MAKE_TIMEOUT" "$KBUILD_NS" --state-dir "$STATE" -C "$WORK/$_e" "$@" </dev/null; }
egit() { _e=$1; shift; as_user git -C "$WORK/$_e" "$@"; }
# stamp ERA: the gitVersion and gitTreeState kubectl was stamped with.
stamp() {
	as_user "$WORK/$1/_output/dockerized/bin/linux/amd64/kubectl" version --client -o json 2>&1 |
		"$PYTHON" -c 'import json, sys; v = json.load(sys.stdin)["clientVersion"]; print(v["gitVersion"], v["gitTreeState"])' 2>&1
}
# snap ERA: the era's snapshot directory.
snap() { kb -C "$WORK/$1" status --json | "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["state_dir"])'; }
# runs ERA: how many times the generator ran in the snapshot.
runs() { as_user cat "$(snap "$1")/snapshot/_output/deepcopy-gen.runs" 2>/dev/null | wc -l; }
ncompile() { grep -c -e '/compile ' -e '/link ' "$1"; }
has() { grep -qF -- "$2" "$1" && echo yes || echo no; }
tail_on() { [ "$1" = 0 ] || tail -25 "$2" | sed 's/^/# /'; }
HOST_TZ=$(md5sum </etc/localtime 2>/dev/null | cut -c1-32)

for era in 2017 2023 2024; do
	want=$(as_user sh "$SRCDIR/tests/fixtures/kube-eras/mktree.sh" "$era" "$WORK/$era" | sed 's/^.*: //')
	[ -n "$want" ] || { echo "Bail out! mktree.sh $era failed"; exit 1; }
	echo "# $era: mktree.sh says the clean tree stamps $want"
	eval "want_$era=\$want"

	ek "$era" make WHAT="cmd/kubectl cmd/kube-proxy" >"$WORK/$era-1.out" 2>&1
	rc=$?
	tail_on "$rc" "$WORK/$era-1.out"
	is "$era: make (cold) stamps $want, clean, and leaves the checkout clean" \
		"$rc $(stamp "$era") [$(flat "$(egit "$era" status --porcelain)")]" "0 $want clean []"
	inside=$(ekq "$era" run --no-copy-output -- sh -c 'test -e /kube-build-image && stat -c %a /var/run/kubernetes &&
		{ md5sum </etc/localtime | cut -c1-32; } && git config --system user.name' 2>&1 | paste -sd' ' -)
	want_inside="777 ${HOST_TZ:-?}"
	[ "$era" = 2017 ] || want_inside="$want_inside kube-build-image"    # git identity: 2018 on
	[ -n "$HOST_TZ" ] || inside=$(echo "$inside" | sed 's/^777 [0-9a-f]*/777 ?/')
	is "$era: the data sandbox was prepared by the tree's Dockerfile (marker, /var/run/kubernetes, localtime, git identity)" \
		"$(has "$WORK/$era-1.out" "Preparing the data sandbox") $inside" "yes $want_inside"

	ekx "$era" make WHAT="cmd/kubectl cmd/kube-proxy" >"$WORK/$era-2.out" 2>&1
	rc=$?
	tail_on "$rc" "$WORK/$era-2.out"
	n1=$(runs "$era")
	is "$era: a second make prepares nothing, runs no generator, compiles and links nothing (GOFLAGS=-x)" \
		"$rc $(has "$WORK/$era-2.out" "Preparing the data sandbox") $(grep -c 'deepcopy-gen: ' "$WORK/$era-2.out") $(ncompile "$WORK/$era-2.out")" \
		"0 no 0 0"

	case $era in
	2017)
		is "2017: the generator ran once, inside: the host's zz_generated file is hidden (H), the snapshot's kept with .make/" \
			"$n1 $(as_user test -d "$(snap 2017)/snapshot/.make/pkg" && echo make-kept) $(as_user test -e "$(snap 2017)/snapshot/.git" && echo git-sent)" \
			"1 make-kept "
		is "2017: copy-out brought back binaries only, not _output/dockerized/go" \
			"$(ls -A "$WORK/2017/_output/dockerized" | paste -sd' ' -)" "bin"
		ekq 2017 run -- sh -c 'echo "{}" >>staging/src/k8s.io/code-generator/Godeps/Godeps.json &&
			echo "{}" >>Godeps/Godeps.json' >"$WORK/2017-g.out" 2>&1
		rc=$?
		tail_on "$rc" "$WORK/2017-g.out"
		is "2017: copy-out follows '+ /staging/***/Godeps/**' (the top Godeps/Godeps.json only has its directory named)" \
			"$rc $(flat "$(egit 2017 status --porcelain)")" "0  M staging/src/k8s.io/code-generator/Godeps/Godeps.json"
		egit 2017 checkout -q -- staging
		# The base image the Dockerfile names (FROM
		# gcr.io/google_containers/kube-cross:TAG) is stored as
		# kube-cross:TAG: cache finds it as make does.
		ekq 2017 cache export "$WORK/2017.cache" >"$WORK/2017-c.out" 2>&1
		rc=$?
		tail_on "$rc" "$WORK/2017-c.out"
		is "2017: cache export finds the Dockerfile's base image under its short name, as make does" \
			"$rc $(test -s "$WORK/2017.cache" && echo written) $(ekq 2017 cache key 2>&1 | cut -c1-10)" "0 written kbuild-ns-"
		rm -f "$WORK/2017.cache"
		;;
	2023)
		is "2023: make does not run the generator; .git is hidden from the snapshot" \
			"$n1 $(as_user test -e "$(snap 2023)/snapshot/.git" && echo git-sent)" "0 "
		;;
	2024)
		is "2024: .git is mirrored into the snapshot" \
			"$(as_user test -f "$(snap 2024)/snapshot/.git/HEAD" && echo git-sent)" "git-sent"
		;;
	esac

	hu 'echo "// edited" >>"$1/cmd/kubectl/kubectl.go"' "$WORK/$era"
	ek "$era" make WHAT="cmd/kubectl" >"$WORK/$era-3.out" 2>&1
	rc=$?
	tail_on "$rc" "$WORK/$era-3.out"
	is "$era: after an edit, make stamps $want-dirty, dirty" "$rc $(stamp "$era")" "0 $want-dirty dirty"
	egit "$era" checkout -q -- cmd
done

# A cache of a tree with a Dockerfile keeps its init: imported into a new
# state directory, the next make neither prepares the data sandbox again
# (which would empty the imported layer) nor compiles anything.
# (The loop's last make of 2017 stamped an edit: one more, settled clean,
# before the export.)
ST2=$WORK/state2
ekq 2017 make WHAT="cmd/kubectl cmd/kube-proxy" >"$WORK/2017-ce.out" 2>&1 &&
	ekq 2017 cache export "$WORK/2017.cache" >>"$WORK/2017-ce.out" 2>&1 &&
	as_user "$KBUILD_NS" -q --state-dir "$ST2" image import "$WORK/eras.tar" >>"$WORK/2017-ce.out" 2>&1 &&
	as_user "$KBUILD_NS" -q --state-dir "$ST2" -C "$WORK/2017" cache import "$WORK/2017.cache" >>"$WORK/2017-ce.out" 2>&1
rc=$?
tail_on "$rc" "$WORK/2017-ce.out"
as_user env GOFLAGS=-x timeout -k 5 "$MAKE_TIMEOUT" "$KBUILD_NS" --state-dir "$ST2" -C "$WORK/2017" \
	make WHAT="cmd/kubectl cmd/kube-proxy" </dev/null >"$WORK/2017-ci.out" 2>&1
rc2=$?
tail_on "$rc2" "$WORK/2017-ci.out"
is "2017: after cache export and import into a new state, make prepares nothing and compiles nothing" \
	"$rc $rc2 $(has "$WORK/2017-ci.out" "Preparing the data sandbox") $(ncompile "$WORK/2017-ci.out") $(stamp 2017)" \
	"0 0 no 0 $want_2017 clean"
rm -rf "$WORK/2017.cache"

# 2024: a changed Dockerfile prepares the data sandbox anew.
hu 'echo "RUN touch /kbuild-ns-eras-marker" >>"$1/build/build-image/Dockerfile"' "$WORK/2024"
ek 2024 make WHAT="cmd/kubectl" >"$WORK/2024-4.out" 2>&1
rc=$?
tail_on "$rc" "$WORK/2024-4.out"
is "2024: after a Dockerfile change, make prepares the data sandbox again, with the new step" \
	"$rc $(has "$WORK/2024-4.out" "Preparing the data sandbox") $(ekq 2024 run --no-copy-output -- sh -c 'test -e /kbuild-ns-eras-marker && echo marker' 2>&1)" \
	"0 yes marker"
egit 2024 checkout -q -- build

# 2024: a host KUBE_GIT_VERSION_FILE wins over the version step.
cat >"$WORK/version-defs" <<'EOF'
KUBE_GIT_COMMIT='0000000000000000000000000000000000000000'
KUBE_GIT_TREE_STATE='archive'
KUBE_GIT_VERSION='v1.31.7-kbuildns.1'
KUBE_GIT_MAJOR='1'
KUBE_GIT_MINOR='31'
EOF
chmod 644 "$WORK/version-defs"
as_user env KUBE_GIT_VERSION_FILE="$WORK/version-defs" timeout -k 5 "$MAKE_TIMEOUT" "$KBUILD_NS" -q \
	--state-dir "$STATE" -C "$WORK/2024" make WHAT="cmd/kubectl" </dev/null >"$WORK/2024-5.out" 2>&1
rc=$?
tail_on "$rc" "$WORK/2024-5.out"
is "2024: a host KUBE_GIT_VERSION_FILE wins over the version step" "$rc $(stamp 2024)" "0 v1.31.7-kbuildns.1 archive"

# The version step runs again only when something it reads has changed
# (version.c): the checkout's files, untracked ones too, and the refs.
# vs: "run" or "not" (the -v line), then the tree state and the version
# the snapshot's version file holds.
vs() {
	ek 2023 -v run --no-copy-output -- cat .dockerized-kube-version-defs 2>&1 |
		sed -n -e 's/.*version step: \(runs\|not run\).*/\1/p' -e "s/^KUBE_GIT_TREE_STATE='\(.*\)'/\1/p" \
			-e "s/^KUBE_GIT_VERSION='\(.*\)'/\1/p" | paste -sd' ' -
}
v1=$(vs)    # the loop's checkout of cmd/ changed the tree since its last make
is "2023: nothing changed since the last run: the version step is not run, its output is kept" \
	"$v1; $(vs)" "runs clean $want_2023; not run clean $want_2023"
hu 'echo new >"$1/untracked.txt"' "$WORK/2023"
is "2023: an untracked file: the step runs, dirty" "$(vs)" "runs dirty $want_2023-dirty"
hu 'rm "$1/untracked.txt"' "$WORK/2023"
is "2023: the file removed: the step runs, clean again" "$(vs)" "runs clean $want_2023"
egit 2023 tag v1.27.99
is "2023: a new tag on HEAD: the step runs and stamps it" "$(vs)" "runs clean v1.27.99"
egit 2023 tag -d v1.27.99 >/dev/null
is "2023: the tag deleted: the step runs" "$(vs)" "runs clean $want_2023"
as_user env KUBE_GIT_VERSION_FILE="$WORK/version-defs" timeout -k 5 "$MAKE_TIMEOUT" "$KBUILD_NS" -q \
	--state-dir "$STATE" -C "$WORK/2023" run --no-copy-output -- true </dev/null >"$WORK/2023-v.out" 2>&1
tail_on $? "$WORK/2023-v.out"
is "2023: after a run with a host KUBE_GIT_VERSION_FILE, the step's last output is put back without running it" \
	"$(vs)" "not run clean $want_2023"
hu 'touch "$1/cmd/kubectl/kubectl.go"' "$WORK/2023"
is "2023: a file touched (its ctime moved): the step runs" "$(vs)" "runs clean $want_2023"

# A checkout that belongs to another uid: git refuses to read it unless
# safe.directory says so, which the step passes in its environment.  Only
# root can make such a checkout for the test user.
if [ "$(id -u)" = 0 ] && [ "$TEST_UID" != 0 ]; then
	rm -rf "$WORK/2023-root"
	cp -r "$WORK/2023" "$WORK/2023-root" && chmod -R a+rX "$WORK/2023-root"
	out=$(as_user timeout -k 5 "$MAKE_TIMEOUT" "$KBUILD_NS" -q --state-dir "$STATE" -C "$WORK/2023-root" \
		run --no-copy-output -- cat .dockerized-kube-version-defs </dev/null 2>&1)
	is "2023, a copy owned by root: the step reads it all the same (safe.directory), clean" \
		"$(echo "$out" | sed -n -e "s/^KUBE_GIT_TREE_STATE='\(.*\)'/\1/p" -e "s/^KUBE_GIT_VERSION='\(.*\)'/\1/p" | paste -sd' ' -)" \
		"clean $want_2023"
	rm -rf "$WORK/2023-root"
else
	_result 0 "2023, a copy owned by another uid # SKIP only root can make one for the test user"
fi

# status -v names the rules' origins.
out=$(kb -v -C "$WORK/2017" status 2>&1)
echo "$out" | grep -q '^sync-in: *build/common.sh:[0-9]* (kube::build::sync_to_container)' &&
	echo "$out" | grep -q 'H zz_generated\.\* *build/common\.sh:[0-9]' &&
	echo "$out" | grep -q '^init: *build/build-image/Dockerfile' &&
	echo "$out" | grep -q 'P /\.dockerized-kube-version-defs *built in'
_result $? "status -v names each rule's origin: build/common.sh:LINE, the Dockerfile, built in"
