//! The Docker collector's metric names, help texts and label keys, and the
//! code that turns gathered containers into families. cAdvisor's names,
//! types, help texts and labels (`id`, `name`, `image`,
//! `container_label_*`) for usage, so cAdvisor dashboards work unchanged;
//! `docker_*` families for what cAdvisor lacks (state, health, restarts).

use std::borrow::Cow;

use super::cgroup::Usage;
use super::net::Interface;
use crate::metrics::{Family, Kind, Name, Snapshot};

/// What the collector knows of one container after a scrape.
#[derive(Debug, Clone, Default)]
pub struct Container {
    /// Full id.
    pub id: String,
    /// Name without the leading `/`.
    pub name: String,
    /// Image as given to `docker run` (`Config.Image`).
    pub image: String,
    /// `State.Status`.
    pub state: String,
    /// `starting`, `healthy`, `unhealthy` or `none`.
    pub health: String,
    /// `RestartCount`.
    pub restart_count: u64,
    /// `State.ExitCode`.
    pub exit_code: i64,
    /// `Created`, seconds since the epoch.
    pub created: Option<f64>,
    /// `State.StartedAt`, seconds since the epoch.
    pub started: Option<f64>,
    /// `State.FinishedAt`, seconds since the epoch.
    pub finished: Option<f64>,
    /// Label `com.docker.compose.project`.
    pub compose_project: String,
    /// Label `com.docker.compose.service`.
    pub compose_service: String,
    /// Allow-listed Docker labels as `container_label_<sanitized>` pairs.
    pub labels: Vec<(Name, String)>,
    /// Usage, for containers whose cgroup was found.
    pub measured: Option<Measured>,
}

/// Usage of a container with a cgroup.
#[derive(Debug, Clone, Default)]
pub struct Measured {
    /// The cgroup path below the root, cAdvisor's `id` label (`/docker/<id>`).
    pub cgroup: String,
    /// The cgroup files' values.
    pub usage: Usage,
    /// Device names (`/dev/sda`) of `usage.io`, in the same order.
    pub devices: Vec<String>,
    /// Interfaces of the container's network namespace (cAdvisor's ignored ones left out).
    pub interfaces: Vec<Interface>,
}

/// Docker states, in the Engine API's documented order.
pub const STATES: [&str; 7] = ["created", "restarting", "running", "removing", "paused", "exited", "dead"];
/// Health statuses; `none` for a container without a health check.
pub const HEALTH: [&str; 4] = ["starting", "healthy", "unhealthy", "none"];

/// The Docker label of the Compose project.
pub const COMPOSE_PROJECT: &str = "com.docker.compose.project";
/// The Docker label of the Compose service.
pub const COMPOSE_SERVICE: &str = "com.docker.compose.service";

/// `container_label_<name>` with every character outside `[a-zA-Z0-9_]`
/// replaced by `_`, as cAdvisor names Docker labels.
pub fn label_name(docker_label: &str) -> String {
    let mut out = String::with_capacity(16 + docker_label.len());
    out.push_str("container_label_");
    out.extend(docker_label.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }));
    out
}

const TARGET_UP: &str = "homelab_exporter_target_up";
const TARGET_UP_HELP: &str = "Whether the collector's target answered during this scrape (1) or not (0).";

/// Adds `homelab_exporter_target_up{collector="docker",target}`.
pub fn target_up(out: &mut Snapshot, target: &str, up: bool) {
    out.gauge(TARGET_UP, TARGET_UP_HELP, &[("collector", "docker"), ("target", target)], if up { 1.0 } else { 0.0 });
}

/// cAdvisor's base labels of a measured container: `id`, `name`, `image`
/// and the allow-listed `container_label_*`.
fn base_labels(c: &Container, m: &Measured, extra: usize) -> Vec<(Name, String)> {
    let mut labels = Vec::with_capacity(3 + c.labels.len() + extra);
    labels.push((Cow::Borrowed("id"), m.cgroup.clone()));
    if !c.name.is_empty() {
        labels.push((Cow::Borrowed("name"), c.name.clone()));
    }
    if !c.image.is_empty() {
        labels.push((Cow::Borrowed("image"), c.image.clone()));
    }
    labels.extend(c.labels.iter().cloned());
    labels
}

/// One sample per measured container, with the base labels plus `extra`.
fn per_container<'a>(
    out: &mut Snapshot,
    name: &'static str,
    help: &'static str,
    kind: Kind,
    containers: &'a [Container],
    value: impl Fn(&'a Container, &'a Measured) -> Option<f64>,
) {
    let fam = out.family(name, help, kind);
    for c in containers {
        let Some(m) = &c.measured else { continue };
        if let Some(v) = value(c, m) {
            fam.add_owned(base_labels(c, m, 0), v);
        }
    }
}

fn add_with(fam: &mut Family, mut labels: Vec<(Name, String)>, key: &'static str, value: &str, v: f64) {
    labels.push((Cow::Borrowed(key), value.to_owned()));
    fam.add_owned(labels, v);
}

const NS: f64 = 1e9;

/// Adds every family for `containers`; `now` is the scrape's Unix time.
pub fn containers(out: &mut Snapshot, containers: &[Container], now: f64) {
    cadvisor(out, containers, now);
    docker(out, containers);
}

fn cadvisor(out: &mut Snapshot, cs: &[Container], now: f64) {
    use Kind::{Counter, Gauge};
    let cpu = |m: &Measured| m.usage.cpu;
    let mem = |m: &Measured| m.usage.memory;
    let cfs = |m: &Measured| m.usage.cfs;

    let fam = out.family("container_cpu_usage_seconds_total", "Cumulative cpu time consumed in seconds.", Counter);
    for c in cs {
        let Some(m) = &c.measured else { continue };
        if let Some(cpu) = cpu(m).filter(|cpu| cpu.total_ns > 0) {
            add_with(fam, base_labels(c, m, 1), "cpu", "total", cpu.total_ns as f64 / NS);
        }
    }
    per_container(out, "container_cpu_user_seconds_total", "Cumulative user cpu time consumed in seconds.", Counter, cs, |_, m| {
        cpu(m).map(|c| c.user_ns as f64 / NS)
    });
    per_container(out, "container_cpu_system_seconds_total", "Cumulative system cpu time consumed in seconds.", Counter, cs, |_, m| {
        cpu(m).map(|c| c.system_ns as f64 / NS)
    });
    per_container(out, "container_cpu_cfs_periods_total", "Number of elapsed enforcement period intervals.", Counter, cs, |_, m| {
        cfs(m).map(|c| c.periods as f64)
    });
    per_container(out, "container_cpu_cfs_throttled_periods_total", "Number of throttled period intervals.", Counter, cs, |_, m| {
        cfs(m).map(|c| c.throttled_periods as f64)
    });
    per_container(out, "container_cpu_cfs_throttled_seconds_total", "Total time duration the container has been throttled.", Counter, cs, |_, m| {
        cfs(m).map(|c| c.throttled_ns as f64 / NS)
    });

    per_container(out, "container_memory_usage_bytes", "Current memory usage in bytes, including all memory regardless of when it was accessed", Gauge, cs, |_, m| {
        mem(m).map(|x| x.usage as f64)
    });
    per_container(out, "container_memory_working_set_bytes", "Current working set in bytes.", Gauge, cs, |_, m| mem(m).map(|x| x.working_set as f64));
    per_container(out, "container_memory_rss", "Size of RSS in bytes.", Gauge, cs, |_, m| mem(m).map(|x| x.rss as f64));
    per_container(out, "container_memory_cache", "Number of bytes of page cache memory.", Gauge, cs, |_, m| mem(m).map(|x| x.cache as f64));
    per_container(out, "container_memory_mapped_file", "Size of memory mapped files in bytes.", Gauge, cs, |_, m| mem(m).map(|x| x.mapped_file as f64));
    per_container(out, "container_memory_swap", "Container swap usage in bytes.", Gauge, cs, |_, m| mem(m).map(|x| x.swap as f64));
    per_container(out, "container_spec_memory_limit_bytes", "Memory limit for the container.", Gauge, cs, |_, m| m.usage.memory_limit.map(|l| l as f64));
    per_container(out, "container_oom_events_total", "Count of out of memory events observed for the container", Counter, cs, |_, m| {
        m.usage.oom_kills.map(|n| n as f64)
    });

    type Io = fn(&super::cgroup::DeviceIo) -> u64;
    let io: [(&'static str, &'static str, Io); 4] = [
        ("container_fs_reads_bytes_total", "Cumulative count of bytes read", |d| d.read_bytes),
        ("container_fs_writes_bytes_total", "Cumulative count of bytes written", |d| d.write_bytes),
        ("container_fs_reads_total", "Cumulative count of reads completed", |d| d.reads),
        ("container_fs_writes_total", "Cumulative count of writes completed", |d| d.writes),
    ];
    for (name, help, value) in io {
        let fam = out.family(name, help, Counter);
        for c in cs {
            let Some(m) = &c.measured else { continue };
            for (d, device) in m.usage.io.iter().zip(&m.devices) {
                add_with(fam, base_labels(c, m, 1), "device", device, value(d) as f64);
            }
        }
    }

    type Net = fn(&Interface) -> u64;
    let net: [(&'static str, &'static str, Net); 8] = [
        ("container_network_receive_bytes_total", "Cumulative count of bytes received", |i| i.rx_bytes),
        ("container_network_receive_packets_total", "Cumulative count of packets received", |i| i.rx_packets),
        ("container_network_receive_packets_dropped_total", "Cumulative count of packets dropped while receiving", |i| i.rx_dropped),
        ("container_network_receive_errors_total", "Cumulative count of errors encountered while receiving", |i| i.rx_errors),
        ("container_network_transmit_bytes_total", "Cumulative count of bytes transmitted", |i| i.tx_bytes),
        ("container_network_transmit_packets_total", "Cumulative count of packets transmitted", |i| i.tx_packets),
        ("container_network_transmit_packets_dropped_total", "Cumulative count of packets dropped while transmitting", |i| i.tx_dropped),
        ("container_network_transmit_errors_total", "Cumulative count of errors encountered while transmitting", |i| i.tx_errors),
    ];
    for (name, help, value) in net {
        let fam = out.family(name, help, Counter);
        for c in cs {
            let Some(m) = &c.measured else { continue };
            for iface in &m.interfaces {
                add_with(fam, base_labels(c, m, 1), "interface", &iface.name, value(iface) as f64);
            }
        }
    }

    per_container(out, "container_processes", "Number of processes running inside the container.", Gauge, cs, |_, m| {
        m.usage.procs.as_ref().map(|p| p.len() as f64)
    });
    per_container(out, "container_threads", "Number of threads running inside the container", Gauge, cs, |_, m| m.usage.threads.map(|n| n as f64));
    per_container(out, "container_threads_max", "Maximum number of threads allowed inside the container, infinity if value is zero", Gauge, cs, |_, m| {
        m.usage.threads_max.map(|n| n as f64)
    });
    per_container(out, "container_start_time_seconds", "Start time of the container since unix epoch in seconds.", Gauge, cs, |c, _| c.created);
    let seen = now.floor();
    per_container(out, "container_last_seen", "Last time a container was seen by the exporter", Gauge, cs, |_, _| Some(seen));
}

fn docker(out: &mut Snapshot, cs: &[Container]) {
    let fam = out.family(
        "docker_container_info",
        "Docker container metadata, always 1: name, image (Config.Image) and the Compose project and service labels (GET /containers/{id}/json).",
        Kind::Gauge,
    );
    for c in cs {
        fam.add(
            &[("name", &c.name), ("image", &c.image), ("compose_project", &c.compose_project), ("compose_service", &c.compose_service)],
            1.0,
        );
    }

    let fam = out.family(
        "docker_container_state",
        "Docker container state (State.Status): 1 for the current one of created, restarting, running, removing, paused, exited, dead.",
        Kind::Gauge,
    );
    for c in cs {
        for state in STATES {
            fam.add(&[("name", &c.name), ("state", state)], if c.state == state { 1.0 } else { 0.0 });
        }
        if !STATES.contains(&c.state.as_str()) {
            fam.add(&[("name", &c.name), ("state", &c.state)], 1.0);
        }
    }

    let fam = out.family(
        "docker_container_health_status",
        "Docker health check status (State.Health.Status): 1 for the current one of starting, healthy, unhealthy, none (no health check).",
        Kind::Gauge,
    );
    for c in cs {
        for status in HEALTH {
            fam.add(&[("name", &c.name), ("status", status)], if c.health == status { 1.0 } else { 0.0 });
        }
        if !HEALTH.contains(&c.health.as_str()) {
            fam.add(&[("name", &c.name), ("status", &c.health)], 1.0);
        }
    }

    // Not `_restart_count`: promtool rejects a `_count` suffix outside
    // summaries and histograms.
    let fam = out.family(
        "docker_container_restarts_total",
        "Times the Docker daemon restarted the container under its restart policy (RestartCount of GET /containers/{id}/json).",
        Kind::Counter,
    );
    for c in cs {
        fam.add(&[("name", &c.name)], c.restart_count as f64);
    }

    let fam = out.family(
        "docker_container_exit_code",
        "Exit code of the container's last run (State.ExitCode; 0 while it has not exited).",
        Kind::Gauge,
    );
    for c in cs {
        fam.add(&[("name", &c.name)], c.exit_code as f64);
    }

    let fam = out.family(
        "docker_container_started_time_seconds",
        "When the container last started (State.StartedAt), seconds since the Unix epoch; absent if it never started.",
        Kind::Gauge,
    );
    for c in cs {
        if let Some(t) = c.started {
            fam.add(&[("name", &c.name)], t);
        }
    }
    let fam = out.family(
        "docker_container_finished_time_seconds",
        "When the container last exited (State.FinishedAt), seconds since the Unix epoch; absent if it never exited.",
        Kind::Gauge,
    );
    for c in cs {
        if let Some(t) = c.finished {
            fam.add(&[("name", &c.name)], t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docker::cgroup::{Cpu, DeviceIo, Memory};

    fn find<'a>(s: &'a Snapshot, name: &str) -> Vec<&'a crate::metrics::Sample> {
        s.families.iter().filter(|f| f.name == name).flat_map(|f| &f.samples).collect()
    }

    fn label<'a>(sample: &'a crate::metrics::Sample, key: &str) -> Option<&'a str> {
        sample.labels.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    #[test]
    fn label_names_are_sanitized_like_cadvisor() {
        assert_eq!(label_name("com.docker.compose.project"), "container_label_com_docker_compose_project");
        assert_eq!(label_name("a-b/c_D9"), "container_label_a_b_c_D9");
    }

    #[test]
    fn families_and_labels() {
        let running = Container {
            id: "abc".into(),
            name: "web".into(),
            image: "nginx:1".into(),
            state: "running".into(),
            health: "unhealthy".into(),
            restart_count: 2,
            created: Some(100.0),
            compose_project: "lab".into(),
            labels: vec![(Cow::Owned(label_name(COMPOSE_PROJECT)), "lab".into())],
            measured: Some(Measured {
                cgroup: "/docker/abc".into(),
                usage: Usage {
                    cpu: Some(Cpu { total_ns: 2_500_000_000, user_ns: 2_000_000_000, system_ns: 10_000_000 }),
                    memory: Some(Memory { usage: 1000, working_set: 800, ..Default::default() }),
                    memory_limit: Some(0),
                    io: vec![DeviceIo { major: 8, minor: 0, read_bytes: 4096, ..Default::default() }],
                    procs: Some(vec![1, 2]),
                    ..Default::default()
                },
                devices: vec!["/dev/sda".into()],
                interfaces: vec![Interface { name: "eth0".into(), rx_bytes: 7, ..Default::default() }],
            }),
            ..Default::default()
        };
        let exited = Container { id: "def".into(), name: "job".into(), state: "exited".into(), health: "none".into(), exit_code: 3, ..Default::default() };
        let mut out = Snapshot::new();
        containers(&mut out, &[running, exited], 1234.7);

        let cpu = find(&out, "container_cpu_usage_seconds_total");
        assert_eq!(cpu.len(), 1);
        assert_eq!(cpu[0].value, 2.5);
        assert_eq!(label(cpu[0], "cpu"), Some("total"));
        assert_eq!(label(cpu[0], "id"), Some("/docker/abc"));
        assert_eq!(label(cpu[0], "container_label_com_docker_compose_project"), Some("lab"));
        assert_eq!(find(&out, "container_cpu_cfs_periods_total").len(), 0, "no quota, no CFS series");
        assert_eq!(find(&out, "container_memory_working_set_bytes")[0].value, 800.0);
        assert_eq!(find(&out, "container_spec_memory_limit_bytes")[0].value, 0.0);
        assert_eq!(label(find(&out, "container_fs_reads_bytes_total")[0], "device"), Some("/dev/sda"));
        assert_eq!(label(find(&out, "container_network_receive_bytes_total")[0], "interface"), Some("eth0"));
        assert_eq!(find(&out, "container_processes")[0].value, 2.0);
        assert_eq!(find(&out, "container_last_seen")[0].value, 1234.0);
        assert_eq!(find(&out, "container_start_time_seconds")[0].value, 100.0);

        let states = find(&out, "docker_container_state");
        assert_eq!(states.len(), 14);
        let current: Vec<_> = states.iter().filter(|s| s.value == 1.0).map(|s| (label(s, "name"), label(s, "state"))).collect();
        assert_eq!(current, vec![(Some("web"), Some("running")), (Some("job"), Some("exited"))]);
        let health: Vec<_> = find(&out, "docker_container_health_status").iter().filter(|s| s.value == 1.0).map(|s| label(s, "status")).collect();
        assert_eq!(health, vec![Some("unhealthy"), Some("none")]);
        assert_eq!(find(&out, "docker_container_exit_code")[1].value, 3.0);
        assert_eq!(find(&out, "docker_container_restarts_total")[0].value, 2.0);
        let info = find(&out, "docker_container_info");
        assert_eq!(label(info[0], "compose_project"), Some("lab"));
        assert_eq!(label(info[1], "compose_service"), Some(""));
    }
}
