//! NUT: upsd's replies. The first byte picks a mode.
//!
//! - Lines (even): every line goes through the reply parsers (`split_words`,
//!   `LIST UPS` and `LIST VAR` items, `ERR` codes, the `VER` banner, value
//!   conversions); the `VAR` lines found make one UPS whose series must
//!   encode to valid exposition text, in both name sets.
//! - Session (odd): the rest of the input is everything a fake upsd on
//!   loopback answers to the real collector (banner, `LIST UPS`, one
//!   `LIST VAR` per UPS, in order), so line framing, list framing, limits
//!   and the metric mapping run as in a scrape. Bit 1 of the first byte
//!   turns on `USERNAME`/`PASSWORD` and the Go exporter's names.

#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use homelab_exporter::collector::{Collector, Scrape};
use homelab_exporter::metrics::Snapshot;
use homelab_exporter::nut::emit::{emit_server, emit_ups, UpsData};
use homelab_exporter::nut::parse;
use homelab_fuzz::{build, check_exposition, settings, text, Tree};
use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::runtime::Runtime;

struct Harness {
    runtime: Runtime,
    listener: TcpListener,
    /// (plain, authenticated with raw names).
    collectors: [Collector; 2],
}

fn harness() -> &'static Harness {
    static H: OnceLock<Harness> = OnceLock::new();
    H.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("runtime: {e}"));
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let port = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("local_addr: {e}"))
            .port();
        let tree = Tree::new("nut");
        tree.write("password", b"secret\n");
        let target = format!("--collector.nut.target=127.0.0.1:{port}");
        let plain = settings(&[target.clone(), "--collector.nut.timeout=2s".into()]);
        let auth = settings(&[
            target,
            "--collector.nut.timeout=2s".into(),
            "--collector.nut.raw".into(),
            "--collector.nut.username=monitor".into(),
            format!(
                "--collector.nut.password-file={}",
                tree.path("password").display()
            ),
        ]);
        let collectors = [build("nut", &plain), build("nut", &auth)];
        Harness {
            runtime,
            listener,
            collectors,
        }
    })
}

/// One upsd connection: the whole answer at once, then the commands are
/// drained until the client hangs up (bounded in time).
async fn serve_one(listener: &TcpListener, answer: &[u8]) {
    let Ok(Ok((mut stream, _))) =
        tokio::time::timeout(Duration::from_secs(5), listener.accept()).await
    else {
        return;
    };
    let _ = stream.write_all(answer).await;
    let _ = stream.shutdown().await;
    let mut sink = [0u8; 4096];
    let drain = async {
        while let Ok(n) = stream.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), drain).await;
}

fn session(mode: u8, answer: &[u8]) {
    let h = harness();
    let collector = &h.collectors[usize::from(mode & 2 != 0)];
    let Collector::Async(c) = collector else {
        return;
    };
    let scrape = Scrape {
        deadline: std::time::Instant::now() + Duration::from_secs(10),
    };
    let mut out = Snapshot::new();
    let result = h.runtime.block_on(async {
        let server = serve_one(&h.listener, answer);
        let client = c.gather(&scrape, &mut out);
        let (_, result) = tokio::join!(server, client);
        result
    });
    if let Err(e) = result {
        let _ = e.to_string();
    }
    // A failed NUT scrape still exposes what it gathered (target_up 0).
    check_exposition(vec![out]);
}

fn lines(input: &str) {
    let mut vars = Vec::new();
    let mut description = String::new();
    let mut out = Snapshot::new();
    for line in input.lines() {
        if let Ok(words) = parse::split_words(line) {
            // A word never holds an unescaped separator of an unquoted word.
            assert!(words.len() <= line.len());
        }
        let _ = parse::err_code(line);
        if let Ok(entry) = parse::parse_ups_line(line) {
            assert!(parse::valid_name(&entry.name));
            description = entry.description;
        }
        if let Ok((name, value)) = parse::parse_var_line("ups", line) {
            assert!(parse::valid_name(&name));
            let _ = parse::number(&value);
            let _ = parse::raw_value(&value);
            let _ = parse::status_words(&value);
            vars.push((name, value));
        }
        let version = parse::parse_version(line);
        assert!(version.chars().count() <= 64);
        emit_server(&mut out, "127.0.0.1:3493", &version);
        let _ = parse::excerpt(line);
    }
    for raw in [false, true] {
        emit_ups(
            &mut out,
            &UpsData {
                label: "ups".into(),
                description: description.clone(),
                vars: Ok(vars.clone()),
            },
            raw,
        );
    }
    check_exposition(vec![out]);
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        lines(&text(rest));
    } else {
        session(mode, rest);
    }
});
