//! The guides under `packaging/guides/` held to the repository: every
//! repository path and relative link a guide names exists, every exporter
//! flag it writes is one the binary accepts, and every release file it names
//! is one `scripts/release.sh` writes. The release file names are read from
//! release.sh's own source ([`release_names`]); the release test
//! (tests/it/release.rs) checks that the files the script really writes
//! match them, so neither side can drift alone.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use regex_lite::Regex;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The placeholder a guide writes for the release's version (also as
/// `$VERSION` or `${VERSION}`, after a `VERSION=…` line).
const PLACEHOLDER: &str = "VERSION";

/// A name release.sh gives a file in `dist/` (or the directory inside a
/// tarball), as written in the script: `homelab-exporter-$version-linux-$arch.tar.gz`.
#[derive(Debug)]
pub(crate) struct ReleaseName {
    template: String,
    archs: Vec<String>,
}

impl ReleaseName {
    fn regex(&self, version: &str) -> Regex {
        let arch = format!("(?:{})", self.archs.iter().map(|a| regex_lite::escape(a)).collect::<Vec<_>>().join("|"));
        let mut re = String::from("^");
        let mut rest = self.template.as_str();
        while let Some(at) = rest.find('$') {
            re.push_str(&regex_lite::escape(&rest[..at]));
            rest = &rest[at..];
            if let Some(r) = rest.strip_prefix("$version") {
                re.push_str(&regex_lite::escape(version));
                rest = r;
            } else if let Some(r) = rest.strip_prefix("$arch") {
                re.push_str(&arch);
                rest = r;
            } else {
                panic!("release.sh names a file with a variable this test does not know: {}", self.template);
            }
        }
        re.push_str(&regex_lite::escape(rest));
        re.push('$');
        Regex::new(&re).unwrap()
    }

    /// A file name of a real release of this version.
    pub(crate) fn matches_written(&self, file: &str) -> bool {
        self.regex(env!("CARGO_PKG_VERSION")).is_match(file)
    }

    /// A name as a guide writes it, with the version placeholder.
    fn matches_guide(&self, name: &str) -> bool {
        self.regex(PLACEHOLDER).is_match(name)
    }
}

/// The names release.sh writes, read from its source: every `"$dist/…"`
/// (with `$name` expanded from its assignment), and the file its
/// `sha256sum` output goes to. `$arch` stands for the architectures of its
/// first `for arch in …` list.
pub(crate) fn release_names() -> Vec<ReleaseName> {
    let script = std::fs::read_to_string(root().join("scripts/release.sh")).unwrap();
    let name = Regex::new(r#"(?m)^\s*name="([^"]+)""#).unwrap().captures(&script).expect("release.sh: name=\"…\"")[1].to_owned();
    let archs: Vec<String> = Regex::new(r"for arch in ([a-z0-9][a-z0-9 ]*); do").unwrap().captures(&script).expect("release.sh: for arch in …")[1]
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let mut templates = BTreeSet::new();
    for c in Regex::new(r#""\$dist/([^"]+)""#).unwrap().captures_iter(&script) {
        templates.insert(c[1].replace("$name", &name));
    }
    for c in Regex::new(r"sha256sum [^>\n]*> ([A-Za-z0-9_.-]+)").unwrap().captures_iter(&script) {
        templates.insert(c[1].to_owned());
    }
    templates.into_iter().map(|template| ReleaseName { template, archs: archs.clone() }).collect()
}

fn guides() -> Vec<(String, String)> {
    let dir = root().join("packaging/guides");
    let mut all: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "md"))
        .map(|e| (e.file_name().into_string().unwrap(), std::fs::read_to_string(e.path()).unwrap()))
        .collect();
    all.sort();
    all
}

/// Release file names a guide writes: `homelab-exporter-VERSION…` or
/// `homelab-exporter-<digit>…` tokens, and `…SUMS`.
fn dist_names(text: &str) -> Vec<String> {
    let text = text.replace("${VERSION}", PLACEHOLDER).replace("$VERSION", PLACEHOLDER);
    let re = Regex::new(r"homelab-exporter-(?:VERSION|[0-9])[A-Za-z0-9_.-]*|\b[A-Z0-9]+SUMS\b").unwrap();
    re.find_iter(&text).map(|m| m.as_str().trim_end_matches('.').to_owned()).collect()
}

/// Repository paths a guide names (`packaging/…`, `scripts/…`, …, not
/// `target/`: build output) and its relative Markdown links, resolved.
fn repo_paths(guide_dir: &Path, text: &str) -> Vec<(String, PathBuf)> {
    let mut found = Vec::new();
    let named = Regex::new(r#"(?:^|[\s`(\["'])((?:packaging|scripts|exporter|docs|rules|dashboards|testdata|benches|fuzz)/[A-Za-z0-9_./-]*[A-Za-z0-9_])"#).unwrap();
    for line in text.lines() {
        for c in named.captures_iter(line) {
            found.push((c[1].to_owned(), root().join(&c[1])));
        }
    }
    for c in Regex::new(r"\]\(([^)#\s]+)").unwrap().captures_iter(text) {
        if !c[1].contains("://") && !c[1].starts_with("mailto:") {
            found.push((format!("link ({})", &c[1]), guide_dir.join(&c[1])));
        }
    }
    found
}

/// Exporter flags a guide writes: `--` names with a dot (every flag of the
/// exporter but `--help` and `--version` has one; the other programs the
/// guides run, curl, sha256sum, pveum, docker, have none), with a value
/// when one is written with `=`.
fn exporter_flags(text: &str) -> Vec<String> {
    let re = Regex::new(r#"(?:^|[\s`'"(\[])(--(?:no-)?[a-z][a-z0-9-]*\.[a-z0-9.-]*[a-z0-9](?:=[^\s`'"\]]*)?)"#).unwrap();
    let mut flags = Vec::new();
    for line in text.lines() {
        for c in re.captures_iter(line) {
            flags.push(c[1].trim_end_matches([',', ';', ')', '.']).to_owned());
        }
    }
    flags
}

fn help_names_flag(help: &str, flag: &str) -> bool {
    let name = flag.split('=').next().unwrap_or(flag);
    // --no-collector.X is the off switch of a boolean --collector.X[=…].
    let names: Vec<String> = match name.strip_prefix("--no-") {
        Some(rest) => vec![name.to_owned(), format!("--{rest}")],
        None => vec![name.to_owned()],
    };
    help.lines().any(|l| {
        let l = l.trim_start();
        names.iter().any(|n| l.strip_prefix(n.as_str()).is_some_and(|after| after.is_empty() || after.starts_with([' ', '[', '='])))
    })
}

#[test]
fn release_names_are_read_from_release_sh() {
    let names = release_names();
    let version = env!("CARGO_PKG_VERSION");
    for file in [
        format!("homelab-exporter-{version}-linux-amd64.tar.gz"),
        format!("homelab-exporter-{version}-linux-arm64.tar.gz"),
        format!("homelab-exporter-{version}-linux-arm64.image.tar"),
        format!("homelab-exporter-{version}.oci.tar"),
        "SHA256SUMS".to_owned(),
    ] {
        assert!(names.iter().any(|n| n.matches_written(&file)), "{file}: not among {names:?}");
    }
    for file in [format!("homelab-exporter-{version}-linux-riscv64.tar.gz"), format!("homelab-exporter-{version}-linux-arm64.zip"), "homelab-exporter-0.0.0-linux-arm64.tar.gz".to_owned()] {
        assert!(!names.iter().any(|n| n.matches_written(&file)), "{file} matches {names:?}");
    }
    assert!(names.iter().any(|n| n.matches_guide("homelab-exporter-VERSION-linux-arm64.image.tar")));
}

#[test]
fn guides_name_only_what_exists_flags_the_binary_accepts_and_files_the_release_writes() {
    let names = release_names();
    let help = Command::new(env!("CARGO_BIN_EXE_homelab-exporter")).arg("--help").output().unwrap();
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    let guide_dir = root().join("packaging/guides");
    let mut problems = Vec::new();
    let (mut paths_seen, mut flags_seen, mut dist_seen) = (0, 0, 0);
    for (guide, text) in guides() {
        for (named, path) in repo_paths(&guide_dir, &text) {
            paths_seen += 1;
            if !path.exists() {
                problems.push(format!("{guide}: {named} does not exist in the repository"));
            }
        }
        for name in dist_names(&text) {
            dist_seen += 1;
            if !names.iter().any(|n| n.matches_guide(&name)) {
                problems.push(format!("{guide}: {name} is not a name scripts/release.sh writes (with {PLACEHOLDER} for the version)"));
            }
        }
        let flags: BTreeSet<String> = exporter_flags(&text).into_iter().collect();
        for flag in flags {
            flags_seen += 1;
            let out = Command::new(env!("CARGO_BIN_EXE_homelab-exporter")).args(["check-config", &flag]).output().unwrap();
            // A value that names a file of the target machine (a token
            // file, /etc/homelab-exporter/config.yaml) cannot be checked
            // here: then the flag must be one --help lists.
            if !out.status.success() && !help_names_flag(&help, &flag) {
                problems.push(format!("{guide}: {flag} is refused ({}) and not in --help", String::from_utf8_lossy(&out.stderr).trim()));
            }
        }
    }
    println!("{paths_seen} repository paths, {flags_seen} exporter flags, {dist_seen} release file names checked");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(paths_seen > 0 && flags_seen > 0 && dist_seen > 0, "the guides name nothing this test checks");
}

/// The three install guides do what they are for: the Pi and Proxmox
/// guides verify a tarball against SHA256SUMS, the Synology guide loads an
/// image archive, the Proxmox guide sets the Proxmox collector; the README
/// links each guide.
#[test]
fn install_guides_cover_their_platform() {
    let text = |name: &str| std::fs::read_to_string(root().join("packaging/guides").join(name)).unwrap();
    for guide in ["raspberry-pi.md", "proxmox-ve.md"] {
        let t = text(guide);
        let names = dist_names(&t);
        assert!(names.iter().any(|n| n.ends_with(".tar.gz")) && names.iter().any(|n| n == "SHA256SUMS"), "{guide}: {names:?}");
        assert!(t.contains("sha256sum -c --ignore-missing SHA256SUMS"), "{guide}: no checksum step");
        assert!(t.contains("packaging/homelab-exporter.service"), "{guide}: no systemd unit");
    }
    let synology = text("synology.md");
    assert!(dist_names(&synology).iter().any(|n| n.ends_with(".image.tar")), "synology.md loads no image archive");
    assert!(synology.contains("packaging/compose.synology.yaml"));
    let pve = text("proxmox-ve.md");
    for flag in ["--collector.proxmox.url", "--collector.proxmox.token-file", "--collector.nut.target=127.0.0.1:3493"] {
        assert!(pve.contains(flag), "proxmox-ve.md: {flag}");
    }
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    for (guide, _) in guides() {
        assert!(readme.contains(&format!("(packaging/guides/{guide})")), "README.md does not link {guide}");
    }
}

/// The drop-ins the guides have `systemctl edit` write (the Proxmox guide's
/// credential and command line, the Pi guide's docker group) pass
/// `systemd-analyze verify` together with the unit, as systemd reads them
/// from `homelab-exporter.service.d/`.
#[test]
fn guides_systemd_drop_ins_pass_systemd_analyze_verify() {
    let unit = std::fs::read_to_string(root().join("packaging/homelab-exporter.service")).unwrap();
    let ini = Regex::new(r"(?s)```ini\n(.*?)```").unwrap();
    let mut verified = 0;
    for (guide, text) in guides() {
        for block in ini.captures_iter(&text) {
            let dir = tempfile::tempdir().unwrap();
            let bin = env!("CARGO_BIN_EXE_homelab-exporter");
            std::fs::write(dir.path().join("homelab-exporter.service"), unit.replace("/usr/local/bin/homelab-exporter", bin)).unwrap();
            std::fs::create_dir(dir.path().join("homelab-exporter.service.d")).unwrap();
            std::fs::write(dir.path().join("homelab-exporter.service.d/override.conf"), block[1].replace("/usr/local/bin/homelab-exporter", bin)).unwrap();
            let out = Command::new("systemd-analyze")
                .arg("verify")
                .arg(dir.path().join("homelab-exporter.service"))
                .env("SYSTEMD_UNIT_PATH", format!("{}:", dir.path().display()))
                .current_dir(dir.path())
                .output()
                .expect("systemd-analyze not found: install Debian's systemd package (bash scripts/test.sh does)");
            let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            assert!(out.status.success() && !said.contains("homelab-exporter.service"), "{guide}: the drop-in\n{}\nsystemd-analyze verify: {said}", &block[1]);
            verified += 1;
        }
    }
    assert!(verified >= 2, "the Pi and Proxmox guides' drop-ins: {verified} found");
}
