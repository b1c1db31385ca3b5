//! The `homelab-exporter` binary: parses the command line and serves.

use std::process::ExitCode;

use homelab_exporter::cli::{parse_settings, CliError, Settings};
use homelab_exporter::scrape::Engine;
use homelab_exporter::server::{parse_listen_address, Server};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args = match args.first().map(String::as_str) {
        Some("serve") => args[1..].to_vec(),
        _ => args,
    };
    let settings = match parse_settings(&args) {
        Ok(s) => s,
        Err(CliError::Clap(e)) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
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
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(16)
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
