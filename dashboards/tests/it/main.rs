//! The generated dashboards against Grafana's JSON schemas, promtool's
//! PromQL parser and the rules' recorded series; the committed examples
//! against the generator.
//!
//! That every other metric name exists in the exporter's real output is
//! checked by the exporter's own tests (host fixtures, a real upsd, a real
//! dockerd, the Proxmox fake), which read `examples/REFERENCED-METRICS.txt`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

mod promql;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn example_inventory() -> homelab_rules::Inventory {
    homelab_rules::load_inventory(&root().join("rules/examples/homelab.yaml")).unwrap()
}

fn schemas() -> PathBuf {
    root().join("../shared/oracles/grafana-schema")
}

/// A program the tests need; missing is a failure under
/// `HOMELAB_REQUIRE_REAL=1` (CI) and a printed skip elsewhere.
fn tool(path: PathBuf, what: &str) -> Option<PathBuf> {
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var("HOMELAB_REQUIRE_REAL").as_deref() != Ok("1"),
        "{what} is missing: bash scripts/test.sh installs it"
    );
    println!("skipped: {what} is missing");
    None
}

fn check_jsonschema() -> Option<PathBuf> {
    let dir = std::env::var("HOMELAB_SCHEMA_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root().join("target/schema-venv/bin"));
    tool(dir.join("check-jsonschema"), "check-jsonschema (pip)")
}

fn promtool() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("promtool"))
            .find(|p| p.exists())
    });
    tool(
        found.unwrap_or_else(|| PathBuf::from("promtool")),
        "promtool (Debian package prometheus)",
    )
}

fn boards() -> Vec<(String, Value, Vec<String>)> {
    homelab_dashboards::dashboards(&example_inventory())
        .into_iter()
        .map(|d| (d.file, d.board.to_json(), d.board.expressions()))
        .collect()
}

/// Every panel, rows' nested panels included.
fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in dashboard["panels"].as_array().unwrap() {
        out.push(p);
        if let Some(nested) = p["panels"].as_array() {
            out.extend(nested);
        }
    }
    out
}

fn run_check(tool: &Path, schema: &Path, instances: &[PathBuf]) {
    let out = Command::new(tool)
        .arg("--schemafile")
        .arg(schema)
        .args(instances)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{}: {text}", schema.display());
    println!(
        "{}: {} documents valid",
        schema.file_name().unwrap().to_string_lossy(),
        instances.len()
    );
}

/// A copy of a panel plugin's schema whose root is one of its definitions.
fn rooted_schema(dir: &Path, plugin: &str, definition: &str) -> PathBuf {
    let mut schema: Value = serde_json::from_str(
        &std::fs::read_to_string(schemas().join(format!("{plugin}.jsonschema.json"))).unwrap(),
    )
    .unwrap();
    assert!(
        schema["definitions"].get(definition).is_some(),
        "{plugin} schema has no {definition}"
    );
    schema["$ref"] = Value::String(format!("#/definitions/{definition}"));
    let path = dir.join(format!("{plugin}-{definition}.schema.json"));
    std::fs::write(&path, serde_json::to_string(&schema).unwrap()).unwrap();
    path
}

/// Criterion 1: each dashboard against Grafana's dashboard schema; each
/// panel's options and custom field config against its plugin's schema;
/// each query against the Prometheus query schema.
#[test]
fn every_dashboard_validates_against_grafanas_schemas() {
    let Some(check) = check_jsonschema() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut dashboards = Vec::new();
    let mut parts: std::collections::BTreeMap<(String, String), Vec<PathBuf>> = Default::default();
    let mut n = 0;
    let mut save = |v: &Value| {
        n += 1;
        let path = dir.path().join(format!("part-{n}.json"));
        std::fs::write(&path, serde_json::to_string(v).unwrap()).unwrap();
        path
    };
    for (file, json, _) in boards() {
        let path = dir.path().join(&file);
        std::fs::write(&path, serde_json::to_string_pretty(&json).unwrap()).unwrap();
        dashboards.push(path);
        for p in panels(&json) {
            let kind = p["type"].as_str().unwrap().to_owned();
            if kind == "row" {
                continue;
            }
            parts
                .entry((kind.clone(), "Options".into()))
                .or_default()
                .push(save(&p["options"]));
            if let Some(custom) = p["fieldConfig"]["defaults"].get("custom") {
                parts
                    .entry((kind.clone(), "FieldConfig".into()))
                    .or_default()
                    .push(save(custom));
            }
            let targets = p["targets"].as_array().unwrap();
            assert!(
                !targets.is_empty(),
                "{file}: panel {:?} has no query",
                p["title"]
            );
            for t in targets {
                parts
                    .entry(("prometheus".into(), "Dataquery".into()))
                    .or_default()
                    .push(save(t));
            }
        }
    }
    run_check(
        &check,
        &schemas().join("dashboard.jsonschema.json"),
        &dashboards,
    );
    let kinds: BTreeSet<&str> = parts.keys().map(|(k, _)| k.as_str()).collect();
    assert!(
        kinds.is_superset(&BTreeSet::from([
            "stat",
            "timeseries",
            "bargauge",
            "table",
            "prometheus"
        ])),
        "{kinds:?}"
    );
    for ((plugin, definition), instances) in &parts {
        let schema = rooted_schema(dir.path(), plugin, definition);
        run_check(&check, &schema, instances);
    }
}

/// The schemas are strict enough to catch a mistake: a panel option the
/// stat plugin does not have, and a dashboard without `templating`.
#[test]
fn the_schema_check_rejects_a_broken_dashboard() {
    let Some(check) = check_jsonschema() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_, mut json, _) = boards().remove(0);
    json.as_object_mut().unwrap().remove("templating");
    let path = dir.path().join("broken.json");
    std::fs::write(&path, json.to_string()).unwrap();
    let out = Command::new(&check)
        .arg("--schemafile")
        .arg(schemas().join("dashboard.jsonschema.json"))
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "a dashboard without templating passed"
    );

    let stat = panels(&boards()[0].1)
        .into_iter()
        .find(|p| p["type"] == "stat")
        .unwrap()
        .clone();
    let mut options = stat["options"].clone();
    options["sparkline"] = Value::Bool(true);
    let path = dir.path().join("options.json");
    std::fs::write(&path, options.to_string()).unwrap();
    let schema = rooted_schema(dir.path(), "stat", "Options");
    let out = Command::new(&check)
        .arg("--schemafile")
        .arg(&schema)
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "stat options with an unknown field passed"
    );
}

/// Stable uids, the datasource variable, schema version, unique panel ids,
/// panels inside the grid.
#[test]
fn dashboards_have_stable_uids_variables_and_a_sane_grid() {
    let first = boards();
    let second = boards();
    let uids: Vec<&str> = first
        .iter()
        .map(|(_, j, _)| j["uid"].as_str().unwrap())
        .collect();
    assert_eq!(
        uids,
        [
            "homelab-overview",
            "homelab-host",
            "homelab-containers",
            "homelab-ups",
            "homelab-proxmox"
        ]
    );
    for ((file, a, _), (_, b, _)) in first.iter().zip(&second) {
        assert_eq!(a, b, "{file} differs between two runs");
        let version = a["schemaVersion"].as_u64().unwrap();
        assert!(
            version == 41 || version == 42,
            "{file}: schemaVersion {version}"
        );
        let uid = a["uid"].as_str().unwrap();
        assert!((8..=40).contains(&uid.len()), "{file}: uid {uid}");
        let vars = a["templating"]["list"].as_array().unwrap();
        assert_eq!(vars[0]["type"], "datasource", "{file}");
        assert_eq!(vars[0]["query"], "prometheus", "{file}");
        assert!(
            vars.iter().any(|v| v["name"] == "job"),
            "{file}: no job variable"
        );
        let mut ids = BTreeSet::new();
        let mut cells = BTreeSet::new();
        for p in panels(a) {
            assert!(
                ids.insert(p["id"].as_u64().unwrap()),
                "{file}: duplicate panel id {}",
                p["id"]
            );
            let g = &p["gridPos"];
            let (x, y, w, h) = (
                g["x"].as_u64().unwrap(),
                g["y"].as_u64().unwrap(),
                g["w"].as_u64().unwrap(),
                g["h"].as_u64().unwrap(),
            );
            assert!(x + w <= 24, "{file}: {:?} leaves the grid", p["title"]);
            for cx in x..x + w {
                for cy in y..y + h {
                    assert!(
                        cells.insert((cx, cy)),
                        "{file}: {:?} overlaps another panel at ({cx}, {cy})",
                        p["title"]
                    );
                }
            }
            for t in p["targets"].as_array().into_iter().flatten() {
                assert_eq!(t["datasource"]["uid"], "${datasource}", "{file}");
                let expr = t["expr"].as_str().unwrap();
                if expr.contains("rate(") || expr.contains("increase(") {
                    assert!(
                        expr.contains("[$__rate_interval]")
                            || expr.contains("[1h]")
                            || expr.contains("[24h]"),
                        "{file}: {expr}"
                    );
                }
            }
        }
    }
    let host = &first[1].1;
    assert!(host["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["name"] == "node"));
    assert!(first
        .iter()
        .flat_map(|(_, _, e)| e)
        .any(|e| e.contains("$__rate_interval")));
}

/// The overview has a row per service of the inventory and the UPS panels,
/// with thresholds from the tier's budgets.
#[test]
fn overview_has_one_row_per_service_coloured_by_its_budgets() {
    let inv = example_inventory();
    let (_, overview, _) = boards().remove(0);
    let all = panels(&overview);
    let rows: Vec<&str> = all
        .iter()
        .filter(|p| p["type"] == "row")
        .map(|p| p["title"].as_str().unwrap())
        .collect();
    for s in &inv.services {
        assert!(
            rows.iter()
                .any(|r| r.starts_with(&format!("{} ({} tier", s.name, s.tier))),
            "no row for {}: {rows:?}",
            s.name
        );
    }
    // home-assistant is critical: RTO 4h, RPO 1h.
    let after_row = |service: &str| -> Vec<&Value> {
        let start = all
            .iter()
            .position(|p| p["type"] == "row" && p["title"].as_str().unwrap().starts_with(service))
            .unwrap();
        all[start + 1..]
            .iter()
            .take_while(|p| p["type"] != "row")
            .copied()
            .collect()
    };
    let ha = after_row("home-assistant");
    let steps = |p: &Value| {
        p["fieldConfig"]["defaults"]["thresholds"]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["value"].as_f64())
            .collect::<Vec<_>>()
    };
    let down = ha
        .iter()
        .find(|p| p["title"].as_str().unwrap().starts_with("Down for"))
        .unwrap();
    assert_eq!(steps(down), vec![None, Some(7200.0), Some(14400.0)]);
    let backup = ha
        .iter()
        .find(|p| p["title"].as_str().unwrap().starts_with("Newest backup"))
        .unwrap();
    assert_eq!(steps(backup), vec![None, Some(2700.0), Some(3600.0)]);
    assert!(backup["targets"][0]["expr"]
        .as_str()
        .unwrap()
        .contains("homelab:service_backup_age_seconds{service=\"home-assistant\"}"));
    // grafana has no backup: no backup panels in its row.
    assert!(after_row("grafana")
        .iter()
        .all(|p| !p["title"].as_str().unwrap().contains("backup")));
    // The UPS's runtime is red below its 5m budget.
    let runtime = all
        .iter()
        .find(|p| {
            p["title"]
                .as_str()
                .unwrap()
                .starts_with("UPS ups: runtime (budget 5m)")
        })
        .unwrap();
    assert_eq!(steps(runtime), vec![None, Some(300.0), Some(420.0)]);
    assert!(all.iter().any(
        |p| p["targets"].as_array().is_some_and(|t| t
            .iter()
            .any(|t| t["expr"].as_str().unwrap().starts_with("ALERTS{")))
    ));
}

fn substitute_variables(expr: &str) -> String {
    expr.replace("$__rate_interval", "5m")
        .replace("$job", "homelab")
        .replace("$node", "pi-01")
        .replace("$ups", "ups")
        .replace("$project", "lab")
}

/// Criterion 2, first half: every expression of every panel and variable
/// parses with Prometheus's own parser (`promtool check rules` on a rule
/// file that records each one).
#[test]
fn every_expression_parses_with_promtool() {
    let Some(promtool) = promtool() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut rules = String::from("groups:\n- name: dashboards\n  rules:\n");
    let mut count = 0;
    for (file, _, exprs) in boards() {
        for e in exprs {
            count += 1;
            rules.push_str(&format!(
                "  - record: dashboard:expr_{count}\n    # {file}\n    expr: {}\n",
                serde_json::to_string(&substitute_variables(&e)).unwrap()
            ));
        }
    }
    let path = dir.path().join("dashboards.yml");
    std::fs::write(&path, &rules).unwrap();
    let out = Command::new(&promtool)
        .args(["check", "rules"])
        .arg(&path)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!("SUCCESS: {count} rules found")),
        "{text}"
    );
    println!("promtool parsed {count} dashboard expressions");

    // And it does fail on a broken one.
    std::fs::write(
        &path,
        "groups:\n- name: x\n  rules:\n  - record: a:b\n    expr: \"sum(rate(x[5m])\"\n",
    )
    .unwrap();
    assert!(!Command::new(&promtool)
        .args(["check", "rules"])
        .arg(&path)
        .output()
        .unwrap()
        .status
        .success());
}

fn referenced(exprs: impl IntoIterator<Item = String>) -> BTreeSet<String> {
    exprs
        .into_iter()
        .flat_map(|e| promql::metric_names(&substitute_variables(&e)))
        .collect()
}

/// Criterion 2, second half (recorded series): every `homelab:*` name a
/// panel reads is recorded by the rules generated from the same inventory.
#[test]
fn every_recorded_name_is_recorded_by_the_rules() {
    let inv = example_inventory();
    let dir = tempfile::tempdir().unwrap();
    homelab_rules::generate(&inv, dir.path()).unwrap();
    let rules = std::fs::read_to_string(dir.path().join("homelab-rules.yml")).unwrap();
    let recorded: BTreeSet<String> = rules
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("- record: "))
        .map(|s| s.trim().to_owned())
        .collect();
    let names = referenced(boards().into_iter().flat_map(|(_, _, e)| e));
    let wanted: Vec<&String> = names.iter().filter(|n| n.contains(':')).collect();
    assert!(wanted.len() >= 6, "{wanted:?}");
    for n in wanted {
        assert!(
            recorded.contains(n),
            "dashboards read {n}, which the rules do not record"
        );
    }
}

/// The committed examples are what the generator writes for the example
/// inventory; `REFERENCED-METRICS.txt` lists the names the panels read that
/// the rules do not record. `UPDATE_GOLDEN=1 cargo test -p homelab-dashboards`
/// rewrites them.
#[test]
fn committed_examples_are_up_to_date() {
    let out = tempfile::tempdir().unwrap();
    let files = homelab_dashboards::generate(&example_inventory(), out.path()).unwrap();
    let names = referenced(boards().into_iter().flat_map(|(_, _, e)| e));
    let external: Vec<&str> = names
        .iter()
        .filter(|n| !n.contains(':'))
        .map(String::as_str)
        .collect();
    // backup_ and restore_drill_: the textfile metrics of TEXTFILE-METRICS.md.
    let known = ["node_", "nut_", "docker_", "container_", "pve_", "backup_", "restore_drill_"];
    for n in &external {
        assert!(
            known.iter().any(|p| n.starts_with(p)) || ["up", "ALERTS"].contains(n),
            "dashboards read {n}, of no known source"
        );
    }
    std::fs::write(
        out.path().join("REFERENCED-METRICS.txt"),
        external.join("\n") + "\n",
    )
    .unwrap();
    let mut relative: Vec<PathBuf> = files
        .iter()
        .map(|f| f.strip_prefix(out.path()).unwrap().to_owned())
        .collect();
    relative.push("REFERENCED-METRICS.txt".into());
    let examples = root().join("dashboards/examples");
    let update = std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    for rel in relative {
        let fresh = std::fs::read_to_string(out.path().join(&rel)).unwrap();
        let committed = examples.join(&rel);
        if update {
            std::fs::create_dir_all(committed.parent().unwrap()).unwrap();
            std::fs::write(&committed, &fresh).unwrap();
        }
        let old = std::fs::read_to_string(&committed).unwrap_or_default();
        assert!(old == fresh, "dashboards/examples/{} drifted from the generator: run UPDATE_GOLDEN=1 cargo test -p homelab-dashboards", rel.display());
    }
}

/// The provisioning files are YAML Grafana reads: a file provider and a
/// Prometheus data source.
#[test]
fn provisioning_files_are_a_file_provider_and_a_prometheus_datasource() {
    let out = tempfile::tempdir().unwrap();
    homelab_dashboards::generate(&example_inventory(), out.path()).unwrap();
    let read = |p: &str| -> serde_yaml_ng::Value {
        serde_yaml_ng::from_str(&std::fs::read_to_string(out.path().join(p)).unwrap()).unwrap()
    };
    let providers = read("provisioning/dashboards/homelab.yaml");
    assert_eq!(providers["apiVersion"].as_u64(), Some(1));
    assert_eq!(providers["providers"][0]["type"].as_str(), Some("file"));
    assert!(providers["providers"][0]["options"]["path"]
        .as_str()
        .is_some());
    let ds = read("provisioning/datasources/prometheus.yaml");
    assert_eq!(ds["datasources"][0]["type"].as_str(), Some("prometheus"));
    assert!(ds["datasources"][0]["url"]
        .as_str()
        .unwrap()
        .starts_with("http"));
}

/// An inventory without a UPS or anything on Proxmox gets neither board.
#[test]
fn boards_follow_the_inventory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("small.yaml");
    std::fs::write(&path, "tiers:\n  std: {rto: 1h, rpo: 1d}\nnodes:\n  - {name: pi, kind: raspberrypi}\nservices:\n  - {name: notes, tier: std, runs_on: {container: notes, node: pi}}\n").unwrap();
    let inv = homelab_rules::load_inventory(&path).unwrap();
    let uids: Vec<&str> = homelab_dashboards::dashboards(&inv)
        .iter()
        .map(|d| d.board.uid())
        .collect();
    assert_eq!(
        uids,
        ["homelab-overview", "homelab-host", "homelab-containers"]
    );
}
