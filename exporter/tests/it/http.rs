//! The HTTP server's limits: a client that dribbles its headers is cut off,
//! idle connections don't keep a scrape from being served, scrapes beyond
//! `--web.max-requests` get 503, metric paths take only GET and HEAD.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use crate::common::{http_get, Exporter};

fn loadavg_only() -> Vec<String> {
    vec!["--collector.disable-defaults".into(), "--collector.loadavg".into()]
}

/// Slowloris: one header byte a second. The server stops waiting for the
/// headers after its header read timeout (10 s) and closes the connection.
#[test]
fn client_sending_headers_one_byte_a_second_is_cut_off() {
    let exporter = Exporter::start(&loadavg_only());
    let mut s = TcpStream::connect(("127.0.0.1", exporter.port)).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
    let request = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let start = Instant::now();
    let mut cut_after = None;
    for b in request.iter() {
        if s.write_all(&[*b]).is_err() {
            cut_after = Some(start.elapsed());
            break;
        }
        // A closed connection shows as EOF on read before writes fail.
        s.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 256];
        let closed = matches!(s.read(&mut buf), Ok(0)) || matches!(s.read(&mut buf), Ok(n) if n > 0);
        s.set_nonblocking(false).unwrap();
        if closed {
            cut_after = Some(start.elapsed());
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "still connected after 20 s");
        std::thread::sleep(Duration::from_secs(1));
    }
    let cut = cut_after.expect("the dribbling client was never cut off");
    assert!(cut >= Duration::from_secs(9) && cut < Duration::from_secs(15), "cut off after {cut:?}");
    println!("slow client cut off after {cut:?}");
}

/// 200 connections that send nothing do not keep a real scrape from being served.
#[test]
fn two_hundred_idle_connections_do_not_block_a_scrape() {
    let exporter = Exporter::start(&loadavg_only());
    let idle: Vec<TcpStream> = (0..200).map(|_| TcpStream::connect(("127.0.0.1", exporter.port)).unwrap()).collect();
    let start = Instant::now();
    let (status, _, body) = http_get(exporter.port, "/metrics", &[]);
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).contains("node_load1 "));
    println!("scrape with 200 idle connections open: {:?}", start.elapsed());
    drop(idle);
}

/// With --web.max-requests=1, a scrape that arrives while another is in
/// flight is answered 503 at once. A NUT target that accepts and never
/// answers keeps the first scrape busy until its deadline.
#[test]
fn scrapes_beyond_the_in_flight_limit_get_503() {
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let holder = std::thread::spawn(move || {
        // Accept one or two connections and hold them, bounded.
        silent.set_nonblocking(true).unwrap();
        let mut held = Vec::new();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(8) {
            if let Ok((c, _)) = silent.accept() {
                held.push(c);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    let exporter = Exporter::start(&[
        "--collector.disable-defaults".into(),
        "--collector.nut".into(),
        format!("--collector.nut.target=127.0.0.1:{silent_port}"),
        "--web.max-requests=1".into(),
    ]);
    let port = exporter.port;
    let slow = std::thread::spawn(move || http_get(port, "/metrics", &[("X-Prometheus-Scrape-Timeout-Seconds", "3")]).0);
    std::thread::sleep(Duration::from_millis(500));
    let start = Instant::now();
    let (status, _, _) = http_get(port, "/metrics", &[]);
    assert_eq!(status, 503, "second scrape while the first is in flight");
    assert!(start.elapsed() < Duration::from_secs(1), "503 took {:?}", start.elapsed());
    assert_eq!(slow.join().unwrap(), 200, "the first scrape ends at its deadline with 200");
    let (status, _, _) = http_get(port, "/metrics", &[("X-Prometheus-Scrape-Timeout-Seconds", "1")]);
    assert_eq!(status, 200, "once the first scrape is done, scrapes are served again");
    drop(exporter);
    let _ = holder.join();
}

/// One request on a fresh connection; the status line, or what went wrong.
/// An empty answer (seen once under a loaded CI run) is tried again, at
/// most three times: the property under test is the status, not the socket.
fn status_line(port: u16, request: &str) -> String {
    let mut last = String::new();
    for _ in 0..3 {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        // read_to_end keeps what arrived even if the close ends in a reset.
        let mut raw = Vec::new();
        let read = s.read_to_end(&mut raw);
        let text = String::from_utf8_lossy(&raw).to_string();
        if let Some(line) = text.lines().next().filter(|l| !l.is_empty()) {
            return line.to_owned();
        }
        last = format!("empty answer ({read:?})");
        std::thread::sleep(Duration::from_millis(100));
    }
    last
}

/// Metric paths take GET and HEAD only.
#[test]
fn metrics_path_refuses_other_methods() {
    let exporter = Exporter::start(&loadavg_only());
    for method in ["POST", "PUT", "DELETE"] {
        let line = status_line(exporter.port, &format!("{method} /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"));
        assert!(line.starts_with("HTTP/1.1 405"), "{method}: {line}");
    }
    let line = status_line(exporter.port, "HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(line.starts_with("HTTP/1.1 200"), "HEAD: {line}");
}
