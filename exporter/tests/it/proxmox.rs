//! The `proxmox` collector against a fake Proxmox VE API: an HTTPS server
//! on 127.0.0.1 with a certificate signed by its own root CA (as Proxmox
//! ships), replaying `tests/fixtures/proxmox/` for a three-node cluster with
//! one node offline. It checks the API token (401 for a wrong one, 403 for a
//! token lacking the storage privilege) and can answer one node slowly or
//! drop its connections. prometheus-pve-exporter, when installed in
//! `target/pve-venv` (scripts/test.sh does), scrapes the same server and
//! every series both emit must agree.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read as _;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::common::{free_port, http_get, parse_exposition, promtool_check_metrics, Exporter, Series};

const TOKEN: &str = "monitor@pve!homelab=5f0c7a1e-3b9d-4c62-9e8a-0d1f2a3b4c5d";
const LIMITED_TOKEN: &str = "limited@pve!homelab=0a9b8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d";
const SECRET: &str = "5f0c7a1e-3b9d-4c62-9e8a-0d1f2a3b4c5d";
/// 2024-06-12 00:00:00 UTC, the fixtures' time base.
const T: f64 = 1718150400.0;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/proxmox")
}

/// What the fake server does besides replaying fixtures.
#[derive(Clone, Default)]
struct Behaviour {
    /// Requests whose path starts with this answer only after the delay.
    slow: Option<(&'static str, Duration)>,
    /// Requests whose path starts with this get their connection dropped.
    drop: Option<&'static str>,
    /// Requests whose path starts with this get a truncated JSON body.
    garble: Option<&'static str>,
}

/// A CA and a server certificate it signed for 127.0.0.1.
struct Pki {
    ca_pem: String,
    cert_der: Vec<u8>,
    key_der: Vec<u8>,
}

fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.distinguished_name.push(DnType::CommonName, "Proxmox Virtual Environment");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned(), "pve1.homelab.lan".to_owned()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, "pve1.homelab.lan");
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    Pki { ca_pem: ca.pem(), cert_der: cert.der().to_vec(), key_der: key.serialize_der() }
}

/// The fake Proxmox VE API, stopped when dropped.
struct FakePve {
    port: u16,
    pki: Pki,
    /// Every request's path and query, in order.
    requests: Arc<Mutex<Vec<String>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for FakePve {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn reply(status: u16, reason: &'static str, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(Bytes::from(body)));
    *res.status_mut() = StatusCode::from_u16(status).unwrap();
    res.headers_mut().insert("content-type", "application/json;charset=UTF-8".parse().unwrap());
    res.extensions_mut().insert(hyper::ext::ReasonPhrase::from_static(reason.as_bytes()));
    res
}

/// Answers one request as pveproxy would, from the fixtures.
async fn answer(req: Request<hyper::body::Incoming>, root: Arc<PathBuf>, behaviour: Behaviour, log: Arc<Mutex<Vec<String>>>) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let uri = req.uri().clone();
    log.lock().unwrap().push(uri.to_string());
    let Some(path) = uri.path().strip_prefix("/api2/json") else {
        return Ok(reply(404, "Not Found", b"{\"data\":null}".to_vec()));
    };
    let query = uri.query().unwrap_or("");
    let auth = req.headers().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
    let limited = auth == format!("PVEAPIToken={LIMITED_TOKEN}");
    if auth != format!("PVEAPIToken={TOKEN}") && !limited {
        return Ok(reply(401, "authentication failure", b"{\"data\":null}".to_vec()));
    }
    if limited && path.contains("/storage/") {
        return Ok(reply(403, "Permission check failed (/storage/pbs, Datastore.Audit|Datastore.AllocateSpace)", b"{\"data\":null}".to_vec()));
    }
    if let Some((prefix, delay)) = behaviour.slow {
        if path.starts_with(prefix) {
            tokio::time::sleep(delay).await;
        }
    }
    if behaviour.drop.is_some_and(|prefix| path.starts_with(prefix)) {
        // An error from the service makes hyper close the connection unanswered.
        return Err(std::io::Error::other("dropped"));
    }
    if behaviour.garble.is_some_and(|prefix| path.starts_with(prefix)) {
        return Ok(reply(200, "OK", b"{\"data\":[{\"vmid\":10".to_vec()));
    }
    if path.ends_with("/content") && !query.split('&').any(|p| p == "content=backup") {
        return Ok(reply(400, "Parameter verification failed", b"{\"data\":null}".to_vec()));
    }
    if path.ends_with("/tasks") && !query.split('&').any(|p| p == "typefilter=vzdump") {
        return Ok(reply(400, "unexpected task listing", b"{\"data\":null}".to_vec()));
    }
    let file = root.join(format!("{}.json", path.trim_start_matches('/').replace(':', "_")));
    match std::fs::read(&file) {
        Ok(body) if !path.contains("..") => {
            // `/cluster/resources?type=vm|storage|node` filters, as the real API does.
            let kind = query.split('&').find_map(|p| p.strip_prefix("type="));
            if let (true, Some(kind)) = (path == "/cluster/resources", kind) {
                let mut v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                if let Some(list) = v["data"].as_array_mut() {
                    list.retain(|r| match (kind, r["type"].as_str()) {
                        ("vm", Some(t)) => t == "qemu" || t == "lxc",
                        (k, Some(t)) => k == t,
                        _ => false,
                    });
                }
                return Ok(reply(200, "OK", serde_json::to_vec(&v).unwrap()));
            }
            Ok(reply(200, "OK", body))
        }
        _ => Ok(reply(501, "Method not implemented", b"{\"data\":null}".to_vec())),
    }
}

impl FakePve {
    /// Serves the three-node cluster's fixtures.
    fn start(behaviour: Behaviour) -> FakePve {
        Self::start_at(fixtures(), behaviour)
    }

    /// Serves the fixtures under `root`.
    fn start_at(root: PathBuf, behaviour: Behaviour) -> FakePve {
        let root = Arc::new(root);
        let pki = pki();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(pki.cert_der.clone())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.key_der.clone())),
            )
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&requests);
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let accepted = tokio::select! {
                        _ = &mut stopped => break,
                        a = listener.accept() => a,
                    };
                    let Ok((tcp, _)) = accepted else { continue };
                    let acceptor = acceptor.clone();
                    let behaviour = behaviour.clone();
                    let log = Arc::clone(&log);
                    let root = Arc::clone(&root);
                    tokio::spawn(async move {
                        let Ok(tls) = acceptor.accept(tcp).await else { return };
                        let service = service_fn(move |req| answer(req, Arc::clone(&root), behaviour.clone(), Arc::clone(&log)));
                        let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tls), service).await;
                    });
                }
            });
        });
        FakePve { port, pki, requests, stop: Some(stop), thread: Some(thread) }
    }

    fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    fn fingerprint(&self) -> String {
        homelab_exporter::proxmox::client::hex_colon(&homelab_exporter::proxmox::client::sha256_fingerprint(&self.pki.cert_der))
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// A token file in a fresh directory.
fn token_file(token: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pve-token");
    std::fs::write(&path, format!("{token}\n")).unwrap();
    (dir, path)
}

fn exporter_args(fake: &FakePve, token: &Path, trust: &str) -> Vec<String> {
    vec![
        "--collector.disable-defaults".into(),
        "--collector.proxmox".into(),
        format!("--collector.proxmox.url={}", fake.url()),
        format!("--collector.proxmox.token-file={}", token.display()),
        trust.to_owned(),
    ]
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn value(series: &[Series], name: &str, pairs: &[(&str, &str)]) -> Option<f64> {
    let want = labels(pairs);
    series.iter().find(|s| s.name == name && s.labels == want).map(|s| s.value)
}

fn has_family(series: &[Series], name: &str) -> bool {
    series.iter().any(|s| s.name == name)
}

/// The `pve_*` lines (HELP, TYPE, samples) of an exposition.
fn pve_lines(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let name = line.strip_prefix("# HELP ").or_else(|| line.strip_prefix("# TYPE ")).unwrap_or(line);
        if name.starts_with("pve_") {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[test]
fn fixtures_give_every_family_with_values_from_the_api() {
    let fake = FakePve::start(Behaviour::default());
    let (_dir, token) = token_file(TOKEN);
    let exporter = Exporter::start(&exporter_args(&fake, &token, &format!("--collector.proxmox.fingerprint={}", fake.fingerprint())));
    let text = exporter.metrics();
    let s = parse_exposition(&text).series;

    assert_eq!(value(&s, "node_scrape_collector_success", &[("collector", "proxmox")]), Some(1.0), "{text}");
    assert_eq!(value(&s, "homelab_exporter_target_up", &[("collector", "proxmox"), ("target", &fake.url())]), Some(1.0));
    assert_eq!(value(&s, "homelab_exporter_proxmox_request_failures", &[("target", &fake.url())]), Some(0.0));
    for node in ["node/pve1", "node/pve2"] {
        assert_eq!(value(&s, "homelab_exporter_proxmox_node_scrape_success", &[("id", node), ("target", &fake.url())]), Some(1.0));
    }
    // pve3 is offline: not asked.
    assert!(value(&s, "homelab_exporter_proxmox_node_scrape_success", &[("id", "node/pve3"), ("target", &fake.url())]).is_none());

    // /cluster/status and /cluster/resources.
    for (id, up) in [
        ("cluster/homelab", 1.0), ("node/pve1", 1.0), ("node/pve3", 0.0), ("qemu/100", 1.0), ("qemu/9000", 0.0),
        ("lxc/201", 0.0), ("qemu/102", 0.0), ("storage/pve1/pbs", 1.0), ("storage/pve3/nas", 0.0),
    ] {
        assert_eq!(value(&s, "pve_up", &[("id", id)]), Some(up), "pve_up {id}");
    }
    assert_eq!(value(&s, "pve_node_info", &[("id", "node/pve1"), ("level", "c"), ("name", "pve1"), ("nodeid", "1")]), Some(1.0));
    assert_eq!(value(&s, "pve_node_info", &[("id", "node/pve3"), ("level", ""), ("name", "pve3"), ("nodeid", "3")]), Some(1.0));
    assert_eq!(value(&s, "pve_cluster_info", &[("id", "cluster/homelab"), ("nodes", "3"), ("quorate", "1"), ("version", "9")]), Some(1.0));
    assert_eq!(value(&s, "pve_version_info", &[("release", "8.2"), ("repoid", "faa83925c9641325"), ("version", "8.2.4")]), Some(1.0));
    assert_eq!(value(&s, "pve_cpu_usage_ratio", &[("id", "qemu/101")]), Some(0.1502));
    assert_eq!(value(&s, "pve_cpu_usage_limit", &[("id", "node/pve2")]), Some(4.0));
    assert_eq!(value(&s, "pve_memory_size_bytes", &[("id", "node/pve2")]), Some(16677330944.0));
    assert_eq!(value(&s, "pve_memory_usage_bytes", &[("id", "lxc/200")]), Some(67108864.0));
    assert_eq!(value(&s, "pve_disk_size_bytes", &[("id", "storage/pve1/nas")]), Some(3298534883328.0));
    assert_eq!(value(&s, "pve_disk_usage_bytes", &[("id", "lxc/200")]), Some(1288490188.0));
    assert_eq!(value(&s, "pve_uptime_seconds", &[("id", "node/pve1")]), Some(1209600.0));
    assert_eq!(value(&s, "pve_storage_shared", &[("id", "storage/pve2/nas")]), Some(1.0));
    assert_eq!(value(&s, "pve_storage_shared", &[("id", "storage/pve2/local")]), Some(0.0));
    assert_eq!(value(&s, "pve_network_receive_bytes_total", &[("id", "qemu/100")]), Some(7412356789.0));
    assert_eq!(value(&s, "pve_network_transmit_bytes_total", &[("id", "qemu/100")]), Some(2312456789.0));
    assert_eq!(value(&s, "pve_disk_read_bytes_total", &[("id", "qemu/101")]), Some(98712345600.0));
    assert_eq!(value(&s, "pve_disk_written_bytes_total", &[("id", "qemu/101")]), Some(123456789012.0));
    assert!(value(&s, "pve_cpu_usage_ratio", &[("id", "qemu/102")]).is_none(), "a guest of an offline node has no figures");
    assert_eq!(
        value(&s, "pve_guest_info", &[("id", "qemu/9000"), ("node", "pve1"), ("name", "debian-12-tpl"), ("type", "qemu"), ("template", "1"), ("tags", "")]),
        Some(1.0)
    );
    assert_eq!(
        value(&s, "pve_guest_info", &[("id", "qemu/100"), ("node", "pve1"), ("name", "web"), ("type", "qemu"), ("template", "0"), ("tags", "prod;web")]),
        Some(1.0)
    );
    assert_eq!(
        value(&s, "pve_storage_info", &[("id", "storage/pve1/local"), ("node", "pve1"), ("storage", "local"), ("plugintype", "dir"), ("content", "backup,iso,vztmpl")]),
        Some(1.0)
    );
    assert_eq!(value(&s, "pve_ha_state", &[("id", "lxc/200"), ("state", "started")]), Some(1.0));
    assert_eq!(value(&s, "pve_ha_state", &[("id", "lxc/201"), ("state", "started")]), Some(0.0));
    assert_eq!(value(&s, "pve_ha_state", &[("id", "node/pve3"), ("state", "unknown")]), Some(1.0));
    assert_eq!(value(&s, "pve_lock_state", &[("id", "qemu/101"), ("state", "backup")]), Some(1.0));
    assert_eq!(value(&s, "pve_lock_state", &[("id", "qemu/100"), ("state", "backup")]), Some(0.0));
    assert_eq!(s.iter().filter(|x| x.name == "pve_lock_state").count(), 6 * 9);
    assert_eq!(value(&s, "pve_not_backed_up_total", &[("id", "cluster/homelab")]), Some(2.0));
    assert_eq!(value(&s, "pve_not_backed_up_info", &[("id", "qemu/102")]), Some(1.0));
    assert!(!has_family(&s, "pve_qdevice_up"), "no QDevice in this cluster");

    // Per-node endpoints, for every online node.
    assert_eq!(value(&s, "pve_onboot_status", &[("id", "qemu/100"), ("node", "pve1"), ("type", "qemu")]), Some(1.0));
    assert_eq!(value(&s, "pve_onboot_status", &[("id", "lxc/201"), ("node", "pve2"), ("type", "lxc")]), Some(0.0));
    assert!(!s.iter().any(|x| x.name == "pve_onboot_status" && x.labels["id"] == "qemu/9000"), "no onboot key, no series");
    assert_eq!(
        value(&s, "pve_replication_info", &[("id", "101-0"), ("type", "local"), ("source", "node/pve1"), ("target", "node/pve2"), ("guest", "qemu/101")]),
        Some(1.0)
    );
    assert_eq!(value(&s, "pve_replication_failed_syncs", &[("id", "200-0")]), Some(3.0));
    assert_eq!(value(&s, "pve_replication_failed_syncs", &[("id", "101-0")]), Some(0.0));
    assert_eq!(value(&s, "pve_replication_duration_seconds", &[("id", "101-0")]), Some(4.512381));
    assert_eq!(value(&s, "pve_replication_last_sync_timestamp_seconds", &[("id", "200-0")]), Some(T + 28800.0));
    assert_eq!(value(&s, "pve_replication_last_try_timestamp_seconds", &[("id", "200-0")]), Some(T + 37800.0));
    assert_eq!(value(&s, "pve_replication_next_sync_timestamp_seconds", &[("id", "101-0")]), Some(T + 36900.0));
    assert_eq!(value(&s, "pve_subscription_info", &[("id", "node/pve1"), ("level", "c")]), Some(1.0));
    assert_eq!(value(&s, "pve_subscription_info", &[("id", "node/pve2"), ("level", "unknown")]), Some(1.0));
    assert_eq!(value(&s, "pve_subscription_status", &[("id", "node/pve1"), ("status", "active")]), Some(1.0));
    assert_eq!(value(&s, "pve_subscription_status", &[("id", "node/pve2"), ("status", "notfound")]), Some(1.0));
    assert_eq!(value(&s, "pve_subscription_status", &[("id", "node/pve2"), ("status", "active")]), Some(0.0));
    // 2025-03-01 00:00 UTC.
    assert_eq!(value(&s, "pve_subscription_next_due_timestamp_seconds", &[("id", "node/pve1")]), Some(1740787200.0));

    // Backup freshness: the newest backup on any storage (local, shared NFS, PBS).
    assert_eq!(value(&s, "pve_backup_last_timestamp_seconds", &[("id", "qemu/100")]), Some(T + 32403.0), "manual backup to local");
    assert_eq!(value(&s, "pve_backup_last_size_bytes", &[("id", "qemu/100")]), Some(1342177280.0));
    assert_eq!(value(&s, "pve_backup_last_timestamp_seconds", &[("id", "qemu/101")]), Some(T - 86400.0 + 3640.0), "last night's failed, the one before is on the NAS");
    assert_eq!(value(&s, "pve_backup_last_timestamp_seconds", &[("id", "lxc/200")]), Some(T + 7202.0));
    assert_eq!(value(&s, "pve_backup_last_size_bytes", &[("id", "lxc/200")]), Some(117964800.0));
    assert_eq!(value(&s, "pve_backup_last_timestamp_seconds", &[("id", "lxc/201")]), Some(T + 7206.0));
    assert!(value(&s, "pve_backup_last_timestamp_seconds", &[("id", "qemu/9000")]).is_none());
    assert!(!s.iter().any(|x| x.labels.get("id").is_some_and(|id| id.ends_with("/150"))), "deleted guest's backup left out");
    // ... and the newest vzdump task per guest.
    assert_eq!(value(&s, "pve_backup_last_task_success", &[("id", "qemu/100")]), Some(1.0));
    assert_eq!(value(&s, "pve_backup_last_task_end_timestamp_seconds", &[("id", "qemu/100")]), Some(T + 32400.0 + 120.0));
    assert_eq!(value(&s, "pve_backup_last_task_success", &[("id", "qemu/101")]), Some(0.0));
    assert_eq!(value(&s, "pve_backup_last_task_end_timestamp_seconds", &[("id", "qemu/101")]), Some(T + 3600.0 + 900.0));
    assert_eq!(value(&s, "pve_backup_last_task_success", &[("id", "lxc/200")]), Some(1.0));
    assert_eq!(value(&s, "pve_backup_last_task_success", &[("id", "lxc/201")]), Some(1.0));

    // Requests: one per guest config, shared storages once, only the task
    // logs needed, and none of them carries the secret.
    let reqs = fake.requests();
    assert!(reqs.iter().all(|r| !r.contains(SECRET)), "{reqs:?}");
    assert_eq!(reqs.iter().filter(|r| r.contains("/storage/nas/content")).count(), 1, "{reqs:?}");
    assert!(reqs.iter().any(|r| r.contains("/nodes/pve1/tasks/UPID:pve1:0001F00A")), "{reqs:?}");
    assert!(reqs.iter().any(|r| r.contains("/nodes/pve2/tasks/UPID:pve2:0000C0D1")), "{reqs:?}");
    assert!(!reqs.iter().any(|r| r.contains("UPID:pve1:0001E00B")), "an older, superseded task log was fetched: {reqs:?}");
    assert!(!reqs.iter().any(|r| r.contains("/nodes/pve3")), "{reqs:?}");
    // A second scrape reads no task log again: a finished task's log is kept.
    let before = fake.requests().len();
    let again = exporter.metrics();
    let later: Vec<String> = fake.requests()[before..].to_vec();
    assert!(!later.iter().any(|r| r.contains("/log")), "{later:?}");
    assert_eq!(pve_lines(&again), pve_lines(&text));

    // The OpenMetrics form uses no family name twice, but for the three
    // deprecated gauges of prometheus-pve-exporter whose names are their
    // counters' family names: it writes both families, and Prometheus
    // ingests both (Prometheus 2.42 here, scraping its output), so the
    // dashboards that read the gauges work on either format.
    let (status, _, body) = exporter.get("/metrics", &[("Accept", "application/openmetrics-text;version=1.0.0")]);
    assert_eq!(status, 200);
    let om = String::from_utf8(body).unwrap();
    let mut families = BTreeSet::new();
    let mut twice = BTreeSet::new();
    for line in om.lines().filter(|l| l.starts_with("# TYPE ")) {
        let name = line.split_whitespace().nth(2).unwrap().to_owned();
        if !families.insert(name.clone()) {
            twice.insert(name);
        }
    }
    let expected: BTreeSet<String> = ["pve_disk_read_bytes", "pve_network_receive_bytes", "pve_network_transmit_bytes"].iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(twice, expected, "families declared twice in OpenMetrics");
    for gauge in ["pve_network_receive_bytes{", "pve_network_transmit_bytes{", "pve_disk_read_bytes{", "pve_disk_write_bytes{"] {
        assert!(om.lines().any(|l| l.starts_with(gauge)) && text.lines().any(|l| l.starts_with(gauge)), "{gauge} missing from a format");
    }

    // promtool parses it; its one lint is a prometheus-pve-exporter name
    // (a gauge ending in _total), kept for the dashboards that query it.
    let (ok, report) = promtool_check_metrics(&text);
    for line in report.lines().filter(|l| !l.trim().is_empty()) {
        assert!(line.starts_with("pve_not_backed_up_total "), "promtool finding: {line}\n{report}");
    }
    assert!(ok || !report.trim().is_empty(), "promtool failed: {report}");

    // Golden: the whole pve_* output on these fixtures.
    let golden = fixtures().join("expected.prom");
    let got = pve_lines(&text);
    if std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1") {
        std::fs::write(&golden, &got).unwrap();
    }
    let want = std::fs::read_to_string(&golden).unwrap_or_default();
    assert!(got == want, "pve_* output differs from {}; rerun with UPDATE_GOLDEN=1 after checking", golden.display());
}

#[test]
fn every_pve_name_the_generated_rules_and_dashboards_query_is_exported() {
    let names = crate::common::rule_metrics("pve_");
    assert!(!names.is_empty(), "the example rules and dashboards query no pve_* name");
    let fake = FakePve::start(Behaviour::default());
    let (_dir, token) = token_file(TOKEN);
    let exporter = Exporter::start(&exporter_args(&fake, &token, &format!("--collector.proxmox.fingerprint={}", fake.fingerprint())));
    let s = parse_exposition(&exporter.metrics()).series;
    for name in &names {
        assert!(has_family(&s, name), "{name} is queried by the generated rules or dashboards but not exported");
    }
}

#[test]
fn certificate_trust_by_ca_file_and_fingerprint_pinning() {
    let fake = FakePve::start(Behaviour::default());
    let (dir, token) = token_file(TOKEN);
    let ca = dir.path().join("pve-root-ca.pem");
    std::fs::write(&ca, &fake.pki.ca_pem).unwrap();
    let up = |trust: String| {
        let exporter = Exporter::start(&exporter_args(&fake, &token, &trust));
        let text = exporter.metrics();
        let s = parse_exposition(&text).series;
        (value(&s, "homelab_exporter_target_up", &[("collector", "proxmox"), ("target", &fake.url())]), has_family(&s, "pve_up"), text)
    };
    let (target_up, pve, text) = up(format!("--collector.proxmox.ca-file={}", ca.display()));
    assert_eq!((target_up, pve), (Some(1.0), true), "{text}");
    let (target_up, pve, text) = up(format!("--collector.proxmox.fingerprint={}", fake.fingerprint()));
    assert_eq!((target_up, pve), (Some(1.0), true), "{text}");
    let lower = fake.fingerprint().replace(':', "").to_lowercase();
    let (target_up, pve, _) = up(format!("--collector.proxmox.fingerprint={lower}"));
    assert_eq!((target_up, pve), (Some(1.0), true));

    // Another certificate's fingerprint, and another CA: refused.
    let other = pki();
    let wrong = homelab_exporter::proxmox::client::hex_colon(&homelab_exporter::proxmox::client::sha256_fingerprint(&other.cert_der));
    let (target_up, pve, text) = up(format!("--collector.proxmox.fingerprint={wrong}"));
    assert_eq!((target_up, pve), (Some(0.0), false), "{text}");
    let other_ca = dir.path().join("other-ca.pem");
    std::fs::write(&other_ca, &other.ca_pem).unwrap();
    let (target_up, pve, text) = up(format!("--collector.proxmox.ca-file={}", other_ca.display()));
    assert_eq!((target_up, pve), (Some(0.0), false), "{text}");
    assert!(!fake.requests().is_empty());

    let (target_up, pve, _) = up("--collector.proxmox.insecure-skip-verify".to_owned());
    assert_eq!((target_up, pve), (Some(1.0), true));
}

#[test]
fn wrong_token_gets_401_and_a_missing_privilege_costs_only_its_part() {
    let fake = FakePve::start(Behaviour::default());
    let trust = format!("--collector.proxmox.fingerprint={}", fake.fingerprint());

    let (_d1, wrong) = token_file("monitor@pve!homelab=00000000-0000-0000-0000-000000000000");
    let exporter = Exporter::start(&exporter_args(&fake, &wrong, &trust));
    let text = exporter.metrics();
    let s = parse_exposition(&text).series;
    assert_eq!(value(&s, "homelab_exporter_target_up", &[("collector", "proxmox"), ("target", &fake.url())]), Some(0.0), "{text}");
    assert_eq!(value(&s, "node_scrape_collector_success", &[("collector", "proxmox")]), Some(0.0));
    assert!(!has_family(&s, "pve_up"));
    let (_, _, page) = exporter.get("/", &[]);
    let page = String::from_utf8(page).unwrap();
    assert!(page.contains("HTTP 401 authentication failure"), "{page}");
    drop(exporter);

    // A token without Datastore.Audit: 403 on storage content. Backup ages
    // are missing and the nodes say so; everything else is there.
    let (_d2, limited) = token_file(LIMITED_TOKEN);
    let exporter = Exporter::start(&exporter_args(&fake, &limited, &trust));
    let text = exporter.metrics();
    let s = parse_exposition(&text).series;
    assert_eq!(value(&s, "homelab_exporter_target_up", &[("collector", "proxmox"), ("target", &fake.url())]), Some(1.0), "{text}");
    assert_eq!(value(&s, "homelab_exporter_proxmox_node_scrape_success", &[("id", "node/pve1"), ("target", &fake.url())]), Some(0.0));
    assert_eq!(value(&s, "homelab_exporter_proxmox_request_failures", &[("target", &fake.url())]), Some(4.0));
    assert!(!has_family(&s, "pve_backup_last_timestamp_seconds"), "{text}");
    assert_eq!(value(&s, "pve_backup_last_task_success", &[("id", "qemu/101")]), Some(0.0));
    assert_eq!(value(&s, "pve_onboot_status", &[("id", "lxc/200"), ("node", "pve2"), ("type", "lxc")]), Some(1.0));
    assert_eq!(value(&s, "pve_up", &[("id", "qemu/100")]), Some(1.0));
}

/// Fetches `/metrics` with a scrape timeout; returns the text and how long it took.
fn timed_scrape(exporter: &Exporter, timeout_seconds: &str) -> (String, Duration) {
    let start = Instant::now();
    let (status, _, body) = http_get(exporter.port, "/metrics", &[("X-Prometheus-Scrape-Timeout-Seconds", timeout_seconds)]);
    assert_eq!(status, 200);
    (String::from_utf8(body).unwrap(), start.elapsed())
}

fn assert_pve1_intact(s: &[Series], url: &str) {
    assert_eq!(value(s, "homelab_exporter_target_up", &[("collector", "proxmox"), ("target", url)]), Some(1.0));
    assert_eq!(value(s, "homelab_exporter_proxmox_node_scrape_success", &[("id", "node/pve1"), ("target", url)]), Some(1.0));
    assert_eq!(value(s, "homelab_exporter_proxmox_node_scrape_success", &[("id", "node/pve2"), ("target", url)]), Some(0.0));
    assert_eq!(value(s, "node_scrape_collector_success", &[("collector", "proxmox")]), Some(0.0));
    // Cluster-wide figures and pve1's own are all there.
    assert_eq!(value(s, "pve_up", &[("id", "lxc/200")]), Some(1.0));
    assert_eq!(value(s, "pve_onboot_status", &[("id", "qemu/100"), ("node", "pve1"), ("type", "qemu")]), Some(1.0));
    assert_eq!(value(s, "pve_subscription_status", &[("id", "node/pve1"), ("status", "active")]), Some(1.0));
    assert_eq!(value(s, "pve_backup_last_timestamp_seconds", &[("id", "lxc/200")]), Some(T + 7202.0), "pve2's guests' backups on shared storage, read through pve1");
    assert_eq!(value(s, "pve_backup_last_task_success", &[("id", "qemu/101")]), Some(0.0));
    // pve2's own answers are missing.
    assert!(value(s, "pve_onboot_status", &[("id", "lxc/200"), ("node", "pve2"), ("type", "lxc")]).is_none());
    assert!(value(s, "pve_subscription_status", &[("id", "node/pve2"), ("status", "notfound")]).is_none());
    assert!(value(s, "pve_replication_failed_syncs", &[("id", "200-0")]).is_none());
}

#[test]
fn slow_node_is_cut_at_the_deadline_with_the_other_nodes_intact() {
    let fake = FakePve::start(Behaviour { slow: Some(("/nodes/pve2/", Duration::from_secs(30))), ..Default::default() });
    let (_dir, token) = token_file(TOKEN);
    let exporter = Exporter::start(&exporter_args(&fake, &token, &format!("--collector.proxmox.fingerprint={}", fake.fingerprint())));
    let (text, took) = timed_scrape(&exporter, "3");
    assert!(took < Duration::from_millis(3000), "scrape took {took:?}");
    assert!(took > Duration::from_millis(2000), "did not wait for the slow node: {took:?}");
    let s = parse_exposition(&text).series;
    assert_pve1_intact(&s, &fake.url());
    // The next scrape is not held up by the previous one's connections.
    let (_, took) = timed_scrape(&exporter, "3");
    assert!(took < Duration::from_millis(3000), "second scrape took {took:?}");
}

#[test]
fn dropped_connections_cost_only_that_node() {
    let fake = FakePve::start(Behaviour { drop: Some("/nodes/pve2/"), ..Default::default() });
    let (_dir, token) = token_file(TOKEN);
    let exporter = Exporter::start(&exporter_args(&fake, &token, &format!("--collector.proxmox.fingerprint={}", fake.fingerprint())));
    let (text, took) = timed_scrape(&exporter, "10");
    assert!(took < Duration::from_secs(3), "a dropped connection is a fast failure: {took:?}");
    let s = parse_exposition(&text).series;
    assert_pve1_intact(&s, &fake.url());
}

#[test]
fn garbled_answers_cost_only_that_node_and_are_named() {
    let fake = FakePve::start(Behaviour { garble: Some("/nodes/pve2/"), ..Default::default() });
    let (_dir, token) = token_file(TOKEN);
    let exporter = Exporter::start(&exporter_args(&fake, &token, &format!("--collector.proxmox.fingerprint={}", fake.fingerprint())));
    let (text, _) = timed_scrape(&exporter, "10");
    let s = parse_exposition(&text).series;
    assert_pve1_intact(&s, &fake.url());
    let (_, _, page) = exporter.get("/", &[]);
    let page = String::from_utf8(page).unwrap();
    assert!(page.contains("/nodes/pve2/") && page.contains("unexpected response"), "{page}");
}

#[test]
fn bad_settings_stop_start_up_naming_the_flag() {
    let (dir, token) = token_file(TOKEN);
    let run = |args: &[String]| {
        let out = Command::new(env!("CARGO_BIN_EXE_homelab-exporter")).arg("check-config").args(args).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).to_string())
    };
    let base = |extra: &str| {
        vec![
            "--collector.proxmox.url=https://127.0.0.1:8006".to_owned(),
            format!("--collector.proxmox.token-file={}", token.display()),
            extra.to_owned(),
        ]
    };
    let (code, err) = run(&base("--collector.proxmox.fingerprint=AB:CD"));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--collector.proxmox.fingerprint"), "{err}");
    let (code, err) = run(&[
        "--collector.proxmox.url=https://127.0.0.1:8006".to_owned(),
        format!("--collector.proxmox.token-file={}", dir.path().join("missing").display()),
        "--collector.proxmox.insecure-skip-verify".to_owned(),
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--collector.proxmox.token-file") && err.contains("missing"), "{err}");
    // A configuration file endpoint: file, line and key.
    let cfg = dir.path().join("homelab.yaml");
    std::fs::write(
        &cfg,
        format!("proxmox:\n  endpoints:\n    - url: https://127.0.0.1:8006\n      token_file: {}\n      fingerprint: \"12:34\"\n", token.display()),
    )
    .unwrap();
    let (code, err) = run(&[format!("--config.file={}", cfg.display())]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("homelab.yaml:5:") && err.contains("proxmox.endpoints[0].fingerprint"), "{err}");
    std::fs::write(&cfg, "proxmox:\n  endpoints:\n    - url: https://127.0.0.1:8006\n      password: x\n").unwrap();
    let (code, err) = run(&[format!("--config.file={}", cfg.display())]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("password"), "{err}");
}

#[test]
fn secret_appears_in_no_output_no_log_and_no_url() {
    let fake = FakePve::start(Behaviour { drop: Some("/nodes/pve2/"), ..Default::default() });
    let (dir, token) = token_file(TOKEN);
    let log = dir.path().join("stderr.log");
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_homelab-exporter"))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--log.level=debug")
        .args(exporter_args(&fake, &token, &format!("--collector.proxmox.fingerprint={}", fake.fingerprint())))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let (_, _, metrics) = http_get(port, "/metrics", &[]);
    let (_, _, page) = http_get(port, "/", &[]);
    let _ = child.kill();
    let _ = child.wait();
    let mut logged = String::new();
    std::fs::File::open(&log).unwrap().read_to_string(&mut logged).unwrap();
    assert!(logged.contains("Proxmox API requests failing"), "{logged}");
    for (what, text) in [("metrics", String::from_utf8_lossy(&metrics).to_string()), ("page", String::from_utf8_lossy(&page).to_string()), ("log", logged)] {
        assert!(!text.contains(SECRET), "secret in {what}");
    }
    assert!(fake.requests().iter().all(|r| !r.contains(SECRET)));
}

#[test]
fn several_endpoints_from_the_config_file_cluster_and_standalone() {
    let cluster = FakePve::start(Behaviour::default());
    let solo = FakePve::start_at(fixtures().join("standalone"), Behaviour::default());
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("solo-root-ca.pem");
    std::fs::write(&ca, &solo.pki.ca_pem).unwrap();
    let (_tdir, token) = token_file(TOKEN);
    let config = dir.path().join("homelab.yaml");
    // The cluster a second time through another name: its series must not repeat.
    std::fs::write(
        &config,
        format!(
            "proxmox:\n  endpoints:\n    - url: {}\n      token_file: {}\n      fingerprint: \"{}\"\n    - url: {}\n      token_env: SOLO_PVE_TOKEN\n      ca_file: {}\n    - url: https://localhost:{}\n      token_file: {}\n      fingerprint: \"{}\"\n",
            cluster.url(), token.display(), cluster.fingerprint(), solo.url(), ca.display(), cluster.port, token.display(), cluster.fingerprint(),
        ),
    )
    .unwrap();
    std::env::set_var("SOLO_PVE_TOKEN", TOKEN);
    let exporter = Exporter::start(&["--collector.disable-defaults".into(), "--collector.proxmox".into(), format!("--config.file={}", config.display())]);
    let text = exporter.metrics();
    let s = parse_exposition(&text).series;
    let localhost = format!("https://localhost:{}", cluster.port);
    for target in [cluster.url(), solo.url(), localhost] {
        assert_eq!(value(&s, "homelab_exporter_target_up", &[("collector", "proxmox"), ("target", &target)]), Some(1.0), "{target}\n{text}");
    }
    assert_eq!(value(&s, "node_scrape_collector_success", &[("collector", "proxmox")]), Some(1.0), "{text}");
    // Both clusters' series, once each.
    assert_eq!(value(&s, "pve_up", &[("id", "qemu/100")]), Some(1.0));
    assert_eq!(value(&s, "pve_up", &[("id", "qemu/300")]), Some(1.0));
    let mut seen = BTreeSet::new();
    for x in s.iter().filter(|x| x.name.starts_with("pve_")) {
        assert!(seen.insert((x.name.clone(), x.labels.clone())), "repeated series {} {:?}", x.name, x.labels);
    }
    // A standalone node: no cluster entry, so prometheus-pve-exporter's
    // "cluster" is the node; no QDevice question.
    assert_eq!(value(&s, "pve_not_backed_up_total", &[("id", "cluster/pve-solo")]), Some(0.0));
    assert_eq!(value(&s, "pve_node_info", &[("id", "node/pve-solo"), ("level", ""), ("name", "pve-solo"), ("nodeid", "0")]), Some(1.0));
    assert!(!s.iter().any(|x| x.name == "pve_cluster_info" && x.labels["id"] == "cluster/pve-solo"));
    assert!(!solo.requests().iter().any(|r| r.contains("qdevice")));
    assert_eq!(value(&s, "pve_onboot_status", &[("id", "qemu/300"), ("node", "pve-solo"), ("type", "qemu")]), Some(1.0));
    assert_eq!(value(&s, "pve_backup_last_timestamp_seconds", &[("id", "qemu/300")]), Some(T + 6928.0));
    // A task that ended with warnings still backed the guest up.
    assert_eq!(value(&s, "pve_backup_last_task_success", &[("id", "qemu/300")]), Some(1.0));
    assert_eq!(value(&s, "pve_version_info", &[("release", "8.1"), ("repoid", "af06ef4b8b6c5f8a"), ("version", "8.1.10")]), Some(1.0));
}

/// prometheus-pve-exporter from `target/pve-venv` (scripts/test.sh installs it).
fn pve_exporter_binary() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("HOMELAB_PVE_EXPORTER") {
        return Some(PathBuf::from(p));
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/pve-venv/bin/pve_exporter");
    p.exists().then_some(p)
}

/// Families both exporters have but where they differ on purpose: none.
const DIFFER_ON_PURPOSE: &[&str] = &[];

#[test]
fn same_series_as_prometheus_pve_exporter() {
    let Some(python) = pve_exporter_binary() else {
        if std::env::var("HOMELAB_REQUIRE_REAL").is_ok_and(|v| v == "1") {
            panic!("prometheus-pve-exporter is not installed in target/pve-venv: run scripts/test.sh");
        }
        eprintln!("skipped: prometheus-pve-exporter not installed (scripts/test.sh installs it in target/pve-venv)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pve.yml");
    let (user, rest) = TOKEN.split_once('!').unwrap();
    let (name, secret) = rest.split_once('=').unwrap();
    std::fs::write(&config, format!("default:\n  user: {user}\n  token_name: {name}\n  token_value: {secret}\n  verify_ssl: false\n")).unwrap();
    let port = free_port();
    let mut child = Command::new(&python)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .env("TZ", "UTC")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("pve_exporter.log")).unwrap())
        .spawn()
        .expect("start pve_exporter");
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(30), "pve_exporter did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    let cluster = compare_with_python(port, FakePve::start(Behaviour::default()), dir.path());
    let standalone = compare_with_python(port, FakePve::start_at(fixtures().join("standalone"), Behaviour::default()), dir.path());
    let _ = child.kill();
    let _ = child.wait();
    assert!(cluster > 300 && standalone > 30, "compared {cluster} and {standalone} series");
}

/// Scrapes `fake` with prometheus-pve-exporter (listening on `port`) and
/// with homelab-exporter; every `pve_*` series of theirs must be ours with
/// the same value, and HELP and TYPE must agree. Returns the number of
/// series compared.
fn compare_with_python(port: u16, fake: FakePve, dir: &Path) -> usize {
    let (status, _, body) = http_get(port, &format!("/pve?target=127.0.0.1:{}&cluster=1&node=1", fake.port), &[]);
    let theirs_text = String::from_utf8(body).unwrap();
    let python_log = std::fs::read_to_string(dir.join("pve_exporter.log")).unwrap_or_default();
    assert_eq!(status, 200, "{theirs_text}\n{python_log}");

    let (_tdir, token) = token_file(TOKEN);
    let exporter = Exporter::start(&exporter_args(&fake, &token, &format!("--collector.proxmox.fingerprint={}", fake.fingerprint())));
    let ours_text = exporter.metrics();
    let index = |text: &str| -> BTreeMap<(String, BTreeMap<String, String>), f64> {
        parse_exposition(text).series.into_iter().filter(|s| s.name.starts_with("pve_")).map(|s| ((s.name, s.labels), s.value)).collect()
    };
    let meta = |text: &str| -> BTreeMap<String, String> {
        text.lines()
            .filter_map(|l| l.strip_prefix("# HELP ").or_else(|| l.strip_prefix("# TYPE ")).map(|r| (l.starts_with("# TYPE"), r)))
            .filter_map(|(is_type, r)| r.split_once(' ').map(|(n, rest)| (format!("{n} {}", if is_type { "TYPE" } else { "HELP" }), rest.to_owned())))
            .collect()
    };
    let theirs = index(&theirs_text);
    let ours = index(&ours_text);
    let mut problems = Vec::new();
    for ((name, labels), v) in &theirs {
        if DIFFER_ON_PURPOSE.contains(&name.as_str()) {
            continue;
        }
        match ours.get(&(name.clone(), labels.clone())) {
            Some(o) if o == v => {}
            Some(o) => problems.push(format!("{name}{labels:?}: theirs {v}, ours {o}")),
            None => problems.push(format!("{name}{labels:?}: only theirs ({v})")),
        }
    }
    let (their_meta, our_meta) = (meta(&theirs_text), meta(&ours_text));
    for (key, text) in &their_meta {
        if let Some(o) = our_meta.get(key) {
            if o != text {
                problems.push(format!("{key}: theirs {text:?}, ours {o:?}"));
            }
        }
    }
    assert!(problems.is_empty(), "{} differences:\n{}", problems.len(), problems.join("\n"));
    let families: BTreeSet<&str> = theirs.keys().map(|(n, _)| n.as_str()).collect();
    eprintln!("compared {} series of {} families with prometheus-pve-exporter: {families:?}", theirs.len(), families.len());
    // What we add: the other online node's per-node series, and backups.
    let extra: BTreeSet<&str> = ours.keys().filter(|k| !theirs.contains_key(*k)).map(|(n, _)| n.as_str()).collect();
    assert!(extra.iter().all(|n| n.starts_with("pve_backup_") || ["pve_onboot_status", "pve_subscription_info", "pve_subscription_status", "pve_replication_info"].contains(n) || n.starts_with("pve_replication_")), "{extra:?}");
    theirs.len()
}
