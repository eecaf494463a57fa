#!/usr/bin/env bash
# Builds ember and passes every test, in one command (this is what CI runs):
#
#   release   the release preset (CUDA compiled when nvcc exists, -Werror),
#             the whole suite under ctest
#   consumer  `cmake --install` of that build into build/install/release, then
#             tests/consumer (an outside project: find_package(ember)) built
#             against the installed tree and run
#   asan      the whole suite built and run with AddressSanitizer + UBSan
#   tsan      the tests labelled 'concurrency' built and run with ThreadSanitizer
#
# Every stage runs even when an earlier one failed (a stage that needs a failed
# one is skipped); the script ends with each stage's result and ctest summary
# lines, and exits non-zero when anything failed.
#
# Usage: tools/test.sh [stage ...]      (default: release consumer asan tsan)
# Environment: EMBER_JOBS (build jobs, default: all cores),
#              EMBER_TEST_JOBS (ctest jobs, default 2).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
source tools/setup.sh

STAGES=("$@")
[ "${#STAGES[@]}" -eq 0 ] && STAGES=(release consumer asan tsan)
JOBS=$(ember_jobs)
TEST_JOBS=${EMBER_TEST_JOBS:-2}
LOGS=$ROOT/build/logs
INSTALL_PREFIX=$ROOT/build/install/release

declare -A RESULT=()    # stage -> ok | FAILED (step) | skipped (...)
declare -A SECONDS_OF=()
ORDER=()

banner() { printf '\n==== %s ====\n' "$*"; }

# run_stage NAME FUNCTION: runs FUNCTION, records its result and duration.
run_stage() {
  local name=$1 fn=$2 start=$SECONDS
  ORDER+=("$name")
  rm -f "$LOGS/$name-ctest.log"
  banner "$name"
  if "$fn"; then
    RESULT[$name]=ok
  elif [ -z "${RESULT[$name]:-}" ]; then
    RESULT[$name]=FAILED
  fi
  SECONDS_OF[$name]=$((SECONDS - start))
}
fail() { RESULT[$CURRENT]="FAILED ($1)"; return 1; }
passed() { [ "${RESULT[$1]:-}" = ok ]; }

# ctest with its output kept in build/logs/<stage>-ctest.log for the summary.
run_ctest() {
  local preset=$1
  shift
  "$@" ctest --preset "$preset" -j "$TEST_JOBS" 2>&1 | tee "$LOGS/$preset-ctest.log"
}

stage_release() {
  CURRENT=release
  cmake --preset release || fail configure || return 1
  cmake --build --preset release -j "$JOBS" || fail build || return 1
  run_ctest release || fail tests || return 1
}

stage_consumer() {
  CURRENT=consumer
  if ! passed release && [ ! -f build/release/build.ninja ]; then
    RESULT[consumer]="skipped (no release build)"
    return 1
  fi
  cmake --build --preset release -j "$JOBS" --target ember || fail "library build" || return 1
  rm -rf "$INSTALL_PREFIX" build/consumer
  cmake --install build/release --prefix "$INSTALL_PREFIX" --component ember >"$LOGS/install.log" || fail install || return 1
  echo "installed into $INSTALL_PREFIX ($(find "$INSTALL_PREFIX" -type f | wc -l) files)"
  cmake -S tests/consumer -B build/consumer -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$INSTALL_PREFIX" || fail "consumer configure" || return 1
  cmake --build build/consumer -j "$JOBS" || fail "consumer build" || return 1
  build/consumer/app || fail "consumer run" || return 1
}

stage_asan() {
  CURRENT=asan
  cmake --preset asan || fail configure || return 1
  cmake --build --preset asan -j "$JOBS" || fail build || return 1
  run_ctest asan || fail tests || return 1
}

stage_tsan() {
  CURRENT=tsan
  cmake --preset tsan || fail configure || return 1
  cmake --build --preset tsan -j "$JOBS" || fail build || return 1
  # GCC's TSan runtime cannot map its shadow memory under high ASLR entropy
  # (vm.mmap_rnd_bits > 28 on recent kernels): run without address randomisation.
  local norandom=()
  if setarch "$(uname -m)" -R true 2>/dev/null; then norandom=(setarch "$(uname -m)" -R); fi
  run_ctest tsan "${norandom[@]}" || fail tests || return 1
}

START=$SECONDS
banner "dependencies"
ember_install_deps || { echo "test: installing the dependencies failed" >&2; exit 1; }
ember_cuda_path
mkdir -p "$LOGS"
if command -v nvcc >/dev/null 2>&1; then
  echo "nvcc: $(command -v nvcc) (the release build compiles the CUDA backend)"
else
  echo "nvcc: not found (the release build is CPU only)"
fi
if command -v ccache >/dev/null 2>&1; then ccache -z >/dev/null 2>&1 || true; fi

for stage in "${STAGES[@]}"; do
  case $stage in
    release | consumer | asan | tsan) run_stage "$stage" "stage_$stage" ;;
    *) echo "test: unknown stage '$stage' (stages: release consumer asan tsan)" >&2; exit 2 ;;
  esac
done

banner "summary ($((SECONDS - START)) s in all)"
status=0
for stage in "${ORDER[@]}"; do
  printf '%-9s %-28s %5d s\n' "$stage" "${RESULT[$stage]}" "${SECONDS_OF[$stage]}"
  [ "${RESULT[$stage]}" = ok ] || status=1
done
if command -v ccache >/dev/null; then
  ccache -s 2>/dev/null | grep -E '^ *(Hits|Misses):' | sed 's/^ */ccache: /' || true
fi
for stage in "${ORDER[@]}"; do
  log=$LOGS/$stage-ctest.log
  [ -f "$log" ] || continue
  echo "--- ctest ($stage)"
  sed -n '/tests passed\|tests failed out of/,$p' "$log"
done
if [ "$status" -eq 0 ]; then
  echo "ALL STAGES PASSED"
else
  echo "SOME STAGES FAILED"
fi
exit "$status"
