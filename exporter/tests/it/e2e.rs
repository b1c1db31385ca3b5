//! node_exporter's end-to-end test, on its own fixture tree: our output for
//! every family our host collectors emit must equal node_exporter's expected
//! output series for series, after the same skip filter.

use std::collections::{BTreeMap, BTreeSet};

use crate::common::{node_exporter_tree, parse_exposition, upstream, Exporter, Series};

/// Families node_exporter drops before it diffs (its end-to-end script's
/// `skip_re`), and the lines of ours that can't be compared the same way.
const SKIP_PREFIXES: &[&str] = &[
    "go_",
    "node_exporter_build_info",
    "homelab_exporter_build_info",
    "node_scrape_collector_duration_seconds",
    "process_",
    "node_textfile_mtime_seconds",
    "node_time_zone",
    "node_time_seconds",
    "node_network_receive_bytes_total",
    "node_network_receive_packets_total",
    "node_network_transmit_bytes_total",
    "node_network_transmit_packets_total",
];

/// Name prefixes of the families our host collectors are responsible for;
/// each with the prefixes within it that belong to collectors we don't have.
const OURS: &[(&str, &[&str])] = &[
    ("node_nf_conntrack_", &[]),
    ("node_arp_", &[]),
    ("node_udp_queues", &[]),
    ("node_interrupts_", &[]),
    ("node_processes_", &[]),
    ("node_cpu_", &["node_cpu_vulnerabilities"]),
    ("node_disk_", &[]),
    ("node_entropy_", &[]),
    ("node_filefd_", &[]),
    ("node_hwmon_", &[]),
    ("node_load", &[]),
    ("node_md_", &[]),
    ("node_memory_", &["node_memory_numa_"]),
    ("node_network_", &[]),
    ("node_netstat_", &[]),
    ("node_power_supply_", &[]),
    ("node_pressure_", &[]),
    ("node_schedstat_", &[]),
    ("node_sockstat_", &[]),
    ("node_softnet_", &[]),
    ("node_boot_time_seconds", &[]),
    ("node_context_switches_total", &[]),
    ("node_forks_total", &[]),
    ("node_intr_total", &[]),
    ("node_procs_", &[]),
    ("node_softirqs_total", &[]),
    ("node_textfile_", &[]),
    ("testmetric", &[]),
    ("node_thermal_zone_", &[]),
    ("node_cooling_device_", &[]),
    ("node_time_", &[]),
    ("node_vmstat_", &[]),
    ("node_watchdog_", &[]),
    ("node_scrape_collector_success", &[]),
    ("node_bonding_", &[]),
    ("node_infiniband_", &[]),
    ("node_fibrechannel_", &[]),
    ("node_ipvs_", &[]),
    ("node_xfrm_", &[]),
    ("node_pcidevice_", &[]),
    ("node_qdisc_", &[]),
    ("node_wifi_", &[]),
];

fn skipped(name: &str) -> bool {
    SKIP_PREFIXES.iter().any(|p| name.starts_with(p))
}

fn ours(name: &str) -> bool {
    OURS.iter().any(|(p, not)| name.starts_with(p) && !not.iter().any(|n| name.starts_with(n)))
}

/// The collectors the end-to-end run enables: all of ours but those that
/// read the live host (as node_exporter's script disables them).
const ENABLED: &[&str] = &[
    "arp", "udp_queues", "interrupts", "processes", "conntrack", "cpu", "cpufreq", "diskstats", "entropy", "filefd", "hwmon", "loadavg", "mdadm",
    "meminfo", "netclass", "netdev", "netstat", "powersupplyclass", "pressure", "schedstat",
    "sockstat", "softnet", "stat", "textfile", "thermal_zone", "time", "vmstat", "watchdog",
    "bonding", "infiniband", "fibrechannel", "ipvs", "xfrm", "pcidevice", "qdisc", "wifi",
];

fn args() -> Vec<String> {
    let o = node_exporter_tree();
    let o = o.to_str().unwrap();
    let mut args = vec![
        format!("--path.procfs={o}/proc"),
        format!("--path.sysfs={o}/sys"),
        format!("--path.rootfs={o}"),
        format!("--path.udev.data={o}/udev/data"),
        "--collector.disable-defaults".into(),
        "--collector.hwmon.chip-include=(applesmc|asus_nb_wmi|coretemp|hwmon4|ieee80211|nct6779)".into(),
        "--collector.netclass.ignore-invalid-speed".into(),
        "--collector.netclass.ignored-devices=(dmz|int)".into(),
        "--collector.netdev.device-include=lo".into(),
        "--collector.arp.device-exclude=nope".into(),
        "--no-collector.arp.netlink".into(),
        "--collector.stat.softirq".into(),
        "--collector.qdisc.device-include=(wlan0|eth0)".into(),
        format!("--collector.qdisc.fixtures={o}/qdisc/"),
        format!("--collector.wifi.fixtures={o}/wifi"),
        format!("--collector.textfile.directory={o}/textfile/two_metric_files/"),
    ];
    if cfg!(target_arch = "x86_64") {
        args.push("--collector.cpu.info".into());
        args.push("--collector.cpu.info.bugs-include=^(cpu_meltdown|spectre_.*|mds)$".into());
        args.push("--collector.cpu.info.flags-include=^(aes|avx.?|constant_tsc)$".into());
    } else {
        args.push("--no-collector.cpu.info".into());
    }
    args.extend(ENABLED.iter().map(|c| format!("--collector.{c}")));
    args
}

fn expected_file() -> &'static str {
    if rustix_page_size() == 65536 {
        "e2e-64k-page-output.txt"
    } else {
        "e2e-output.txt"
    }
}

fn rustix_page_size() -> usize {
    // The oracle was recorded for 4 KiB pages; aarch64 kernels may use 64 KiB.
    std::fs::read_to_string("/proc/self/smaps")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("KernelPageSize:").map(|v| v.trim().trim_end_matches(" kB").trim().to_owned())))
        .and_then(|kb| kb.parse::<usize>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(4096)
}

fn key(s: &Series) -> String {
    format!("{}{:?}", s.name, s.labels)
}

fn same_value(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

/// Compares our output on the oracle tree with node_exporter's. Returns the
/// report lines of every difference and prints the counts.
pub fn compare(ours_text: &str, expected_text: &str, enabled: &[&str]) -> Vec<String> {
    let mine = parse_exposition(ours_text);
    let theirs = parse_exposition(expected_text);
    let mut problems = Vec::new();

    let mut mine_by_family: BTreeMap<String, Vec<&Series>> = BTreeMap::new();
    for s in &mine.series {
        if !skipped(&s.name) {
            mine_by_family.entry(mine.family_of(&s.name)).or_default().push(s);
        }
    }
    let mut theirs_by_family: BTreeMap<String, Vec<&Series>> = BTreeMap::new();
    for s in &theirs.series {
        if skipped(&s.name) {
            continue;
        }
        if s.name == "node_scrape_collector_success" && !enabled.contains(&s.labels["collector"].as_str()) {
            continue;
        }
        theirs_by_family.entry(theirs.family_of(&s.name)).or_default().push(s);
    }

    // Families node_exporter's collectors of the same names emit must all be there.
    for family in theirs_by_family.keys().filter(|f| ours(f)) {
        if !mine_by_family.contains_key(family) {
            problems.push(format!("missing family {family}"));
        }
    }
    let mut families = 0;
    let mut series = 0;
    for (family, mine_series) in &mine_by_family {
        if let (Some(a), Some(b)) = (mine.types.get(family), theirs.types.get(family)) {
            if a != b {
                problems.push(format!("{family}: TYPE {a}, expected {b}"));
            }
        }
        let expected: BTreeMap<String, f64> = theirs_by_family
            .get(family)
            .map(|v| v.iter().map(|s| (key(s), s.value)).collect())
            .unwrap_or_default();
        let got: BTreeMap<String, f64> = mine_series.iter().map(|s| (key(s), s.value)).collect();
        if got.len() != mine_series.len() {
            problems.push(format!("{family}: duplicate series"));
        }
        let mut family_ok = true;
        for (k, v) in &expected {
            match got.get(k) {
                None => {
                    family_ok = false;
                    problems.push(format!("missing series {k} {v}"));
                }
                Some(g) if !same_value(*g, *v) => {
                    family_ok = false;
                    problems.push(format!("value of {k}: {g}, expected {v}"));
                }
                Some(_) => series += 1,
            }
        }
        let expected_keys: BTreeSet<&String> = expected.keys().collect();
        for k in got.keys().filter(|k| !expected_keys.contains(k)) {
            family_ok = false;
            problems.push(format!("extra series {k}"));
        }
        if family_ok {
            families += 1;
        }
    }
    println!(
        "node_exporter e2e oracle: {families} of {} families and {series} series matched exactly; {} problems",
        mine_by_family.len(),
        problems.len()
    );
    problems
}

#[test]
fn host_collectors_match_node_exporter_end_to_end_output() {
    let exporter = Exporter::start(&args());
    let text = exporter.metrics();
    let expected = std::fs::read_to_string(upstream().join("node_exporter").join(expected_file())).unwrap();
    let problems = compare(&text, &expected, ENABLED);
    for p in &problems {
        println!("  {p}");
    }
    assert!(problems.is_empty(), "{} differences from node_exporter's output (listed above)", problems.len());
}

#[test]
fn every_enabled_collector_succeeds_on_the_oracle_tree() {
    let exporter = Exporter::start(&args());
    let parsed = parse_exposition(&exporter.metrics());
    for c in ENABLED {
        let ok = parsed.series.iter().any(|s| {
            s.name == "node_scrape_collector_success" && s.labels.get("collector").map(String::as_str) == Some(c) && s.value == 1.0
        });
        assert!(ok, "collector {c} did not succeed on the oracle tree");
    }
}

/// The shared oracle tree lacks node_exporter's `usr/lib/os-release`
/// fixture, so the `os` collector is compared on its own: a root with an
/// os-release holding the values node_exporter's expected output shows.
#[test]
fn os_collector_matches_node_exporter_on_ubuntu_os_release() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("usr/lib")).unwrap();
    std::fs::write(
        root.path().join("usr/lib/os-release"),
        "NAME=\"Ubuntu\"\nVERSION=\"20.04.2 LTS (Focal Fossa)\"\nID=ubuntu\nID_LIKE=debian\nPRETTY_NAME=\"Ubuntu 20.04.2 LTS\"\nVERSION_ID=\"20.04\"\nVERSION_CODENAME=focal\nUBUNTU_CODENAME=focal\n",
    )
    .unwrap();
    let exporter = Exporter::start(&[
        format!("--path.rootfs={}", root.path().display()),
        "--collector.disable-defaults".into(),
        "--collector.os".into(),
    ]);
    let ours = parse_exposition(&exporter.metrics());
    let expected = parse_exposition(&std::fs::read_to_string(upstream().join("node_exporter/e2e-output.txt")).unwrap());
    let pick = |p: &crate::common::Parsed| -> Vec<String> {
        let mut v: Vec<String> = p.series.iter().filter(|s| s.name.starts_with("node_os_")).map(|s| format!("{} {}", key(s), s.value)).collect();
        v.sort();
        v
    };
    assert_eq!(pick(&ours), pick(&expected));
    assert_eq!(pick(&ours).len(), 2);
}

/// node_exporter's own test of `--collector.pcidevice.names` (its
/// `pcidevice-names-output.txt`): the info series of the oracle tree's
/// three devices named from its small `pci.ids`.
#[test]
fn pcidevice_names_come_from_the_ids_file() {
    let o = node_exporter_tree();
    let exporter = Exporter::start(&[
        format!("--path.sysfs={}/sys", o.display()),
        "--collector.disable-defaults".into(),
        "--collector.pcidevice".into(),
        "--collector.pcidevice.names".into(),
        format!("--collector.pcidevice.idsfile={}/pci.ids", o.display()),
    ]);
    let parsed = parse_exposition(&exporter.metrics());
    let mut names: Vec<[String; 6]> = parsed
        .series
        .iter()
        .filter(|s| s.name == "node_pcidevice_info")
        .map(|s| ["bus", "vendor_name", "device_name", "subsystem_vendor_name", "subsystem_device_name", "class_name"].map(|k| s.labels[k].clone()))
        .collect();
    names.sort();
    let expected = [
        ["00", "Advanced Micro Devices, Inc. [AMD]", "Renoir/Cezanne PCIe GPP Bridge", "Lenovo", "T540-5095 Unified Wire Ethernet Controller", "PCI bridge"],
        [
            "01",
            "Micron/Crucial Technology",
            "P2 [Nick P2] / P3 / P3 Plus NVMe PCIe SSD (DRAM-less)",
            "Micron/Crucial Technology",
            "PS5021-E21 PCIe4 NVMe Controller (DRAM-less)",
            "NVM Express",
        ],
        ["45", "Intel Corporation", "I350 Gigabit Network Connection", "Intel Corporation", "Ethernet Network Adapter I350-T4 for OCP NIC 3.0", "Ethernet controller"],
    ]
    .map(|row| row.map(String::from));
    assert_eq!(names, expected);
}
