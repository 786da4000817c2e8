#!/usr/bin/env bash
# Installs every Debian 12 package relais needs to build, test and run. Idempotent.
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config git
  libzmq3-dev cppzmq-dev capnproto libcapnp-dev libsodium-dev libsqlite3-dev sqlite3
  libboost-program-options-dev libjemalloc-dev libgtest-dev googletest libbenchmark-dev
  clang libclang-rt-14-dev clang-format clang-tidy
  libcpp-httplib-dev libcsv-dev nats-server libnats-dev nlohmann-json3-dev
  chromium chromium-driver fonts-dejavu-core
  dpkg-dev systemd curl file
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
