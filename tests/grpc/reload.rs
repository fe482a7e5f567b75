//! Hot reload of the --catalog file: atomic swaps under load, bad files
//! ignored, Kubernetes-style symlink swaps noticed.

use crate::support::{http_get, Client, TestServer};
use errmap::catalog::SharedCatalog;
use errmap::pb::errmap::v1::batch_query::Query;
use errmap::pb::errmap::v1::batch_result::Result as Outcome;
use errmap::pb::errmap::v1::{BatchQuery, BatchResolveRequest, ResolveGatewayErrorRequest};
use errmap::reload;
use errmap::server::ServerConfig;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// A catalog file overriding UNAVAILABLE/503 with a message naming `tag`.
fn catalog_text(tag: &str) -> String {
    format!(
        "entries {{\n  code: \"UNAVAILABLE\"\n  http_status: 503\n  table: TABLE_COMMON\n  \
         grpc_code: UNAVAILABLE\n  message: \"服务不可用 {tag}\"\n  message_en: \"Unavailable {tag}\"\n}}\n"
    )
}

/// Replaces a file the way careful writers and kubelet do: write aside,
/// then rename over.
fn write_atomically(path: &Path, text: &str) {
    let aside = path.with_extension("tmp");
    std::fs::write(&aside, text).expect("write");
    std::fs::rename(&aside, path).expect("rename");
}

struct Reloading {
    server: TestServer,
    shared: SharedCatalog,
    watcher: JoinHandle<()>,
}

async fn start(path: PathBuf, poll: Duration) -> Reloading {
    let catalog = reload::load_file(&path).expect("the first file is valid");
    let shared = SharedCatalog::new(catalog);
    let watcher = tokio::spawn(reload::watch(path, shared.clone(), poll));
    let config = ServerConfig {
        shutdown_grace: Duration::from_secs(5),
        ..Default::default()
    };
    let server = TestServer::start_shared(shared.clone(), config).await;
    Reloading {
        server,
        shared,
        watcher,
    }
}

impl Reloading {
    async fn stop(self) {
        self.watcher.abort();
        self.server.stop().await;
    }
}

/// The (catalog version, message) the server answers UNAVAILABLE/503 with.
async fn answer(client: &mut Client) -> Result<(String, String), tonic::Status> {
    let r = client
        .resolve_gateway_error(ResolveGatewayErrorRequest {
            code: "UNAVAILABLE".into(),
            http_status: Some(503),
            ..Default::default()
        })
        .await?
        .into_inner()
        .resolution
        .expect("resolution");
    Ok((r.catalog_version, r.message))
}

async fn wait_for(client: &mut Client, message: &str) {
    for _ in 0..200 {
        if answer(client).await.expect("answers").1 == message {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the catalog saying {message:?} was never served");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replacing_the_file_under_load_fails_no_call_and_mixes_no_versions() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("catalog.textproto");
    std::fs::write(&path, catalog_text("v0")).expect("write");
    let running = start(path.clone(), Duration::from_millis(200)).await;

    let stop = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for _ in 0..6 {
        let mut client = running.server.client();
        let stop = stop.clone();
        readers.push(tokio::spawn(async move {
            let mut seen: Vec<(String, String)> = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                seen.push(
                    answer(&mut client)
                        .await
                        .expect("no call fails during reloads"),
                );
                let queries = (0..5)
                    .map(|_| BatchQuery {
                        query: Some(Query::GatewayError(ResolveGatewayErrorRequest {
                            code: "UNAVAILABLE".into(),
                            http_status: Some(503),
                            ..Default::default()
                        })),
                    })
                    .collect();
                let batch = client
                    .batch_resolve(BatchResolveRequest::new(queries))
                    .await
                    .expect("no batch fails during reloads")
                    .into_inner();
                for result in batch.results {
                    match result.result {
                        Some(Outcome::Resolution(r)) => {
                            assert_eq!(
                                r.catalog_version, batch.catalog_version,
                                "one catalog per batch"
                            );
                            seen.push((r.catalog_version, r.message));
                        }
                        other => panic!("batch item failed: {other:?}"),
                    }
                }
            }
            seen
        }));
    }
    let mut client = running.server.client();
    for round in 1..=8 {
        let tag = format!("v{round}");
        write_atomically(&path, &catalog_text(&tag));
        wait_for(&mut client, &format!("服务不可用 {tag}")).await;
    }
    stop.store(true, Ordering::Relaxed);

    let mut message_of: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut calls = 0;
    for reader in readers {
        for (version, message) in reader.await.expect("reader ran") {
            calls += 1;
            message_of.entry(version).or_default().insert(message);
        }
    }
    assert!(calls > 100, "the load was real: {calls} answers");
    assert!(
        message_of.len() >= 3,
        "several versions served: {message_of:?}"
    );
    for (version, messages) in &message_of {
        assert_eq!(
            messages.len(),
            1,
            "version {version} answered with {messages:?}"
        );
    }
    assert!(running.shared.reloads().succeeded.load(Ordering::Relaxed) >= 8);
    running.stop().await;
}

#[tokio::test]
async fn a_broken_or_missing_file_changes_nothing_and_a_later_good_one_is_taken() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("catalog.textproto");
    std::fs::write(&path, catalog_text("good")).expect("write");
    let running = start(path.clone(), Duration::from_millis(100)).await;
    let mut client = running.server.client();
    let (version, message) = answer(&mut client).await.expect("answers");
    assert_eq!(message, "服务不可用 good");

    let broken = [
        "entries {\n  code: \"UNAVAILABLE\"\n  http_st".to_owned(),
        catalog_text("bad").replace("http_status: 503", "http_status: 700"),
        "entries { code: \"X\" }".to_owned(),
    ];
    for (i, text) in broken.iter().enumerate() {
        let before = running.shared.reloads().failed.load(Ordering::Relaxed);
        std::fs::write(&path, text).expect("write");
        for _ in 0..100 {
            if running.shared.reloads().failed.load(Ordering::Relaxed) > before {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            running.shared.reloads().failed.load(Ordering::Relaxed) > before,
            "broken file {i} noticed"
        );
        assert_eq!(
            answer(&mut client).await.expect("answers"),
            (version.clone(), message.clone())
        );
        assert_eq!(running.shared.snapshot().version(), version);
    }
    assert!(!running.shared.reloads().last_error().is_empty());
    let metrics = http_get(running.server.admin_addr, "/metrics").await.body;
    let failed = running.shared.reloads().failed.load(Ordering::Relaxed);
    assert!(
        metrics.contains(&format!(
            "errmap_catalog_reloads_total{{result=\"error\"}} {failed}"
        )),
        "{metrics}"
    );

    std::fs::remove_file(&path).expect("delete");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        answer(&mut client).await.expect("answers").1,
        message,
        "deleted file: old catalog serves"
    );
    assert!(
        running
            .shared
            .reloads()
            .last_error()
            .contains("cannot read"),
        "{}",
        running.shared.reloads().last_error()
    );

    write_atomically(&path, &catalog_text("better"));
    wait_for(&mut client, "服务不可用 better").await;
    running.stop().await;
}

#[tokio::test]
async fn a_kubernetes_style_symlink_swap_is_noticed_by_the_directory_watch() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    let first = root.join("..2026_11_27_a");
    std::fs::create_dir(&first).expect("mkdir");
    std::fs::write(first.join("catalog.textproto"), catalog_text("cm1")).expect("write");
    std::os::unix::fs::symlink("..2026_11_27_a", root.join("..data")).expect("symlink");
    std::os::unix::fs::symlink("..data/catalog.textproto", root.join("catalog.textproto"))
        .expect("symlink");

    // A poll far longer than the test: only the watch can see the swap.
    let running = start(root.join("catalog.textproto"), Duration::from_secs(3600)).await;
    let mut client = running.server.client();
    assert_eq!(
        answer(&mut client).await.expect("answers").1,
        "服务不可用 cm1"
    );

    let second = root.join("..2026_11_27_b");
    std::fs::create_dir(&second).expect("mkdir");
    std::fs::write(second.join("catalog.textproto"), catalog_text("cm2")).expect("write");
    std::os::unix::fs::symlink("..2026_11_27_b", root.join("..data_tmp")).expect("symlink");
    std::fs::rename(root.join("..data_tmp"), root.join("..data")).expect("swap");
    std::fs::remove_dir_all(&first).expect("old data removed");

    wait_for(&mut client, "服务不可用 cm2").await;
    running.stop().await;
}
