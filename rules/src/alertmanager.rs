//! The Alertmanager configuration: routes by severity (the tiers decide
//! it), a dead man's switch route for the watchdog, and inhibitions that
//! only silence what their cause explains.

use crate::generate::HEADER;
use crate::inventory::Inventory;

/// One inhibition: while an alert matching `source` fires, alerts matching
/// `target` with the same values of `equal` are silenced.
pub struct Inhibition {
    /// Why the source explains the targets (a comment in the file).
    pub why: &'static str,
    /// Matchers of the silencing alert.
    pub source: &'static [&'static str],
    /// Matchers of the silenced alerts.
    pub target: &'static [&'static str],
    /// Labels both must share.
    pub equal: &'static [&'static str],
}

/// Every inhibition, in the order written.
pub const INHIBITIONS: &[Inhibition] = &[
    Inhibition {
        why: "A service beyond its RTO needs no reminder that it passed half of it, or that it is down.",
        source: &["alertname=\"ServiceDownBeyondRTO\""],
        target: &["alertname=~\"ServiceDownHalfRTO|ServiceDown\""],
        equal: &["service"],
    },
    Inhibition { why: "Half of the RTO used says the service is down.", source: &["alertname=\"ServiceDownHalfRTO\""], target: &["alertname=\"ServiceDown\""], equal: &["service"] },
    Inhibition {
        why: "A backup older than the RPO says that its runs were missed.",
        source: &["alertname=\"BackupAgeOverRPO\""],
        target: &["alertname=\"BackupRunMissed\""],
        equal: &["service"],
    },
    Inhibition {
        why: "A UPS about to run out says it is on battery.",
        source: &["alertname=~\"UPSLowBattery|UPSRuntimeBelowShutdownBudget\""],
        target: &["alertname=\"UPSOnBattery\""],
        equal: &["ups", "node"],
    },
    Inhibition { why: "A target that cannot be scraped has no collectors to report.", source: &["alertname=\"ExporterDown\""], target: &["alertname=\"ExporterCollectorFailing\""], equal: &["instance"] },
    Inhibition {
        why: "A node that cannot be scraped explains why its services and containers look down; the RTO alerts (ServiceDownHalfRTO, ServiceDownBeyondRTO) still reach you, because the budget runs whatever the cause.",
        source: &["alertname=~\"ExporterDown|ExporterAbsent\"", "node=~\".+\""],
        target: &["alertname=~\"ServiceDown|ServiceStateUnknown|ContainerNotRunning|ContainerUnhealthy\""],
        equal: &["node"],
    },
    Inhibition {
        why: "A node powered by a UPS that has been on battery for a while may be shut down on purpose: only its reachability alerts are silenced.",
        source: &["alertname=\"NodeOnUPSBattery\""],
        target: &["alertname=~\"ExporterDown|ExporterAbsent\""],
        equal: &["node"],
    },
];

fn list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|m| format!("'{m}'")).collect();
    format!("[{}]", quoted.join(", "))
}

/// A complete Alertmanager configuration: critical alerts (the tiers that
/// page) go to the `homelab-page` receiver at once and repeat hourly,
/// warnings to `homelab` grouped and daily, the watchdog to its own
/// receiver every minute. The receivers are placeholder webhooks on
/// 127.0.0.1: point them at ntfy, Gotify, email or a dead man's switch.
pub fn config(inv: &Inventory) -> String {
    let _ = inv;
    let mut inhibit = String::from("inhibit_rules:\n");
    for i in INHIBITIONS {
        inhibit.push_str(&format!("  # {}\n  - source_matchers: {}\n    target_matchers: {}\n    equal: {}\n", i.why, list(i.source), list(i.target), list(i.equal)));
    }
    format!(
        "{HEADER}{}{inhibit}{}",
        r#"route:
  receiver: homelab
  group_by: [alertname, service, ups, node, instance]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 24h
  routes:
    - matchers: ['alertname="Watchdog"']
      receiver: watchdog
      group_wait: 0s
      group_interval: 1m
      repeat_interval: 1m
    - matchers: ['severity="critical"']
      receiver: homelab-page
      group_wait: 10s
      repeat_interval: 1h
    - matchers: ['severity="warning"']
      receiver: homelab
    - matchers: ['severity="info"']
      receiver: homelab
      group_interval: 30m
      repeat_interval: 7d
"#,
        r#"receivers:
  - name: homelab
    webhook_configs:
      - url: http://127.0.0.1:9095/
        send_resolved: true
  - name: homelab-page
    webhook_configs:
      - url: http://127.0.0.1:9095/page
        send_resolved: true
  - name: watchdog
    webhook_configs:
      - url: http://127.0.0.1:9095/watchdog
"#
    )
}
