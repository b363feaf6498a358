#!/usr/bin/env bash
# Set-up for a fresh Debian 12 machine, idempotent: installs the Debian packages mailmill needs
# (only those missing; nothing when all are there), then configures and builds into build/.
# Usage: tools/setup.sh [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  g++ cmake ninja-build pkg-config python3
  libpff-dev libbfio-dev libmimetic-dev libzstd-dev libtbb-dev libboost-program-options-dev
  libssl-dev zlib1g-dev libsqlite3-dev
  googletest libgtest-dev libgmock-dev libbenchmark-dev
  pff-tools pst-utils python3-vobject dovecot-imapd
  libgsf-1-dev python3-olefile python3-pil
  openssl libical-dev python3-icalendar libytnef0-dev libgoogle-perftools-dev
  libesedb-utils
  openmpi-bin libopenmpi-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing missing packages: ${missing[*]}" >&2
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

[[ "${1:-}" == "--no-build" ]] && exit 0
if [[ ! -f build/CMakeCache.txt ]]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build build -j "$(nproc)"
