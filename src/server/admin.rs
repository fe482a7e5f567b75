//! The admin listener: probes and metrics for the platform, apart from the
//! API. One port speaks both HTTP/1.1 and gRPC (h2c):
//!
//! - `GET /livez`: 200 "ok" while the process runs.
//! - `GET /readyz`: 200 once the catalog is loaded and the API accepts
//!   calls; 503 from the moment shutdown begins, and while the API
//!   listener is saturated (every connection busy at the cap).
//! - `GET /metrics`: Prometheus text format (see [`crate::metrics`]).
//! - `grpc.health.v1.Health`: the same statuses as on the API listener,
//!   with server reflection describing it, so `grpcurl` needs no files.
//!
//! Kubernetes probes belong here, not on the API listener: the kubelet
//! dials the pod IP, never loopback, while the API stays on 127.0.0.1 for
//! the pod's own containers. Binding this listener to `0.0.0.0:9090` exposes
//! only probes and metrics. `httpGet` probes on `/livez` and `/readyz` and
//! `grpc` probes work alike: both turn unready the moment shutdown begins.

use super::saturation::Saturation;
use crate::catalog::SharedCatalog;
use crate::metrics::{self, Metrics};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use tonic::service::Routes;

/// Where the server is in its life, as `/readyz` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Starting,
    Serving,
    Draining,
}

/// The server's [`Phase`], shared between the server and the probes.
#[derive(Debug, Clone, Default)]
pub struct Readiness(Arc<AtomicU8>);

impl Readiness {
    pub fn set(&self, phase: Phase) {
        self.0.store(phase as u8, Ordering::SeqCst);
    }

    pub fn phase(&self) -> Phase {
        match self.0.load(Ordering::SeqCst) {
            p if p == Phase::Serving as u8 => Phase::Serving,
            p if p == Phase::Draining as u8 => Phase::Draining,
            _ => Phase::Starting,
        }
    }
}

#[derive(Debug, Clone)]
struct AdminState {
    readiness: Readiness,
    saturation: Saturation,
    catalog: SharedCatalog,
    metrics: Arc<Metrics>,
}

/// The admin routes, with the gRPC services of `grpc` (health, and
/// reflection over it so grpcurl works here too) served beside them.
pub fn router(
    grpc: Routes,
    readiness: Readiness,
    saturation: Saturation,
    catalog: SharedCatalog,
    metrics: Arc<Metrics>,
) -> Router {
    let probes = Router::new()
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
        .route("/metrics", get(scrape))
        .with_state(AdminState {
            readiness,
            saturation,
            catalog,
            metrics,
        });
    grpc.into_axum_router().merge(probes).fallback(not_found)
}

async fn livez() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<AdminState>) -> Response {
    if state.readiness.phase() == Phase::Serving {
        if let Some((listener, max)) = state.saturation.saturated() {
            let body = format!(
                "saturated: all {max} connections of the {} listener are busy\n",
                listener.as_str()
            );
            return (StatusCode::SERVICE_UNAVAILABLE, body).into_response();
        }
    }
    let (status, body) = match state.readiness.phase() {
        Phase::Starting => (StatusCode::SERVICE_UNAVAILABLE, "starting\n"),
        Phase::Draining => (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n"),
        Phase::Serving if state.catalog.snapshot().entries().is_empty() => {
            (StatusCode::SERVICE_UNAVAILABLE, "no catalog loaded\n")
        }
        Phase::Serving => (StatusCode::OK, "ok\n"),
    };
    (status, body).into_response()
}

async fn scrape(State(state): State<AdminState>) -> Response {
    match state.metrics.encode() {
        Ok(text) => ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response(),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "encoding the metrics failed\n",
        )
            .into_response(),
    }
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        "not found: the admin listener serves /livez, /readyz, /metrics and grpc.health.v1.Health\n",
    )
        .into_response()
}
