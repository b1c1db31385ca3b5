//! The `sockstat` collector: socket counts per protocol and state from
//! `/proc/net/sockstat` and `/proc/net/sockstat6`; `mem` (pages) is also
//! reported in bytes.

use std::sync::Arc;

use crate::collector::{read_to_string, BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::host::util::{is_name_part, static_name, Memo};
use crate::metrics::{Name, Snapshot};

/// One `PROTO: key value key value` line.
#[derive(Debug, PartialEq)]
pub struct Line {
    /// Protocol, e.g. `TCP` or `sockets`.
    pub protocol: String,
    /// (state, value) pairs.
    pub values: Vec<(String, u64)>,
}

/// Parses a sockstat file.
pub fn parse(text: &str) -> Result<Vec<Line>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let (proto, rest) = line.split_once(':').ok_or_else(|| format!("line {}: no protocol in {line:?}", n + 1))?;
        let proto = proto.trim();
        if !is_name_part(proto) {
            return Err(format!("line {}: protocol {proto:?} cannot be a metric name", n + 1));
        }
        let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
        if fields.len() % 2 != 0 {
            return Err(format!("line {}: odd number of fields in {line:?}", n + 1));
        }
        let mut values = Vec::with_capacity(fields.len() / 2);
        for pair in fields.chunks(2) {
            if !is_name_part(pair[0]) {
                return Err(format!("line {}: state {:?} cannot be a metric name", n + 1, pair[0]));
            }
            let v = pair[1].parse().map_err(|_| format!("line {}: bad value {:?}", n + 1, pair[1]))?;
            values.push((pair[0].to_owned(), v));
        }
        out.push(Line { protocol: proto.to_owned(), values });
    }
    Ok(out)
}

struct Sockstat {
    paths: Arc<HostPaths>,
    page_size: u64,
    /// Metric name and help per `proto_state`, made once (see [`Memo`]).
    names: Memo<(Name, Name)>,
}

impl Sockstat {
    fn names(&self, key: &mut String, proto: &str, state: &str) -> (Name, Name) {
        key.clear();
        key.push_str(proto);
        key.push(' ');
        key.push_str(state);
        self.names.get(key, |_| {
            (static_name(format!("node_sockstat_{proto}_{state}")), static_name(format!("Number of {proto} sockets in state {state}.")))
        })
    }
}

impl HostCollector for Sockstat {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let mut key = String::with_capacity(32);
        for (file, v6) in [("net/sockstat", false), ("net/sockstat6", true)] {
            let path = self.paths.proc(file);
            let text = match read_to_string(&path) {
                Ok(t) => t,
                Err(e) if v6 && e.is_not_found() => continue,
                Err(e) => return Err(e),
            };
            for line in parse(&text).map_err(|d| Error::parse(&path, d))? {
                if line.protocol == "sockets" {
                    for (state, v) in &line.values {
                        if state == "used" {
                            let (name, help) = if v6 {
                                ("node_sockstat_sockets6_used", "Number of IPv6 sockets in use.")
                            } else {
                                ("node_sockstat_sockets_used", "Number of IPv4 sockets in use.")
                            };
                            out.gauge(name, help, &[], *v as f64);
                        }
                    }
                    continue;
                }
                for (state, v) in &line.values {
                    let proto = &line.protocol;
                    let (name, help) = self.names(&mut key, proto, state);
                    out.gauge(name, help, &[], *v as f64);
                    if state == "mem" {
                        let (name, help) = self.names(&mut key, proto, "mem_bytes");
                        out.gauge(
                            name,
                            help,
                            &[],
                            // In floating point: a garbled page count must not overflow.
                            *v as f64 * self.page_size as f64,
                        );
                    }
                }
            }
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(Sockstat { paths: cx.paths.clone(), page_size: rustix::param::page_size() as u64, names: Memo::default() })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pairs() {
        let v = parse("sockets: used 229\nTCP: inuse 4 orphan 0 tw 4 alloc 17 mem 1\n").unwrap();
        assert_eq!(v[1].values[4], ("mem".into(), 1));
        assert!(parse("TCP: inuse\n").is_err());
        assert!(parse("TCP inuse 4\n").is_err());
        assert!(parse("TCP: inuse x\n").is_err());
    }

    /// Protocols and states become metric names: ones a name cannot hold
    /// are refused (found fuzzing vmstat, which had the same flaw).
    #[test]
    fn refuses_names_that_cannot_be_metric_names() {
        assert!(parse("T-CP: inuse 1\n").is_err());
        assert!(parse(": inuse 1\n").is_err());
        assert!(parse("TCP: in\0use 1\n").is_err());
        assert!(parse("TCP: in{use 1\n").is_err());
    }
}
