//! The gRPC server: the API, health and reflection (v1 and v1alpha) on one
//! listener, with graceful shutdown.

use crate::catalog::SharedCatalog;
use crate::pb::errmap::v1::error_map_service_server::ErrorMapServiceServer;
use crate::service::{self, ErrorMap};
use std::future::Future;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::Server;
use tonic_health::ServingStatus;

/// The name health checks use for the API, besides the server-wide "".
pub const SERVICE_NAME: &str = "errmap.v1.ErrorMapService";

/// What the server needs beyond its listener and catalog.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// How long in-flight calls may run on after shutdown begins.
    pub shutdown_grace: Duration,
    /// Settings of the API service.
    pub service: service::Options,
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("building the reflection service failed: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("serving failed: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// How `run` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// Every in-flight call finished within the grace period.
    Drained,
    /// The grace period ran out; calls still running were dropped.
    GraceExpired,
}

/// Serves until `shutdown` completes, then flips health to NOT_SERVING,
/// stops accepting connections and lets in-flight calls finish for up to
/// the grace period.
pub async fn run(
    listener: TcpListener,
    catalog: SharedCatalog,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Stopped, ServerError> {
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<ErrorMapServiceServer<ErrorMap>>()
        .await;
    let (reflection_v1, reflection_v1alpha) = reflection()?;
    let api = ErrorMapServiceServer::new(ErrorMap::new(catalog, config.service));

    let (began_tx, began_rx) = oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        for name in ["", SERVICE_NAME] {
            health
                .set_service_status(name, ServingStatus::NotServing)
                .await;
        }
        tracing::info!("shutting down: health is NOT_SERVING, draining in-flight calls");
        let _ = began_tx.send(());
    };

    let serve = Server::builder()
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(api)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), signal);
    tokio::pin!(serve);

    tokio::select! {
        result = &mut serve => { result?; return Ok(Stopped::Drained); }
        Ok(()) = began_rx => {}
    }
    match tokio::time::timeout(config.shutdown_grace, &mut serve).await {
        Ok(result) => {
            result?;
            Ok(Stopped::Drained)
        }
        Err(_) => {
            tracing::warn!(grace = ?config.shutdown_grace, "grace period expired; dropping calls still in flight");
            Ok(Stopped::GraceExpired)
        }
    }
}

/// Reflection over every file a response can mention: errmap's own, the
/// `google.rpc` details it sends, and the health service.
#[allow(clippy::type_complexity)]
fn reflection() -> Result<
    (
        tonic_reflection::server::v1::ServerReflectionServer<
            impl tonic_reflection::server::v1::ServerReflection,
        >,
        tonic_reflection::server::v1alpha::ServerReflectionServer<
            impl tonic_reflection::server::v1alpha::ServerReflection,
        >,
    ),
    ServerError,
> {
    let builder = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(crate::pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    // Each builder adds its own reflection file; add the other's too, so
    // both versions list both reflection services.
    let v1 = builder()
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let v1alpha = builder()
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;
    Ok((v1, v1alpha))
}
