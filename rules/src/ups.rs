//! The UPS rules. A UPS is its NUT name plus the node whose exporter reads
//! it: other exporters may read the same upsd (every node that shuts down
//! on its signal often does), and their copies of its series are left out,
//! so every join is one to one. Two UPSes of one name (Synology calls its
//! own `ups`) stay apart by their nodes.

use crate::generate::{alert, q, record, AlertSpec, Group, Rule};
use crate::inventory::{Inventory, Ups};

fn labels(u: &Ups) -> [(&'static str, String); 2] {
    [("ups", u.name.clone()), ("node", u.node.clone())]
}

fn selector(u: &Ups, extra: &str) -> String {
    format!("{{ups={},node={}{extra}}}", q(&u.name), q(&u.node))
}

fn per_ups(u: &Ups) -> Vec<Rule> {
    let l = labels(u);
    let mut rules = vec![
        record("homelab:ups_shutdown_budget_seconds", format!("vector({})", u.shutdown_budget.secs()), &l),
        record("homelab:ups_on_battery", format!("max(nut_ups_status{})", selector(u, ",status=\"OB\"")), &l),
        record("homelab:ups_runtime_seconds", format!("max(nut_battery_runtime_seconds{})", selector(u, "")), &l),
        record("homelab:ups_charge_ratio", format!("max(nut_battery_charge{})", selector(u, "")), &l),
    ];
    for powered in &u.powers {
        rules.push(record("homelab:node_on_ups_battery", format!("max(nut_ups_status{})", selector(u, ",status=\"OB\"")), &[("node", powered.clone()), ("ups", u.name.clone()), ("ups_node", u.node.clone())]));
    }
    rules
}

/// Every UPS rule.
pub fn group(inv: &Inventory) -> Group {
    let s = &inv.settings;
    let margin = s.ups_runtime_margin;
    let budget = "homelab:ups_shutdown_budget_seconds";
    let mut rules: Vec<Rule> = inv.ups.iter().flat_map(per_ups).collect();
    // Flags are read from the inventory's reader of each UPS only.
    let known = format!("and on(ups, node) {budget}");
    rules.extend([
        alert(AlertSpec {
            name: "UPSOnBattery",
            expr: "homelab:ups_on_battery == 1".into(),
            for_: "30s",
            severity: "warning",
            summary: "UPS {{ $labels.ups }} is on battery",
            description: "Mains power is lost at UPS {{ $labels.ups }} (read by {{ $labels.node }}).",
        }),
        alert(AlertSpec {
            name: "NodeOnUPSBattery",
            expr: "homelab:node_on_ups_battery == 1".into(),
            for_: &s.ups_on_battery_before_inhibit.to_string(),
            severity: "info",
            summary: "{{ $labels.node }} runs on the battery of UPS {{ $labels.ups }}",
            description: &format!("UPS {{{{ $labels.ups }}}} has been on battery for {} or more; {{{{ $labels.node }}}}, which it powers, may shut down on purpose, so its reachability alerts are silenced.", s.ups_on_battery_before_inhibit),
        }),
        alert(AlertSpec {
            name: "UPSLowBattery",
            expr: format!("nut_ups_status{{status=\"LB\"}} == 1 {known}"),
            for_: "0s",
            severity: "critical",
            summary: "UPS {{ $labels.ups }} battery is low",
            description: "UPS {{ $labels.ups }} reports low battery: the nodes it powers are about to shut down.",
        }),
        alert(AlertSpec {
            name: "UPSRuntimeBelowShutdownBudget",
            expr: format!("homelab:ups_runtime_seconds < on(ups, node) ({budget} + {}) and on(ups, node) homelab:ups_on_battery == 1", margin.secs()),
            for_: "1m",
            severity: "critical",
            summary: "UPS {{ $labels.ups }} cannot carry its nodes through a clean shutdown",
            description: &format!(
                "UPS {{{{ $labels.ups }}}} is on battery with {{{{ $value | humanizeDuration }}}} of runtime left, less than the {} its nodes need to shut down plus {margin}.",
                crate::recovery::queried_duration(budget, &["ups", "node"])
            ),
        }),
        alert(AlertSpec {
            name: "UPSBatteryCannotCoverBudget",
            expr: format!("homelab:ups_runtime_seconds < on(ups, node) ({budget} + {}) and on(ups, node) homelab:ups_on_battery == 0 and on(ups, node) homelab:ups_charge_ratio >= 0.95", margin.secs()),
            for_: "30m",
            severity: "warning",
            summary: "A full battery of UPS {{ $labels.ups }} no longer covers its shutdown budget",
            description: &format!(
                "UPS {{{{ $labels.ups }}}} is on mains and charged, yet estimates {{{{ $value | humanizeDuration }}}} of runtime, less than the {} its nodes need to shut down plus {margin}: the battery is worn or the load has grown.",
                crate::recovery::queried_duration(budget, &["ups", "node"])
            ),
        }),
        alert(AlertSpec {
            name: "UPSBatteryNeedsReplacement",
            expr: format!("nut_ups_status{{status=\"RB\"}} == 1 {known}"),
            for_: "10m",
            severity: "warning",
            summary: "UPS {{ $labels.ups }} battery needs replacing",
            description: "UPS {{ $labels.ups }} reports that its battery needs replacing.",
        }),
        alert(AlertSpec {
            name: "UPSOverload",
            expr: format!("((nut_ups_status{{status=\"OVER\"}} == 1) or on(ups, node) (nut_load > {})) {known}", s.ups_overload_ratio),
            for_: "5m",
            severity: "warning",
            summary: "UPS {{ $labels.ups }} is overloaded",
            description: "UPS {{ $labels.ups }} is overloaded: it may not carry its nodes on battery.",
        }),
    ]);
    Group { name: "homelab.ups".into(), rules }
}
