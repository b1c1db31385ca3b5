//! The `mmc` collector: what each SD card or eMMC is, and the wear it
//! reports. For every `mmcblk<N>` in `<sysfs>/block` it reads the card's
//! attributes (`device/type`, `name`, `manfid`, `oemid`, `date`) and, where
//! the card reports them (eMMC 5.0 and later; SD cards do not), the JEDEC
//! wear estimates: `life_time` (two values, for the two memory types A and
//! B, each in tenths of the rated life used: 0x01 is 0-10 %, 0x0a 90-100 %,
//! 0x0b past it) and `pre_eol_info` (0x01 normal, 0x02 warning: 80 % of
//! the reserved blocks used, 0x03 urgent). A value of 0 means the card does
//! not define it and is left out.

use std::path::Path;
use std::sync::Arc;

use crate::collector::{BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::host::util::{list_dir, read_attr};
use crate::metrics::Snapshot;

const INFO_HELP: &str = "Identity of an SD card or eMMC, from /sys/block/<device>/device/{type,name,manfid,oemid,date}.";
const LIFE_TIME_HELP: &str = "JEDEC device life time estimate of an eMMC per memory type (area A or B): 1 is 0-10% of its rated life used, 10 is 90-100%, 11 past it (from /sys/block/<device>/device/life_time).";
const PRE_EOL_HELP: &str = "JEDEC pre-end-of-life information of an eMMC: 1 normal, 2 warning (80% of the reserved blocks used), 3 urgent (from /sys/block/<device>/device/pre_eol_info).";

/// Whether a block device name is a whole card (`mmcblk0`), not one of its
/// boot or RPMB areas (`mmcblk0boot0`, `mmcblk0rpmb`).
pub fn is_card(name: &str) -> bool {
    name.strip_prefix("mmcblk").is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn hex_byte(s: &str) -> Option<u8> {
    let t = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"))?;
    u8::from_str_radix(t, 16).ok()
}

/// `life_time`: `0x01 0x02` (types A and B).
pub fn parse_life_time(text: &str) -> Option<(u8, u8)> {
    let mut it = text.split_ascii_whitespace();
    let (a, b) = (hex_byte(it.next()?)?, hex_byte(it.next()?)?);
    it.next().is_none().then_some((a, b))
}

/// `pre_eol_info`: `0x01`.
pub fn parse_pre_eol(text: &str) -> Option<u8> {
    let mut it = text.split_ascii_whitespace();
    let v = hex_byte(it.next()?)?;
    it.next().is_none().then_some(v)
}

/// A wear attribute's value if the card has the file and defines it; a
/// parse error names the file.
fn wear<T: Copy>(path: &Path, parse: impl Fn(&str) -> Option<T>, defined: impl Fn(T) -> bool) -> Result<Option<T>, Error> {
    let text = match read_attr(path) {
        Ok(t) => t,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e),
    };
    let v = parse(&text).ok_or_else(|| Error::parse(path, format!("unexpected value {:?}", text.trim())))?;
    Ok(defined(v).then_some(v))
}

struct Mmc(Arc<HostPaths>);

impl HostCollector for Mmc {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let block = self.0.sys("block");
        let names = match list_dir(&block) {
            Ok(n) => n,
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(e),
        };
        for name in names.iter().filter(|n| is_card(n)) {
            let dev = block.join(name).join("device");
            let attr = |f: &str| read_attr(&dev.join(f)).map(|s| s.trim().to_owned()).unwrap_or_default();
            out.gauge(
                "mmc_info",
                INFO_HELP,
                &[("device", name), ("type", &attr("type")), ("name", &attr("name")), ("manfid", &attr("manfid")), ("oemid", &attr("oemid")), ("date", &attr("date"))],
                1.0,
            );
            if let Some((a, b)) = wear(&dev.join("life_time"), parse_life_time, |_| true)? {
                for (area, v) in [("A", a), ("B", b)] {
                    if v != 0 {
                        out.gauge("mmc_life_time_estimate", LIFE_TIME_HELP, &[("device", name), ("area", area)], f64::from(v));
                    }
                }
            }
            if let Some(v) = wear(&dev.join("pre_eol_info"), parse_pre_eol, |v| v != 0)? {
                out.gauge("mmc_pre_eol_info", PRE_EOL_HELP, &[("device", name)], f64::from(v));
            }
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(Mmc(cx.paths.clone()))))
}

#[cfg(test)]
mod tests {
    use super::*;


    fn gather_in(sysfs: &std::path::Path) -> Result<Snapshot, Error> {
        let c = Mmc(Arc::new(HostPaths { sysfs: sysfs.to_owned(), ..HostPaths::default() }));
        let mut out = Snapshot::new();
        c.gather(&Scrape { deadline: std::time::Instant::now() + std::time::Duration::from_secs(5) }, &mut out).map(|()| out)
    }

    fn card(root: &std::path::Path, name: &str, attrs: &[(&str, &str)]) {
        let dev = root.join("block").join(name).join("device");
        std::fs::create_dir_all(&dev).unwrap();
        for (f, v) in attrs {
            std::fs::write(dev.join(f), format!("{v}\n")).unwrap();
        }
    }

    fn samples(out: &Snapshot) -> Vec<String> {
        let mut v: Vec<String> = out
            .families
            .iter()
            .flat_map(|f| f.samples.iter().map(move |s| format!("{}{{{}}} {}", f.name, s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","), s.value)))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn an_emmc_with_wear_figures_and_an_sd_card_without() {
        let dir = tempfile::tempdir().unwrap();
        let emmc = [("type", "MMC"), ("name", "DG4016"), ("manfid", "0x000045"), ("oemid", "0x0100"), ("date", "02/2021"), ("life_time", "0x02 0x01"), ("pre_eol_info", "0x01")];
        card(dir.path(), "mmcblk0", &emmc);
        card(dir.path(), "mmcblk0boot0", &emmc);
        card(dir.path(), "mmcblk1", &[("type", "SD"), ("name", "SC64G"), ("manfid", "0x000003"), ("oemid", "0x5344"), ("date", "08/2019")]);
        std::fs::create_dir_all(dir.path().join("block/sda/device")).unwrap();
        let out = gather_in(dir.path()).unwrap();
        assert_eq!(
            samples(&out),
            [
                "mmc_info{device=mmcblk0,type=MMC,name=DG4016,manfid=0x000045,oemid=0x0100,date=02/2021} 1",
                "mmc_info{device=mmcblk1,type=SD,name=SC64G,manfid=0x000003,oemid=0x5344,date=08/2019} 1",
                "mmc_life_time_estimate{device=mmcblk0,area=A} 2",
                "mmc_life_time_estimate{device=mmcblk0,area=B} 1",
                "mmc_pre_eol_info{device=mmcblk0} 1",
            ]
        );
    }

    #[test]
    fn undefined_wear_is_left_out_and_a_malformed_life_time_fails_this_collector() {
        let dir = tempfile::tempdir().unwrap();
        card(dir.path(), "mmcblk0", &[("type", "MMC"), ("life_time", "0x00 0x0b"), ("pre_eol_info", "0x00")]);
        let out = gather_in(dir.path()).unwrap();
        assert_eq!(samples(&out).iter().filter(|s| !s.starts_with("mmc_info")).collect::<Vec<_>>(), ["mmc_life_time_estimate{device=mmcblk0,area=B} 11"]);
        card(dir.path(), "mmcblk0", &[("life_time", "0x02")]);
        let e = gather_in(dir.path()).unwrap_err().to_string();
        assert!(e.contains("life_time"), "{e}");
        let none = tempfile::tempdir().unwrap();
        assert!(gather_in(none.path()).unwrap().families.is_empty());
    }

    #[test]
    fn whole_cards_only() {
        assert!(is_card("mmcblk0"));
        assert!(is_card("mmcblk12"));
        for other in ["mmcblk0boot0", "mmcblk0rpmb", "mmcblk0p1", "mmcblk", "sda"] {
            assert!(!is_card(other), "{other}");
        }
    }

    #[test]
    fn parses_the_kernels_formats_and_refuses_garbage() {
        assert_eq!(parse_life_time("0x01 0x02\n"), Some((1, 2)));
        assert_eq!(parse_life_time("0x0b 0x0a"), Some((11, 10)));
        assert_eq!(parse_pre_eol("0x03\n"), Some(3));
        for bad in ["", "0x01", "1 2", "0x01 0x02 0x03", "0x1ff 0x01", "life"] {
            assert_eq!(parse_life_time(bad), None, "{bad:?}");
        }
        for bad in ["", "3", "0x", "0x01 0x02", "0xzz"] {
            assert_eq!(parse_pre_eol(bad), None, "{bad:?}");
        }
    }
}
