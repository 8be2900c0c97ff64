#!/usr/bin/env bash
# Release artifacts, shaped like Kubernetes' build/lib/release.sh of 2017
# (v1.7-v1.8): the classic Docker flow.  Each server image is built by
# `docker build` from a Dockerfile generated in a temporary build directory
# (FROM the base image, ADD the binary), written out with `docker save`,
# then removed with `docker rmi` (or, for an official release with
# KUBE_DOCKER_REGISTRY and KUBE_DOCKER_IMAGE_TAG, re-tagged with `docker
# tag` and kept).  Sourced after build/common.sh.
#
#   _output/release-tars/     kubernetes-src.tar.gz (no top directory, as
#                             then), kubernetes-client-OS-ARCH,
#                             kubernetes-node-linux-ARCH, kubernetes-server-linux-ARCH,
#                             kubernetes-manifests, kubernetes-test (all
#                             platforms in one), kubernetes (.tar.gz)
#   _output/release-images/ARCH/BINARY.tar   hard links of the server images

readonly RELEASE_STAGE="${LOCAL_OUTPUT_ROOT}/release-stage"
readonly RELEASE_TARS="${LOCAL_OUTPUT_ROOT}/release-tars"
readonly RELEASE_IMAGES="${LOCAL_OUTPUT_ROOT}/release-images"

kube::release::clean_cruft() {
  find "${RELEASE_STAGE}" \( -name '*~' -o -name '#*#' -o -name '.DS*' \) -exec rm {} +
}

kube::release::package_tarballs() {
  rm -rf "${RELEASE_STAGE}" "${RELEASE_TARS}" "${RELEASE_IMAGES}"
  mkdir -p "${RELEASE_TARS}"
  kube::release::package_src_tarball &
  kube::release::package_client_tarballs &
  kube::release::package_kube_manifests_tarball &
  kube::util::wait-for-jobs || { kube::log::error "previous tarball phase failed"; return 1; }

  # _node and _server tarballs depend on _src tarball
  kube::release::package_node_tarballs &
  kube::release::package_server_tarballs &
  kube::util::wait-for-jobs || { kube::log::error "previous tarball phase failed"; return 1; }

  kube::release::package_final_tarball &
  kube::release::package_test_tarball &
  kube::util::wait-for-jobs || { kube::log::error "previous tarball phase failed"; return 1; }
}

# kube::release::package_src_tarball: the top-level entries of the tree but
# _output, .git and tool dot-directories, with no top directory.
kube::release::package_src_tarball() {
  kube::log::status "Building tarball: src"
  local source_files=()
  mapfile -t source_files < <(cd "${KUBE_ROOT}" && find . -mindepth 1 -maxdepth 1 \
    -not \( \
      \( -path ./_\* -o \
         -path ./.git\* -o \
         -path ./.config\* -o \
         -path ./.dockerized-kube-version-defs \
      \) -prune \
    \))
  "${TAR}" czf "${RELEASE_TARS}/kubernetes-src.tar.gz" -C "${KUBE_ROOT}" "${source_files[@]}"
}

kube::release::package_client_tarballs() {
  local platform platforms
  read -ra platforms <<<"$(cd "${LOCAL_OUTPUT_BINPATH}" && echo */*)"
  for platform in "${platforms[@]}"; do
    local platform_tag=${platform/\//-}
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

kube::release::package_node_tarballs() {
  local platform
  for platform in "${KUBE_NODE_PLATFORMS[@]+"${KUBE_NODE_PLATFORMS[@]}"}"; do
    local platform_tag=${platform/\//-}
    kube::log::status "Building tarball: node ${platform_tag}"

    local release_stage="${RELEASE_STAGE}/node/${platform_tag}/kubernetes"
    rm -rf "${release_stage}"
    mkdir -p "${release_stage}/node/bin"
    cp "${KUBE_NODE_BINARIES[@]/#/${LOCAL_OUTPUT_BINPATH}/${platform}/}" "${release_stage}/node/bin/"
    cp "${KUBE_CLIENT_BINARIES[@]/#/${LOCAL_OUTPUT_BINPATH}/${platform}/}" "${release_stage}/node/bin/"
    cp -R "${KUBE_ROOT}/LICENSES" "${release_stage}/"
    cp "${RELEASE_TARS}/kubernetes-src.tar.gz" "${release_stage}/"

    kube::release::clean_cruft
    kube::release::create_tarball "${RELEASE_TARS}/kubernetes-node-${platform_tag}.tar.gz" "${release_stage}/.."
  done
}

# kube::release::package_server_tarballs: per server platform, the server
# binaries, their images (made right here), the client binaries, LICENSES
# and the source.
kube::release::package_server_tarballs() {
  local platform
  for platform in "${KUBE_SERVER_PLATFORMS[@]+"${KUBE_SERVER_PLATFORMS[@]}"}"; do
    local platform_tag=${platform/\//-} arch
    arch=$(basename "${platform}")
    kube::log::status "Building tarball: server ${platform_tag}"

    local release_stage="${RELEASE_STAGE}/server/${platform_tag}/kubernetes"
    rm -rf "${release_stage}"
    mkdir -p "${release_stage}/server/bin" "${release_stage}/addons"
    cp "${KUBE_SERVER_BINARIES[@]/#/${LOCAL_OUTPUT_BINPATH}/${platform}/}" "${release_stage}/server/bin/"

    kube::release::create_docker_images_for_server "${release_stage}/server/bin" "${arch}"

    cp "${KUBE_CLIENT_BINARIES[@]/#/${LOCAL_OUTPUT_BINPATH}/${platform}/}" "${release_stage}/server/bin/"
    cp -R "${KUBE_ROOT}/LICENSES" "${release_stage}/"
    cp "${RELEASE_TARS}/kubernetes-src.tar.gz" "${release_stage}/"

    kube::release::clean_cruft
    kube::release::create_tarball "${RELEASE_TARS}/kubernetes-server-${platform_tag}.tar.gz" "${release_stage}/.."
  done
}

# kube::release::create_docker_images_for_server BINARY_DIR ARCH: one image
# per binary of get_docker_wrapped_binaries ARCH, built in parallel.  The
# amd64 images keep the plain name (gcr.io/google_containers/BINARY:TAG),
# the others carry the architecture (BINARY-ARCH).
kube::release::create_docker_images_for_server() {
  (
    local binary_dir=$1 arch=$2
    local binaries images_dir
    read -ra binaries <<<"$(kube::build::get_docker_wrapped_binaries "${arch}")"
    images_dir="${RELEASE_IMAGES}/${arch}"
    mkdir -p "${images_dir}"

    local -r docker_registry="gcr.io/google_containers"
    # Docker tags cannot contain '+'.
    local docker_tag="${KUBE_GIT_VERSION/+/_}"
    if [[ -z "${docker_tag}" ]]; then
      kube::log::error "git version information missing; cannot create Docker tag"
      return 1
    fi

    local wrappable
    for wrappable in "${binaries[@]}"; do
      local binary_name=${wrappable%%,*}
      local base_image=${wrappable##*,}
      local docker_build_path="${binary_dir}/${binary_name}.dockerbuild"
      local docker_file_path="${docker_build_path}/Dockerfile"
      local docker_image_tag="${docker_registry}"
      if [[ ${arch} == amd64 ]]; then
        docker_image_tag+="/${binary_name}:${docker_tag}"
      else
        docker_image_tag+="/${binary_name}-${arch}:${docker_tag}"
      fi

      kube::log::status "Starting docker build for image: ${binary_name}-${arch}"
      (
        rm -rf "${docker_build_path}"
        mkdir -p "${docker_build_path}"
        ln "${binary_dir}/${binary_name}" "${docker_build_path}/${binary_name}"
        printf " FROM %s \n ADD %s /usr/local/bin/%s\n" "${base_image}" "${binary_name}" "${binary_name}" >"${docker_file_path}"

        "${DOCKER[@]}" build --pull -q -t "${docker_image_tag}" "${docker_build_path}" >/dev/null
        "${DOCKER[@]}" save "${docker_image_tag}" >"${binary_dir}/${binary_name}.tar"
        echo "${docker_tag}" >"${binary_dir}/${binary_name}.docker_tag"
        rm -rf "${docker_build_path}"
        ln "${binary_dir}/${binary_name}.tar" "${images_dir}/"

        # An official release keeps its images, tagged for its registry.
        if [[ -n "${KUBE_DOCKER_IMAGE_TAG-}" && -n "${KUBE_DOCKER_REGISTRY-}" ]]; then
          local release_docker_image_tag="${KUBE_DOCKER_REGISTRY}/${binary_name}-${arch}:${KUBE_DOCKER_IMAGE_TAG}"
          if [[ "${docker_image_tag}" != "${release_docker_image_tag}" ]]; then
            kube::log::status "Tagging docker image ${docker_image_tag} as ${release_docker_image_tag}"
            "${DOCKER[@]}" rmi "${release_docker_image_tag}" 2>/dev/null || true
            "${DOCKER[@]}" tag "${docker_image_tag}" "${release_docker_image_tag}" 2>/dev/null
          fi
        else
          kube::log::status "Deleting docker image ${docker_image_tag}"
          "${DOCKER[@]}" rmi "${docker_image_tag}" &>/dev/null || true
        fi
      ) &
    done

    kube::util::wait-for-jobs || { kube::log::error "previous Docker build failed"; return 1; }
    kube::log::status "Docker builds done"
  )
}

kube::release::package_kube_manifests_tarball() {
  kube::log::status "Building tarball: manifests"

  local release_stage="${RELEASE_STAGE}/manifests/kubernetes"
  rm -rf "${release_stage}"
  local dst_dir="${release_stage}/gci-trusty"
  mkdir -p "${dst_dir}"
  cp "${KUBE_ROOT}/cluster/manifests"/*.manifest "${dst_dir}/"
  local objects
  objects=$(cd "${KUBE_ROOT}/cluster/addons" && find . \( -name \*.yaml -or -name \*.yaml.in -or -name \*.json \) | grep -v demo)
  # shellcheck disable=SC2086 # one word per file
  tar c -C "${KUBE_ROOT}/cluster/addons" ${objects} | tar x -C "${dst_dir}"

  kube::release::clean_cruft
  kube::release::create_tarball "${RELEASE_TARS}/kubernetes-manifests.tar.gz" "${release_stage}/.."
}

# kube::release::package_test_tarball: one test tarball for every platform:
# kubernetes/platforms/OS/ARCH/ and the portable sources.
kube::release::package_test_tarball() {
  kube::log::status "Building tarball: test"

  local release_stage="${RELEASE_STAGE}/test/kubernetes"
  rm -rf "${release_stage}"
  mkdir -p "${release_stage}"

  local platform
  for platform in "${KUBE_TEST_PLATFORMS[@]+"${KUBE_TEST_PLATFORMS[@]}"}"; do
    local test_bins=("${KUBE_TEST_BINARIES[@]}")
    if [[ "${platform%/*}" == windows ]]; then
      test_bins=("${KUBE_TEST_BINARIES_WIN[@]}")
    fi
    mkdir -p "${release_stage}/platforms/${platform}"
    cp "${test_bins[@]/#/${LOCAL_OUTPUT_BINPATH}/${platform}/}" "${release_stage}/platforms/${platform}"
  done

  (cd "${KUBE_ROOT}" && tar c "${KUBE_TEST_PORTABLE[@]}") | tar x -C "${release_stage}"

  kube::release::clean_cruft
  kube::release::create_tarball "${RELEASE_TARS}/kubernetes-test.tar.gz" "${release_stage}/.."
}

kube::release::package_final_tarball() {
  kube::log::status "Building tarball: final"

  local release_stage="${RELEASE_STAGE}/full/kubernetes"
  rm -rf "${release_stage}"
  mkdir -p "${release_stage}/server" "${release_stage}/hack"

  cp -R "${KUBE_ROOT}/cluster" "${release_stage}/"
  cp "${RELEASE_TARS}/kubernetes-manifests.tar.gz" "${release_stage}/server/"
  cp -R "${KUBE_ROOT}/hack/lib" "${release_stage}/hack/"
  cp -R "${KUBE_ROOT}/docs" "${release_stage}/"
  cp "${KUBE_ROOT}/README.md" "${release_stage}/"
  cp -R "${KUBE_ROOT}/LICENSES" "${release_stage}/"
  echo "${KUBE_GIT_VERSION}" >"${release_stage}/version"

  kube::release::clean_cruft
  kube::release::create_tarball "${RELEASE_TARS}/kubernetes.tar.gz" "${release_stage}/.."
}

kube::release::create_tarball() {
  kube::build::ensure_tar
  local tarfile=$1 stagingdir=$2
  "${TAR}" czf "${tarfile}" -C "${stagingdir}" kubernetes --owner=0 --group=0
}
