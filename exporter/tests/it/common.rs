//! Helpers shared by the integration tests: start the exporter binary on a
//! free loopback port, fetch a path, parse exposition text.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The repository's folder of other projects' facts (`testdata/upstream`):
/// node_exporter's fixture tree and expected outputs, and the metric names
/// community dashboards query. Its README gives source, commit and licence.
pub fn upstream() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/upstream")
}

/// The metric names a community dashboard queries, from
/// `testdata/upstream/dashboard-names/<file>` (one per line; `#` comments).
pub fn dashboard_names(file: &str) -> std::collections::BTreeSet<String> {
    let path = upstream().join("dashboard-names").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_owned).collect()
}

/// node_exporter's fixture tree, ready to read: a copy of
/// `testdata/upstream/node_exporter` in the test target directory in which
/// the symbolic links are links. The repository stores each link of the
/// upstream archive as a small file holding the link's target
/// (`sys/class/net/eth0` holds `../../devices/...`, `proc/self` holds `10`);
/// collectors read sysfs through links, so the test restores them. A tree
/// that holds real links (another checkout of the same facts) is copied with
/// its links as they are. Built once per test process.
pub fn node_exporter_tree() -> PathBuf {
    static TREE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    TREE.get_or_init(|| {
        let src = upstream().join("node_exporter");
        let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        // Copies left by earlier test processes that are gone.
        for e in std::fs::read_dir(&tmp).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if let Some(pid) = name.strip_prefix("node_exporter-oracle-") {
                if !std::path::Path::new("/proc").join(pid).exists() {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let dst = tmp.join(format!("node_exporter-oracle-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dst);
        copy_restoring_links(&src, &dst);
        dst
    })
    .clone()
}

/// Copies `src` to `dst`, turning files that hold a link's target back into
/// links and copying real links as links (never following them).
pub fn copy_restoring_links(src: &std::path::Path, dst: &std::path::Path) {
    std::fs::create_dir_all(dst).unwrap();
    // Make the copy writable (a source tree may be read-only) so it can be removed.
    let mut perms = std::fs::metadata(dst).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    let _ = std::fs::set_permissions(dst, perms);
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let from = entry.path();
        let to = dst.join(entry.file_name());
        // DirEntry::metadata does not follow a link: a real link to a
        // directory is a link here, not a directory, and is not read.
        let meta = entry.metadata().unwrap();
        if meta.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&from).unwrap(), &to).unwrap();
            continue;
        }
        if meta.is_dir() {
            copy_restoring_links(&from, &to);
            continue;
        }
        if meta.len() < 512 {
            let content = std::fs::read(&from).unwrap();
            if let Ok(target) = std::str::from_utf8(&content) {
                let is_link = !target.is_empty()
                    && !target.contains('\n')
                    && (target.starts_with("../") || src.join(target).is_dir())
                    && src.join(target).exists();
                if is_link {
                    std::os::unix::fs::symlink(target, &to).unwrap();
                    continue;
                }
            }
        }
        std::fs::copy(&from, &to).unwrap();
        let mut perms = std::fs::metadata(&to).unwrap().permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perms.set_readonly(false);
        std::fs::set_permissions(&to, perms).unwrap();
    }
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A running exporter, killed when dropped.
pub struct Exporter {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Exporter {
    /// The process id of the running exporter.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits (bounded) for the exit status.
    pub fn terminate(mut self) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Starts the binary with these arguments and waits (bounded) until it answers.
    pub fn start(args: &[String]) -> Exporter {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_homelab-exporter"))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start homelab-exporter");
        let mut exporter = Exporter { child, port };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Some(status) = exporter.child.try_wait().unwrap() {
                let mut err = String::new();
                if let Some(mut e) = exporter.child.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                panic!("exporter exited early with {status}: {err}");
            }
            // Ready when the listening socket on the port is the child's own:
            // a connect alone may reach another process that took the port
            // between free_port() and the child's bind.
            if TcpStream::connect(("127.0.0.1", port)).is_ok() && listens(exporter.child.id(), port) {
                return exporter;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("exporter did not listen within 10 s");
    }

    /// GET `path` with extra headers; returns (status, headers, body).
    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> (u16, String, Vec<u8>) {
        http_get(self.port, path, headers)
    }

    /// The body of `/metrics` as text.
    pub fn metrics(&self) -> String {
        let (status, _, body) = self.get("/metrics", &[]);
        assert_eq!(status, 200);
        String::from_utf8(body).expect("utf-8 exposition")
    }
}

/// Whether process `pid` holds the socket listening on TCP `port` (its
/// open sockets against the LISTEN entries of /proc/net/tcp and tcp6).
pub fn listens(pid: u32, port: u16) -> bool {
    let want = format!(":{port:04X}");
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        for line in std::fs::read_to_string(table).unwrap_or_default().lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() > 9 && f[1].ends_with(&want) && f[3] == "0A" {
                inodes.push(format!("socket:[{}]", f[9]));
            }
        }
    }
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .any(|target| inodes.iter().any(|i| target.to_string_lossy() == *i))
}

/// A minimal HTTP/1.1 GET over a fresh connection with a 20 s bound.
pub fn http_get(port: u16, path: &str, headers: &[(&str, &str)]) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("header end");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let body = raw[split + 4..].to_vec();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head, body)
}

/// One parsed sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Metric name as written.
    pub name: String,
    /// Labels, sorted by name.
    pub labels: BTreeMap<String, String>,
    /// Value.
    pub value: f64,
}

/// Exposition text parsed into families: TYPE per family name and the
/// samples in file order. Enough for the tests; not a general parser.
#[derive(Debug, Default)]
pub struct Parsed {
    /// `# TYPE` of each family.
    pub types: BTreeMap<String, String>,
    /// `# HELP` of each family, unescaped.
    pub helps: BTreeMap<String, String>,
    /// Every sample.
    pub series: Vec<Series>,
}

impl Parsed {
    /// The family a sample belongs to (its name, or the name without a
    /// summary/histogram suffix when the family is declared so).
    pub fn family_of(&self, name: &str) -> String {
        for suffix in ["_bucket", "_sum", "_count"] {
            if let Some(stem) = name.strip_suffix(suffix) {
                if matches!(self.types.get(stem).map(String::as_str), Some("summary" | "histogram")) {
                    return stem.to_owned();
                }
            }
        }
        name.to_owned()
    }
}

/// Parses exposition text.
pub fn parse_exposition(text: &str) -> Parsed {
    let mut out = Parsed::default();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            out.helps.insert(name.to_owned(), help.replace("\\n", "\n").replace("\\\\", "\\"));
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut it = rest.split_whitespace();
            if let (Some(n), Some(t)) = (it.next(), it.next()) {
                out.types.insert(n.to_owned(), t.to_owned());
            }
            continue;
        }
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        out.series.push(parse_sample(line));
    }
    out
}

fn parse_sample(line: &str) -> Series {
    let (name, rest) = match line.find(['{', ' ']) {
        Some(i) => (&line[..i], &line[i..]),
        None => panic!("bad sample line {line:?}"),
    };
    let mut labels = BTreeMap::new();
    let mut rest = rest;
    if rest.starts_with('{') {
        let mut chars = rest[1..].char_indices();
        let mut key = String::new();
        let mut end = 0;
        loop {
            let Some((i, c)) = chars.next() else { panic!("unterminated labels in {line:?}") };
            match c {
                '}' => {
                    end = i + 2;
                    break;
                }
                ',' | ' ' => {}
                '=' => {
                    let mut value = String::new();
                    let _ = chars.next(); // opening quote
                    loop {
                        let (_, c) = chars.next().expect("label value");
                        match c {
                            '\\' => match chars.next().expect("escape").1 {
                                'n' => value.push('\n'),
                                other => value.push(other),
                            },
                            '"' => break,
                            other => value.push(other),
                        }
                    }
                    labels.insert(std::mem::take(&mut key), value);
                }
                other => key.push(other),
            }
            let _ = end;
        }
        rest = &rest[end..];
    }
    let value_text = rest.split_whitespace().next().unwrap_or_else(|| panic!("no value in {line:?}"));
    let value = match value_text {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        v => v.parse().unwrap_or_else(|_| panic!("bad value in {line:?}")),
    };
    Series { name: name.to_owned(), labels, value }
}

/// Runs `promtool check metrics` on `text`; returns its combined output and
/// whether it passed. Panics when promtool is missing.
pub fn promtool_check_metrics(text: &str) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool not found: install Debian's `prometheus` package (bash .ci/run does)");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), report)
}

/// Metric names the generated example rules and dashboards read (the
/// lists their drift tests commit), whose names start with `prefix`.
pub fn rule_metrics(prefix: &str) -> Vec<String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut names = std::collections::BTreeSet::new();
    for list in ["rules/examples/out/REFERENCED-METRICS.txt", "dashboards/examples/REFERENCED-METRICS.txt"] {
        let text = std::fs::read_to_string(root.join(list)).unwrap();
        names.extend(text.lines().filter(|l| l.starts_with(prefix)).map(str::to_owned));
    }
    names.into_iter().collect()
}
