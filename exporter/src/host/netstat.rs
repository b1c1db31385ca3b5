//! The `netstat` collector: protocol statistics from `/proc/net/netstat`,
//! `/proc/net/snmp` and `/proc/net/snmp6` as `node_netstat_<Proto>_<Name>`,
//! filtered by `--collector.netstat.fields`.

use std::sync::Arc;

use regex_lite::Regex;

use crate::collector::{read_to_string, BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::host::util::{is_name_part, static_name, Memo};
use crate::metrics::{Kind, Name, Snapshot};

/// node_exporter's default field filter.
pub const DEFAULT_FIELDS: &str = "^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts|TCPOFOQueue|TCPRcvQDrop)|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$";

/// Flags of the `netstat` collector.
#[derive(Debug, Clone, clap::Args)]
#[group(skip)]
pub struct Options {
    /// Regexp of fields to return for netstat collector.
    #[arg(long = "collector.netstat.fields", default_value = DEFAULT_FIELDS)]
    pub netstat_fields: String,
}

impl Default for Options {
    fn default() -> Self {
        Self { netstat_fields: DEFAULT_FIELDS.into() }
    }
}

/// Parses the paired-line format of `netstat` and `snmp`
/// (`Proto: Name1 Name2` then `Proto: v1 v2`) into (`Proto_Name`, value).
pub fn parse_paired(text: &str) -> Result<Vec<(String, f64)>, String> {
    let mut out = Vec::new();
    visit_paired(text, |proto, name, v| out.push((format!("{proto}_{name}"), v)))?;
    Ok(out)
}

/// Calls `f(proto, name, value)` for every field of the paired-line format,
/// in file order, without allocating. On an error, the fields before it
/// have been passed to `f` already: the collector drops a failed gather's
/// samples, and the `parse_` functions return only the error.
///
/// One pass over each line, split on ASCII whitespace (procfs writes
/// nothing else): this file is some 5 KiB of a few hundred fields, and
/// checking it whole before emitting, or splitting with Unicode's
/// whitespace rules, made netstat the costliest collector to parse.
pub fn visit_paired(text: &str, mut f: impl FnMut(&str, &str, f64)) -> Result<(), String> {
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim_ascii().is_empty());
    while let Some((n, names)) = lines.next() {
        let (_, values) = lines.next().ok_or_else(|| format!("line {}: header without a value line", n + 1))?;
        let (proto, names) = names.split_once(':').ok_or_else(|| format!("line {}: no protocol", n + 1))?;
        let (proto2, values) = values.split_once(':').ok_or_else(|| format!("line {}: no protocol", n + 2))?;
        if proto != proto2 {
            return Err(format!("line {}: protocol {proto2:?} after header of {proto:?}", n + 2));
        }
        if !is_name_part(proto) {
            return Err(format!("line {}: protocol {proto:?} cannot be part of a metric name", n + 1));
        }
        let mut names = names.split_ascii_whitespace();
        let mut values = values.split_ascii_whitespace();
        loop {
            match (names.next(), values.next()) {
                (Some(name), Some(v)) => {
                    if !is_name_part(name) {
                        return Err(format!("line {}: {proto}_{name:?} cannot be a metric name", n + 1));
                    }
                    let v: f64 = v.parse().map_err(|_| format!("line {}: bad value {v:?}", n + 2))?;
                    f(proto, name, v);
                }
                (None, None) => break,
                (Some(_), None) => return Err(format!("line {}: fewer values than names", n + 2)),
                (None, Some(_)) => return Err(format!("line {}: more values than names", n + 2)),
            }
        }
    }
    Ok(())
}

/// Parses `snmp6` (`Ip6InReceives 123` per line) into (`Ip6_InReceives`, value).
pub fn parse_snmp6(text: &str) -> Result<Vec<(String, f64)>, String> {
    let mut out = Vec::new();
    visit_snmp6(text, |proto, name, v| out.push((format!("{proto}_{name}"), v)))?;
    Ok(out)
}

/// Calls `f(proto, name, value)` for every line of `snmp6`, the protocol
/// being everything up to and including the first `6`; on an error, as
/// [`visit_paired`], the lines before it have been passed already.
pub fn visit_snmp6(text: &str, mut f: impl FnMut(&str, &str, f64)) -> Result<(), String> {
    for (n, line) in text.lines().enumerate() {
        let mut fields = line.split_ascii_whitespace();
        let (Some(key), Some(v)) = (fields.next(), fields.next()) else {
            if line.trim_ascii().is_empty() {
                continue;
            }
            return Err(format!("line {}: expected 'Name value', got {line:?}", n + 1));
        };
        if !is_name_part(key) {
            return Err(format!("line {}: {key:?} cannot be a metric name", n + 1));
        }
        let v: f64 = v.parse().map_err(|_| format!("line {}: bad value {v:?}", n + 1))?;
        match key.find('6') {
            Some(i) => f(&key[..=i], &key[i + 1..], v),
            None => return Err(format!("line {}: no protocol in {key:?}", n + 1)),
        }
    }
    Ok(())
}

/// What a field becomes: its metric name and help, or `None` when the
/// user's pattern leaves it out.
type Entry = Option<(Name, Name)>;

struct Netstat {
    paths: Arc<HostPaths>,
    fields: Regex,
    /// Per `Proto_Name`, decided and named once (see [`Memo`]).
    entries: Memo<Entry>,
}

impl Netstat {
    fn entry(&self, key: &str) -> Entry {
        self.entries.get(key, |key| {
            self.fields.is_match(key).then(|| {
                let help = format!("Statistic {}.", key.replacen('_', "", 1));
                (static_name(format!("node_netstat_{key}")), static_name(help))
            })
        })
    }
}

impl HostCollector for Netstat {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let mut key = String::with_capacity(64);
        for (file, paired, required) in [("net/netstat", true, true), ("net/snmp", true, true), ("net/snmp6", false, false)] {
            let path = self.paths.proc(file);
            let text = match read_to_string(&path) {
                Ok(t) => t,
                Err(e) if !required && e.is_not_found() => continue,
                Err(e) => return Err(e),
            };
            let mut emit = |proto: &str, name: &str, v: f64| {
                key.clear();
                key.push_str(proto);
                key.push('_');
                key.push_str(name);
                if let Some((metric, help)) = self.entry(&key) {
                    out.family(metric, help, Kind::Untyped).add(&[], v);
                }
            };
            let parsed = if paired { visit_paired(&text, &mut emit) } else { visit_snmp6(&text, &mut emit) };
            parsed.map_err(|d| Error::parse(&path, d))?;
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(o: &Options, cx: &Context) -> Result<Option<Collector>, BuildError> {
    let pattern = &o.netstat_fields;
    let fields = Regex::new(pattern).map_err(|e| BuildError { collector: "netstat", detail: format!("--collector.netstat.fields {pattern:?}: {e}") })?;
    Ok(Some(Collector::host(Netstat { paths: cx.paths.clone(), fields, entries: Memo::default() })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_paired_lines() {
        let v = parse_paired("Ip: Forwarding DefaultTTL\nIp: 1 64\nTcp: InErrs\nTcp: 5\n").unwrap();
        assert_eq!(v, vec![("Ip_Forwarding".into(), 1.0), ("Ip_DefaultTTL".into(), 64.0), ("Tcp_InErrs".into(), 5.0)]);
        assert!(parse_paired("Ip: A B\nIp: 1\n").is_err());
        assert!(parse_paired("Ip: A\nTcp: 1\n").is_err());
        assert!(parse_paired("Ip: A\n").is_err());
        assert!(parse_paired("Ip: A\nIp: x\n").is_err());
    }

    #[test]
    fn parses_snmp6() {
        let v = parse_snmp6("Ip6InOctets 460\nUdpLite6InErrors 0\n").unwrap();
        assert_eq!(v, vec![("Ip6_InOctets".into(), 460.0), ("UdpLite6_InErrors".into(), 0.0)]);
        assert!(parse_snmp6("Ip6InOctets\n").is_err());
        assert!(parse_snmp6("Ip6InOctets x\n").is_err());
    }

    /// Protocol and counter names become metric names: ones a name cannot
    /// hold are refused (found fuzzing vmstat, which had the same flaw).
    #[test]
    fn refuses_names_that_cannot_be_metric_names() {
        assert!(parse_paired("Ip: In-Octets\nIp: 1\n").is_err());
        assert!(parse_paired("I p: A\nI p: 1\n").is_err());
        assert!(parse_paired(": A\n: 1\n").is_err());
        assert!(parse_snmp6("Ip6In\0Octets 1\n").is_err());
        assert!(parse_snmp6("Ip6{x} 1\n").is_err());
    }
}
