//! The `buddyinfo` collector: free blocks of each order per zone from
//! `/proc/buddyinfo` as `node_buddyinfo_blocks{node,zone,size}`, `size`
//! being the order (a block of order n is 2^n pages).

use std::sync::Arc;

use crate::collector::{read_to_string, BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::metrics::{Kind, Snapshot};

/// One line: `Node N, zone NAME c0 c1 ...`.
#[derive(Debug, PartialEq)]
pub struct Line {
    /// The node number, as written.
    pub node: String,
    /// The zone name.
    pub zone: String,
    /// Free blocks of each order, from order 0 up.
    pub counts: Vec<f64>,
}

/// Parses `/proc/buddyinfo`. Every line must have as many orders as the first.
pub fn parse(text: &str) -> Result<Vec<Line>, String> {
    let mut lines: Vec<Line> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = |detail: String| format!("line {}: {detail}", n + 1);
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        let (["Node", node, "zone", zone], counts) = fields.split_at(fields.len().min(4)) else {
            return Err(at(format!("not a \"Node N, zone NAME ...\" line: {line:?}")));
        };
        let counts = counts
            .iter()
            .map(|c| c.parse::<u64>().map(|v| v as f64).map_err(|_| at(format!("count {c:?} is not an unsigned integer"))))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(first) = lines.first() {
            if first.counts.len() != counts.len() {
                return Err(at(format!("{} orders where the first line has {}", counts.len(), first.counts.len())));
            }
        }
        lines.push(Line { node: node.trim_end_matches(',').to_owned(), zone: zone.trim_end_matches(',').to_owned(), counts });
    }
    Ok(lines)
}

/// The `size` label values of the first orders, so that a scrape formats none.
const ORDERS: [&str; 16] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15"];

struct Buddyinfo(Arc<HostPaths>);

impl HostCollector for Buddyinfo {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let path = self.0.proc("buddyinfo");
        let text = match read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.is_not_found() => return Err(Error::NoData(format!("no {}: this kernel has no buddyinfo", path.display()))),
            Err(e) => return Err(e),
        };
        let lines = parse(&text).map_err(|d| Error::parse(&path, d))?;
        let family = out.family("node_buddyinfo_blocks", "Count of free blocks according to size.", Kind::Gauge);
        for line in &lines {
            for (order, count) in line.counts.iter().enumerate() {
                let owned;
                let size = match ORDERS.get(order) {
                    Some(s) => *s,
                    None => {
                        owned = order.to_string();
                        owned.as_str()
                    }
                };
                family.add(&[("node", &line.node), ("zone", &line.zone), ("size", size)], *count);
            }
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(Buddyinfo(cx.paths.clone()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = include_str!("../../../testdata/upstream/node_exporter/proc/buddyinfo");

    #[test]
    fn parses_the_fixture() {
        let lines = parse(FIXTURE).unwrap();
        assert_eq!(lines.len(), 3);
        assert_eq!((lines[1].node.as_str(), lines[1].zone.as_str()), ("0", "DMA32"));
        assert_eq!(lines[2].counts, [4381.0, 1093.0, 185.0, 1530.0, 567.0, 102.0, 4.0, 0.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn refuses_malformed_input() {
        assert!(parse("").unwrap().is_empty());
        assert!(parse("Node 0, zone").unwrap_err().contains("line 1"));
        assert!(parse("Node 0, zone DMA 1 x\n").unwrap_err().contains("\"x\""));
        assert!(parse("Node 0, zone DMA 1 99999999999999999999999\n").is_err());
        assert!(parse("Node 0, zone DMA 1 2\nNode 0, zone Normal 1\n").unwrap_err().contains("line 2"));
        assert!(parse("garbage here and there\n").is_err());
    }
}
