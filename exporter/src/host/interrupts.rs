//! The `interrupts` collector (off by default, as in node_exporter):
//! interrupt counts per CPU and source from `/proc/interrupts`.

use std::sync::Arc;

use crate::collector::{read_to_string, BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::host::util::Filter;
use crate::metrics::{Kind, Snapshot};

/// Flags of the `interrupts` collector.
#[derive(Debug, Clone, clap::Args)]
#[group(skip)]
pub struct Options {
    /// Regexp of interrupts to include, matched against `TYPE;INFO;DEVICES` (mutually exclusive to --collector.interrupts.name-exclude).
    #[arg(long = "collector.interrupts.name-include")]
    pub interrupts_name_include: Option<String>,
    /// Regexp of interrupts to exclude, matched against `TYPE;INFO;DEVICES` (mutually exclusive to --collector.interrupts.name-include).
    #[arg(long = "collector.interrupts.name-exclude")]
    pub interrupts_name_exclude: Option<String>,
    /// Include interrupts whose count is zero.
    #[arg(long = "collector.interrupts.include-zeros", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true")]
    pub interrupts_include_zeros: bool,
}

/// One line of `/proc/interrupts`.
#[derive(Debug, PartialEq)]
pub struct Interrupt {
    /// The IRQ number or name (`0`, `NMI`).
    pub kind: String,
    /// The controller/type column for numbered IRQs, the description otherwise.
    pub info: String,
    /// The devices on a numbered IRQ, empty otherwise.
    pub devices: String,
    /// One count per CPU.
    pub values: Vec<u64>,
}

/// Parses `/proc/interrupts`. Lines with fewer counts than CPUs (ERR, MIS)
/// are skipped, as node_exporter does.
pub fn parse(text: &str) -> Result<Vec<Interrupt>, String> {
    let mut lines = text.lines();
    let cpus = lines.next().ok_or("empty file")?.split_ascii_whitespace().filter(|w| w.starts_with("CPU")).count();
    if cpus == 0 {
        return Err("no CPU columns in the header".into());
    }
    let mut out = Vec::new();
    for (n, line) in lines.enumerate() {
        let Some((kind, rest)) = line.split_once(':') else { continue };
        let kind = kind.trim();
        let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
        if fields.len() < cpus {
            continue;
        }
        let values: Result<Vec<u64>, _> = fields[..cpus].iter().map(|v| v.parse::<u64>()).collect();
        let values = values.map_err(|_| format!("line {}: bad count in {line:?}", n + 2))?;
        let tail = &fields[cpus..];
        let (info, devices) = if kind.bytes().all(|b| b.is_ascii_digit()) {
            (tail.first().copied().unwrap_or("").to_owned(), tail.get(1..).map(|d| d.join(" ")).unwrap_or_default())
        } else {
            (tail.join(" "), String::new())
        };
        out.push(Interrupt { kind: kind.to_owned(), info, devices, values });
    }
    Ok(out)
}

struct Interrupts {
    paths: Arc<HostPaths>,
    names: Filter,
    include_zeros: bool,
}

impl HostCollector for Interrupts {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let path = self.paths.proc("interrupts");
        let irqs = parse(&read_to_string(&path)?).map_err(|d| Error::parse(&path, d))?;
        let fam = out.family("node_interrupts_total", "Interrupt details.", Kind::Counter);
        for irq in &irqs {
            if !self.names.accepts(&format!("{};{};{}", irq.kind, irq.info, irq.devices)) {
                continue;
            }
            for (cpu, v) in irq.values.iter().enumerate() {
                if *v == 0 && !self.include_zeros {
                    continue;
                }
                fam.add(&[("cpu", &cpu.to_string()), ("type", &irq.kind), ("info", &irq.info), ("devices", &irq.devices)], *v as f64);
            }
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(o: &Options, cx: &Context) -> Result<Option<Collector>, BuildError> {
    let names = Filter::exclusive("interrupts", "name", o.interrupts_name_include.as_deref(), o.interrupts_name_exclude.as_deref())?;
    Ok(Some(Collector::host(Interrupts { paths: cx.paths.clone(), names, include_zeros: o.interrupts_include_zeros })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_numbered_and_named_lines() {
        let v = parse("           CPU0       CPU1\n 16:  1  2  IR-IO-APIC-fasteoi   ehci_hcd:usb1, mmc0\nNMI:  3  4   Non-maskable interrupts\nERR:  0\n").unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!((v[0].info.as_str(), v[0].devices.as_str()), ("IR-IO-APIC-fasteoi", "ehci_hcd:usb1, mmc0"));
        assert_eq!((v[1].info.as_str(), v[1].devices.as_str(), v[1].values.clone()), ("Non-maskable interrupts", "", vec![3, 4]));
        assert!(parse("CPU0\n 1: x y\n").is_err());
        assert!(parse("").is_err());
        assert!(parse("nothing\n").is_err());
    }

    fn counted(args: &[&str]) -> Vec<(String, String, f64)> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("interrupts"), "     CPU0  CPU1\n 16:  0  2  IO-APIC  ehci_hcd:usb1\nNMI:  3  0  Non-maskable interrupts\n").unwrap();
        let paths = Arc::new(HostPaths { procfs: dir.path().to_owned(), ..HostPaths::default() });
        let o: Options = crate::collector::parse_options(args).unwrap();
        let Some(Collector::Host(c)) = build(&o, &Context::new(&paths)).unwrap() else { panic!("not a host collector") };
        let mut out = Snapshot::new();
        c.gather(&Scrape { deadline: std::time::Instant::now() + std::time::Duration::from_secs(5) }, &mut out).unwrap();
        out.families
            .iter()
            .flat_map(|f| f.samples.iter().map(|s| (s.labels.iter().find(|(k, _)| *k == "type").unwrap().1.to_string(), s.labels.iter().find(|(k, _)| *k == "cpu").unwrap().1.to_string(), s.value)))
            .collect()
    }

    #[test]
    fn name_filters_and_zeros_follow_node_exporter() {
        assert_eq!(counted(&[]).len(), 4);
        assert_eq!(counted(&["--collector.interrupts.include-zeros=false"]), [("16".into(), "1".into(), 2.0), ("NMI".into(), "0".into(), 3.0)]);
        // Matched against TYPE;INFO;DEVICES, unanchored.
        assert_eq!(counted(&["--collector.interrupts.name-include=ehci"]).len(), 2);
        assert!(counted(&["--collector.interrupts.name-exclude=^NMI;"]).iter().all(|(t, _, _)| t == "16"));
        let o: Options = crate::collector::parse_options(&["--collector.interrupts.name-include=a", "--collector.interrupts.name-exclude=b"]).unwrap();
        let paths = Arc::new(HostPaths::default());
        assert!(build(&o, &Context::new(&paths)).is_err());
    }
}
