//! The `homelab-exporter` binary: parses the command line, then serves,
//! checks the configuration or runs a generator.

use std::process::ExitCode;

use homelab_exporter::cli::CliError;
use homelab_exporter::collector::Probe;
use homelab_exporter::registry::{self, parse_settings, Settings};
use homelab_exporter::scrape::Engine;
use homelab_exporter::server::{parse_listen_address, Server};
use homelab_exporter::webconfig::{Live, WebConfig};

/// The static (musl) builds, which the container and the Raspberry Pi
/// binaries are, allocate with dlmalloc (a Rust port: no C to
/// cross-compile): musl's own malloc takes a lock the scrape's worker
/// threads contend for and returns memory to the kernel eagerly (`munmap`,
/// a TLB shootdown on every core). glibc builds keep glibc's malloc.
/// The measurements: benches/RESULTS.md, "Measurements behind the code".
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("serve") => run_serve(&args[1..]),
        Some("check-config") => run_check_config(&args[1..]),
        Some("healthcheck") => run_healthcheck(&args[1..]),
        Some("rules") => run_rules(&args[1..]),
        Some("dashboards") => run_dashboards(&args[1..]),
        Some("targets") => run_targets(&args[1..]),
        _ => run_serve(&args),
    }
}

/// Parses settings, printing the error and choosing the exit status.
fn settings_or_exit(args: &[String]) -> Result<Settings, ExitCode> {
    match parse_settings(args) {
        Ok(s) => Ok(s),
        Err(CliError::Clap(e)) => {
            let _ = e.print();
            Err(ExitCode::from(if e.use_stderr() { 2 } else { 0 }))
        }
        Err(e) => {
            eprintln!("error: {e}");
            Err(ExitCode::from(2))
        }
    }
}

fn run_serve(args: &[String]) -> ExitCode {
    let settings = match settings_or_exit(args) {
        Ok(s) => s,
        Err(code) => return code,
    };
    init_logging(&settings);
    let (engine, probe) = match registry::engine(&settings).and_then(|e| Ok((e, registry::probe(&settings)?))) {
        Ok(built) => built,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    log_start(&engine);
    let web = match load_web_config(&settings) {
        Ok(w) => w,
        Err(code) => return code,
    };
    match serve(settings, engine, probe, web) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Reads and checks `--web.config.file`, printing the error (exit status 2)
/// when it is refused.
fn load_web_config(settings: &Settings) -> Result<Option<(std::path::PathBuf, WebConfig)>, ExitCode> {
    let Some(path) = &settings.flags.web_config_file else {
        return Ok(None);
    };
    match WebConfig::load(path) {
        Ok(c) => Ok(Some((path.clone(), c))),
        Err(e) => {
            eprintln!("error: {e}");
            Err(ExitCode::from(2))
        }
    }
}

/// Arguments of the generator subcommands.
#[derive(Debug, clap::Parser)]
struct GeneratorArgs {
    /// The inventory file (tiers, nodes, services, backups, UPSes).
    #[arg(long)]
    inventory: std::path::PathBuf,
    /// Directory to write into (created if missing).
    #[arg(long)]
    out: Option<std::path::PathBuf>,
}

fn generator_args(name: &str, args: &[String]) -> Result<GeneratorArgs, ExitCode> {
    use clap::Parser;
    GeneratorArgs::try_parse_from(std::iter::once(format!("homelab-exporter {name}")).chain(args.iter().cloned())).map_err(|e| {
        let _ = e.print();
        ExitCode::from(if e.use_stderr() { 2 } else { 0 })
    })
}

/// `rules --inventory FILE --out DIR`: Prometheus rules, promtool tests,
/// Alertmanager configuration and the textfile guide.
fn run_rules(args: &[String]) -> ExitCode {
    run_writer("rules", args, |inv, out| homelab_rules::generate(inv, out).map_err(|e| e.to_string()))
}

/// `dashboards --inventory FILE --out DIR`: Grafana dashboards and their
/// provisioning files.
fn run_dashboards(args: &[String]) -> ExitCode {
    run_writer("dashboards", args, |inv, out| homelab_dashboards::generate(inv, out).map_err(|e| e.to_string()))
}

/// A generator that writes files from the inventory into `--out`: exit 2
/// for a bad command line or inventory, 1 when writing fails.
fn run_writer(
    name: &str,
    args: &[String],
    generate: impl Fn(&homelab_rules::Inventory, &std::path::Path) -> Result<Vec<std::path::PathBuf>, String>,
) -> ExitCode {
    let a = match generator_args(name, args) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let Some(out) = a.out else {
        eprintln!("error: {name} needs --out DIR");
        return ExitCode::from(2);
    };
    let inventory = match homelab_rules::load_inventory(&a.inventory) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match generate(&inventory, &out) {
        Ok(files) => {
            for f in files {
                println!("wrote {}", f.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// `targets --inventory FILE`: Prometheus file_sd JSON on stdout.
fn run_targets(args: &[String]) -> ExitCode {
    let a = match generator_args("targets", args) {
        Ok(a) => a,
        Err(code) => return code,
    };
    match homelab_rules::load_inventory(&a.inventory) {
        Ok(inv) => {
            use std::io::Write;
            let json = homelab_rules::file_sd_targets(&inv);
            let text = serde_json::to_string_pretty(&json).unwrap_or_default();
            match writeln!(std::io::stdout().lock(), "{text}") {
                Ok(()) => ExitCode::SUCCESS,
                // `targets | head`: the reader has what it wanted.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: writing the targets: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// `check-config`: everything `serve` checks before it starts, then exit.
fn run_check_config(args: &[String]) -> ExitCode {
    let settings = match settings_or_exit(args) {
        Ok(s) => s,
        Err(code) => return code,
    };
    // Warnings found while checking (a secret file every user may read) are logged.
    init_logging(&settings);
    if let Err(e) = registry::engine(&settings).and_then(|_| registry::probe(&settings)) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    for address in &settings.flags.listen_address {
        if let Err(e) = parse_listen_address(address) {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    }
    match load_web_config(&settings) {
        Ok(Some((path, web))) => println!(
            "web configuration OK: {}: TLS {}, {} basic-auth user(s)",
            path.display(),
            if web.tls().is_some() { "on" } else { "off" },
            web.user_count()
        ),
        Ok(None) => {}
        Err(code) => return code,
    }
    println!("configuration OK: collectors {}", settings.enabled.join(", "));
    ExitCode::SUCCESS
}

/// `healthcheck`: asks the local exporter's `/-/healthy` (for container
/// images that have no shell and no curl). Exit 0 when healthy.
///
/// With `--web.config.file` it speaks TLS when the server does, trusting
/// exactly the server's own certificate from that file, and takes a 401
/// (basic auth on, and the healthcheck knows no password) as proof that
/// the server answers. A server that requires client certificates cannot
/// be checked this way.
fn run_healthcheck(args: &[String]) -> ExitCode {
    use std::io::{Read, Write};
    use std::time::Duration;
    // With no arguments (an image's HEALTHCHECK), check the server with the
    // arguments it was started with: its listen address, its web config.
    let found: Vec<String>;
    let args = if args.is_empty() {
        found = homelab_exporter::peer::serving_args(std::path::Path::new("/proc")).unwrap_or_default();
        &found[..]
    } else {
        args
    };
    let settings = match settings_or_exit(args) {
        Ok(s) => s,
        Err(code) => return code,
    };
    // The first address: the one a healthcheck of the same flags can reach.
    let first = settings.flags.listen_address.first().map(String::as_str).unwrap_or_default();
    let Ok(mut addr) = parse_listen_address(first) else {
        eprintln!("unhealthy: bad --web.listen-address");
        return ExitCode::from(1);
    };
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let web = match &settings.flags.web_config_file {
        Some(path) => match WebConfig::load(path) {
            Ok(w) => Some(w),
            Err(e) => {
                eprintln!("unhealthy: {e}");
                return ExitCode::from(1);
            }
        },
        None => None,
    };
    if web.as_ref().is_some_and(WebConfig::requires_client_cert) {
        eprintln!("unhealthy: the web configuration requires client certificates, which the healthcheck does not have");
        return ExitCode::from(1);
    }
    let tls = web.as_ref().and_then(WebConfig::self_client);
    let auth_on = web.as_ref().is_some_and(|w| w.user_count() > 0);
    let check = || -> std::io::Result<bool> {
        let s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(3))?;
        s.set_read_timeout(Some(Duration::from_secs(3)))?;
        s.set_write_timeout(Some(Duration::from_secs(3)))?;
        let request = b"GET /-/healthy HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
        let mut head = [0u8; 16];
        let n = match tls.clone() {
            None => {
                let mut s = s;
                s.write_all(request)?;
                s.read(&mut head)?
            }
            Some(config) => {
                let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
                let conn = rustls::ClientConnection::new(config, name).map_err(std::io::Error::other)?;
                let mut s = rustls::StreamOwned::new(conn, s);
                s.write_all(request)?;
                s.read(&mut head)?
            }
        };
        let head = head.get(..n).unwrap_or_default();
        Ok(head.starts_with(b"HTTP/1.1 200") || (auth_on && head.starts_with(b"HTTP/1.1 401")))
    };
    match check() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("unhealthy: {addr} did not answer 200");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("unhealthy: {addr}: {e}");
            ExitCode::from(1)
        }
    }
}

fn init_logging(settings: &Settings) {
    use homelab_exporter::log::{Format, Promslog};
    let level = match settings.flags.log_level.as_str() {
        "debug" => tracing::Level::DEBUG,
        "warn" => tracing::Level::WARN,
        "error" => tracing::Level::ERROR,
        _ => tracing::Level::INFO,
    };
    let format = if settings.flags.log_format == "json" { Format::Json } else { Format::Logfmt };
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .event_format(Promslog(format))
        .init();
    for warning in &settings.warnings {
        tracing::warn!("{warning}");
    }
}

/// The start-up lines: what runs, and for each collector what it does and why.
fn log_start(engine: &Engine) {
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        revision = option_env!("HOMELAB_REVISION").unwrap_or("unknown"),
        platform = %format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH),
        "Starting homelab-exporter"
    );
    let running: Vec<&str> = engine.running().collect();
    tracing::info!(collectors = ?running, "Enabled collectors");
    for name in &running {
        tracing::info!(collector = name, state = "enabled", "collector");
    }
    for other in engine.not_running() {
        // Switched-off collectors are listed at debug level: there are dozens.
        if other.state == homelab_exporter::scrape::Standing::Disabled {
            tracing::debug!(collector = other.name, state = other.state.as_str(), reason = %other.reason, "collector");
        } else {
            tracing::info!(collector = other.name, state = other.state.as_str(), reason = %other.reason, "collector");
        }
    }
}

fn serve(
    settings: Settings,
    engine: Engine,
    probe: Option<std::sync::Arc<dyn Probe>>,
    web: Option<(std::path::PathBuf, WebConfig)>,
) -> anyhow::Result<()> {
    let addresses = settings.flags.listen_address.iter().map(|a| parse_listen_address(a)).collect::<Result<Vec<_>, _>>()?;
    // One current-thread runtime: a Pi has few cores and scrapes are rare.
    // Host collectors block on file reads, so they go to the blocking pool,
    // of four threads: each thread that allocates gets its own glibc malloc
    // arena, and more threads cost resident memory without lowering latency
    // (benches/RESULTS.md). statfs, the one call that can hang, runs on its
    // own threads.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(4)
        .thread_keep_alive(std::time::Duration::from_secs(60))
        .build()?;
    runtime.block_on(async move {
        let web = web.map(|(path, config)| {
            tracing::info!(
                file = %path.display(),
                tls = config.tls().is_some(),
                basic_auth_users = config.user_count(),
                "web configuration loaded"
            );
            Live::new(&path, config)
        });
        // SIGHUP re-reads the web configuration. Its handler is in place
        // before the port opens, so a SIGHUP never finds the default action
        // (which ends the process).
        if let Some(web) = &web {
            let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
            let web = web.clone();
            tokio::spawn(async move {
                while hangup.recv().await.is_some() {
                    web.reload("SIGHUP");
                }
            });
        }
        let mut listeners = Vec::with_capacity(addresses.len());
        for addr in addresses {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| homelab_exporter::server::ServeError::Bind { addr: addr.to_string(), source })?;
            tracing::info!(address = %listener.local_addr()?, "Listening on");
            listeners.push(listener);
        }
        let server = Server::new(engine, settings.flags.telemetry_path.clone(), settings.flags.max_requests, web, probe);
        server.run_all(listeners, shutdown_signal()).await;
        Ok(())
    })
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let ctrl_c = tokio::signal::ctrl_c();
    match term {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = ctrl_c => {}
            }
        }
        Err(_) => {
            let _ = ctrl_c.await;
        }
    }
}
