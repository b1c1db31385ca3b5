#!/usr/bin/env bash
# Release artifacts in dist/:
#   homelab-exporter-<version>-linux-<arch>.tar.gz   the static binary, LICENSE, README.md,
#                                                    the systemd unit and the example
#                                                    config.yaml (the guides install them)
#   homelab-exporter-<version>-linux-<arch>.image.tar an image archive for `docker load`
#                                                    (FROM scratch, uid 65534, the right
#                                                    architecture in its config)
# for amd64 and arm64, and arm (armv7) where rustup can add its target, and
#   homelab-exporter-<version>.oci.tar               one OCI image layout holding every
#                                                    architecture above (index.json lists
#                                                    each one's manifest with its platform),
#                                                    for skopeo, podman, containerd or a
#                                                    registry; `docker load` takes it too
#   SHA256SUMS                                       of every file above
# Needs what scripts/test.sh installs (rustup targets, clang, llvm) and
# python3; no Docker daemon (scripts/image-archive.py writes the archives:
# Docker's classic builder cannot build a FROM scratch image for another
# architecture, and buildx is not everywhere).
# Usage: scripts/release.sh            (a dirty tree is refused; RELEASE_ALLOW_DIRTY=1 to override;
#                                      RELEASE_DIST=DIR writes elsewhere than dist/)
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
revision=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain 2>/dev/null)" ] && [ "${RELEASE_ALLOW_DIRTY:-0}" != 1 ]; then
  echo "the work tree has uncommitted changes: commit them, or RELEASE_ALLOW_DIRTY=1" >&2
  exit 1
fi
export HOMELAB_REVISION="$revision"

declare -A targets=([amd64]=x86_64-unknown-linux-musl [arm64]=aarch64-unknown-linux-musl [arm]=armv7-unknown-linux-musleabihf)
dist=${RELEASE_DIST:-dist}
rm -rf "$dist"
mkdir -p "$dist"
built=()
for arch in amd64 arm64 arm; do
  t=${targets[$arch]}
  if ! rustup target list --installed | grep -qx "$t" && ! rustup target add "$t" >/dev/null 2>&1; then
    echo "$arch: rustup has no $t here; no $arch release (README: what an armv7 user does)" >&2
    continue
  fi
  bash scripts/build-static.sh "$t"
  built+=("$arch")
done
[ "${#built[@]}" -gt 0 ] || { echo "no target could be built" >&2; exit 1; }

for arch in "${built[@]}"; do
  name="homelab-exporter-$version-linux-$arch"
  stage="$dist/$name"
  mkdir -p "$stage"
  cp "target/image/linux-$arch/homelab-exporter" LICENSE README.md packaging/homelab-exporter.service "$stage/"
  cp packaging/examples/config.yaml "$stage/config.yaml"
  tar -C "$dist" --owner=0 --group=0 --sort=name -czf "$dist/$name.tar.gz" "$name"
  rm -rf "$stage"
  python3 scripts/image-archive.py "target/image/linux-$arch/homelab-exporter" "$arch" \
    "homelab-exporter:$version-$arch,homelab-exporter:$version" "$dist/$name.image.tar" \
    org.opencontainers.image.title=homelab-exporter org.opencontainers.image.licenses=Apache-2.0 \
    "org.opencontainers.image.version=$version" "org.opencontainers.image.revision=$revision"
done
oci=()
for arch in "${built[@]}"; do oci+=("$arch=target/image/linux-$arch/homelab-exporter"); done
python3 scripts/image-archive.py --oci "$dist/homelab-exporter-$version.oci.tar" "homelab-exporter:$version" "${oci[@]}" \
  --label org.opencontainers.image.title=homelab-exporter org.opencontainers.image.licenses=Apache-2.0 \
  "org.opencontainers.image.version=$version" "org.opencontainers.image.revision=$revision"
(cd "$dist" && sha256sum -- * > SHA256SUMS)
echo "homelab-exporter $version ($revision):"
(cd "$dist" && ls -l)
