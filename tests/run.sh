#!/usr/bin/env bash
# The test command: configure, build with warnings as errors, run every suite with ctest.
#   bash tests/run.sh                 # build/ (or $1) with -DCLCDD_WERROR=ON
#   CLCDD_SANITIZE=ON bash tests/run.sh build-asan   # the same under ASan + UBSan
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
if [ "${CLCDD_SANITIZE:-OFF}" = "ON" ]; then
  # PoCL and LLVM keep allocations alive until exit by design; leak reports would be theirs.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:halt_on_error=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
fi
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B "$dir" -DCLCDD_WERROR=ON -DCLCDD_BUILD_TESTS=ON \
  -DCLCDD_SANITIZE="${CLCDD_SANITIZE:-OFF}" -DCMAKE_BUILD_TYPE="${CMAKE_BUILD_TYPE:-RelWithDebInfo}"
cmake --build "$dir" -j "$jobs"
cd "$dir"
ctest --output-on-failure --timeout 900
