//! The sysfs attribute readers of the host collectors (hwmon, thermal,
//! power_supply, netclass, cpufreq, CPU topology, watchdog, clock sources,
//! md), the os-release and TZif parsers, and the textfile collector's
//! Prometheus text parser.
//!
//! The first byte picks a case. For the sysfs cases the rest is a list of
//! files separated by NUL bytes, each `PATH\nCONTENT`, where PATH is one to
//! three names below the class directory (one name means a file of the
//! case's default device, unless PATH starts with `/`). The tree is written to a scratch sysfs and the
//! real collector reads it; what it gathers must encode to valid exposition
//! text. For the textfile case the files are `NAME.prom` in a scratch
//! directory, and the parser's reading of each `# HELP` line must match a
//! reference unescaping.

#![no_main]

use std::sync::{Arc, OnceLock};

use homelab_exporter::collector::Collector;
use homelab_exporter::host::{cpu, hwmon, netclass, os, textfile, time};
use homelab_fuzz::{build, check_exposition, gather_host, parts, safe_name, settings, text, Tree};
use libfuzzer_sys::fuzz_target;

/// Files per input, at most.
const MAX_FILES: usize = 24;

/// (case, collector, class directory below the scratch root, default device).
const CASES: &[(&str, &str, &str, &str)] = &[
    ("hwmon", "hwmon", "sys/class/hwmon", "hwmon0"),
    (
        "thermal",
        "thermal_zone",
        "sys/class/thermal",
        "thermal_zone0",
    ),
    (
        "power_supply",
        "powersupplyclass",
        "sys/class/power_supply",
        "BAT0",
    ),
    ("netclass", "netclass", "sys/class/net", "eth0"),
    (
        "cpufreq",
        "cpufreq",
        "sys/devices/system/cpu",
        "cpu0/cpufreq",
    ),
    ("cpu", "cpu", "sys/devices/system/cpu", "cpu0/topology"),
    ("watchdog", "watchdog", "sys/class/watchdog", "watchdog0"),
    (
        "clocksource",
        "time",
        "sys/devices/system/clocksource",
        "clocksource0",
    ),
    ("md", "mdadm", "sys/block", "md0/md"),
    ("os_release", "os", "root/etc", ""),
    ("textfile", "textfile", "textfile", ""),
];

struct Harness {
    tree: Arc<Tree>,
    collectors: Vec<Collector>,
}

fn harness() -> &'static Harness {
    static H: OnceLock<Harness> = OnceLock::new();
    H.get_or_init(|| {
        let tree = Tree::new("host_sys");
        let p = |rel: &str| tree.path(rel).display().to_string();
        let args: Vec<String> = vec![
            format!("--path.procfs={}", p("proc")),
            format!("--path.sysfs={}", p("sys")),
            format!("--path.rootfs={}", p("root")),
            format!("--path.udev.data={}", p("udev")),
            format!("--collector.textfile.directory={}", p("textfile")),
        ];
        let s = settings(&args);
        // The cpu collector needs a CPU line before it reads sysfs; mdadm needs mdstat.
        tree.write("proc/stat", b"cpu  1 2 3 4\ncpu0 1 2 3 4\n");
        tree.write(
            "proc/mdstat",
            b"Personalities : [raid1]\nunused devices: <none>\n",
        );
        let collectors = CASES
            .iter()
            .map(|(_, name, _, _)| build(name, &s))
            .collect();
        Harness { tree, collectors }
    })
}

/// The unescaping of a `# HELP` text in the Prometheus text format: `\\`
/// is a backslash, `\n` a newline, anything else stays as written.
fn reference_help(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Every `# HELP NAME TEXT` line the parser accepted must read as the
/// reference unescaping says (the last HELP line of a name wins).
fn check_help_lines(input: &str, families: &[textfile::TextFamily]) {
    let mut expected: Vec<(String, String)> = Vec::new();
    for line in input.lines() {
        let line = line.trim();
        let Some(comment) = line.strip_prefix('#') else {
            continue;
        };
        let comment = comment.trim_start();
        let Some((word, rest)) = comment.split_once(char::is_whitespace) else {
            continue;
        };
        if word != "HELP" {
            continue;
        }
        let (name, raw) = rest
            .trim_start()
            .split_once(char::is_whitespace)
            .unwrap_or((rest.trim(), ""));
        expected.retain(|(n, _)| n != name);
        expected.push((name.to_owned(), reference_help(raw)));
    }
    for fam in families {
        if let Some((_, help)) = expected.iter().find(|(n, _)| *n == fam.name) {
            assert_eq!(
                fam.help.as_deref(),
                Some(help.as_str()),
                "HELP of {} unescaped wrongly",
                fam.name
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let index = usize::from(selector) % CASES.len();
    let (case, _, base, default_dir) = CASES[index];
    let h = harness();
    h.tree.clear(base);

    match case {
        "os_release" => {
            let t = text(rest);
            let fields = os::parse(&t);
            if let Some(v) = fields.get("VERSION_ID") {
                let _ = os::version_number(v);
            }
            h.tree.write("root/etc/os-release", rest);
        }
        "textfile" => {
            for file in parts(rest, MAX_FILES) {
                let (name, content) = split_record(file);
                let t = text(content);
                if let Ok(families) = textfile::parse(&t) {
                    check_help_lines(&t, &families);
                }
                let name = safe_name(name).unwrap_or_else(|| "input".into());
                h.tree.write(&format!("textfile/{name}.prom"), content);
            }
        }
        _ => {
            for file in parts(rest, MAX_FILES) {
                let (path, content) = split_record(file);
                let t = text(content);
                pure_attr(&t, content);
                let segments: Vec<String> = path
                    .split(|&b| b == b'/')
                    .filter_map(safe_name)
                    .take(3)
                    .collect();
                let rooted = path.first() == Some(&b'/');
                let rel = match segments.len() {
                    0 => continue,
                    1 if !rooted => format!("{base}/{default_dir}/{}", segments[0]),
                    _ => format!("{base}/{}", segments.join("/")),
                };
                // A name may be both a file and a directory in the input: the first wins.
                if h.tree.path(&rel).exists()
                    || h.tree.path(&rel).parent().is_some_and(|p| p.is_file())
                {
                    continue;
                }
                if let Some(name) = segments.last() {
                    let _ = hwmon::explode(name);
                    let _ = hwmon::clean_name(name);
                }
                h.tree.write(&rel, content);
            }
        }
    }
    if let Some(snapshot) = gather_host(&h.collectors[index]) {
        check_exposition(vec![snapshot]);
    }
});

/// `PATH\nCONTENT`; no newline means a path with empty content.
fn split_record(file: &[u8]) -> (&[u8], &[u8]) {
    match file.iter().position(|&b| b == b'\n') {
        Some(i) => (&file[..i], &file[i + 1..]),
        None => (file, &[]),
    }
}

/// The small pure parsers of attribute values.
fn pure_attr(t: &str, raw: &[u8]) {
    let _ = netclass::parse_int(t);
    let _ = cpu::parse_cpu_list(t);
    let _ = hwmon::clean_name(t);
    let _ = hwmon::explode(t);
    let _ = time::zone_at(raw, 1_700_000_000);
    let _ = time::zone_at(raw, i64::MIN);
    let _ = time::zone_at(raw, i64::MAX);
}
