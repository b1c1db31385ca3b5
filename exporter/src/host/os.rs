//! The `os` collector: `node_os_info` and `node_os_version` from
//! `<rootfs>/etc/os-release`, falling back to `<rootfs>/usr/lib/os-release`.

use std::collections::HashMap;
use std::sync::Arc;

use crate::collector::{read_to_string, BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::metrics::Snapshot;

/// Parses os-release (`KEY=value`, values optionally quoted with shell escapes).
pub fn parse(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else { continue };
        let v = v.trim();
        let unquoted = if v.len() >= 2 && ((v.starts_with('"') && v.ends_with('"')) || (v.starts_with('\'') && v.ends_with('\''))) {
            let inner = &v[1..v.len() - 1];
            let mut s = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                if c == '\\' {
                    if let Some(n) = chars.next() {
                        s.push(n);
                    }
                } else {
                    s.push(c);
                }
            }
            s
        } else {
            v.to_owned()
        };
        out.insert(k.trim().to_owned(), unquoted);
    }
    out
}

/// The leading `major[.minor]` number of a VERSION_ID, as node_exporter reads it.
pub fn version_number(version_id: &str) -> Option<f64> {
    let mut end = 0;
    let mut dots = 0;
    for (i, c) in version_id.char_indices() {
        if c.is_ascii_digit() {
            end = i + 1;
        } else if c == '.' && dots == 0 && end > 0 {
            dots += 1;
        } else {
            break;
        }
    }
    version_id[..end].parse().ok()
}

struct Os(Arc<HostPaths>);

impl HostCollector for Os {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let text = match read_to_string(&self.0.root("etc/os-release")) {
            Ok(t) => t,
            Err(e) if e.is_not_found() => read_to_string(&self.0.root("usr/lib/os-release"))?,
            Err(e) => return Err(e),
        };
        let f = parse(&text);
        let get = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
        out.gauge(
            "node_os_info",
            "A metric with a constant '1' value labeled by build_id, id, id_like, image_id, image_version, name, pretty_name, variant, variant_id, version, version_codename, version_id.",
            &[
                ("build_id", get("BUILD_ID")),
                ("id", get("ID")),
                ("id_like", get("ID_LIKE")),
                ("image_id", get("IMAGE_ID")),
                ("image_version", get("IMAGE_VERSION")),
                ("name", get("NAME")),
                ("pretty_name", get("PRETTY_NAME")),
                ("variant", get("VARIANT")),
                ("variant_id", get("VARIANT_ID")),
                ("version", get("VERSION")),
                ("version_codename", get("VERSION_CODENAME")),
                ("version_id", get("VERSION_ID")),
            ],
            1.0,
        );
        if let Some(v) = version_number(get("VERSION_ID")) {
            out.gauge(
                "node_os_version",
                "Metric containing the major.minor part of the OS version.",
                &[("id", get("ID")), ("id_like", get("ID_LIKE")), ("name", get("NAME"))],
                v,
            );
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(Os(cx.paths.clone()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_quoted_values_and_versions() {
        let f = parse("NAME=\"Ubuntu\"\nVERSION_ID='20.04'\n# comment\nPRETTY_NAME=\"A \\\"quoted\\\" name\"\nbroken line\n");
        assert_eq!(f["NAME"], "Ubuntu");
        assert_eq!(f["VERSION_ID"], "20.04");
        assert_eq!(f["PRETTY_NAME"], "A \"quoted\" name");
        assert_eq!(version_number("20.04"), Some(20.04));
        assert_eq!(version_number("12"), Some(12.0));
        assert_eq!(version_number("7.9.2009"), Some(7.9));
        assert_eq!(version_number("rolling"), None);
    }
}
