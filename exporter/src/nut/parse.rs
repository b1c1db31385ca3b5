//! Pure parsers of upsd's replies (NUT network protocol, `docs/net-protocol.txt`):
//! splitting a reply line into words (quoted strings with backslash escapes),
//! `ERR` replies, the items of `LIST UPS` and `LIST VAR`, the `VER` banner,
//! and the value conversions both metric name sets need.
//!
//! Nothing here does I/O; the client in [`super::client`] feeds these
//! functions one line at a time.

use std::borrow::Cow;

/// The longest excerpt of an offending line quoted in an error message.
const EXCERPT_CHARS: usize = 80;

/// Why a reply line did not have the expected shape. The message quotes
/// (a bounded excerpt of) the line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A quoted string ran to the end of the line.
    #[error("unterminated quoted string in {0}")]
    UnterminatedQuote(String),
    /// A backslash ended the line.
    #[error("backslash at the end of {0}")]
    DanglingEscape(String),
    /// The line is not what the command answers.
    #[error("expected {expected}, got {line}")]
    Unexpected {
        /// What the reply should have looked like.
        expected: &'static str,
        /// An excerpt of what it was.
        line: String,
    },
}

/// A bounded, escaped excerpt of `line` for error messages and logs: a
/// 10 MB line of garbage becomes 80 characters.
pub fn excerpt(line: &str) -> String {
    let mut cut: String = line.chars().take(EXCERPT_CHARS).collect();
    if cut.len() < line.len() {
        cut.push_str("...");
    }
    format!("{cut:?}")
}

fn unexpected(expected: &'static str, line: &str) -> ParseError {
    ParseError::Unexpected { expected, line: excerpt(line) }
}

/// Splits a reply line into words: runs of characters separated by spaces
/// or tabs, where a word may be a double-quoted string and a backslash
/// makes the next character literal (`\"`, `\\`). Words without escapes
/// borrow from the line.
pub fn split_words(line: &str) -> Result<Vec<Cow<'_, str>>, ParseError> {
    let mut words = Vec::new();
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\t' => {
                i += 1;
                continue;
            }
            _ => {}
        }
        let quoted = bytes[i] == b'"';
        let start = if quoted { i + 1 } else { i };
        let mut j = start;
        let mut owned: Option<String> = None;
        let mut seg_start = start;
        let mut closed = !quoted;
        while j < bytes.len() {
            match bytes[j] {
                b'\\' => {
                    if j + 1 >= bytes.len() {
                        return Err(ParseError::DanglingEscape(excerpt(line)));
                    }
                    let buf = owned.get_or_insert_with(String::new);
                    buf.push_str(&line[seg_start..j]);
                    // The escaped character may be multi-byte: copy it whole.
                    let ch_len = line[j + 1..].chars().next().map_or(1, char::len_utf8);
                    buf.push_str(&line[j + 1..j + 1 + ch_len]);
                    j += 1 + ch_len;
                    seg_start = j;
                }
                b'"' if quoted => {
                    closed = true;
                    break;
                }
                b' ' | b'\t' if !quoted => break,
                _ => j += 1,
            }
        }
        if !closed {
            return Err(ParseError::UnterminatedQuote(excerpt(line)));
        }
        let word = match owned {
            Some(mut buf) => {
                buf.push_str(&line[seg_start..j]);
                Cow::Owned(buf)
            }
            None => Cow::Borrowed(&line[start..j]),
        };
        words.push(word);
        // Skip the closing quote.
        i = if quoted { j + 1 } else { j };
    }
    Ok(words)
}

/// The error code of an `ERR` reply (`ERR DATA-STALE` gives `DATA-STALE`),
/// or `None` when the line is not an error.
pub fn err_code(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("ERR")?;
    if !(rest.is_empty() || rest.starts_with(' ')) {
        return None;
    }
    Some(rest.split_whitespace().next().unwrap_or("UNKNOWN"))
}

/// One item of `LIST UPS`: `UPS <name> "<description>"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpsEntry {
    /// The UPS name, as used in `LIST VAR <name>`.
    pub name: String,
    /// The `desc` of its `ups.conf` section (`Unavailable` when unset).
    pub description: String,
}

/// Parses one item line of `LIST UPS`.
pub fn parse_ups_line(line: &str) -> Result<UpsEntry, ParseError> {
    const EXPECTED: &str = "UPS <name> \"<description>\"";
    let words = split_words(line)?;
    match words.as_slice() {
        [kw, name, desc] if kw == "UPS" && valid_name(name) => {
            Ok(UpsEntry { name: name.to_string(), description: desc.to_string() })
        }
        [kw, name] if kw == "UPS" && valid_name(name) => {
            Ok(UpsEntry { name: name.to_string(), description: String::new() })
        }
        _ => Err(unexpected(EXPECTED, line)),
    }
}

/// Parses one item line of `LIST VAR <ups>`: `VAR <ups> <name> "<value>"`,
/// checking that it is about `ups`.
pub fn parse_var_line(ups: &str, line: &str) -> Result<(String, String), ParseError> {
    const EXPECTED: &str = "VAR <ups> <variable> \"<value>\"";
    let words = split_words(line)?;
    match words.as_slice() {
        [kw, u, name, value] if kw == "VAR" && u == ups && valid_name(name) => {
            Ok((name.to_string(), value.to_string()))
        }
        _ => Err(unexpected(EXPECTED, line)),
    }
}

/// A UPS or variable name as upsd writes them: printable, no spaces, no
/// quotes; anything else is a protocol error (or a server that is not upsd).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 256
        && name.bytes().all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
}

/// The version out of the `VER` banner, e.g. `2.8.0` from
/// `Network UPS Tools upsd 2.8.0 - http://www.networkupstools.org/`: the
/// word after `upsd`, else the first word starting with a digit, else the
/// (bounded) banner itself.
pub fn parse_version(banner: &str) -> String {
    let mut words = banner.split_whitespace();
    let mut first_numeric = None;
    while let Some(w) = words.next() {
        if w == "upsd" {
            if let Some(v) = words.next() {
                return v.chars().take(64).collect();
            }
        }
        if first_numeric.is_none() && w.starts_with(|c: char| c.is_ascii_digit()) {
            first_numeric = Some(w);
        }
    }
    first_numeric.unwrap_or(banner.trim()).chars().take(64).collect()
}

/// The words of `ups.status` in order, each once (`OL CHRG` gives `OL`, `CHRG`).
pub fn status_words(value: &str) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for w in value.split_whitespace() {
        if !out.contains(&w) {
            out.push(w);
        }
    }
    out
}

/// A numeric variable as the Rust NUT exporter reads it: a finite decimal
/// number, else nothing.
pub fn number(value: &str) -> Option<f64> {
    let v = value.trim();
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E')) {
        return None;
    }
    v.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// `ups.beeper.status` as the Rust NUT exporter encodes it: unknown 0,
/// enabled 1, disabled 2, muted 3.
pub fn beeper_code(value: &str) -> f64 {
    match value.trim() {
        "enabled" => 1.0,
        "disabled" => 2.0,
        "muted" => 3.0,
        _ => 0.0,
    }
}

/// The Rust NUT exporter's legacy `nut_status` code from the first word of
/// `ups.status`: unknown 0, OL 1, OB 2, LB 3.
pub fn legacy_status_code(value: &str) -> f64 {
    match value.split_whitespace().next() {
        Some("OL") => 1.0,
        Some("OB") => 2.0,
        Some("LB") => 3.0,
        _ => 0.0,
    }
}

/// Words the Go NUT exporter turns into 1 (its default `--nut.on_regex`,
/// matched without regard to case).
const ON_WORDS: &[&str] = &["enable", "enabled", "on", "true", "active", "activated"];
/// Words the Go NUT exporter turns into 0 (its default `--nut.off_regex`).
const OFF_WORDS: &[&str] = &["disable", "disabled", "off", "false", "inactive", "deactivated"];

/// A variable's value as the Go NUT exporter (DRuggeri/nut_exporter, through
/// go.nut) exports it, or `None` when it exports nothing for it: text made
/// only of digits, `.` and a leading `-` is a number when it has at most one
/// dot (`2.8.0` is not); the on/off words give 1 and 0.
pub fn raw_value(value: &str) -> Option<f64> {
    let value = value.trim_matches(' ');
    let digits = value.strip_prefix('-').unwrap_or(value);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return match digits.bytes().filter(|&b| b == b'.').count() {
            0 => value.parse::<i64>().ok().map(|i| i as f64),
            1 => value.parse::<f64>().ok(),
            _ => None,
        };
    }
    if ON_WORDS.iter().any(|w| w.eq_ignore_ascii_case(value)) {
        return Some(1.0);
    }
    if OFF_WORDS.iter().any(|w| w.eq_ignore_ascii_case(value)) {
        return Some(0.0);
    }
    None
}

/// The Go NUT exporter's metric name for a variable: `network_ups_tools_`
/// and the name with dots and dashes as underscores (any other character
/// that a metric name cannot hold becomes an underscore too).
pub fn raw_metric_name(variable: &str) -> String {
    const PREFIX: &str = "network_ups_tools_";
    let mut name = String::with_capacity(PREFIX.len() + variable.len());
    name.push_str(PREFIX);
    name.extend(variable.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == ':' { c } else { '_' }));
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        split_words(line).unwrap().into_iter().map(|w| w.into_owned()).collect()
    }

    #[test]
    fn words_quotes_and_escapes() {
        assert_eq!(words("VAR ups1 ups.status \"OL CHRG\""), ["VAR", "ups1", "ups.status", "OL CHRG"]);
        assert_eq!(words("UPS ups1 \"First \\\"dummy\\\" UPS\""), ["UPS", "ups1", "First \"dummy\" UPS"]);
        assert_eq!(words("VAR u d \"back\\\\slash\""), ["VAR", "u", "d", "back\\slash"]);
        assert_eq!(words("VAR u d \"\""), ["VAR", "u", "d", ""]);
        assert_eq!(words("  a\t b  "), ["a", "b"]);
        assert_eq!(words(""), Vec::<String>::new());
        assert_eq!(words("VAR u d \"caf\\é\""), ["VAR", "u", "d", "café"]);
        // A word glued to a quoted string ends at the quote.
        assert_eq!(words("\"a\"b"), ["a", "b"]);
    }

    #[test]
    fn words_borrow_when_nothing_is_escaped() {
        let w = split_words("VAR ups1 x \"plain\"").unwrap();
        assert!(w.iter().all(|w| matches!(w, Cow::Borrowed(_))));
    }

    #[test]
    fn garbled_quoting_is_an_error_not_a_panic() {
        assert!(matches!(split_words("VAR u d \"open"), Err(ParseError::UnterminatedQuote(_))));
        assert!(matches!(split_words("VAR u d \"x\\"), Err(ParseError::DanglingEscape(_))));
        assert!(matches!(split_words("trailing\\"), Err(ParseError::DanglingEscape(_))));
        assert!(matches!(split_words("\""), Err(ParseError::UnterminatedQuote(_))));
    }

    #[test]
    fn err_codes() {
        assert_eq!(err_code("ERR DATA-STALE"), Some("DATA-STALE"));
        assert_eq!(err_code("ERR UNKNOWN-UPS extra words"), Some("UNKNOWN-UPS"));
        assert_eq!(err_code("ERR"), Some("UNKNOWN"));
        assert_eq!(err_code("ERROR"), None);
        assert_eq!(err_code("OK"), None);
    }

    #[test]
    fn list_items() {
        assert_eq!(
            parse_ups_line("UPS ups1 \"First \\\"dummy\\\" UPS\"").unwrap(),
            UpsEntry { name: "ups1".into(), description: "First \"dummy\" UPS".into() }
        );
        assert_eq!(parse_var_line("ups1", "VAR ups1 battery.charge \"87\"").unwrap(), ("battery.charge".into(), "87".into()));
        assert!(parse_var_line("ups1", "VAR ups2 battery.charge \"87\"").is_err());
        assert!(parse_var_line("ups1", "VAR ups1 battery.charge").is_err());
        assert!(parse_var_line("ups1", "").is_err());
        assert!(parse_ups_line("UPS \"two words\" \"d\"").is_err());
        assert!(parse_ups_line("HELLO").is_err());
        let err = parse_var_line("u", &"x".repeat(10_000)).unwrap_err().to_string();
        assert!(err.len() < 200, "{err}");
        assert!(err.contains("expected VAR"), "{err}");
    }

    #[test]
    fn versions() {
        assert_eq!(parse_version("Network UPS Tools upsd 2.8.0 - http://www.networkupstools.org/"), "2.8.0");
        assert_eq!(parse_version("Network UPS Tools upsd DSM7-2-1-NewModelList-repack-63631-230613 - http://www.networkupstools.org/"), "DSM7-2-1-NewModelList-repack-63631-230613");
        assert_eq!(parse_version("Something 1.2"), "1.2");
        assert_eq!(parse_version("  odd  "), "odd");
        assert_eq!(parse_version(""), "");
    }

    #[test]
    fn status_words_are_deduplicated_in_order() {
        assert_eq!(status_words("ALARM OL RB"), ["ALARM", "OL", "RB"]);
        assert_eq!(status_words(" OL  OL CHRG "), ["OL", "CHRG"]);
        assert!(status_words("").is_empty());
    }

    #[test]
    fn numbers_and_codes() {
        assert_eq!(number("87"), Some(87.0));
        assert_eq!(number(" 13.5 "), Some(13.5));
        assert_eq!(number("-2.5"), Some(-2.5));
        assert_eq!(number("1e3"), Some(1000.0));
        assert_eq!(number("inf"), None);
        assert_eq!(number("NaN"), None);
        assert_eq!(number("2.8.0"), None);
        assert_eq!(number(""), None);
        assert_eq!(number("OL"), None);
        assert_eq!(beeper_code("enabled"), 1.0);
        assert_eq!(beeper_code("muted"), 3.0);
        assert_eq!(beeper_code("what"), 0.0);
        assert_eq!(legacy_status_code("OB DISCHRG LB"), 2.0);
        assert_eq!(legacy_status_code("ALARM OL"), 0.0);
    }

    #[test]
    fn raw_values_follow_go_nut() {
        assert_eq!(raw_value("87"), Some(87.0));
        assert_eq!(raw_value("0463"), Some(463.0));
        assert_eq!(raw_value("13.5"), Some(13.5));
        assert_eq!(raw_value("-1"), Some(-1.0));
        assert_eq!(raw_value("2.8.0"), None);
        assert_eq!(raw_value("1e3"), None);
        assert_eq!(raw_value("."), None);
        assert_eq!(raw_value("-"), None);
        assert_eq!(raw_value(""), None);
        assert_eq!(raw_value("99999999999999999999"), None);
        assert_eq!(raw_value("enabled"), Some(1.0));
        assert_eq!(raw_value("Disabled"), Some(0.0));
        assert_eq!(raw_value("muted"), None);
        assert_eq!(raw_value("OL CHRG"), None);
    }

    #[test]
    fn raw_names() {
        assert_eq!(raw_metric_name("battery.voltage.high"), "network_ups_tools_battery_voltage_high");
        assert_eq!(raw_metric_name("outlet.1.load-x"), "network_ups_tools_outlet_1_load_x");
        assert_eq!(raw_metric_name("a/b"), "network_ups_tools_a_b");
    }
}
