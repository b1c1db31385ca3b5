//! Reading the JSON fixtures that node_exporter's `qdisc` and `wifi`
//! collectors accept in place of netlink (`--collector.qdisc.fixtures`,
//! `--collector.wifi.fixtures`). Go wrote them from its own structs, so
//! they are read by Go's rules: keys match field names without regard to
//! case, unknown keys and `null` are ignored, integers must fit the
//! field's type, byte strings are base64.

use serde_json::{Map, Value};

/// A JSON object's fields, looked up as Go's decoder looks them up.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a>(&'a Map<String, Value>);

impl<'a> Fields<'a> {
    /// The object `v`, or an error naming what was expected.
    pub fn of(v: &'a Value, what: &str) -> Result<Self, String> {
        v.as_object().map(Fields).ok_or_else(|| format!("{what}: expected an object, got {v}"))
    }

    /// The value of field `name` (an exact key first, then any key equal
    /// without regard to ASCII case); `None` when absent or `null`.
    fn get(&self, name: &str) -> Option<&'a Value> {
        self.0
            .get(name)
            .or_else(|| self.0.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v))
            .filter(|v| !v.is_null())
    }

    /// A string field; empty when absent.
    pub fn string(&self, name: &str) -> Result<String, String> {
        match self.get(name) {
            None => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(v) => Err(format!("{name}: expected a string, got {v}")),
        }
    }

    /// An unsigned integer field no larger than `max`; 0 when absent.
    pub fn uint(&self, name: &str, max: u64) -> Result<u64, String> {
        match self.get(name) {
            None => Ok(0),
            Some(v) => v.as_u64().filter(|n| *n <= max).ok_or_else(|| format!("{name}: expected an unsigned integer up to {max}, got {v}")),
        }
    }

    /// A signed 64-bit integer field; 0 when absent.
    pub fn int(&self, name: &str) -> Result<i64, String> {
        match self.get(name) {
            None => Ok(0),
            Some(v) => v.as_i64().ok_or_else(|| format!("{name}: expected an integer, got {v}")),
        }
    }

    /// A byte string field (base64, as Go writes `[]byte`); empty when absent.
    pub fn bytes(&self, name: &str) -> Result<Vec<u8>, String> {
        use base64::Engine as _;
        match self.get(name) {
            None => Ok(Vec::new()),
            Some(Value::String(s)) => base64::engine::general_purpose::STANDARD.decode(s).map_err(|e| format!("{name}: not base64: {e}")),
            Some(v) => Err(format!("{name}: expected a base64 string, got {v}")),
        }
    }
}

/// A JSON array's elements, or an error naming what was expected.
pub fn array<'a>(v: &'a Value, what: &str) -> Result<&'a [Value], String> {
    match v {
        Value::Array(a) => Ok(a),
        // Go decodes null into an empty slice.
        Value::Null => Ok(&[]),
        _ => Err(format!("{what}: expected an array, got {v}")),
    }
}

/// A hardware address as Go prints one: lower-case hex pairs with colons.
pub fn mac(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_found_without_regard_to_case_and_typed_as_go_types_them() {
        let v: Value = serde_json::from_str(r#"{"IfaceName":"eth0","bytes":83,"Drops":null,"neg":-1,"big":4294967296,"f":1.5,"addr":"qrvM3e7/","bad":"!!"}"#).unwrap();
        let f = Fields::of(&v, "x").unwrap();
        assert_eq!(f.string("ifacename").unwrap(), "eth0");
        assert_eq!(f.uint("Bytes", u64::from(u32::MAX)).unwrap(), 83);
        assert_eq!(f.uint("Drops", 10).unwrap(), 0);
        assert_eq!(f.uint("Missing", 10).unwrap(), 0);
        assert!(f.uint("neg", 10).is_err());
        assert!(f.uint("big", u64::from(u32::MAX)).is_err());
        assert!(f.uint("f", 10).is_err());
        assert!(f.string("bytes").is_err());
        assert_eq!(f.int("neg").unwrap(), -1);
        assert_eq!(mac(&f.bytes("Addr").unwrap()), "aa:bb:cc:dd:ee:ff");
        assert!(f.bytes("bad").is_err());
        assert!(Fields::of(&Value::Null, "x").is_err());
        assert_eq!(array(&Value::Null, "x").unwrap().len(), 0);
        assert!(array(&v, "x").is_err());
        assert_eq!(mac(&[]), "");
    }
}
