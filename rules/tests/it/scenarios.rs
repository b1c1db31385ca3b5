//! The hand-written scenarios of `rules/tests/scenarios/`: how the recovery
//! rules fail in a real homelab, each as promtool input series and the
//! alerts an operator must (and must not) get, against the rules generated
//! from the fixed inventory beside them.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::run;

fn scenarios() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios")
}

/// Generates the rules of the scenario inventory into a temporary
/// directory, copies `test` there and runs promtool on it.
fn run_scenario(test: &str) {
    let dir = tempfile::tempdir().unwrap();
    let inventory = homelab_rules::load_inventory(&scenarios().join("homelab.yaml")).unwrap();
    homelab_rules::generate(&inventory, dir.path()).unwrap();
    std::fs::copy(scenarios().join(test), dir.path().join(test)).unwrap();
    let out = run("promtool", "prometheus", &["test", "rules", test], dir.path());
    println!("{out}");
}

#[test]
fn a_node_dies_for_4h10m_and_its_services_rto_clocks_run() {
    run_scenario("node_dies.test.yml");
}

#[test]
fn the_clock_continues_through_a_gap_in_all_series() {
    run_scenario("prometheus_restart.test.yml");
}

#[test]
fn first_deployment_invents_no_outage() {
    run_scenario("first_deployment.test.yml");
}

#[test]
fn backups_on_schedule_for_48h_raise_no_alert() {
    run_scenario("backups_on_schedule.test.yml");
}

#[test]
fn a_failed_nightly_vzdump_alerts_before_the_rpo_is_breached() {
    run_scenario("vzdump_fails.test.yml");
}

#[test]
fn one_upsd_read_by_two_exporters_still_pages_once() {
    run_scenario("ups_two_exporters.test.yml");
}

#[test]
fn a_ups_recharging_on_mains_never_pages() {
    run_scenario("ups_recharging.test.yml");
}

#[test]
fn a_crash_looping_container_counts_as_down() {
    run_scenario("crash_loop.test.yml");
}

/// Every scenario file is run by a test above.
#[test]
fn every_scenario_file_has_its_test() {
    let source = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/scenarios.rs")).unwrap();
    let mut files: Vec<String> = std::fs::read_dir(scenarios()).unwrap().filter_map(|e| e.ok()?.file_name().into_string().ok()).filter(|n| n.ends_with(".test.yml")).collect();
    files.sort();
    assert!(files.len() >= 8, "{files:?}");
    for f in files {
        assert!(source.contains(&format!("run_scenario(\"{f}\")")), "{f} is run by no test");
    }
}

/// The generated tests of a 20-service inventory with weekly backups and
/// monthly restore drills pass; the time they take is printed (it is a
/// figure for the notes, not a pass condition).
#[test]
fn generated_tests_of_twenty_services_pass() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = homelab_rules::load_inventory(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/twenty-services.yaml")).unwrap();
    let files = homelab_rules::generate(&inventory, dir.path()).unwrap();
    let tests: Vec<String> = files.iter().filter_map(|f| f.file_name()?.to_str().filter(|n| n.ends_with(".test.yml")).map(str::to_owned)).collect();
    let mut args = vec!["test", "rules"];
    args.extend(tests.iter().map(String::as_str));
    let start = Instant::now();
    let out = run("promtool", "prometheus", &args, dir.path());
    println!("{out}\npromtool test rules {} took {:.1} s", tests.join(" "), start.elapsed().as_secs_f64());
}
