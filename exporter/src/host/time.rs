//! The `time` collector: the system time, the local time zone's offset, and
//! the clock sources from `/sys/devices/system/clocksource`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::collector::{BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::host::util::{list_dir, read_attr};
use crate::metrics::{Kind, Snapshot};

/// The zone in effect at `now` (unix seconds) according to a TZif file:
/// (abbreviation, UTC offset in seconds). Uses the transitions the file
/// lists; past the last one, the last one's zone.
pub fn zone_at(tzif: &[u8], now: i64) -> Option<(String, i64)> {
    fn be32(b: &[u8], at: usize) -> Option<u32> {
        Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
    }
    if tzif.get(..4)? != b"TZif" {
        return None;
    }
    let version = *tzif.get(4)?;
    let counts = |at: usize| -> Option<[usize; 6]> {
        let mut c = [0usize; 6];
        for (i, slot) in c.iter_mut().enumerate() {
            *slot = be32(tzif, at + 20 + 4 * i)? as usize;
        }
        Some(c)
    };
    let [isut, isstd, leap, timecnt, typecnt, charcnt] = counts(0)?;
    let (base, time_size, [isut, isstd, leap, timecnt, typecnt, charcnt]) = if version >= b'2' {
        // Skip the v1 block to the 64-bit one.
        let v1_len = timecnt * 5 + typecnt * 6 + charcnt + leap * 8 + isstd + isut;
        let at = 44 + v1_len;
        (at + 44, 8usize, counts(at)?)
    } else {
        (44, 4usize, [isut, isstd, leap, timecnt, typecnt, charcnt])
    };
    let _ = (isut, isstd, leap);
    if typecnt == 0 {
        return None;
    }
    let times_at = base;
    let idx_at = times_at + timecnt * time_size;
    let types_at = idx_at + timecnt;
    let chars_at = types_at + typecnt * 6;
    let mut ty = 0usize;
    for i in 0..timecnt {
        let t = if time_size == 8 {
            i64::from_be_bytes(tzif.get(times_at + 8 * i..times_at + 8 * i + 8)?.try_into().ok()?)
        } else {
            be32(tzif, times_at + 4 * i)? as i32 as i64
        };
        if t > now {
            break;
        }
        ty = *tzif.get(idx_at + i)? as usize;
    }
    let rec = tzif.get(types_at + ty * 6..types_at + ty * 6 + 6)?;
    let offset = i32::from_be_bytes(rec[..4].try_into().ok()?) as i64;
    let abbr_start = chars_at + rec[5] as usize;
    let chars = tzif.get(abbr_start..chars_at + charcnt)?;
    let abbr = chars.split(|&b| b == 0).next()?;
    Some((String::from_utf8_lossy(abbr).into_owned(), offset))
}

fn local_zone(now: i64) -> (String, i64) {
    let path = match std::env::var("TZ") {
        Ok(tz) if !tz.is_empty() => {
            let name = tz.trim_start_matches(':');
            if name.starts_with('/') {
                PathBuf::from(name)
            } else {
                PathBuf::from("/usr/share/zoneinfo").join(name)
            }
        }
        _ => PathBuf::from("/etc/localtime"),
    };
    std::fs::read(path).ok().and_then(|b| zone_at(&b, now)).unwrap_or_else(|| ("UTC".to_owned(), 0))
}

struct Time(Arc<HostPaths>);

impl HostCollector for Time {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
        out.gauge("node_time_seconds", "System time in seconds since epoch (1970).", &[], now);
        let (zone, offset) = local_zone(now as i64);
        out.gauge("node_time_zone_offset_seconds", "System time zone offset in seconds.", &[("time_zone", &zone)], offset as f64);
        let base = self.0.sys("devices/system/clocksource");
        let Ok(devices) = list_dir(&base) else { return Ok(()) };
        for dev in devices.iter().filter(|d| d.starts_with("clocksource")) {
            let id = &dev["clocksource".len()..];
            let dir = base.join(dev);
            if let Ok(avail) = read_attr(&dir.join("available_clocksource")) {
                let fam = out.family("node_time_clocksource_available_info", "Available clocksources read from '/sys/devices/system/clocksource'.", Kind::Gauge);
                for cs in avail.split_ascii_whitespace() {
                    fam.add(&[("device", id), ("clocksource", cs)], 1.0);
                }
            }
            if let Ok(cur) = read_attr(&dir.join("current_clocksource")) {
                out.gauge("node_time_clocksource_current_info", "Current clocksource read from '/sys/devices/system/clocksource'.", &[("device", id), ("clocksource", cur.trim())], 1.0);
            }
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(Time(cx.paths.clone()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A v1 TZif with two types (CET +3600, CEST +7200) and one transition.
    fn tzif() -> Vec<u8> {
        let mut b = b"TZif\0".to_vec();
        b.extend([0u8; 15]);
        for c in [0u32, 0, 0, 1, 2, 10] {
            b.extend(c.to_be_bytes());
        }
        b.extend(1000i32.to_be_bytes()); // transition at t=1000
        b.push(1); // to type 1
        b.extend(3600i32.to_be_bytes());
        b.extend([0, 0]);
        b.extend(7200i32.to_be_bytes());
        b.extend([1, 4]);
        b.extend(b"CET\0CEST\0\0");
        b
    }

    #[test]
    fn finds_zone_in_effect() {
        assert_eq!(zone_at(&tzif(), 500), Some(("CET".into(), 3600)));
        assert_eq!(zone_at(&tzif(), 2000), Some(("CEST".into(), 7200)));
        assert_eq!(zone_at(b"garbage", 0), None);
        assert_eq!(zone_at(&tzif()[..50], 0), None);
    }

    #[test]
    fn reads_this_machines_zone_file_if_any() {
        if let Ok(b) = std::fs::read("/usr/share/zoneinfo/Europe/Berlin") {
            let (abbr, off) = zone_at(&b, 1_700_000_000).unwrap(); // November 2023
            assert_eq!((abbr.as_str(), off), ("CET", 3600));
            let (abbr, off) = zone_at(&b, 1_690_000_000).unwrap(); // July 2023
            assert_eq!((abbr.as_str(), off), ("CEST", 7200));
        }
    }
}
