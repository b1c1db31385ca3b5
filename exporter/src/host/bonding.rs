//! The `bonding` collector: how many links each bonding master has and how
//! many of them are up, from `/sys/class/net/bonding_masters`, each
//! master's `bonding/slaves` and each link's `bonding_slave/mii_status`.

use std::path::Path;
use std::sync::Arc;

use crate::collector::{read_to_string, BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::metrics::{Kind, Snapshot};

/// One bonding master: its links and how many of them have MII status `up`.
#[derive(Debug, PartialEq, Eq)]
pub struct Master {
    /// The master's interface name.
    pub name: String,
    /// Links configured.
    pub slaves: u64,
    /// Links whose MII status is `up`.
    pub active: u64,
}

/// Whether a `mii_status` file's text says the link is up.
pub fn mii_up(text: &str) -> bool {
    text.trim() == "up"
}

/// Reads every master named in `listing` (the text of
/// `<net>/bonding_masters`).
///
/// A link's state is in `lower_<link>/bonding_slave/mii_status`; older
/// kernels name the directory `slave_<link>`. A link listed without either
/// is an error, as is a master without a `bonding/slaves` file.
pub fn read_masters(net: &Path, listing: &str) -> Result<Vec<Master>, Error> {
    let mut masters = Vec::new();
    for name in listing.split_ascii_whitespace() {
        let dir = net.join(name);
        let slaves = read_to_string(&dir.join("bonding/slaves"))?;
        let mut master = Master { name: name.to_owned(), slaves: 0, active: 0 };
        for link in slaves.split_ascii_whitespace() {
            let lower = dir.join(format!("lower_{link}/bonding_slave/mii_status"));
            let state = match read_to_string(&lower) {
                Err(e) if e.is_not_found() => read_to_string(&dir.join(format!("slave_{link}/bonding_slave/mii_status")))?,
                other => other?,
            };
            master.slaves += 1;
            if mii_up(&state) {
                master.active += 1;
            }
        }
        masters.push(master);
    }
    Ok(masters)
}

struct Bonding(Arc<HostPaths>);

impl HostCollector for Bonding {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let net = self.0.sys("class/net");
        let listing = match read_to_string(&net.join("bonding_masters")) {
            Err(e) if e.is_not_found() => return Err(Error::NoData("no /sys/class/net/bonding_masters: the bonding driver is not loaded".into())),
            other => other?,
        };
        let masters = read_masters(&net, &listing)?;
        let slaves = out.family("node_bonding_slaves", "Number of configured slaves per bonding interface.", Kind::Gauge);
        for m in &masters {
            slaves.add(&[("master", &m.name)], m.slaves as f64);
        }
        let active = out.family("node_bonding_active", "Number of active slaves per bonding interface.", Kind::Gauge);
        for m in &masters {
            active.add(&[("master", &m.name)], m.active as f64);
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(Bonding(cx.paths.clone()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::host::util::write_tree_file as write;

    #[test]
    fn counts_links_under_both_directory_names() {
        let dir = tempfile::tempdir().unwrap();
        let net = dir.path();
        write(net, "bond0/bonding/slaves", "\n");
        write(net, "dmz/bonding/slaves", "eth0 eth4\n");
        write(net, "dmz/slave_eth0/bonding_slave/mii_status", "up\n");
        write(net, "dmz/lower_eth4/bonding_slave/mii_status", "up\n");
        write(net, "int/bonding/slaves", "eth5 eth1\n");
        write(net, "int/slave_eth5/bonding_slave/mii_status", "up\n");
        write(net, "int/slave_eth1/bonding_slave/mii_status", "down\n");
        let m = read_masters(net, "bond0 dmz int\n").unwrap();
        assert_eq!(
            m,
            vec![
                Master { name: "bond0".into(), slaves: 0, active: 0 },
                Master { name: "dmz".into(), slaves: 2, active: 2 },
                Master { name: "int".into(), slaves: 2, active: 1 },
            ]
        );
    }

    #[test]
    fn a_listed_link_without_state_or_a_master_without_links_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let net = dir.path();
        assert!(read_masters(net, "bond0").unwrap_err().to_string().contains("bond0/bonding/slaves"));
        write(net, "bond0/bonding/slaves", "eth9\n");
        let e = read_masters(net, "bond0").unwrap_err().to_string();
        assert!(e.contains("slave_eth9"), "{e}");
        assert_eq!(read_masters(net, "").unwrap(), vec![]);
        assert!(!mii_up("garbage") && mii_up(" up \n"));
    }
}
