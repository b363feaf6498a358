#!/usr/bin/env bash
# Set up, build, and convert the bundled example PST to mbox; prints the summary.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
rm -rf out/example
build/tools/mailmill convert fixtures/example/example.pst -o out/example --format mbox \
  --report out/example/report.json
echo "output: out/example (report: out/example/report.json)"
