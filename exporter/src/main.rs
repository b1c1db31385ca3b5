//! The `homelab-exporter` binary: parses the command line, then serves,
//! checks the configuration or runs a generator.

use std::process::ExitCode;

use homelab_exporter::cli::{parse_settings, CliError, Settings};
use homelab_exporter::scrape::Engine;
use homelab_exporter::server::{parse_listen_address, Server};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("serve") => run_serve(&args[1..]),
        Some("check-config") => run_check_config(&args[1..]),
        Some("healthcheck") => run_healthcheck(&args[1..]),
        Some("rules") => run_rules(&args[1..]),
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
    let engine = match Engine::new(&settings) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match serve(settings, engine) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
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
    let a = match generator_args("rules", args) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let Some(out) = a.out else {
        eprintln!("error: rules needs --out DIR");
        return ExitCode::from(2);
    };
    let inventory = match homelab_rules::load_inventory(&a.inventory) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match homelab_rules::generate(&inventory, &out) {
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
            let json = homelab_rules::file_sd_targets(&inv);
            println!("{}", serde_json::to_string_pretty(&json).unwrap_or_default());
            ExitCode::SUCCESS
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
    if let Err(e) = Engine::new(&settings) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    if let Err(e) = parse_listen_address(&settings.flags.listen_address) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    println!("configuration OK: collectors {}", settings.enabled.join(", "));
    ExitCode::SUCCESS
}

/// `healthcheck`: asks the local exporter's `/-/healthy` (for container
/// images that have no shell and no curl). Exit 0 when healthy.
fn run_healthcheck(args: &[String]) -> ExitCode {
    use std::io::{Read, Write};
    use std::time::Duration;
    let settings = match settings_or_exit(args) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let Ok(mut addr) = parse_listen_address(&settings.flags.listen_address) else {
        eprintln!("unhealthy: bad --web.listen-address");
        return ExitCode::from(1);
    };
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let check = || -> std::io::Result<bool> {
        let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(3))?;
        s.set_read_timeout(Some(Duration::from_secs(3)))?;
        s.write_all(b"GET /-/healthy HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
        let mut head = [0u8; 16];
        let n = s.read(&mut head)?;
        Ok(head[..n].starts_with(b"HTTP/1.1 200"))
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
    let level = match settings.flags.log_level.as_str() {
        "debug" => tracing::Level::DEBUG,
        "warn" => tracing::Level::WARN,
        "error" => tracing::Level::ERROR,
        _ => tracing::Level::INFO,
    };
    let builder = tracing_subscriber::fmt().with_max_level(level).with_writer(std::io::stderr).with_ansi(false);
    if settings.flags.log_format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn serve(settings: Settings, engine: Engine) -> anyhow::Result<()> {
    let addr = parse_listen_address(&settings.flags.listen_address)?;
    // One current-thread runtime: a Pi has few cores and scrapes are rare.
    // Host collectors block on file reads, so they go to the blocking pool.
    // Four blocking threads, not tokio's 512 or our earlier 16: each thread
    // that allocates gets its own glibc malloc arena, and 16 of them cost
    // ~4 MiB of steady RSS for no gain in latency (benches/RESULTS.md: 16
    // threads 10.9 MiB / 2.15 ms median, 4 threads 6.9 MiB / 1.74 ms).
    // statfs, the one call that can hang, runs on its own threads.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(4)
        .thread_keep_alive(std::time::Duration::from_secs(60))
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|source| {
            homelab_exporter::server::ServeError::Bind { addr: addr.to_string(), source }
        })?;
        tracing::info!(address = %listener.local_addr()?, collectors = ?settings.enabled, "listening");
        let server = Server::new(engine, settings.flags.telemetry_path.clone(), settings.flags.max_requests);
        server.run(listener, shutdown_signal()).await;
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
