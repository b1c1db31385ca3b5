//! The dashboards, one module each.

pub mod containers;
pub mod host;
pub mod overview;
pub mod proxmox;
pub mod ups;

/// `job` variable: every job Prometheus scrapes.
pub(crate) fn job_variable() -> crate::grafana::Variable {
    crate::grafana::Variable::multi("job", "Job", "up", "job")
}

/// Escapes a value for a PromQL double-quoted string.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
