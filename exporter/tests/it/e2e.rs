//! node_exporter's end-to-end test, run on this binary: node_exporter's
//! exact command line (`end-to-end-test.sh`: its enabled and disabled
//! collectors, its collector flags) on its fixture tree, and its expected
//! output compared family by family, series by series, with HELP and TYPE.
//! Only node_exporter's own skip list is left out. Both expected outputs
//! are checked: with CPU info (`e2e-output.txt`, what node_exporter records
//! on x86_64) and without (`e2e-64k-page-output.txt`, its aarch64 and
//! ppc64le record, which differs from the first only by the CPU info
//! families).

use std::collections::{BTreeMap, BTreeSet};

use crate::common::{node_exporter_tree, parse_exposition, upstream, Exporter, Series};

/// node_exporter's end-to-end script's `skip_re`: families it drops before
/// it compares.
const SKIP_PREFIXES: &[&str] = &[
    "go_",
    "node_exporter_build_info",
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

pub fn skipped(name: &str) -> bool {
    SKIP_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// `enabled_collectors` of node_exporter's end-to-end script.
pub const ENABLED: &[&str] = &[
    "arp", "bcache", "bcachefs", "bonding", "btrfs", "buddyinfo", "cgroups", "conntrack", "cpu", "cpufreq", "cpu_vulnerabilities", "diskstats", "dmi",
    "drbd", "edac", "entropy", "fibrechannel", "filefd", "hwmon", "infiniband", "interrupts", "ipvs", "kernel_hung", "ksmd", "lnstat", "loadavg",
    "mdadm", "meminfo", "meminfo_numa", "mountstats", "netdev", "netstat", "nfs", "nfsd", "pcidevice", "pressure", "processes", "qdisc", "rapl",
    "schedstat", "slabinfo", "sockstat", "softirqs", "stat", "sysctl", "textfile", "thermal_zone", "udp_queues", "vmstat", "watchdog", "wifi", "xfrm",
    "xfs", "zfs", "zoneinfo",
];

/// `disabled_collectors` of node_exporter's end-to-end script.
const DISABLED: &[&str] = &["selinux", "filesystem", "timex", "uname"];

/// node_exporter's end-to-end command line with the tree's paths; with or
/// without the CPU info flags (node_exporter passes them on x86_64 only).
pub fn args(cpu_info: bool) -> Vec<String> {
    let o = node_exporter_tree();
    let o = o.to_str().unwrap();
    let mut args = vec![
        format!("--path.rootfs={o}"),
        format!("--path.procfs={o}/proc"),
        format!("--path.sysfs={o}/sys"),
        format!("--path.udev.data={o}/udev/data"),
    ];
    args.extend(ENABLED.iter().map(|c| format!("--collector.{c}")));
    args.extend(DISABLED.iter().map(|c| format!("--no-collector.{c}")));
    if cpu_info {
        args.push("--collector.cpu.info".into());
        args.push("--collector.cpu.info.bugs-include=^(cpu_meltdown|spectre_.*|mds)$".into());
        args.push("--collector.cpu.info.flags-include=^(aes|avx.?|constant_tsc)$".into());
    } else {
        args.push("--no-collector.cpu.info".into());
        args.push("--collector.cpu.info.bugs-include=".into());
        args.push("--collector.cpu.info.flags-include=".into());
    }
    args.extend([
        "--collector.arp.device-exclude=nope".into(),
        "--collector.bcache.priorityStats".into(),
        "--collector.hwmon.chip-include=(applesmc|asus_nb_wmi|coretemp|hwmon4|ieee80211|nct6779)".into(),
        "--collector.netclass.ignore-invalid-speed".into(),
        "--collector.netclass.ignored-devices=(dmz|int)".into(),
        "--collector.netdev.device-include=lo".into(),
        "--collector.qdisc.device-include=(wlan0|eth0)".into(),
        format!("--collector.qdisc.fixtures={o}/qdisc/"),
        "--collector.stat.softirq".into(),
        "--collector.sysctl.include-info=kernel.seccomp.actions_avail".into(),
        "--collector.sysctl.include=fs.file-nr".into(),
        "--collector.sysctl.include=fs.file-nr:total,current,max".into(),
        "--collector.sysctl.include=kernel.threads-max".into(),
        format!("--collector.textfile.directory={o}/textfile/two_metric_files/"),
        format!("--collector.wifi.fixtures={o}/wifi"),
        "--no-collector.arp.netlink".into(),
        "--log.level=debug".into(),
    ]);
    args
}

/// node_exporter's collector names (its command line as data): the
/// `node_scrape_collector_success` series of this exporter's own
/// collectors (docker, nut, mmc...) are not node_exporter's to compare.
fn node_exporter_collectors() -> BTreeSet<String> {
    std::fs::read_to_string(upstream().join("node_exporter/command-line.tsv"))
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("collector\t"))
        .filter_map(|l| l.split('\t').next())
        .map(str::to_owned)
        .collect()
}

fn key(s: &Series) -> String {
    format!("{}{:?}", s.name, s.labels)
}

fn same_value(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

/// Compares our output on the fixture tree with node_exporter's expected
/// output: every family node_exporter writes (after its skip list) must be
/// ours with the same TYPE, HELP and series; every `node_` family of ours
/// must be node_exporter's. Returns the report lines of every difference
/// and prints the counts.
pub fn compare(ours_text: &str, expected_text: &str) -> Vec<String> {
    let mine = parse_exposition(ours_text);
    let theirs = parse_exposition(expected_text);
    let collectors = node_exporter_collectors();
    let mut problems = Vec::new();

    let by_family = |parsed: &crate::common::Parsed| {
        let mut families: BTreeMap<String, Vec<Series>> = BTreeMap::new();
        for s in &parsed.series {
            // This exporter's own families (docker, nut, Proxmox, Pi) are
            // not node_exporter's to compare.
            let node_exporters = ["node_", "testmetric", "promhttp_"].iter().any(|p| s.name.starts_with(p));
            if skipped(&s.name) || !node_exporters {
                continue;
            }
            if s.name == "node_scrape_collector_success" && !s.labels.get("collector").is_some_and(|c| collectors.contains(c)) {
                continue;
            }
            families.entry(parsed.family_of(&s.name)).or_default().push(s.clone());
        }
        families
    };
    let mine_by_family = by_family(&mine);
    let theirs_by_family = by_family(&theirs);

    for family in theirs_by_family.keys().filter(|f| !mine_by_family.contains_key(*f)) {
        problems.push(format!("missing family {family}"));
    }
    for family in mine_by_family.keys().filter(|f| !theirs_by_family.contains_key(*f)) {
        problems.push(format!("extra family {family}"));
    }
    let mut families = 0;
    let mut series = 0;
    for (family, theirs_series) in &theirs_by_family {
        let Some(mine_series) = mine_by_family.get(family) else { continue };
        let mut family_ok = true;
        if mine.types.get(family) != theirs.types.get(family) {
            family_ok = false;
            problems.push(format!("{family}: TYPE {:?}, expected {:?}", mine.types.get(family), theirs.types.get(family)));
        }
        if mine.helps.get(family) != theirs.helps.get(family) {
            family_ok = false;
            problems.push(format!("{family}: HELP {:?}, expected {:?}", mine.helps.get(family), theirs.helps.get(family)));
        }
        let expected: BTreeMap<String, f64> = theirs_series.iter().map(|s| (key(s), s.value)).collect();
        let got: BTreeMap<String, f64> = mine_series.iter().map(|s| (key(s), s.value)).collect();
        if got.len() != mine_series.len() {
            family_ok = false;
            problems.push(format!("{family}: duplicate series"));
        }
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
        for k in got.keys().filter(|k| !expected.contains_key(*k)) {
            family_ok = false;
            problems.push(format!("extra series {k}"));
        }
        if family_ok {
            families += 1;
        }
    }
    println!(
        "node_exporter end-to-end: {families} of {} expected families and {series} series matched exactly (TYPE and HELP included); {} problems",
        theirs_by_family.len(),
        problems.len()
    );
    problems
}

fn check_variant(cpu_info: bool, expected_file: &str) {
    let exporter = Exporter::start(&args(cpu_info));
    // rapl's `path` label and the textfile HELP texts hold the tree's
    // paths, which node_exporter's run had as `collector/fixtures/...`.
    let tree = node_exporter_tree();
    let text = exporter.metrics().replace(&format!("{}/", tree.display()), "collector/fixtures/");
    let expected = std::fs::read_to_string(upstream().join("node_exporter").join(expected_file)).unwrap();
    let problems = compare(&text, &expected);
    for p in &problems {
        println!("  {p}");
    }
    assert!(problems.is_empty(), "{} differences from node_exporter's {expected_file} (listed above)", problems.len());
}

#[test]
fn node_exporter_end_to_end_with_cpu_info_as_on_x86_64() {
    check_variant(true, "e2e-output.txt");
}

#[test]
fn node_exporter_end_to_end_without_cpu_info_as_on_64k_page_machines() {
    check_variant(false, "e2e-64k-page-output.txt");
}

#[test]
fn every_enabled_collector_succeeds_on_the_fixture_tree() {
    let exporter = Exporter::start(&args(true));
    let parsed = parse_exposition(&exporter.metrics());
    let expected = parse_exposition(&std::fs::read_to_string(upstream().join("node_exporter/e2e-output.txt")).unwrap());
    let success = |p: &crate::common::Parsed, c: &str| {
        p.series
            .iter()
            .find(|s| s.name == "node_scrape_collector_success" && s.labels.get("collector").map(String::as_str) == Some(c))
            .map(|s| s.value)
    };
    for c in ENABLED {
        assert_eq!(success(&parsed, c), success(&expected, c), "node_scrape_collector_success of {c}");
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
