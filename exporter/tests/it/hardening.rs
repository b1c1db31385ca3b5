//! Hardening through the real binary: secret files that others can write
//! (or that are no files) stop start-up with status 2, container-style
//! secrets are accepted with one warning, a token or password never shows
//! in the log, `/metrics`, the landing page or `/probe` even when the
//! server refuses it or echoes it back, broken configuration files exit 2
//! naming file and line, and an unusable textfile directory costs only the
//! textfile series.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::{free_port, http_get, parse_exposition, Parsed};

const PVE_SECRET: &str = "9d3b7c2e-hardening-pve-secret-41f0";
const NUT_PASSWORD: &str = "nut-hardening-pw-\"q\\7";

fn token() -> String {
    format!("monitor@pve!hardening={PVE_SECRET}")
}

/// Writes `content` to `dir/name` with permission bits `mode`.
fn secret_file(dir: &Path, name: &str, content: &str, mode: u32) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, content).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
    path
}

/// Runs the binary with `args` to its exit (at most 10 s, else it is
/// killed and the test fails): (exit status, stderr).
fn run_to_exit(args: &[String]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("stderr");
    let mut child = Command::new(env!("CARGO_BIN_EXE_homelab-exporter"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{args:?} did not exit within 10 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (
        status.code().unwrap_or(-1),
        fs::read_to_string(&log).unwrap(),
    )
}

/// The binary serving on a loopback port, its stderr kept in a file.
struct Logged {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Logged {
    fn start(args: &[String]) -> Logged {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("stderr");
        let port = free_port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_homelab-exporter"))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "exporter exited with {status}: {}",
                    fs::read_to_string(&log).unwrap()
                );
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "exporter did not listen within 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Logged {
            child,
            port,
            log,
            _dir: dir,
        }
    }

    fn get(&self, path: &str) -> (u16, String) {
        let (status, _, body) = http_get(
            self.port,
            path,
            &[("X-Prometheus-Scrape-Timeout-Seconds", "3")],
        );
        (status, String::from_utf8(body).unwrap())
    }

    /// Stops the exporter; returns what it logged.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        fs::read_to_string(&self.log).unwrap()
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn value(p: &Parsed, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    p.series
        .iter()
        .find(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
}

fn proxmox_args(token_file: &Path) -> Vec<String> {
    vec![
        "--collector.disable-defaults".into(),
        "--collector.proxmox".into(),
        "--collector.proxmox.url=https://127.0.0.1:8006".into(),
        format!("--collector.proxmox.token-file={}", token_file.display()),
        "--collector.proxmox.insecure-skip-verify".into(),
    ]
}

fn nut_args(password_file: &Path) -> Vec<String> {
    vec![
        "--collector.disable-defaults".into(),
        "--collector.nut".into(),
        "--collector.nut.target=127.0.0.1:9".into(),
        "--collector.nut.username=monitor".into(),
        format!("--collector.nut.password-file={}", password_file.display()),
    ]
}

/// Group- or world-writable secret files, directories and FIFOs are
/// refused before anything starts: status 2, the flag or configuration
/// key and the file named, never the content. A FIFO must not block.
#[test]
fn secret_files_others_can_write_or_that_are_not_files_stop_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    let token = secret_file(d, "pve-token", &format!("{}\n", token()), 0o666);
    let (code, err) = run_to_exit(&proxmox_args(&token));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--collector.proxmox.token-file")
            && err.contains(&token.display().to_string()),
        "{err}"
    );
    assert!(
        err.contains("writable by its group and others (mode 0666)") && err.contains("chmod go-w"),
        "{err}"
    );
    assert!(!err.contains(PVE_SECRET), "{err}");

    let password = secret_file(d, "nut-password", &format!("{NUT_PASSWORD}\n"), 0o620);
    let (code, err) = run_to_exit(&nut_args(&password));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--collector.nut.password-file")
            && err.contains(&password.display().to_string()),
        "{err}"
    );
    assert!(err.contains("writable by its group (mode 0620)"), "{err}");
    assert!(!err.contains(NUT_PASSWORD), "{err}");

    // The configuration file's password_file: file, line and key.
    fs::set_permissions(&password, fs::Permissions::from_mode(0o602)).unwrap();
    let config = d.join("homelab.yaml");
    fs::write(
        &config,
        format!("nut:\n  servers:\n    - target: 127.0.0.1:9\n      username: monitor\n      password_file: {}\n", password.display()),
    )
    .unwrap();
    let (code, err) = run_to_exit(&[format!("--config.file={}", config.display())]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("homelab.yaml:5:")
            && err.contains("nut.servers[0].password_file")
            && err.contains("writable by others"),
        "{err}"
    );

    // A missing password file, by flag and in the file.
    let missing = d.join("no-such-password");
    let (code, err) = run_to_exit(&nut_args(&missing));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--collector.nut.password-file")
            && err.contains("no-such-password")
            && err.contains("No such file"),
        "{err}"
    );
    fs::write(&config, format!("nut:\n  servers:\n    - target: 127.0.0.1:9\n      username: monitor\n      password_file: {}\n", missing.display()))
        .unwrap();
    let (code, err) = run_to_exit(&[format!("--config.file={}", config.display())]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("homelab.yaml:5:")
            && err.contains("nut.servers[0].password_file")
            && err.contains("no-such-password"),
        "{err}"
    );

    // Not regular files: a directory, and a FIFO that nobody writes (a
    // blocking open would wait forever; run_to_exit fails after 10 s).
    let (code, err) = run_to_exit(&proxmox_args(d));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is a directory, not a regular file"), "{err}");
    let fifo = d.join("fifo-token");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let (code, err) = run_to_exit(&nut_args(&fifo));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--collector.nut.password-file")
            && err.contains("fifo-token is a FIFO, not a regular file"),
        "{err}"
    );

    // A token file that is not a token: the file is named, its content never.
    let junk = secret_file(d, "junk-token", &format!("{PVE_SECRET}\n"), 0o600);
    let (code, err) = run_to_exit(&proxmox_args(&junk));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--collector.proxmox.token-file")
            && err.contains("junk-token")
            && err.contains("USER@REALM!TOKENID=SECRET"),
        "{err}"
    );
    assert!(!err.contains(PVE_SECRET), "{err}");
}

/// Secrets mounted as Docker (0444) and Kubernetes (a symbolic link to a
/// 0644 file) mount them start fine, with one warning per file that names
/// it and not its content; an owner-only file gives no warning.
#[test]
fn container_style_secret_files_are_accepted_with_one_warning_each() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let docker_secret = secret_file(d, "pve-token", &format!("{}\n", token()), 0o444);
    fs::create_dir(d.join("..2024_06_12")).unwrap();
    secret_file(
        &d.join("..2024_06_12"),
        "nut-password",
        &format!("{NUT_PASSWORD}\n"),
        0o644,
    );
    let k8s_secret = d.join("nut-password");
    std::os::unix::fs::symlink("..2024_06_12/nut-password", &k8s_secret).unwrap();

    let mut args = nut_args(&k8s_secret);
    // The prober reads the NUT settings a second time: still one warning.
    args.push("--collector.nut.probe".into());
    args.extend(proxmox_args(&docker_secret).into_iter().skip(1));
    let exporter = Logged::start(&args);
    let (status, text) = exporter.get("/metrics");
    assert_eq!(status, 200);
    assert!(
        text.contains("node_scrape_collector_success{collector=\"proxmox\"}"),
        "{text}"
    );
    let log = exporter.stop();
    let warnings: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("secret file is readable by every user"))
        .collect();
    assert_eq!(warnings.len(), 2, "{log}");
    for file in [&docker_secret, &k8s_secret] {
        assert_eq!(
            warnings
                .iter()
                .filter(|l| l.contains(&format!("file={}", file.display())))
                .count(),
            1,
            "{file:?}: {log}"
        );
    }
    assert!(
        !log.contains(PVE_SECRET) && !log.contains("nut-hardening-pw"),
        "{log}"
    );

    // check-config says the same, and nothing for an owner-only file.
    let (code, err) = run_to_exit(
        &[
            ["check-config".to_owned()].as_slice(),
            &proxmox_args(&docker_secret),
        ]
        .concat(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("secret file is readable by every user")
            && err.contains(&docker_secret.display().to_string()),
        "{err}"
    );
    let private = secret_file(d, "private-token", &format!("{}\n", token()), 0o600);
    let (code, err) = run_to_exit(
        &[
            ["check-config".to_owned()].as_slice(),
            &proxmox_args(&private),
        ]
        .concat(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("readable by every user"), "{err}");
}

// ----------------------------------------------- servers that refuse or echo

/// A upsd stand-in on 127.0.0.1: `OK` to `USERNAME`, and to `PASSWORD`
/// either `ERR ACCESS-DENIED` or (`echo`) the command line itself, as a
/// broken or hostile server might. Every connection is handled in turn,
/// for at most 60 s.
struct FakeUpsd {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl Drop for FakeUpsd {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

impl FakeUpsd {
    fn start(echo: bool) -> FakeUpsd {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        std::thread::spawn(move || {
            let start = Instant::now();
            while !flag.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(60) {
                let Ok((stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut writer = stream.try_clone().unwrap();
                for line in BufReader::new(stream).lines().take(16) {
                    let Ok(line) = line else { break };
                    let reply = match line.split_whitespace().next() {
                        Some("USERNAME") => "OK".to_owned(),
                        Some("PASSWORD") if echo => line.clone(),
                        Some("PASSWORD") => "ERR ACCESS-DENIED".to_owned(),
                        _ => "ERR UNKNOWN-COMMAND".to_owned(),
                    };
                    if writeln!(writer, "{reply}").is_err() {
                        break;
                    }
                }
            }
        });
        FakeUpsd { port, stop }
    }

    fn target(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// A Proxmox API stand-in over TLS that answers every request `401` and
/// echoes the `Authorization` header it got in its reason phrase and body.
struct EchoingPve {
    port: u16,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for EchoingPve {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl EchoingPve {
    fn start() -> EchoingPve {
        use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let limit = tokio::time::sleep(Duration::from_secs(60));
                tokio::pin!(limit);
                loop {
                    let accepted = tokio::select! {
                        _ = &mut stopped => break,
                        () = &mut limit => break,
                        a = listener.accept() => a,
                    };
                    let Ok((tcp, _)) = accepted else { continue };
                    let acceptor = acceptor.clone();
                    tokio::spawn(async move {
                        let Ok(tls) = acceptor.accept(tcp).await else { return };
                        let mut stream = tokio::io::BufReader::new(tls);
                        for _ in 0..64 {
                            let mut auth = String::new();
                            let mut line = String::new();
                            loop {
                                line.clear();
                                match tokio::time::timeout(Duration::from_secs(5), stream.read_line(&mut line)).await {
                                    Ok(Ok(n)) if n > 0 => {}
                                    _ => return,
                                }
                                if line == "\r\n" {
                                    break;
                                }
                                if let Some((name, v)) = line.split_once(':') {
                                    if name.eq_ignore_ascii_case("authorization") {
                                        auth = v.trim().to_owned();
                                    }
                                }
                            }
                            let body = format!("{{\"data\":null,\"errors\":\"bad token {auth}\"}}");
                            let reply = format!(
                                "HTTP/1.1 401 authentication failure ({auth})\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                                body.len()
                            );
                            if stream.get_mut().write_all(reply.as_bytes()).await.is_err() {
                                return;
                            }
                        }
                    });
                }
            });
        });
        EchoingPve {
            port,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

/// upsd refusing the password, upsd echoing it back, and a Proxmox API
/// refusing the token and echoing it: each target fails and says why, and
/// neither secret shows in the debug log, `/metrics`, the landing page or
/// `/probe`.
#[test]
fn secrets_never_show_even_when_refused_or_echoed_back() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let refusing = FakeUpsd::start(false);
    let echoing = FakeUpsd::start(true);
    let pve = EchoingPve::start();
    let token_file = secret_file(d, "pve-token", &format!("{}\n", token()), 0o600);
    let password = secret_file(d, "nut-password", &format!("{NUT_PASSWORD}\n"), 0o600);
    let config = d.join("homelab.yaml");
    fs::write(
        &config,
        format!(
            "nut:\n  servers:\n    - {{target: \"{}\", username: monitor, password_file: {}}}\n    - {{target: \"{}\", username: monitor, password_file: {}}}\n",
            refusing.target(),
            password.display(),
            echoing.target(),
            password.display()
        ),
    )
    .unwrap();
    let exporter = Logged::start(&[
        "--log.level=debug".into(),
        format!("--config.file={}", config.display()),
        "--collector.disable-defaults".into(),
        "--collector.nut".into(),
        "--collector.nut.probe".into(),
        "--collector.proxmox".into(),
        format!("--collector.proxmox.url=https://127.0.0.1:{}", pve.port),
        format!("--collector.proxmox.token-file={}", token_file.display()),
        "--collector.proxmox.insecure-skip-verify".into(),
    ]);
    let mut pages = Vec::new();
    for _ in 0..2 {
        let (status, metrics) = exporter.get("/metrics");
        assert_eq!(status, 200);
        let p = parse_exposition(&metrics);
        assert_eq!(
            value(
                &p,
                "homelab_exporter_target_up",
                &[("collector", "nut"), ("target", &refusing.target())]
            ),
            Some(0.0),
            "{metrics}"
        );
        assert_eq!(
            value(
                &p,
                "homelab_exporter_target_up",
                &[("collector", "nut"), ("target", &echoing.target())]
            ),
            Some(0.0),
            "{metrics}"
        );
        assert_eq!(
            value(
                &p,
                "homelab_exporter_target_up",
                &[("collector", "proxmox")]
            ),
            Some(0.0),
            "{metrics}"
        );
        pages.push(("metrics", metrics));
    }
    for target in [refusing.target(), echoing.target()] {
        let (status, probe) = exporter.get(&format!("/probe?module=nut&target={target}"));
        assert_eq!(status, 200, "{probe}");
        pages.push(("probe", probe));
    }
    let (status, landing) = exporter.get("/");
    assert_eq!(status, 200);
    // The failures are there and say why...
    assert!(
        landing.contains("PASSWORD") && landing.contains("ACCESS-DENIED"),
        "{landing}"
    );
    assert!(
        landing.contains("HTTP 401 authentication failure"),
        "{landing}"
    );
    // The echoes are kept, with the secret cut out of both.
    assert_eq!(landing.matches("&lt;redacted&gt;").count(), 2, "{landing}");
    pages.push(("landing page", landing));
    let log = exporter.stop();
    assert!(
        log.contains("ACCESS-DENIED") && log.contains("401"),
        "{log}"
    );
    pages.push(("log", log));
    // ...and no secret: neither whole nor the part a reply could carry.
    for (what, text) in &pages {
        for secret in [PVE_SECRET, "nut-hardening-pw"] {
            assert!(!text.contains(secret), "{secret} in the {what}:\n{text}");
        }
    }
}

// ------------------------------------------------------ broken configuration

/// More ways a configuration file can be broken than engine.rs checks:
/// each is status 2 with the file (and the line, where there is one)
/// named, and nothing started.
#[test]
fn broken_configuration_files_exit_2_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cases: &[(&str, &[u8], &str)] = &[
        (
            "syntax.yaml",
            b"flags:\n  web.listen-address: \":0\"\n nut: [\n",
            "syntax.yaml:3:",
        ),
        (
            "type.yaml",
            b"flags: {}\nnut: \"a string\"\n",
            "type.yaml:2: nut: invalid type",
        ),
        (
            "servers.yaml",
            b"nut:\n  servers:\n    - target: 127.0.0.1\n      tls: sometimes\n",
            "servers.yaml:4:",
        ),
        (
            "binary.yaml",
            b"\xff\xfe\x00flags: {}\n",
            "binary.yaml: stream did not contain valid UTF-8",
        ),
    ];
    for (name, content, expected) in cases {
        let path = d.join(name);
        fs::write(&path, content).unwrap();
        let (code, err) = run_to_exit(&[
            format!("--config.file={}", path.display()),
            "--web.listen-address=127.0.0.1:0".into(),
        ]);
        assert_eq!(code, 2, "{name}: {err}");
        assert!(
            err.contains(expected),
            "{name}: expected {expected:?} in {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    let (code, err) = run_to_exit(&[format!("--config.file={}", d.display())]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&d.display().to_string()) && err.contains("Is a directory"),
        "{err}"
    );
}

// ------------------------------------------------------------------ textfile

/// A textfile "directory" that is a regular file, and a directory holding
/// a FIFO and a directory named like textfiles. node_exporter reports
/// such errors with `node_textfile_scrape_error 1` and keeps the collector
/// successful; so do we, with the readable file's metrics, the other
/// collectors intact and every scrape fast: more scrapes than there are
/// blocking threads (4), so a FIFO that held one would show. (The tests
/// run as root, for whom mode 000 does not make a directory unreadable;
/// hence a regular file in place of the directory.)
#[test]
fn unusable_textfile_directories_cost_only_the_textfile_series() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let not_a_dir = d.join("textfile-dir-that-is-a-file");
    fs::write(&not_a_dir, "").unwrap();
    let textfiles = d.join("textfiles");
    fs::create_dir_all(textfiles.join("subdir.prom")).unwrap();
    fs::write(textfiles.join("backup.prom"), "# TYPE backup_last_success_timestamp_seconds gauge\nbackup_last_success_timestamp_seconds 1.7e9\n").unwrap();
    let made = Command::new("mkfifo")
        .arg(textfiles.join("pipe.prom"))
        .status()
        .unwrap();
    assert!(made.success());
    let exporter = Logged::start(&[
        "--collector.disable-defaults".into(),
        "--collector.textfile".into(),
        "--collector.loadavg".into(),
        format!(
            "--collector.textfile.directory={},{}",
            not_a_dir.display(),
            textfiles.display()
        ),
    ]);
    for i in 0..6 {
        let start = Instant::now();
        let (status, text) = exporter.get("/metrics");
        let took = start.elapsed();
        assert_eq!(status, 200);
        assert!(took < Duration::from_secs(1), "scrape {i} took {took:?}");
        let p = parse_exposition(&text);
        assert_eq!(
            value(&p, "node_textfile_scrape_error", &[]),
            Some(1.0),
            "{text}"
        );
        assert_eq!(
            value(
                &p,
                "node_scrape_collector_success",
                &[("collector", "textfile")]
            ),
            Some(1.0),
            "{text}"
        );
        assert_eq!(
            value(
                &p,
                "node_scrape_collector_success",
                &[("collector", "loadavg")]
            ),
            Some(1.0),
            "{text}"
        );
        assert_eq!(
            value(&p, "backup_last_success_timestamp_seconds", &[]),
            Some(1.7e9),
            "{text}"
        );
        assert!(value(&p, "node_load1", &[]).is_some(), "{text}");
    }
    let log = exporter.stop();
    for named in [
        format!("directory={}", not_a_dir.display()),
        format!(
            "file={} err=\"not a regular file\"",
            textfiles.join("pipe.prom").display()
        ),
        format!(
            "file={} err=\"not a regular file\"",
            textfiles.join("subdir.prom").display()
        ),
    ] {
        assert!(log.contains(&named), "{named:?} not in the log:\n{log}");
    }
    assert!(!log.contains("deadline exceeded"), "{log}");
}
