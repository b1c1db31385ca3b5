//! The `cpu_vulnerabilities` collector: the kernel's verdict on each known
//! CPU vulnerability, from `/sys/devices/system/cpu/vulnerabilities/*`, as
//! `node_cpu_vulnerabilities_info{codename,state,mitigation}`.
//!
//! The `cpu` collector owns the other `node_cpu_*` families.

use std::sync::Arc;

use crate::collector::{BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::host::util::{list_dir, with_attr};
use crate::metrics::{Kind, Snapshot};

/// A vulnerability file's content as a state and the text after it.
#[derive(Debug, PartialEq)]
pub struct Verdict {
    /// `not affected`, `vulnerable`, `mitigation` or `unknown`.
    pub state: &'static str,
    /// What follows the state word (`Mitigation: ...`), whitespace collapsed;
    /// for text that starts with no known state, the whole text.
    pub mitigation: String,
}

/// Reads one file's text, such as `Mitigation: Retpolines, IBPB: conditional`
/// or `Not affected`. The state words are matched ignoring case.
pub fn parse(text: &str) -> Verdict {
    let text = text.trim();
    let lower = text.to_ascii_lowercase();
    let rest = || text.split_ascii_whitespace().skip(1).collect::<Vec<_>>().join(" ");
    if lower.starts_with("not affected") {
        Verdict { state: "not affected", mitigation: String::new() }
    } else if lower.starts_with("vulnerable") {
        Verdict { state: "vulnerable", mitigation: rest() }
    } else if lower.starts_with("mitigation") {
        Verdict { state: "mitigation", mitigation: rest() }
    } else if lower.starts_with("unknown") {
        Verdict { state: "unknown", mitigation: rest() }
    } else {
        Verdict { state: "unknown", mitigation: text.to_owned() }
    }
}

struct CpuVulnerabilities(Arc<HostPaths>);

impl HostCollector for CpuVulnerabilities {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let dir = self.0.sys("devices/system/cpu/vulnerabilities");
        let names = match list_dir(&dir) {
            Ok(n) => n,
            Err(e) if e.is_not_found() => return Err(Error::NoData(format!("no {}: the kernel reports no CPU vulnerabilities", dir.display()))),
            Err(e) => return Err(e),
        };
        let family = out.family(
            "node_cpu_vulnerabilities_info",
            "Details of each CPU vulnerability reported by sysfs. The value of the series is an int encoded state of the vulnerability. The same state is stored as a string in the label",
            Kind::Gauge,
        );
        for name in &names {
            let verdict = with_attr(&dir.join(name), parse)?;
            family.add(&[("codename", name), ("state", verdict.state), ("mitigation", &verdict.mitigation)], 1.0);
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(CpuVulnerabilities(cx.paths.clone()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_state() {
        assert_eq!(parse("Not affected\n"), Verdict { state: "not affected", mitigation: String::new() });
        assert_eq!(parse("Vulnerable\n"), Verdict { state: "vulnerable", mitigation: String::new() });
        assert_eq!(
            parse("Vulnerable: Clear CPU buffers attempted,  no microcode; SMT vulnerable\n"),
            Verdict { state: "vulnerable", mitigation: "Clear CPU buffers attempted, no microcode; SMT vulnerable".into() }
        );
        assert_eq!(
            parse(include_str!("../../../testdata/upstream/node_exporter/sys/devices/system/cpu/vulnerabilities/spectre_v2")),
            Verdict { state: "mitigation", mitigation: "Retpolines, IBPB: conditional, STIBP: always-on, RSB filling, PBRSB-eIBRS: Not affected".into() }
        );
        assert_eq!(parse("Unknown: No mitigations"), Verdict { state: "unknown", mitigation: "No mitigations".into() });
        // Text in no known form is kept whole, under state "unknown".
        assert_eq!(parse("Processor vulnerable"), Verdict { state: "unknown", mitigation: "Processor vulnerable".into() });
        assert_eq!(parse(""), Verdict { state: "unknown", mitigation: String::new() });
    }
}
