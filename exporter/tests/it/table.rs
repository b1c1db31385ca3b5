//! Adding a host collector is one file ([`hello`]) plus one line in the
//! table: with that line, `--collector.hello` switches it, it runs by
//! default, and the engine reports it like any other collector.

mod hello;

use std::time::{Duration, Instant};

use homelab_exporter::encode::{encode, merge, Format};
use homelab_exporter::entry;
use homelab_exporter::registry::{build_enabled, parse_settings, parse_settings_with, Entry, COLLECTORS};
use homelab_exporter::scrape::Engine;

use crate::common::parse_exposition;

/// The registry's table plus one line.
fn table() -> Vec<Entry> {
    COLLECTORS.iter().copied().chain([entry!("hello", true, |s| hello::build(&s.context()))]).collect()
}

#[test]
fn a_collector_added_with_one_line_is_switched_built_and_scraped() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hello"), "42\n").unwrap();
    let procfs = format!("--path.procfs={}", dir.path().display());
    let table = table();

    // Without its line, the name is unknown; with it, it is on by default
    // and switched like the others.
    assert!(parse_settings(&["--collector.hello".to_owned()]).is_err());
    assert!(parse_settings_with(&table, std::slice::from_ref(&procfs)).unwrap().enabled.contains(&"hello"));
    let off = parse_settings_with(&table, &[procfs.clone(), "--no-collector.hello".into()]).unwrap();
    assert!(!off.enabled.contains(&"hello"));

    let settings =
        parse_settings_with(&table, &[procfs, "--collector.disable-defaults".into(), "--collector.hello".into()]).unwrap();
    assert_eq!(settings.enabled, vec!["hello"]);
    let engine = Engine::from_collectors(build_enabled(&table, &settings).unwrap());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let snapshots = rt.block_on(engine.scrape(Instant::now() + Duration::from_secs(5)));
    let mut text = Vec::new();
    encode(&merge(snapshots), Format::Text, &mut text);
    let parsed = parse_exposition(&String::from_utf8(text).unwrap());
    let value = |name: &str, label: Option<(&str, &str)>| {
        parsed
            .series
            .iter()
            .find(|s| s.name == name && label.is_none_or(|(k, v)| s.labels.get(k).map(String::as_str) == Some(v)))
            .map(|s| s.value)
    };
    assert_eq!(value("hello_answer", None), Some(42.0));
    assert_eq!(value("node_scrape_collector_success", Some(("collector", "hello"))), Some(1.0));
    assert_eq!(hello::parse("x"), None);
}
