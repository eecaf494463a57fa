#!/usr/bin/env bash
# GPU verification in one command, for a machine with an NVIDIA GPU:
#   1. builds the CUDA release preset for one architecture (default sm_90),
#   2. runs the whole test suite (GPU tests run instead of skipping),
#   3. runs the tests carrying the GPU labels (default: cuda) under
#      compute-sanitizer (default tool: memcheck), one process per test binary,
#   4. runs benchmarks/compare_gpu.py: the GPU benchmark (bench_cuda) and the
#      same work in PyTorch, with the ratios (other benchmark binaries with the
#      "bench" step and EMBER_BENCHES),
# and writes a Markdown report with the machine, each step's result and the
# logs' key lines; full logs sit beside it.
#
# Usage: tools/gpu_verify.sh [report-dir]       (default: build/gpu-verify)
#
# Environment:
#   EMBER_DEPS_PREFIX   a folder into which the dependency .deb files were
#                       unpacked with `dpkg -x` (GoogleTest, Google Benchmark,
#                       stb, nlohmann-json, ...): used as CMAKE_PREFIX_PATH and
#                       include path, for machines where nothing can be installed.
#                       Without it, missing Debian packages are installed if possible.
#   CUDA_ARCH           CMAKE_CUDA_ARCHITECTURES (default 90)
#   EMBER_GPU_LABELS    ctest labels of the tests to sanitize (default "cuda";
#                       a space-separated list)
#   EMBER_SANITIZER_TOOLS  compute-sanitizer tools (default "memcheck";
#                       e.g. "memcheck racecheck synccheck initcheck")
#   EMBER_GPU_STEPS     the steps to run (default "build test sanitize compare"; "bench"
#                       runs EMBER_BENCHES on their own: compare already runs bench_cuda,
#                       and runs it alone when PyTorch is missing; "recipe" trains the main
#                       job on the GPU and reports its time to train); e.g. "build test" in
#                       one call and "sanitize compare" in the next, where a call has a
#                       time limit (the build folder stays; a call without "build"
#                       appends to the report)
#   EMBER_RECIPE_ARGS   extra arguments for the "recipe" step (ember-fashion-mnist --device cuda; e.g.
#                       "--model mlp --epochs 2"); EMBER_RECIPE_TIMEOUT (default 480 s);
#                       EMBER_FASHION_MNIST_DIR its data (default: under EMBER_DEPS_PREFIX when
#                       tools/fetch_deps.sh put it there, else Debian's folder)
#   EMBER_TEST_LABELS   ctest labels for the test step (default: none, the whole suite; e.g. "cuda"
#                       where the CPU tests already ran elsewhere)
#   EMBER_SANITIZER_TIMEOUT seconds allowed per binary under compute-sanitizer (default 480,
#                       so one binary fits in a call limited to 10 minutes)
#   EMBER_BENCHES       benchmark binaries to run (default "bench_cuda"; "all":
#                       every bench_* binary, the CPU ones too)
#   EMBER_BENCH_ARGS    extra arguments for every benchmark binary
#   EMBER_TORCH_PYTHON  the Python with a CUDA build of PyTorch for compare_gpu.py
#                       (default python3; the step is skipped, and said so, when
#                       it cannot import torch with CUDA)
#   EMBER_COMPARE_RUNS  compare_gpu.py's --runs (default 3)
#   EMBER_BENCH_TIMEOUT seconds allowed per benchmark binary (default 600)
#   EMBER_CUDNN_ROOT, EMBER_CUBLAS_ROOT  folders (include/, lib/) of cuDNN and cuBLAS
#                       when the toolkit and the system have none; by default the
#                       NVIDIA Python wheels beside EMBER_TORCH_PYTHON's PyTorch
#   EMBER_JOBS          build jobs (default: all cores)
#   EMBER_BUILD_DIR     build folder (default build/gpu-release)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
source tools/setup.sh
set +e  # setup.sh turns on -e; here every step's failure is recorded and the run goes on

REPORT_DIR=$(mkdir -p "${1:-build/gpu-verify}" && cd "${1:-build/gpu-verify}" && pwd)
REPORT=$REPORT_DIR/report.md
BUILD=${EMBER_BUILD_DIR:-$ROOT/build/gpu-release}
ARCH=${CUDA_ARCH:-90}
LABELS=${EMBER_GPU_LABELS:-cuda}
TOOLS=${EMBER_SANITIZER_TOOLS:-memcheck}
JOBS=$(ember_jobs)
STATUS=0
STEPS=" ${EMBER_GPU_STEPS:-build test sanitize compare} "
want() { [[ "$STEPS" == *" $1 "* ]]; }

log() { echo "gpu_verify: $*"; }
report() { printf '%s\n' "$*" >>"$REPORT"; }
# report_block FILE N: the last N lines of FILE as a code block in the report.
report_block() {
  report '```'
  tail -n "$2" "$1" >>"$REPORT"
  report '```'
}
step_result() {  # step_result NAME RC
  if [ "$2" -eq 0 ]; then report "**$1: passed**"; else report "**$1: FAILED (exit $2)**"; STATUS=1; fi
  report ""
}

# ---- environment -----------------------------------------------------------
ember_cuda_path
# Warnings are not errors here: the GPU machine's compiler may be newer than CI's and warn where CI's
# does not (CI keeps -Werror); the report counts the warnings instead.
CMAKE_ARGS=(-DEMBER_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$ARCH" -DEMBER_BUILD_BENCHMARKS=ON -DEMBER_BUILD_TESTS=ON
            -DEMBER_WERROR=OFF)
if [ -n "${EMBER_DEPS_PREFIX:-}" ]; then
  DEPS=$(cd "$EMBER_DEPS_PREFIX" && pwd)
  multiarch=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
  # Config packages are found under <prefix>/usr/{lib/<multiarch>,share}/cmake;
  # header-only ones (stb) through the include path.
  CMAKE_ARGS+=(-DCMAKE_PREFIX_PATH="$DEPS/usr;$DEPS/usr/local"
               -DCMAKE_CXX_FLAGS="-isystem $DEPS/usr/include -isystem $DEPS/usr/include/stb"
               -DCMAKE_CUDA_FLAGS="-isystem $DEPS/usr/include")
  export PATH="$PATH:$DEPS/usr/bin"
  export LD_LIBRARY_PATH="$DEPS/usr/lib/$multiarch:$DEPS/usr/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  log "dependencies from $DEPS"
else
  ember_install_deps || log "could not install every dependency; configuring anyway"
fi
# cuDNN and cuBLAS: with the toolkit or the system, else from the NVIDIA Python wheels beside
# PyTorch (nvidia-cudnn-*, nvidia-cublas), the only copies some GPU images have. A wheel's folder
# holds include/ and lib/ (its libraries only as .so.N); the build is pointed at it and the
# loader too (cuDNN opens its engine libraries at run time).
NVCC=$(command -v nvcc || true)
CUDA_ROOT=${NVCC:+$(dirname "$(dirname "$NVCC")")}
have() { compgen -G "$1" >/dev/null; }
wheel_dir() {  # wheel_dir GLOB: the package folder of the first file matching GLOB under nvidia/
  "${EMBER_TORCH_PYTHON:-python3}" - "$1" 2>/dev/null <<'PY'
import glob, os, site, sys
roots = site.getsitepackages() + [site.getusersitepackages()]
for r in roots:
    for p in sorted(glob.glob(os.path.join(r, "nvidia", "**", sys.argv[1]), recursive=True)):
        print(os.path.dirname(os.path.dirname(p)))
        sys.exit(0)
PY
}
if [ -z "${EMBER_CUDNN_ROOT:-}" ] && ! have "$CUDA_ROOT/include/cudnn.h" && ! have /usr/include/cudnn.h &&
   ! have /usr/include/x86_64-linux-gnu/cudnn.h; then
  EMBER_CUDNN_ROOT=$(wheel_dir cudnn.h)
fi
if [ -z "${EMBER_CUBLAS_ROOT:-}" ] && ! have "$CUDA_ROOT/lib64/libcublasLt.so*" && ! have "$CUDA_ROOT/lib/libcublasLt.so*" &&
   ! have "$CUDA_ROOT/targets/*/lib/libcublasLt.so*"; then
  EMBER_CUBLAS_ROOT=$(wheel_dir 'libcublasLt.so*')
fi
for root in ${EMBER_CUDNN_ROOT:-} ${EMBER_CUBLAS_ROOT:-}; do
  export LD_LIBRARY_PATH="$root/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
done
[ -n "${EMBER_CUDNN_ROOT:-}" ] && CMAKE_ARGS+=(-DEMBER_CUDNN_ROOT="$EMBER_CUDNN_ROOT")
[ -n "${EMBER_CUBLAS_ROOT:-}" ] && CMAKE_ARGS+=(-DEMBER_CUBLAS_ROOT="$EMBER_CUBLAS_ROOT")
SANITIZER=$(command -v compute-sanitizer ||
            ls /usr/local/cuda/bin/compute-sanitizer /usr/local/cuda/compute-sanitizer/compute-sanitizer 2>/dev/null | head -1)

GPU_INFO=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | paste -sd';' || true)
want build || { [ -f "$REPORT" ] && cp "$REPORT" "$REPORT.previous"; }
{
  if want build || [ ! -f "$REPORT.previous" ]; then echo "# ember GPU verification"; else cat "$REPORT.previous"; echo "# continued"; fi
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "- commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet HEAD 2>/dev/null || echo ' (with local changes)')"
  echo "- host: $(uname -n), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "- GPU: ${GPU_INFO:-none visible (nvidia-smi lists no GPU)}"
  echo "- nvcc: $(nvcc --version 2>/dev/null | tail -1 || echo 'not found')"
  echo "- CUDA architectures: $ARCH; build folder: $BUILD"
  echo "- compute-sanitizer: ${SANITIZER:-not found}"
  echo "- cuDNN: ${EMBER_CUDNN_ROOT:-with the toolkit or the system}; cuBLAS: ${EMBER_CUBLAS_ROOT:-with the toolkit}"
  echo "- dependencies: ${EMBER_DEPS_PREFIX:-Debian packages}"
  echo "- steps: $STEPS"
  echo
} >"$REPORT"

if [ -z "$GPU_INFO" ]; then
  report "**No GPU visible: the GPU tests skip and the benchmarks measure nothing, so this run verifies nothing on a GPU.**"
  report ""
  STATUS=1
fi

# ---- 1. build --------------------------------------------------------------
if want build; then
log "configuring and building ($BUILD)"
report "## Build (release preset, CUDA on, sm_$ARCH)"
{
  cmake --preset release -B "$BUILD" "${CMAKE_ARGS[@]}" &&
    cmake --build "$BUILD" -j "$JOBS"
} >"$REPORT_DIR/build.log" 2>&1
rc=$?
grep -E 'ember: CUDA backend|ember: cuDNN|Found GTest|Found benchmark' "$REPORT_DIR/build.log" | sed 's/^/    /' >>"$REPORT"
report "compiler: $(c++ --version 2>/dev/null | head -1); warnings: $(grep -c 'warning:' "$REPORT_DIR/build.log") (see build.log)"
[ $rc -eq 0 ] || report_block "$REPORT_DIR/build.log" 40
step_result build $rc
if [ $rc -ne 0 ]; then
  log "build failed: see $REPORT_DIR/build.log"
  tail -40 "$REPORT_DIR/build.log"
  echo "report: $REPORT"
  exit 1
fi
fi

# ---- 2. the whole test suite -----------------------------------------------
if want test; then
log "running the whole test suite"
test_labels=()
for l in ${EMBER_TEST_LABELS:-}; do test_labels+=(-L "$l"); done
report "## Test suite (ctest, ${EMBER_TEST_LABELS:+labels: $EMBER_TEST_LABELS}${EMBER_TEST_LABELS:-every label})"
ctest --test-dir "$BUILD" --output-on-failure -j "${EMBER_TEST_JOBS:-$JOBS}" "${test_labels[@]}" >"$REPORT_DIR/ctest.log" 2>&1
rc=$?
skipped=$(grep -c 'Skipped' "$REPORT_DIR/ctest.log" || true)
report "tests reported as skipped: $skipped"
report_block "$REPORT_DIR/ctest.log" 25
step_result "test suite" $rc
fi

# ---- 3. compute-sanitizer over the GPU-labelled tests ----------------------
if want sanitize; then
report "## compute-sanitizer (labels: $LABELS; tools: $TOOLS)"
if [ -z "$SANITIZER" ]; then
  report "compute-sanitizer not found: step not run."
  report ""
  STATUS=1
else
  label_args=()
  for l in $LABELS; do label_args+=(-L "$l"); done
  # One command per test binary: the binary and a --gtest_filter joining its tests.
  ctest --test-dir "$BUILD" "${label_args[@]}" --show-only=json-v1 >"$REPORT_DIR/gpu-tests.json" 2>/dev/null
  python3 - "$REPORT_DIR/gpu-tests.json" >"$REPORT_DIR/gpu-tests.txt" <<'EOF'
import json, sys
tests = json.load(open(sys.argv[1])).get("tests", [])
by_exe = {}
for t in tests:
    cmd = t.get("command") or []
    if not cmd:
        continue
    filt = next((a.split("=", 1)[1] for a in cmd[1:] if a.startswith("--gtest_filter=")), None)
    by_exe.setdefault(cmd[0], []).append(filt)
for exe, filters in by_exe.items():
    names = [f for f in filters if f]
    print(exe + "\t" + ("--gtest_filter=" + ":".join(names) if len(names) == len(filters) else ""))
EOF
  if [ ! -s "$REPORT_DIR/gpu-tests.txt" ]; then
    report "no tests carry the labels '$LABELS': nothing to sanitize."
    report ""
  fi
  while IFS=$'\t' read -r exe filter; do
    [ -n "$exe" ] || continue
    for tool in $TOOLS; do
      name=$(basename "$exe")-$tool
      log "compute-sanitizer --tool $tool $(basename "$exe")"
      # EMBER_CUDA_NO_CACHE=1: a cudaMalloc per tensor, so a read past a tensor's end is reported (inside a
      # cached segment it would land in a neighbour). --report-api-errors no: tests provoke failing CUDA
      # calls on purpose (a bad device index, an impossible cudaMalloc) and check ember's errors.
      EMBER_CUDA_NO_CACHE=1 timeout "${EMBER_SANITIZER_TIMEOUT:-480}" "$SANITIZER" --tool "$tool" --error-exitcode 1 \
        --report-api-errors no "$exe" ${filter:+"$filter"} >"$REPORT_DIR/$name.log" 2>&1 </dev/null
      rc=$?
      report "### $(basename "$exe") under $tool"
      report_block "$REPORT_DIR/$name.log" 8
      step_result "$tool $(basename "$exe")" $rc
    done
  done <"$REPORT_DIR/gpu-tests.txt"
fi
fi

# ---- 4. benchmarks ---------------------------------------------------------
# run_benches NAMES: runs the named benchmark binaries ("all": every bench_*), output into the report.
run_benches() {
  local benches bench name rc
  if [ "$1" = all ]; then
    benches=$(find "$BUILD/benchmarks" -maxdepth 1 -type f -name 'bench_*' -perm -u+x 2>/dev/null | sort)
  else
    benches=$(for b in $1; do [ -x "$BUILD/benchmarks/$b" ] && echo "$BUILD/benchmarks/$b"; done)
  fi
  [ -n "$benches" ] || report "no benchmark binaries were built."
  for bench in $benches; do
    name=$(basename "$bench")
    log "benchmark $name"
    # shellcheck disable=SC2086 # EMBER_BENCH_ARGS is a list of arguments
    timeout "${EMBER_BENCH_TIMEOUT:-600}" "$bench" ${EMBER_BENCH_ARGS:-} \
      --benchmark_out="$REPORT_DIR/$name.json" --benchmark_out_format=json >"$REPORT_DIR/$name.log" 2>&1 </dev/null
    rc=$?
    report "### $name"
    report_block "$REPORT_DIR/$name.log" 60
    step_result "$name" $rc
  done
}
if want bench; then
  report "## Benchmarks"
  run_benches "${EMBER_BENCHES:-bench_cuda}"
fi

# ---- 5. the same work in PyTorch ------------------------------------------
if want compare; then
report "## ember against PyTorch (benchmarks/compare_gpu.py)"
PY=${EMBER_TORCH_PYTHON:-python3}
if "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' >/dev/null 2>&1; then
  log "compare_gpu.py"
  "$PY" benchmarks/compare_gpu.py --build "$BUILD" --runs "${EMBER_COMPARE_RUNS:-3}" \
    --python "$PY" --markdown "$REPORT_DIR/compare_gpu.md" >"$REPORT_DIR/compare_gpu.log" 2>&1
  rc=$?
  if [ $rc -eq 0 ]; then cat "$REPORT_DIR/compare_gpu.md" >>"$REPORT"; report ""; else report_block "$REPORT_DIR/compare_gpu.log" 30; fi
  step_result "compare_gpu.py" $rc
else
  # No PyTorch to compare with: ember's side alone (unless the bench step already ran it).
  report "$PY cannot import torch with CUDA: no comparison; ember's GPU benchmark alone."
  report ""
  want bench || run_benches bench_cuda
fi
fi

# ---- 6. the main job on the GPU (only when EMBER_GPU_STEPS names "recipe") ----
if want recipe; then
data=${EMBER_FASHION_MNIST_DIR:-}
if [ -z "$data" ] && [ -d "${EMBER_DEPS_PREFIX:-/nonexistent}/usr/share/datasets/fashion-mnist" ]; then
  data=$EMBER_DEPS_PREFIX/usr/share/datasets/fashion-mnist  # tools/fetch_deps.sh with EMBER_FETCH_DATASET=1
fi
data=${data:-/usr/share/datasets/fashion-mnist}
report "## ember-fashion-mnist --device cuda (data: $data)"
log "ember-fashion-mnist --device cuda"
# shellcheck disable=SC2086 # EMBER_RECIPE_ARGS is a list of arguments
timeout "${EMBER_RECIPE_TIMEOUT:-480}" "$BUILD/recipes/ember-fashion-mnist" --device cuda --data "$data" \
  ${EMBER_RECIPE_ARGS:-} >"$REPORT_DIR/recipe.log" 2>&1 </dev/null
rc=$?
report '```'
tr '\r' '\n' <"$REPORT_DIR/recipe.log" |
  grep -E 'parameters, on|^ +epoch +train_loss|^ +[0-9]+ +[0-9.]+ |time to train|final test accuracy|error' >>"$REPORT"
report '```'
step_result "ember-fashion-mnist --device cuda" $rc
fi

report "## Result: $([ $STATUS -eq 0 ] && echo 'all steps passed' || echo 'SOME STEPS FAILED')"
log "report: $REPORT"
[ -f "$REPORT_DIR/ctest.log" ] && tail -n 30 "$REPORT_DIR/ctest.log"
exit $STATUS
