//! Serving: logs set up, the catalog loaded, every listener bound, the
//! catalog file watched, then the servers run until a signal.

use super::config::{setting, Config, LogFormat, EXIT_USAGE};
use super::reload;
use crate::catalog::{Catalog, SharedCatalog};
use crate::server::{self, Listeners, ServerConfig};
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::process::ExitCode;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

/// Serves until a shutdown signal, then drains; the exit code says how it
/// went.
pub(super) async fn serve(config: Config) -> ExitCode {
    let filter = match EnvFilter::try_new(&config.log) {
        Ok(filter) => filter,
        Err(err) => {
            eprintln!("errmap: invalid {} {:?}: {err}", setting("log"), config.log);
            return ExitCode::from(EXIT_USAGE as u8);
        }
    };
    let logs = tracing_subscriber::fmt().with_env_filter(filter);
    match config.log_format {
        LogFormat::Text => logs.with_ansi(std::io::stdout().is_terminal()).init(),
        LogFormat::Json => logs.json().flatten_event(true).init(),
    }

    let catalog = match super::cli::load_catalog(config.catalog.as_deref()) {
        Ok(catalog) => catalog,
        Err(err) => {
            tracing::error!("no catalog to serve ({}): {err}", setting("catalog"));
            return ExitCode::FAILURE;
        }
    };
    let shutdown = super::signals::shutdown_signal();
    let Some(listeners) = bind(&config).await else {
        return ExitCode::FAILURE;
    };
    log_addresses(&listeners, &catalog);
    tracing::info!(
        "runtime: {}",
        super::runtime::describe(config.worker_threads)
    );
    let server_config = ServerConfig {
        shutdown_delay: *config.shutdown_delay,
        shutdown_grace: *config.shutdown_grace,
        service: config.service_options(),
        limits: config.limits(),
        ext_proc: config.ext_proc(),
    };
    let shared = SharedCatalog::new(catalog);
    if let Some(path) = config.catalog.clone() {
        tokio::spawn(reload::watch(path, shared.clone(), *config.catalog_poll));
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
    let grpc = bind_one(config.listen, "listen").await?;
    let admin = match config.admin_listen.addr() {
        Some(addr) => Some(bind_one(addr, "admin_listen").await?),
        None => None,
    };
    let http = match config.http_listen.addr() {
        Some(addr) => Some(bind_one(addr, "http_listen").await?),
        None => None,
    };
    let ext_proc = match config.ext_proc_listen.addr() {
        Some(addr) => Some(bind_one(addr, "ext_proc_listen").await?),
        None => None,
    };
    Some(Listeners {
        grpc,
        admin,
        http,
        ext_proc,
    })
}

/// Binds the address of the setting `id`.
async fn bind_one(addr: SocketAddr, id: &str) -> Option<TcpListener> {
    match TcpListener::bind(addr).await {
        Ok(listener) => Some(listener),
        Err(err) => {
            tracing::error!("cannot listen on {addr} ({}): {err}", setting(id));
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
    if let Some(ext_proc) = &listeners.ext_proc {
        tracing::info!("ext_proc listening on {}", address(ext_proc));
    }
}
