//! The `xfs` collector: per-filesystem XFS statistics from
//! `/sys/fs/xfs/<device>/stats/stats` as `node_xfs_*_total{device}`.
//!
//! The stats file has one line per group (`extent_alloc 1 872 0 0`). The
//! groups node_exporter reports are in [`GROUPS`], each with its metrics in
//! column order; a group missing from the file reports zeros, as
//! node_exporter's do. Lines of other groups are not read.

use std::sync::Arc;

use crate::collector::{read_into, BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::metrics::{Kind, Snapshot};

/// A line of the stats file that is reported.
#[derive(Debug)]
pub struct Group {
    /// The line's first word.
    pub label: &'static str,
    /// The numbers of values the line may have.
    pub counts: &'static [usize],
    /// (metric name, help) of its first columns, in column order.
    pub metrics: &'static [(&'static str, &'static str)],
}

/// Most values a reported line may have.
const MAX_VALUES: usize = 8;

/// The groups reported, in node_exporter's order. Names and help follow
/// the XFS wiki's Runtime_Stats page, as node_exporter's do.
pub const GROUPS: [Group; 8] = [
    Group {
        label: "extent_alloc",
        counts: &[4],
        metrics: &[
            ("node_xfs_extent_allocation_extents_allocated_total", "Number of extents allocated for a filesystem."),
            ("node_xfs_extent_allocation_blocks_allocated_total", "Number of blocks allocated for a filesystem."),
            ("node_xfs_extent_allocation_extents_freed_total", "Number of extents freed for a filesystem."),
            ("node_xfs_extent_allocation_blocks_freed_total", "Number of blocks freed for a filesystem."),
        ],
    },
    Group {
        label: "abt",
        counts: &[4],
        metrics: &[
            ("node_xfs_allocation_btree_lookups_total", "Number of allocation B-tree lookups for a filesystem."),
            ("node_xfs_allocation_btree_compares_total", "Number of allocation B-tree compares for a filesystem."),
            ("node_xfs_allocation_btree_records_inserted_total", "Number of allocation B-tree records inserted for a filesystem."),
            ("node_xfs_allocation_btree_records_deleted_total", "Number of allocation B-tree records deleted for a filesystem."),
        ],
    },
    Group {
        label: "blk_map",
        counts: &[7],
        metrics: &[
            ("node_xfs_block_mapping_reads_total", "Number of block map for read operations for a filesystem."),
            ("node_xfs_block_mapping_writes_total", "Number of block map for write operations for a filesystem."),
            ("node_xfs_block_mapping_unmaps_total", "Number of block unmaps (deletes) for a filesystem."),
            ("node_xfs_block_mapping_extent_list_insertions_total", "Number of extent list insertions for a filesystem."),
            ("node_xfs_block_mapping_extent_list_deletions_total", "Number of extent list deletions for a filesystem."),
            ("node_xfs_block_mapping_extent_list_lookups_total", "Number of extent list lookups for a filesystem."),
            ("node_xfs_block_mapping_extent_list_compares_total", "Number of extent list compares for a filesystem."),
        ],
    },
    Group {
        label: "bmbt",
        counts: &[4],
        metrics: &[
            ("node_xfs_block_map_btree_lookups_total", "Number of block map B-tree lookups for a filesystem."),
            ("node_xfs_block_map_btree_compares_total", "Number of block map B-tree compares for a filesystem."),
            ("node_xfs_block_map_btree_records_inserted_total", "Number of block map B-tree records inserted for a filesystem."),
            ("node_xfs_block_map_btree_records_deleted_total", "Number of block map B-tree records deleted for a filesystem."),
        ],
    },
    Group {
        label: "dir",
        counts: &[4],
        metrics: &[
            (
                "node_xfs_directory_operation_lookup_total",
                "Number of file name directory lookups which miss the operating systems directory name lookup cache.",
            ),
            ("node_xfs_directory_operation_create_total", "Number of times a new directory entry was created for a filesystem."),
            ("node_xfs_directory_operation_remove_total", "Number of times an existing directory entry was created for a filesystem."),
            ("node_xfs_directory_operation_getdents_total", "Number of times the directory getdents operation was performed for a filesystem."),
        ],
    },
    Group {
        label: "ig",
        counts: &[7],
        metrics: &[
            ("node_xfs_inode_operation_attempts_total", "Number of times the OS looked for an XFS inode in the inode cache."),
            ("node_xfs_inode_operation_found_total", "Number of times the OS looked for and found an XFS inode in the inode cache."),
            (
                "node_xfs_inode_operation_recycled_total",
                "Number of times the OS found an XFS inode in the cache, but could not use it as it was being recycled.",
            ),
            ("node_xfs_inode_operation_missed_total", "Number of times the OS looked for an XFS inode in the cache, but did not find it."),
            (
                "node_xfs_inode_operation_duplicates_total",
                "Number of times the OS tried to add a missing XFS inode to the inode cache, but found it had already been added by another process.",
            ),
            (
                "node_xfs_inode_operation_reclaims_total",
                "Number of times the OS reclaimed an XFS inode from the inode cache to free memory for another purpose.",
            ),
            ("node_xfs_inode_operation_attribute_changes_total", "Number of times the OS explicitly changed the attributes of an XFS inode."),
        ],
    },
    Group {
        label: "rw",
        counts: &[2],
        metrics: &[
            ("node_xfs_write_calls_total", "Number of write(2) system calls made to files in a filesystem."),
            ("node_xfs_read_calls_total", "Number of read(2) system calls made to files in a filesystem."),
        ],
    },
    Group {
        label: "vnodes",
        // The eighth value (vnodes on free lists) is newer and not reported.
        counts: &[7, 8],
        metrics: &[
            ("node_xfs_vnode_active_total", "Number of vnodes not on free lists for a filesystem."),
            ("node_xfs_vnode_allocate_total", "Number of times vn_alloc called for a filesystem."),
            ("node_xfs_vnode_get_total", "Number of times vn_get called for a filesystem."),
            ("node_xfs_vnode_hold_total", "Number of times vn_hold called for a filesystem."),
            ("node_xfs_vnode_release_total", "Number of times vn_rele called for a filesystem."),
            ("node_xfs_vnode_reclaim_total", "Number of times vn_reclaim called for a filesystem."),
            ("node_xfs_vnode_remove_total", "Number of times vn_remove called for a filesystem."),
        ],
    },
];

/// The values of each of [`GROUPS`]' lines, zeros for a line the file lacks.
pub type Values = [[u32; MAX_VALUES]; GROUPS.len()];

/// Parses a stats file. A reported line with the wrong number of values,
/// or a value that is not a 32-bit unsigned integer, is an error; the last
/// of repeated lines counts.
pub fn parse(text: &str) -> Result<Values, String> {
    let mut values = [[0u32; MAX_VALUES]; GROUPS.len()];
    for (n, line) in text.lines().enumerate() {
        let mut words = line.split_ascii_whitespace();
        let Some(label) = words.next() else { continue };
        let Some((group, row)) = GROUPS.iter().zip(values.iter_mut()).find(|(g, _)| g.label == label) else { continue };
        let mut parsed = [0u32; MAX_VALUES];
        let mut count = 0;
        for word in words {
            let v = word.parse::<u32>().map_err(|_| format!("line {}: {label}: not a 32-bit unsigned integer: {word:?}", n + 1))?;
            if let Some(slot) = parsed.get_mut(count) {
                *slot = v;
            }
            count += 1;
        }
        if !group.counts.contains(&count) {
            return Err(format!("line {}: {label}: {count} values, expected {:?}", n + 1, group.counts));
        }
        *row = parsed;
    }
    Ok(values)
}

struct Xfs(Arc<HostPaths>);

impl HostCollector for Xfs {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let base = self.0.sys("fs/xfs");
        let entries = match std::fs::read_dir(&base) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NoData(format!("{} does not exist: the xfs module is not loaded", base.display())));
            }
            Err(e) => return Err(Error::io(&base, e)),
        };
        let mut devices: Vec<String> = entries.filter_map(Result::ok).filter_map(|e| e.file_name().into_string().ok()).collect();
        devices.sort();
        let mut buf = Vec::new();
        let mut stats = Vec::with_capacity(devices.len());
        for device in devices {
            let path = base.join(&device).join("stats/stats");
            match read_into(&path, &mut buf) {
                Ok(()) => {}
                // `/sys/fs/xfs/stats` (all filesystems together) has no
                // such file; an unmounted filesystem's directory is gone.
                Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory) => continue,
                Err(e) => return Err(Error::io(&path, e)),
            }
            let text = std::str::from_utf8(&buf).map_err(|_| Error::parse(&path, "not UTF-8"))?;
            stats.push((device, parse(text).map_err(|d| Error::parse(&path, d))?));
        }
        if stats.is_empty() {
            // The module is loaded, no XFS filesystem is mounted.
            return Ok(());
        }
        for (group, i) in GROUPS.iter().zip(0..) {
            for (&(name, help), j) in group.metrics.iter().zip(0..) {
                let family = out.family(name, help, Kind::Counter);
                for (device, values) in &stats {
                    let v = values.get(i).and_then(|row: &[u32; MAX_VALUES]| row.get(j)).copied().unwrap_or(0);
                    family.add(&[("device", device)], f64::from(v));
                }
            }
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(Xfs(cx.paths.clone()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATS: &str = "extent_alloc 1 872 0 0\nabt 0 0 0 0\nblk_map 61 29 1 1 1 91 0\nbmbt 0 0 0 0\ndir 3 2 1 52\ntrans 4 40 0\nig 5 1 0 4 0 0 1\nlog 8 21 0 5821 4\npush_ail 44 0 1102 15 0 2 0 2 0 2\nxstrat 1 0\nrw 28 0\nattr 0 0 0 0\nicluster 2 2 2\nvnodes 4 0 0 0 1 1 1 0\nbuf 22 25 14 0 0 8 0 8 8\nabtb2 1 1 0 0 0 0 0 0 0 0 0 0 0 0 0\nqm 0 0 0 0 0 0 0 0\nxpc 3571712 3568056 0\ndebug 0\n";

    #[test]
    fn table_has_node_exporters_39_metrics() {
        assert_eq!(GROUPS.iter().map(|g| g.metrics.len()).sum::<usize>(), 39);
        for g in &GROUPS {
            assert!(g.counts.iter().all(|&c| c >= g.metrics.len() && c <= MAX_VALUES), "{}", g.label);
        }
    }

    #[test]
    fn parses_the_fixture() {
        let v = parse(STATS).unwrap();
        assert_eq!(v[0][..4], [1, 872, 0, 0]);
        assert_eq!(v[2][..7], [61, 29, 1, 1, 1, 91, 0]);
        assert_eq!(v[6][..2], [28, 0]);
        assert_eq!(v[7][..8], [4, 0, 0, 0, 1, 1, 1, 0]);
        // A missing line reads as zeros; an older kernel's seven vnodes too.
        let v = parse("vnodes 1 2 3 4 5 6 7\n\n").unwrap();
        assert_eq!(v[7][..7], [1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(v[0], [0; MAX_VALUES]);
        assert_eq!(parse("").unwrap(), [[0; MAX_VALUES]; GROUPS.len()]);
    }

    #[test]
    fn refuses_malformed_lines() {
        let e = parse("abt 0 0 0 0\nrw 28\n").unwrap_err();
        assert!(e.contains("line 2") && e.contains("rw") && e.contains("1 values"), "{e}");
        assert!(parse("vnodes 1 2 3 4 5 6 7 8 9\n").unwrap_err().contains("9 values"));
        assert!(parse("dir 1 2 3 x\n").unwrap_err().contains("\"x\""));
        assert!(parse("dir 1 2 3 4294967296\n").is_err());
        assert!(parse("dir\n").is_err());
        // Lines not reported are not checked.
        assert!(parse("trans 1\nnewthing a b\n").is_ok());
    }

    #[test]
    fn gathers_each_filesystem_and_skips_the_global_stats() {
        let dir = tempfile::tempdir().unwrap();
        let xfs = dir.path().join("fs/xfs");
        std::fs::create_dir_all(xfs.join("sda1/stats")).unwrap();
        std::fs::create_dir_all(xfs.join("stats")).unwrap();
        std::fs::write(xfs.join("sda1/stats/stats"), STATS).unwrap();
        std::fs::write(xfs.join("stats/stats"), STATS).unwrap();
        let paths = Arc::new(HostPaths { sysfs: dir.path().into(), ..HostPaths::default() });
        let Some(Collector::Host(c)) = build(&Context::new(&paths)).unwrap() else { panic!("not a host collector") };
        let scrape = Scrape { deadline: std::time::Instant::now() };
        let mut out = Snapshot::new();
        c.gather(&scrape, &mut out).unwrap();
        assert_eq!(out.families.len(), 39);
        assert_eq!(out.sample_count(), 39);
        let f = out.families.iter().find(|f| f.name == "node_xfs_read_calls_total").unwrap();
        assert_eq!((f.samples[0].labels[0].1.as_str(), f.samples[0].value), ("sda1", 0.0));

        std::fs::write(xfs.join("sda1/stats/stats"), "rw 1\n").unwrap();
        let e = c.gather(&scrape, &mut Snapshot::new()).unwrap_err().to_string();
        assert!(e.contains("sda1/stats/stats") && e.contains("line 1"), "{e}");

        let paths = Arc::new(HostPaths { sysfs: dir.path().join("none"), ..HostPaths::default() });
        let Some(Collector::Host(c)) = build(&Context::new(&paths)).unwrap() else { panic!("not a host collector") };
        assert!(matches!(c.gather(&scrape, &mut Snapshot::new()), Err(Error::NoData(_))));
    }
}
