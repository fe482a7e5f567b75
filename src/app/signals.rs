//! The shutdown signals: SIGINT (Ctrl-C) and SIGTERM (what Kubernetes
//! sends).

use tokio::signal::unix::{signal, Signal, SignalKind};

/// Completes on SIGINT (Ctrl-C) or SIGTERM (what Kubernetes sends). The
/// handlers are installed here, before any address is logged, so a signal
/// sent as soon as errmap is seen listening still drains instead of killing.
pub(super) fn shutdown_signal() -> impl std::future::Future<Output = ()> {
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
