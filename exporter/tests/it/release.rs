//! `scripts/release.sh` as a user runs it: the tarballs, image archives and
//! the multi-platform OCI image layout it writes, checked against its
//! SHA256SUMS, loaded into a private dockerd and run. The arm64 image runs
//! under qemu's binfmt handler (registered here when the machine has none),
//! so a Raspberry Pi's image is run, not only inspected.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::docker::Dockerd;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Registers qemu's aarch64 handler from Debian's qemu-user-static, if
/// binfmt_misc has none; false when it cannot be had.
fn aarch64_binfmt() -> bool {
    let misc = Path::new("/proc/sys/fs/binfmt_misc");
    if !misc.join("register").exists() {
        let _ = Command::new("mount").args(["-t", "binfmt_misc", "binfmt_misc"]).arg(misc).status();
    }
    if misc.join("qemu-aarch64").exists() {
        return true;
    }
    let Ok(conf) = std::fs::read_to_string("/usr/lib/binfmt.d/qemu-aarch64.conf") else { return false };
    let rule = conf.lines().find(|l| l.starts_with(':')).unwrap_or_default().to_owned();
    std::fs::write(misc.join("register"), rule).is_ok() && misc.join("qemu-aarch64").exists()
}

#[test]
fn release_script_writes_checked_tarballs_and_images_that_run_on_amd64_and_arm64() {
    let Some(d) = Dockerd::start() else { return };
    let require = std::env::var("HOMELAB_REQUIRE_REAL").as_deref() == Ok("1");
    if !aarch64_binfmt() {
        assert!(!require, "qemu's aarch64 binfmt handler cannot be registered (Debian's qemu-user-static; root)");
        println!("skipped: no aarch64 binfmt handler");
        return;
    }
    let dist = tempfile::tempdir().unwrap();
    let out = Command::new("bash")
        .arg(root().join("scripts/release.sh"))
        .current_dir(root())
        .env("RELEASE_DIST", dist.path())
        .env("RELEASE_ALLOW_DIRTY", "1")
        .output()
        .unwrap();
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "release.sh failed:\n{log}");
    println!("{log}");

    // Every file is listed in SHA256SUMS, and the sums hold.
    let sums = Command::new("sha256sum").args(["-c", "SHA256SUMS"]).current_dir(dist.path()).output().unwrap();
    assert!(sums.status.success(), "sha256sum -c: {}", String::from_utf8_lossy(&sums.stdout));
    let listed = std::fs::read_to_string(dist.path().join("SHA256SUMS")).unwrap();
    let mut files: Vec<String> = std::fs::read_dir(dist.path()).unwrap().filter_map(|e| e.ok()?.file_name().into_string().ok()).filter(|n| n != "SHA256SUMS").collect();
    files.sort();
    for f in &files {
        assert!(listed.lines().any(|l| l.ends_with(&format!("  {f}"))), "{f} is not in SHA256SUMS");
    }

    // What it wrote is what the guides may name (tests/it/guides.rs reads
    // the names from release.sh's source).
    let names = crate::guides::release_names();
    for f in files.iter().chain(std::iter::once(&"SHA256SUMS".to_owned())) {
        assert!(names.iter().any(|n| n.matches_written(f)), "{f} is not a name read from release.sh: {names:?}");
    }

    let version = env!("CARGO_PKG_VERSION");
    for arch in ["amd64", "arm64"] {
        let name = format!("homelab-exporter-{version}-linux-{arch}");
        assert!(files.contains(&format!("{name}.tar.gz")) && files.contains(&format!("{name}.image.tar")), "{arch}: {files:?}");
        let listing = Command::new("tar").arg("-tzf").arg(dist.path().join(format!("{name}.tar.gz"))).output().unwrap();
        let listing = String::from_utf8_lossy(&listing.stdout);
        for member in ["homelab-exporter", "LICENSE", "README.md", "homelab-exporter.service", "config.yaml"] {
            assert!(listing.lines().any(|l| l == format!("{name}/{member}")), "{name}.tar.gz lacks {member}: {listing}");
        }

        let loaded = d.docker(&["load", "-i", &dist.path().join(format!("{name}.image.tar")).display().to_string()]);
        let tags: Vec<&str> = loaded.lines().filter_map(|l| l.strip_prefix("Loaded image: ")).collect();
        // Its architecture's tag, and the plain version every node of a
        // mixed cluster imports its own architecture under.
        assert_eq!(tags, [format!("homelab-exporter:{version}-{arch}"), format!("homelab-exporter:{version}")], "docker load: {loaded}");
        let image = tags[0].to_owned();
        assert_eq!(d.docker(&["image", "inspect", "-f", "{{.Architecture}} {{.Os}} {{.Config.User}}", &image]), format!("{arch} linux 65534:65534"));
        // The image runs its binary: under qemu for arm64.
        let printed = d.docker(&["run", "--rm", "--network", "none", &image, "--version"]);
        assert!(printed.starts_with(&format!("homelab-exporter {version}")), "{arch}: {printed}");
        let machine = if arch == "amd64" { "x86_64" } else { "aarch64" };
        assert!(printed.contains(machine), "{arch}: --version does not name the target: {printed}");
        println!("{arch}: {printed}");
    }
    check_oci_layout(&d, dist.path());
}

fn sha256_hex(data: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, data).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The ELF machine (`e_machine`) of a little-endian ELF file.
fn elf_machine(bin: &[u8]) -> u16 {
    assert!(bin.len() > 20 && bin.starts_with(b"\x7fELF") && bin[5] == 1, "not a little-endian ELF file");
    u16::from_le_bytes([bin[18], bin[19]])
}

/// The blob a descriptor names, checked against its digest and size.
fn blob(dir: &Path, desc: &serde_json::Value, used: &mut std::collections::BTreeSet<String>) -> Vec<u8> {
    let digest = desc["digest"].as_str().expect("a digest");
    let hex = digest.strip_prefix("sha256:").unwrap_or_else(|| panic!("{digest}: not sha256"));
    let data = std::fs::read(dir.join("blobs/sha256").join(hex)).unwrap_or_else(|e| panic!("blob {digest}: {e}"));
    assert_eq!(Some(data.len() as u64), desc["size"].as_u64(), "{digest}: size");
    used.insert(hex.to_owned());
    data
}

/// `homelab-exporter-<version>.oci.tar`: an OCI image layout whose
/// index.json names one manifest per architecture with its platform; every
/// blob is stored under its sha256 with the size its descriptor gives; each
/// config names the architecture, and the layer holds a binary for that
/// machine. Then it is loaded into the private dockerd and each image run.
fn check_oci_layout(d: &Dockerd, dist: &Path) {
    let version = env!("CARGO_PKG_VERSION");
    let tar = dist.join(format!("homelab-exporter-{version}.oci.tar"));
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("tar").arg("-C").arg(dir.path()).arg("-xf").arg(&tar).output().unwrap();
    assert!(out.status.success(), "tar -xf {}: {}", tar.display(), String::from_utf8_lossy(&out.stderr));
    let layout: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.path().join("oci-layout")).unwrap()).unwrap();
    assert_eq!(layout["imageLayoutVersion"], "1.0.0");

    // Every blob's content hashes to its name.
    let mut stored = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(dir.path().join("blobs/sha256")).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        assert_eq!(sha256_hex(&std::fs::read(entry.path()).unwrap()), name, "blob {name}: its content has another sha256");
        stored.insert(name);
    }

    let index: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.path().join("index.json")).unwrap()).unwrap();
    assert_eq!(index["schemaVersion"], 2);
    assert_eq!(index["mediaType"], "application/vnd.oci.image.index.v1+json");
    let manifests = index["manifests"].as_array().expect("index.json: manifests");
    let mut used = std::collections::BTreeSet::new();
    let mut archs = Vec::new();
    for desc in manifests {
        assert_eq!(desc["mediaType"], "application/vnd.oci.image.manifest.v1+json", "{desc}");
        let arch = desc["platform"]["architecture"].as_str().unwrap_or_else(|| panic!("no platform: {desc}")).to_owned();
        assert_eq!(desc["platform"]["os"], "linux", "{desc}");
        let (variant, machine, go_name) = match arch.as_str() {
            "amd64" => (None, 62, "x86_64"),   // EM_X86_64
            "arm64" => (Some("v8"), 183, "aarch64"), // EM_AARCH64
            "arm" => (Some("v7"), 40, "armv7"),  // EM_ARM
            other => panic!("index.json names an architecture the release does not build: {other}"),
        };
        assert_eq!(desc["platform"]["variant"].as_str(), variant, "{desc}");
        assert_eq!(desc["annotations"]["org.opencontainers.image.ref.name"].as_str(), Some(format!("{version}-{arch}").as_str()), "{desc}");
        let manifest: serde_json::Value = serde_json::from_slice(&blob(dir.path(), desc, &mut used)).unwrap();
        assert_eq!(manifest["schemaVersion"], 2);
        assert_eq!(manifest["config"]["mediaType"], "application/vnd.oci.image.config.v1+json");
        let config: serde_json::Value = serde_json::from_slice(&blob(dir.path(), &manifest["config"], &mut used)).unwrap();
        assert_eq!(config["architecture"].as_str(), Some(arch.as_str()), "{arch}: config");
        assert_eq!(config["os"], "linux");
        assert_eq!(config["variant"].as_str(), variant, "{arch}: config");
        assert_eq!(config["config"]["User"], "65534:65534");
        assert_eq!(config["config"]["Labels"]["org.opencontainers.image.version"].as_str(), Some(version));
        let layers = manifest["layers"].as_array().unwrap();
        assert_eq!(layers.len(), 1, "{arch}: one layer");
        assert_eq!(layers[0]["mediaType"], "application/vnd.oci.image.layer.v1.tar+gzip");
        let gz = blob(dir.path(), &layers[0], &mut used);
        let mut layer = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut layer).unwrap();
        assert_eq!(config["rootfs"]["diff_ids"][0].as_str(), Some(format!("sha256:{}", sha256_hex(&layer)).as_str()), "{arch}: diff_id");
        let unpacked = dir.path().join(format!("layer-{arch}"));
        std::fs::create_dir(&unpacked).unwrap();
        let layer_tar = dir.path().join(format!("layer-{arch}.tar"));
        std::fs::write(&layer_tar, &layer).unwrap();
        let out = Command::new("tar").arg("-C").arg(&unpacked).arg("-xf").arg(&layer_tar).output().unwrap();
        assert!(out.status.success(), "{arch} layer: {}", String::from_utf8_lossy(&out.stderr));
        let bin = std::fs::read(unpacked.join("homelab-exporter")).unwrap_or_else(|e| panic!("{arch}: the layer has no /homelab-exporter: {e}"));
        assert_eq!(elf_machine(&bin), machine, "{arch}: the layer's binary is for another machine");
        println!("{arch}: manifest {}, binary for {go_name}", desc["digest"]);
        archs.push(arch);
    }
    assert!(archs.contains(&"amd64".to_owned()) && archs.contains(&"arm64".to_owned()), "index.json: {archs:?}");
    let unused: Vec<&String> = stored.difference(&used).collect();
    assert!(unused.is_empty(), "blobs nothing refers to: {unused:?}");

    // Debian's docker.io (20.10) reads only `docker save`'s manifest.json;
    // Docker 25 and later read index.json too. The archive carries both.
    // The images the per-architecture archives loaded are removed first, so
    // what runs below comes from this file.
    let mut earlier = vec!["rmi".to_owned(), format!("homelab-exporter:{version}")];
    earlier.extend(["amd64", "arm64"].map(|a| format!("homelab-exporter:{version}-{a}")));
    d.docker(&earlier.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(d.docker(&["images", "-q", "homelab-exporter"]), "", "the earlier images are still there");
    let server = d.docker(&["version", "--format", "{{.Server.Version}}"]);
    println!("dockerd {server}: docker load -i {}", tar.display());
    let loaded = d.docker(&["load", "-i", &tar.display().to_string()]);
    let mut tags: Vec<&str> = loaded.lines().filter_map(|l| l.strip_prefix("Loaded image: ")).collect();
    tags.sort_unstable();
    let mut expected: Vec<String> = archs.iter().map(|a| format!("homelab-exporter:{version}-{a}")).collect();
    expected.sort_unstable();
    assert_eq!(tags, expected, "docker load: {loaded}");
    for arch in ["amd64", "arm64"] {
        let image = format!("homelab-exporter:{version}-{arch}");
        assert_eq!(d.docker(&["image", "inspect", "-f", "{{.Architecture}} {{.Os}} {{.Config.User}}", &image]), format!("{arch} linux 65534:65534"));
        let printed = d.docker(&["run", "--rm", "--network", "none", &image, "--version"]);
        let machine = if arch == "amd64" { "x86_64" } else { "aarch64" };
        assert!(printed.starts_with(&format!("homelab-exporter {version}")) && printed.contains(machine), "{arch} from the OCI layout: {printed}");
        println!("{arch} from the OCI layout: {printed}");
    }
}
