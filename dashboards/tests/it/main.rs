//! The generated dashboards against Grafana's own types (npm
//! `@grafana/schema`, checked with `tsc`), promtool's PromQL parser and the rules' recorded series; the committed examples
//! against the generator.
//!
//! That every other metric name exists in the exporter's real output is
//! checked by the exporter's own tests (host fixtures, a real upsd, a real
//! dockerd, the Proxmox fake), which read `examples/REFERENCED-METRICS.txt`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

mod promql;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn example_inventory() -> homelab_rules::Inventory {
    homelab_rules::load_inventory(&root().join("rules/examples/homelab.yaml")).unwrap()
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

/// Where `scripts/test.sh` installed Grafana's types and the TypeScript
/// compiler (`npm ci` of `dashboards/tests/grafana-types`).
fn grafana_types() -> Option<PathBuf> {
    let dir = std::env::var("HOMELAB_GRAFANA_TYPES")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root().join("target/grafana-types"));
    tool(
        dir.join("node_modules/typescript/bin/tsc"),
        "tsc and @grafana/schema (npm, dashboards/tests/grafana-types)",
    )?;
    Some(dir)
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

/// The modules of `@grafana/schema` that hold a panel plugin's types. The
/// Prometheus query type left `@grafana/schema` after 10.4 (for the
/// AGPL-licensed `@grafana/prometheus`): it comes from `@grafana/schema`
/// 10.4, installed as `grafana-schema-10` (see its `package.json`).
const TS_IMPORTS: &str = r#"import type { Dashboard as GrafanaDashboard, VariableModel as GrafanaVariableModel } from "@grafana/schema";
import type { Options as GrafanaStatOptions } from "@grafana/schema/dist/esm/raw/composable/stat/panelcfg/x/StatPanelCfg_types.gen.js";
import type { Options as GrafanaTimeSeriesOptions, FieldConfig as GrafanaTimeSeriesFieldConfig } from "@grafana/schema/dist/esm/raw/composable/timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen.js";
import type { Options as GrafanaBarGaugeOptions } from "@grafana/schema/dist/esm/raw/composable/bargauge/panelcfg/x/BarGaugePanelCfg_types.gen.js";
import type { Options as GrafanaTableOptions, FieldConfig as GrafanaTableFieldConfig } from "@grafana/schema/dist/esm/raw/composable/table/panelcfg/x/TablePanelCfg_types.gen.js";
import type { PrometheusDataQuery as GrafanaPrometheusDataQuery } from "grafana-schema-10/dist/esm/raw/composable/prometheus/dataquery/x/PrometheusDataQuery_types.gen.js";
// The type of T as JSON writes it: a string enum becomes the union of its
// values (JSON cannot name an enum member), everything else is unchanged.
type Json<T> = 0 extends 1 & T ? T
  : T extends string ? `${T}`
  : T extends readonly (infer U)[] ? Json<U>[]
  : T extends object ? { [K in keyof T]: Json<T[K]> }
  : T;
// Two allowances beyond Grafana's types, both things Grafana writes itself
// and the JSON Schemas this check replaced accepted: a query variable's
// `definition` (the query as the variable editor shows it), and a table
// column without `cellOptions` (Grafana then renders its cells as "auto").
type VariableModel = Json<GrafanaVariableModel> & { definition?: string };
type Dashboard = Omit<Json<GrafanaDashboard>, "templating"> & { templating?: { list?: VariableModel[] } };
type TableFieldConfig = Omit<Json<GrafanaTableFieldConfig>, "cellOptions"> & Partial<Pick<Json<GrafanaTableFieldConfig>, "cellOptions">>;
type StatOptions = Json<GrafanaStatOptions>;
type TimeSeriesOptions = Json<GrafanaTimeSeriesOptions>;
type TimeSeriesFieldConfig = Json<GrafanaTimeSeriesFieldConfig>;
type BarGaugeOptions = Json<GrafanaBarGaugeOptions>;
type TableOptions = Json<GrafanaTableOptions>;
type PrometheusDataQuery = Json<GrafanaPrometheusDataQuery>;
"#;

/// The TypeScript types a panel's `options` and `fieldConfig.defaults.custom`
/// must satisfy, by panel type: `None` where the plugin has no custom
/// field config (a panel of that type must then have none).
fn panel_types(kind: &str) -> (&'static str, Option<&'static str>) {
    match kind {
        "stat" => ("StatOptions", None),
        "timeseries" => ("TimeSeriesOptions", Some("TimeSeriesFieldConfig")),
        "bargauge" => ("BarGaugeOptions", None),
        "table" => ("TableOptions", Some("TableFieldConfig")),
        _ => panic!("no Grafana type known for panel type {kind:?}: add it to TS_IMPORTS"),
    }
}

/// One JSON value to hold against one of Grafana's types, and what it is.
struct Part {
    what: String,
    ty: &'static str,
    json: Value,
}

/// Type-checks each part as a TypeScript object literal that must satisfy
/// its type (`<json> satisfies Type`, tsc `--strict`): every
/// required property present, every value of the declared type or enum,
/// and no property the type does not declare (excess property checks reach
/// nested literals too). Returns tsc's errors, each with the part it is in.
fn type_check(types: &Path, parts: &[Part]) -> Vec<(usize, String)> {
    // Inside the install, so that tsc finds its node_modules.
    let dir = tempfile::tempdir_in(types).unwrap();
    let header = TS_IMPORTS.lines().count();
    let mut ts = String::from(TS_IMPORTS);
    for (i, part) in parts.iter().enumerate() {
        // One line per part: an error's line number names its part.
        ts.push_str(&format!(
            "export const part{i} = ({}) satisfies {};\n",
            part.json, part.ty
        ));
    }
    std::fs::write(dir.path().join("check.ts"), ts).unwrap();
    std::fs::write(
        dir.path().join("tsconfig.json"),
        r#"{"compilerOptions": {"strict": true, "noEmit": true, "target": "es2022", "module": "esnext",
            "moduleResolution": "bundler", "skipLibCheck": true, "types": []},
            "files": ["check.ts"]}"#,
    )
    .unwrap();
    let tsc = types.join("node_modules/typescript/bin/tsc");
    let out = Command::new("node")
        .arg(&tsc)
        .arg("-p")
        .arg(dir.path())
        .arg("--pretty")
        .arg("false")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let mut errors: Vec<(usize, String)> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line
            .strip_prefix("check.ts(")
            .or_else(|| line.split_once("check.ts(").map(|(_, r)| r))
        {
            let line_no: usize = rest.split([',', ')']).next().unwrap().parse().unwrap();
            assert!(line_no > header, "tsc error in the imports: {line}\n{text}");
            errors.push((line_no - header - 1, line.to_owned()));
        } else if let Some(last) = errors.last_mut().filter(|_| line.starts_with(' ')) {
            last.1.push('\n');
            last.1.push_str(line);
        } else if !line.trim().is_empty() {
            panic!("tsc: {line}\n{text}");
        }
    }
    assert_eq!(
        out.status.success(),
        errors.is_empty(),
        "tsc exit status {:?} with errors {errors:?}\n{text}",
        out.status
    );
    errors
}

/// The parts of a dashboard the old schema check covered: the dashboard
/// itself, then each panel's options and custom field config against its
/// plugin's types, and each query against the Prometheus query type.
fn dashboard_parts(file: &str, json: &Value) -> Vec<Part> {
    let mut parts = vec![Part {
        what: file.to_owned(),
        ty: "Dashboard",
        json: json.clone(),
    }];
    for p in panels(json) {
        let kind = p["type"].as_str().unwrap();
        if kind == "row" {
            continue;
        }
        let title = format!("{file}: {kind} panel {}", p["title"]);
        let (options, custom) = panel_types(kind);
        parts.push(Part {
            what: format!("{title} options"),
            ty: options,
            json: p["options"].clone(),
        });
        if let Some(c) = p["fieldConfig"]["defaults"].get("custom") {
            let ty = custom
                .unwrap_or_else(|| panic!("{title}: the {kind} plugin has no custom field config"));
            parts.push(Part {
                what: format!("{title} fieldConfig.defaults.custom"),
                ty,
                json: c.clone(),
            });
        }
        let targets = p["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{title} has no query");
        for t in targets {
            parts.push(Part {
                what: format!("{title} query {}", t["refId"]),
                ty: "PrometheusDataQuery",
                json: t.clone(),
            });
        }
    }
    parts
}

/// Criterion 1: each dashboard against Grafana's `Dashboard` type; each
/// panel's options and custom field config against its plugin's types;
/// each query against the Prometheus query type. All from the npm package
/// `@grafana/schema`, checked by `tsc`.
#[test]
fn every_dashboard_satisfies_grafanas_types() {
    let Some(types) = grafana_types() else {
        return;
    };
    let mut parts = Vec::new();
    for (file, json, _) in boards() {
        parts.extend(dashboard_parts(&file, &json));
    }
    let tys: BTreeSet<&str> = parts.iter().map(|p| p.ty).collect();
    assert!(
        tys.is_superset(&BTreeSet::from([
            "Dashboard",
            "StatOptions",
            "TimeSeriesOptions",
            "TimeSeriesFieldConfig",
            "BarGaugeOptions",
            "TableOptions",
            "PrometheusDataQuery"
        ])),
        "{tys:?}"
    );
    let errors = type_check(&types, &parts);
    let report: Vec<String> = errors
        .iter()
        .map(|(i, e)| format!("{}: {e}", parts[*i].what))
        .collect();
    assert!(
        report.is_empty(),
        "{} errors against Grafana's types:\n{}",
        report.len(),
        report.join("\n")
    );
    println!(
        "{} parts of {} dashboards satisfy Grafana's types",
        parts.len(),
        boards().len()
    );
}

/// The type check is strict enough to catch a mistake, and each mistake for
/// its own reason: a dashboard without `schemaVersion`, a dashboard field
/// Grafana does not have, a stat option the stat plugin does not have, a
/// stat graph mode it does not know, a query without `expr`, a custom
/// field config of the wrong type, and past the two allowances (see
/// `TS_IMPORTS`) a table cell type Grafana does not have and a variable
/// field it does not have.
#[test]
fn the_type_check_rejects_a_broken_dashboard() {
    let Some(types) = grafana_types() else {
        return;
    };
    let good: Vec<Part> = boards()
        .iter()
        .flat_map(|(file, json, _)| dashboard_parts(file, json))
        .collect();
    // (what, the part's type, a JSON pointer, its new value or None to
    // remove it, what tsc must say about it)
    let cases: [(&str, &str, &str, Option<Value>, &str); 8] = [
        (
            "a dashboard without schemaVersion",
            "Dashboard",
            "/schemaVersion",
            None,
            "Property 'schemaVersion' is missing",
        ),
        (
            "a dashboard with `templates`",
            "Dashboard",
            "/templates",
            Some(json!({"list": []})),
            "'\"templates\"' does not exist in type",
        ),
        (
            "a variable with `definitions`",
            "Dashboard",
            "/templating/list/0/definitions",
            Some(json!("up")),
            "'\"definitions\"' does not exist in type",
        ),
        (
            "stat options with `sparkline`",
            "StatOptions",
            "/sparkline",
            Some(json!(true)),
            "'\"sparkline\"' does not exist in type",
        ),
        (
            "stat options with graphMode sparkline",
            "StatOptions",
            "/graphMode",
            Some(json!("sparkline")),
            "Type '\"sparkline\"' is not assignable to type",
        ),
        (
            "a query without expr",
            "PrometheusDataQuery",
            "/expr",
            None,
            "Property 'expr' is missing",
        ),
        (
            "a time series line width as a string",
            "TimeSeriesFieldConfig",
            "/lineWidth",
            Some(json!("2")),
            "Type 'string' is not assignable to type 'number'",
        ),
        (
            "a table column of an unknown cell type",
            "TableFieldConfig",
            "/cellOptions",
            Some(json!({"type": "sparkles"})),
            "'\"sparkles\"'",
        ),
    ];
    let mut broken = Vec::new();
    let mut unbroken = Vec::new();
    for (what, ty, pointer, value, _) in &cases {
        let part = good.iter().find(|p| p.ty == *ty).unwrap();
        let mut json = part.json.clone();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        let object = json.pointer_mut(parent).unwrap().as_object_mut().unwrap();
        match value {
            Some(v) => object.insert(key.to_owned(), v.clone()),
            None => object.remove(key),
        };
        broken.push(Part {
            what: (*what).to_owned(),
            ty: part.ty,
            json,
        });
        unbroken.push(Part {
            what: part.what.clone(),
            ty: part.ty,
            json: part.json.clone(),
        });
    }
    let errors = type_check(&types, &broken);
    for (i, (what, _, _, _, reason)) in cases.iter().enumerate() {
        let mine: Vec<&String> = errors
            .iter()
            .filter(|(j, _)| *j == i)
            .map(|(_, e)| e)
            .collect();
        assert!(!mine.is_empty(), "{what} passed the type check");
        assert!(
            mine.iter().any(|e| e.contains(reason)),
            "{what}: rejected, but not for {reason:?}: {mine:#?}"
        );
    }
    // And the same parts unbroken pass.
    assert_eq!(type_check(&types, &unbroken), Vec::<(usize, String)>::new());
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
    let known = [
        "node_",
        "nut_",
        "docker_",
        "container_",
        "pve_",
        "backup_",
        "restore_drill_",
        "rpi_",
        "mmc_",
    ];
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
    // The host board's Raspberry Pi row only for a lab with a Pi.
    let pi_row = |inv: &homelab_rules::Inventory| {
        homelab_dashboards::dashboards(inv)
            .iter()
            .find(|d| d.board.uid() == "homelab-host")
            .map(|d| d.board.to_json().to_string().contains("\"title\":\"Raspberry Pi"))
            .unwrap()
    };
    assert!(pi_row(&inv));
    std::fs::write(&path, "tiers:\n  std: {rto: 1h, rpo: 1d}\nnodes:\n  - {name: nas, kind: synology}\n").unwrap();
    assert!(!pi_row(&homelab_rules::load_inventory(&path).unwrap()));
}
