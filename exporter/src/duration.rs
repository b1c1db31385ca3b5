//! Durations as Go writes them (`300ms`, `1.5h`, `2h45m`, `0`): the one
//! parser behind every flag and configuration key of the exporter that
//! takes a duration, as node_exporter and exporter-toolkit read theirs.

use std::time::Duration;

/// Parses Go's duration syntax (`300ms`, `1.5h`, `2h45m`, `0`); `None`
/// when it is not one or is negative.
pub fn parse(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = s.strip_prefix('+').unwrap_or(s);
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_end);
        if number.is_empty() || number == "." {
            return None;
        }
        let value: f64 = number.parse().ok()?;
        let unit_end = after.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_end);
        let seconds = match unit {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += value * seconds;
        rest = next;
    }
    Duration::try_from_secs_f64(total).ok()
}

/// Longest timeout a flag takes.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

/// A timeout flag's value (`--collector.nut.timeout`,
/// `--collector.filesystem.mount-timeout`): a Go duration, or a bare number
/// of seconds as these flags have always taken; more than 0 and at most an
/// hour.
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let bare_seconds = || t.parse::<f64>().ok().filter(|n| n.is_finite()).and_then(|n| Duration::try_from_secs_f64(n).ok());
    let d = parse(t)
        .or_else(bare_seconds)
        .ok_or_else(|| format!("{text:?} is not a duration like 5s or 500ms"))?;
    if d.is_zero() || d > MAX_TIMEOUT {
        return Err(format!("{text:?}: must be more than 0 and at most 1h"));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse("300ms"), Some(Duration::from_millis(300)));
        assert_eq!(parse("1.5h"), Some(Duration::from_secs(5400)));
        assert_eq!(parse("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse("0"), Some(Duration::ZERO));
        assert_eq!(parse("10"), None);
        assert_eq!(parse("-1s"), None);
        assert_eq!(parse(""), None);
        assert_eq!(parse("5x"), None);
    }

    #[test]
    fn timeouts() {
        assert_eq!(parse_timeout("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_timeout("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_timeout("2.5s"), Ok(Duration::from_millis(2500)));
        assert_eq!(parse_timeout("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_timeout("3"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_timeout("1h"), Ok(Duration::from_secs(3600)));
        for bad in ["", "s", "0s", "0", "-1s", "-1", "5h", "1x", "2h", "x", "NaN", "inf"] {
            assert!(parse_timeout(bad).is_err(), "{bad}");
        }
    }
}
