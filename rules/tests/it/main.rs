//! The generated rules against the real tools: `promtool check rules`,
//! `promtool test rules` and `amtool check-config`, plus the committed
//! example output and the list of metrics the rules read.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

mod scenarios;

fn example() -> homelab_rules::Inventory {
    homelab_rules::load_inventory(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/homelab.yaml")).unwrap()
}

fn run(tool: &str, package: &str, args: &[&str], dir: &Path) -> String {
    let out = Command::new(tool)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{tool} not found ({e}): install Debian's {package} package (bash scripts/test.sh does)"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{tool} {} failed:\n{text}", args.join(" "));
    text
}

fn generated() -> (tempfile::TempDir, Vec<PathBuf>) {
    let dir = tempfile::tempdir().unwrap();
    let files = homelab_rules::generate(&example(), dir.path()).unwrap();
    (dir, files)
}

#[test]
fn promtool_checks_the_generated_rules() {
    let (dir, _) = generated();
    let out = run("promtool", "prometheus", &["check", "rules", "homelab-rules.yml"], dir.path());
    println!("{out}");
}

#[test]
fn promtool_unit_tests_of_the_generated_rules_pass() {
    let (dir, files) = generated();
    let tests: Vec<String> = files.iter().filter_map(|f| f.file_name()?.to_str().filter(|n| n.ends_with(".test.yml")).map(str::to_owned)).collect();
    assert!(!tests.is_empty());
    let mut args = vec!["test", "rules"];
    args.extend(tests.iter().map(String::as_str));
    let out = run("promtool", "prometheus", &args, dir.path());
    println!("{out}");
}

#[test]
fn amtool_checks_the_generated_alertmanager_config() {
    let (dir, _) = generated();
    let out = run("amtool", "prometheus-alertmanager", &["check-config", "alertmanager.yml"], dir.path());
    println!("{out}");
}

/// Metric names the rules read: identifiers followed by `{`, `[` or an
/// operator that are not functions, keywords, label names or recorded names.
pub fn referenced_metrics(rules_yaml: &str) -> Vec<String> {
    const NOT_METRICS: &[&str] = &[
        "max", "min", "sum", "avg", "by", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "time", "timestamp", "vector",
        "max_over_time", "min_over_time", "avg_over_time", "last_over_time", "predict_linear", "increase", "rate", "bool", "offset", "without", "absent",
    ];
    let mut out = std::collections::BTreeSet::new();
    for line in rules_yaml.lines() {
        let Some(expr) = line.trim_start().strip_prefix("expr:") else { continue };
        let expr = expr.trim().trim_matches(['\'', '"']);
        // Drop label matchers and quoted strings.
        let mut cleaned = String::new();
        let mut depth = 0;
        for c in expr.chars() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    cleaned.push(' ');
                }
                _ if depth > 0 => {}
                _ => cleaned.push(c),
            }
        }
        for word in cleaned.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':')) {
            let starts_alpha = word.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
            if starts_alpha && !word.contains(':') && !NOT_METRICS.contains(&word) && !word.chars().all(|c| c.is_ascii_digit()) {
                out.insert(word.to_owned());
            }
        }
    }
    // Labels in by()/on()/ignoring() lists.
    for label in ["service", "instance", "collector", "ups", "state", "name", "tier", "id", "node", "backup", "source", "device"] {
        out.remove(label);
    }
    out.into_iter().collect()
}

/// The example output is committed; regenerating must give the same files.
/// `UPDATE_GOLDEN=1 cargo test -p homelab-rules` rewrites them.
#[test]
fn committed_example_output_is_up_to_date() {
    let out_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/out");
    let (dir, files) = generated();
    let rules = std::fs::read_to_string(dir.path().join("homelab-rules.yml")).unwrap();
    let referenced = referenced_metrics(&rules).join("\n") + "\n";
    std::fs::write(dir.path().join("REFERENCED-METRICS.txt"), &referenced).unwrap();
    let mut names: Vec<String> = files.iter().map(|f| f.file_name().unwrap().to_string_lossy().to_string()).collect();
    names.push("REFERENCED-METRICS.txt".into());
    let update = std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    for name in names {
        let fresh = std::fs::read_to_string(dir.path().join(&name)).unwrap();
        let committed_path = out_dir.join(&name);
        if update {
            std::fs::create_dir_all(&out_dir).unwrap();
            std::fs::write(&committed_path, &fresh).unwrap();
        }
        let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
        assert!(committed == fresh, "rules/examples/out/{name} drifted from the generator: run UPDATE_GOLDEN=1 cargo test -p homelab-rules");
    }
}

#[test]
fn file_sd_targets_list_every_node_with_its_labels() {
    let v = homelab_rules::file_sd_targets(&example());
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), 4);
    assert_eq!(arr[0]["targets"][0], "10.0.0.10:9839");
    assert_eq!(arr[0]["labels"]["node"], "atlantis");
    assert_eq!(arr[3]["labels"]["kind"], "raspberrypi");
}
