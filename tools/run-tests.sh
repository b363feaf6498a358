#!/usr/bin/env bash
# Set up, build, and run the whole test suite through ctest (tests labelled "slow" — multi-GB
# files — are left out; run them with: ctest --test-dir build -L slow).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
ctest --test-dir build --output-on-failure -j "$(nproc)" -LE slow "$@"
