//! The repository tests itself with nothing beside it (issue 19): the
//! committed HEAD, cloned into an empty temporary directory, passes the
//! checks that read fixtures there, and no tracked file points outside the
//! repository for them.
//!
//! The clone builds into its own target directory, `<target>/standalone`
//! (made once from this target directory's dependencies, so that only the
//! workspace's own crates compile). It does not share this target
//! directory: the clone's crates have the same names and hashes as the
//! checkout's, and their newer artifacts would pass for the checkout's on
//! the next build even when the checkout has uncommitted changes.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The checks a clone runs, as `(package, test filters)` of its `it` test
/// binary: node_exporter's fixtures and expected output (e2e), the metrics
/// reference and the dashboards' compatibility report (docs), a fixture
/// file (engine), the NUT dashboard's names (nut), Grafana's types (the
/// dashboards' type check).
const CHECKS: &[(&str, &[&str])] = &[
    (
        "homelab-exporter",
        &["e2e::", "docs::", "engine::garbled_file_fails_only_its_own_collector", "nut::raw_mode_covers_every_numeric_variable_and_the_go_exporter_dashboard"],
    ),
    ("homelab-dashboards", &["every_dashboard_satisfies_grafanas_types", "the_type_check_rejects_a_broken_dashboard"]),
];

/// Longest a clone's build and tests may take, all checks together.
const LIMIT: Duration = Duration::from_secs(30 * 60);


fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git").arg("-C").arg(dir).args(args).output().unwrap();
    assert!(out.status.success(), "git {args:?} in {}: {}", dir.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `command` until it ends or the deadline passes (then kills it),
/// with its output in `log`; true when it succeeded.
fn run_bounded(mut command: Command, log: &Path, deadline: Instant) -> bool {
    let file = std::fs::File::create(log).unwrap();
    let mut child = command.stdout(file.try_clone().unwrap()).stderr(file).stdin(Stdio::null()).spawn().unwrap();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.success();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("still running after {LIMIT:?}: {:?} (log {})", command, log.display());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(80)..].join("\n")
}

/// `<target>/standalone`, made on first use from this target directory's
/// `debug` build (dependencies compiled once are not compiled again).
fn clone_target_dir() -> PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap().to_path_buf();
    let dir = target.join("standalone");
    if !dir.join("debug/.fingerprint").exists() {
        std::fs::create_dir_all(dir.join("debug")).unwrap();
        for part in ["deps", "build", ".fingerprint"] {
            let from = target.join("debug").join(part);
            if from.exists() {
                let ok = Command::new("cp").arg("-a").arg("--reflink=auto").arg(&from).arg(dir.join("debug")).status().unwrap();
                assert!(ok.success(), "cp -a {} {}", from.display(), dir.display());
            }
        }
    }
    dir
}

#[test]
fn a_clone_with_nothing_beside_it_passes_the_checks_that_read_fixtures() {
    let started = Instant::now();
    let deadline = started + LIMIT;
    let repo = std::fs::canonicalize(Path::new(env!("CARGO_MANIFEST_DIR")).join("..")).unwrap();
    let head = git(&repo, &["rev-parse", "HEAD"]).trim().to_owned();
    if !git(&repo, &["status", "--porcelain", "--untracked-files=no"]).is_empty() {
        println!("note: the checkout has uncommitted changes; the clone tests HEAD {head}");
    }
    let tmp = tempfile::tempdir().unwrap();
    let clone = tmp.path().join("clone");
    let out = Command::new("git").arg("clone").arg("--quiet").arg("--no-hardlinks").arg(&repo).arg(&clone).output().unwrap();
    assert!(out.status.success(), "git clone: {}", String::from_utf8_lossy(&out.stderr));
    git(&clone, &["checkout", "--quiet", "--detach", &head]);
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1, "something beside the clone");

    // No tracked file reads beside the repository.
    let patterns = [["..", "/shared"].concat(), ["shared", "/oracles"].concat()];
    let grep = Command::new("git")
        .arg("-C")
        .arg(&clone)
        .args(["grep", "-n", "-I", "-F", "-e", &patterns[0], "-e", &patterns[1]])
        .output()
        .unwrap();
    let hits = String::from_utf8_lossy(&grep.stdout).to_string();
    let offending: Vec<&str> = hits.lines().collect();
    assert!(offending.is_empty(), "tracked files refer to a folder beside the repository:\n{}", offending.join("\n"));

    // Grafana's types and the other programs are installed by
    // scripts/test.sh under the checkout's target/; the clone uses them.
    let grafana_types = std::env::var("HOMELAB_GRAFANA_TYPES").unwrap_or_else(|_| repo.join("target/grafana-types").display().to_string());
    let target_dir = clone_target_dir();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    for (package, filters) in CHECKS {
        let log = tmp.path().join(format!("{package}.log"));
        let mut command = Command::new(&cargo);
        command
            .current_dir(&clone)
            .args(["test", "-j2", "-p", package, "--test", "it", "--", "--test-threads=2"])
            .args(*filters)
            .env("CARGO_TARGET_DIR", &target_dir)
            .env("CARGO_INCREMENTAL", "0")
            .env("HOMELAB_GRAFANA_TYPES", &grafana_types)
            .env_remove("CARGO_TARGET_TMPDIR")
            .env_remove("CARGO_MANIFEST_DIR");
        let ok = run_bounded(command, &log, deadline);
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(ok, "{package} in the clone failed:\n{}", tail(&log));
        // The filters matched tests (under HOMELAB_REQUIRE_REAL=1, inherited,
        // a missing program fails them instead of skipping).
        let passed: usize = text
            .lines()
            .filter_map(|l| l.strip_prefix("test result: ok. "))
            .filter_map(|l| l.split(' ').next()?.parse::<usize>().ok())
            .sum();
        assert!(passed >= filters.len(), "{package}: only {passed} tests ran in the clone:\n{}", tail(&log));
        println!("{package} in the clone: {passed} tests passed");
    }
    println!("clone of {head} checked in {:.0?}", started.elapsed());
}

/// The fixture tree may hold its links as small files holding the target
/// (as committed) or as real links (another checkout of the same facts):
/// both come out as links, and a real link to a directory is copied as a
/// link, not read (it panicked with "Is a directory").
#[test]
fn fixture_links_are_restored_from_files_and_copied_as_real_links() {
    let src = tempfile::tempdir().unwrap();
    let s = src.path();
    std::fs::create_dir_all(s.join("devices/pci0000:00/net/eth0")).unwrap();
    std::fs::write(s.join("devices/pci0000:00/net/eth0/mtu"), "1500\n").unwrap();
    std::fs::create_dir_all(s.join("class/net")).unwrap();
    std::fs::create_dir_all(s.join("class/block")).unwrap();
    std::fs::write(s.join("class/net/eth0"), "../../devices/pci0000:00/net/eth0").unwrap();
    std::os::unix::fs::symlink("../../devices/pci0000:00/net/eth0", s.join("class/block/real")).unwrap();
    std::os::unix::fs::symlink("../../devices/pci0000:00/net/eth0/mtu", s.join("class/net/mtu")).unwrap();
    std::fs::write(s.join("class/net/speed"), "1000\n").unwrap();
    let dst = tempfile::tempdir().unwrap();
    let d = dst.path().join("copy");
    crate::common::copy_restoring_links(s, &d);
    for link in ["class/net/eth0", "class/block/real"] {
        assert!(std::fs::symlink_metadata(d.join(link)).unwrap().is_symlink(), "{link} is not a link");
        assert_eq!(std::fs::read_to_string(d.join(link).join("mtu")).unwrap(), "1500\n", "{link}");
    }
    assert!(std::fs::symlink_metadata(d.join("class/net/mtu")).unwrap().is_symlink());
    assert_eq!(std::fs::read_to_string(d.join("class/net/mtu")).unwrap(), "1500\n");
    assert!(!std::fs::symlink_metadata(d.join("class/net/speed")).unwrap().is_symlink());
}
