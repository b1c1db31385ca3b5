#!/usr/bin/env python3
"""Writes container images of the static binary without a Docker daemon:
one layer holding it at /homelab-exporter, and an image config with the
architecture given (so an arm64 image says arm64 whatever machine writes it),
the same user, entrypoint, port and healthcheck as packaging/Dockerfile.

Usage:
  image-archive.py BINARY ARCH TAGS OUT.tar [LABEL=VALUE ...]
      an archive for `docker load` (the format of `docker save`). TAGS: one
      or more tags separated by commas (the release gives each archive its
      architecture's tag and the plain version tag, so that every node of a
      cluster imports its own architecture under one name).
  image-archive.py --oci OUT.tar NAME:TAG ARCH=BINARY [ARCH=BINARY ...] [--label LABEL=VALUE ...]
      one OCI image layout (oci-layout, index.json, blobs/sha256/) holding
      every architecture given: index.json lists one image manifest per
      architecture with its platform, named TAG-ARCH
      (org.opencontainers.image.ref.name). The layers are gzip-compressed.
      The tar also carries a `docker save` manifest.json naming the same
      blobs, NAME:TAG-ARCH each, as `docker save` itself writes since Docker
      25: Docker before 25 loads only that form, later ones read either.
"""
import gzip
import hashlib
import io
import json
import sys
import tarfile

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"


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


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def image(binary, arch, labels):
    """The uncompressed layer and the image config of one architecture."""
    with open(binary, "rb") as f:
        layer = tar_bytes([("homelab-exporter", f.read(), 0o755)])
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
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + sha256(layer)]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "scripts/image-archive.py: /homelab-exporter"}],
    }
    if arch == "arm64":
        config["variant"] = "v8"
    elif arch == "arm":
        config["variant"] = "v7"
    return layer, config


def docker_archive(binary, arch, tags, out, labels):
    layer, config = image(binary, arch, labels)
    config_bytes = canonical(config)
    config_sha, layer_sha = sha256(config_bytes), sha256(layer)
    manifest = [{"Config": config_sha + ".json", "RepoTags": tags.split(","), "Layers": [layer_sha + "/layer.tar"]}]
    archive = tar_bytes(
        [
            (config_sha + ".json", config_bytes, 0o644),
            (layer_sha + "/layer.tar", layer, 0o644),
            ("manifest.json", json.dumps(manifest).encode(), 0o644),
        ]
    )
    with open(out, "wb") as f:
        f.write(archive)


def descriptor(media_type, data, **extra):
    return {"mediaType": media_type, "digest": "sha256:" + sha256(data), "size": len(data), **extra}


def oci_layout(out, ref, binaries, labels):
    """binaries: [(arch, path)] in index order."""
    name, _, tag = ref.rpartition(":")
    if not name or not tag:
        sys.exit(f"{ref}: NAME:TAG expected")
    blobs = {}
    index, saved = [], []
    for arch, binary in binaries:
        layer, config = image(binary, arch, labels)
        # mtime 0 and no file name in the gzip header: the same binary gives the same digest.
        layer_gz = gzip.compress(layer, compresslevel=9, mtime=0)
        config_bytes = canonical(config)
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor(OCI_CONFIG, config_bytes),
            "layers": [descriptor(OCI_LAYER_GZIP, layer_gz)],
            "annotations": {"org.opencontainers.image.created": "1970-01-01T00:00:00Z", **labels},
        }
        manifest_bytes = canonical(manifest)
        for data in (layer_gz, config_bytes, manifest_bytes):
            blobs[sha256(data)] = data
        platform = {"architecture": arch, "os": "linux"}
        if "variant" in config:
            platform["variant"] = config["variant"]
        index.append(descriptor(OCI_MANIFEST, manifest_bytes, platform=platform, annotations={"org.opencontainers.image.ref.name": f"{tag}-{arch}"}))
        saved.append({"Config": "blobs/sha256/" + sha256(config_bytes), "RepoTags": [f"{name}:{tag}-{arch}"], "Layers": ["blobs/sha256/" + sha256(layer_gz)]})
    members = [("blobs/sha256/" + digest, data, 0o644) for digest, data in sorted(blobs.items())]
    members += [
        ("index.json", canonical({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": index}), 0o644),
        ("manifest.json", json.dumps(saved).encode(), 0o644),
        ("oci-layout", canonical({"imageLayoutVersion": "1.0.0"}), 0o644),
    ]
    with open(out, "wb") as f:
        f.write(tar_bytes(members))


def labels_of(args):
    return dict(a.split("=", 1) for a in args)


def main():
    args = sys.argv[1:]
    if args[:1] == ["--oci"]:
        if len(args) < 4:
            sys.exit(__doc__)
        out, ref, rest = args[1], args[2], args[3:]
        split = rest.index("--label") if "--label" in rest else len(rest)
        binaries = [tuple(a.split("=", 1)) for a in rest[:split]]
        labels = labels_of(a for a in rest[split:] if a != "--label")
        if not binaries or any(len(b) != 2 for b in binaries):
            sys.exit(__doc__)
        oci_layout(out, ref, binaries, labels)
    elif len(args) >= 4:
        binary, arch, tags, out = args[:4]
        docker_archive(binary, arch, tags, out, labels_of(args[4:]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
