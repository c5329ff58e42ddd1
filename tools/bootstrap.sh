#!/usr/bin/env bash
# Installs the Debian packages kiln needs (only those missing; nothing but
# Debian packages is downloaded), then configures and builds kiln in out/.
# Idempotent: a second run installs nothing and rebuilds only what changed.
# Usage: bootstrap.sh [--with-fuzz]
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  # build
  cmake ninja-build g++ pkg-config git clang-format
  libarchive-dev libdeflate-dev libisal-dev libssl-dev libzstd-dev zlib1g-dev nlohmann-json3-dev libcli11-dev libgtest-dev
  libcurl4-openssl-dev
  # runtime and the independent tools the tests check kiln with
  runc slirp4netns skopeo umoci podman buildah busybox-static tar gzip zstd bzip2 xz-utils
  python3 python3-jsonschema
  # the Debian bookworm base the merged-/usr tests build on (tests/integration/bookworm_fixture.cpp)
  debootstrap
  # RUN for other platforms under emulation (tests/integration/platform_test.cpp registers
  # its binfmt_misc entries; kiln itself only reads them)
  qemu-user-static
  # a real terminal for the live progress display's test (tests/integration/progress_test.cpp)
  tmux
  # registries: the CNCF distribution registry, htpasswd, openssl for test CAs
  docker-registry apache2-utils openssl
)
# --with-fuzz: also clang and its libFuzzer runtime, for tests/fuzz (README command 2).
if [ "${1:-}" = --with-fuzz ]; then
  packages+=(clang libclang-rt-14-dev)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "kiln: these Debian packages are missing; run as root to install them: ${missing[*]}" >&2
    exit 1
  fi
  echo "kiln: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The project's own build makes compiler warnings errors (both README commands, so
# switching between them rebuilds nothing); a plain `cmake` build does not.
cmake -S . -B out -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKILN_WERROR=ON >/dev/null
ninja -C out -j "$(nproc)"
