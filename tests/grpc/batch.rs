//! BatchResolve: request order, per-item errors, limits.

use crate::support::TestServer;
use errmap::pb::errmap::v1::batch_query::Query;
use errmap::pb::errmap::v1::batch_result::Result as Outcome;
use errmap::pb::errmap::v1::{
    BatchQuery, BatchResolveRequest, ResolveGatewayErrorRequest, ResolveGrpcStatusRequest,
};
use errmap::pb::google::rpc::{BadRequest, Code};
use errmap::server::ServerConfig;
use prost::Message;
use std::time::Duration;

fn gateway(code: &str, http_status: Option<i32>) -> BatchQuery {
    BatchQuery {
        query: Some(Query::GatewayError(ResolveGatewayErrorRequest {
            code: code.to_owned(),
            http_status,
            ..Default::default()
        })),
    }
}

fn grpc(code: i32, reason: &str) -> BatchQuery {
    BatchQuery {
        query: Some(Query::GrpcStatus(ResolveGrpcStatusRequest {
            code,
            message: String::new(),
            reason: reason.to_owned(),
            ..Default::default()
        })),
    }
}

#[tokio::test]
async fn results_come_in_request_order_with_per_item_errors() {
    let server = TestServer::start().await;
    let mut client = server.client();
    let queries = vec![
        gateway("APIGW_NONCE_CONFLICT", None),
        grpc(Code::Unavailable as i32, ""),
        gateway("NO_SUCH_CODE", None),
        gateway("", Some(700)),
        BatchQuery { query: None },
        grpc(99, ""),
        gateway("", Some(504)),
    ];
    let results = client
        .batch_resolve(BatchResolveRequest::new(queries))
        .await
        .expect("batch succeeds as a whole")
        .into_inner()
        .results;
    assert_eq!(results.len(), 7);
    let entry_code = |i: usize| match &results[i].result {
        Some(Outcome::Resolution(r)) => r.entry.as_ref().map(|e| e.code.clone()),
        other => panic!("item {i}: {other:?}"),
    };
    let error = |i: usize| match &results[i].result {
        Some(Outcome::Error(e)) => e.clone(),
        other => panic!("item {i}: {other:?}"),
    };
    assert_eq!(entry_code(0).as_deref(), Some("APIGW_NONCE_CONFLICT"));
    assert_eq!(entry_code(1).as_deref(), Some("UNAVAILABLE"));
    assert_eq!(error(2).code, Code::NotFound as i32);
    assert!(error(2).message.contains("NO_SUCH_CODE"));

    let bad = error(3);
    assert_eq!(bad.code, Code::InvalidArgument as i32);
    assert!(
        bad.message.contains("queries[3].gateway_error.http_status"),
        "{}",
        bad.message
    );
    assert!(bad.message.contains("100 and 599"), "{}", bad.message);
    let detail = bad
        .details
        .iter()
        .find(|d| d.type_url.ends_with("google.rpc.BadRequest"))
        .expect("a BadRequest detail");
    let request = BadRequest::decode(detail.value.as_slice()).expect("decodes");
    assert_eq!(
        request.field_violations[0].field,
        "queries[3].gateway_error.http_status"
    );

    assert_eq!(error(4).code, Code::InvalidArgument as i32);
    assert!(
        error(4).message.contains("queries[4]"),
        "{}",
        error(4).message
    );
    assert!(
        error(5).message.contains("queries[5].grpc_status.code"),
        "{}",
        error(5).message
    );
    assert_eq!(entry_code(6).as_deref(), Some("DEADLINE_EXCEEDED"));
    server.stop().await;
}

#[tokio::test]
async fn an_empty_batch_is_an_empty_answer() {
    let server = TestServer::start().await;
    let results = server
        .client()
        .batch_resolve(BatchResolveRequest::new(vec![]))
        .await
        .expect("empty batch")
        .into_inner()
        .results;
    assert!(results.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn the_default_limit_is_1000_queries() {
    let server = TestServer::start().await;
    let mut client = server.client();
    let full: Vec<BatchQuery> = (0..1000).map(|i| grpc(i % 17, "")).collect();
    let results = client
        .batch_resolve(BatchResolveRequest::new(full.clone()))
        .await
        .expect("1000 queries fit")
        .into_inner()
        .results;
    assert_eq!(results.len(), 1000);
    for (i, result) in results.iter().enumerate() {
        match &result.result {
            Some(Outcome::Resolution(r)) => assert_eq!(r.grpc_code, (i % 17) as i32),
            other => panic!("item {i}: {other:?}"),
        }
    }
    let mut over = full;
    over.push(grpc(0, ""));
    let status = client
        .batch_resolve(BatchResolveRequest::new(over))
        .await
        .expect_err("1001 queries are too many");
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(status.message().contains("queries"), "{}", status.message());
    assert!(
        status.message().contains("at most 1000"),
        "{}",
        status.message()
    );
    assert!(status.message().contains("1001"), "{}", status.message());
    server.stop().await;
}

#[tokio::test]
async fn the_limit_is_configurable() {
    let server = TestServer::start_with(ServerConfig {
        shutdown_grace: Duration::from_secs(5),
        service: errmap::service::Options {
            max_batch: 2,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let mut client = server.client();
    let status = client
        .batch_resolve(BatchResolveRequest::new(vec![
            grpc(0, ""),
            grpc(1, ""),
            grpc(2, ""),
        ]))
        .await
        .expect_err("three is over two");
    assert!(
        status.message().contains("at most 2"),
        "{}",
        status.message()
    );
    server.stop().await;
}
