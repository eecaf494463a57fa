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
#   fuzz      the safetensors reader's libFuzzer target (tests/fuzz) built with
#             clang (-fsanitize=fuzzer,address,undefined) and fuzzed for 60 s on a
#             copy of tests/fuzz/corpus/safetensors; any crash, sanitizer report,
#             stray exception or hang fails it (the crashing input is kept in
#             build/fuzz/artifacts)
#
# Before release and asan, a venv in build/venv gets safetensors and numpy from
# PyPI for the interop test (tools/safetensors_interop.py); without PyPI that
# test is skipped, not failed.
#
# Every stage runs even when an earlier one failed (a stage that needs a failed
# one is skipped); the script ends with each stage's result and ctest summary
# lines, and exits non-zero when anything failed.
#
# Usage: tools/test.sh [stage ...]      (default: release consumer asan tsan fuzz)
# Environment: EMBER_JOBS (build jobs, default: all cores),
#              EMBER_TEST_JOBS (ctest jobs, default 2).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
source tools/setup.sh

STAGES=("$@")
[ "${#STAGES[@]}" -eq 0 ] && STAGES=(release consumer asan tsan fuzz)
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

# The Python of the interop test: build/venv, made from Debian's python3 (whose
# python3-torch, when installed, it sees) with safetensors and numpy from PyPI.
# Prints its path, or nothing when no venv can be made; the test skips without
# safetensors, so an offline machine still passes.
interop_python() {
  local venv=$ROOT/build/venv
  if [ ! -x "$venv/bin/python" ] && ! /usr/bin/python3 -m venv --system-site-packages "$venv" >&2; then
    echo "test: cannot make $venv (python3-venv missing?); the interop test will be skipped" >&2
    rm -rf "$venv"
    return 0
  fi
  # numpy only when Debian's is absent: python3-torch is built against Debian's numpy.
  local wanted=()
  "$venv/bin/python" -c 'import safetensors' 2>/dev/null || wanted+=(safetensors)
  "$venv/bin/python" -c 'import numpy' 2>/dev/null || wanted+=(numpy)
  if [ "${#wanted[@]}" -gt 0 ]; then
    echo "test: installing ${wanted[*]} into $venv" >&2
    timeout 600 "$venv/bin/python" -m pip install -q --timeout 30 --retries 2 "${wanted[@]}" >&2 ||
      echo "test: pip could not install ${wanted[*]}; the interop test will be skipped" >&2
  fi
  echo "$venv/bin/python"
}

stage_release() {
  CURRENT=release
  cmake --preset release -DEMBER_INTEROP_PYTHON="$INTEROP_PYTHON" || fail configure || return 1
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
  cmake --preset asan -DEMBER_INTEROP_PYTHON="$INTEROP_PYTHON" || fail configure || return 1
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

# libFuzzer on the safetensors reader; its small clang build compiles only the
# reader's files (tests/fuzz/CMakeLists.txt), not the library.
stage_fuzz() {
  CURRENT=fuzz
  local dir=$ROOT/build/fuzz log=$LOGS/fuzz.log
  command -v clang++ >/dev/null 2>&1 || fail "no clang++" || return 1
  cmake -S tests/fuzz -B "$dir" -G Ninja -DCMAKE_CXX_COMPILER=clang++ || fail configure || return 1
  cmake --build "$dir" -j "$JOBS" || fail build || return 1
  rm -rf "$dir/corpus" "$dir/artifacts"
  mkdir -p "$dir/artifacts"
  cp -r tests/fuzz/corpus/safetensors "$dir/corpus"
  echo "fuzzing for 60 s (log: $log)"
  if ! UBSAN_OPTIONS=print_stacktrace=1 "$dir/fuzz_safetensors" -max_total_time=60 -timeout=10 -rss_limit_mb=2048 \
      -dict=tests/fuzz/safetensors.dict -artifact_prefix="$dir/artifacts/" -print_final_stats=1 \
      "$dir/corpus" >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz: failing input(s) in $dir/artifacts: $(ls "$dir/artifacts")"
    echo "fuzz: reproduce with $dir/fuzz_safetensors FILE; add it to tests/fuzz/corpus/safetensors once fixed"
    fail fuzzing
    return 1
  fi
  grep -E '^(Done|stat::)' "$log"
  echo "corpus copy grew from $(ls tests/fuzz/corpus/safetensors | wc -l) to $(ls "$dir/corpus" | wc -l) files"
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
INTEROP_PYTHON=
if [[ " ${STAGES[*]} " == *" release "* || " ${STAGES[*]} " == *" asan "* ]]; then
  INTEROP_PYTHON=$(interop_python)
  echo "interop test python: ${INTEROP_PYTHON:-none (the test will be skipped)}"
fi

for stage in "${STAGES[@]}"; do
  case $stage in
    release | consumer | asan | tsan | fuzz) run_stage "$stage" "stage_$stage" ;;
    *) echo "test: unknown stage '$stage' (stages: release consumer asan tsan fuzz)" >&2; exit 2 ;;
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
