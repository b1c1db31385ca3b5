//! Log lines as Prometheus exporters write them (promslog): logfmt by
//! default, `time=… level=INFO source=main.rs:42 msg="…" key=value`, or one
//! JSON object per line with `--log.format=json`. A field logged with `?`
//! whose text is a JSON array (a list of names, say) is written as an
//! array in JSON and joined with commas in logfmt.

use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The two formats of `--log.format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `key=value` pairs.
    Logfmt,
    /// One JSON object per line.
    Json,
}

/// Formats events as [`Format`] says.
#[derive(Debug, Clone, Copy)]
pub struct Promslog(pub Format);

/// A field's value as recorded.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    /// Text (from `%` and string fields).
    Text(String),
    /// A number or a boolean, written bare in both formats.
    Bare(String),
    /// A list of strings (a `?` field whose Debug text is a JSON array of strings).
    List(Vec<String>),
}

#[derive(Default)]
struct Fields {
    message: String,
    pairs: Vec<(&'static str, Value)>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, Value::Text(value.to_owned()));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, Value::Bare(value.to_string()));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, Value::Bare(value.to_string()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, Value::Bare(value.to_string()));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        // JSON has no NaN or infinity: those are written as text.
        self.push(field, if value.is_finite() { Value::Bare(value.to_string()) } else { Value::Text(value.to_string()) });
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        let value = match serde_json::from_str::<Vec<String>>(&text) {
            Ok(list) if text.starts_with('[') => Value::List(list),
            _ => Value::Text(text),
        };
        self.push(field, value);
    }
}

impl Fields {
    fn push(&mut self, field: &Field, value: Value) {
        if field.name() == "message" {
            self.message = match value {
                Value::Text(t) | Value::Bare(t) => t,
                Value::List(l) => l.join(","),
            };
        } else {
            self.pairs.push((field.name(), value));
        }
    }
}

/// `2026-12-06T19:09:57.123Z` for a time since the epoch.
pub fn rfc3339_millis(since_epoch: std::time::Duration) -> String {
    let secs = since_epoch.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Days to a civil date (the proleptic Gregorian calendar), after
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since_epoch.subsec_millis()
    )
}

fn level_word(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARN",
        Level::INFO => "INFO",
        Level::DEBUG => "DEBUG",
        Level::TRACE => "TRACE",
    }
}

/// Writes `s` as a logfmt value: bare when it can be, quoted otherwise.
fn logfmt_value(out: &mut String, s: &str) {
    let bare = !s.is_empty() && s.chars().all(|c| c > ' ' && c != '"' && c != '=' && c != '\\' && c != '\u{7f}');
    if bare {
        out.push_str(s);
        return;
    }
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// One event as a line (without the newline).
fn line(format: Format, time: &str, level: &Level, source: Option<String>, fields: &Fields) -> String {
    let mut out = String::with_capacity(128);
    match format {
        Format::Logfmt => {
            out.push_str("time=");
            out.push_str(time);
            out.push_str(" level=");
            out.push_str(level_word(level));
            if let Some(source) = &source {
                out.push_str(" source=");
                logfmt_value(&mut out, source);
            }
            out.push_str(" msg=");
            logfmt_value(&mut out, &fields.message);
            for (key, value) in &fields.pairs {
                out.push(' ');
                out.push_str(key);
                out.push('=');
                match value {
                    Value::Text(t) => logfmt_value(&mut out, t),
                    Value::Bare(b) => out.push_str(b),
                    Value::List(l) => logfmt_value(&mut out, &l.join(",")),
                }
            }
        }
        Format::Json => {
            let mut map = serde_json::Map::new();
            map.insert("time".into(), time.into());
            map.insert("level".into(), level_word(level).into());
            if let Some(source) = source {
                map.insert("source".into(), source.into());
            }
            map.insert("msg".into(), fields.message.clone().into());
            for (key, value) in &fields.pairs {
                let v = match value {
                    Value::Text(t) => serde_json::Value::from(t.clone()),
                    Value::Bare(b) => serde_json::from_str(b).unwrap_or_else(|_| b.clone().into()),
                    Value::List(l) => l.clone().into(),
                };
                map.insert((*key).into(), v);
            }
            out.push_str(&serde_json::Value::Object(map).to_string());
        }
    }
    out
}

impl<S, N> FormatEvent<S, N> for Promslog
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, _: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let meta = event.metadata();
        let source = meta.file().map(|f| {
            let name = f.rsplit('/').next().unwrap_or(f);
            match meta.line() {
                Some(l) => format!("{name}:{l}"),
                None => name.to_owned(),
            }
        });
        let time = rfc3339_millis(SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default());
        writeln!(writer, "{}", line(self.0, &time, meta.level(), source, &fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(message: &str, pairs: Vec<(&'static str, Value)>) -> Fields {
        Fields { message: message.to_owned(), pairs }
    }

    #[test]
    fn logfmt_quotes_only_what_needs_it() {
        let f = fields(
            "collector failed",
            vec![
                ("collector", Value::Text("zfs".into())),
                ("err", Value::Text("reading /proc/x: No such file \"x\"".into())),
                ("duration_seconds", Value::Bare("0.25".into())),
                ("collectors", Value::List(vec!["cpu".into(), "meminfo".into()])),
                ("empty", Value::Text(String::new())),
            ],
        );
        assert_eq!(
            line(Format::Logfmt, "2026-12-06T19:09:57.123Z", &Level::ERROR, Some("scrape.rs:12".into()), &f),
            "time=2026-12-06T19:09:57.123Z level=ERROR source=scrape.rs:12 msg=\"collector failed\" collector=zfs \
             err=\"reading /proc/x: No such file \\\"x\\\"\" duration_seconds=0.25 collectors=cpu,meminfo empty=\"\""
        );
        let f = fields("a\nb", vec![("k", Value::Text("x=y".into()))]);
        assert_eq!(line(Format::Logfmt, "t", &Level::INFO, None, &f), "time=t level=INFO msg=\"a\\nb\" k=\"x=y\"");
    }

    #[test]
    fn json_writes_lists_as_arrays_and_numbers_as_numbers() {
        let f = fields("listening", vec![("collectors", Value::List(vec!["cpu".into()])), ("port", Value::Bare("9839".into())), ("tls", Value::Bare("false".into()))]);
        let v: serde_json::Value = serde_json::from_str(&line(Format::Json, "t", &Level::INFO, None, &f)).unwrap();
        assert_eq!(v, serde_json::json!({"time": "t", "level": "INFO", "msg": "listening", "collectors": ["cpu"], "port": 9839, "tls": false}));
    }

    /// A writer into a shared buffer, for a subscriber under test.
    #[derive(Clone, Default)]
    struct Buffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn logged(format: Format, f: impl FnOnce()) -> String {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt().event_format(Promslog(format)).with_writer(move || writer.clone()).finish();
        tracing::subscriber::with_default(subscriber, f);
        let bytes = buffer.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn events_from_tracing_come_out_as_promslog_lines() {
        let names = vec!["cpu", "zfs"];
        let text = logged(Format::Logfmt, || tracing::info!(collectors = ?names, port = 9839u16, "starting"));
        assert!(text.starts_with("time=") && text.ends_with('\n'), "{text}");
        assert!(text.contains(" level=INFO source=log.rs:"), "{text}");
        assert!(text.trim_end().ends_with(" msg=starting collectors=cpu,zfs port=9839"), "{text}");
        let text = logged(Format::Json, || tracing::warn!(collectors = ?names, reason = %"no data", "collector idle"));
        let v: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
        assert_eq!(v["level"], "WARN");
        assert_eq!(v["msg"], "collector idle");
        assert_eq!(v["collectors"], serde_json::json!(["cpu", "zfs"]));
        assert_eq!(v["reason"], "no data");
    }

    #[test]
    fn times_are_utc_with_milliseconds() {
        assert_eq!(rfc3339_millis(std::time::Duration::from_millis(0)), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_millis(std::time::Duration::from_millis(1_796_670_597_123)), "2026-12-07T19:09:57.123Z");
        assert_eq!(rfc3339_millis(std::time::Duration::from_secs(951_782_400)), "2000-02-29T00:00:00.000Z");
    }
}
