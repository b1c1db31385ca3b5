#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need
# (Debian packages, rustup targets), then runs every test of the workspace.
# Tests start their own servers (upsd, dockerd, prometheus) on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  nut-server nut-client              # upsd + dummy-ups, upsrw: the NUT tests
  prometheus prometheus-alertmanager # promtool, amtool, a real Prometheus
  docker.io busybox-static           # dockerd and an image for the Docker tests
  qemu-user-static                   # runs the aarch64 build
  curl ca-certificates
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Tests that need a real program fail (never skip) when it is missing.
export HOMELAB_REQUIRE_REAL=1

# The static aarch64 build, run under qemu by the tests (Raspberry Pi).
bash scripts/build-static.sh aarch64-unknown-linux-musl

cargo build -j2 --workspace --all-targets
cargo test -j2 --workspace -- --test-threads=2
