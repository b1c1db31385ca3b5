//! The /proc parsers of the host collectors. The first byte picks a
//! collector; the rest, split at NUL bytes, is the content of the files it
//! reads. Each input goes through the pure parser(s), then through the real
//! collector reading a scratch procfs, and what the collector gathered must
//! encode to valid exposition text.

#![no_main]

use std::sync::{Arc, OnceLock};

use homelab_exporter::collector::Collector;
use homelab_exporter::host::{
    arp, conntrack, cpu, diskstats, filefd, filesystem, interrupts, loadavg, mdadm, meminfo,
    netdev, netstat, pressure, processes, schedstat, sockstat, softnet, stat, udp_queues, vmstat,
};
use homelab_fuzz::{build, check_exposition, gather_host, parts, settings, text, Tree};
use libfuzzer_sys::fuzz_target;

/// Stands for the udev database entry of the first disk in `diskstats`.
const UDEV: &str = "<udev>";

/// (collector, files below procfs it reads, in the order of the input's parts).
const CASES: &[(&str, &[&str])] = &[
    ("loadavg", &["loadavg"]),
    ("meminfo", &["meminfo"]),
    ("stat", &["stat"]),
    ("cpu", &["stat", "cpuinfo"]),
    ("vmstat", &["vmstat"]),
    ("diskstats", &["diskstats", UDEV]),
    ("netdev", &["net/dev"]),
    ("netstat", &["net/netstat", "net/snmp", "net/snmp6"]),
    ("sockstat", &["net/sockstat", "net/sockstat6"]),
    ("softnet", &["net/softnet_stat"]),
    (
        "conntrack",
        &[
            "sys/net/netfilter/nf_conntrack_count",
            "sys/net/netfilter/nf_conntrack_max",
            "net/stat/nf_conntrack",
        ],
    ),
    ("schedstat", &["schedstat"]),
    (
        "pressure",
        &[
            "pressure/cpu",
            "pressure/io",
            "pressure/memory",
            "pressure/irq",
        ],
    ),
    ("filesystem", &["1/mountinfo"]),
    ("mdadm", &["mdstat"]),
    ("interrupts", &["interrupts"]),
    ("arp", &["net/arp"]),
    ("filefd", &["sys/fs/file-nr"]),
    (
        "entropy",
        &[
            "sys/kernel/random/entropy_avail",
            "sys/kernel/random/poolsize",
        ],
    ),
    ("udp_queues", &["net/udp", "net/udp6"]),
    (
        "processes",
        &["1/stat", "sys/kernel/pid_max", "sys/kernel/threads-max"],
    ),
    // The collectors that came with node_exporter's full set: each through
    // the real collector, reading what the input wrote.
    ("zoneinfo", &["zoneinfo"]),
    ("buddyinfo", &["buddyinfo"]),
    ("slabinfo", &["slabinfo"]),
    ("softirqs", &["softirqs"]),
    ("swap", &["swaps"]),
    ("cgroups", &["cgroups"]),
    ("kernel_hung", &["sys/kernel/hung_task_detect_count"]),
    ("nfs", &["net/rpc/nfs"]),
    ("nfsd", &["net/rpc/nfsd"]),
    ("drbd", &["drbd"]),
    ("xfrm", &["net/xfrm_stat"]),
    ("ipvs", &["net/ip_vs_stats", "net/ip_vs"]),
    ("lnstat", &["net/stat/nf_conntrack", "net/stat/arp_cache"]),
    ("mountstats", &["self/mountinfo", "self/mountstats"]),
    ("zfs", &["spl/kstat/zfs/arcstats", "spl/kstat/zfs/zil", "spl/kstat/zfs/pool1/state", "spl/kstat/zfs/pool1/io"]),
];

struct Harness {
    tree: Arc<Tree>,
    collectors: Vec<Collector>,
}

fn harness() -> &'static Harness {
    static H: OnceLock<Harness> = OnceLock::new();
    H.get_or_init(|| {
        let tree = Tree::new("host_proc");
        let p = |rel: &str| tree.path(rel).display().to_string();
        let args: Vec<String> = vec![
            format!("--path.procfs={}", p("proc")),
            format!("--path.sysfs={}", p("sys")),
            format!("--path.rootfs={}", p("root")),
            format!("--path.udev.data={}", p("udev")),
            "--no-collector.netdev.netlink".into(),
            "--no-collector.arp.netlink".into(),
            "--collector.cpu.info".into(),
            "--collector.cpu.info.flags-include=.".into(),
            "--collector.cpu.info.bugs-include=.".into(),
            "--collector.stat.softirq".into(),
            "--collector.vmstat.fields=.".into(),
            "--collector.netstat.fields=.".into(),
            "--collector.diskstats.device-include=.".into(),
        ];
        let s = settings(&args);
        let collectors = CASES
            .iter()
            .map(|(name, _)| match *name {
                // A fixed statfs answer: the fuzz input is the mount table, not the mounts.
                "filesystem" => {
                    let stat: filesystem::StatFn = Arc::new(|_| {
                        Ok(filesystem::FsStats {
                            size: 4096.0,
                            free: 2048.0,
                            avail: 1024.0,
                            files: 10.0,
                            files_free: 5.0,
                        })
                    });
                    filesystem::with_stat(&s.flags.filesystem, &s.context(), stat).unwrap_or_else(|e| panic!("filesystem: {e}"))
                }
                name => build(name, &s),
            })
            .collect();
        Harness { tree, collectors }
    })
}

/// The pure parsers of one case, on the text of its files.
fn pure(case: &str, files: &[String]) {
    let first = files.first().map(String::as_str).unwrap_or("");
    match case {
        "loadavg" => {
            let _ = loadavg::parse(first);
        }
        "meminfo" => {
            let _ = meminfo::parse(first);
        }
        "stat" => {
            let _ = stat::parse(first);
        }
        "cpu" => {
            let _ = cpu::parse_stat(first);
            let _ = cpu::parse_cpuinfo(files.get(1).map(String::as_str).unwrap_or(""));
        }
        "vmstat" => {
            let all = vmstat::parse(first, &|_| true);
            let some = vmstat::parse(first, &|n| n.starts_with('p'));
            // Filtering can only drop fields, never add or fail more.
            if let Ok(all) = all {
                let some = some.unwrap_or_else(|e| {
                    panic!("filtered parse failed where the full one passed: {e}")
                });
                assert!(some.len() <= all.len());
            }
        }
        "diskstats" => {
            let _ = diskstats::parse(first);
            let _ = diskstats::parse_udev(files.get(1).map(String::as_str).unwrap_or(""));
        }
        "netdev" => {
            let _ = netdev::parse(first);
        }
        "netstat" => {
            for f in files {
                let _ = netstat::parse_paired(f);
                let _ = netstat::parse_snmp6(f);
            }
        }
        "sockstat" => {
            for f in files {
                let _ = sockstat::parse(f);
            }
        }
        "softnet" => {
            let _ = softnet::parse(first);
        }
        "conntrack" => {
            for f in files {
                let _ = conntrack::parse_stat(f);
            }
        }
        "schedstat" => {
            let _ = schedstat::parse(first);
        }
        "pressure" => {
            for f in files {
                let _ = pressure::parse(f);
            }
        }
        "filesystem" => {
            let _ = filesystem::parse_mountinfo(first);
        }
        "mdadm" => {
            let _ = mdadm::parse(first);
        }
        "interrupts" => {
            let _ = interrupts::parse(first);
        }
        "arp" => {
            let _ = arp::parse(first);
        }
        "filefd" => {
            let _ = filefd::parse(first);
        }
        "udp_queues" => {
            for f in files {
                let _ = udp_queues::parse(f);
            }
        }
        "processes" => {
            let _ = processes::parse_stat(first);
            let _ = homelab_exporter::process::parse_stat(first);
        }
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let index = usize::from(selector) % CASES.len();
    let (case, files) = CASES[index];
    let contents = parts(rest, files.len());
    let texts: Vec<String> = contents.iter().map(|c| text(c)).collect();
    pure(case, &texts);

    let h = harness();
    let rels: Vec<String> = files
        .iter()
        .map(|f| {
            if *f == UDEV {
                String::new()
            } else {
                format!("proc/{f}")
            }
        })
        .collect();
    let rels: Vec<&str> = rels.iter().map(String::as_str).collect();
    h.tree.write_parts(&rels, &contents);
    if case == "diskstats" {
        // The second part is the udev database entry of the first disk.
        h.tree.clear("udev");
        let first_disk = texts
            .first()
            .and_then(|t| diskstats::parse(t).ok())
            .and_then(|d| d.into_iter().next());
        if let (Some(d), Some(udev)) = (first_disk, contents.get(1)) {
            h.tree
                .write(&format!("udev/b{}:{}", d.major, d.minor), udev);
        }
    }
    if let Some(snapshot) = gather_host(&h.collectors[index]) {
        check_exposition(vec![snapshot]);
    }
});
