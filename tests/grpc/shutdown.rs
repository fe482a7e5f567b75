//! Shutdown under load: health flips at once, calls in flight complete,
//! new connections are refused, and no accepted call is dropped.

use crate::support::TestServer;
use errmap::pb::errmap::v1::batch_query::Query;
use errmap::pb::errmap::v1::error_map_service_client::ErrorMapServiceClient;
use errmap::pb::errmap::v1::{BatchQuery, BatchResolveRequest, ResolveGrpcStatusRequest};
use errmap::server::{ServerConfig, Stopped};
use std::error::Error;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_stream::StreamExt;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

fn batch() -> BatchResolveRequest {
    BatchResolveRequest::new(
        (0..200)
            .map(|i| BatchQuery {
                query: Some(Query::GrpcStatus(ResolveGrpcStatusRequest {
                    code: i % 17,
                    ..Default::default()
                })),
            })
            .collect(),
    )
}

/// What a client saw of one call.
#[derive(Debug)]
enum Seen {
    /// Answered in full; `in_flight` when it began before the signal and
    /// ended after it.
    Answered { in_flight: bool },
    /// Not taken: the server had stopped taking new calls.
    Refused(tonic::Status),
}

/// How a client's transport reports a call the server never took: after
/// the server's GOAWAY, requests it had not sent are cancelled ("connection
/// closed", "connection was not ready"), streams past the GOAWAY's last
/// stream id fail with that GOAWAY, and with the listener closed there is
/// no connection at all. A request written as the server closes a drained
/// connection meets a closed socket (broken pipe or reset). In every case
/// no response headers came back: a call whose answer had begun and then
/// broke off is never counted here.
fn never_taken(status: &tonic::Status) -> bool {
    let source = format!("{:?}", status.source());
    let answer_began = status.metadata().get("content-type").is_some();
    !answer_began
        && (status.code() == tonic::Code::Unavailable
            || source.contains("connection closed")
            || source.contains("connection was not ready")
            || source.contains("GoAway(b\"\", NO_ERROR, Remote)")
            || source.contains("kind: BrokenPipe")
            || source.contains("kind: ConnectionReset"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_under_load_drops_no_accepted_call() {
    let mut server = TestServer::start_with(ServerConfig {
        shutdown_grace: Duration::from_secs(10),
        ..Default::default()
    })
    .await;
    let addr = format!("http://{}", server.grpc_addr);
    let signalled = Arc::new(AtomicBool::new(false));

    let mut health = HealthClient::new(server.admin_channel().await);
    let mut watch = health
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("watch")
        .into_inner();
    assert_eq!(
        watch.next().await.expect("status").expect("ok").status(),
        ServingStatus::Serving
    );

    let mut workers = Vec::new();
    for _ in 0..8 {
        let mut client = ErrorMapServiceClient::connect(addr.clone())
            .await
            .expect("connect");
        let signalled = signalled.clone();
        workers.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            loop {
                let began_before = !signalled.load(Ordering::SeqCst);
                match client.batch_resolve(batch()).await {
                    Ok(answer) => {
                        assert_eq!(answer.into_inner().results.len(), 200, "a whole answer");
                        let ended_after = signalled.load(Ordering::SeqCst);
                        seen.push(Seen::Answered {
                            in_flight: began_before && ended_after,
                        });
                    }
                    Err(status) => {
                        seen.push(Seen::Refused(status));
                        return seen;
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    signalled.store(true, Ordering::SeqCst);
    server.begin_stop();

    let flipped = tokio::time::timeout(Duration::from_secs(1), watch.next())
        .await
        .expect("health changes at once")
        .expect("open")
        .expect("ok");
    assert_eq!(flipped.status(), ServingStatus::NotServing);
    // The watch is a call on the admin listener, which would hold its close.
    drop((watch, health));

    let mut answered = 0;
    let mut in_flight = 0;
    for worker in workers {
        for seen in worker.await.expect("worker ran") {
            match seen {
                Seen::Answered { in_flight: was } => {
                    answered += 1;
                    in_flight += usize::from(was);
                }
                // That no accepted call was cut short is shown server-side
                // too: the drain below completes only once every call the
                // server took has finished.
                Seen::Refused(status) => {
                    assert!(never_taken(&status), "only new calls may fail: {status:?}")
                }
            }
        }
    }
    assert!(answered > 8, "the load was real: {answered} answered");
    assert!(in_flight > 0, "calls in flight at the signal completed");

    let refused = ErrorMapServiceClient::connect(addr.clone()).await;
    assert!(
        refused.is_err(),
        "new connections are refused once draining begins"
    );

    let stopped = tokio::time::timeout(Duration::from_secs(10), server.stop())
        .await
        .expect("stops within the grace period");
    assert_eq!(stopped, Stopped::Drained, "every accepted call finished");
}

#[tokio::test]
async fn the_shutdown_delay_keeps_serving_while_unready() {
    let mut server = TestServer::start_with(ServerConfig {
        shutdown_delay: Duration::from_millis(500),
        shutdown_grace: Duration::from_secs(5),
        ..Default::default()
    })
    .await;
    let mut health = HealthClient::new(server.channel.clone());
    let mut watch = health
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("watch")
        .into_inner();
    assert_eq!(
        watch.next().await.expect("status").expect("ok").status(),
        ServingStatus::Serving
    );
    server.begin_stop();
    let flipped = watch.next().await.expect("status").expect("ok");
    assert_eq!(flipped.status(), ServingStatus::NotServing);
    drop((watch, health));

    // Unready, yet a new connection and its call are still served.
    let addr = format!("http://{}", server.grpc_addr);
    let mut late = ErrorMapServiceClient::connect(addr)
        .await
        .expect("still accepting");
    late.batch_resolve(batch()).await.expect("still serving");
    drop(late);

    let stopped = tokio::time::timeout(Duration::from_secs(10), server.stop())
        .await
        .expect("stops after the delay and the drain");
    assert_eq!(stopped, Stopped::Drained);
}
