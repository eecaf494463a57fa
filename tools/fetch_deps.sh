#!/usr/bin/env bash
# Unpacks ember's build and test dependencies from Debian's packages into one
# folder, for a machine where nothing can be installed (a GPU machine without a
# registry): run it where `apt-get download` works, carry the folder over, and
# point tools/gpu_verify.sh at it with EMBER_DEPS_PREFIX (docs/BUILDING.md).
#
# Usage: tools/fetch_deps.sh [prefix]        (default: .deps, which git ignores)
# Environment: EMBER_FETCH_DATASET=1 also unpacks dataset-fashion-mnist (about
#              30 MB, for the recipe step of gpu_verify.sh), under
#              <prefix>/usr/share/datasets/fashion-mnist.
#
# Symbolic links are replaced by copies, since some tools that copy a folder to
# another machine drop links.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PREFIX=$(mkdir -p "${1:-.deps}" && cd "${1:-.deps}" && pwd)
PACKAGES=(googletest libgtest-dev libgmock-dev libbenchmark-dev libbenchmark1debian libstb-dev libstb0
          nlohmann-json3-dev libcli11-dev zlib1g-dev)
[ "${EMBER_FETCH_DATASET:-0}" = 1 ] && PACKAGES+=(dataset-fashion-mnist)

DOWNLOAD=$(mktemp -d)
trap 'rm -rf "$DOWNLOAD"' EXIT
(cd "$DOWNLOAD" && apt-get download "${PACKAGES[@]}")
for deb in "$DOWNLOAD"/*.deb; do
  echo "fetch_deps: $(basename "$deb")"
  dpkg -x "$deb" "$PREFIX"
done
# Links to copies (dangling ones, e.g. into a package not fetched, are removed).
find "$PREFIX" -type l | while read -r link; do
  if target=$(readlink -f "$link") && [ -e "$target" ]; then
    rm "$link"
    cp -r "$target" "$link"
  else
    rm "$link"
  fi
done
echo "fetch_deps: ${#PACKAGES[@]} packages in $PREFIX ($(du -sh "$PREFIX" | cut -f1)); use EMBER_DEPS_PREFIX=$PREFIX"
