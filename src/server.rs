//! The servers: the gRPC API (with health and reflection, v1 and v1alpha),
//! the admin listener ([`crate::server::admin`]), the HTTP/JSON face
//! ([`crate::server::http_api`]) and Envoy's external processor
//! ([`crate::server::ext_proc`]), started and stopped together.
//!
//! Shutdown goes in this order: `/readyz` turns 503 and health turns
//! NOT_SERVING on every listener at once; serving goes on, unready, for the
//! shutdown delay (if any); the API, HTTP and ext_proc listeners stop accepting and
//! their in-flight calls finish within the grace period (connections then
//! close by lingering, see `server/accept.rs`); the admin listener closes
//! last, so probes and scrapes see the drain.

use crate::catalog::SharedCatalog;
use crate::metrics::connections::Listener;
use crate::metrics::Metrics;
use crate::pb::errmap::v1::error_map_service_server::ErrorMapServiceServer;
use crate::service::{self, ErrorMap};
use admin::{Phase, Readiness};
use futures_util::Stream;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tonic::service::Routes;
use tonic::transport::Server;
use tonic_health::server::HealthReporter;
use tonic_health::ServingStatus;
use tower::layer::util::{Identity, Stack};

pub mod accept;
pub mod admin;
mod call;
pub mod ext_proc;
mod held;
pub mod http_api;
mod limits;
#[cfg(feature = "ext-proc")]
mod own_thread;
pub mod pieces;
pub mod saturation;

use accept::{Gate, Writes};
pub use call::CallLayer;
use held::{Hold, HoldLayer};
pub use limits::{
    Limits, DEFAULT_ADMIN_MAX_CONNECTIONS, DEFAULT_CALL_TIMEOUT, DEFAULT_HANDSHAKE_TIMEOUT,
    DEFAULT_KEEPALIVE_INTERVAL, DEFAULT_KEEPALIVE_TIMEOUT, DEFAULT_MAX_CONCURRENT_STREAMS,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_MESSAGE_SIZE,
};
use pieces::PiecesLayer;
use saturation::{watch_saturation, Saturation};

/// The name health checks use for the API, besides the server-wide "".
pub use crate::service::SERVICE_NAME;

/// What the server needs beyond its listeners and catalog.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// How long to keep serving, unready, after the shutdown signal.
    pub shutdown_delay: Duration,
    /// How long in-flight calls may run on once draining begins.
    pub shutdown_grace: Duration,
    /// Settings of the API service.
    pub service: service::Options,
    /// Hard limits of the API listener.
    pub limits: Limits,
    /// Settings of the ext_proc listener.
    pub ext_proc: ext_proc::Settings,
}

/// No delay: a sidecar's callers are in its own pod and stop with it.
pub const DEFAULT_SHUTDOWN_DELAY: Duration = Duration::ZERO;
/// Well inside Kubernetes' default termination grace of 30 s.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            shutdown_delay: DEFAULT_SHUTDOWN_DELAY,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            service: service::Options::default(),
            limits: Limits::default(),
            ext_proc: ext_proc::Settings::default(),
        }
    }
}

/// The bound listeners to serve on. Only the gRPC API is required.
#[derive(Debug)]
pub struct Listeners {
    /// The gRPC API, with health and reflection.
    pub grpc: TcpListener,
    /// Probes, metrics and gRPC health (see [`crate::server::admin`]).
    pub admin: Option<TcpListener>,
    /// The HTTP/JSON face (see [`crate::server::http_api`]).
    pub http: Option<TcpListener>,
    /// Envoy's external processor (see [`crate::server::ext_proc`]).
    pub ext_proc: Option<TcpListener>,
}

impl From<TcpListener> for Listeners {
    fn from(grpc: TcpListener) -> Self {
        Self {
            grpc,
            admin: None,
            http: None,
            ext_proc: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("building the reflection service failed: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("building the HTTP/JSON face failed: {0}")]
    HttpApi(#[from] http_api::json::CodecError),
    #[error("serving failed: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("the admin listener's task failed: {0}")]
    Admin(#[from] tokio::task::JoinError),
    #[error("an ext_proc listener was given, but this errmap was built without the \"ext-proc\" feature")]
    NoExtProc,
    #[error("starting the thread of the ext_proc listener failed: {0}")]
    ExtProcThread(std::io::Error),
}

/// How `run` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// Every in-flight call finished within the grace period.
    Drained,
    /// The grace period ran out; calls still running were dropped.
    GraceExpired,
}

/// The result of one listener's server.
type Served = Result<(), tonic::transport::Error>;

/// Serves until `shutdown` completes, then drains as the module docs
/// describe, for up to the grace period.
pub async fn run(
    listeners: Listeners,
    catalog: SharedCatalog,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Stopped, ServerError> {
    let metrics = Arc::new(Metrics::new(catalog.clone(), &descriptor_sets()));
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<ErrorMapServiceServer<ErrorMap>>()
        .await;
    let readiness = Readiness::default();
    let (reflection_v1, reflection_v1alpha) = reflection(&[
        crate::pb::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
    ])?;
    let api = ErrorMap::new(catalog.clone(), config.service.clone()).with_observer(metrics.clone());

    // `draining` stops the API and HTTP listeners; `closing` the admin one.
    let (draining, drain_signal) = watch::channel(false);
    let (closing, close_signal) = watch::channel(false);

    let limits = &config.limits;
    let api_routes = Routes::new(health_service.clone())
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(
            ErrorMapServiceServer::new(api.clone())
                .max_decoding_message_size(limits.max_message_bytes),
        );
    let calls = CallLayer::new(metrics.clone(), limits.call_timeout);
    let gate = |listener, max| {
        Gate::new(
            limits.admission(max, Writes::Coalesced),
            metrics.connections(listener),
        )
    };
    let api_gate = gate(Listener::Api, limits.max_connections);
    let mut saturation = Saturation(vec![(Listener::Api, api_gate.clone())]);
    let grpc = serve(
        transport(limits, PiecesLayer::default(), calls),
        api_routes,
        accept::incoming(listeners.grpc, api_gate),
        signalled(drain_signal.clone()),
    );
    let http = match listeners.http {
        Some(listener) => Some(serve_router(
            listener,
            gate(Listener::Http, limits.max_connections),
            limits,
            http_api::router(
                api,
                metrics.clone(),
                config.limits.call_timeout,
                config.limits.max_message_bytes,
            )?,
            signalled(drain_signal.clone()),
        )),
        None => None,
    };
    let ext_proc = match listeners.ext_proc {
        Some(listener) => {
            let gate = gate(Listener::ExtProc, limits.max_connections);
            saturation.0.push((Listener::ExtProc, gate.clone()));
            Some(
                serve_ext_proc(
                    listener,
                    gate,
                    &config,
                    &catalog,
                    &metrics,
                    &health,
                    health_service.clone(),
                    signalled(drain_signal),
                )
                .await?,
            )
        }
        None => None,
    };
    let admin_grpc = admin_services(health_service)?;
    let admin_gate = gate(Listener::Admin, limits.admin_max_connections);
    let admin = listeners.admin.map(|listener| {
        let router = admin::router(
            admin_grpc,
            readiness.clone(),
            saturation.clone(),
            catalog,
            metrics,
        );
        let serving = serve_router(
            listener,
            admin_gate,
            limits,
            router,
            signalled(close_signal),
        );
        tokio::spawn(serving)
    });
    let serving = async move { tokio::try_join!(grpc, maybe(http), maybe(ext_proc)).map(|_| ()) };
    tokio::pin!(serving);

    readiness.set(Phase::Serving);
    let watching = tokio::spawn(watch_saturation(
        saturation,
        readiness.clone(),
        health.clone(),
    ));
    tokio::select! {
        result = &mut serving => {
            let _ = closing.send(true);
            result?;
            return Ok(Stopped::Drained);
        }
        () = shutdown => {}
    }

    watching.abort();
    begin_drain(&readiness, &health).await;
    // Unready but still serving: callers that have not yet noticed (a
    // Service's endpoints, an application container stopping alongside)
    // are not turned away mid-stride.
    if !config.shutdown_delay.is_zero() {
        tokio::select! {
            result = &mut serving => {
                let _ = closing.send(true);
                result?;
                return Ok(Stopped::Drained);
            }
            () = tokio::time::sleep(config.shutdown_delay) => {}
        }
    }
    let deadline = Instant::now() + config.shutdown_grace;
    let _ = draining.send(true);
    let stopped = drain(serving, deadline, config.shutdown_grace).await?;
    let _ = closing.send(true);
    close_admin(admin, deadline).await?;
    Ok(stopped)
}

/// How every listener is served: HTTP/2 settings, answers cut into pieces
/// that are written together (`server/pieces.rs`), each call recorded or
/// not (`server/call.rs`), and requests answered early read to their end
/// (`server/held.rs`).
pub type Transport = Server<Stack<HoldLayer, Stack<CallLayer, Stack<PiecesLayer, Identity>>>>;

/// The API listener's settings. `benches/load` serves its baseline with
/// the same ones (and `CallLayer::off`), so the two differ only in the work
/// done per call.
pub fn transport(limits: &Limits, pieces: PiecesLayer, calls: CallLayer) -> Transport {
    Server::builder()
        .max_concurrent_streams(limits.max_concurrent_streams)
        .http2_max_local_error_reset_streams(Some(accept::MAX_LOCAL_RESETS))
        .http2_keepalive_interval(Some(limits.keepalive_interval))
        .http2_keepalive_timeout(Some(limits.keepalive_timeout))
        .layer(pieces)
        .layer(calls)
        .layer(HoldLayer::new(Hold::new(
            limits.max_message_bytes,
            limits.call_timeout,
        )))
}

/// Serves `routes` on `incoming` until `signal`, then drains.
///
/// Every listener is served here, with one [`Transport`] type and routes
/// erased to [`Routes`], so the binary holds one copy of the HTTP/2 server
/// code, compiled for the API listener. A second copy, for the admin and
/// HTTP listeners, cost the API about 3% more CPU per call (BENCHMARKS.md,
/// "One copy of the HTTP stack").
pub async fn serve<I>(
    transport: Transport,
    routes: Routes,
    incoming: I,
    signal: impl Future<Output = ()>,
) -> Served
where
    I: Stream<Item = std::io::Result<accept::Accepted>>,
{
    let mut transport = transport;
    transport
        .add_routes(routes)
        .serve_with_incoming_shutdown(incoming, signal)
        .await
}

/// Tells probes first, so that no new traffic is sent while calls drain.
async fn begin_drain(readiness: &Readiness, health: &HealthReporter) {
    readiness.set(Phase::Draining);
    for name in ["", SERVICE_NAME, ext_proc::SERVICE_NAME] {
        health
            .set_service_status(name, ServingStatus::NotServing)
            .await;
    }
    tracing::info!("shutting down: health is NOT_SERVING, draining in-flight calls");
}

/// Waits for the draining servers until the deadline.
async fn drain(
    serving: Pin<&mut impl Future<Output = Served>>,
    deadline: Instant,
    grace: Duration,
) -> Result<Stopped, ServerError> {
    match tokio::time::timeout_at(deadline, serving).await {
        Ok(result) => {
            result?;
            Ok(Stopped::Drained)
        }
        Err(_) => {
            tracing::warn!(
                ?grace,
                "grace period expired; dropping calls still in flight"
            );
            Ok(Stopped::GraceExpired)
        }
    }
}

/// The admin listener gets whatever is left of the grace period.
async fn close_admin(
    admin: Option<JoinHandle<Served>>,
    deadline: Instant,
) -> Result<(), ServerError> {
    let Some(mut admin) = admin else {
        return Ok(());
    };
    match tokio::time::timeout_at(deadline, &mut admin).await {
        Ok(joined) => Ok(joined??),
        Err(_) => {
            admin.abort();
            Ok(())
        }
    }
}

/// Serves `server`, if there is one.
async fn maybe(server: Option<impl Future<Output = Served>>) -> Served {
    match server {
        Some(server) => server.await,
        None => Ok(()),
    }
}

/// The ext_proc listener: Envoy's external processor, with health and
/// reflection, served on a thread of its own ([`own_thread`]). Its streams
/// last as long as the HTTP requests they process, so no call deadline
/// applies; Envoy's own `message_timeout` bounds each answer, and
/// `errmap_ext_proc_messages_total` counts them.
#[cfg(feature = "ext-proc")]
#[allow(clippy::too_many_arguments)]
async fn serve_ext_proc(
    listener: TcpListener,
    gate: Arc<Gate>,
    config: &ServerConfig,
    catalog: &SharedCatalog,
    metrics: &Arc<Metrics>,
    health: &HealthReporter,
    health_service: tonic_health::pb::health_server::HealthServer<
        impl tonic_health::pb::health_server::Health,
    >,
    signal: impl Future<Output = ()> + Send + 'static,
) -> Result<impl Future<Output = Served>, ServerError> {
    let limits = &config.limits;
    let translator =
        ext_proc::Translator::new(catalog.clone(), config.service.clone(), config.ext_proc)
            .with_metrics(metrics.clone());
    let processor = ext_proc::Processor::new(translator, limits.max_message_bytes);
    health
        .set_service_status(ext_proc::SERVICE_NAME, ServingStatus::Serving)
        .await;
    let (v1, v1alpha) = reflection(&[
        ext_proc::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
    ])?;
    let routes = processor.route(
        Routes::new(health_service)
            .add_service(v1)
            .add_service(v1alpha),
    );
    let transport = transport(limits, PiecesLayer::new(0), CallLayer::off());
    let served = own_thread::serve("errmap-ext-proc", listener, move |listener| {
        serve(transport, routes, accept::incoming(listener, gate), signal)
    })
    .map_err(ServerError::ExtProcThread)?;
    Ok(async move {
        served.await.unwrap_or_else(|| {
            tracing::error!("the ext_proc listener's thread ended without a result");
            Ok(())
        })
    })
}

/// Without the feature, an ext_proc listener is a mistake in the settings.
#[cfg(not(feature = "ext-proc"))]
#[allow(clippy::too_many_arguments, clippy::unused_async)]
async fn serve_ext_proc(
    _listener: TcpListener,
    _gate: Arc<Gate>,
    _config: &ServerConfig,
    _catalog: &SharedCatalog,
    _metrics: &Arc<Metrics>,
    _health: &HealthReporter,
    _health_service: tonic_health::pb::health_server::HealthServer<
        impl tonic_health::pb::health_server::Health,
    >,
    _signal: impl Future<Output = ()>,
) -> Result<std::future::Pending<Served>, ServerError> {
    Err(ServerError::NoExtProc)
}

/// Completes once the flag is raised (or its sender is gone).
async fn signalled(mut flag: watch::Receiver<bool>) {
    let _ = flag.wait_for(|&raised| raised).await;
}

/// Serves an axum router on the API's HTTP stack, with HTTP/1.1 too (h2c
/// and HTTP/1.1 on one port), answers whole and calls not recorded here
/// (the HTTP face records its own).
fn serve_router(
    listener: TcpListener,
    gate: Arc<Gate>,
    limits: &Limits,
    router: axum::Router,
    signal: impl Future<Output = ()>,
) -> impl Future<Output = Served> {
    let transport = transport(limits, PiecesLayer::new(0), CallLayer::off()).accept_http1(true);
    serve(
        transport,
        Routes::from(router),
        accept::incoming(listener, gate),
        signal,
    )
}

/// The descriptors of every service the API listener serves, so metrics
/// can name their RPCs.
fn descriptor_sets() -> [&'static [u8]; 4] {
    [
        crate::pb::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
    ]
}

/// The admin listener's gRPC side: health, and reflection that describes
/// only what is served there.
fn admin_services(
    health: tonic_health::pb::health_server::HealthServer<
        impl tonic_health::pb::health_server::Health,
    >,
) -> Result<tonic::service::Routes, ServerError> {
    let (v1, v1alpha) = reflection(&[tonic_health::pb::FILE_DESCRIPTOR_SET])?;
    Ok(tonic::service::Routes::new(health)
        .add_service(v1)
        .add_service(v1alpha))
}

/// Reflection, v1 and v1alpha, over the given descriptor sets. The API
/// listener passes every file a response can mention: errmap's own, the
/// `google.rpc` details it sends, and the health service.
#[allow(clippy::type_complexity)]
fn reflection(
    sets: &[&'static [u8]],
) -> Result<
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
        sets.iter().fold(
            tonic_reflection::server::Builder::configure(),
            |builder, set| builder.register_encoded_file_descriptor_set(set),
        )
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
