//! Starts the real server on 127.0.0.1:0 and connects real clients to it.

use errmap::catalog::{Catalog, SharedCatalog};
use errmap::pb::errmap::v1::error_map_service_client::ErrorMapServiceClient;
use errmap::server::{self, ServerConfig, Stopped};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

pub type Client = ErrorMapServiceClient<Channel>;

/// A running server; stop it with [`TestServer::stop`].
pub struct TestServer {
    pub channel: Channel,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<Stopped, server::ServerError>>,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(ServerConfig {
            shutdown_grace: Duration::from_secs(5),
            service: errmap::service::Options::default(),
        })
        .await
    }

    pub async fn start_with(config: ServerConfig) -> Self {
        let catalog = SharedCatalog::new(Catalog::embedded().expect("embedded catalog loads"));
        Self::start_shared(catalog, config).await
    }

    /// A server over a catalog the test can replace.
    pub async fn start_shared(catalog: SharedCatalog, config: ServerConfig) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let addr = listener.local_addr().expect("local addr");
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(server::run(listener, catalog, config, async move {
            let _ = rx.await;
        }));
        let channel = Channel::from_shared(format!("http://{addr}"))
            .expect("uri")
            .connect()
            .await
            .expect("connect to the test server");
        Self {
            channel,
            shutdown: Some(tx),
            task,
        }
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
