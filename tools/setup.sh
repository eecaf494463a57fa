#!/usr/bin/env bash
# Installs ember's build and test dependencies from Debian's packages.
#
# Runs as root on a fresh Debian machine (or through sudo when it is present).
# Only packages that are missing are installed, and `apt-get update` runs only
# when something is missing, so a repeat run costs a few dpkg queries.
# The CUDA toolkit is not installed here: the CUDA build is on when nvcc exists.
#
# Usage: tools/setup.sh            (also sourced by tools/run.sh and tools/test.sh)
set -euo pipefail

EMBER_PACKAGES=(
  cmake ninja-build g++ ccache python3
  python3-venv          # the venv of the safetensors interop test (tools/test.sh)
  clang libclang-rt-dev lld  # libFuzzer and its link (the fuzz stage of tools/test.sh)
  libgtest-dev libbenchmark-dev libstb-dev zlib1g-dev nlohmann-json3-dev
  libcli11-dev          # command lines of the recipe binaries
  libtbb-dev            # the baseline in benchmarks/bench_runtime only
  libopenmpi-dev openmpi-bin  # data-parallel training over MPI (train/distributed.hpp) and its 2-rank test
  dataset-fashion-mnist # the data of the Fashion-MNIST recipe
)

ember_missing_packages() {
  # One dpkg query for all; a package dpkg has never seen is missing too.
  local installed
  installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${EMBER_PACKAGES[@]}" 2>/dev/null |
              awk '/ install ok installed$/ {print $1}' || true)
  local pkg
  for pkg in "${EMBER_PACKAGES[@]}"; do
    grep -qx "$pkg" <<<"$installed" || echo "$pkg"
  done
}

ember_install_deps() {
  local missing
  mapfile -t missing < <(ember_missing_packages)
  if [ "${#missing[@]}" -eq 0 ]; then
    echo "setup: all ${#EMBER_PACKAGES[@]} dependencies are installed"
    return 0
  fi
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo=(sudo)
    else
      echo "setup: missing packages (${missing[*]}) and not root; install them or run as root" >&2
      return 1
    fi
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -q
  "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
}

# Puts the CUDA toolkit on PATH when it is installed at its usual place.
ember_cuda_path() {
  if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
    export PATH="/usr/local/cuda/bin:$PATH"
  fi
}

# Parallel jobs for builds: EMBER_JOBS, else the number of cores.
ember_jobs() { echo "${EMBER_JOBS:-$(nproc)}"; }

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  ember_install_deps
fi
