//! The `uname` collector: `node_uname_info` from `uname(2)` of the live
//! kernel.

use crate::collector::{BuildError, Collector, Context, Error, HostCollector, Scrape};
use crate::metrics::Snapshot;

struct Uname;

impl HostCollector for Uname {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let u = rustix::system::uname();
        let s = |c: &std::ffi::CStr| c.to_string_lossy().into_owned();
        out.gauge(
            "node_uname_info",
            "Labeled system information as provided by the uname system call.",
            &[
                ("sysname", &s(u.sysname())),
                ("release", &s(u.release())),
                ("version", &s(u.version())),
                ("machine", &s(u.machine())),
                ("nodename", &s(u.nodename())),
                ("domainname", &s(u.domainname())),
            ],
            1.0,
        );
        Ok(())
    }
}

/// Builds the collector.
pub fn build(_: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(Uname)))
}
