#![forbid(unsafe_code)]

use errmap::catalog::{Catalog, SharedCatalog};
use errmap::config::{Command, Config, LogFormat, EXIT_USAGE};
use errmap::reload;
use errmap::server::{self, Listeners, ServerConfig};
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::process::ExitCode;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, Signal, SignalKind};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let config = Config::from_env_and_args();
    match &config.command {
        Some(Command::Catalog(command)) => return errmap::cli::catalog(&config, command),
        Some(Command::Resolve(command)) => return errmap::cli::resolve(&config, command),
        None => {}
    }
    match errmap::runtime::build(config.worker_threads) {
        Ok(runtime) => runtime.block_on(serve(config)),
        Err(err) => {
            eprintln!("errmap: cannot start the runtime (--worker-threads / ERRMAP_WORKER_THREADS): {err}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> ExitCode {
    let filter = match EnvFilter::try_new(&config.log) {
        Ok(filter) => filter,
        Err(err) => {
            eprintln!("errmap: invalid --log / ERRMAP_LOG {:?}: {err}", config.log);
            return ExitCode::from(EXIT_USAGE as u8);
        }
    };
    let logs = tracing_subscriber::fmt().with_env_filter(filter);
    match config.log_format {
        LogFormat::Text => logs.with_ansi(std::io::stdout().is_terminal()).init(),
        LogFormat::Json => logs.json().flatten_event(true).init(),
    }

    let catalog = match errmap::cli::load_catalog(config.catalog.as_deref()) {
        Ok(catalog) => catalog,
        Err(err) => {
            tracing::error!("no catalog to serve (--catalog / ERRMAP_CATALOG): {err}");
            return ExitCode::FAILURE;
        }
    };
    let shutdown = shutdown_signal();
    let Some(listeners) = bind(&config).await else {
        return ExitCode::FAILURE;
    };
    log_addresses(&listeners, &catalog);
    tracing::info!(
        "runtime: {}",
        errmap::runtime::describe(config.worker_threads)
    );
    let server_config = ServerConfig {
        shutdown_delay: config.shutdown_delay,
        shutdown_grace: config.shutdown_grace,
        service: config.service_options(),
        limits: config.limits(),
    };
    let shared = SharedCatalog::new(catalog);
    if let Some(path) = config.catalog.clone() {
        tokio::spawn(reload::watch(path, shared.clone(), config.catalog_poll));
    }
    match server::run(listeners, shared, server_config, shutdown).await {
        Ok(stopped) => {
            tracing::info!(?stopped, "errmap stopped");
            ExitCode::SUCCESS
        }
        Err(err) => {
            tracing::error!("{err}");
            ExitCode::FAILURE
        }
    }
}

/// Binds every listener, or logs which one failed.
async fn bind(config: &Config) -> Option<Listeners> {
    let grpc = bind_one(config.listen, "--listen / ERRMAP_LISTEN").await?;
    let admin = match config.admin_listen.addr() {
        Some(addr) => Some(bind_one(addr, "--admin-listen / ERRMAP_ADMIN_LISTEN").await?),
        None => None,
    };
    let http = match config.http_listen.addr() {
        Some(addr) => Some(bind_one(addr, "--http-listen / ERRMAP_HTTP_LISTEN").await?),
        None => None,
    };
    Some(Listeners { grpc, admin, http })
}

async fn bind_one(addr: SocketAddr, setting: &str) -> Option<TcpListener> {
    match TcpListener::bind(addr).await {
        Ok(listener) => Some(listener),
        Err(err) => {
            tracing::error!("cannot listen on {addr} ({setting}): {err}");
            None
        }
    }
}

/// Logs each bound address; "errmap listening on" comes first, as scripts
/// wait for it.
fn log_addresses(listeners: &Listeners, catalog: &Catalog) {
    let address = |listener: &TcpListener| {
        listener.local_addr().map_or_else(
            |err| format!("an unknown address ({err})"),
            |a| a.to_string(),
        )
    };
    tracing::info!(
        entries = catalog.entries().len(),
        version = catalog.version(),
        "errmap listening on {}",
        address(&listeners.grpc)
    );
    if let Some(admin) = &listeners.admin {
        tracing::info!("admin listening on {}", address(admin));
    }
    if let Some(http) = &listeners.http {
        tracing::info!("http listening on {}", address(http));
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM (what Kubernetes sends). The
/// handlers are installed here, before any address is logged, so a signal
/// sent as soon as errmap is seen listening still drains instead of killing.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    let mut interrupt = listen_for(SignalKind::interrupt(), "SIGINT");
    let mut terminate = listen_for(SignalKind::terminate(), "SIGTERM");
    async move {
        tokio::select! {
            () = received(&mut interrupt) => tracing::info!("received SIGINT"),
            () = received(&mut terminate) => tracing::info!("received SIGTERM"),
        }
    }
}

fn listen_for(kind: SignalKind, name: &str) -> Option<Signal> {
    signal(kind)
        .inspect_err(|err| tracing::warn!("cannot listen for {name}: {err}"))
        .ok()
}

/// Completes when the signal arrives; never, if it cannot be listened for.
async fn received(signal: &mut Option<Signal>) {
    match signal {
        Some(signal) => {
            signal.recv().await;
        }
        None => std::future::pending().await,
    }
}
