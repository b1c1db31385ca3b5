use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::header::HeaderValue;

use super::files::*;
use super::live::*;
use super::schema::*;
use super::tls_server::*;

struct Pki {
    dir: tempfile::TempDir,
}

/// A CA, a server certificate for 127.0.0.1 signed by it, and a second
/// key that belongs to no certificate, written into a temporary directory.
fn pki() -> Pki {
    let dir = tempfile::tempdir().unwrap();
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    let other = rcgen::KeyPair::generate().unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.path().join("server.pem"), cert.pem()).unwrap();
    std::fs::write(dir.path().join("server.key"), key.serialize_pem()).unwrap();
    std::fs::write(dir.path().join("other.key"), other.serialize_pem()).unwrap();
    Pki { dir }
}

impl Pki {
    fn parse(&self, text: &str) -> Result<WebConfig, WebConfigError> {
        let path = self.dir.path().join("web.yml");
        std::fs::write(&path, text).unwrap();
        WebConfig::load(&path)
    }

    fn error(&self, text: &str) -> String {
        self.parse(text).unwrap_err().to_string()
    }
}

fn hash(password: &str) -> String {
    bcrypt::hash(password, 4).unwrap()
}

#[test]
fn empty_file_means_plain_http_without_auth() {
    let p = pki();
    for text in ["", "\n", "# nothing\n", "---\n", "tls_server_config:\n"] {
        let c = p.parse(text).unwrap();
        assert!(c.tls().is_none(), "{text:?}");
        assert_eq!(c.user_count(), 0);
        assert!(c.headers().is_empty());
        assert!(c.http2());
    }
}

#[test]
fn unknown_fields_are_refused_with_their_line() {
    let p = pki();
    let e = p.error("basic_auth_users: {}\nnope: 1\n");
    assert!(e.contains("web.yml:2:"), "{e}");
    assert!(e.contains("unknown field `nope`"), "{e}");
    let e = p.error(
        "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  certfile: x\n",
    );
    assert!(e.contains("unknown field `certfile`"), "{e}");
    let e = p.error("http_server_config:\n  http3: true\n");
    assert!(e.contains("unknown field `http3`"), "{e}");
    let e = p.error("not: [valid\n");
    assert!(e.starts_with("--web.config.file "), "{e}");
}

#[test]
fn a_good_tls_config_builds_with_relative_paths() {
    let p = pki();
    let c = p
        .parse(
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  min_version: TLS12\n  max_version: TLS13\n  \
             cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256]\n  \
             curve_preferences: [CurveP256, X25519]\n  prefer_server_cipher_suites: false\n",
        )
        .unwrap();
    let tls = c.tls().unwrap();
    assert!(!tls.ignore_client_order);
    assert_eq!(tls.alpn_protocols, vec![b"http/1.1".to_vec()]);
    let names: Vec<_> = tls
        .crypto_provider()
        .cipher_suites
        .iter()
        .map(|s| format!("{:?}", s.suite()))
        .collect();
    assert_eq!(
        names,
        [
            "TLS13_AES_256_GCM_SHA384",
            "TLS13_AES_128_GCM_SHA256",
            "TLS13_CHACHA20_POLY1305_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
        ]
    );
    let groups: Vec<_> = tls
        .crypto_provider()
        .kx_groups
        .iter()
        .map(|g| format!("{:?}", g.name()))
        .collect();
    assert_eq!(groups, ["secp256r1", "X25519"]);
    // The files read are watched: the configuration and both PEM files.
    assert_eq!(c.stamps.len(), 3);
    assert!(c.stamps.iter().all(|(_, s)| s.is_some()));
}

#[test]
fn missing_or_unreadable_certificate_and_key_are_refused() {
    let p = pki();
    let e = p.error("tls_server_config:\n  cert_file: missing.pem\n  key_file: server.key\n");
    assert!(
        e.contains("cert_file") && e.contains("missing.pem") && e.contains("No such file"),
        "{e}"
    );
    let e = p.error("tls_server_config:\n  cert_file: server.pem\n  key_file: missing.key\n");
    assert!(e.contains("key_file") && e.contains("missing.key"), "{e}");
    let e = p.error("tls_server_config:\n  cert_file: \"\"\n  key_file: server.key\n");
    assert!(e.contains("missing one of cert or cert_file"), "{e}");
    let e = p.error("tls_server_config:\n  cert_file: server.pem\n");
    assert!(e.contains("missing one of key or key_file"), "{e}");
    // A PEM file without a certificate.
    let e = p.error("tls_server_config:\n  cert_file: server.key\n  key_file: server.key\n");
    assert!(e.contains("no PEM certificate"), "{e}");
}

#[test]
fn a_key_that_is_not_the_certificates_is_refused_without_showing_it() {
    let p = pki();
    let e = p.error("tls_server_config:\n  cert_file: server.pem\n  key_file: other.key\n");
    assert!(e.contains("does not match the certificate"), "{e}");
    assert!(e.contains("web.yml:3:"), "{e}");
    // Garbage where the key should be: the message names the file, not its content.
    let secret = "SECRET-KEY-MATERIAL-4711";
    std::fs::write(
        p.dir.path().join("bad.key"),
        format!("-----BEGIN PRIVATE KEY-----\n{secret}\n-----END PRIVATE KEY-----\n"),
    )
    .unwrap();
    let e = p.error("tls_server_config:\n  cert_file: server.pem\n  key_file: bad.key\n");
    assert!(
        e.contains("bad.key") && e.contains("no PEM private key"),
        "{e}"
    );
    assert!(!e.contains(secret), "{e}");
    let e = p.error(&format!(
        "tls_server_config:\n  cert_file: server.pem\n  key: \"{secret}\"\n"
    ));
    assert!(!e.contains(secret), "{e}");
    let e = p.error("tls_server_config:\n  cert_file: server.pem\n  key: 123456789\n");
    assert!(!e.contains("123456789"), "{e}");
}

#[test]
fn inline_certificate_and_key_work() {
    let p = pki();
    let cert = std::fs::read_to_string(p.dir.path().join("server.pem")).unwrap();
    let key = std::fs::read_to_string(p.dir.path().join("server.key")).unwrap();
    let indent = |s: &str| s.lines().map(|l| format!("    {l}\n")).collect::<String>();
    let c = p
        .parse(&format!(
            "tls_server_config:\n  cert: |\n{}  key: |\n{}",
            indent(&cert),
            indent(&key)
        ))
        .unwrap();
    assert!(c.tls().is_some());
}

#[test]
fn tls_versions_ciphers_and_curves_rustls_lacks_are_refused() {
    let p = pki();
    let base = "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n";
    let e = p.error(&format!("{base}  min_version: TLS10\n"));
    assert!(
        e.contains(
            "min_version: TLS10 is not supported: rustls implements TLS 1.2 and 1.3 only"
        ),
        "{e}"
    );
    assert!(e.contains("web.yml:4:"), "{e}");
    let e = p.error(&format!("{base}  max_version: TLS11\n"));
    assert!(e.contains("max_version: TLS11 is not supported"), "{e}");
    let e = p.error(&format!("{base}  min_version: TLS14\n"));
    assert!(e.contains("unknown TLS version: TLS14"), "{e}");
    let e = p.error(&format!(
        "{base}  min_version: TLS13\n  max_version: TLS12\n"
    ));
    assert!(e.contains("above max_version"), "{e}");
    let e = p.error(&format!("{base}  cipher_suites: [TLS_INVENTED_CIPHER]\n"));
    assert!(e.contains("TLS_INVENTED_CIPHER: unknown cipher"), "{e}");
    assert!(e.contains("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"), "{e}");
    let e = p.error(&format!(
        "{base}  cipher_suites: [TLS_RSA_WITH_AES_128_CBC_SHA]\n"
    ));
    assert!(e.contains("not implemented by rustls"), "{e}");
    let e = p.error(&format!("{base}  curve_preferences: [CurveP521]\n"));
    assert!(e.contains("CurveP521 is not implemented by rustls"), "{e}");
    let e = p.error(&format!("{base}  curve_preferences: [InventedCurve]\n"));
    assert!(e.contains("unknown curve"), "{e}");
    // Checked even when TLS is off, as exporter-toolkit does.
    let e = p.error("tls_server_config:\n  min_version: TLS10\n");
    assert!(e.contains("TLS10 is not supported"), "{e}");
    // Only TLS 1.3.
    let c = p.parse(&format!("{base}  min_version: TLS13\n")).unwrap();
    assert!(c.tls().is_some());
}

#[test]
fn client_auth_settings_are_checked() {
    let p = pki();
    let base = "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n";
    let e = p.error(&format!("{base}  client_auth_type: Bogus\n"));
    assert!(e.contains("invalid ClientAuth \"Bogus\""), "{e}");
    let e = p.error(&format!("{base}  client_ca_file: ca.pem\n"));
    assert!(
        e.contains("client CA's have been configured without a Client Auth Policy"),
        "{e}"
    );
    let e = p.error(&format!(
        "{base}  client_auth_type: RequireAndVerifyClientCert\n"
    ));
    assert!(e.contains("needs client_ca_file"), "{e}");
    let e = p.error(&format!(
        "{base}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: missing.pem\n"
    ));
    assert!(e.contains("missing.pem"), "{e}");
    let e = p.error(&format!(
        "{base}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: server.key\n"
    ));
    assert!(e.contains("no PEM certificate"), "{e}");
    let e = p.error(&format!("{base}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n  client_allowed_sans: [a]\n"));
    assert!(e.contains("client_allowed_sans is not supported"), "{e}");
    for (auth, mandatory, offered) in [
        ("NoClientCert", false, false),
        ("RequestClientCert", false, true),
        ("RequireAnyClientCert", true, true),
        ("RequireClientCert", true, true),
        ("VerifyClientCertIfGiven", false, true),
        ("RequireAndVerifyClientCert", true, true),
    ] {
        let kind = ClientAuth::parse(auth).unwrap();
        let verifies = matches!(
            kind,
            ClientAuth::VerifyClientCertIfGiven | ClientAuth::RequireAndVerifyClientCert
        );
        let ca = if verifies {
            "\n  client_ca_file: ca.pem"
        } else {
            ""
        };
        assert!(
            p.parse(&format!("{base}  client_auth_type: {auth}{ca}\n"))
                .unwrap()
                .tls()
                .is_some(),
            "{auth}"
        );
        let roots = verifies
            .then(|| crate::tls::ca_roots_pem(&std::fs::read(p.dir.path().join("ca.pem")).unwrap()).unwrap());
        let v = client_verifier(
            kind,
            roots,
            &Arc::new(rustls::crypto::ring::default_provider()),
        )
        .unwrap();
        assert_eq!(v.offer_client_auth(), offered, "{auth}");
        assert_eq!(offered && v.client_auth_mandatory(), mandatory, "{auth}");
    }
}

#[test]
fn users_hashes_are_checked_and_never_shown() {
    let p = pki();
    let good = hash("pw");
    let c = p
        .parse(&format!(
            "basic_auth_users:\n  alice: {good}\n  bob: '{good}'\n"
        ))
        .unwrap();
    assert_eq!(c.user_count(), 2);
    assert!(!format!("{c:?}").contains(&good), "{c:?}");
    let broken = "$2y$10$tooShortToBeAHash";
    let e = p.error(&format!(
        "basic_auth_users:\n  alice: {good}\n  carol: {broken}\n"
    ));
    assert!(
        e.contains("web.yml:3:") && e.contains("user \"carol\" is not a bcrypt hash"),
        "{e}"
    );
    assert!(!e.contains("tooShort"), "{e}");
    let e = p.error("basic_auth_users:\n  dave: 12345678\n");
    assert!(e.contains("not a string") && !e.contains("12345678"), "{e}");
    let e = p.error(&format!(
        "basic_auth_users:\n  erin: '{}'\n",
        good.replacen("$04$", "$99$", 1)
    ));
    assert!(e.contains("cost"), "{e}");
    let e = p.error("basic_auth_users:\n  frank: plaintext-password\n");
    assert!(!e.contains("plaintext-password"), "{e}");
}

#[test]
fn values_in_the_wrong_place_are_not_quoted() {
    let p = pki();
    let hash = hash("pw");
    for text in [
        format!("basic_auth_users: \"alice:{hash}\"\n"),
        format!("basic_auth_users: [\"{hash}\"]\n"),
        format!("basic_auth_users:\n  alice: [\"{hash}\"]\n"),
        format!("basic_auth_users:\n  ? [a]\n  : \"{hash}\"\n"),
        format!("{hash}\n"),
        "hunter2-the-password\n".to_owned(),
        "rate_limit:\n  burst: \"hunter2-the-password\"\n".to_owned(),
        "tls_server_config: \"hunter2-the-password\"\n".to_owned(),
    ] {
        let e = p.error(&text);
        assert!(
            !e.contains(&hash[7..]) && !e.contains("hunter2"),
            "{text:?}: {e}"
        );
    }
    assert_eq!(
        without_quoted_strings(
            r#"a: invalid type: string "x\"y", expected u32 and string "z" at line 1"#
        ),
        "a: invalid type: string (not shown), expected u32 and string (not shown) at line 1"
    );
    assert_eq!(
        without_quoted_strings(r#"unterminated string "abc"#),
        "unterminated string (not shown)"
    );
}

#[test]
fn dummy_hashes_are_valid_and_take_the_users_cost() {
    let users: BTreeMap<String, String> =
        [("a", "$2y$12$x"), ("b", "$2y$12$y"), ("c", "$2b$05$z")]
            .iter()
            .map(|(u, h)| (u.to_string(), h.to_string()))
            .collect();
    assert!(dummy_hash(&users).starts_with("$2b$12$"));
    assert!(dummy_hash(&BTreeMap::new()).starts_with("$2b$10$"));
    let cheap = format!("$2b$04${DUMMY_HASH_BODY}");
    assert_eq!(check_bcrypt(&cheap), Ok(()));
    assert_eq!(bcrypt::verify("", &cheap).ok(), Some(false));
}

#[test]
fn headers_are_limited_to_exporter_toolkits_set() {
    let p = pki();
    let c = p
        .parse(
            "http_server_config:\n  http2: false\n  headers:\n    Strict-Transport-Security: max-age=31536000; includeSubDomains\n    \
             X-Frame-Options: deny\n    X-Content-Type-Options: nosniff\n    X-XSS-Protection: 1\n    Content-Security-Policy: default-src 'self'\n",
        )
        .unwrap();
    assert!(!c.http2());
    let got: Vec<_> = c
        .headers()
        .iter()
        .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap()))
        .collect();
    assert_eq!(got.len(), 5);
    assert!(got.contains(&"x-frame-options: deny".to_owned()), "{got:?}");
    assert!(got.contains(&"x-xss-protection: 1".to_owned()), "{got:?}");
    let e = p.error("http_server_config:\n  headers:\n    X-Powered-By: me\n");
    assert!(
        e.contains("HTTP header \"X-Powered-By\" can not be configured"),
        "{e}"
    );
    let e = p.error("http_server_config:\n  headers:\n    X-Frame-Options: allow\n");
    assert!(e.contains("invalid value for X-Frame-Options"), "{e}");
    let e = p.error("http_server_config:\n  headers:\n    X-Content-Type-Options: sniff\n");
    assert!(
        e.contains("invalid value for X-Content-Type-Options"),
        "{e}"
    );
}

#[test]
fn rate_limit_and_go_durations() {
    let p = pki();
    let c = p
        .parse("rate_limit:\n  burst: 2\n  interval: 1m30s\n")
        .unwrap();
    assert_eq!(
        c.rate_limit(),
        Some(RateLimit {
            interval: Duration::from_secs(90),
            burst: 2
        })
    );
    assert_eq!(
        p.parse("rate_limit:\n  burst: 2\n").unwrap().rate_limit(),
        None
    );
    assert!(p
        .error("rate_limit:\n  interval: soon\n")
        .contains("not a duration"));
    assert_eq!(crate::duration::parse("300ms"), Some(Duration::from_millis(300)));
    assert_eq!(crate::duration::parse("1.5h"), Some(Duration::from_secs(5400)));
    assert_eq!(crate::duration::parse("0"), Some(Duration::ZERO));
    assert_eq!(crate::duration::parse("10"), None);
    assert_eq!(crate::duration::parse("-1s"), None);
    assert_eq!(crate::duration::parse(""), None);

    let now = Instant::now();
    let mut b = Bucket::new(
        RateLimit {
            interval: Duration::from_secs(1),
            burst: 2,
        },
        now,
    );
    assert!(b.allow(now) && b.allow(now) && !b.allow(now));
    assert!(b.allow(now + Duration::from_secs(1)));
    assert!(!b.allow(now + Duration::from_secs(1)));
}

#[test]
fn basic_auth_headers() {
    let h = |s: &str| HeaderValue::from_str(s).unwrap();
    // "alice:pa:ss" — the password may hold colons.
    assert_eq!(
        parse_basic_auth(&h("Basic YWxpY2U6cGE6c3M=")),
        Some(("alice".into(), b"pa:ss".to_vec()))
    );
    assert_eq!(
        parse_basic_auth(&h("basic   YWxpY2U6cGE6c3M=")),
        Some(("alice".into(), b"pa:ss".to_vec()))
    );
    assert_eq!(parse_basic_auth(&h("Bearer YWxpY2U6cGE6c3M=")), None);
    assert_eq!(parse_basic_auth(&h("Basic !!!")), None);
    // "alice" without a colon.
    assert_eq!(parse_basic_auth(&h("Basic YWxpY2U=")), None);
    assert_eq!(parse_basic_auth(&h("Basic")), None);
}

fn basic(user: &str, password: &str) -> HeaderValue {
    use base64::Engine as _;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    HeaderValue::from_str(&format!("Basic {token}")).unwrap()
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn only_the_right_password_passes_cached_or_not() {
    let p = pki();
    let alice = hash("alice-pw");
    let path = p.dir.path().join("web.yml");
    std::fs::write(
        &path,
        format!(
            "basic_auth_users:\n  alice: {alice}\n  bob: {}\n",
            hash("bob-pw")
        ),
    )
    .unwrap();
    let live = Live::new(&path, WebConfig::load(&path).unwrap());
    let c = live.current();
    block_on(async {
        assert!(!live.authorize(&c, None).await);
        assert!(live.authorize(&c, Some(&basic("alice", "alice-pw"))).await);
        // Now cached: a wrong password still fails, as does another user's.
        assert!(live.authorize(&c, Some(&basic("alice", "alice-pw"))).await);
        assert!(!live.authorize(&c, Some(&basic("alice", "alice-pw "))).await);
        assert!(!live.authorize(&c, Some(&basic("alice", ""))).await);
        assert!(!live.authorize(&c, Some(&basic("bob", "alice-pw"))).await);
        assert!(live.authorize(&c, Some(&basic("bob", "bob-pw"))).await);
        assert!(
            !live
                .authorize(&c, Some(&basic("mallory", "alice-pw")))
                .await
        );
        // CVE-2022-46146's shape: user and hash run together must not
        // meet a cached entry of another split.
        assert!(
            !live
                .authorize(&c, Some(&basic(&format!("alice{alice}"), "alice-pw")))
                .await
        );
        assert!(
            !live
                .authorize(&c, Some(&basic("alice", &format!("{alice}alice-pw"))))
                .await
        );
    });
    assert_eq!(lock(&live.verified).len(), 2);
}

#[test]
fn reload_takes_good_files_and_keeps_the_last_good_one() {
    let p = pki();
    let path = p.dir.path().join("web.yml");
    std::fs::write(
        &path,
        format!("basic_auth_users:\n  alice: {}\n", hash("one")),
    )
    .unwrap();
    let live = Live::new(&path, WebConfig::load(&path).unwrap());
    block_on(async {
        assert!(
            live.authorize(&live.current(), Some(&basic("alice", "one")))
                .await
        )
    });
    // Within a second of the last look nothing is read.
    std::fs::write(
        &path,
        format!("basic_auth_users:\n  alice: {}\n", hash("two")),
    )
    .unwrap();
    assert_eq!(live.check_for_changes(), Reload::Unchanged);
    lock(&live.watch).last_check = None;
    assert_eq!(live.check_for_changes(), Reload::Reloaded);
    block_on(async {
        let c = live.current();
        assert!(!live.authorize(&c, Some(&basic("alice", "one"))).await);
        assert!(live.authorize(&c, Some(&basic("alice", "two"))).await);
    });
    // A broken file is refused once and the previous configuration stays.
    std::fs::write(&path, "basic_auth_users:\n  alice: not-a-hash\n").unwrap();
    lock(&live.watch).last_check = None;
    assert_eq!(live.check_for_changes(), Reload::Kept);
    lock(&live.watch).last_check = None;
    assert_eq!(live.check_for_changes(), Reload::Unchanged);
    assert_eq!(live.reload("SIGHUP"), Reload::Kept);
    block_on(async {
        assert!(
            live.authorize(&live.current(), Some(&basic("alice", "two")))
                .await
        )
    });
    // A removed file is a broken one too.
    std::fs::remove_file(&path).unwrap();
    lock(&live.watch).last_check = None;
    assert_eq!(live.check_for_changes(), Reload::Kept);
    assert_eq!(live.current().user_count(), 1);
    // Fixed again: taken.
    std::fs::write(&path, "").unwrap();
    lock(&live.watch).last_check = None;
    assert_eq!(live.check_for_changes(), Reload::Reloaded);
    assert_eq!(live.current().user_count(), 0);
}

#[test]
fn a_changed_certificate_file_is_reloaded() {
    let p = pki();
    let path = p.dir.path().join("web.yml");
    std::fs::write(
        &path,
        "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n",
    )
    .unwrap();
    let live = Live::new(&path, WebConfig::load(&path).unwrap());
    // The key replaced by one that does not match: kept.
    std::fs::copy(
        p.dir.path().join("other.key"),
        p.dir.path().join("server.key"),
    )
    .unwrap();
    lock(&live.watch).last_check = None;
    assert_eq!(live.check_for_changes(), Reload::Kept);
    assert!(live.current().tls().is_some());
}

#[test]
fn named_files_must_be_regular_and_small() {
    let dir = tempfile::tempdir().unwrap();
    assert!(read_bounded(Path::new("/dev/zero")).is_err(), "a device is not a certificate");
    assert!(read_bounded(dir.path()).is_err(), "a directory is not a certificate");
    let big = dir.path().join("big.pem");
    std::fs::write(&big, vec![b'a'; (MAX_NAMED_FILE + 1) as usize]).unwrap();
    assert!(read_bounded(&big).unwrap_err().to_string().contains("1 MiB"));
    let ok = dir.path().join("ok.pem");
    std::fs::write(&ok, b"pem").unwrap();
    assert_eq!(read_bounded(&ok).unwrap(), b"pem");
}
