//! The shapes of the Proxmox VE API answers this collector reads, and their
//! decoding from `{"data": ...}` bodies. Pure: bytes in, typed values out.
//!
//! Fields are lenient the way prometheus-pve-exporter is: a label field
//! takes any JSON scalar and renders it as Python's `str()` would (`1`,
//! `True`), a value field takes a number, a numeric string or a boolean.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde::Deserialize;
use serde_json::Value;

/// Decodes the `data` member of an API answer.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    #[derive(Deserialize)]
    struct Envelope<T> {
        data: T,
    }
    serde_json::from_slice::<Envelope<T>>(body).map(|e| e.data).map_err(|e| e.to_string())
}

/// A label value: any JSON scalar, rendered as Python's `str()` renders it.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Text(pub String);

impl Text {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Python's `str()` of a float: `1.0`, `0.25`, `1e+20`.
pub fn py_float(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if v.fract() == 0.0 && v.abs() < 1e16 {
        return format!("{v:.1}");
    }
    let plain = format!("{v}");
    if v.abs() >= 1e16 || (v != 0.0 && v.abs() < 1e-4) {
        let e = format!("{v:e}");
        if let Some((mantissa, exp)) = e.split_once('e') {
            let (sign, digits) = match exp.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', exp),
            };
            return format!("{mantissa}e{sign}{digits:0>2}");
        }
    }
    plain
}

/// Python's `str()` of any JSON value (for labels taken from data).
pub fn py_str(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(f)) => py_float(f),
            _ => n.to_string(),
        },
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text, E> {
                Ok(Text(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
                Ok(Text(py_float(v)))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
                Ok(Text(if v { "True" } else { "False" }.into()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Text, E> {
                Ok(Text("None".into()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A sample value: a number, a numeric string or a boolean (as 1/0).
#[derive(Debug, Clone, Copy, Default, PartialEq, PartialOrd)]
pub struct Num(pub f64);

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Num;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Num, E> {
                Ok(Num(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Num, E> {
                Ok(Num(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Num, E> {
                Ok(Num(v))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Num, E> {
                Ok(Num(if v { 1.0 } else { 0.0 }))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Num, E> {
                v.trim().parse::<f64>().map(Num).map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
            }
        }
        d.deserialize_any(V)
    }
}

/// One entry of `/cluster/status`: kept whole, because `pve_cluster_info`
/// takes its labels from whatever keys the cluster entry has.
pub type StatusEntry = BTreeMap<String, Value>;

/// Reads a key of a status entry as Python's `str()` would ("" if absent).
pub fn status_str(entry: &StatusEntry, key: &str) -> String {
    entry.get(key).map(py_str).unwrap_or_default()
}

/// Reads a key of a status entry as a number (absent or not numeric: None).
pub fn status_num(entry: &StatusEntry, key: &str) -> Option<f64> {
    match entry.get(key)? {
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// One entry of `/cluster/resources` (nodes, guests, storages, pools, sdn).
#[derive(Debug, Clone, Default, Deserialize)]
#[allow(missing_docs)]
pub struct Resource {
    /// `node/pve1`, `qemu/100`, `lxc/101`, `storage/pve1/local`, ...
    pub id: String,
    /// `node`, `qemu`, `lxc`, `storage`, `pool`, `sdn`, ...
    #[serde(rename = "type")]
    pub kind: String,
    pub node: Option<Text>,
    pub name: Option<Text>,
    pub status: Option<Text>,
    pub template: Option<Text>,
    pub tags: Option<Text>,
    pub storage: Option<Text>,
    pub plugintype: Option<Text>,
    pub content: Option<Text>,
    pub hastate: Option<Text>,
    pub lock: Option<Text>,
    pub vmid: Option<Num>,
    pub maxdisk: Option<Num>,
    pub disk: Option<Num>,
    pub maxmem: Option<Num>,
    pub mem: Option<Num>,
    pub netout: Option<Num>,
    pub netin: Option<Num>,
    pub diskwrite: Option<Num>,
    pub diskread: Option<Num>,
    pub cpu: Option<Num>,
    pub maxcpu: Option<Num>,
    pub uptime: Option<Num>,
    pub shared: Option<Num>,
}

impl Resource {
    /// The guest's VMID (from `vmid`, else from the `qemu/100` id).
    pub fn guest_vmid(&self) -> Option<u32> {
        if let Some(Num(v)) = self.vmid {
            if v >= 0.0 && v <= u32::MAX as f64 && v.fract() == 0.0 {
                return Some(v as u32);
            }
        }
        self.id.split_once('/').and_then(|(_, v)| v.parse().ok())
    }

    /// The `node` field ("" when absent).
    pub fn node_name(&self) -> &str {
        self.node.as_ref().map(Text::as_str).unwrap_or("")
    }

    /// True for a storage entry offering `backup` content.
    pub fn holds_backups(&self) -> bool {
        self.content.as_ref().is_some_and(|c| c.as_str().split(',').any(|x| x.trim() == "backup"))
    }
}

/// `/version`.
#[derive(Debug, Clone, Default, Deserialize)]
#[allow(missing_docs)]
pub struct Version {
    pub release: Option<Text>,
    pub repoid: Option<Text>,
    pub version: Option<Text>,
}

/// One entry of `/cluster/backup-info/not-backed-up`.
#[derive(Debug, Clone, Deserialize)]
#[allow(missing_docs)]
pub struct NotBackedUp {
    #[serde(rename = "type")]
    pub kind: Text,
    pub vmid: Text,
}

/// `/nodes/{node}/{qemu|lxc}/{vmid}/config`: only what is exported.
#[derive(Debug, Clone, Default, Deserialize)]
#[allow(missing_docs)]
pub struct GuestConfig {
    pub onboot: Option<Num>,
}

/// One entry of `/nodes/{node}/replication` (the job with its state).
#[derive(Debug, Clone, Default, Deserialize)]
#[allow(missing_docs)]
pub struct ReplicationJob {
    pub id: Text,
    #[serde(rename = "type")]
    pub kind: Option<Text>,
    pub source: Option<Text>,
    pub target: Option<Text>,
    pub vmtype: Option<Text>,
    pub guest: Option<Text>,
    pub duration: Option<Num>,
    pub last_sync: Option<Num>,
    pub last_try: Option<Num>,
    pub next_sync: Option<Num>,
    pub fail_count: Option<Num>,
}

/// `/nodes/{node}/subscription`.
#[derive(Debug, Clone, Default, Deserialize)]
#[allow(missing_docs)]
pub struct Subscription {
    pub level: Option<Text>,
    pub status: Option<Text>,
    pub nextduedate: Option<Text>,
}

/// One item of `/nodes/{node}/storage/{storage}/content?content=backup`.
#[derive(Debug, Clone, Default, Deserialize)]
#[allow(missing_docs)]
pub struct Content {
    #[serde(default)]
    pub volid: String,
    pub content: Option<Text>,
    pub vmid: Option<Num>,
    pub ctime: Option<Num>,
    pub size: Option<Num>,
    pub subtype: Option<Text>,
    pub format: Option<Text>,
}

/// One item of `/nodes/{node}/tasks`.
#[derive(Debug, Clone, Default, Deserialize)]
#[allow(missing_docs)]
pub struct Task {
    pub upid: String,
    #[serde(rename = "type")]
    pub kind: Option<Text>,
    pub id: Option<Text>,
    pub status: Option<Text>,
    pub starttime: Option<Num>,
    pub endtime: Option<Num>,
}

/// One line of `/nodes/{node}/tasks/{upid}/log`.
#[derive(Debug, Clone, Default, Deserialize)]
#[allow(missing_docs)]
pub struct LogLine {
    #[serde(default)]
    pub t: String,
}

/// `/cluster/config/qdevice` (keys as Proxmox prints them: "QNetd host").
pub type QDevice = BTreeMap<String, Value>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_render_like_python_str() {
        let v: Vec<Text> = serde_json::from_str(r#"["a", 1, -2, 0.5, 1.0, true, false, null, 1e20]"#).unwrap();
        let got: Vec<&str> = v.iter().map(Text::as_str).collect();
        assert_eq!(got, ["a", "1", "-2", "0.5", "1.0", "True", "False", "None", "1e+20"]);
        assert_eq!(py_float(1e-5), "1e-05");
    }

    #[test]
    fn values_accept_numbers_strings_and_booleans() {
        let v: Vec<Num> = serde_json::from_str(r#"[1, 2.5, "3", true, false]"#).unwrap();
        assert_eq!(v.iter().map(|n| n.0).collect::<Vec<_>>(), [1.0, 2.5, 3.0, 1.0, 0.0]);
        assert!(serde_json::from_str::<Num>(r#""x""#).is_err());
        assert!(serde_json::from_str::<Num>("[1]").is_err());
    }

    #[test]
    fn garbled_bodies_are_errors_not_panics() {
        for body in ["", "{", "[]", r#"{"data": 5}"#, r#"{"data": [{"type": "node"}]}"#, "\u{0}\u{1}"] {
            assert!(decode::<Vec<Resource>>(body.as_bytes()).is_err(), "{body}");
        }
        let r: Vec<Resource> = decode(br#"{"data":[{"id":"qemu/100","type":"qemu","maxmem":"1024","extra":{"x":1}}]}"#).unwrap();
        assert_eq!(r[0].maxmem, Some(Num(1024.0)));
        assert_eq!(r[0].guest_vmid(), Some(100));
    }
}
