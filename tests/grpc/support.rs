//! Starts the real server on 127.0.0.1:0 and connects real clients to it.

use errmap::catalog::{Catalog, SharedCatalog};
use errmap::pb::errmap::v1::error_map_service_client::ErrorMapServiceClient;
use errmap::server::{self, Listeners, ServerConfig, Stopped};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::HeaderMap;
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::rt::TokioExecutor;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

pub type Client = ErrorMapServiceClient<Channel>;

/// A running server with all three listeners on free loopback ports; stop
/// it with [`TestServer::stop`].
pub struct TestServer {
    pub channel: Channel,
    /// The admin listener: probes, metrics and gRPC health.
    pub grpc_addr: SocketAddr,
    pub admin_addr: SocketAddr,
    /// The HTTP/JSON face.
    pub http_addr: SocketAddr,
    /// Envoy's external processor.
    pub ext_proc_addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<Stopped, server::ServerError>>,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(ServerConfig {
            shutdown_grace: Duration::from_secs(5),
            ..Default::default()
        })
        .await
    }

    pub async fn start_with(config: ServerConfig) -> Self {
        let catalog = SharedCatalog::new(Catalog::embedded().expect("embedded catalog loads"));
        Self::start_shared(catalog, config).await
    }

    /// A server over a catalog the test can replace.
    pub async fn start_shared(catalog: SharedCatalog, config: ServerConfig) -> Self {
        let (grpc, addr) = bind().await;
        let (admin, admin_addr) = bind().await;
        let (http, http_addr) = bind().await;
        let (ext_proc, ext_proc_addr) = bind().await;
        let listeners = Listeners {
            grpc,
            admin: Some(admin),
            http: Some(http),
            ext_proc: Some(ext_proc),
        };
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(server::run(listeners, catalog, config, async move {
            let _ = rx.await;
        }));
        Self {
            channel: connect(addr).await,
            grpc_addr: addr,
            admin_addr,
            http_addr,
            ext_proc_addr,
            shutdown: Some(tx),
            task,
        }
    }

    /// A gRPC channel to the admin listener.
    pub async fn admin_channel(&self) -> Channel {
        connect(self.admin_addr).await
    }

    pub fn client(&self) -> Client {
        ErrorMapServiceClient::new(self.channel.clone())
    }

    /// Begins shutdown without waiting for it.
    pub fn begin_stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    /// Shuts down and returns how the server stopped.
    pub async fn stop(mut self) -> Stopped {
        self.begin_stop();
        drop(self.channel);
        self.task
            .await
            .expect("server task joins")
            .expect("server ran without error")
    }
}

async fn bind() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
    let addr = listener.local_addr().expect("local addr");
    (listener, addr)
}

async fn connect(addr: SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect to the test server")
}

/// An HTTP/1.1 answer, read whole.
#[derive(Debug)]
pub struct HttpReply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl HttpReply {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|err| panic!("body is not JSON ({err}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

/// Sends one HTTP/1.1 request over a fresh connection.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> HttpReply {
    let client = HttpClient::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut request = hyper::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"))
        .header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Full::new(Bytes::from(body.to_owned())))
        .expect("a valid request");
    let response = client.request(request).await.expect("an HTTP answer");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("the whole body")
        .to_bytes();
    HttpReply {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

pub async fn http_get(addr: SocketAddr, path: &str) -> HttpReply {
    http(addr, "GET", path, "", &[]).await
}

pub async fn http_post(addr: SocketAddr, path: &str, body: &str) -> HttpReply {
    http(addr, "POST", path, body, &[]).await
}

/// One row of the gateway's error-code document.
#[derive(Debug, Clone)]
pub struct SeedRow {
    pub table: i32,
    pub code: String,
    pub http_status: i32,
    pub message: String,
    pub solution: String,
}

/// Reads the rows of the three tables from the gateway's own document, so
/// the catalog is checked against its source rather than against itself.
pub fn seed_rows() -> Vec<SeedRow> {
    let text = include_str!("../fixtures/gateway-error-codes.md");
    let mut table = 0;
    let mut rows = Vec::new();
    for line in text.lines() {
        if line.starts_with("####") {
            table = if line.contains("表1") {
                1
            } else if line.contains("表2") {
                2
            } else if line.contains("表3") {
                3
            } else {
                0
            };
            continue;
        }
        if !line.starts_with('|') || line.starts_with("|-") || line.contains("错误码") {
            continue;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        assert_eq!(cells.len(), 6, "a table row has four cells: {line}");
        rows.push(SeedRow {
            table,
            code: cells[1].to_owned(),
            http_status: cells[2].parse().expect("status is a number"),
            message: cells[3].to_owned(),
            solution: cells[4].to_owned(),
        });
    }
    rows
}

/// The `BadRequest` field violations of an `INVALID_ARGUMENT` status.
pub fn bad_fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

/// Resolves a gateway error; the call must succeed.
pub async fn resolve_gateway(
    client: &mut Client,
    request: impl tonic::IntoRequest<errmap::pb::errmap::v1::ResolveGatewayErrorRequest>,
) -> errmap::pb::errmap::v1::Resolution {
    client
        .resolve_gateway_error(request)
        .await
        .unwrap_or_else(|status| panic!("ResolveGatewayError failed: {status:?}"))
        .into_inner()
        .resolution
        .expect("a resolution")
}

/// Resolves a gRPC status; the call must succeed.
pub async fn resolve_grpc(
    client: &mut Client,
    request: impl tonic::IntoRequest<errmap::pb::errmap::v1::ResolveGrpcStatusRequest>,
) -> errmap::pb::errmap::v1::Resolution {
    client
        .resolve_grpc_status(request)
        .await
        .unwrap_or_else(|status| panic!("ResolveGrpcStatus failed: {status:?}"))
        .into_inner()
        .resolution
        .expect("a resolution")
}

/// The services a v1alpha reflection client is told about, sorted: what
/// grpcurl 1.8.6 sees when it runs `list`.
pub async fn reflected_services_v1alpha(channel: Channel) -> Vec<String> {
    use tokio_stream::StreamExt;
    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1alpha::ServerReflectionRequest;

    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("reflection stream")
        .into_inner();
    let answer = responses.next().await.expect("a response").expect("ok");
    match answer.message_response {
        Some(MessageResponse::ListServicesResponse(list)) => {
            let mut names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
            names.sort();
            names
        }
        other => panic!("expected a service list, got {other:?}"),
    }
}
