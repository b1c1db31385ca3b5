#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need
# (Debian packages, PyPI and npm packages under target/, rustup targets),
# then runs every test of the workspace (the systemd test builds a minimal
# Debian root under target/ with debootstrap, once). Tests start their own servers
# (upsd, dockerd, prometheus) on loopback. Everything else they read is in
# the repository (other projects' facts in testdata/upstream/); nothing
# beside the checkout is needed.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  nut-server nut-client              # upsd + dummy-ups, upsrw: the NUT tests
  libnss3-tools openssl              # certutil, pk12util, openssl pkcs12: upsd's NSS certificate database (NUT STARTTLS tests)
  prometheus prometheus-alertmanager # promtool, amtool, a real Prometheus
  docker.io busybox-static           # dockerd and an image for the Docker tests
  iproute2                           # ip link: a veth inside a test container's namespace
  qemu-user-static                   # runs the aarch64 build
  clang llvm                         # ring's C for the static cross builds (build-static.sh)
  systemd strace                     # systemd-analyze verify of the packaged unit; the system calls a scrape makes against its filter
  debootstrap systemd-container      # a minimal Debian root booted with systemd-nspawn: the packaged unit under a real systemd
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

# --- prometheus-pve-exporter, for the Proxmox differential test ----------
# exporter/tests/it/proxmox.rs runs it against the same fake Proxmox API as
# our collector and compares every series both emit. Installed once from
# PyPI into a virtual environment under target/ (pinned: the comparison is
# against this version's names, help texts and labels).
PVE_EXPORTER_VERSION=3.10.2
pve_venv=target/pve-venv
if ! "$pve_venv/bin/pip" show prometheus-pve-exporter 2>/dev/null | grep -qx "Version: $PVE_EXPORTER_VERSION"; then
  if ! command -v python3 >/dev/null || ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends python3 python3-venv >/dev/null
  fi
  rm -rf "$pve_venv"
  python3 -m venv "$pve_venv"
  "$pve_venv/bin/pip" install --quiet --disable-pip-version-check "prometheus-pve-exporter==$PVE_EXPORTER_VERSION"
fi
export HOMELAB_PVE_EXPORTER="$PWD/$pve_venv/bin/pve_exporter"
# --------------------------------------------------------------------------

# --- schema validators for the packaging files -----------------------------
# check-jsonschema carries the Compose specification's schema and
# kubernetes-validate the Kubernetes API schemas; both work offline once
# installed. exporter/tests/it/packaging.rs runs them.
schema_venv=target/schema-venv
if ! "$schema_venv/bin/pip" show check-jsonschema kubernetes-validate 2>/dev/null | grep -q "Version: 1.37.0"; then
  rm -rf "$schema_venv"
  python3 -m venv "$schema_venv"
  "$schema_venv/bin/pip" install --quiet --disable-pip-version-check "check-jsonschema==0.39.0" "kubernetes-validate==1.37.0"
fi
export HOMELAB_SCHEMA_TOOLS="$PWD/$schema_venv/bin"
# --------------------------------------------------------------------------

# --- Grafana's dashboard types, for the dashboards test --------------------
# dashboards/tests/it/main.rs type-checks every generated dashboard, panel
# options, field config and query against Grafana's own TypeScript types
# (npm @grafana/schema) with tsc (npm typescript). Pinned by
# dashboards/tests/grafana-types/package-lock.json, installed once with
# npm ci into target/grafana-types; offline afterwards.
grafana_types=target/grafana-types
if ! command -v npm >/dev/null; then   # Debian's npm, unless node and npm come from elsewhere
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends npm >/dev/null
fi
if ! cmp -s dashboards/tests/grafana-types/package-lock.json "$grafana_types/package-lock.json" \
   || [ ! -x "$grafana_types/node_modules/.bin/tsc" ]; then
  rm -rf "$grafana_types"
  mkdir -p "$grafana_types"
  cp dashboards/tests/grafana-types/package.json dashboards/tests/grafana-types/package-lock.json "$grafana_types/"
  (cd "$grafana_types" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
fi
export HOMELAB_GRAFANA_TYPES="$PWD/$grafana_types"
# --------------------------------------------------------------------------

# Tests that need a real program fail (never skip) when it is missing.
export HOMELAB_REQUIRE_REAL=1

# The revision --version names; scripts/release.sh computes the same, so
# its builds find these up to date.
HOMELAB_REVISION=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
export HOMELAB_REVISION

# Static builds the tests use: aarch64 runs under qemu (Raspberry Pi),
# x86_64 goes into the FROM scratch image built with dockerd.
bash scripts/build-static.sh aarch64-unknown-linux-musl x86_64-unknown-linux-musl

cargo build -j2 --workspace --all-targets
cargo test -j2 --workspace -- --test-threads=2

# The fuzz targets are their own package, outside the workspace (see
# fuzz/README.md): check that they still compile against the crates they
# fuzz. This needs no nightly: libfuzzer-sys builds on stable.
cargo check --manifest-path fuzz/Cargo.toml -j2
