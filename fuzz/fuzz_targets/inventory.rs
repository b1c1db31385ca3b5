//! The rules crate's inventory parser, and what is generated from an
//! inventory it accepts: the rule file, its promtool tests, the
//! Alertmanager configuration, the textfile guide and the file_sd targets.
//! Generated YAML must parse as YAML again, and the rule file must hold
//! rule groups.

#![no_main]

use std::path::Path;

use homelab_fuzz::text;
use homelab_rules::{generate, promtest, recovery, Inventory};
use libfuzzer_sys::fuzz_target;

fn yaml(what: &str, generated: &str) -> serde_yaml_ng::Value {
    match serde_yaml_ng::from_str(generated) {
        Ok(v) => v,
        Err(e) => panic!("generated {what} is not YAML: {e}\n---\n{generated}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let t = text(data);
    let inv = match Inventory::parse(Path::new("homelab.yaml"), &t) {
        Ok(inv) => inv,
        Err(e) => {
            assert!(
                e.to_string().starts_with("homelab.yaml:"),
                "error does not name the file: {e}"
            );
            return;
        }
    };
    for s in &inv.services {
        let _ = inv.tier_of(s);
        let _ = recovery::up_expr(&inv, s);
        for b in &s.backups {
            let _ = recovery::backup_expr(s, b);
            let _ = recovery::backup_status_expr(s, b);
        }
    }
    let rules = yaml("rule file", &generate::rules_yaml(&inv));
    assert!(
        rules.get("groups").is_some_and(|g| g.is_sequence()),
        "rule file without groups"
    );
    for (name, tests) in promtest::test_files(&inv) {
        yaml(&name, &tests);
    }
    yaml(
        "Alertmanager configuration",
        &generate::alertmanager_yaml(&inv),
    );
    let _ = generate::textfile_guide(&inv);
    let targets = homelab_rules::file_sd_targets(&inv);
    assert_eq!(targets.as_array().map(Vec::len), Some(inv.nodes.len()));
});
