//! The static aarch64 build (what a Raspberry Pi runs) under
//! `qemu-aarch64-static`, on node_exporter's fixture tree: its output must
//! equal the native build's on the same tree.
//!
//! What may differ, and is left out of the comparison: node_exporter's own
//! end-to-end skip list (durations, `process_*` of an emulated process, the
//! clock, and the live loopback counters its netdev reads over netlink),
//! the handler's request counters (`promhttp_*`) and the build info.
//! Everything else is read from the same files and must be equal.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{free_port, http_get, parse_exposition};

const ARM_BINARY: &str = "target/aarch64-unknown-linux-musl/release/homelab-exporter";

fn require(what: &str, how: &str) -> bool {
    if std::env::var("HOMELAB_REQUIRE_REAL").is_ok_and(|v| v == "1") {
        panic!("{what} is missing: {how}");
    }
    println!("skipped: {what} is missing ({how})");
    false
}

/// node_exporter's end-to-end command line on its fixture tree (every
/// collector it enables there), without the x86-only CPU info.
fn args() -> Vec<String> {
    crate::e2e::args(false)
}

fn scrape_with(program: &str, pre: &[String], args: &[String]) -> String {
    let port = free_port();
    let mut child = Command::new(program)
        .args(pre)
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {program}: {e}"));
    let start = Instant::now();
    let mut body = None;
    while start.elapsed() < Duration::from_secs(30) {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            let (status, _, b) = http_get(port, "/metrics", &[]);
            assert_eq!(status, 200);
            body = Some(String::from_utf8(b).unwrap());
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    body.expect("exporter did not answer within 30 s")
}

fn comparable(text: &str) -> Vec<String> {
    let parsed = parse_exposition(text);
    let mut v: Vec<String> = parsed
        .series
        .iter()
        // The build info names the platform, which differs on purpose.
        .filter(|s| !crate::e2e::skipped(&s.name) && !s.name.starts_with("promhttp_") && s.name != "homelab_exporter_build_info")
        .map(|s| format!("{}{:?} {}", s.name, s.labels, s.value))
        .collect();
    v.sort();
    v
}

#[test]
fn aarch64_static_build_under_qemu_matches_native_output() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let arm = root.join(ARM_BINARY);
    if !arm.exists() && !require("the aarch64 build", "scripts/test.sh builds it with scripts/build-static.sh aarch64-unknown-linux-musl") {
        return;
    }
    if Command::new("qemu-aarch64-static").arg("--version").output().is_err() && !require("qemu-aarch64-static", "install Debian's qemu-user-static") {
        return;
    }
    let size = std::fs::metadata(&arm).unwrap().len();
    println!("aarch64 static binary, stripped: {size} bytes ({:.2} MB)", size as f64 / 1e6);
    let native = scrape_with(env!("CARGO_BIN_EXE_homelab-exporter"), &[], &args());
    let emulated = scrape_with("qemu-aarch64-static", &[arm.display().to_string()], &args());
    let (a, b) = (comparable(&native), comparable(&emulated));
    assert!(a.len() > 500, "too few series compared: {}", a.len());
    let only_native: Vec<_> = a.iter().filter(|x| !b.contains(x)).collect();
    let only_arm: Vec<_> = b.iter().filter(|x| !a.contains(x)).collect();
    println!("compared {} series of the native and the aarch64 build", a.len());
    assert!(only_native.is_empty() && only_arm.is_empty(), "native only: {only_native:#?}\naarch64 only: {only_arm:#?}");
}

/// A Raspberry Pi's sysfs (the project's fixture: a throttle word of
/// under-voltage and throttling, an eMMC wearing out, the mainline kernel's
/// rpi_volt alarm) read by the aarch64 build under qemu and by the native
/// build: the same series, and the ones a Pi owner needs are there.
#[test]
fn aarch64_static_build_reads_a_pis_throttle_word_like_the_native_build() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let arm = root.join(ARM_BINARY);
    if !arm.exists() && !require("the aarch64 build", "scripts/test.sh builds it with scripts/build-static.sh aarch64-unknown-linux-musl") {
        return;
    }
    let sys = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/raspberrypi/sys");
    let args: Vec<String> = vec![
        format!("--path.sysfs={}", sys.display()),
        "--collector.disable-defaults".into(),
        "--collector.raspberrypi".into(),
        "--collector.mmc".into(),
        "--collector.hwmon".into(),
    ];
    let native = scrape_with(env!("CARGO_BIN_EXE_homelab-exporter"), &[], &args);
    let emulated = scrape_with("qemu-aarch64-static", &[arm.display().to_string()], &args);
    assert_eq!(comparable(&native), comparable(&emulated), "native and aarch64 output differ");
    for line in [
        "rpi_throttled{condition=\"under_voltage\"} 1",
        "rpi_throttled{condition=\"throttled\"} 1",
        "rpi_throttled_since_boot{condition=\"under_voltage\"} 1",
        "rpi_throttled{condition=\"soft_temp_limit\"} 0",
        "mmc_life_time_estimate{area=\"A\",device=\"mmcblk0\"} 9",
        "mmc_pre_eol_info{device=\"mmcblk0\"} 2",
        "node_scrape_collector_success{collector=\"raspberrypi\"} 1",
    ] {
        assert!(emulated.lines().any(|l| l == line), "aarch64 output lacks {line}:\n{emulated}");
    }
    let alarm = emulated.lines().find(|l| l.starts_with("node_hwmon_in_lcrit_alarm")).unwrap_or_else(|| panic!("no rpi_volt alarm series:\n{emulated}"));
    println!("{alarm}");
}
