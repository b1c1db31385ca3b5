//! Exposition: Prometheus text format 0.0.4 and OpenMetrics 1.0.0.
//!
//! Encoding does no I/O and cannot fail: it writes the merged families of a
//! scrape straight into the response buffer.

use std::cmp::Ordering;
use std::io::Write as _;

use crate::metrics::{Family, Kind, Name, Sample, Snapshot};

/// Content type of the Prometheus text format.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// Content type of OpenMetrics text.
pub const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The two exposition formats we write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text 0.0.4 (the default).
    Text,
    /// OpenMetrics 1.0.0, when the scraper asks for it.
    OpenMetrics,
}

impl Format {
    /// Picks the format from an `Accept` header: OpenMetrics when it is named
    /// with a q-value at least as high as the plain text format's.
    pub fn negotiate(accept: Option<&str>) -> Self {
        let Some(accept) = accept else { return Format::Text };
        let mut om_q = -1.0_f32;
        let mut text_q = -1.0_f32;
        for part in accept.split(',') {
            let mut params = part.split(';').map(str::trim);
            let media = params.next().unwrap_or("");
            let q = params
                .filter_map(|p| p.strip_prefix("q="))
                .find_map(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            match media {
                "application/openmetrics-text" => om_q = om_q.max(q),
                "text/plain" => text_q = text_q.max(q),
                _ => {}
            }
        }
        if om_q > 0.0 && om_q >= text_q {
            Format::OpenMetrics
        } else {
            Format::Text
        }
    }

    /// The `Content-Type` of a response in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => TEXT_CONTENT_TYPE,
            Format::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
        }
    }
}

/// A response body: a scrape's snapshots, merged and encoded.
#[derive(Debug)]
pub struct Body {
    /// The bytes to send.
    pub bytes: Vec<u8>,
    /// Whether they are gzip-compressed (`Content-Encoding: gzip`).
    pub gzip: bool,
}

/// Turns a scrape's snapshots into the response body: [`merge`]d,
/// [`encode`]d in `format`, and gzip-compressed when `gzip` is asked for
/// (left plain if compressing fails).
pub fn body(snapshots: Vec<Snapshot>, format: Format, gzip: bool) -> Body {
    let families = merge(snapshots);
    let mut bytes = Vec::with_capacity(64 * 1024);
    encode(&families, format, &mut bytes);
    if gzip {
        let mut encoder = flate2::write::GzEncoder::new(Vec::with_capacity(bytes.len() / 4), flate2::Compression::fast());
        if let Ok(zipped) = encoder.write_all(&bytes).and_then(|()| encoder.finish()) {
            return Body { bytes: zipped, gzip: true };
        }
    }
    Body { bytes, gzip: false }
}

/// Merges the families of several snapshots: sorted by name, families of the
/// same name joined (the first help and type win), label pairs sorted by
/// name and samples sorted by their labels, as client_golang exposes them.
pub fn merge(snapshots: Vec<Snapshot>) -> Vec<Family> {
    let mut all: Vec<Option<Family>> = Vec::with_capacity(snapshots.iter().map(|s| s.families.len()).sum());
    all.extend(snapshots.into_iter().flat_map(|s| s.families).map(Some));
    // Sorted by index, then taken in that order: a family is some 80 bytes
    // and a stable sort moves each element about log2(n) times (a `memcpy`
    // call each in the static build); this way each moves once more.
    let mut order: Vec<usize> = (0..all.len()).collect();
    order.sort_by(|&a, &b| {
        let name = |i: usize| all[i].as_ref().map_or(&b""[..], |f| f.name.as_bytes());
        cmp_bytes(name(a), name(b))
    });
    let mut merged: Vec<Family> = Vec::with_capacity(all.len());
    for i in order {
        let Some(fam) = all[i].take() else { continue };
        match merged.last_mut() {
            Some(last) if last.name == fam.name => last.samples.extend(fam.samples),
            _ => merged.push(fam),
        }
    }
    let by_labels = |a: &Sample, b: &Sample| {
        for ((_, x), (_, y)) in a.labels.iter().zip(&b.labels) {
            match cmp_bytes(x.as_bytes(), y.as_bytes()) {
                Ordering::Equal => {}
                unequal => return unequal,
            }
        }
        a.labels.len().cmp(&b.labels.len()).then_with(|| cmp_bytes(a.suffix.as_bytes(), b.suffix.as_bytes()))
    };
    let by_name = |a: &(Name, String), b: &(Name, String)| cmp_bytes(a.0.as_bytes(), b.0.as_bytes());
    for fam in &mut merged {
        for s in &mut fam.samples {
            if s.labels.len() > 1 && !s.labels.is_sorted_by(|a, b| by_name(a, b).is_le()) {
                s.labels.sort_by(by_name);
            }
        }
        // Most families arrive in order (one sample, or devices listed
        // sorted); checking is cheaper than the moves of a sort.
        if !fam.samples.is_sorted_by(|a, b| by_labels(a, b).is_le()) {
            fam.samples.sort_by(by_labels);
        }
    }
    merged.retain(|f| !f.samples.is_empty());
    merged
}

/// Orders byte strings as `<[u8]>::cmp` does, eight bytes at a time.
///
/// Merging compares metric names (a few thousand times a scrape, names
/// that share their first five bytes and often many more) and label
/// values. The slice comparison calls `memcmp`, which in musl, the static
/// build's libc, is a loop over single bytes. Words compared as
/// big-endian integers order as their bytes do.
pub fn cmp_bytes(a: &[u8], b: &[u8]) -> Ordering {
    let n = a.len().min(b.len());
    let (a8, b8) = (a[..n].chunks_exact(8), b[..n].chunks_exact(8));
    let (a_tail, b_tail) = (a8.remainder(), b8.remainder());
    for (x, y) in a8.zip(b8) {
        let (x, y) = (word(x), word(y));
        if x != y {
            return x.cmp(&y);
        }
    }
    for (x, y) in a_tail.iter().zip(b_tail) {
        if x != y {
            return x.cmp(y);
        }
    }
    a.len().cmp(&b.len())
}

/// Eight bytes as a big-endian integer (`chunks_exact(8)` gives only those).
fn word(bytes: &[u8]) -> u64 {
    bytes.try_into().map_or(0, u64::from_be_bytes)
}

/// Writes the families in `format` into `out`.
pub fn encode(families: &[Family], format: Format, out: &mut Vec<u8>) {
    for fam in families {
        let om = format == Format::OpenMetrics;
        // OpenMetrics names a counter family without its `_total` suffix and
        // requires the suffix on every counter sample.
        let (family_name, counter_suffix) = match (om, fam.kind) {
            (true, Kind::Counter) => match fam.name.strip_suffix("_total") {
                Some(stem) => (stem, "_total"),
                None => (&*fam.name, "_total"),
            },
            _ => (&*fam.name, ""),
        };
        let type_word = match (om, fam.kind) {
            (true, Kind::Untyped) => "unknown",
            (_, k) => k.as_str(),
        };
        if !fam.help.is_empty() || !om {
            out.extend_from_slice(b"# HELP ");
            out.extend_from_slice(family_name.as_bytes());
            out.push(b' ');
            escape_help(&fam.help, out);
            out.push(b'\n');
        }
        out.extend_from_slice(b"# TYPE ");
        out.extend_from_slice(family_name.as_bytes());
        out.push(b' ');
        out.extend_from_slice(type_word.as_bytes());
        out.push(b'\n');
        for s in &fam.samples {
            out.extend_from_slice(family_name.as_bytes());
            // Both suffixes are usually empty; copying nothing still calls
            // `memcpy`, which costs in musl (see `cmp_bytes`).
            if !counter_suffix.is_empty() {
                out.extend_from_slice(counter_suffix.as_bytes());
            }
            if !s.suffix.is_empty() {
                out.extend_from_slice(s.suffix.as_bytes());
            }
            if !s.labels.is_empty() {
                out.push(b'{');
                for (i, (k, v)) in s.labels.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(k.as_bytes());
                    out.extend_from_slice(b"=\"");
                    escape_label_value(v, out);
                    out.push(b'"');
                }
                out.push(b'}');
            }
            out.push(b' ');
            write_float(out, s.value);
            if let Some(ts) = s.timestamp_ms {
                out.push(b' ');
                if om {
                    // OpenMetrics timestamps are seconds.
                    write_float(out, ts as f64 / 1000.0);
                } else {
                    let _ = write!(out, "{ts}");
                }
            }
            out.push(b'\n');
        }
    }
    if format == Format::OpenMetrics {
        out.extend_from_slice(b"# EOF\n");
    }
}

fn escape_help(s: &str, out: &mut Vec<u8>) {
    for b in s.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            _ => out.push(b),
        }
    }
}

fn escape_label_value(s: &str, out: &mut Vec<u8>) {
    for b in s.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'"' => out.extend_from_slice(b"\\\""),
            _ => out.push(b),
        }
    }
}

/// Writes `v` the way Go's `strconv.FormatFloat(v, 'g', -1, 64)` does, which
/// is what node_exporter's output uses: shortest digits that round-trip,
/// exponent form when the decimal exponent is below -4 or at least 6
/// (`1.6458752e+10`, `2.5e-05`, `123456`).
pub fn write_float(out: &mut Vec<u8>, v: f64) {
    if v.is_nan() {
        out.extend_from_slice(b"NaN");
        return;
    }
    if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 { b"+Inf" } else { b"-Inf" });
        return;
    }
    if v == 0.0 {
        out.extend_from_slice(if v.is_sign_negative() { b"-0" } else { b"0" });
        return;
    }
    let mut digits = [0u8; 24];
    let (nd, dp) = if v.fract() == 0.0 && v.abs() < 9.007_199_254_740_992e15 {
        // Integral fast path: the digits of the integer, trailing zeros trimmed.
        let mut n = v.abs() as u64;
        let mut tmp = [0u8; 20];
        let mut len = 0;
        while n > 0 {
            tmp[len] = b'0' + (n % 10) as u8;
            n /= 10;
            len += 1;
        }
        for i in 0..len {
            digits[i] = tmp[len - 1 - i];
        }
        let mut nd = len;
        while nd > 1 && digits[nd - 1] == b'0' {
            nd -= 1;
        }
        (nd, len as i32)
    } else {
        // Rust's `{:e}` prints the shortest round-trip digits, as Go does.
        let mut buf = [0u8; 40];
        let mut cursor = std::io::Cursor::new(&mut buf[..]);
        let _ = write!(cursor, "{:e}", v.abs());
        let len = cursor.position() as usize;
        let text = &buf[..len];
        let epos = text.iter().position(|&b| b == b'e').unwrap_or(len);
        let mut nd = 0;
        for &b in &text[..epos] {
            if b.is_ascii_digit() && nd < digits.len() {
                digits[nd] = b;
                nd += 1;
            }
        }
        let exp: i32 = std::str::from_utf8(&text[(epos + 1).min(len)..])
            .ok()
            .and_then(|e| e.parse().ok())
            .unwrap_or(0);
        (nd, exp + 1)
    };
    if v < 0.0 {
        out.push(b'-');
    }
    let digits = &digits[..nd];
    let exp = dp - 1;
    if !(-4..6).contains(&exp) {
        out.push(digits[0]);
        if nd > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        out.push(b'e');
        out.push(if exp < 0 { b'-' } else { b'+' });
        let e = exp.unsigned_abs();
        if e < 10 {
            out.push(b'0');
        }
        let _ = write!(out, "{e}");
    } else if dp <= 0 {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', (-dp) as usize));
        out.extend_from_slice(digits);
    } else if dp as usize >= nd {
        out.extend_from_slice(digits);
        out.extend(std::iter::repeat_n(b'0', dp as usize - nd));
    } else {
        out.extend_from_slice(&digits[..dp as usize]);
        out.push(b'.');
        out.extend_from_slice(&digits[dp as usize..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loop_over_devices_fills_one_family_and_owned_names_are_merged_later() {
        let mut s = Snapshot::new();
        for dev in ["eth0", "eth1", "lo"] {
            s.counter("node_network_receive_bytes_total", "Bytes.", &[("device", dev)], 1.0);
            s.counter("node_network_transmit_bytes_total", "Bytes.", &[("device", dev)], 2.0);
        }
        assert_eq!(s.families.len(), 2);
        assert_eq!(s.families[0].samples.len(), 3);

        // Same text, different allocations: two families, one after merging.
        let mut o = Snapshot::new();
        o.gauge(String::from("node_x"), "X.", &[("a", "1")], 1.0);
        o.gauge(String::from("node_x"), "X.", &[("a", "2")], 2.0);
        assert_eq!(o.families.len(), 2);
        let merged = merge(vec![s, o]);
        assert_eq!(merged.iter().map(|f| &*f.name).collect::<Vec<_>>(), ["node_network_receive_bytes_total", "node_network_transmit_bytes_total", "node_x"]);
        let mut text = Vec::new();
        encode(&merged, Format::Text, &mut text);
        let text = String::from_utf8(text).unwrap();
        assert_eq!(text.matches("# TYPE node_x gauge").count(), 1, "{text}");
        assert!(text.contains("node_x{a=\"1\"} 1\nnode_x{a=\"2\"} 2\n"), "{text}");
    }

    #[test]
    fn reuse_looks_back_only_so_far() {
        let mut s = Snapshot::new();
        s.gauge("node_first", "F.", &[("i", "0")], 0.0);
        for i in 0..Snapshot::REUSE_WINDOW {
            s.gauge(format!("filler_{i}"), "Filler.", &[], 0.0);
        }
        s.gauge("node_first", "F.", &[("i", "1")], 1.0);
        assert_eq!(s.families.len(), Snapshot::REUSE_WINDOW + 2);
        let merged = merge(vec![s]);
        let first = merged.iter().find(|f| f.name == "node_first").unwrap();
        assert_eq!(first.samples.len(), 2);
    }

    #[test]
    fn cmp_bytes_orders_as_slices_do() {
        // Every pair of strings over a small alphabet, lengths 0 to 19: equal
        // words, a difference in a word or in the tail, one a prefix of the other.
        let mut words: Vec<Vec<u8>> = Vec::new();
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        for len in 0..20 {
            for _ in 0..12 {
                let w: Vec<u8> = (0..len)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        [b'a', b'b', 0xff, 0][(seed % 4) as usize]
                    })
                    .collect();
                words.push(w);
            }
        }
        words.push(b"node_network_receive_bytes_total".to_vec());
        words.push(b"node_network_receive_bytes".to_vec());
        words.push(b"node_network_receive_packets_total".to_vec());
        for a in &words {
            for b in &words {
                assert_eq!(cmp_bytes(a, b), a.as_slice().cmp(b.as_slice()), "{a:?} {b:?}");
            }
        }
    }

    fn formatted(v: f64) -> String {
        let mut out = Vec::new();
        write_float(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn floats_format_like_go() {
        assert_eq!(formatted(0.0), "0");
        assert_eq!(formatted(1.0), "1");
        assert_eq!(formatted(546.0), "546");
        assert_eq!(formatted(123456.0), "123456");
        assert_eq!(formatted(1e6), "1e+06");
        assert_eq!(formatted(1234567.0), "1.234567e+06");
        assert_eq!(formatted(2.189426688e10), "2.189426688e+10");
        assert_eq!(formatted(1.305e-6), "1.305e-06");
        assert_eq!(formatted(0.0001), "0.0001");
        assert_eq!(formatted(0.00001), "1e-05");
        assert_eq!(formatted(-3.5), "-3.5");
        assert_eq!(formatted(18446744073709551615.0), "1.8446744073709552e+19");
        assert_eq!(formatted(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(formatted(f64::INFINITY), "+Inf");
        assert_eq!(formatted(f64::NAN), "NaN");
        assert_eq!(formatted(100.5), "100.5");
    }

    #[test]
    fn negotiates_openmetrics_from_prometheus_accept_header() {
        let prom = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::negotiate(Some(prom)), Format::OpenMetrics);
        assert_eq!(Format::negotiate(Some("text/plain")), Format::Text);
        assert_eq!(Format::negotiate(None), Format::Text);
        assert_eq!(Format::negotiate(Some("text/plain,application/openmetrics-text;q=0.2")), Format::Text);
    }

    fn snapshot() -> Snapshot {
        let mut s = Snapshot::new();
        s.counter("node_x_total", "X \\ count.\nSecond line.", &[("b", "2"), ("a", "q\"\n")], 3.0);
        s.gauge("node_a", "A.", &[], 0.5);
        s.counter("node_x_total", "ignored", &[("b", "1"), ("a", "z")], 1.0);
        s
    }

    #[test]
    fn text_format_sorts_merges_and_escapes() {
        let mut out = Vec::new();
        encode(&merge(vec![snapshot()]), Format::Text, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "# HELP node_a A.\n# TYPE node_a gauge\nnode_a 0.5\n\
             # HELP node_x_total X \\\\ count.\\nSecond line.\n# TYPE node_x_total counter\n\
             node_x_total{a=\"q\\\"\\n\",b=\"2\"} 3\nnode_x_total{a=\"z\",b=\"1\"} 1\n"
        );
    }

    #[test]
    fn openmetrics_strips_total_from_counter_family_and_ends_with_eof() {
        let mut out = Vec::new();
        encode(&merge(vec![snapshot()]), Format::OpenMetrics, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("# TYPE node_x counter\nnode_x_total{a=\"q\\\"\\n\",b=\"2\"} 3\n"), "{text}");
        assert!(text.ends_with("# EOF\n"));
    }
}
