//! The `nut` collector's STARTTLS against Debian's real upsd, which is
//! built with NSS: its certificate and key live in an NSS database
//! (`CERTPATH`) under a nickname (`CERTIDENT`). The test CA and upsd's
//! certificate are made with rcgen, bundled with `openssl pkcs12` and
//! imported with NSS's `certutil`/`pk12util` (Debian's libnss3-tools).
//!
//! As for the other NUT tests, a missing program fails the test unless
//! `HOMELAB_ALLOW_MISSING_REAL=1` (never in CI) lets it skip. Every process
//! is stopped by its pid when the test ends.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{http_get, parse_exposition, Exporter};
use crate::nut::{
    assert_dev_values, landing_page, missing_real_allowed, nut_exporter, nut_success, scrape, series, target_up, value, NutServer,
    UPSES,
};

/// The name upsd's certificate holds besides 127.0.0.1.
const SERVER_NAME: &str = "ups.homelab.lan";

/// A test CA, and upsd's certificate and key signed by it (PEM).
struct Pki {
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

fn pki(ca_name: &str) -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.distinguished_name.push(DnType::CommonName, ca_name);
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned(), SERVER_NAME.to_owned()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, SERVER_NAME);
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    Pki { ca_pem: ca.pem(), cert_pem: cert.pem(), key_pem: key.serialize_pem() }
}

fn find(candidates: &[&str]) -> Option<PathBuf> {
    candidates.iter().map(PathBuf::from).find(|p| p.is_file())
}

/// `openssl`, `certutil` and `pk12util`, or `None` (skip) only when
/// missing programs are explicitly allowed.
fn tools() -> Option<(PathBuf, PathBuf, PathBuf)> {
    let found = (
        find(&["/usr/bin/openssl", "/bin/openssl"]),
        find(&["/usr/bin/certutil", "/bin/certutil"]),
        find(&["/usr/bin/pk12util", "/bin/pk12util"]),
    );
    if let (Some(openssl), Some(certutil), Some(pk12util)) = found {
        return Some((openssl, certutil, pk12util));
    }
    let message = "the NUT TLS tests need openssl and NSS's certutil and pk12util: install Debian's openssl and libnss3-tools \
                   (`apt-get install openssl libnss3-tools`, or run `bash scripts/test.sh`), \
                   or set HOMELAB_ALLOW_MISSING_REAL=1 to skip them";
    if missing_real_allowed() {
        eprintln!("skipping: {message}");
        return None;
    }
    panic!("{message}");
}

/// Runs a setup program to its end (at most 30 s), failing the test when it fails.
fn run(program: &Path, args: &[&str]) {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            assert!(
                status.success(),
                "{} {args:?} failed ({status}): {}{}",
                program.display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            return;
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{} {args:?} did not finish within 30 s", program.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An NSS database in `dir/db` holding upsd's certificate and key under the
/// nickname `upsd`; returns the upsd.conf lines that use it.
fn nss_db(dir: &Path, pki: &Pki) -> Option<String> {
    let (openssl, certutil, pk12util) = tools()?;
    let path = |name: &str| dir.join(name).display().to_string();
    fs::write(dir.join("ca.pem"), &pki.ca_pem).unwrap();
    fs::write(dir.join("upsd.pem"), &pki.cert_pem).unwrap();
    fs::write(dir.join("upsd.key"), &pki.key_pem).unwrap();
    fs::write(dir.join("db-password"), "db-secret\n").unwrap();
    fs::write(dir.join("p12-password"), "p12-secret\n").unwrap();
    fs::create_dir(dir.join("db")).unwrap();
    let db = format!("sql:{}", path("db"));
    run(
        &openssl,
        &[
            "pkcs12",
            "-export",
            "-in",
            &path("upsd.pem"),
            "-inkey",
            &path("upsd.key"),
            "-certfile",
            &path("ca.pem"),
            "-name",
            "upsd",
            "-out",
            &path("upsd.p12"),
            "-passout",
            &format!("file:{}", path("p12-password")),
        ],
    );
    run(&certutil, &["-N", "-d", &db, "-f", &path("db-password")]);
    run(&pk12util, &["-i", &path("upsd.p12"), "-d", &db, "-k", &path("db-password"), "-w", &path("p12-password")]);
    Some(format!("CERTPATH {}\nCERTIDENT \"upsd\" \"db-secret\"\nDISABLE_WEAK_SSL true\n", path("db")))
}

/// A upsd serving `upses` over plaintext and STARTTLS with `pki`'s
/// certificate; the temp dir holds the NSS database while the test runs.
fn tls_upsd(upses: &[(&str, &str, &str)], pki: &Pki) -> Option<(NutServer, tempfile::TempDir)> {
    let dir = tempfile::tempdir().unwrap();
    let conf = nss_db(dir.path(), pki)?;
    let nut = NutServer::start_with(upses, &conf)?;
    Some((nut, dir))
}

/// A PEM file holding `pem`, in `dir`.
fn pem_file(dir: &Path, name: &str, pem: &str) -> String {
    let path = dir.join(name);
    fs::write(&path, pem).unwrap();
    path.display().to_string()
}

/// upsd with a certificate, the exporter with `--collector.nut.tls=starttls`
/// and the CA that signed it: every variable of every UPS, as with
/// plaintext, and upsd logs the handshake.
#[test]
fn starttls_with_the_right_ca_reads_every_ups_variable() {
    let pki = pki("NUT test CA");
    let Some((nut, dir)) = tls_upsd(UPSES, &pki) else { return };
    let ca = pem_file(dir.path(), "client-ca.pem", &pki.ca_pem);
    let exporter = nut_exporter(&[nut.target()], &["--collector.nut.tls=starttls", &format!("--collector.nut.ca-file={ca}")]);
    let (text, p) = scrape(&exporter);
    assert_eq!(nut_success(&p), Some(1.0), "{text}\n{}", landing_page(&exporter));
    assert_eq!(target_up(&p, &nut.target()), Some(1.0), "{text}");
    assert_eq!(series(&p, "nut_server_info", &[("target", &nut.target())]).len(), 1, "{text}");
    for (ups, desc, dev) in UPSES {
        assert_eq!(value(&p, "nut_ups_up", &[("ups", ups)]), Some(1.0), "{ups}");
        assert_dev_values(&p, ups, desc, dev);
    }
    nut.wait_for("upsd to log the TLS handshake", Duration::from_secs(5), || {
        nut.logs().contains("SSL handshake done successfully with client 127.0.0.1")
    });
}

/// The configuration file: `tls: starttls`, `ca_file`, a `server_name`
/// other than the target's host, and credentials (that they go out only
/// after the handshake is checked against a fake upsd in the client's unit
/// tests: upsd answers `PASSWORD` with OK whatever it is).
#[test]
fn starttls_from_the_config_file_with_server_name_and_credentials() {
    let pki = pki("NUT test CA");
    let Some((nut, dir)) = tls_upsd(&UPSES[..1], &pki) else { return };
    let ca = pem_file(dir.path(), "client-ca.pem", &pki.ca_pem);
    fs::write(dir.path().join("password"), "secret\n").unwrap();
    let cfg = dir.path().join("config.yaml");
    fs::write(
        &cfg,
        format!(
            "nut:\n  servers:\n    - target: {}\n      tls: starttls\n      ca_file: {ca}\n      server_name: {SERVER_NAME}\n      username: admin\n      password_file: {}\n",
            nut.target(),
            dir.path().join("password").display()
        ),
    )
    .unwrap();
    let exporter = Exporter::start(&[
        "--collector.disable-defaults".into(),
        "--collector.nut".into(),
        format!("--config.file={}", cfg.display()),
    ]);
    let (text, p) = scrape(&exporter);
    assert_eq!(nut_success(&p), Some(1.0), "{text}\n{}", landing_page(&exporter));
    assert_eq!(target_up(&p, &nut.target()), Some(1.0), "{text}");
    assert_dev_values(&p, "ups1", UPSES[0].1, UPSES[0].2);
}

/// A CA that did not sign upsd's certificate, then a server name the
/// certificate does not hold: that target fails with a certificate error
/// (landing page), the plaintext upsd beside it and the other collector
/// are unaffected, and nothing is read from the refused upsd.
#[test]
fn a_wrong_ca_or_server_name_fails_that_target_only() {
    let pki_used = pki("NUT test CA");
    let other = pki("Some other CA");
    let Some((tls, dir)) = tls_upsd(&UPSES[..2], &pki_used) else { return };
    let Some(plain) = NutServer::start(&UPSES[2..]) else { return };
    let wrong_ca = pem_file(dir.path(), "wrong-ca.pem", &other.ca_pem);
    let right_ca = pem_file(dir.path(), "right-ca.pem", &pki_used.ca_pem);
    let cfg = dir.path().join("config.yaml");
    let write_config = |ca: &str, name: &str| {
        fs::write(
            &cfg,
            format!(
                "nut:\n  servers:\n    - target: {}\n      tls: starttls\n      ca_file: {ca}\n      server_name: {name}\n    - target: {}\n",
                tls.target(),
                plain.target()
            ),
        )
        .unwrap();
    };
    let args = vec![
        "--collector.disable-defaults".to_owned(),
        "--collector.nut".to_owned(),
        "--collector.loadavg".to_owned(),
        format!("--config.file={}", cfg.display()),
    ];
    for (ca, name, error) in [(&wrong_ca, SERVER_NAME, "UnknownIssuer"), (&right_ca, "nas.homelab.lan", "not valid for name")] {
        write_config(ca, name);
        let exporter = Exporter::start(&args);
        let start = Instant::now();
        let (text, p) = scrape(&exporter);
        assert!(start.elapsed() < Duration::from_secs(5), "scrape took {:?}", start.elapsed());
        assert_eq!(nut_success(&p), Some(0.0), "{text}");
        assert_eq!(target_up(&p, &tls.target()), Some(0.0), "{text}");
        assert_eq!(target_up(&p, &plain.target()), Some(1.0), "{text}");
        assert!(series(&p, "nut_server_info", &[("target", &tls.target())]).is_empty(), "{text}");
        for (ups, _, _) in &UPSES[..2] {
            assert!(series(&p, "nut_ups_info", &[("ups", ups)]).is_empty(), "{ups} read despite the refused certificate:\n{text}");
        }
        assert_dev_values(&p, "ups3", UPSES[2].1, UPSES[2].2);
        assert_eq!(value(&p, "node_scrape_collector_success", &[("collector", "loadavg")]), Some(1.0), "{text}");
        assert!(value(&p, "node_load1", &[]).is_some(), "{text}");
        let page = landing_page(&exporter);
        assert!(page.contains(&tls.target()), "{page}");
        assert!(page.contains("STARTTLS: TLS handshake: invalid peer certificate") && page.contains(error), "{error}: {page}");
    }
}

/// upsd without a certificate refuses STARTTLS: the target fails with
/// upsd's ERR FEATURE-NOT-CONFIGURED, and nothing is read in plaintext.
#[test]
fn starttls_against_a_upsd_without_tls_fails_clearly() {
    let Some(nut) = NutServer::start(&UPSES[..1]) else { return };
    let dir = tempfile::tempdir().unwrap();
    let ca = pem_file(dir.path(), "ca.pem", &pki("NUT test CA").ca_pem);
    let exporter = nut_exporter(
        &[nut.target()],
        &["--collector.nut.tls=starttls", &format!("--collector.nut.ca-file={ca}"), "--collector.loadavg"],
    );
    let start = Instant::now();
    let (status, _, body) = http_get(exporter.port, "/metrics", &[("X-Prometheus-Scrape-Timeout-Seconds", "5")]);
    assert!(start.elapsed() < Duration::from_secs(5), "scrape took {:?}", start.elapsed());
    assert_eq!(status, 200);
    let text = String::from_utf8(body).unwrap();
    let p = parse_exposition(&text);
    assert_eq!(nut_success(&p), Some(0.0), "{text}");
    assert_eq!(target_up(&p, &nut.target()), Some(0.0), "{text}");
    assert!(series(&p, "nut_ups_info", &[]).is_empty(), "read in plaintext:\n{text}");
    assert!(series(&p, "nut_server_info", &[]).is_empty(), "read in plaintext:\n{text}");
    assert_eq!(value(&p, "node_scrape_collector_success", &[("collector", "loadavg")]), Some(1.0), "{text}");
    let page = landing_page(&exporter);
    assert!(page.contains(&nut.target()), "{page}");
    assert!(page.contains("STARTTLS: upsd answered ERR FEATURE-NOT-CONFIGURED"), "{page}");
    assert!(page.contains("not falling back to plaintext"), "{page}");
}
