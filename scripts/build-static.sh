#!/usr/bin/env bash
# Static release builds of homelab-exporter for the homelab's machines:
#   x86_64-unknown-linux-musl      NAS and mini PCs
#   aarch64-unknown-linux-musl     Raspberry Pi 3/4/5 on a 64-bit OS, arm64 NAS
#   armv7-unknown-linux-musleabihf Raspberry Pi 2/3 on 32-bit Raspberry Pi OS
# All link with rust-lld (see .cargo/config.toml). ring (rustls' crypto, for
# the Proxmox API) compiles some C and assembly: clang builds it for every
# target and llvm-ar archives it (Debian's clang and llvm), no cross gcc.
# Usage: scripts/build-static.sh [target ...]   (default: all three)
# Prints the stripped size of each binary.
set -euo pipefail
cd "$(dirname "$0")/.."
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=(x86_64-unknown-linux-musl aarch64-unknown-linux-musl armv7-unknown-linux-musleabihf)
for t in "${targets[@]}"; do
  if ! rustup target list --installed | grep -qx "$t"; then
    rustup target add "$t" >/dev/null 2>&1 || { echo "$t: rustup target not available here, skipped" >&2; continue; }
  fi
  cc_var="CC_${t//-/_}" ar_var="AR_${t//-/_}"
  export "$cc_var=${!cc_var:-clang}" "$ar_var=${!ar_var:-llvm-ar}"
  cargo build --release -j2 -p homelab-exporter --target "$t"
  bin="target/$t/release/homelab-exporter"
  # Where packaging/Dockerfile takes it, by Docker's name of the architecture.
  case "$t" in
    x86_64-*) arch=amd64 ;;
    aarch64-*) arch=arm64 ;;
    armv7-*) arch=arm ;;
    *) arch= ;;
  esac
  if [ -n "$arch" ]; then
    mkdir -p "target/image/linux-$arch"
    cp "$bin" "target/image/linux-$arch/homelab-exporter"
  fi
  printf '%s\t%s bytes\n' "$t" "$(stat -c %s "$bin")"
done
