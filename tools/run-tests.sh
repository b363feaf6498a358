#!/usr/bin/env bash
# Set up, build, and run the whole test suite through ctest (tests labelled "slow" — multi-GB
# files — are left out; run them with: ctest --test-dir build -L slow).
# Then the sanitizer run: the same sources built with AddressSanitizer (with LeakSanitizer) and
# UBSan into build-asan/, where the unit tests and the integration tests that read the corpus
# (label "corpus"; they run build-asan's mailmill binary) run again. MM_NO_SANITIZE=1 leaves
# the sanitizer run out locally; under CI=true it always runs. Extra arguments go to both
# ctest runs.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
ctest --test-dir build --output-on-failure -j "$(nproc)" -LE slow "$@"

if [[ "${MM_NO_SANITIZE:-}" == 1 && "${CI:-}" != true ]]; then
  echo "run-tests: MM_NO_SANITIZE=1, sanitizer run (build-asan/) left out" >&2
  exit 0
fi
# -O1 -g1 (line tables, enough for the reports' file:line): compiles in 60% of the time of
# RelWithDebInfo's -O2 -g, and -O1 is what the sanitizers are tuned for.
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1" \
  -DMM_SANITIZE="address;undefined" -DMM_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan -j "$(nproc)"

# Every finding stops the process that hit it (UBSan's recovery is also compiled out) with exit
# code 86. ASan and LSan reports go to files in $logs named after the executable, and any file
# there fails the run: some tests accept a failing exit code from mailmill (bad input, verify
# after a flipped byte), so a sanitized mailmill dying there would otherwise go unnoticed.
# GCC's UBSan runtime ignores log_path: its reports go to stderr, which is in the ctest output
# for a test binary, and which mmtest.run prints when a mailmill run exits with 86.
logs="$PWD/build-asan/sanitizer-logs"
rm -rf "$logs" && mkdir -p "$logs"
# Options already in the environment come last, so they win.
user_asan="${ASAN_OPTIONS:-}" user_ubsan="${UBSAN_OPTIONS:-}"
common="halt_on_error=1:exitcode=86:print_stacktrace=1:log_exe_name=1"
export ASAN_OPTIONS="detect_leaks=1:check_initialization_order=1:strict_init_order=1:$common"
ASAN_OPTIONS+=":log_path=$logs/asan${user_asan:+:$user_asan}"
export UBSAN_OPTIONS="$common${user_ubsan:+:$user_ubsan}"
status=0
ctest --test-dir build-asan --output-on-failure -j "$(nproc)" -L 'unit|corpus' -LE slow "$@" ||
  status=$?
if compgen -G "$logs/*" >/dev/null; then
  for f in "$logs"/*; do
    echo "==== sanitizer report $f" >&2
    cat "$f" >&2
  done
  echo "run-tests: sanitizer findings (reports above, in $logs)" >&2
  exit 1
fi
exit "$status"
