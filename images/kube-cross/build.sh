#!/bin/sh
# images/kube-cross/build.sh [OPTIONS] OUTPUT.tar
#
# Make a kube-cross-like build image from Debian packages and write it as an
# image archive that `kbuild-ns image import` takes, tagged
# kube-cross:<cross tag>.  No Docker, no daemon, no root needed:
#
#   1. mmdebstrap --mode=unshare builds a Debian root file system (Go,
#      gcc, make, git, ...) as a tarball; as a user it runs in a user
#      namespace with the user's subordinate ids (/etc/subuid), so the
#      files keep their real owners.
#   2. umoci turns the tarball into a one-layer OCI image and writes the
#      image config (Env as kube-cross has it).
#   3. skopeo copies that image into a docker-archive (what `docker save`
#      writes) or an OCI archive.
#
# Run with --help for the options; images/kube-cross/README.md explains the
# image.  Needs the Debian packages mmdebstrap, umoci, skopeo and, as a
# user, uidmap.
set -eu

here=$(cd "$(dirname "$0")" && pwd -P)
top=$(cd "$here/../.." && pwd -P)
prog=${0##*/}
recipe="$here/$prog"

usage() {
	cat <<EOF
usage: $prog [OPTIONS] OUTPUT.tar

Build the kube-cross-like image and write it to OUTPUT.tar.

  --tag TAG         cross tag (default: examples/kube-mini/build/build-image/cross/VERSION,
                    or \$KUBE_CROSS_TAG), in either of kube-cross's forms:
                      vX.Y.Z-go<GO>-<codename>.<rev>  (2020 on, e.g. v1.29.0-go1.21.7-bullseye.0)
                      v<GO>-<rev>                     (before, e.g. v1.8.3-2)
                    The Go version in it picks the Debian suite (see --suite)
  --also-tag TAG    tag the same image TAG too (repeatable; one archive, one import)
  --suite SUITE     Debian suite to build from (default: the one whose golang-go has the
                    tag's Go major.minor: 1.15 bullseye, 1.19 bookworm, 1.24 trixie)
  --package PKG     install the Debian package PKG too (repeatable; also \$KUBE_CROSS_PACKAGES,
                    space-separated), e.g. protobuf-compiler, etcd-server, gcc-aarch64-linux-gnu
  --name NAME       image name in the archive (default: kube-cross)
  --format FMT      docker-archive (default; layers uncompressed, as docker save)
                    or oci-archive (layers gzip-compressed, about 3x smaller)
  --cache DIR       keep the archive in DIR (also \$KBUILD_NS_IMAGE_CACHE) and reuse it
                    while this script, the tags, the packages, the mirrors and the format
                    are unchanged; downloaded .debs are kept there too
  --rebuild         build even when the cache has the archive
  --mirror URL      Debian mirror (default: the host's, read from /etc/apt/sources.list,
                    /etc/apt/sources.list.d/*.list and *.sources; also \$KUBE_CROSS_MIRROR).
                    Required when the host has no Debian source
  --security-mirror URL|none
                    Debian security mirror (default: the host's <codename>-security source,
                    else none; also \$KUBE_CROSS_SECURITY_MIRROR)
  --mode MODE       mmdebstrap mode: unshare (default, root or not), root, auto
  -q, --quiet       only errors and the final line
  -h, --help        this text

Examples:
  images/kube-cross/build.sh --cache ~/.cache/kbuild-ns/images /tmp/kube-cross.tar
  kbuild-ns image import /tmp/kube-cross.tar
EOF
}

die() {
	echo "$prog: $*" >&2
	exit 1
}
say() {
	[ "$quiet" = 1 ] || printf '+++ [%s] %s\n' "$(date +'%m%d %H:%M:%S')" "$*"
}

# ---------------------------------------------------------------------------
# Options

tag=${KUBE_CROSS_TAG:-}
name=kube-cross
format=docker-archive
cache=${KBUILD_NS_IMAGE_CACHE:-}
rebuild=0
mirror=${KUBE_CROSS_MIRROR:-}
secmirror=${KUBE_CROSS_SECURITY_MIRROR:-}
mode=unshare
quiet=0
output=
suite_opt=
also_tags=
extra_packages=${KUBE_CROSS_PACKAGES:-}

need_arg() {
	[ "$2" -ge 2 ] || die "$1 needs an argument (see --help)"
}
while [ $# -gt 0 ]; do
	case $1 in
	--tag) need_arg "$1" $#; tag=$2; shift ;;
	--tag=*) tag=${1#*=} ;;
	--also-tag) need_arg "$1" $#; also_tags="$also_tags $2"; shift ;;
	--also-tag=*) also_tags="$also_tags ${1#*=}" ;;
	--suite) need_arg "$1" $#; suite_opt=$2; shift ;;
	--suite=*) suite_opt=${1#*=} ;;
	--package) need_arg "$1" $#; extra_packages="$extra_packages $2"; shift ;;
	--package=*) extra_packages="$extra_packages ${1#*=}" ;;
	--name) need_arg "$1" $#; name=$2; shift ;;
	--name=*) name=${1#*=} ;;
	--format) need_arg "$1" $#; format=$2; shift ;;
	--format=*) format=${1#*=} ;;
	--cache) need_arg "$1" $#; cache=$2; shift ;;
	--cache=*) cache=${1#*=} ;;
	--rebuild) rebuild=1 ;;
	--mirror) need_arg "$1" $#; mirror=$2; shift ;;
	--mirror=*) mirror=${1#*=} ;;
	--security-mirror) need_arg "$1" $#; secmirror=$2; shift ;;
	--security-mirror=*) secmirror=${1#*=} ;;
	--mode) need_arg "$1" $#; mode=$2; shift ;;
	--mode=*) mode=${1#*=} ;;
	-q | --quiet) quiet=1 ;;
	-h | --help) usage; exit 0 ;;
	--) shift; break ;;
	-*) die "unknown option $1 (see --help)" ;;
	*) [ -z "$output" ] || die "one OUTPUT only (see --help)"; output=$1 ;;
	esac
	shift
done
[ $# -eq 0 ] || { [ -z "$output" ] && [ $# -eq 1 ] && output=$1; } || die "one OUTPUT only (see --help)"
[ -n "$output" ] || { usage >&2; exit 2; }

case $format in
docker-archive | oci-archive) ;;
*) die "--format $format: want docker-archive or oci-archive" ;;
esac
case $mode in
unshare | root | auto) ;;
*) die "--mode $mode: want unshare, root or auto" ;;
esac
case $name in
*[!a-z0-9._/-]* | "") die "--name $name: want a lower-case repository name such as kube-cross" ;;
esac

if [ -z "$tag" ]; then
	vf=$top/examples/kube-mini/build/build-image/cross/VERSION
	[ -r "$vf" ] || die "no --tag and no $vf to read the cross tag from"
	tag=$(tr -d ' \t\r\n' <"$vf")
fi
# The Go version the tag promises, in either of kube-cross's tag forms:
#   vX.Y.Z-go1.19[.8]-bookworm.0   (kubernetes/release, 2020 on)
#   v1.8.3-2, v1.13.9b4-1          (kubernetes/kubernetes build/build-image/cross, before)
# The old form is what trees of 2017-2019 name in build/build-image/cross/VERSION.
tag_form=
go_want=$(printf '%s\n' "$tag" | sed -n 's/^v[0-9][0-9.]*-go\([0-9][0-9.]*\)[a-z0-9]*-\([a-z][a-z]*\)\.[0-9][0-9]*$/\1/p')
tag_codename=
if [ -n "$go_want" ]; then
	tag_form=new
	tag_codename=$(printf '%s\n' "$tag" | sed -n 's/^v[0-9][0-9.]*-go[0-9][0-9.]*[a-z0-9]*-\([a-z][a-z]*\)\.[0-9][0-9]*$/\1/p')
else
	go_want=$(printf '%s\n' "$tag" | sed -n 's/^v\([0-9][0-9]*\.[0-9][0-9]*\(\.[0-9][0-9]*\)\{0,1\}\)[a-z0-9]*-[0-9][0-9]*\(-[a-z0-9]*\)\{0,1\}$/\1/p')
	[ -n "$go_want" ] && tag_form=old
fi
[ -n "$tag_form" ] ||
	die "tag $tag: want vX.Y.Z-go<GO>-<codename>.<revision> (e.g. v1.0.0-go1.19-bookworm.0) or v<GO>-<revision> (e.g. v1.15.15-1)"
for t in $also_tags; do
	case $t in
	[A-Za-z0-9_]*) ;;
	*) die "--also-tag $t: a tag starts with a letter, a digit or _" ;;
	esac
	case $t in
	*[!A-Za-z0-9_.-]*) die "--also-tag $t: a tag has only letters, digits, _, . and -" ;;
	esac
done
go_minor=$(printf '%s\n' "$go_want" | cut -d. -f1-2)

# Debian suites and the Go of their golang-go.  kube-cross names the Debian
# release of its golang base image, whose Go comes from go.dev, not Debian:
# v1.29.0-go1.21.7-bullseye.0 has Go 1.21 on bullseye, where Debian's own
# golang-go is 1.15.  What a build needs is the Go, so the Go picks the suite
# and the codename in the tag is only used when its Go is the tag's.
suite_go() {
	case $1 in
	buster) echo 1.11 ;;
	bullseye) echo 1.15 ;;
	bookworm) echo 1.19 ;;
	trixie) echo 1.24 ;;
	esac
}
if [ -n "$suite_opt" ]; then
	suite=$suite_opt
	sg=$(suite_go "$suite")
	[ -z "$sg" ] || [ "$sg" = "$go_minor" ] ||
		die "--suite $suite: its golang-go is Go $sg, the tag $tag promises Go $go_minor"
elif [ -n "$tag_codename" ] && [ "$(suite_go "$tag_codename")" = "$go_minor" ]; then
	suite=$tag_codename
else
	suite=
	for s in bullseye bookworm trixie buster; do
		if [ "$(suite_go "$s")" = "$go_minor" ]; then suite=$s; break; fi
	done
	[ -n "$suite" ] ||
		die "tag $tag: no Debian suite has Go $go_minor (bullseye 1.15, bookworm 1.19, trixie 1.24); change the tag, or name a suite with --suite"
fi
case $suite in
*[!a-z]* | "") die "--suite $suite: want a Debian codename such as bookworm" ;;
esac

# ---------------------------------------------------------------------------
# Tools

missing=
for t in mmdebstrap umoci skopeo tar sha256sum; do
	command -v "$t" >/dev/null 2>&1 || missing="$missing $t"
done
if [ -n "$missing" ]; then
	die "missing:$missing; install them with: apt-get install mmdebstrap umoci skopeo uidmap"
fi
if [ "$(id -u)" != 0 ]; then
	[ "$mode" != root ] || die "--mode root needs root; as a user, use --mode unshare"
	for t in newuidmap newgidmap; do
		command -v "$t" >/dev/null 2>&1 ||
			die "$t is missing: mmdebstrap needs it to build as a user; install it with: apt-get install uidmap"
	done
	me=$(id -un)
	for f in /etc/subuid /etc/subgid; do
		grep -q -e "^$me:" -e "^$(id -u):" "$f" 2>/dev/null ||
			die "$f has no range for $me: mmdebstrap needs subordinate ids to build as a user; as root: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 $me"
	done
	if [ "$(cat /proc/sys/kernel/unprivileged_userns_clone 2>/dev/null || echo 1)" = 0 ]; then
		die "unprivileged user namespaces are off (kernel.unprivileged_userns_clone=0); as root: sysctl -w kernel.unprivileged_userns_clone=1"
	fi
fi

# ---------------------------------------------------------------------------
# Mirrors: the host's own, so that a machine with a local mirror or a proxy
# builds from it.  Prints "URI SUITE" for every suite of every enabled
# deb source (one-line .list and deb822 .sources).

host_sources() {
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		case $f in
		*.sources)
			awk '
			function flush() {
				if (deb && enabled) for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++) print u[i], s[j]
				deb = 0; enabled = 1; nu = 0; ns = 0
			}
			BEGIN { enabled = 1 }
			/^[ \t]*$/ { flush(); next }
			/^#/ { next }
			tolower($1) == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
			tolower($1) == "uris:" { for (i = 2; i <= NF; i++) u[++nu] = $i }
			tolower($1) == "suites:" { for (i = 2; i <= NF; i++) s[++ns] = $i }
			tolower($1) == "enabled:" { enabled = (tolower($2) != "no") }
			END { flush() }' "$f"
			;;
		*)
			awk '$1 == "deb" {
				i = 2
				if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
				print $i, $(i + 1)
			}' "$f"
			;;
		esac
	done
}

# The mirror that serves the suite; else one that serves another Debian
# release (a Debian mirror serves them all).  No built-in default: a machine
# that reaches only its own mirror must not be sent elsewhere.
debian_suites="buster bullseye bookworm trixie forky sid oldoldstable oldstable stable testing unstable"
if [ -z "$mirror" ]; then
	mirror=$(host_sources | awk -v s="$suite" '$2 == s { print $1; exit }')
	if [ -z "$mirror" ]; then
		mirror=$(host_sources | awk -v l="$debian_suites" '
			BEGIN { n = split(l, a, " "); for (i = 1; i <= n; i++) ok[a[i]] = 1 }
			$2 in ok { print $1; exit }')
	fi
	[ -n "$mirror" ] ||
		die "the host's apt sources (/etc/apt/sources.list, /etc/apt/sources.list.d/*.list, *.sources) name no Debian mirror: give one with --mirror URL"
fi
if [ -z "$secmirror" ]; then
	secmirror=$(host_sources | awk -v s="$suite-security" '$2 == s { print $1; exit }')
	if [ -z "$secmirror" ]; then
		secmirror=$(host_sources | awk -v l="$debian_suites" '
			BEGIN { n = split(l, a, " "); for (i = 1; i <= n; i++) ok[a[i] "-security"] = 1 }
			$2 in ok { print $1; exit }')
	fi
	if [ -z "$secmirror" ]; then
		secmirror=none
		[ "$quiet" = 1 ] || echo "$prog: the host's apt sources name no Debian security mirror: building without $suite-security (--security-mirror URL adds one)" >&2
	fi
fi
mirror=${mirror%/}
secmirror=${secmirror%/}

# ---------------------------------------------------------------------------
# What goes in.  Keep it small: what hack/ scripts and Go builds use.
# Left out by dpkg path-exclude: documentation, manual pages, translations,
# and the standard library that golang-1.NN-go ships precompiled
# (/usr/lib/go-1.NN/pkg/linux_*/, 250 MB): a -trimpath build, as
# Kubernetes' are, compiles the standard library into GOCACHE anyway, and
# Go 1.20 and later no longer ship it.

# Go (golang-go is the suite's default Go; it puts go in /usr/lib/go-1.NN/bin
# and links /usr/lib/go and /usr/bin/go to it), a C toolchain for cgo, make,
# git for version stamping, certificates and time zones.  bash, coreutils,
# findutils, diffutils, grep, sed, tar and gzip are Essential and always there.
packages="golang-go gcc libc6-dev make git ca-certificates tzdata"
# What kube-cross adds on top of its golang base image (kubernetes/release
# images/build/cross/default/Dockerfile; in 2017 kubernetes/kubernetes
# build/build-image/cross/Dockerfile): g++ (build-essential), rsync
# (hack/lib/golang.sh places binaries with rsync -pc), jq, file, patch,
# unzip, and iproute2 (build/build-image/rsyncd.sh reads `ip route`).
packages="$packages g++ rsync jq file patch unzip iproute2"
for p in $extra_packages; do
	case $p in
	*[!a-z0-9.+:=~-]* | [!a-z0-9]*) die "--package $p: not a Debian package name" ;;
	esac
	case " $packages " in
	*" $p "*) ;;
	*) packages="$packages $p" ;;
	esac
done

# The image's Env, as kube-cross has it (its Go lives in /usr/local/go;
# Debian's in /usr/lib/go, and /usr/local/go links to it).  GOTOOLCHAIN=local:
# a newer go never fetches another toolchain.
crossplatforms="linux/arm64 windows/amd64 darwin/arm64"
image_env="PATH=/go/bin:/usr/lib/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
GOPATH=/go
TMPDIR=/tmp.k8s
GOARM=7
GOTOOLCHAIN=local
KUBE_CROSSPLATFORMS=$crossplatforms
LANG=C.UTF-8"
# kube-cross of 2017 (v1.8.x-N tags) carried a second, patched Go in
# /usr/local/go_k8s_patched and named it in K8S_PATCHED_GOROOT; that era's
# build/build-image/Dockerfile runs `chmod -R a+rwx ... ${K8S_PATCHED_GOROOT}/pkg`.
# Old-form tags get the variable and a link to the one Go.
patched_goroot=
if [ "$tag_form" = old ]; then
	patched_goroot=/usr/local/go_k8s_patched
	image_env="$image_env
K8S_PATCHED_GOROOT=$patched_goroot"
fi

arch=$(dpkg --print-architecture 2>/dev/null || uname -m)

# ---------------------------------------------------------------------------
# The cache: the archive is named for a hash of everything that decides its
# content, so a changed recipe, tag, mirror or format builds anew.

key=$(
	{
		cat "$recipe"
		printf '%s\n' "tag=$tag" "also=$also_tags" "packages=$packages" "name=$name" "format=$format" "suite=$suite" "arch=$arch" \
			"mirror=$mirror" "security=$secmirror" "epoch=${SOURCE_DATE_EPOCH:-}"
	} | sha256sum | cut -c1-16
)
safe_name=$(printf '%s' "$name" | tr '/' '_')
cached=
debs=
if [ -n "$cache" ]; then
	mkdir -p "$cache" || die "cannot create the cache directory $cache"
	cache=$(cd "$cache" && pwd -P)
	cached=$cache/${safe_name}_${tag}_${format}_${key}.tar
	debs=$cache/debs/$suite-$arch
	mkdir -p "$debs"
	# One build at a time per cache: a second caller waits, then reuses.
	if command -v flock >/dev/null 2>&1; then
		exec 9>"$cache/.lock"
		if ! flock -n 9; then
			say "Waiting for another build using the cache $cache"
			flock 9
		fi
	fi
fi

place() {  # place FILE: FILE becomes $output (a hard link when possible)
	[ -e "$output" ] && [ "$(stat -L -c %d:%i "$1")" = "$(stat -L -c %d:%i "$output")" ] && return 0
	tmp_out="$output.tmp.$$"
	rm -f "$tmp_out"
	if ! ln "$1" "$tmp_out" 2>/dev/null; then
		cp "$1" "$tmp_out" || { rm -f "$tmp_out"; die "cannot write $output"; }
	fi
	chmod 0644 "$tmp_out"
	mv -f "$tmp_out" "$output" || { rm -f "$tmp_out"; die "cannot write $output"; }
}

out_dir=$(dirname "$output")
[ -d "$out_dir" ] || die "the directory of $output does not exist"

if [ -n "$cached" ] && [ "$rebuild" = 0 ] && [ -f "$cached" ]; then
	place "$cached"
	[ "$quiet" = 1 ] || say "Reusing $cached (recipe, tags, packages and mirrors unchanged; --rebuild to make it again)"
	echo "$prog: $output: $name:$tag${also_tags:+ (also:$also_tags)} ($format, $(du -h "$output" | cut -f1), from the cache)"
	exit 0
fi

# ---------------------------------------------------------------------------
# Build

start=$(date +%s)
work=$(mktemp -d "${TMPDIR:-/tmp}/kube-cross.XXXXXX")
# In unshare mode, root inside mmdebstrap's user namespace is the first of
# the caller's subordinate ids, not the caller: it must be able to enter
# the directory that holds its temporary root file system.
chmod 0755 "$work"
cleanup() {
	chmod -R u+rwX "$work" 2>/dev/null || true
	rm -rf "$work" 2>/dev/null ||
		echo "$prog: could not remove all of $work (a killed mmdebstrap leaves files owned by subordinate ids there; remove them as root)" >&2
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "Building $name:$tag from Debian $suite ($arch) with mmdebstrap --mode=$mode"
if [ -n "$tag_codename" ] && [ "$tag_codename" != "$suite" ]; then
	say "The tag names $tag_codename, whose golang-go is not Go $go_minor: building from $suite, which has it"
fi
say "Mirrors: $mirror, $secmirror"

set -- --mode="$mode" --variant=apt --format=tar \
	--include="$(echo "$packages" | tr ' ' ',')" \
	--dpkgopt=force-unsafe-io \
	--dpkgopt='path-exclude=/usr/share/man/*' \
	--dpkgopt='path-exclude=/usr/share/info/*' \
	--dpkgopt='path-exclude=/usr/share/locale/*' \
	--dpkgopt='path-include=/usr/share/locale/locale.alias' \
	--dpkgopt='path-exclude=/usr/share/doc/*' \
	--dpkgopt='path-include=/usr/share/doc/*/copyright' \
	--dpkgopt='path-exclude=/usr/share/lintian/*' \
	--dpkgopt='path-exclude=/usr/lib/go-*/pkg/linux_*/*' \
	--customize-hook='mkdir -p "$1/go/bin" "$1/go/src" && chmod 1777 "$1/go" "$1/go/bin" "$1/go/src"' \
	--customize-hook='mkdir -p "$1/usr/local" && ln -sfn ../lib/go "$1/usr/local/go"' \
	--customize-hook='mkdir -p "$1/tmp.k8s" && chmod 1777 "$1/tmp.k8s"' \
	--customize-hook='rm -f "$1/etc/resolv.conf" "$1/etc/hostname" && : >"$1/etc/resolv.conf" && : >"$1/etc/hostname"'
if [ -n "$debs" ]; then
	# Keep the downloaded .debs for the next build (mmdebstrap(1), "sync-in").
	set -- "$@" --skip=essential/unlink \
		--setup-hook='mkdir -p "$1/var/cache/apt/archives/"' \
		--setup-hook="sync-in '$debs' /var/cache/apt/archives/" \
		--customize-hook="sync-out /var/cache/apt/archives '$debs'"
fi
if [ -n "$patched_goroot" ]; then
	set -- "$@" --customize-hook="ln -sfn ../lib/go \"\$1$patched_goroot\""
fi
[ "$quiet" = 1 ] && set -- "$@" --quiet
sources="deb $mirror $suite main
deb $mirror $suite-updates main"
[ "$secmirror" = none ] || sources="$sources
deb $secmirror $suite-security main"

rootfs=$work/rootfs.tar
# The sources go in on standard input: the sources.list of the image.
printf '%s\n' "$sources" | TMPDIR=$work mmdebstrap "$@" "$suite" "$rootfs" - ||
	die "mmdebstrap failed (see above); mirrors: $mirror $secmirror"

# The sandbox makes its own /dev; device nodes cannot be unpacked without
# privilege anyway.
tar --delete --wildcards -f "$rootfs" './dev/?*' 2>/dev/null || true
if [ -n "$debs" ]; then rm -f "$debs/lock"; fi

# The Go the tag promises, and the paths the Env points at.
gover_file=$(tar -tf "$rootfs" --wildcards './usr/lib/go-*/VERSION' | head -1)
[ -n "$gover_file" ] || die "the image has no Go (no /usr/lib/go-*/VERSION)"
go_have=$(tar -xOf "$rootfs" "$gover_file" | head -1)
case $go_have in
"go$go_want" | "go$go_want".*) ;;
"go$go_minor" | "go$go_minor".*)
	[ "$quiet" = 1 ] || say "The tag names Go $go_want; Debian $suite has $go_have (the same Go release, another patch level)" ;;
*) die "the tag $tag promises Go $go_want but Debian $suite has $go_have: change the tag or --suite" ;;
esac
tar -tf "$rootfs" ./usr/lib/go ./usr/local/go ./go/bin ./tmp.k8s >/dev/null 2>&1 ||
	die "the root file system lacks /usr/lib/go, /usr/local/go, /go/bin or /tmp.k8s"

say "Making the OCI image with umoci"
oci=$work/oci
umoci init --layout "$oci"
umoci new --image "$oci:$name"
umoci raw add-layer --image "$oci:$name" \
	--history.created_by "mmdebstrap --variant=apt --include=$(echo "$packages" | tr ' ' ',') $suite (images/kube-cross/build.sh)" \
	"$rootfs"
rm -f "$rootfs"
set -- --clear=config.env
old_ifs=$IFS
IFS='
'
for e in $image_env; do
	set -- "$@" --config.env "$e"
done
IFS=$old_ifs
umoci config --image "$oci:$name" "$@" \
	--config.cmd /bin/bash --config.workingdir / \
	--config.label "org.opencontainers.image.title=$name" \
	--config.label "org.opencontainers.image.version=$tag" \
	--config.label "org.opencontainers.image.description=kube-cross-like build image from Debian $suite packages ($go_have)" \
	--author "images/kube-cross/build.sh" \
	--history.created_by "umoci config (Env of kube-cross)"

say "Writing the $format with skopeo"
archive=$work/image.tar
set --
for t in $also_tags; do
	[ "$t" = "$tag" ] || set -- "$@" --additional-tag "$name:$t"
done
[ $# -eq 0 ] || [ "$format" = docker-archive ] || die "--also-tag needs --format docker-archive (an OCI archive holds one name)"
skopeo --insecure-policy copy --quiet "$@" "oci:$oci:$name" "$format:$archive:$name:$tag" ||
	die "skopeo copy to $format failed"

if [ -n "$cached" ]; then
	# Older archives of this name, tag and format are stale now.
	for f in "$cache/${safe_name}_${tag}_${format}_"*.tar; do
		[ -f "$f" ] && [ "$f" != "$cached" ] && rm -f "$f"
	done
	mv -f "$archive" "$cached.tmp.$$" 2>/dev/null || cp "$archive" "$cached.tmp.$$"
	mv -f "$cached.tmp.$$" "$cached"
	place "$cached"
else
	mv -f "$archive" "$output" 2>/dev/null || {
		cp "$archive" "$output.tmp.$$" && mv -f "$output.tmp.$$" "$output"
	} || die "cannot write $output"
	chmod 0644 "$output"
fi

end=$(date +%s)
echo "$prog: $output: $name:$tag${also_tags:+ (also:$also_tags)} ($format, $(du -h "$output" | cut -f1), $go_have, built in $((end - start)) s)"
