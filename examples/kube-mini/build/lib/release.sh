#!/usr/bin/env bash
# Release artifacts, shaped like Kubernetes' build/lib/release.sh of
# 2023-2025: tarballs made with "${TAR}" from staging directories that each
# hold one top-level kubernetes/ directory, and one container image per
# server binary and server platform made with `docker buildx build`.
# Sourced after build/common.sh.
#
#   _output/release-stage/    the staging trees
#   _output/release-tars/     kubernetes-src.tar.gz, kubernetes-client-OS-ARCH,
#                             kubernetes-node-linux-ARCH, kubernetes-server-linux-ARCH,
#                             kubernetes-test-OS-ARCH, kubernetes-test-portable,
#                             kubernetes-manifests (.tar.gz), kubernetes.tar.gz
#   _output/release-images/ARCH/BINARY.tar   the server images (docker archives),
#                             hard links of server/bin/BINARY.tar in the stage

readonly RELEASE_STAGE="${LOCAL_OUTPUT_ROOT}/release-stage"
readonly RELEASE_TARS="${LOCAL_OUTPUT_ROOT}/release-tars"
readonly RELEASE_IMAGES="${LOCAL_OUTPUT_ROOT}/release-images"

# KUBE_BUILD_CONFORMANCE=y adds the conformance image (`make release` sets it).
KUBE_BUILD_CONFORMANCE=${KUBE_BUILD_CONFORMANCE:-n}
# y (the default, as upstream): `docker buildx build --pull`, i.e. look for
# newer base images.  n: use the base images as they are.
KUBE_BUILD_PULL_LATEST_IMAGES=${KUBE_BUILD_PULL_LATEST_IMAGES:-y}

# kube::release::clean_cruft: editor backups and Finder files out of the stage.
kube::release::clean_cruft() {
  find "${RELEASE_STAGE}" \( -name '*~' -o -name '#*#' -o -name '.DS*' \) -exec rm {} +
}

# kube::release::package_tarballs: every tarball, in three phases; the
# node and server tarballs carry the source tarball, the final one the
# manifests tarball.
kube::release::package_tarballs() {
  rm -rf "${RELEASE_STAGE}" "${RELEASE_TARS}" "${RELEASE_IMAGES}"
  mkdir -p "${RELEASE_TARS}"
  kube::release::package_src_tarball &
  kube::release::package_client_tarballs &
  kube::release::package_kube_manifests_tarball &
  kube::util::wait-for-jobs || { kube::log::error "previous tarball phase failed"; return 1; }

  kube::release::package_node_tarballs &
  kube::release::package_server_tarballs &
  kube::util::wait-for-jobs || { kube::log::error "previous tarball phase failed"; return 1; }

  kube::release::package_final_tarball &
  kube::release::package_test_tarballs &
  kube::util::wait-for-jobs || { kube::log::error "previous tarball phase failed"; return 1; }
}

# kube::release::package_src_tarball: the source that was built.  A clean
# tree is exported from git (HEAD); a dirty one is taken as it is on disk,
# without _output, .git and other dot-directories of tools.  Unlike
# upstream's `git archive HEAD`, the export gets the kubernetes/ prefix
# too, so that every tarball unpacks into kubernetes/.
kube::release::package_src_tarball() {
  local -r src_tarball="${RELEASE_TARS}/kubernetes-src.tar.gz"
  kube::log::status "Building tarball: src"
  if [[ "${KUBE_GIT_TREE_STATE-}" == clean ]]; then
    git -C "${KUBE_ROOT}" archive --prefix=kubernetes/ -o "${src_tarball}" HEAD
  else
    find "${KUBE_ROOT}" -mindepth 1 -maxdepth 1 \
      ! \( \
        \( -path "${KUBE_ROOT}"/_\* -o \
           -path "${KUBE_ROOT}"/.git\* -o \
           -path "${KUBE_ROOT}"/.config\* -o \
           -path "${KUBE_ROOT}"/.dockerized-kube-version-defs \
        \) -prune \
      \) -print0 |
      "${TAR}" czf "${src_tarball}" --transform "s|${KUBE_ROOT#/*}|kubernetes|" --null -T -
  fi
}

# kube::release::package_client_tarballs: one per platform that has
# binaries (or each of KUBE_BUILD_PLATFORMS): kubernetes/client/bin/.
kube::release::package_client_tarballs() {
  local long_platforms=("${LOCAL_OUTPUT_BINPATH}"/*/*)
  if [[ -n ${KUBE_BUILD_PLATFORMS-} ]]; then
    read -ra long_platforms <<<"${KUBE_BUILD_PLATFORMS}"
  fi

  local platform_long
  for platform_long in "${long_platforms[@]}"; do
    local platform platform_tag
    platform=${platform_long##"${LOCAL_OUTPUT_BINPATH}"/}
    platform_tag=${platform/\//-}
    kube::log::status "Starting tarball: client ${platform_tag}"
    (
      local release_stage="${RELEASE_STAGE}/client/${platform_tag}/kubernetes"
      rm -rf "${release_stage}"
      mkdir -p "${release_stage}/client/bin"

      local client_bins=("${KUBE_CLIENT_BINARIES[@]}")
      if [[ "${platform%/*}" == windows ]]; then
        client_bins=("${KUBE_CLIENT_BINARIES_WIN[@]}")
      fi
      cp "${client_bins[@]/#/${LOCAL_OUTPUT_BINPATH}/${platform}/}" "${release_stage}/client/bin/"

      kube::release::clean_cruft
      kube::release::create_tarball "${RELEASE_TARS}/kubernetes-client-${platform_tag}.tar.gz" "${release_stage}/.."
    ) &
  done

  kube::log::status "Waiting on tarballs"
  kube::util::wait-for-jobs || { kube::log::error "client tarball creation failed"; exit 1; }
}

# kube::release::package_node_tarballs: per node platform,
# kubernetes/node/bin/ (node and client binaries), LICENSES and the source.
kube::release::package_node_tarballs() {
  local platform
  for platform in "${KUBE_NODE_PLATFORMS[@]+"${KUBE_NODE_PLATFORMS[@]}"}"; do
    local platform_tag=${platform/\//-}
    kube::log::status "Building tarball: node ${platform_tag}"

    local release_stage="${RELEASE_STAGE}/node/${platform_tag}/kubernetes"
    rm -rf "${release_stage}"
    mkdir -p "${release_stage}/node/bin"

    local node_bins=("${KUBE_NODE_BINARIES[@]}") client_bins=("${KUBE_CLIENT_BINARIES[@]}")
    if [[ "${platform%/*}" == windows ]]; then
      node_bins=("${KUBE_NODE_BINARIES_WIN[@]}")
      client_bins=("${KUBE_CLIENT_BINARIES_WIN[@]}")
    fi
    cp "${node_bins[@]/#/${LOCAL_OUTPUT_BINPATH}/${platform}/}" "${release_stage}/node/bin/"
    # The client binaries too: they are useful to debug a node.
    cp "${client_bins[@]/#/${LOCAL_OUTPUT_BINPATH}/${platform}/}" "${release_stage}/node/bin/"

    cp -R "${KUBE_ROOT}/LICENSES" "${release_stage}/"
    cp "${RELEASE_TARS}/kubernetes-src.tar.gz" "${release_stage}/"

    kube::release::clean_cruft
    kube::release::create_tarball "${RELEASE_TARS}/kubernetes-node-${platform_tag}.tar.gz" "${release_stage}/.."
  done
}

# kube::release::build_server_images: a buildx builder, then the images of
# every server platform, each built from the binaries staged in
# kubernetes/server/bin/.
kube::release::build_server_images() {
  kube::util::ensure-docker-buildx
  docker buildx create --name img-builder --use || true
  docker buildx inspect --bootstrap
  kube::util::trap_add 'docker buildx rm' EXIT

  rm -rf "${RELEASE_IMAGES}"
  local platform
  for platform in "${KUBE_SERVER_PLATFORMS[@]+"${KUBE_SERVER_PLATFORMS[@]}"}"; do
    local platform_tag=${platform/\//-} os arch
    os=$(dirname "${platform}")
    arch=$(basename "${platform}")
    kube::log::status "Building images: ${platform_tag}"

    local release_stage="${RELEASE_STAGE}/server/${platform_tag}/kubernetes"
    rm -rf "${release_stage}"
    mkdir -p "${release_stage}/server/bin"
    cp "${KUBE_SERVER_IMAGE_BINARIES[@]/#/${LOCAL_OUTPUT_BINPATH}/${platform}/}" "${release_stage}/server/bin/"

    kube::release::create_docker_images_for_server "${release_stage}/server/bin" "${arch}" "${os}"
  done
}

# kube::release::package_server_tarballs: per server platform, the images,
# then kubernetes/server/bin/ (server and client binaries, the image
# archives and their .docker_tag files), addons/, LICENSES and the source.
kube::release::package_server_tarballs() {
  kube::release::build_server_images
  local platform
  for platform in "${KUBE_SERVER_PLATFORMS[@]+"${KUBE_SERVER_PLATFORMS[@]}"}"; do
    local platform_tag=${platform/\//-}
    kube::log::status "Building tarball: server ${platform_tag}"

    # made by build_server_images
    local release_stage="${RELEASE_STAGE}/server/${platform_tag}/kubernetes"
    mkdir -p "${release_stage}/addons"

    cp "${KUBE_SERVER_BINARIES[@]/#/${LOCAL_OUTPUT_BINPATH}/${platform}/}" "${release_stage}/server/bin/"
    local client_bins=("${KUBE_CLIENT_BINARIES[@]}")
    if [[ "${platform%/*}" == windows ]]; then
      client_bins=("${KUBE_CLIENT_BINARIES_WIN[@]}")
    fi
    cp "${client_bins[@]/#/${LOCAL_OUTPUT_BINPATH}/${platform}/}" "${release_stage}/server/bin/"

    cp -R "${KUBE_ROOT}/LICENSES" "${release_stage}/"
    cp "${RELEASE_TARS}/kubernetes-src.tar.gz" "${release_stage}/"

    kube::release::clean_cruft
    kube::release::create_tarball "${RELEASE_TARS}/kubernetes-server-${platform_tag}.tar.gz" "${release_stage}/.."
  done
}

# kube::release::build_conformance_image ARCH REGISTRY VERSION [SAVE_DIR]:
# the image test/conformance/image builds (`docker buildx build --load`),
# saved to SAVE_DIR/conformance-ARCH.tar, then removed from the store.
kube::release::build_conformance_image() {
  local -r arch=$1 registry=$2 version=$3 save_dir=${4-}
  kube::log::status "Building conformance image for arch: ${arch}"
  ARCH="${arch}" REGISTRY="${registry}" VERSION="${version}" \
    make -C "${KUBE_ROOT}/test/conformance/image/" build >/dev/null

  local conformance_tag="${registry}/conformance-${arch}:${version}"
  if [[ -n "${save_dir}" ]]; then
    "${DOCKER[@]}" save "${conformance_tag}" >"${save_dir}/conformance-${arch}.tar"
  fi
  kube::log::status "Deleting conformance image ${conformance_tag}"
  "${DOCKER[@]}" rmi "${conformance_tag}" &>/dev/null || true
}

# kube::release::create_docker_images_for_server BINARY_DIR ARCH [OS]: one
# image per binary of get_docker_wrapped_binaries, built in parallel.  Each
# build context is BINARY_DIR/BINARY.dockerbuild with a hard link of the
# binary; the Dockerfile is build/server-image/BINARY/Dockerfile when there
# is one, else build/server-image/Dockerfile.  The image is written as a
# docker archive to BINARY_DIR/BINARY.tar (hard-linked into
# release-images/ARCH/), its tag to BINARY_DIR/BINARY.docker_tag.
kube::release::create_docker_images_for_server() {
  (
    local binary_dir=$1 arch=$2 os=${3:-linux}
    local binaries images_dir
    binaries=$(kube::build::get_docker_wrapped_binaries "${os}")
    images_dir="${RELEASE_IMAGES}/${arch}"
    mkdir -p "${images_dir}"

    # Every archive is tagged registry.k8s.io/...; KUBE_DOCKER_REGISTRY and
    # KUBE_DOCKER_IMAGE_TAG, when they differ, add a second tag.
    local -r docker_registry="registry.k8s.io"
    # Docker tags cannot contain '+'.
    local docker_tag="${KUBE_GIT_VERSION/+/_}"
    if [[ -z "${docker_tag}" ]]; then
      kube::log::error "git version information missing; cannot create Docker tag"
      return 1
    fi

    local docker_build_opts=
    if [[ "${KUBE_BUILD_PULL_LATEST_IMAGES}" =~ [yY] ]]; then
      docker_build_opts='--pull'
    fi

    local wrappable
    for wrappable in ${binaries}; do
      local full_binary_name=${wrappable%%,*}
      local binary_name=${full_binary_name%%.*}
      local base_image=${wrappable##*,}
      local binary_file_path="${binary_dir}/${full_binary_name}"
      local tar_path="${binary_dir}/${full_binary_name}.tar"
      local docker_build_path="${binary_file_path}.dockerbuild"
      local docker_image_tag="${docker_registry}/${binary_name}-${arch}:${docker_tag}"

      local docker_file_path="${KUBE_ROOT}/build/server-image/Dockerfile"
      if [[ -f "${KUBE_ROOT}/build/server-image/${binary_name}/Dockerfile" ]]; then
        docker_file_path="${KUBE_ROOT}/build/server-image/${binary_name}/Dockerfile"
      fi

      kube::log::status "Starting docker build for image: ${binary_name}-${os}-${arch}"
      (
        rm -rf "${docker_build_path}"
        mkdir -p "${docker_build_path}"
        ln "${binary_file_path}" "${docker_build_path}/${full_binary_name}"

        local additional_tag=()
        local release_docker_image_tag="${KUBE_DOCKER_REGISTRY-$docker_registry}/${binary_name}-${arch}:${KUBE_DOCKER_IMAGE_TAG-$docker_tag}"
        if [[ "${release_docker_image_tag}" != "${docker_image_tag}" ]]; then
          kube::log::status "Adding additional tag ${release_docker_image_tag} for docker image ${docker_image_tag}"
          "${DOCKER[@]}" rmi "${release_docker_image_tag}" 2>/dev/null || true
          additional_tag=("-t" "${release_docker_image_tag}")
        fi

        local build_log="${docker_build_path}/build.log"
        if ! DOCKER_CLI_EXPERIMENTAL=enabled "${DOCKER[@]}" buildx build \
          -f "${docker_file_path}" \
          --platform "${os}/${arch}" \
          --output type=docker,dest="${tar_path}" \
          ${docker_build_opts:+"${docker_build_opts}"} \
          -t "${docker_image_tag}" "${additional_tag[@]+"${additional_tag[@]}"}" \
          --build-arg BASEIMAGE="${base_image}" \
          --build-arg SETCAP_IMAGE="${KUBE_BUILD_SETCAP_IMAGE}" \
          --build-arg BINARY="${full_binary_name}" \
          "${docker_build_path}" >"${build_log}" 2>&1; then
          cat "${build_log}"
          exit 1
        fi
        rm "${build_log}"

        echo "${docker_tag}" >"${binary_file_path}.docker_tag"
        rm -rf "${docker_build_path}"
        ln "${tar_path}" "${images_dir}/"

        kube::log::status "Deleting docker image ${docker_image_tag}"
        "${DOCKER[@]}" rmi "${docker_image_tag}" &>/dev/null || true
      ) &
    done

    # The conformance image holds the test binary, which kube-mini builds
    # only for the test platforms (upstream builds it for every linux one).
    if [[ "${KUBE_BUILD_CONFORMANCE}" =~ [yY] ]] &&
      kube::util::array_contains "${os}/${arch}" "${KUBE_TEST_PLATFORMS[@]+"${KUBE_TEST_PLATFORMS[@]}"}"; then
      kube::release::build_conformance_image "${arch}" "${docker_registry}" "${docker_tag}" "${images_dir}" &
    fi

    kube::util::wait-for-jobs || { kube::log::error "previous Docker build failed"; return 1; }
    kube::log::status "Docker builds done"
  )
}

# kube::release::package_kube_manifests_tarball: the manifests of the
# control-plane pods (cluster/manifests) and the addons, for installers.
kube::release::package_kube_manifests_tarball() {
  kube::log::status "Building tarball: manifests"

  local src_dir="${KUBE_ROOT}/cluster/manifests"
  local release_stage="${RELEASE_STAGE}/manifests/kubernetes"
  rm -rf "${release_stage}"

  local dst_dir="${release_stage}/gci-trusty"
  mkdir -p "${dst_dir}"
  cp "${src_dir}"/*.manifest "${dst_dir}/"
  # The addons' YAML and JSON (no demos), their paths kept below addons/.
  local d=cluster/addons
  find "${KUBE_ROOT}/${d}" \( \( -name \*.yaml -o -name \*.yaml.in -o -name \*.json \) -a ! \( -name \*demo\* \) \) -print0 |
    "${TAR}" c --transform "s|${KUBE_ROOT#/*}/${d}||" --null -T - | "${TAR}" x -C "${dst_dir}"

  kube::release::clean_cruft
  kube::release::create_tarball "${RELEASE_TARS}/kubernetes-manifests.tar.gz" "${release_stage}/.."
}

# kube::release::package_test_platform_tarballs: per test platform,
# kubernetes/test/bin/.
kube::release::package_test_platform_tarballs() {
  rm -rf "${RELEASE_STAGE}/test"
  local platform
  for platform in "${KUBE_TEST_PLATFORMS[@]+"${KUBE_TEST_PLATFORMS[@]}"}"; do
    (
      local platform_tag=${platform/\//-}
      kube::log::status "Starting tarball: test ${platform_tag}"
      local release_stage="${RELEASE_STAGE}/test/${platform_tag}/kubernetes"
      mkdir -p "${release_stage}/test/bin"

      local test_bins=("${KUBE_TEST_BINARIES[@]}")
      if [[ "${platform%/*}" == windows ]]; then
        test_bins=("${KUBE_TEST_BINARIES_WIN[@]}")
      fi
      cp "${test_bins[@]/#/${LOCAL_OUTPUT_BINPATH}/${platform}/}" "${release_stage}/test/bin/"

      kube::release::create_tarball "${RELEASE_TARS}/kubernetes-test-${platform_tag}.tar.gz" "${release_stage}/.."
    ) &
  done

  kube::log::status "Waiting on test tarballs"
  kube::util::wait-for-jobs || { kube::log::error "test tarball creation failed"; exit 1; }
}

# kube::release::package_test_tarballs: the per-platform test tarballs and
# the portable one (what the tests need besides binaries).
kube::release::package_test_tarballs() {
  kube::release::package_test_platform_tarballs

  kube::log::status "Building tarball: test portable"
  local release_stage="${RELEASE_STAGE}/test/kubernetes"
  rm -rf "${release_stage}"
  mkdir -p "${release_stage}"

  (cd "${KUBE_ROOT}" && "${TAR}" c "${KUBE_TEST_PORTABLE[@]}") | "${TAR}" x -C "${release_stage}"

  kube::release::clean_cruft
  kube::release::create_tarball "${RELEASE_TARS}/kubernetes-test-portable.tar.gz" "${release_stage}/.."
}

# kube::release::package_final_tarball: kubernetes.tar.gz, everything that
# is not per platform: cluster/, the manifests tarball, hack/lib (which the
# cluster scripts source), docs, README, LICENSES and the version.
kube::release::package_final_tarball() {
  kube::log::status "Building tarball: final"

  local release_stage="${RELEASE_STAGE}/full/kubernetes"
  rm -rf "${release_stage}"
  mkdir -p "${release_stage}/client" "${release_stage}/server" "${release_stage}/hack"

  cat <<EOF >"${release_stage}/client/README"
Client binaries are not included in this tarball: they are in
kubernetes-client-<os>-<arch>.tar.gz.
EOF
  cp -R "${KUBE_ROOT}/cluster" "${release_stage}/"
  cp "${RELEASE_TARS}/kubernetes-manifests.tar.gz" "${release_stage}/server/"
  cat <<EOF >"${release_stage}/server/README"
Server binaries are not included in this tarball: they are in
kubernetes-server-linux-<arch>.tar.gz.
EOF
  cp -R "${KUBE_ROOT}/hack/lib" "${release_stage}/hack/"
  cp -R "${KUBE_ROOT}/docs" "${release_stage}/"
  cp "${KUBE_ROOT}/README.md" "${release_stage}/"
  cp -R "${KUBE_ROOT}/LICENSES" "${release_stage}/"

  echo "${KUBE_GIT_VERSION}" >"${release_stage}/version"

  kube::release::clean_cruft
  kube::release::create_tarball "${RELEASE_TARS}/kubernetes.tar.gz" "${release_stage}/.."
}

# kube::release::create_tarball TARFILE STAGINGDIR: TARFILE from
# STAGINGDIR/kubernetes, owned by 0:0.  Everything else (order, times,
# compression header) is the tar's: TAR may name a reproducible one.
kube::release::create_tarball() {
  kube::build::ensure_tar
  local tarfile=$1 stagingdir=$2
  "${TAR}" czf "${tarfile}" -C "${stagingdir}" kubernetes --owner=0 --group=0
}
