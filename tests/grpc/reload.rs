//! Hot reload of the --catalog file: atomic swaps under load, bad files
//! ignored, Kubernetes-style symlink swaps noticed.

use crate::support::{http_get, Client, TestServer};
use errmap::app::reload;
use errmap::catalog::SharedCatalog;
use errmap::pb::errmap::v1::batch_query::Query;
use errmap::pb::errmap::v1::batch_result::Result as Outcome;
use errmap::pb::errmap::v1::{BatchQuery, BatchResolveRequest, ResolveGatewayErrorRequest};
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
        for _ in 0..500 {
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

/// The built-in catalog's UNAVAILABLE/503 message, which a file in service
/// overrides: seeing it means the file was not in service.
const BUILT_IN_UNAVAILABLE: &str = "服务不可用";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rewriting_the_file_in_place_never_serves_the_built_in_catalog() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("catalog.textproto");
    std::fs::write(&path, catalog_text("v0")).expect("write");
    let running = start(path.clone(), Duration::from_millis(50)).await;

    let stop = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for _ in 0..4 {
        let mut client = running.server.client();
        let stop = stop.clone();
        readers.push(tokio::spawn(async move {
            let mut messages = BTreeSet::new();
            while !stop.load(Ordering::Relaxed) {
                messages.insert(answer(&mut client).await.expect("answers").1);
            }
            messages
        }));
    }
    let mut client = running.server.client();
    for round in 1..=4 {
        let failed = running.shared.reloads().failed.load(Ordering::Relaxed);
        // Truncate, and leave the file empty long enough to be read.
        std::fs::File::create(&path).expect("truncate");
        for _ in 0..500 {
            if running.shared.reloads().failed.load(Ordering::Relaxed) > failed {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            running.shared.reloads().failed.load(Ordering::Relaxed) > failed,
            "the empty file was read and refused"
        );
        let tag = format!("v{round}");
        std::fs::write(&path, catalog_text(&tag)).expect("write in place");
        wait_for(&mut client, &format!("服务不可用 {tag}")).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut seen = BTreeSet::new();
    for reader in readers {
        seen.extend(reader.await.expect("reader ran"));
    }
    assert!(
        !seen.contains(BUILT_IN_UNAVAILABLE),
        "the built-in row was served: {seen:?}"
    );
    assert!(running
        .shared
        .reloads()
        .last_error()
        .contains("no catalog entries"));
    running.stop().await;
}

/// Waits until the failed-reload count passes `count`.
async fn failures_pass(shared: &SharedCatalog, count: u64) -> u64 {
    for _ in 0..500 {
        let now = shared.reloads().failed.load(Ordering::Relaxed);
        if now > count {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no reload failed after {count}");
}

#[tokio::test]
async fn reading_the_file_does_not_set_the_watch_off_again() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("catalog.textproto");
    std::fs::write(&path, catalog_text("good")).expect("write");
    // A poll far longer than the test: only file events cause reads.
    let running = start(path.clone(), Duration::from_secs(3600)).await;
    // An invalid file, written in place: each read of it that happens is
    // a failed reload, so reads the watch sets off itself would show.
    std::fs::write(&path, "entries { code: \"X\" }").expect("write");
    let failed = failures_pass(&running.shared, 0).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        running.shared.reloads().failed.load(Ordering::Relaxed),
        failed,
        "the file was read again with nothing changed"
    );
    running.stop().await;
}

#[tokio::test]
async fn an_unchanged_file_is_not_parsed_again_at_each_poll() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("catalog.textproto");
    std::fs::write(&path, catalog_text("good")).expect("write");
    let running = start(path.clone(), Duration::from_millis(100)).await;
    std::fs::write(&path, "entries { code: \"X\" }").expect("write");
    let failed = failures_pass(&running.shared, 0).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(
        running.shared.reloads().failed.load(Ordering::Relaxed),
        failed,
        "ten polls of an unchanged file"
    );
    // A change is still taken.
    write_atomically(&path, &catalog_text("later"));
    let mut client = running.server.client();
    wait_for(&mut client, "服务不可用 later").await;
    running.stop().await;
}

#[test]
fn a_look_at_an_unchanged_file_parses_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("catalog.textproto");
    std::fs::write(&path, catalog_text("a")).expect("write");
    let shared = SharedCatalog::new(errmap::catalog::Catalog::embedded().expect("embedded"));
    let mut reloader = reload::Reloader::new(path.clone(), shared.clone());
    assert_eq!(reloader.check(), reload::Outcome::Replaced);
    assert_eq!(reloader.check(), reload::Outcome::Unchanged);
    // Same entries, other bytes: read and parsed, but nothing to swap.
    std::fs::write(&path, format!("# same\n{}", catalog_text("a"))).expect("write");
    assert_eq!(reloader.check(), reload::Outcome::Same);
    std::fs::write(&path, "").expect("truncate");
    assert_eq!(reloader.check(), reload::Outcome::Failed);
    assert_eq!(reloader.check(), reload::Outcome::Unchanged);
    std::fs::write(&path, catalog_text("b")).expect("write");
    assert_eq!(reloader.check(), reload::Outcome::Replaced);
    assert_eq!(shared.reloads().succeeded.load(Ordering::Relaxed), 2);
    assert_eq!(shared.reloads().failed.load(Ordering::Relaxed), 1);
}

/// A catalog file of `count` added entries; the last one's message names
/// `tag`.
fn many_entries(count: usize, tag: &str) -> String {
    (0..count)
        .map(|i| {
            let last = if i + 1 == count { tag } else { "" };
            format!(
                "entries {{ code: \"GENERATED_{i}\" http_status: {} table: TABLE_CONSOLE \
                 grpc_code: FAILED_PRECONDITION message: \"操作 {i} 暂时无法完成{last}\" \
                 message_en: \"Operation {i} cannot be completed now\" }}\n",
                400 + i % 100
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_reloaded_catalog_answers_alike_with_and_without_prepared_answers() {
    use errmap::service::prepared::MAX_PREPARED_ROWS;
    use errmap::service::Options;
    use prost::Message;
    let count = MAX_PREPARED_ROWS + 100;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("catalog.textproto");
    std::fs::write(&path, many_entries(count, " a")).expect("write");
    let running = start(path.clone(), Duration::from_millis(100)).await;
    let computing = crate::support::TestServer::start_shared(
        running.shared.clone(),
        ServerConfig {
            service: Options {
                prepare_answers: false,
                ..Options::default()
            },
            ..Default::default()
        },
    )
    .await;
    let (mut prepared, mut computed) = (running.server.client(), computing.client());
    let last = count - 1;
    let ask = |i: usize| ResolveGatewayErrorRequest {
        code: format!("GENERATED_{i}"),
        http_status: Some(400 + (i % 100) as i32),
        ..Default::default()
    };
    write_atomically(&path, &many_entries(count, " b"));
    for _ in 0..200 {
        let r = prepared
            .resolve_gateway_error(ask(last))
            .await
            .expect("answers");
        if r.into_inner()
            .resolution
            .expect("resolution")
            .message
            .ends_with(" b")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Rows before and after the last prepared one, at once and once the
    // answers of the new catalog are ready.
    for round in 0..2 {
        for i in [0, 1, MAX_PREPARED_ROWS - 83, MAX_PREPARED_ROWS - 82, last] {
            let a = prepared
                .resolve_gateway_error(ask(i))
                .await
                .expect("answers");
            let b = computed
                .resolve_gateway_error(ask(i))
                .await
                .expect("answers");
            assert_eq!(
                a.into_inner().encode_to_vec(),
                b.into_inner().encode_to_vec(),
                "round {round}, GENERATED_{i}"
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let r = prepared
        .resolve_gateway_error(ask(last))
        .await
        .expect("answers");
    assert!(r
        .into_inner()
        .resolution
        .expect("resolution")
        .message
        .ends_with(" b"));
    computing.stop().await;
    running.stop().await;
}
