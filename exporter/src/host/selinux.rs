//! The `selinux` collector: whether SELinux is on, and its current and
//! configured enforcement modes, as `node_selinux_*`.
//!
//! SELinux is on when selinuxfs shows an `enforce` file
//! (`/sys/fs/selinux/enforce`, whose content is the current mode) and this
//! process has a security context other than `kernel`
//! (`/proc/self/attr/current`). The configured mode is `SELINUX=` of
//! `/etc/selinux/config`: enforcing 1, permissive 0, anything else -1.
//! Without SELinux only `node_selinux_enabled 0` is reported.

use std::sync::Arc;

use crate::collector::{read_to_string, BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::host::util::with_attr;
use crate::metrics::Snapshot;

/// The mode `SELINUX=` of a config file's text sets: 1 enforcing,
/// 0 permissive, -1 disabled, absent or unknown.
pub fn config_mode(text: &str) -> i64 {
    let value = text
        .lines()
        .rev()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix("SELINUX="))
        .map(|v| v.trim().trim_matches('"'));
    match value {
        Some("enforcing") => 1,
        Some("permissive") => 0,
        _ => -1,
    }
}

/// The current mode from selinuxfs's `enforce` (1 enforcing, 0 permissive).
pub fn current_mode(text: &str) -> Result<i64, String> {
    match text.trim() {
        "1" => Ok(1),
        "0" => Ok(0),
        other => Err(format!("not 0 or 1: {other:?}")),
    }
}

struct Selinux(Arc<HostPaths>);

impl HostCollector for Selinux {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let enforce = self.0.sys("fs/selinux/enforce");
        let current = match with_attr(&enforce, current_mode) {
            Ok(mode) => Some(mode.map_err(|d| Error::parse(&enforce, d))?),
            Err(_) => None,
        };
        let labelled = || with_attr(&self.0.proc("self/attr/current"), |c| !c.is_empty() && c != "kernel").unwrap_or(false);
        let Some(current) = current.filter(|_| labelled()) else {
            out.gauge("node_selinux_enabled", "SELinux is enabled, 1 is true, 0 is false", &[], 0.0);
            return Ok(());
        };
        let config = read_to_string(&self.0.root("etc/selinux/config")).map(|t| config_mode(&t)).unwrap_or(-1);
        out.gauge("node_selinux_enabled", "SELinux is enabled, 1 is true, 0 is false", &[], 1.0);
        out.gauge("node_selinux_config_mode", "Configured SELinux enforcement mode", &[], config as f64);
        out.gauge("node_selinux_current_mode", "Current SELinux enforcement mode", &[], current as f64);
        Ok(())
    }
}

/// Builds the collector.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(Selinux(cx.paths.clone()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_modes() {
        assert_eq!(config_mode("# SELINUX=enforcing\nSELINUX=permissive\nSELINUXTYPE=targeted\n"), 0);
        assert_eq!(config_mode("SELINUX=enforcing\n"), 1);
        assert_eq!(config_mode("SELINUX=disabled\n"), -1);
        assert_eq!(config_mode(""), -1);
        assert_eq!(current_mode("1"), Ok(1));
        assert_eq!(current_mode("0\n"), Ok(0));
        assert!(current_mode("").is_err());
        assert!(current_mode("2").is_err());
    }

    fn gather(root: &std::path::Path) -> Vec<(String, f64)> {
        let paths = Arc::new(HostPaths { procfs: root.join("proc"), sysfs: root.join("sys"), rootfs: root.to_owned(), ..HostPaths::default() });
        let mut out = Snapshot::new();
        Selinux(paths).gather(&Scrape { deadline: std::time::Instant::now() }, &mut out).unwrap();
        let mut v: Vec<_> = out.families.iter().map(|f| (f.name.to_string(), f.samples[0].value)).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    #[test]
    fn off_on_and_in_between() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        assert_eq!(gather(root), [("node_selinux_enabled".into(), 0.0)]);
        std::fs::create_dir_all(root.join("sys/fs/selinux")).unwrap();
        std::fs::write(root.join("sys/fs/selinux/enforce"), "1").unwrap();
        std::fs::create_dir_all(root.join("proc/self/attr")).unwrap();
        std::fs::write(root.join("proc/self/attr/current"), "kernel\0").unwrap();
        assert_eq!(gather(root), [("node_selinux_enabled".into(), 0.0)]);
        std::fs::write(root.join("proc/self/attr/current"), "system_u:system_r:unconfined_t:s0\0").unwrap();
        std::fs::create_dir_all(root.join("etc/selinux")).unwrap();
        std::fs::write(root.join("etc/selinux/config"), "SELINUX=permissive\n").unwrap();
        assert_eq!(
            gather(root),
            [("node_selinux_config_mode".into(), 0.0), ("node_selinux_current_mode".into(), 1.0), ("node_selinux_enabled".into(), 1.0)]
        );
    }
}
