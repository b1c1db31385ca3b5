//! Docker Engine API answers as the collector decodes them: the input's
//! NUL-separated parts are the body of `GET /containers/json` and then one
//! `GET /containers/{id}/json` body per listed container. They are decoded
//! with the collector's own functions, their timestamps parsed, and the
//! containers they describe must encode to valid exposition text.

#![no_main]

use std::borrow::Cow;

use homelab_exporter::docker::api::{self, Inspect, ListEntry};
use homelab_exporter::docker::emit::{self, Container};
use homelab_exporter::metrics::Snapshot;
use homelab_fuzz::{check_exposition, parts, text};
use libfuzzer_sys::fuzz_target;

/// Containers per input, at most.
const MAX: usize = 16;

/// A container as the collector builds it from its list entry and inspect
/// answer (labels kept: the Compose ones and one allow-listed label).
fn container(entry: &ListEntry, inspect: Option<Inspect>) -> Container {
    let i = inspect.unwrap_or_default();
    let label = |key: &str| {
        entry
            .labels
            .as_ref()
            .and_then(|l| l.get(key))
            .cloned()
            .unwrap_or_default()
    };
    let kept = "org.opencontainers.image.version";
    let labels = entry
        .labels
        .as_ref()
        .and_then(|l| l.get(kept))
        .map(|v| vec![(Cow::Owned(emit::label_name(kept)), v.clone())])
        .unwrap_or_default();
    Container {
        id: entry.id.clone(),
        name: entry.name().to_owned(),
        image: i
            .config
            .map(|c| c.image)
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| entry.image.clone()),
        state: if i.state.status.is_empty() {
            entry.state.clone()
        } else {
            i.state.status
        },
        health: i
            .state
            .health
            .map(|h| h.status)
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "none".to_owned()),
        restart_count: i.restart_count,
        exit_code: i.state.exit_code,
        created: api::parse_timestamp(&i.created),
        started: api::parse_timestamp(&i.state.started_at),
        finished: api::parse_timestamp(&i.state.finished_at),
        compose_project: label(emit::COMPOSE_PROJECT),
        compose_service: label(emit::COMPOSE_SERVICE),
        labels,
        measured: None,
    }
}

fuzz_target!(|data: &[u8]| {
    let bodies = parts(data, MAX + 1);
    for body in &bodies {
        // Every body through both decoders and the timestamp parser.
        let _ = api::parse_list(body);
        let _ = api::parse_inspect(body);
        if let Some(t) = api::parse_timestamp(&text(body)) {
            assert!(t.is_finite());
        }
    }
    let Ok(list) = api::parse_list(bodies[0]) else {
        return;
    };
    let mut containers = Vec::new();
    for (n, entry) in list.iter().take(MAX).enumerate() {
        let _ = entry.health_hint();
        let inspect = bodies.get(n + 1).and_then(|b| api::parse_inspect(b).ok());
        containers.push(container(entry, inspect));
    }
    let mut out = Snapshot::new();
    emit::containers(&mut out, &containers, 1_700_000_000.0);
    emit::target_up(&mut out, api::DEFAULT_HOST, true);
    check_exposition(vec![out]);
});
