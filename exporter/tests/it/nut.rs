//! The `nut` collector against a real upsd: Debian's nut-server (`upsd` and
//! the `dummy-ups` driver, one per UPS, each reading its own `.dev` file)
//! and nut-client (`upsc`, `upsrw`), started by these tests on 127.0.0.1 on a
//! free port, with `NUT_CONFPATH`/`NUT_STATEPATH` in a temp dir; every
//! process is stopped by its pid when the test ends.
//!
//! When NUT is not installed these tests FAIL with a message saying to
//! install it; `HOMELAB_ALLOW_MISSING_REAL=1` makes them skip instead
//! (never in CI, where `HOMELAB_REQUIRE_REAL=1`).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::{dashboard_names, free_port, http_get, parse_exposition, promtool_check_metrics, Exporter, Parsed, Series};

// ---------------------------------------------------------------- fixtures

/// `ups1`: on line and charging, with every variable the nut_* set reads.
pub(crate) const UPS1_DEV: &str = "\
device.mfr: Acme Power
device.model: Dummy 1500
device.serial: SN-0001
device.type: ups
device.location: Basement rack
device.uptime: 86400
ups.mfr: Acme Power
ups.model: Dummy 1500
ups.firmware: 1.2.3
ups.status: OL CHRG
ups.load: 23
ups.realpower: 120
ups.realpower.nominal: 900
ups.power: 150
ups.power.nominal: 1500
ups.temperature: 31.5
ups.beeper.status: enabled
ups.delay.shutdown: 20
ups.delay.start: 30
battery.charge: 87
battery.charge.low: 10
battery.charge.warning: 50
battery.charge.restart: 15
battery.runtime: 1800
battery.runtime.low: 120
battery.runtime.restart: 300
battery.voltage: 13.5
battery.voltage.nominal: 12
battery.voltage.low: 10.4
battery.voltage.high: 13.6
battery.temperature: 28
battery.type: PbAc
input.voltage: 230.5
input.voltage.nominal: 230
input.voltage.minimum: 221.2
input.voltage.maximum: 238.9
input.transfer.low: 180
input.transfer.high: 260
input.current: 0.7
input.current.nominal: 6.5
input.frequency: 50.02
input.frequency.nominal: 50
input.frequency.low: 45
input.frequency.high: 55
output.voltage: 229.8
output.voltage.nominal: 230
output.current: 0.6
output.current.nominal: 6.5
output.frequency: 49.98
output.frequency.nominal: 50
";

/// `ups2`: on battery.
const UPS2_DEV: &str = "\
device.mfr: Office Corp
device.model: OfficeSafe 700
device.serial: OS-700-42
device.type: ups
ups.mfr: Office Corp
ups.model: OfficeSafe 700
ups.status: OB DISCHRG
ups.load: 57
ups.realpower: 300
ups.power: 410
ups.temperature: 35
ups.beeper.status: disabled
battery.charge: 42
battery.runtime: 600
battery.voltage: 11.9
battery.voltage.low: 10.5
battery.voltage.high: 13.5
input.voltage: 0
input.frequency: 0
output.voltage: 230.1
";

/// `ups3`: an alarm while on line, battery to replace.
const UPS3_DEV: &str = "\
device.mfr: Garage Works
device.model: G24
device.serial: G24-7
device.type: ups
ups.mfr: Garage Works
ups.model: G24
ups.status: ALARM OL RB
ups.load: 5
ups.temperature: 22.5
ups.beeper.status: muted
battery.charge: 100
battery.runtime: 3600
battery.voltage: 27.1
battery.voltage.low: 20.8
battery.voltage.high: 27.3
input.voltage: 121.3
input.frequency: 60.01
output.voltage: 120
";

/// (name, `desc` in ups.conf, `.dev` text) of the three UPSes.
pub(crate) const UPSES: &[(&str, &str, &str)] = &[
    ("ups1", "Rack \"A\" UPS", UPS1_DEV),
    ("ups2", "Office UPS", UPS2_DEV),
    ("ups3", "Garage UPS", UPS3_DEV),
];

/// NUT variable → (nut_* metric, factor), written from the Rust NUT
/// exporter's list independently of the collector's table.
const NUMERIC: &[(&str, &str, f64)] = &[
    ("device.uptime", "nut_uptime_seconds", 1.0),
    ("ups.load", "nut_load", 0.01),
    ("ups.realpower", "nut_real_power_watts", 1.0),
    ("ups.realpower.nominal", "nut_real_power_nominal_watts", 1.0),
    ("ups.power", "nut_power_watts", 1.0),
    ("ups.power.nominal", "nut_power_nominal_watts", 1.0),
    ("ups.temperature", "nut_temperature_celsius", 1.0),
    ("ups.delay.shutdown", "nut_delay_shutdown_seconds", 1.0),
    ("ups.delay.start", "nut_delay_start_seconds", 1.0),
    ("battery.charge", "nut_battery_charge", 0.01),
    ("battery.charge.low", "nut_battery_charge_low", 0.01),
    ("battery.charge.warning", "nut_battery_charge_warning", 0.01),
    ("battery.charge.restart", "nut_battery_charge_restart", 0.01),
    ("battery.runtime", "nut_battery_runtime_seconds", 1.0),
    ("battery.runtime.low", "nut_battery_runtime_low_seconds", 1.0),
    ("battery.runtime.restart", "nut_battery_runtime_restart_seconds", 1.0),
    ("battery.voltage", "nut_battery_voltage_volts", 1.0),
    ("battery.voltage.nominal", "nut_battery_voltage_nominal_volts", 1.0),
    ("battery.voltage.low", "nut_battery_voltage_low_volts", 1.0),
    ("battery.voltage.high", "nut_battery_voltage_high_volts", 1.0),
    ("battery.temperature", "nut_battery_temperature_celsius", 1.0),
    ("input.voltage", "nut_input_voltage_volts", 1.0),
    ("input.voltage.nominal", "nut_input_voltage_nominal_volts", 1.0),
    ("input.voltage.minimum", "nut_input_voltage_minimum_volts", 1.0),
    ("input.voltage.maximum", "nut_input_voltage_maximum_volts", 1.0),
    ("input.transfer.low", "nut_input_transfer_low_volts", 1.0),
    ("input.transfer.high", "nut_input_transfer_high_volts", 1.0),
    ("input.current", "nut_input_current_amperes", 1.0),
    ("input.current.nominal", "nut_input_current_nominal_amperes", 1.0),
    ("input.frequency", "nut_input_frequency_hertz", 1.0),
    ("input.frequency.nominal", "nut_input_frequency_nominal_hertz", 1.0),
    ("input.frequency.low", "nut_input_frequency_low_hertz", 1.0),
    ("input.frequency.high", "nut_input_frequency_high_hertz", 1.0),
    ("output.voltage", "nut_output_voltage_volts", 1.0),
    ("output.voltage.nominal", "nut_output_voltage_nominal_volts", 1.0),
    ("output.current", "nut_output_current_amperes", 1.0),
    ("output.current.nominal", "nut_output_current_nominal_amperes", 1.0),
    ("output.frequency", "nut_output_frequency_hertz", 1.0),
    ("output.frequency.nominal", "nut_output_frequency_nominal_hertz", 1.0),
];

/// Text variables → the `nut_ups_info` label that shows them (`ups.mfr` and
/// `ups.model` are the driver's mirrors of `device.mfr` and `device.model`).
const INFO: &[(&str, &str)] = &[
    ("device.mfr", "manufacturer"),
    ("ups.mfr", "manufacturer"),
    ("device.model", "model"),
    ("ups.model", "model"),
    ("device.serial", "serial"),
    ("device.type", "type"),
    ("device.location", "location"),
    ("battery.type", "battery_type"),
    ("ups.firmware", "ups_firmware"),
];

/// Status flags that always have a series.
const FIXED_FLAGS: &[&str] =
    &["OL", "OB", "LB", "HB", "RB", "CHRG", "DISCHRG", "BYPASS", "CAL", "OFF", "OVER", "TRIM", "BOOST", "FSD", "SD", "ALARM", "CP"];

fn dev_vars(dev: &str) -> Vec<(&str, &str)> {
    dev.lines().filter_map(|l| l.split_once(": ")).collect()
}

// ------------------------------------------------------------ the programs

struct Programs {
    upsd: PathBuf,
    dummy_ups: PathBuf,
    upsc: PathBuf,
    upsrw: PathBuf,
}

fn find(candidates: &[&str]) -> Option<PathBuf> {
    candidates.iter().map(PathBuf::from).find(|p| p.is_file())
}

/// True when a missing program may skip a test: only with
/// `HOMELAB_ALLOW_MISSING_REAL=1`, never with `HOMELAB_REQUIRE_REAL=1`.
pub(crate) fn missing_real_allowed() -> bool {
    std::env::var("HOMELAB_ALLOW_MISSING_REAL").as_deref() == Ok("1") && std::env::var("HOMELAB_REQUIRE_REAL").as_deref() != Ok("1")
}

/// Debian's NUT programs, or `None` (skip) only when missing programs are
/// explicitly allowed; otherwise a missing NUT fails the test.
fn programs() -> Option<Programs> {
    let found = (
        find(&["/lib/nut/upsd", "/usr/lib/nut/upsd", "/usr/libexec/nut/upsd", "/usr/sbin/upsd"]),
        find(&["/lib/nut/dummy-ups", "/usr/lib/nut/dummy-ups", "/usr/libexec/nut/dummy-ups"]),
        find(&["/usr/bin/upsc", "/bin/upsc"]),
        find(&["/usr/bin/upsrw", "/bin/upsrw"]),
    );
    if let (Some(upsd), Some(dummy_ups), Some(upsc), Some(upsrw)) = found {
        return Some(Programs { upsd, dummy_ups, upsc, upsrw });
    }
    let allowed = missing_real_allowed();
    let message = "NUT is not installed (upsd, dummy-ups, upsc, upsrw): install Debian's nut-server and nut-client \
                   (`apt-get install nut-server nut-client`, or run `bash scripts/test.sh`), \
                   or set HOMELAB_ALLOW_MISSING_REAL=1 to skip the NUT tests";
    if allowed {
        eprintln!("skipping: {message}");
        return None;
    }
    panic!("{message}");
}

/// A private NUT server: upsd plus one dummy-ups per UPS, stopped by pid on drop.
pub(crate) struct NutServer {
    dir: tempfile::TempDir,
    port: u16,
    programs: Programs,
    as_root: bool,
    /// (name, process) of every process started, upsd as "upsd".
    procs: Vec<(String, Child)>,
}

impl Drop for NutServer {
    fn drop(&mut self) {
        for (_, child) in &mut self.procs {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl NutServer {
    /// Writes the configuration, starts the drivers and upsd, and waits
    /// (bounded) until upsd serves every variable of every `.dev` file.
    pub(crate) fn start(upses: &[(&str, &str, &str)]) -> Option<NutServer> {
        Self::start_with(upses, "")
    }

    /// As [`NutServer::start`], with `upsd_conf` added to upsd.conf (e.g.
    /// `CERTPATH` and `CERTIDENT` for TLS).
    pub(crate) fn start_with(upses: &[(&str, &str, &str)], upsd_conf: &str) -> Option<NutServer> {
        let programs = programs()?;
        let dir = tempfile::tempdir().unwrap();
        let as_root = fs::metadata(dir.path()).unwrap().uid() == 0;
        let port = free_port();
        let mut ups_conf = String::new();
        for (name, desc, dev) in upses {
            let dev_path = dir.path().join(format!("{name}.dev"));
            fs::write(&dev_path, dev).unwrap();
            let desc = desc.replace('\\', "\\\\").replace('"', "\\\"");
            ups_conf.push_str(&format!("[{name}]\n  driver = dummy-ups\n  port = {}\n  desc = \"{desc}\"\n", dev_path.display()));
        }
        fs::write(dir.path().join("ups.conf"), ups_conf).unwrap();
        fs::write(dir.path().join("upsd.conf"), format!("LISTEN 127.0.0.1 {port}\n{upsd_conf}")).unwrap();
        fs::write(
            dir.path().join("upsd.users"),
            "[admin]\n  password = secret\n  actions = SET\n  instcmds = ALL\n",
        )
        .unwrap();
        fs::write(dir.path().join("nut.conf"), "MODE=standalone\n").unwrap();
        let mut server = NutServer { dir, port, programs, as_root, procs: Vec::new() };
        for (name, _, _) in upses {
            server.start_driver(name);
        }
        for (name, _, _) in upses {
            let socket = server.dir.path().join(format!("dummy-ups-{name}"));
            server.wait_for(&format!("driver socket of {name}"), Duration::from_secs(10), || socket.exists());
        }
        let upsd = server.programs.upsd.clone();
        server.spawn("upsd", &upsd, &[]);
        for (name, _, dev) in upses {
            let expected = dev_vars(dev);
            server.wait_for(&format!("upsd serving every variable of {name}"), Duration::from_secs(20), || {
                let Some(vars) = server.upsc(name) else { return false };
                expected.iter().all(|(k, v)| vars.get(*k).map(String::as_str) == Some(*v))
            });
        }
        Some(server)
    }

    fn spawn(&mut self, name: &str, program: &PathBuf, args: &[&str]) {
        let log = fs::File::create(self.dir.path().join(format!("{name}.log"))).unwrap();
        let mut cmd = Command::new(program);
        cmd.args(args).arg("-F");
        if self.as_root {
            // They would switch to user `nut`, who cannot enter our temp dir.
            cmd.args(["-u", "root"]);
        }
        let child = cmd
            .env("NUT_CONFPATH", self.dir.path())
            .env("NUT_STATEPATH", self.dir.path())
            .env("NUT_ALTPIDPATH", self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
        self.procs.push((name.to_owned(), child));
    }

    fn start_driver(&mut self, ups: &str) {
        let program = self.programs.dummy_ups.clone();
        self.spawn(&format!("dummy-ups-{ups}"), &program, &["-a", ups]);
    }

    /// Stops a process by its pid and waits for it.
    fn stop(&mut self, name: &str) {
        let index = self.procs.iter().position(|(n, _)| n == name).unwrap_or_else(|| panic!("no process {name}"));
        let (_, mut child) = self.procs.remove(index);
        let _ = child.kill();
        let _ = child.wait();
    }

    pub(crate) fn logs(&self) -> String {
        let mut all = String::new();
        for (name, _) in &self.procs {
            let text = fs::read_to_string(self.dir.path().join(format!("{name}.log"))).unwrap_or_default();
            all.push_str(&format!("--- {name}.log\n{text}\n"));
        }
        all
    }

    pub(crate) fn wait_for(&self, what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
        let start = Instant::now();
        while start.elapsed() < limit {
            if ready() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("timed out after {limit:?} waiting for {what}\n{}", self.logs());
    }

    pub(crate) fn target(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Every variable of `ups` as the real NUT client `upsc` reads it.
    pub(crate) fn upsc(&self, ups: &str) -> Option<BTreeMap<String, String>> {
        let out = Command::new(&self.programs.upsc)
            .arg(format!("{ups}@{}", self.target()))
            .env("NUT_CONFPATH", self.dir.path())
            .stdin(Stdio::null())
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        let text = String::from_utf8_lossy(&out.stdout);
        Some(text.lines().filter_map(|l| l.split_once(": ")).map(|(k, v)| (k.to_owned(), v.to_owned())).collect())
    }

    /// Sets a variable with the real `upsrw`, as the admin user.
    pub(crate) fn upsrw_set(&self, ups: &str, var: &str, value: &str) {
        let out = Command::new(&self.programs.upsrw)
            .args(["-s", &format!("{var}={value}"), "-u", "admin", "-p", "secret", &format!("{ups}@{}", self.target())])
            .env("NUT_CONFPATH", self.dir.path())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "upsrw failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

// ------------------------------------------------------------ fake servers

/// A TCP server on 127.0.0.1 that runs `handle` for each connection on its
/// own thread; stopped (bounded) when dropped.
struct FakeServer {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

impl FakeServer {
    fn start(handle: fn(TcpStream, &AtomicBool)) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        std::thread::spawn(move || {
            let start = Instant::now();
            while !flag.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(120) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let _ = stream.set_nonblocking(false);
                        let flag = Arc::clone(&flag);
                        std::thread::spawn(move || handle(stream, &flag));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        FakeServer { port, stop }
    }

    pub(crate) fn target(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// Accepts and never answers (holds the connection until stopped).
fn silent(stream: TcpStream, stop: &AtomicBool) {
    let start = Instant::now();
    while !stop.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(stream);
}

/// Answers every command with a line that is not upsd's.
fn garbage(mut stream: TcpStream, _: &AtomicBool) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut buf = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 || stream.write_all(b"HELLO \x01\x02 I am not upsd at all\n").is_err() {
            break;
        }
    }
}

/// Answers the first command with a 10 MB line.
fn huge_line(mut stream: TcpStream, _: &AtomicBool) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut buf = [0u8; 4096];
    if stream.read(&mut buf).unwrap_or(0) == 0 {
        return;
    }
    let chunk = vec![b'x'; 64 * 1024];
    for _ in 0..160 {
        if stream.write_all(&chunk).is_err() {
            return;
        }
    }
    let _ = stream.write_all(b"\n");
}

// ----------------------------------------------------------------- helpers

pub(crate) fn series<'a>(p: &'a Parsed, name: &str, labels: &[(&str, &str)]) -> Vec<&'a Series> {
    p.series
        .iter()
        .filter(|s| s.name == name && labels.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v)))
        .collect()
}

pub(crate) fn value(p: &Parsed, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let found = series(p, name, labels);
    assert!(found.len() <= 1, "{name}{labels:?} matches {} series", found.len());
    found.first().map(|s| s.value)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

pub(crate) fn nut_exporter(targets: &[String], extra: &[&str]) -> Exporter {
    let mut args: Vec<String> = vec!["--collector.disable-defaults".into(), "--collector.nut".into()];
    args.extend(targets.iter().map(|t| format!("--collector.nut.target={t}")));
    args.extend(extra.iter().map(|s| s.to_string()));
    Exporter::start(&args)
}

pub(crate) fn scrape(exporter: &Exporter) -> (String, Parsed) {
    let text = exporter.metrics();
    let parsed = parse_exposition(&text);
    (text, parsed)
}

pub(crate) fn nut_success(p: &Parsed) -> Option<f64> {
    value(p, "node_scrape_collector_success", &[("collector", "nut")])
}

pub(crate) fn target_up(p: &Parsed, target: &str) -> Option<f64> {
    value(p, "homelab_exporter_target_up", &[("collector", "nut"), ("target", target)])
}

pub(crate) fn landing_page(exporter: &Exporter) -> String {
    let (status, _, body) = exporter.get("/", &[]);
    assert_eq!(status, 200);
    String::from_utf8(body).unwrap()
}

/// Peak resident memory of a process (VmHWM), in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM in /proc/PID/status");
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

/// Scrapes until `done` holds (bounded), returning the last scrape.
fn scrape_until(exporter: &Exporter, what: &str, done: impl Fn(&Parsed) -> bool) -> (String, Parsed) {
    let start = Instant::now();
    loop {
        let (text, parsed) = scrape(exporter);
        if done(&parsed) {
            return (text, parsed);
        }
        assert!(start.elapsed() < Duration::from_secs(15), "timed out waiting for {what}:\n{text}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Checks every value of a `.dev` file under its nut_* name and unit, and
/// every status word as a flag series.
pub(crate) fn assert_dev_values(p: &Parsed, ups: &str, desc: &str, dev: &str) {
    let u = [("ups", ups)];
    let info = series(p, "nut_ups_info", &u);
    assert_eq!(info.len(), 1, "nut_ups_info of {ups}");
    let info = &info[0].labels;
    assert_eq!(info.get("description").map(String::as_str), Some(desc), "{ups} description");
    assert_eq!(info.get("driver").map(String::as_str), Some("dummy-ups"), "{ups} driver");
    for (var, text) in dev_vars(dev) {
        if let Some((_, metric, factor)) = NUMERIC.iter().find(|(v, _, _)| *v == var) {
            let expected = text.parse::<f64>().unwrap() * factor;
            let got = value(p, metric, &u).unwrap_or_else(|| panic!("{metric}{{ups={ups}}} missing ({var} = {text})"));
            assert!(close(got, expected), "{metric}{{ups={ups}}} = {got}, expected {expected} from {var} = {text}");
            continue;
        }
        if let Some((_, label)) = INFO.iter().find(|(v, _)| *v == var) {
            assert_eq!(info.get(*label).map(String::as_str), Some(text), "nut_ups_info{{{label}}} of {ups} ({var})");
            continue;
        }
        match var {
            "ups.beeper.status" => {
                let code = match text {
                    "enabled" => 1.0,
                    "disabled" => 2.0,
                    "muted" => 3.0,
                    _ => 0.0,
                };
                assert_eq!(value(p, "nut_beeper_status", &u), Some(code), "nut_beeper_status of {ups} ({text})");
            }
            "ups.status" => {
                let words: BTreeSet<&str> = text.split_whitespace().collect();
                for word in &words {
                    assert_eq!(value(p, "nut_ups_status", &[("ups", ups), ("status", word)]), Some(1.0), "{ups} status {word}");
                }
                for flag in FIXED_FLAGS.iter().filter(|f| !words.contains(*f)) {
                    assert_eq!(value(p, "nut_ups_status", &[("ups", ups), ("status", flag)]), Some(0.0), "{ups} status {flag}");
                }
                let all: BTreeSet<&str> = FIXED_FLAGS.iter().copied().chain(words.iter().copied()).collect();
                assert_eq!(series(p, "nut_ups_status", &u).len(), all.len(), "{ups}: one series per flag");
            }
            other => panic!("the test has no expectation for {other} of {ups}: add one"),
        }
    }
}

// ------------------------------------------------------------------- tests

/// One upsd with three dummy UPSes: every `.dev` value under its name and
/// unit, every status word as its flag, server and target metadata.
#[test]
fn three_dummy_upses_export_every_value_and_status_flag() {
    let Some(nut) = NutServer::start(UPSES) else { return };
    let exporter = nut_exporter(&[nut.target()], &[]);
    let (text, p) = scrape(&exporter);
    assert_eq!(nut_success(&p), Some(1.0), "{text}");
    assert_eq!(target_up(&p, &nut.target()), Some(1.0), "{text}");
    let server = series(&p, "nut_server_info", &[("target", &nut.target())]);
    assert_eq!(server.len(), 1, "{text}");
    assert!(server[0].labels["version"].starts_with(|c: char| c.is_ascii_digit()), "{text}");
    for (ups, desc, dev) in UPSES {
        assert_eq!(value(&p, "nut_ups_up", &[("ups", ups)]), Some(1.0), "{ups}");
        assert_dev_values(&p, ups, desc, dev);
    }
    // Without --collector.nut.raw, none of the Go exporter's names.
    assert!(!text.contains("network_ups_tools_"), "{text}");
    for (family, kind) in &p.types {
        if family.starts_with("nut_") {
            assert_eq!(kind, "gauge", "{family}");
        }
    }
    let (ok, report) = promtool_check_metrics(&text);
    assert!(ok, "promtool check metrics: {report}");
}

/// `upsrw` puts a UPS on battery; the next scrape shows it.
#[test]
fn upsrw_on_battery_shows_on_the_next_scrape() {
    let Some(nut) = NutServer::start(UPSES) else { return };
    let exporter = nut_exporter(&[nut.target()], &[]);
    let (_, p) = scrape(&exporter);
    assert_eq!(value(&p, "nut_ups_status", &[("ups", "ups1"), ("status", "OL")]), Some(1.0));
    nut.upsrw_set("ups1", "ups.status", "OB DISCHRG LB");
    nut.wait_for("upsd to show the new status", Duration::from_secs(10), || {
        nut.upsc("ups1").is_some_and(|v| v.get("ups.status").map(String::as_str) == Some("OB DISCHRG LB"))
    });
    let (text, p) = scrape(&exporter);
    let flag = |f: &str| value(&p, "nut_ups_status", &[("ups", "ups1"), ("status", f)]);
    for (f, v) in [("OB", 1.0), ("DISCHRG", 1.0), ("LB", 1.0), ("OL", 0.0), ("CHRG", 0.0)] {
        assert_eq!(flag(f), Some(v), "{f}\n{text}");
    }
    assert_eq!(value(&p, "nut_status", &[("ups", "ups1")]), Some(2.0), "{text}");
    // The other UPSes are unchanged.
    assert_eq!(value(&p, "nut_ups_status", &[("ups", "ups3"), ("status", "ALARM")]), Some(1.0), "{text}");
}

/// A stopped driver is a per-UPS state, not a failure; a stopped upsd
/// fails the collector with its target down.
#[test]
fn stopped_driver_then_stopped_upsd() {
    let Some(mut nut) = NutServer::start(UPSES) else { return };
    let exporter = nut_exporter(&[nut.target()], &[]);
    let (_, p) = scrape(&exporter);
    assert_eq!(nut_success(&p), Some(1.0));

    nut.stop("dummy-ups-ups2");
    let (text, p) = scrape_until(&exporter, "ups2 to be reported down", |p| value(p, "nut_ups_up", &[("ups", "ups2")]) == Some(0.0));
    assert_eq!(nut_success(&p), Some(1.0), "{text}");
    assert_eq!(target_up(&p, &nut.target()), Some(1.0), "{text}");
    let errors = series(&p, "nut_ups_error", &[("ups", "ups2")]);
    assert_eq!(errors.len(), 1, "{text}");
    assert!(["DRIVER-NOT-CONNECTED", "DATA-STALE"].contains(&errors[0].labels["code"].as_str()), "{text}");
    assert!(value(&p, "nut_battery_charge", &[("ups", "ups2")]).is_none(), "{text}");
    assert_dev_values(&p, "ups1", UPSES[0].1, UPS1_DEV);
    assert_dev_values(&p, "ups3", UPSES[2].1, UPS3_DEV);

    nut.stop("upsd");
    let start = Instant::now();
    let (text, p) = scrape(&exporter);
    assert!(start.elapsed() < Duration::from_secs(5), "scrape took {:?}", start.elapsed());
    assert_eq!(nut_success(&p), Some(0.0), "{text}");
    assert_eq!(target_up(&p, &nut.target()), Some(0.0), "{text}");
    assert!(series(&p, "nut_ups_info", &[]).is_empty(), "{text}");
    let page = landing_page(&exporter);
    assert!(page.contains(&nut.target()) && page.contains("connecting"), "{page}");
}

/// A server that accepts and never answers: the scrape ends before its
/// deadline, that target is down, the real upsd's UPSes are all there.
#[test]
fn silent_server_cannot_hold_the_scrape_past_its_deadline() {
    let Some(nut) = NutServer::start(UPSES) else { return };
    let silent = FakeServer::start(silent);
    let exporter = nut_exporter(&[nut.target(), silent.target()], &[]);
    let start = Instant::now();
    let (status, _, body) = http_get(exporter.port, "/metrics", &[("X-Prometheus-Scrape-Timeout-Seconds", "2")]);
    let took = start.elapsed();
    assert_eq!(status, 200);
    assert!(took < Duration::from_millis(2000), "scrape took {took:?} with a 2 s timeout");
    let text = String::from_utf8(body).unwrap();
    let p = parse_exposition(&text);
    assert_eq!(nut_success(&p), Some(0.0), "{text}");
    assert_eq!(target_up(&p, &silent.target()), Some(0.0), "{text}");
    assert_eq!(target_up(&p, &nut.target()), Some(1.0), "{text}");
    for (ups, desc, dev) in UPSES {
        assert_dev_values(&p, ups, desc, dev);
    }
    let page = landing_page(&exporter);
    assert!(page.contains(&silent.target()) && (page.contains("deadline reached") || page.contains("read timeout")), "{page}");
}

/// Garbage and a 10 MB line: clear errors, bounded memory, the real upsd's
/// UPSes unaffected.
#[test]
fn garbage_and_a_10_mb_line_give_clear_errors_with_bounded_memory() {
    let Some(nut) = NutServer::start(UPSES) else { return };
    let garbage = FakeServer::start(garbage);
    let huge = FakeServer::start(huge_line);
    let exporter = nut_exporter(&[nut.target(), garbage.target(), huge.target()], &[]);
    let before = peak_rss(exporter.pid());
    for _ in 0..3 {
        let (text, p) = scrape(&exporter);
        assert_eq!(nut_success(&p), Some(0.0), "{text}");
        assert_eq!(target_up(&p, &garbage.target()), Some(0.0), "{text}");
        assert_eq!(target_up(&p, &huge.target()), Some(0.0), "{text}");
        assert_eq!(target_up(&p, &nut.target()), Some(1.0), "{text}");
        assert_eq!(value(&p, "nut_ups_up", &[("ups", "ups3")]), Some(1.0), "{text}");
    }
    let after = peak_rss(exporter.pid());
    println!("exporter peak RSS: {before} bytes before, {after} bytes after three scrapes");
    assert!(after < before + 4 * 1024 * 1024, "peak RSS grew from {before} to {after} bytes");
    let page = landing_page(&exporter);
    assert!(page.contains("expected BEGIN LIST"), "{page}");
    assert!(page.contains("reply line longer than 65536 bytes"), "{page}");
}

/// `--collector.nut.raw`: every numeric variable of the three UPSes (as
/// `upsc` lists them) under the Go NUT exporter's name, and every metric
/// its dashboard queries.
#[test]
fn raw_mode_covers_every_numeric_variable_and_the_go_exporter_dashboard() {
    let Some(nut) = NutServer::start(UPSES) else { return };
    let exporter = nut_exporter(&[nut.target()], &["--collector.nut.raw"]);
    let (text, p) = scrape(&exporter);
    assert_eq!(nut_success(&p), Some(1.0), "{text}");
    for (ups, _, _) in UPSES {
        let vars = nut.upsc(ups).expect("upsc");
        let mut numeric = 0;
        for (var, v) in &vars {
            if var == "ups.status" {
                continue;
            }
            // go.nut: digits, dots and a leading minus, at most one dot; or enabled/disabled.
            let digits = v.strip_prefix('-').unwrap_or(v);
            let expected = if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit() || c == '.') && digits.matches('.').count() <= 1 {
                v.parse::<f64>().ok()
            } else {
                match v.as_str() {
                    "enabled" => Some(1.0),
                    "disabled" => Some(0.0),
                    _ => None,
                }
            };
            let name = format!("network_ups_tools_{}", var.replace(['.', '-'], "_"));
            match expected {
                Some(x) => {
                    numeric += 1;
                    assert_eq!(value(&p, &name, &[("ups", ups)]), Some(x), "{name} of {ups} ({var} = {v})");
                }
                None => assert!(value(&p, &name, &[("ups", ups)]).is_none(), "{name} of {ups} from text {v:?}"),
            }
        }
        assert!(numeric >= 10, "{ups}: only {numeric} numeric variables");
        let words: BTreeSet<&str> = vars["ups.status"].split_whitespace().collect();
        for flag in FIXED_FLAGS.iter().copied().chain(words.iter().copied()) {
            let want = if words.contains(flag) { 1.0 } else { 0.0 };
            assert_eq!(value(&p, "network_ups_tools_ups_status", &[("ups", ups), ("flag", flag)]), Some(want), "{ups} flag {flag}");
        }
        let device = series(&p, "network_ups_tools_device_info", &[("ups", ups)]);
        assert_eq!(device.len(), 1, "{text}");
        for (label, var) in [("mfr", "device.mfr"), ("model", "device.model"), ("serial", "device.serial"), ("type", "device.type")] {
            assert_eq!(device[0].labels.get(label), vars.get(var), "device_info{{{label}}} of {ups}");
        }
    }
    // Every metric the Go NUT exporter's dashboard queries, for every UPS.
    // (the names it queries, extracted by scripts/upstream-names.py).
    let queried = dashboard_names("nut-exporter-druggeri.txt");
    assert!(queried.len() >= 8, "{queried:?}");
    for name in &queried {
        for (ups, _, _) in UPSES {
            assert!(!series(&p, name, &[("ups", ups)]).is_empty(), "{name}{{ups={ups}}} queried by the dashboard is missing");
        }
    }
    let (ok, report) = promtool_check_metrics(&text);
    assert!(ok, "promtool check metrics: {report}");
}

/// The config file's `nut.servers`: credentials from a file, a UPS filter,
/// an unknown UPS as a per-UPS state; bad entries stop start-up with the
/// file, line and key.
#[test]
fn config_file_servers_with_credentials_and_ups_filter() {
    let Some(nut) = NutServer::start(UPSES) else { return };
    let dir = tempfile::tempdir().unwrap();
    let password = dir.path().join("nut-password");
    fs::write(&password, "secret\n").unwrap();
    let config = dir.path().join("config.yaml");
    fs::write(
        &config,
        format!(
            "flags:\n  collector.disable-defaults: true\n  collector.nut: true\nnut:\n  servers:\n    - target: {}\n      username: admin\n      password_file: {}\n      ups: [ups1, nosuch]\n",
            nut.target(),
            password.display()
        ),
    )
    .unwrap();
    let exporter = Exporter::start(&[format!("--config.file={}", config.display())]);
    let (text, p) = scrape(&exporter);
    assert_eq!(nut_success(&p), Some(1.0), "{text}");
    assert_dev_values(&p, "ups1", UPSES[0].1, UPS1_DEV);
    assert!(series(&p, "nut_ups_info", &[("ups", "ups2")]).is_empty(), "{text}");
    assert_eq!(value(&p, "nut_ups_up", &[("ups", "nosuch")]), Some(0.0), "{text}");
    assert_eq!(value(&p, "nut_ups_error", &[("ups", "nosuch"), ("code", "UNKNOWN-UPS")]), Some(1.0), "{text}");
    assert!(!text.contains("secret"), "the password leaked into the metrics");
    drop(exporter);

    let run = |yaml: &str| {
        fs::write(&config, yaml).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_homelab-exporter"))
            .args(["check-config", &format!("--config.file={}", config.display())])
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).to_string())
    };
    let (code, err) = run("nut:\n  servers:\n    - target: 127.0.0.1:1\n      username: admin\n      password_file: /nonexistent/pw\n");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("config.yaml:5:") && err.contains("password_file") && err.contains("/nonexistent/pw"), "{err}");
    let (code, err) = run("nut:\n  servers:\n    - target: 127.0.0.1:1\n      pasword: x\n");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("config.yaml:4") && err.contains("pasword"), "{err}");
    let (code, err) = run("nut:\n  servers:\n    - target: nut://admin:pw@nas\n");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("config.yaml:3:") && !err.contains("pw@"), "{err}");
}

/// `/ups_metrics?server=HOST:PORT&ups=NAME`, the Go NUT exporter's path:
/// its `network_ups_tools_*` names for one UPS of the upsd, on the real
/// upsd, under the same allow list as `/probe`.
#[test]
fn go_nut_exporter_path_serves_one_ups_with_its_names() {
    let Some(nut) = NutServer::start(UPSES) else { return };
    let (first, _, _) = UPSES[0];
    let (second, _, _) = UPSES[1];
    let exporter = Exporter::start(&[
        "--collector.disable-defaults".into(),
        "--collector.loadavg".into(),
        "--collector.nut.probe".into(),
        format!("--collector.nut.probe-allow={}", nut.target()),
    ]);
    // One allowed server: `server=` may be left out, as the Go exporter's
    // scrape configs leave it out for its single configured server.
    for path in [format!("/ups_metrics?ups={first}"), format!("/ups_metrics?server={}&ups={first}", nut.target())] {
        let (status, _, body) = exporter.get(&path, &[("X-Prometheus-Scrape-Timeout-Seconds", "5")]);
        let text = String::from_utf8(body).unwrap();
        assert_eq!(status, 200, "{path}: {text}");
        let p = parse_exposition(&text);
        assert!(p.series.iter().any(|s| s.name == "network_ups_tools_battery_charge" && s.labels.get("ups").map(String::as_str) == Some(first)), "{text}");
        assert!(p.series.iter().any(|s| s.name == "network_ups_tools_device_info"), "{text}");
        assert!(!p.series.iter().any(|s| s.labels.get("ups").map(String::as_str) == Some(second)), "{path}: another UPS in {text}");
        assert!(!text.contains("\nnut_"), "{text}");
    }
    // Without ups=, every UPS of the server.
    let (_, _, body) = exporter.get("/ups_metrics", &[("X-Prometheus-Scrape-Timeout-Seconds", "5")]);
    let text = String::from_utf8(body).unwrap();
    assert!(text.contains(&format!("ups=\"{second}\"")), "{text}");
    assert_eq!(exporter.get("/ups_metrics?server=127.0.0.1:1", &[]).0, 403);
    drop(exporter);

    // Several allowed servers: `server=` is needed.
    let exporter = Exporter::start(&[
        "--collector.disable-defaults".into(),
        "--collector.nut.probe".into(),
        format!("--collector.nut.probe-allow={}", nut.target()),
        format!("--collector.nut.probe-allow=127.0.0.1:{}", free_port()),
    ]);
    assert_eq!(exporter.get(&format!("/ups_metrics?ups={first}"), &[]).0, 400);
    assert_eq!(exporter.get(&format!("/ups_metrics?server={}&ups={first}", nut.target()), &[]).0, 200);
}

/// `/probe?module=nut&target=HOST:PORT`: off unless enabled, only for
/// configured or allowed targets.
#[test]
fn probe_endpoint_serves_allowed_targets_only() {
    let Some(nut) = NutServer::start(UPSES) else { return };
    let dead = format!("127.0.0.1:{}", free_port());
    let exporter = Exporter::start(&[
        "--collector.disable-defaults".into(),
        "--collector.loadavg".into(),
        "--collector.nut.probe".into(),
        format!("--collector.nut.probe-allow={}", nut.target()),
        format!("--collector.nut.probe-allow={dead}"),
    ]);
    // /metrics does not query the probe-only targets.
    let (text, _) = scrape(&exporter);
    assert!(!text.contains("nut_"), "{text}");

    let path = format!("/probe?module=nut&target={}", nut.target().replace(':', "%3A"));
    let (status, _, body) = exporter.get(&path, &[("X-Prometheus-Scrape-Timeout-Seconds", "5")]);
    let text = String::from_utf8(body).unwrap();
    assert_eq!(status, 200, "{text}");
    let p = parse_exposition(&text);
    assert_eq!(target_up(&p, &nut.target()), Some(1.0), "{text}");
    for (ups, desc, dev) in UPSES {
        assert_dev_values(&p, ups, desc, dev);
    }
    assert!(!text.contains("node_scrape_collector"), "{text}");

    // The Rust NUT exporter's path for the same probe: existing scrape
    // configs (`metrics_path: /nut`) work unchanged, allow list included.
    let (status, _, body) = exporter.get(&format!("/nut?target={}", nut.target()), &[("X-Prometheus-Scrape-Timeout-Seconds", "5")]);
    let text = String::from_utf8(body).unwrap();
    assert_eq!(status, 200, "{text}");
    let p = parse_exposition(&text);
    for (ups, desc, dev) in UPSES {
        assert_dev_values(&p, ups, desc, dev);
    }
    assert_eq!(exporter.get("/nut?target=127.0.0.1:1", &[]).0, 403);

    let (status, _, body) = exporter.get(&format!("/probe?module=nut&target={dead}"), &[]);
    let text = String::from_utf8(body).unwrap();
    assert_eq!(status, 200, "{text}");
    assert_eq!(target_up(&parse_exposition(&text), &dead), Some(0.0), "{text}");

    let (status, _, body) = exporter.get("/probe?module=nut&target=127.0.0.1:1", &[]);
    assert_eq!(status, 403, "{}", String::from_utf8_lossy(&body));
    assert_eq!(exporter.get(&format!("/probe?module=snmp&target={}", nut.target()), &[]).0, 400);
    assert_eq!(exporter.get("/probe?module=nut", &[]).0, 400);
    assert_eq!(exporter.get("/probe?module=nut&target=nut://a:b@c", &[]).0, 400);
    drop(exporter);

    let exporter = nut_exporter(&[nut.target()], &[]);
    assert_eq!(exporter.get(&format!("/probe?module=nut&target={}", nut.target()), &[]).0, 404);
}
