#!/usr/bin/env bash
# The main job in one command: installs the dependencies, builds the release
# preset (CUDA when nvcc is found) and runs the main binary.
#
# Usage: tools/run.sh [arguments for the binary]
# Environment: EMBER_JOBS (build jobs, default: all cores).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source tools/setup.sh

MAIN_TARGET=ember-fashion-mnist   # the main job: train an MLP and a CNN on Fashion-MNIST (recipes/fashion_mnist.cpp)

ember_install_deps
ember_cuda_path
cmake --preset release
cmake --build --preset release -j "$(ember_jobs)" --target "$MAIN_TARGET"
echo "run: build/release/recipes/$MAIN_TARGET $*"
exec "build/release/recipes/$MAIN_TARGET" "$@"
