//! The `nvmesubsystem` collector: NVMe subsystems and their controller
//! paths (NVMe over Fabrics multipath, or a local drive's one path) from
//! `/sys/class/nvme-subsystem/nvme-subsysN` as `node_nvmesubsystem_*`.

use std::path::Path;
use std::sync::Arc;

use crate::collector::{BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::host::util::{list_dir, read_attr};
use crate::metrics::{Kind, Snapshot};

/// The states `path_state` reports, sorted; a controller's state is one of
/// them (`deleting (no IO)` counts as `deleting`, any other as `unknown`).
const STATES: [&str; 7] = ["connecting", "dead", "deleting", "live", "new", "resetting", "unknown"];

/// The `path_state` state of a controller's `state` attribute.
pub fn normalize_state(raw: &str) -> &'static str {
    match raw {
        "deleting (no IO)" => "deleting",
        other => STATES.iter().find(|s| **s == other).copied().unwrap_or("unknown"),
    }
}

/// `nvme<digits>`: a controller.
fn is_controller(name: &str) -> bool {
    name.strip_prefix("nvme").is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

/// `nvme<digits>n<digits>`: a namespace's block device.
fn is_namespace(name: &str) -> bool {
    name.strip_prefix("nvme")
        .and_then(|r| r.split_once('n'))
        .is_some_and(|(c, n)| !c.is_empty() && !n.is_empty() && c.bytes().all(|b| b.is_ascii_digit()) && n.bytes().all(|b| b.is_ascii_digit()))
}

/// One controller path of a subsystem.
#[derive(Debug, PartialEq)]
pub struct Controller {
    /// `nvme0`, ...
    pub name: String,
    /// Its `state` attribute.
    pub state: String,
    /// Its `transport` attribute (`pcie`, `tcp`, `fc`, `rdma`).
    pub transport: String,
}

/// One subsystem.
#[derive(Debug, PartialEq)]
pub struct Subsystem {
    /// `nvme-subsys0`, ...
    pub name: String,
    /// `subsysnqn`.
    pub nqn: String,
    /// `model`.
    pub model: String,
    /// `serial`.
    pub serial: String,
    /// `iopolicy` (empty on kernels without NVMe multipath).
    pub iopolicy: String,
    /// Its controllers, by name.
    pub controllers: Vec<Controller>,
    /// Its namespaces' block devices, by name.
    pub namespaces: Vec<String>,
}

/// Reads one subsystem directory.
pub fn read_subsystem(dir: &Path, name: &str) -> Result<Subsystem, Error> {
    let attr = |f: &str| read_attr(&dir.join(f));
    let iopolicy = match attr("iopolicy") {
        Ok(v) => v,
        Err(e) if e.is_not_found() => String::new(),
        Err(e) => return Err(e),
    };
    let mut subsystem = Subsystem {
        name: name.to_owned(),
        nqn: attr("subsysnqn")?,
        model: attr("model")?.trim().to_owned(),
        serial: attr("serial")?.trim().to_owned(),
        iopolicy,
        controllers: Vec::new(),
        namespaces: Vec::new(),
    };
    for entry in list_dir(dir)? {
        if is_controller(&entry) {
            let c = dir.join(&entry);
            subsystem.controllers.push(Controller { state: read_attr(&c.join("state"))?, transport: read_attr(&c.join("transport"))?, name: entry });
        } else if is_namespace(&entry) {
            subsystem.namespaces.push(entry);
        }
    }
    Ok(subsystem)
}

struct NvmeSubsystem(Arc<HostPaths>);

impl HostCollector for NvmeSubsystem {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let base = self.0.sys("class/nvme-subsystem");
        let entries = match list_dir(&base) {
            Ok(e) => e,
            Err(e) if e.is_not_found() => return Err(Error::NoData(format!("no {}: no NVMe subsystems", base.display()))),
            Err(e) => return Err(e),
        };
        let mut any = false;
        for name in entries.iter().filter(|n| n.starts_with("nvme-subsys")) {
            any = true;
            let s = read_subsystem(&base.join(name), name)?;
            out.family("node_nvmesubsystem_info", "Non-numeric information about an NVMe subsystem.", Kind::Gauge).add(
                &[("subsystem", &s.name), ("nqn", &s.nqn), ("model", &s.model), ("serial", &s.serial), ("iopolicy", &s.iopolicy)],
                1.0,
            );
            for ns in &s.namespaces {
                out.family("node_nvmesubsystem_namespace_info", "Maps an NVMe namespace block device to its subsystem.", Kind::Gauge)
                    .add(&[("subsystem", &s.name), ("device", ns)], 1.0);
            }
            let mut live = 0;
            for c in &s.controllers {
                let state = normalize_state(&c.state);
                live += usize::from(state == "live");
                let family = out.family(
                    "node_nvmesubsystem_path_state",
                    "Current NVMe controller path state (1 for the current state, 0 for all others).",
                    Kind::Gauge,
                );
                for candidate in STATES {
                    family.add(
                        &[("subsystem", &s.name), ("controller", &c.name), ("transport", &c.transport), ("state", candidate)],
                        if candidate == state { 1.0 } else { 0.0 },
                    );
                }
            }
            let labels = [("subsystem", s.name.as_str())];
            out.family("node_nvmesubsystem_paths", "Number of controller paths for an NVMe subsystem.", Kind::Gauge)
                .add(&labels, s.controllers.len() as f64);
            out.family("node_nvmesubsystem_paths_live", "Number of controller paths in live state for an NVMe subsystem.", Kind::Gauge)
                .add(&labels, live as f64);
        }
        if any {
            Ok(())
        } else {
            Err(Error::NoData("no NVMe subsystems".into()))
        }
    }
}

/// Builds the collector.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(NvmeSubsystem(cx.paths.clone()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_states() {
        for (raw, want) in [
            ("live", "live"),
            ("connecting", "connecting"),
            ("resetting", "resetting"),
            ("dead", "dead"),
            ("deleting", "deleting"),
            ("deleting (no IO)", "deleting"),
            ("new", "new"),
            ("", "unknown"),
            ("something-else", "unknown"),
        ] {
            assert_eq!(normalize_state(raw), want, "{raw}");
        }
        assert!(is_controller("nvme12") && !is_controller("nvme") && !is_controller("nvme0n1") && !is_controller("nvme0c0n1"));
        assert!(is_namespace("nvme0n1") && !is_namespace("nvme0n") && !is_namespace("nvmen1") && !is_namespace("nvme0c0n1"));
    }

    fn gather(sys: &Path) -> Result<Vec<String>, Error> {
        let paths = Arc::new(HostPaths { sysfs: sys.to_owned(), ..HostPaths::default() });
        let mut out = Snapshot::new();
        NvmeSubsystem(paths).gather(&Scrape { deadline: std::time::Instant::now() }, &mut out)?;
        let mut lines: Vec<String> = out
            .families
            .iter()
            .flat_map(|f| {
                f.samples.iter().map(move |s| {
                    let mut labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
                    labels.sort();
                    format!("{}{{{}}} {}", f.name, labels.join(","), s.value)
                })
            })
            .collect();
        lines.sort();
        Ok(lines)
    }

    /// node_exporter's expected output for its fixture (its unit test).
    #[test]
    fn matches_node_exporter_on_its_fixture() {
        let sys = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/upstream/node_exporter/sys");
        let lines = gather(&sys).unwrap();
        let s = "subsystem=\"nvme-subsys0\"";
        assert!(lines.contains(&format!(
            "node_nvmesubsystem_info{{iopolicy=\"round-robin\",model=\"Dell PowerStore\",nqn=\"nqn.2014-08.org.nvmexpress:uuid:a34c4f3a-0d6f-5cec-dead-beefcafebabe\",serial=\"SN12345678\",{s}}} 1"
        )));
        assert!(lines.contains(&format!("node_nvmesubsystem_namespace_info{{device=\"nvme0n1\",{s}}} 1")));
        assert!(lines.contains(&format!("node_nvmesubsystem_paths{{{s}}} 4")));
        assert!(lines.contains(&format!("node_nvmesubsystem_paths_live{{{s}}} 3")));
        assert!(lines.contains(&format!("node_nvmesubsystem_path_state{{controller=\"nvme3\",state=\"dead\",{s},transport=\"fc\"}} 1")));
        assert!(lines.contains(&format!("node_nvmesubsystem_path_state{{controller=\"nvme0\",state=\"unknown\",{s},transport=\"fc\"}} 0")));
        let states = lines.iter().filter(|l| l.starts_with("node_nvmesubsystem_path_state")).count();
        assert_eq!(states, 4 * 7);
        assert_eq!(lines.iter().filter(|l| l.starts_with("node_nvmesubsystem_path_state") && l.ends_with(" 1")).count(), 4);
        assert_eq!(lines.len(), 1 + 1 + 28 + 1 + 1);
    }

    #[test]
    fn no_devices_is_no_data_and_a_missing_attribute_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(gather(dir.path()), Err(Error::NoData(_))));
        let sub = dir.path().join("class/nvme-subsystem/nvme-subsys0");
        std::fs::create_dir_all(&sub).unwrap();
        assert!(matches!(gather(dir.path()), Err(Error::Io { .. })));
        for (f, v) in [("subsysnqn", "nqn.x"), ("model", "M  "), ("serial", "S")] {
            std::fs::write(sub.join(f), format!("{v}\n")).unwrap();
        }
        let lines = gather(dir.path()).unwrap();
        assert!(lines.contains(&"node_nvmesubsystem_info{iopolicy=\"\",model=\"M\",nqn=\"nqn.x\",serial=\"S\",subsystem=\"nvme-subsys0\"} 1".to_owned()), "{lines:?}");
        assert!(lines.contains(&"node_nvmesubsystem_paths{subsystem=\"nvme-subsys0\"} 0".to_owned()));
    }
}
