//! The homelab overview: is everything up, is every service inside its
//! recovery objectives, can the UPS carry the lab through a clean shutdown,
//! and what is firing.
//!
//! One row per service of the inventory: its state, how long it has been
//! down against its RTO, how old its newest backup is against its RPO, each
//! coloured by how much of that budget is left. The budgets come from the
//! series the rules record (`homelab:service_rto_seconds`, ...), and the
//! colour steps are the same fractions the alerts fire at.

use homelab_rules::inventory::{RunsOn, Service};
use homelab_rules::Inventory;

use super::quote;
use crate::grafana::{Board, Panel, Query, GREEN, ORANGE, RED};

/// Fraction of the RTO after which `ServiceDownHalfRTO` warns.
const RTO_WARNING: f64 = 0.5;
/// Fraction of the RPO from which a backup's age is shown orange (no alert
/// fires there: a backup on schedule may reach it every cycle).
const RPO_WARNING: f64 = 0.75;

fn where_it_runs(s: &Service) -> String {
    match &s.runs_on {
        RunsOn::ProxmoxGuest {
            proxmox_guest,
            kind,
            cluster,
            ..
        } => format!(
            "Proxmox {} {proxmox_guest}{}",
            if matches!(kind, homelab_rules::inventory::GuestKind::Lxc) {
                "container"
            } else {
                "VM"
            },
            cluster
                .as_ref()
                .map(|c| format!(" of cluster {c}"))
                .unwrap_or_default()
        ),
        RunsOn::Container { container, node } => format!("container {container} on {node}"),
        RunsOn::Probe { probe } => format!("probed at {probe}"),
        RunsOn::Node { node } => format!("node {node}"),
    }
}

/// The overview board.
pub fn board(inv: &Inventory) -> Board {
    let mut b = Board::new(
        "homelab-overview",
        "Homelab overview",
        "Every service against its recovery time and point objectives, UPS runtime against the shutdown budget, nodes and firing alerts. Generated from the inventory by homelab-exporter.",
    );
    b.variable(super::job_variable());

    b.add(
        Panel::stat("Nodes up", 4)
            .describe("Scrape targets of the selected jobs that answered their last scrape.")
            .query(Query::instant("sum(up{job=~\"$job\"})", ""))
            .base(GREEN),
    );
    b.add(
        Panel::stat("Nodes down", 4)
            .describe("Scrape targets of the selected jobs whose last scrape failed.")
            .query(Query::instant(
                "count(up{job=~\"$job\"} == 0) or vector(0)",
                "",
            ))
            .step(1.0, RED),
    );
    b.add(
        Panel::stat("Services down", 4)
            .describe("Services of the inventory that are not up (homelab:service_up).")
            .query(Query::instant(
                "count(homelab:service_up == 0) or vector(0)",
                "",
            ))
            .step(1.0, RED),
    );
    b.add(
        Panel::stat("Backups older than RPO", 4)
            .describe("Services whose newest backup is older than their recovery point objective.")
            .query(Query::instant("count(homelab:service_backup_age_seconds > on(service) homelab:service_rpo_seconds) or vector(0)", ""))
            .step(1.0, RED),
    );
    b.add(
        Panel::stat("Alerts firing", 4)
            .describe("Alerts Prometheus is firing now (all severities).")
            .query(Query::instant(
                "count(ALERTS{alertstate=\"firing\"}) or vector(0)",
                "",
            ))
            .step(1.0, ORANGE),
    );
    b.add(
        Panel::stat("Critical alerts", 4)
            .describe("Firing alerts with severity critical.")
            .query(Query::instant(
                "count(ALERTS{alertstate=\"firing\",severity=\"critical\"}) or vector(0)",
                "",
            ))
            .step(1.0, RED),
    );

    b.add(
        Panel::bargauge("RTO budget used")
            .describe("How much of its recovery time objective each service has spent down; 0 while it is up. Orange from half of it, red past it.")
            .unit("percentunit")
            .range(0.0, 1.0)
            .step(RTO_WARNING, ORANGE)
            .step(1.0, RED)
            .query(Query::instant(
                "(homelab:service_down_seconds or on(service) (homelab:service_rto_seconds * 0)) / on(service) homelab:service_rto_seconds",
                "{{service}}",
            )),
    );
    b.add(
        Panel::bargauge("RPO budget used")
            .describe("Age of each service's newest backup as a share of its recovery point objective. Orange from 75 %, red past it.")
            .unit("percentunit")
            .range(0.0, 1.0)
            .step(RPO_WARNING, ORANGE)
            .step(1.0, RED)
            .query(Query::instant("homelab:service_backup_age_seconds / on(service) homelab:service_rpo_seconds", "{{service}}")),
    );

    for s in &inv.services {
        service_row(&mut b, inv, s);
    }

    if !inv.ups.is_empty() {
        b.row("Power");
        for u in &inv.ups {
            let ups = quote(&u.name);
            let sel = format!("ups={ups},node={}", quote(&u.node));
            let budget = u.shutdown_budget.secs() as f64;
            let margin = inv.settings.ups_runtime_margin.secs() as f64;
            b.add(
                Panel::stat(format!("UPS {}: power", u.name), 6)
                    .describe(format!("On line or on battery (nut_ups_status, flag OB). Read by the exporter on {}.", u.node))
                    .query(Query::instant(format!("homelab:ups_on_battery{{{sel}}}"), ""))
                    .map_value("0", "on line", GREEN)
                    .map_value("1", "on battery", RED)
                    .no_value("no data"),
            );
            b.add(
                Panel::stat(format!("UPS {}: charge", u.name), 6)
                    .query(Query::instant(
                        format!("homelab:ups_charge_ratio{{{sel}}}"),
                        "",
                    ))
                    .unit("percentunit")
                    .base(RED)
                    .step(0.3, ORANGE)
                    .step(0.6, GREEN),
            );
            b.add(
                Panel::stat(format!("UPS {}: runtime (budget {})", u.name, u.shutdown_budget), 6)
                    .describe(format!(
                        "Battery runtime the UPS reports. The powered nodes ({}) need {} to shut down; red below that, orange within the {} margin above it.",
                        u.powers.join(", "),
                        u.shutdown_budget,
                        inv.settings.ups_runtime_margin
                    ))
                    .query(Query::instant(format!("homelab:ups_runtime_seconds{{{sel}}}"), ""))
                    .unit("s")
                    .base(RED)
                    .step(budget, ORANGE)
                    .step(budget + margin, GREEN),
            );
            b.add(
                Panel::stat(format!("UPS {}: runtime beyond budget", u.name), 6)
                    .describe("Runtime left after a clean shutdown of everything it powers (runtime minus homelab:ups_shutdown_budget_seconds).")
                    .query(Query::instant(format!("homelab:ups_runtime_seconds{{{sel}}} - on(ups, node) homelab:ups_shutdown_budget_seconds{{{sel}}}"), ""))
                    .unit("s")
                    .base(RED)
                    .step(0.0, ORANGE)
                    .step(margin, GREEN),
            );
        }
    }

    b.row("Alerts");
    b.add(
        Panel::table("Firing alerts")
            .describe("Every alert Prometheus is firing now, with its labels.")
            .query(Query::table("ALERTS{alertstate=\"firing\"}"))
            .hide_column("Value")
            .hide_column("alertstate"),
    );
    b
}

fn service_row(b: &mut Board, inv: &Inventory, s: &Service) {
    let tier = inv.tier_of(s);
    let name = quote(&s.name);
    let rto = tier.rto.secs() as f64;
    let rpo = tier.rpo.secs() as f64;
    let backed_up = !s.backups.is_empty();
    // Unknown (nothing ever said whether it is up) shows as no value, not
    // as "down for 0s".
    let known_zero = format!("(homelab:service_up{{service={name}}} * 0)");
    b.row(format!(
        "{} ({} tier: RTO {}, RPO {}) · {}",
        s.name,
        s.tier,
        tier.rto,
        if backed_up {
            tier.rpo.to_string()
        } else {
            "no backup".into()
        },
        where_it_runs(s)
    ));
    b.add(
        Panel::stat("State", 4)
            .query(Query::instant(
                format!("homelab:service_up{{service={name}}}"),
                "",
            ))
            .map_value("1", "UP", GREEN)
            .map_value("0", "DOWN", RED)
            .no_value("unknown")
            .base(ORANGE),
    );
    b.add(
        Panel::stat(format!("Down for (RTO {})", tier.rto), 4)
            .describe("How long the service has been down; 0 while it is up, no value while its state is unknown. Orange from half of the RTO, red past it.")
            .query(Query::instant(format!("homelab:service_down_seconds{{service={name}}} or {known_zero}"), ""))
            .unit("s")
            .step(RTO_WARNING * rto, ORANGE)
            .step(rto, RED)
            .no_value("unknown"),
    );
    b.add(
        Panel::stat("RTO budget left", 4)
            .describe("Share of the recovery time objective not yet spent down.")
            .query(Query::instant(
                format!("1 - (homelab:service_down_seconds{{service={name}}} or {known_zero}) / scalar(homelab:service_rto_seconds{{service={name}}})"),
                "",
            ))
            .unit("percentunit")
            .base(RED)
            .step(0.0001, ORANGE)
            .step(1.0 - RTO_WARNING, GREEN)
            .no_value("unknown"),
    );
    if backed_up {
        b.add(
            Panel::stat(format!("Newest backup (RPO {})", tier.rpo), 4)
                .describe("Age of the newest successful backup. Orange from 75 % of the RPO, red past it.")
                .query(Query::instant(format!("homelab:service_backup_age_seconds{{service={name}}}"), ""))
                .unit("s")
                .step(RPO_WARNING * rpo, ORANGE)
                .step(rpo, RED)
                .no_value("no backup known"),
        );
        b.add(
            Panel::stat("RPO budget left", 4)
                .describe("Share of the recovery point objective not yet used up by the newest backup's age.")
                .query(Query::instant(
                    format!("1 - homelab:service_backup_age_seconds{{service={name}}} / on(service) homelab:service_rpo_seconds{{service={name}}}"),
                    "",
                ))
                .unit("percentunit")
                .base(RED)
                .step(0.0001, ORANGE)
                .step(1.0 - RPO_WARNING, GREEN)
                .no_value("no backup known"),
        );
        let drill = inv.settings.restore_drill_interval;
        b.add(
            Panel::stat(format!("Last restore drill (every {drill})"), 4)
                .describe("Time since a restore of this service was last tested and worked (restore_drill_last_success_timestamp_seconds, written by the drill script). Red past the drill interval.")
                .query(Query::instant(format!("time() - max(restore_drill_last_success_timestamp_seconds{{service={name}}})"), ""))
                .unit("s")
                .step(drill.secs() as f64, RED)
                .no_value("never"),
        );
    }
}
