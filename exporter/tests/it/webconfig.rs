//! `--web.config.file` end to end: the real binary with an exporter-toolkit
//! web configuration, talked to over 127.0.0.1 by a rustls client (and by
//! curl, which speaks TLS through OpenSSL). The cases follow
//! exporter-toolkit's own tests: good and bad files, right and wrong
//! passwords, client certificates required, given, missing or from another
//! CA, TLS versions, extra headers, and reloading.
//!
//! Certificates are made at test time with rcgen. Every exporter started
//! is stopped by its pid when the test ends.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, SupportedProtocolVersion};

use crate::common::Exporter;

/// Keys and certificates in a temporary directory: a server CA and the
/// server's certificate for 127.0.0.1, a client CA with a client
/// certificate, and a client certificate from an unrelated CA.
struct Pki {
    dir: tempfile::TempDir,
}

fn ca(name: &str) -> (rcgen::Certificate, rcgen::KeyPair) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    (params.self_signed(&key).unwrap(), key)
}

fn leaf(names: &[&str], issuer: &(rcgen::Certificate, rcgen::KeyPair)) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, names[0]);
    let cert = params.signed_by(&key, &issuer.0, &issuer.1).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn pki() -> Pki {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    let server_ca = ca("test server CA");
    let (cert, key) = leaf(&["127.0.0.1", "localhost"], &server_ca);
    write("server-ca.pem", &server_ca.0.pem());
    write("server.pem", &cert);
    write("server.key", &key);
    let client_ca = ca("test client CA");
    let (cert, key) = leaf(&["prometheus"], &client_ca);
    write("client-ca.pem", &client_ca.0.pem());
    write("client.pem", &cert);
    write("client.key", &key);
    let stranger_ca = ca("someone else's CA");
    let (cert, key) = leaf(&["prometheus"], &stranger_ca);
    write("stranger.pem", &cert);
    write("stranger.key", &key);
    write(
        "other.key",
        &rcgen::KeyPair::generate().unwrap().serialize_pem(),
    );
    Pki { dir }
}

impl Pki {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes the web configuration file and returns its path.
    fn web_config(&self, text: &str) -> PathBuf {
        let path = self.path("web.yml");
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Starts the exporter (loadavg only) with this web configuration.
    fn start(&self, text: &str) -> Exporter {
        let path = self.web_config(text);
        Exporter::start(&[
            format!("--web.config.file={}", path.display()),
            "--collector.disable-defaults".into(),
            "--collector.loadavg".into(),
        ])
    }

    /// A client that trusts the server CA, optionally with a client
    /// certificate (`client` or `stranger`), limited to `versions`.
    fn client(
        &self,
        cert: Option<&str>,
        versions: &[&'static SupportedProtocolVersion],
    ) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        for c in CertificateDer::pem_file_iter(self.path("server-ca.pem")).unwrap() {
            roots.add(c.unwrap()).unwrap();
        }
        let builder =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_protocol_versions(versions)
                .unwrap()
                .with_root_certificates(roots);
        Arc::new(match cert {
            None => builder.with_no_client_auth(),
            Some(name) => {
                let chain = CertificateDer::pem_file_iter(self.path(&format!("{name}.pem")))
                    .unwrap()
                    .map(|c| c.unwrap())
                    .collect();
                let key = PrivateKeyDer::from_pem_file(self.path(&format!("{name}.key"))).unwrap();
                builder.with_client_auth_cert(chain, key).unwrap()
            }
        })
    }
}

const BOTH: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];

/// An answer: status, head (lower-case header names as hyper writes them)
/// and body.
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: String,
}

fn parse_answer(raw: &[u8]) -> Option<Answer> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some(Answer {
        status,
        head,
        body: String::from_utf8_lossy(&raw[split + 4..]).to_string(),
    })
}

fn request(path: &str, headers: &[(&str, &str)]) -> String {
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req
}

/// GET over TLS with a 10 s bound; `Err` with rustls's reason when the
/// handshake or the exchange fails before an answer arrived.
fn tls_get(
    port: u16,
    client: Arc<ClientConfig>,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<Answer, String> {
    let tcp = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    tcp.set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let conn =
        rustls::ClientConnection::new(client, ServerName::try_from("127.0.0.1").unwrap()).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(request(path, headers).as_bytes())
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let outcome = loop {
        match tls.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) => break Err(e.to_string()),
        }
    };
    match (parse_answer(&raw), outcome) {
        (Some(answer), _) => Ok(answer),
        (None, Err(e)) => Err(e),
        (None, Ok(())) => Err("connection closed without an answer".into()),
    }
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// A bcrypt hash at the lowest cost (fast tests; the cost is the file's business).
fn hash(password: &str) -> String {
    bcrypt::hash(password, 4).unwrap()
}

/// Runs the binary with these arguments, bounded to 20 s; returns the exit
/// code and stderr.
fn run(args: &[String]) -> (Option<i32>, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_homelab-exporter"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("homelab-exporter {args:?} still running after 20 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn sighup(exporter: &Exporter) {
    let status = Command::new("kill")
        .arg("-HUP")
        .arg(exporter.pid().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

/// Polls `check` every 100 ms for up to 5 s.
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("not within 5 s: {what}");
}

const TLS: &str = "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n";

#[test]
fn broken_files_stop_start_up_and_check_config_with_status_2() {
    let p = pki();
    let secret_hash = hash("never-shown");
    let key_text = std::fs::read_to_string(p.path("other.key")).unwrap();
    let key_body = key_text.lines().nth(1).unwrap().to_owned();
    let cases: Vec<(String, &str)> = vec![
        ("nope: 1\n".into(), "unknown field `nope`"),
        (
            "tls_server_config:\n  cert_file: missing.pem\n  key_file: server.key\n".into(),
            "missing.pem",
        ),
        (
            "tls_server_config:\n  key_file: server.key\n".into(),
            "missing one of cert or cert_file",
        ),
        (
            "tls_server_config:\n  cert_file: server.pem\n  key_file: other.key\n".into(),
            "does not match the certificate",
        ),
        (
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server-ca.pem\n".into(),
            "no PEM private key",
        ),
        (
            format!("{TLS}  min_version: TLS10\n"),
            "TLS10 is not supported",
        ),
        (
            format!("{TLS}  cipher_suites: [TLS_INVENTED_CIPHER]\n"),
            "unknown cipher",
        ),
        (
            format!("{TLS}  client_auth_type: SometimesClientCert\n"),
            "invalid ClientAuth",
        ),
        (
            format!("{TLS}  client_ca_file: client-ca.pem\n"),
            "without a Client Auth Policy",
        ),
        (
            "http_server_config:\n  headers:\n    Server: me\n".into(),
            "can not be configured",
        ),
        (
            format!("basic_auth_users:\n  alice: '{}'\n", &secret_hash[..40]),
            "not a bcrypt hash",
        ),
    ];
    for (text, expected) in cases {
        let path = p.web_config(&text);
        let flag = format!("--web.config.file={}", path.display());
        for args in [
            vec![
                flag.clone(),
                "--web.listen-address=127.0.0.1:0".into(),
                "--collector.disable-defaults".into(),
            ],
            vec![
                "check-config".into(),
                flag.clone(),
                "--collector.disable-defaults".into(),
            ],
        ] {
            let (code, _, stderr) = run(&args);
            assert_eq!(code, Some(2), "{text:?} {args:?}: {stderr}");
            assert!(
                stderr.contains("--web.config.file") && stderr.contains(expected),
                "{text:?}: {stderr}"
            );
            assert!(
                !stderr.contains(&secret_hash[7..40]),
                "a hash leaked: {stderr}"
            );
            assert!(!stderr.contains(&key_body), "key material leaked: {stderr}");
        }
    }
    let path = p.web_config(&format!("{TLS}basic_auth_users:\n  alice: {secret_hash}\n"));
    let (code, stdout, stderr) = run(&[
        "check-config".into(),
        format!("--web.config.file={}", path.display()),
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains("web configuration OK") && stdout.contains("TLS on, 1 basic-auth user(s)"),
        "{stdout}"
    );
}

#[test]
fn an_empty_file_serves_plain_http() {
    let p = pki();
    let exporter = p.start("");
    let (status, _, body) = exporter.get("/metrics", &[]);
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).contains("node_load1 "));
    // A TLS client gets no answer from a plain HTTP server.
    assert!(tls_get(exporter.port, p.client(None, BOTH), "/metrics", &[]).is_err());
}

#[test]
fn basic_auth_lets_only_the_right_password_in() {
    let p = pki();
    let exporter = p.start(&format!(
        "basic_auth_users:\n  alice: {}\n  bob: {}\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n",
        hash("alice123"),
        hash("bob123")
    ));
    let get = |auth: Option<String>| {
        let headers: Vec<(&str, &str)> = auth
            .as_deref()
            .map(|a| vec![("Authorization", a)])
            .unwrap_or_default();
        let (status, head, body) = exporter.get("/metrics", &headers);
        (
            status,
            head.to_ascii_lowercase(),
            String::from_utf8_lossy(&body).to_string(),
        )
    };
    let (status, _, body) = get(Some(basic("alice", "alice123")));
    assert_eq!(status, 200);
    assert!(body.contains("node_load1 "), "{body}");
    for (what, auth) in [
        ("no Authorization header", None),
        ("wrong password", Some(basic("alice", "alice1234"))),
        ("another user's password", Some(basic("bob", "alice123"))),
        ("unknown user", Some(basic("mallory", "alice123"))),
        ("empty password", Some(basic("alice", ""))),
        ("not basic", Some("Bearer alice123".to_owned())),
        ("not base64", Some("Basic %%%".to_owned())),
        // CVE-2022-46146: user and hash run together.
        (
            "user with the hash appended",
            Some(basic(&format!("alice{}", hash("x")), "alice123")),
        ),
    ] {
        let (status, head, body) = get(auth);
        assert_eq!(status, 401, "{what}");
        assert!(
            head.contains("\r\nwww-authenticate: basic"),
            "{what}: {head}"
        );
        assert!(head.contains("\r\nx-frame-options: deny"), "{what}: {head}");
        assert!(!body.contains("node_load1"), "{what}");
    }
    // The right password again (now from the cache), then a wrong one.
    assert_eq!(get(Some(basic("alice", "alice123"))).0, 200);
    assert_eq!(get(Some(basic("alice", "alice123 "))).0, 401);
    assert_eq!(get(Some(basic("bob", "bob123"))).0, 200);
    // Every path is behind the password.
    assert_eq!(exporter.get("/", &[]).0, 401);
    assert_eq!(exporter.get("/-/healthy", &[]).0, 401);
}

#[test]
fn tls_without_client_certificates() {
    let p = pki();
    let exporter = p.start(&format!(
        "{TLS}basic_auth_users:\n  alice: {}\nhttp_server_config:\n  http2: true\n  headers:\n    \
         Strict-Transport-Security: max-age=31536000; includeSubDomains\n    X-Content-Type-Options: nosniff\n    X-XSS-Protection: \"1\"\n",
        hash("alice123")
    ));
    for versions in [
        &[&rustls::version::TLS13][..],
        &[&rustls::version::TLS12][..],
    ] {
        let a = tls_get(
            exporter.port,
            p.client(None, versions),
            "/metrics",
            &[("Authorization", &basic("alice", "alice123"))],
        )
        .unwrap();
        assert_eq!(a.status, 200, "{versions:?}");
        assert!(a.body.contains("node_load1 "));
        for header in [
            "strict-transport-security: max-age=31536000; includeSubDomains",
            "x-content-type-options: nosniff",
            "x-xss-protection: 1",
        ] {
            assert!(a.head.contains(header), "{header} missing: {}", a.head);
        }
    }
    let a = tls_get(
        exporter.port,
        p.client(None, BOTH),
        "/metrics",
        &[("Authorization", &basic("alice", "wrong"))],
    )
    .unwrap();
    assert_eq!(a.status, 401);
    // A client that offers h2 too (as Go's and curl's do) gets HTTP/1.1.
    let mut h2 = (*p.client(None, BOTH)).clone();
    h2.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let a = tls_get(
        exporter.port,
        Arc::new(h2),
        "/metrics",
        &[("Authorization", &basic("alice", "alice123"))],
    )
    .unwrap();
    assert!(a.head.starts_with("HTTP/1.1 200"), "{}", a.head);
    // Plain HTTP to the TLS port gets no HTTP answer.
    let mut s = TcpStream::connect(("127.0.0.1", exporter.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request("/metrics", &[]).as_bytes()).unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    assert!(
        !raw.starts_with(b"HTTP/"),
        "{:?}",
        String::from_utf8_lossy(&raw)
    );
    // A client that does not trust the server's CA refuses it.
    let stranger = Arc::new(
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates({
                let mut r = RootCertStore::empty();
                r.add(CertificateDer::from_pem_file(p.path("client-ca.pem")).unwrap())
                    .unwrap();
                r
            })
            .with_no_client_auth(),
    );
    let e = tls_get(exporter.port, stranger, "/metrics", &[]).unwrap_err();
    assert!(e.contains("UnknownIssuer"), "{e}");
}

#[test]
fn client_certificate_required_and_verified() {
    let p = pki();
    let exporter = p.start(&format!(
        "{TLS}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: client-ca.pem\n"
    ));
    for versions in [
        &[&rustls::version::TLS13][..],
        &[&rustls::version::TLS12][..],
    ] {
        let a = tls_get(
            exporter.port,
            p.client(Some("client"), versions),
            "/metrics",
            &[],
        )
        .unwrap();
        assert_eq!(a.status, 200, "{versions:?}");
        assert!(a.body.contains("node_load1 "));
        let e = tls_get(exporter.port, p.client(None, versions), "/metrics", &[]).unwrap_err();
        assert_eq!(
            e, "received fatal alert: CertificateRequired",
            "{versions:?}"
        );
        let e = tls_get(
            exporter.port,
            p.client(Some("stranger"), versions),
            "/metrics",
            &[],
        )
        .unwrap_err();
        assert_eq!(e, "received fatal alert: UnknownCA", "{versions:?}");
    }
}

#[test]
fn client_certificate_optional_or_unverified() {
    let p = pki();
    // VerifyClientCertIfGiven: none is fine, a good one is fine, a bad one is not.
    let exporter = p.start(&format!(
        "{TLS}  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: client-ca.pem\n"
    ));
    assert_eq!(
        tls_get(exporter.port, p.client(None, BOTH), "/metrics", &[])
            .unwrap()
            .status,
        200
    );
    assert_eq!(
        tls_get(
            exporter.port,
            p.client(Some("client"), BOTH),
            "/metrics",
            &[]
        )
        .unwrap()
        .status,
        200
    );
    let e = tls_get(
        exporter.port,
        p.client(Some("stranger"), BOTH),
        "/metrics",
        &[],
    )
    .unwrap_err();
    assert_eq!(e, "received fatal alert: UnknownCA");
    drop(exporter);
    // RequireAnyClientCert: any certificate, but one there must be.
    let exporter = p.start(&format!("{TLS}  client_auth_type: RequireAnyClientCert\n"));
    assert_eq!(
        tls_get(
            exporter.port,
            p.client(Some("stranger"), BOTH),
            "/metrics",
            &[]
        )
        .unwrap()
        .status,
        200
    );
    let e = tls_get(exporter.port, p.client(None, BOTH), "/metrics", &[]).unwrap_err();
    assert_eq!(e, "received fatal alert: CertificateRequired");
}

#[test]
fn min_version_tls13_refuses_a_tls12_client() {
    let p = pki();
    let exporter = p.start(&format!("{TLS}  min_version: TLS13\n"));
    let e = tls_get(
        exporter.port,
        p.client(None, &[&rustls::version::TLS12]),
        "/metrics",
        &[],
    )
    .unwrap_err();
    assert_eq!(e, "received fatal alert: ProtocolVersion");
    assert_eq!(
        tls_get(
            exporter.port,
            p.client(None, &[&rustls::version::TLS13]),
            "/metrics",
            &[]
        )
        .unwrap()
        .status,
        200
    );
    drop(exporter);
    // And max_version TLS12 serves TLS 1.2 only.
    let exporter = p.start(&format!("{TLS}  max_version: TLS12\n"));
    assert!(tls_get(
        exporter.port,
        p.client(None, &[&rustls::version::TLS13]),
        "/metrics",
        &[]
    )
    .is_err());
    assert_eq!(
        tls_get(
            exporter.port,
            p.client(None, &[&rustls::version::TLS12]),
            "/metrics",
            &[]
        )
        .unwrap()
        .status,
        200
    );
}

#[test]
fn rate_limit_answers_429_beyond_the_burst() {
    let p = pki();
    let exporter = p.start("rate_limit:\n  burst: 2\n  interval: 1h\n");
    assert_eq!(exporter.get("/metrics", &[]).0, 200);
    assert_eq!(exporter.get("/-/healthy", &[]).0, 200);
    let (status, _, body) = exporter.get("/metrics", &[]);
    assert_eq!(status, 429);
    assert_eq!(String::from_utf8_lossy(&body), "Too Many Requests\n");
}

#[test]
fn sighup_takes_a_good_change_and_keeps_the_old_file_when_the_new_one_is_broken() {
    let p = pki();
    let exporter = p.start(&format!("basic_auth_users:\n  alice: {}\n", hash("one")));
    let status = |password: &str| {
        exporter
            .get("/metrics", &[("Authorization", &basic("alice", password))])
            .0
    };
    assert_eq!(status("one"), 200);
    p.web_config(&format!("basic_auth_users:\n  alice: {}\n", hash("two")));
    sighup(&exporter);
    eventually("the new password works after SIGHUP", || {
        status("two") == 200
    });
    assert_eq!(status("one"), 401);
    // A broken file: the previous configuration stays, the process lives on.
    p.web_config("basic_auth_users:\n  alice: not-a-bcrypt-hash\n");
    sighup(&exporter);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(status("two"), 200);
    assert_eq!(status("one"), 401);
    // Switching TLS on by SIGHUP: new connections get TLS.
    p.web_config(TLS);
    sighup(&exporter);
    eventually("TLS after SIGHUP", || {
        tls_get(exporter.port, p.client(None, BOTH), "/metrics", &[]).is_ok_and(|a| a.status == 200)
    });
    let status = exporter.terminate();
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
}

#[test]
fn a_changed_file_is_picked_up_without_a_signal() {
    let p = pki();
    let exporter = p.start(&format!("basic_auth_users:\n  alice: {}\n", hash("one")));
    let status = |password: &str| {
        exporter
            .get("/metrics", &[("Authorization", &basic("alice", password))])
            .0
    };
    assert_eq!(status("one"), 200);
    p.web_config(&format!("basic_auth_users:\n  alice: {}\n", hash("two")));
    eventually("the new password works once the file changed", || {
        status("two") == 200
    });
    assert_eq!(status("one"), 401);
    // Broken: kept. Then fixed: taken.
    p.web_config("basic_auth_users: [alice]\n");
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(status("two"), 200);
    p.web_config("");
    eventually("no authentication once the file is empty", || {
        exporter.get("/metrics", &[]).0 == 200
    });
}

/// curl (OpenSSL) as the client: TLS 1.2 and 1.3, a client certificate,
/// basic auth.
#[test]
fn curl_speaks_to_it() {
    let Some(curl) = ["/usr/bin/curl", "/bin/curl"]
        .iter()
        .map(Path::new)
        .find(|p| p.is_file())
    else {
        let allowed = std::env::var("HOMELAB_ALLOW_MISSING_REAL").as_deref() == Ok("1")
            && std::env::var("HOMELAB_REQUIRE_REAL").as_deref() != Ok("1");
        assert!(
            allowed,
            "curl is missing: install Debian's curl (bash scripts/test.sh does)"
        );
        eprintln!("skipping: curl is missing");
        return;
    };
    let p = pki();
    let exporter = p.start(&format!(
        "{TLS}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: client-ca.pem\nbasic_auth_users:\n  alice: {}\n",
        hash("alice123")
    ));
    let url = format!("https://127.0.0.1:{}/metrics", exporter.port);
    let curl = |extra: &[&str]| {
        let out = Command::new(curl)
            .args([
                "-sS",
                "--max-time",
                "10",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--cacert",
            ])
            .arg(p.path("server-ca.pem"))
            .args(extra)
            .arg(&url)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let cert = p.path("client.pem").display().to_string();
    let key = p.path("client.key").display().to_string();
    let with_cert = ["--cert", cert.as_str(), "--key", key.as_str()];
    for version in [
        ["--tlsv1.2", "--tls-max", "1.2"],
        ["--tlsv1.3", "--tls-max", "1.3"],
    ] {
        let args: Vec<&str> = with_cert
            .iter()
            .chain(version.iter())
            .copied()
            .chain(["-u", "alice:alice123"])
            .collect();
        assert_eq!(curl(&args), "200", "{version:?}");
        let args: Vec<&str> = with_cert
            .iter()
            .chain(version.iter())
            .copied()
            .chain(["-u", "alice:wrong"])
            .collect();
        assert_eq!(curl(&args), "401", "{version:?}");
        // No client certificate: no HTTP answer at all.
        let args: Vec<&str> = version
            .iter()
            .copied()
            .chain(["-u", "alice:alice123"])
            .collect();
        assert_eq!(curl(&args), "000", "{version:?}");
    }
}

/// `healthcheck` with the same web configuration: TLS trusting the
/// server's own certificate, a 401 from basic auth counted as an answer.
#[test]
fn healthcheck_speaks_tls_with_the_web_config() {
    let p = pki();
    let exporter = p.start(&format!(
        "{TLS}basic_auth_users:\n  alice: {}\n",
        hash("alice123")
    ));
    let flags = |file: &Path| {
        vec![
            "healthcheck".to_owned(),
            format!("--web.listen-address=127.0.0.1:{}", exporter.port),
            format!("--web.config.file={}", file.display()),
        ]
    };
    let (code, _, stderr) = run(&flags(&p.path("web.yml")));
    assert_eq!(code, Some(0), "{stderr}");
    // Without the web configuration it speaks plain HTTP and gets no answer.
    let (code, _, stderr) = run(&[
        "healthcheck".into(),
        format!("--web.listen-address=127.0.0.1:{}", exporter.port),
    ]);
    assert_eq!(code, Some(1), "{stderr}");
    // A configuration naming another certificate than the server's: refused.
    let other = pki();
    std::fs::write(other.path("web.yml"), TLS).unwrap();
    let (code, _, stderr) = run(&flags(&other.path("web.yml")));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("not the one in the web configuration"),
        "{stderr}"
    );
    // Client certificates required: said so.
    std::fs::write(
        other.path("web.yml"),
        format!("{TLS}  client_auth_type: RequireAnyClientCert\n"),
    )
    .unwrap();
    let (code, _, stderr) = run(&flags(&other.path("web.yml")));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("requires client certificates"), "{stderr}");
}

/// The packaged example loads once its certificate files exist, its hash
/// is the one of the password it names, and the server it describes
/// answers that password over TLS.
#[test]
fn the_packaged_example_works() {
    let example =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/examples/web-config.yaml");
    let text = std::fs::read_to_string(&example).unwrap();
    let p = pki();
    std::fs::create_dir_all(p.path("tls")).unwrap();
    std::fs::copy(p.path("server.pem"), p.path("tls/exporter.crt")).unwrap();
    std::fs::copy(p.path("server.key"), p.path("tls/exporter.key")).unwrap();
    let path = p.web_config(&text);
    let config = homelab_exporter::webconfig::WebConfig::load(&path).unwrap();
    assert!(config.tls().is_some());
    assert_eq!(config.user_count(), 1);
    assert_eq!(config.headers().len(), 3);
    let hash = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("prometheus: "))
        .unwrap();
    assert!(bcrypt::verify("change-me", hash).unwrap());

    let exporter = p.start(&text);
    let a = tls_get(
        exporter.port,
        p.client(None, BOTH),
        "/metrics",
        &[("Authorization", &basic("prometheus", "change-me"))],
    )
    .unwrap();
    assert_eq!(a.status, 200);
    assert!(a.head.contains("x-frame-options: deny"), "{}", a.head);
}
