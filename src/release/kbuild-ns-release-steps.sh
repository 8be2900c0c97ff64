#!/usr/bin/env bash
# kbuild-ns-release-steps: the parts of `kbuild-ns release` that run in the
# build sandbox, in the checkout's own terms (kbuild-ns-release(1)).  Bound
# read-only at /run/kbuild-ns/libexec/release-steps; run with the working
# directory at the top of the tree.
#
#   release-steps preflight   facts for the preflight, one per line, as
#                             KEY<TAB>VALUE[<TAB>VALUE] on standard output:
#                             git, head, commit_time, describe, shallow,
#                             dirty (the first dirty path, or empty),
#                             origin, go_want, go_have, base PLATFORM NAME,
#                             error MESSAGE.  Here the tree is the checkout
#                             itself, bound read-only.
#   release-steps package     the tree's own packaging, as its
#                             build/package-tarballs.sh (or upstream's
#                             build/release.sh after its build) runs it:
#                             kube::release::package_tarballs.
set -o nounset
set -o pipefail

say() {
	local IFS=$'\t'
	printf '%s\n' "$*"
}

git_facts() {
	# The checkout itself, read-only, whose files may belong to an id
	# that is not root here: no "dubious ownership" refusal, no index
	# refresh written.  (Only here: the packaging works on the snapshot,
	# whose files are root's, and gets no variable of ours.)
	local GIT_OPTIONAL_LOCKS=0 GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=safe.directory GIT_CONFIG_VALUE_0='*'
	export GIT_OPTIONAL_LOCKS GIT_CONFIG_COUNT GIT_CONFIG_KEY_0 GIT_CONFIG_VALUE_0
	if ! command -v git >/dev/null 2>&1; then
		say git no
		return
	fi
	say git yes
	local head
	head=$(git log -1 --format='%H%x09%ct' HEAD 2>/dev/null) || return
	say head "${head%%$'\t'*}"
	say commit_time "${head##*$'\t'}"
	# As hack/lib/version.sh asks: a tag reachable from HEAD.
	say describe "$(git describe --tags --abbrev=14 HEAD 2>/dev/null)"
	say shallow "$(git rev-parse --is-shallow-repository 2>/dev/null)"
	# Untracked files count, as upstream's version.sh counts them.
	local first
	first=$(git status --porcelain 2>/dev/null | head -n 1)
	say dirty "${first:3}"
	say origin "$(git config --get remote.origin.url 2>/dev/null)"
}

go_facts() {
	if [[ -f .go-version ]]; then
		say go_want "$(tr -d ' \t\r\n' <.go-version)"
	fi
	local v
	v=$(go env GOVERSION 2>/dev/null) || v=$(go version 2>/dev/null | awk '{print $3}')
	say go_have "${v-}"
}

# The base images the tree's packaging will ask for, per server platform,
# from the tree's own build/common.sh (its argument was the architecture
# until 2020; later trees ignore it).
base_facts() {
	if [[ ! -f build/common.sh || ! -f build/lib/release.sh ]]; then
		say error "no build/common.sh and build/lib/release.sh: not a tree with Kubernetes' release packaging"
		return
	fi
	(
		source build/common.sh >/dev/null 2>&1 || { say error "sourcing build/common.sh failed"; exit 0; }
		set +o errexit
		local p w runner=
		if [[ ${KUBE_BUILD_CONFORMANCE:-n} =~ ^[yY] && -f test/conformance/image/Makefile ]]; then
			runner=$(printf 'kbuild-ns-print-runner:\n\t@echo $(RUNNERIMAGE)\n' |
				make -s --no-print-directory -C test/conformance/image -f Makefile -f - kbuild-ns-print-runner 2>/dev/null)
		fi
		for p in "${KUBE_SERVER_PLATFORMS[@]+"${KUBE_SERVER_PLATFORMS[@]}"}"; do
			[[ ${p%%/*} == linux ]] || continue
			for w in $(kube::build::get_docker_wrapped_binaries "${p##*/}" 2>/dev/null); do
				say base "$p" "${w##*,}"
			done
			if [[ -n $runner ]]; then
				say base "$p" "$runner"
			fi
		done
	)
}

case ${1-} in
preflight)
	git_facts
	go_facts
	base_facts
	exit 0
	;;
package)
	set -o errexit
	source build/common.sh
	source build/lib/release.sh
	if declare -F kube::build::ensure_tar >/dev/null; then
		kube::build::ensure_tar
	fi
	kube::version::get_version_vars
	kube::release::package_tarballs
	;;
*)
	echo "release-steps: preflight or package" >&2
	exit 2
	;;
esac
