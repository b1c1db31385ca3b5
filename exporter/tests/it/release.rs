//! `scripts/release.sh` as a user runs it: the tarballs and image archives
//! it writes, checked against its SHA256SUMS, loaded into a private dockerd
//! and run. The arm64 image runs under qemu's binfmt handler (registered
//! here when the machine has none), so a Raspberry Pi's image is run, not
//! only inspected.

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

    let version = env!("CARGO_PKG_VERSION");
    for arch in ["amd64", "arm64"] {
        let name = format!("homelab-exporter-{version}-linux-{arch}");
        assert!(files.contains(&format!("{name}.tar.gz")) && files.contains(&format!("{name}.image.tar")), "{arch}: {files:?}");
        let listing = Command::new("tar").arg("-tzf").arg(dist.path().join(format!("{name}.tar.gz"))).output().unwrap();
        let listing = String::from_utf8_lossy(&listing.stdout);
        for member in ["homelab-exporter", "LICENSE", "README.md"] {
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
}
