//! The exporter's configuration: the YAML file of `--config.file` and the
//! small parsers of the values flags and the file carry.
//!
//! - File (first byte even): the rest is the file. It is parsed; when it
//!   parses, its flags are turned into arguments and the file is loaded the
//!   way `serve` and `check-config` load it (flags checked by clap, errors
//!   pointing at a line), and, unless it names an absolute path or `..`,
//!   every enabled collector is built from it as `check-config` does.
//! - Values (first byte odd): every line goes through the value parsers
//!   (durations, NUT and Docker addresses, the Proxmox URL, token and
//!   fingerprint, the listen address, the `Accept` header, rule durations).

#![no_main]

use std::path::Path;
use std::sync::{Arc, OnceLock};

use homelab_exporter::config::{self, Loaded};
use homelab_exporter::docker::api::Endpoint;
use homelab_exporter::duration;
use homelab_exporter::encode::Format;
use homelab_exporter::nut::client::Address;
use homelab_exporter::proxmox::client::{parse_fingerprint, Target, Token};
use homelab_exporter::server::parse_listen_address;
use homelab_fuzz::{text, Tree};
use libfuzzer_sys::fuzz_target;

fn tree() -> &'static Arc<Tree> {
    static T: OnceLock<Arc<Tree>> = OnceLock::new();
    T.get_or_init(|| Tree::new("config"))
}

/// True when some string of the document (key or value) could make a
/// collector read a file outside the scratch directory (an absolute path,
/// `..`, `~`): building collectors reads the password, token and CA files a
/// configuration names, and the fuzzer must not read the machine's devices.
fn names_outside(text: &str) -> bool {
    fn walk(v: &serde_yaml_ng::Value) -> bool {
        use serde_yaml_ng::Value;
        match v {
            Value::String(s) => s.starts_with('/') || s.starts_with('~') || s.contains(".."),
            Value::Sequence(items) => items.iter().any(walk),
            Value::Mapping(m) => m.iter().any(|(k, v)| walk(k) || walk(v)),
            Value::Tagged(t) => walk(&t.value),
            _ => false,
        }
    }
    match serde_yaml_ng::from_str::<serde_yaml_ng::Value>(text) {
        Ok(v) => walk(&v),
        Err(_) => true,
    }
}

fn file(input: &[u8]) {
    let t = text(input);
    let path = Path::new("fuzz.yml");
    let parsed = match config::parse(path, &t) {
        Ok(f) => f,
        Err(e) => {
            assert!(
                e.to_string().starts_with("fuzz.yml:"),
                "error does not name the file: {e}"
            );
            return;
        }
    };
    let loaded = Loaded {
        path: path.to_owned(),
        text: t.clone(),
        file: parsed,
    };
    let args = loaded.as_args();
    for key in loaded.file.flags.keys() {
        let line = config::line_of_key(&t, key);
        assert!(line <= t.lines().count());
        let _ = loaded.error_at_key(key, "fuzz").to_string();
    }
    assert!(args.iter().all(|a| a.starts_with("--")));

    // As `serve` loads it: from a file named on the command line.
    let tree = tree();
    tree.write("fuzz.yml", input);
    let settings = match homelab_exporter::registry::parse_settings(&[format!(
        "--config.file={}",
        tree.path("fuzz.yml").display()
    )]) {
        Ok(s) => s,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    if names_outside(&t) {
        return;
    }
    if let Err(e) = homelab_exporter::registry::engine(&settings).and_then(|_| homelab_exporter::registry::probe(&settings)) {
        let _ = e.to_string();
    }
    for address in &settings.flags.listen_address {
        let _ = parse_listen_address(address);
    }
}

fn values(input: &[u8]) {
    let t = text(input);
    for line in t.lines() {
        if let Ok(d) = duration::parse_timeout(line) {
            assert!(d.as_secs_f64().is_finite());
        }
        if let Ok(a) = Address::parse(line) {
            // An address prints as it parses.
            let again = Address::parse(&a.to_string())
                .unwrap_or_else(|e| panic!("{a} does not parse again: {e}"));
            assert_eq!(a, again);
        }
        if let Ok(e) = Endpoint::parse(line) {
            let _ = e.to_string();
        }
        let _ = Target::parse(line);
        let _ = Token::parse(line, "fuzz");
        let _ = parse_fingerprint(line);
        let _ = parse_listen_address(line);
        let _ = Format::negotiate(Some(line));
        if let Ok(d) = homelab_rules::duration::Duration::parse(line) {
            // A duration prints in the syntax it was parsed from.
            let again = homelab_rules::duration::Duration::parse(&d.to_string())
                .unwrap_or_else(|e| panic!("{d} does not parse again: {e}"));
            assert_eq!(d, again);
        }
        let _ = homelab_rules::duration::humanize(line.len() as f64 * 1.5);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        file(rest);
    } else {
        values(rest);
    }
});
