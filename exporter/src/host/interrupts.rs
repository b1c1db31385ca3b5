//! The `interrupts` collector (off by default, as in node_exporter):
//! interrupt counts per CPU and source from `/proc/interrupts`.

use std::sync::Arc;

use crate::collector::{read_to_string, BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::metrics::{Kind, Snapshot};

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

struct Interrupts(Arc<HostPaths>);

impl HostCollector for Interrupts {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let path = self.0.proc("interrupts");
        let irqs = parse(&read_to_string(&path)?).map_err(|d| Error::parse(&path, d))?;
        let fam = out.family("node_interrupts_total", "Interrupt details.", Kind::Counter);
        for irq in &irqs {
            for (cpu, v) in irq.values.iter().enumerate() {
                fam.add(&[("cpu", &cpu.to_string()), ("type", &irq.kind), ("info", &irq.info), ("devices", &irq.devices)], *v as f64);
            }
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(Interrupts(cx.paths.clone()))))
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
}
