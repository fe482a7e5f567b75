#![forbid(unsafe_code)]

use errmap::catalog::SharedCatalog;
use errmap::config::{Command, Config};
use errmap::reload::{self, ReloadStats};
use errmap::server::{self, ServerConfig};
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::from_env_and_args();
    match &config.command {
        Some(Command::Catalog(command)) => return errmap::cli::catalog(&config, command),
        Some(Command::Resolve(command)) => return errmap::cli::resolve(&config, command),
        None => {}
    }
    let filter = match EnvFilter::try_new(&config.log) {
        Ok(filter) => filter,
        Err(err) => {
            eprintln!("errmap: invalid --log / ERRMAP_LOG {:?}: {err}", config.log);
            return ExitCode::from(64);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stdout().is_terminal())
        .init();

    let catalog = match errmap::cli::load_catalog(config.catalog.as_deref()) {
        Ok(catalog) => catalog,
        Err(err) => {
            tracing::error!("no catalog to serve (--catalog / ERRMAP_CATALOG): {err}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match TcpListener::bind(config.listen).await {
        Ok(listener) => listener,
        Err(err) => {
            tracing::error!(
                "cannot listen on {} (--listen / ERRMAP_LISTEN): {err}",
                config.listen
            );
            return ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(addr) => tracing::info!(
            entries = catalog.entries().len(),
            version = catalog.version(),
            "errmap listening on {addr}"
        ),
        Err(err) => tracing::warn!("listening, but the local address is unknown: {err}"),
    }
    let server_config = ServerConfig {
        shutdown_grace: config.shutdown_grace,
        service: config.service_options(),
    };
    let shared = SharedCatalog::new(catalog);
    if let Some(path) = config.catalog.clone() {
        let stats = Arc::new(ReloadStats::default());
        tokio::spawn(reload::watch(
            path,
            shared.clone(),
            config.catalog_poll,
            stats,
        ));
    }
    match server::run(listener, shared, server_config, shutdown_signal()).await {
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

/// Completes on SIGINT (Ctrl-C) or SIGTERM (what Kubernetes sends).
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::warn!("cannot listen for Ctrl-C: {err}");
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::warn!("cannot listen for SIGTERM: {err}");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => tracing::info!("received SIGINT"),
        () = term => tracing::info!("received SIGTERM"),
    }
}
