//! Durations as Prometheus writes them (`30s`, `90m`, `4h`, `7d`, `1w`,
//! `1h30m`), parsed into seconds and written back in the same syntax.

use std::fmt;

use serde::{Deserialize, Deserializer};

/// The longest duration Prometheus reads (it counts nanoseconds in an
/// `i64`), in seconds. Longer ones are refused, which also keeps the rule
/// generator's arithmetic on durations far from overflowing.
pub const MAX_SECS: u64 = (i64::MAX / 1_000_000_000) as u64;

/// A whole number of seconds, written like a Prometheus duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Duration(pub u64);

impl Duration {
    /// Seconds.
    pub fn secs(self) -> u64 {
        self.0
    }

    /// Parses `1h30m`, `7d`, `45s` and so on.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("empty duration".into());
        }
        let mut total: u64 = 0;
        let mut num = String::new();
        let mut chars = s.chars().peekable();
        let mut any = false;
        while let Some(c) = chars.next() {
            if c.is_ascii_digit() {
                num.push(c);
                continue;
            }
            let unit: u64 = match c {
                's' => 1,
                'm' if chars.peek() == Some(&'s') => return Err(format!("{s:?}: milliseconds are too short here")),
                'm' => 60,
                'h' => 3600,
                'd' => 86400,
                'w' => 7 * 86400,
                'y' => 365 * 86400,
                _ => return Err(format!("{s:?}: unknown unit {c:?} (use s, m, h, d, w, y)")),
            };
            let n: u64 = num.parse().map_err(|_| format!("{s:?}: expected a number before {c:?}"))?;
            total = total.checked_add(n.checked_mul(unit).ok_or_else(|| format!("{s:?}: too long"))?).ok_or_else(|| format!("{s:?}: too long"))?;
            num.clear();
            any = true;
        }
        if !num.is_empty() || !any {
            return Err(format!("{s:?}: a duration needs a unit, as in 90m, 4h or 7d"));
        }
        if total > MAX_SECS {
            return Err(format!("{s:?}: too long (Prometheus durations end at 292 years)"));
        }
        Ok(Duration(total))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        if rest == 0 {
            return write!(f, "0s");
        }
        for (unit, len) in [("d", 86400), ("h", 3600), ("m", 60), ("s", 1)] {
            if rest >= len {
                write!(f, "{}{unit}", rest / len)?;
                rest %= len;
            }
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Duration::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Go's `humanizeDuration` template function, as Prometheus renders
/// annotations: `3h 55m 0s`, `50m 0s`, `42s`.
pub fn humanize(v: f64) -> String {
    if v.is_nan() || v.is_infinite() {
        return format!("{v}");
    }
    if v == 0.0 {
        return "0s".into();
    }
    let (sign, a) = if v < 0.0 { ("-", -v) } else { ("", v) };
    if a >= 1.0 {
        let d = a as i64;
        let (secs, mins, hours, days) = (d % 60, (d / 60) % 60, (d / 3600) % 24, d / 86400);
        if days != 0 {
            return format!("{sign}{days}d {hours}h {mins}m {secs}s");
        }
        if hours != 0 {
            return format!("{sign}{hours}h {mins}m {secs}s");
        }
        if mins != 0 {
            return format!("{sign}{mins}m {secs}s");
        }
        return format!("{sign}{}s", trim_g4(a));
    }
    format!("{sign}{}ms", trim_g4(a * 1000.0))
}

/// `%.4g` for the small numbers humanize prints.
fn trim_g4(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        assert_eq!(Duration::parse("90m").unwrap(), Duration(5400));
        assert_eq!(Duration::parse("1h30m").unwrap(), Duration(5400));
        assert_eq!(Duration::parse("7d").unwrap(), Duration(604800));
        assert_eq!(Duration(5400).to_string(), "1h30m");
        assert_eq!(Duration(86400 * 35).to_string(), "35d");
        for bad in ["", "90", "4x", "h", "10ms", "99999999999999999999y"] {
            assert!(Duration::parse(bad).is_err(), "{bad}");
        }
    }

    /// Found with the inventory fuzz target's harness: `rto: 500000000000y`
    /// parsed, then overflowed the generator's arithmetic (twice the RTO).
    #[test]
    fn durations_past_prometheus_range_are_refused() {
        assert!(Duration::parse("500000000000y").is_err());
        assert!(Duration::parse("293y").is_err());
        assert_eq!(Duration::parse("292y").unwrap(), Duration(292 * 365 * 86400));
        assert_eq!(Duration::parse(&format!("{MAX_SECS}s")).unwrap(), Duration(MAX_SECS));
        assert!(Duration::parse(&format!("{}s", MAX_SECS + 1)).is_err());
    }

    #[test]
    fn humanizes_like_prometheus() {
        assert_eq!(humanize(14100.0), "3h 55m 0s");
        assert_eq!(humanize(3000.0), "50m 0s");
        assert_eq!(humanize(90061.0), "1d 1h 1m 1s");
        assert_eq!(humanize(-300.0), "-5m 0s");
        assert_eq!(humanize(42.0), "42s");
        assert_eq!(humanize(0.0), "0s");
    }
}
