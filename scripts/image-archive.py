#!/usr/bin/env python3
"""Writes a container image archive that `docker load` accepts: one layer
holding the static binary at /homelab-exporter, and an image config with the
architecture given (so an arm64 image says arm64 whatever machine writes it),
the same user, entrypoint, port and healthcheck as packaging/Dockerfile.
No Docker daemon is needed.

Usage: image-archive.py BINARY ARCH TAGS OUT.tar [LABEL=VALUE ...]
  TAGS: one or more tags separated by commas (the release gives each
  archive its architecture's tag and the plain version tag, so that every
  node of a cluster imports its own architecture under one name).
"""
import hashlib
import io
import json
import sys
import tarfile


def tar_bytes(members):
    """A deterministic tar of (name, bytes, mode) members."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data, mode in members:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, 0
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    binary, arch, tag, out = sys.argv[1:5]
    labels = dict(a.split("=", 1) for a in sys.argv[5:])
    with open(binary, "rb") as f:
        layer = tar_bytes([("homelab-exporter", f.read(), 0o755)])
    layer_sha = hashlib.sha256(layer).hexdigest()
    config = {
        "architecture": arch,
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": {
            "User": "65534:65534",
            "Entrypoint": ["/homelab-exporter"],
            "ExposedPorts": {"9839/tcp": {}},
            "Healthcheck": {"Test": ["CMD", "/homelab-exporter", "healthcheck"], "Interval": 30_000_000_000, "Timeout": 5_000_000_000},
            "Labels": labels,
        },
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + layer_sha]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "scripts/image-archive.py: /homelab-exporter"}],
    }
    if arch == "arm64":
        config["variant"] = "v8"
    config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    config_sha = hashlib.sha256(config_bytes).hexdigest()
    manifest = [{"Config": config_sha + ".json", "RepoTags": tag.split(","), "Layers": [layer_sha + "/layer.tar"]}]
    archive = tar_bytes(
        [
            (config_sha + ".json", config_bytes, 0o644),
            (layer_sha + "/layer.tar", layer, 0o644),
            ("manifest.json", json.dumps(manifest).encode(), 0o644),
        ]
    )
    with open(out, "wb") as f:
        f.write(archive)


if __name__ == "__main__":
    main()
