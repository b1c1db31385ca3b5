//! The `xfrm` collector: IPsec transformation error counters from
//! `/proc/net/xfrm_stat` (one `XfrmName value` pair a line).

use std::sync::Arc;

use crate::collector::{read_to_string, BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::metrics::Snapshot;

/// (kernel's field name, metric name, help), in the kernel's order.
const FIELDS: [(&str, &str, &str); 28] = [
    ("XfrmInError", "node_xfrm_in_error_packets_total", "All errors not matched by other"),
    ("XfrmInBufferError", "node_xfrm_in_buffer_error_packets_total", "No buffer is left"),
    ("XfrmInHdrError", "node_xfrm_in_hdr_error_packets_total", "Header error"),
    ("XfrmInNoStates", "node_xfrm_in_no_states_packets_total", "No state is found i.e. Either inbound SPI, address, or IPsec protocol at SA is wrong"),
    ("XfrmInStateProtoError", "node_xfrm_in_state_proto_error_packets_total", "Transformation protocol specific error e.g. SA key is wrong"),
    ("XfrmInStateModeError", "node_xfrm_in_state_mode_error_packets_total", "Transformation mode specific error"),
    ("XfrmInStateSeqError", "node_xfrm_in_state_seq_error_packets_total", "Sequence error i.e. Sequence number is out of window"),
    ("XfrmInStateExpired", "node_xfrm_in_state_expired_packets_total", "State is expired"),
    ("XfrmInStateMismatch", "node_xfrm_in_state_mismatch_packets_total", "State has mismatch option e.g. UDP encapsulation type is mismatch"),
    ("XfrmInStateInvalid", "node_xfrm_in_state_invalid_packets_total", "State is invalid"),
    ("XfrmInTmplMismatch", "node_xfrm_in_tmpl_mismatch_packets_total", "No matching template for states e.g. Inbound SAs are correct but SP rule is wrong"),
    ("XfrmInNoPols", "node_xfrm_in_no_pols_packets_total", "No policy is found for states e.g. Inbound SAs are correct but no SP is found"),
    ("XfrmInPolBlock", "node_xfrm_in_pol_block_packets_total", "Policy discards"),
    ("XfrmInPolError", "node_xfrm_in_pol_error_packets_total", "Policy error"),
    ("XfrmOutError", "node_xfrm_out_error_packets_total", "All errors which is not matched others"),
    ("XfrmOutBundleGenError", "node_xfrm_out_bundle_gen_error_packets_total", "Bundle generation error"),
    ("XfrmOutBundleCheckError", "node_xfrm_out_bundle_check_error_packets_total", "Bundle check error"),
    ("XfrmOutNoStates", "node_xfrm_out_no_states_packets_total", "No state is found"),
    ("XfrmOutStateProtoError", "node_xfrm_out_state_proto_error_packets_total", "Transformation protocol specific error"),
    ("XfrmOutStateModeError", "node_xfrm_out_state_mode_error_packets_total", "Transformation mode specific error"),
    ("XfrmOutStateSeqError", "node_xfrm_out_state_seq_error_packets_total", "Sequence error i.e. Sequence number overflow"),
    ("XfrmOutStateExpired", "node_xfrm_out_state_expired_packets_total", "State is expired"),
    ("XfrmOutPolBlock", "node_xfrm_out_pol_block_packets_total", "Policy discards"),
    ("XfrmOutPolDead", "node_xfrm_out_pol_dead_packets_total", "Policy is dead"),
    ("XfrmOutPolError", "node_xfrm_out_pol_error_packets_total", "Policy error"),
    ("XfrmFwdHdrError", "node_xfrm_fwd_hdr_error_packets_total", "Forward routing of a packet is not allowed"),
    ("XfrmOutStateInvalid", "node_xfrm_out_state_invalid_packets_total", "State is invalid, perhaps expired"),
    ("XfrmAcquireError", "node_xfrm_acquire_error_packets_total", "State hasn\u{2019}t been fully acquired before use"),
];

/// Parses `/proc/net/xfrm_stat` into the values of [`FIELDS`], in its
/// order. A field the kernel does not print counts 0 (as node_exporter
/// reports it); fields it does not know are ignored.
pub fn parse(text: &str) -> Result<[i64; 28], String> {
    let mut values = [0i64; 28];
    for (n, line) in text.lines().enumerate() {
        let f: Vec<&str> = line.split_ascii_whitespace().collect();
        let [name, value] = f.as_slice() else {
            if f.is_empty() {
                continue;
            }
            return Err(format!("line {}: expected \"name value\", got {line:?}", n + 1));
        };
        let value: i64 = value.parse().map_err(|_| format!("line {}: {value:?} is not an integer", n + 1))?;
        if let Some(i) = FIELDS.iter().position(|(k, _, _)| k == name) {
            if let Some(slot) = values.get_mut(i) {
                *slot = value;
            }
        }
    }
    Ok(values)
}

struct Xfrm(Arc<HostPaths>);

impl HostCollector for Xfrm {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let path = self.0.proc("net/xfrm_stat");
        let text = match read_to_string(&path) {
            Err(e) if e.is_not_found() => return Err(Error::NoData("no /proc/net/xfrm_stat: the kernel was built without XFRM statistics".into())),
            other => other?,
        };
        let values = parse(&text).map_err(|d| Error::parse(&path, d))?;
        for ((_, name, help), v) in FIELDS.iter().zip(values) {
            out.counter(*name, *help, &[], v as f64);
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(Xfrm(cx.paths.clone()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_known_fields_and_defaults_the_rest_to_zero() {
        let v = parse("XfrmInError                     1\nXfrmInBufferError               2\nXfrmAcquireError                24532\nXfrmNewThing 9\n").unwrap();
        assert_eq!((v[0], v[1], v[2], v[27]), (1, 2, 0, 24532));
        assert_eq!(parse("").unwrap(), [0; 28]);
    }

    #[test]
    fn refuses_malformed_lines() {
        assert!(parse("XfrmInError\n").unwrap_err().contains("line 1"));
        assert!(parse("XfrmInError 1 2\n").is_err());
        assert!(parse("XfrmInError 1\nXfrmInHdrError x\n").unwrap_err().contains("line 2"));
        assert!(parse("XfrmInError 99999999999999999999999\n").is_err());
    }

    #[test]
    fn every_field_has_a_distinct_metric() {
        let mut names: Vec<&str> = FIELDS.iter().map(|f| f.1).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), FIELDS.len());
    }
}
