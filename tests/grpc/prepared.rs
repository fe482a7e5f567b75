//! Prepared answers and the batch views: a server that sends prepared
//! answers must say exactly what one that computes every answer says.

use crate::support::{bad_fields, Client, TestServer};
use errmap::catalog::Catalog;
use errmap::pb::errmap::v1::batch_query::Query;
use errmap::pb::errmap::v1::batch_result::Result as Outcome;
use errmap::pb::errmap::v1::{
    BatchQuery, BatchResolveRequest, BatchResult, Profile, ResolutionView,
    ResolveGatewayErrorRequest, ResolveGrpcStatusRequest,
};
use errmap::server::ServerConfig;
use errmap::service::Options;
use prost::Message;

const LOCALES: [&str; 4] = ["", "zh-CN", "en-US", "en-GB"];
const PROFILES: [Profile; 3] = [Profile::Unspecified, Profile::Google, Profile::GrpcProxy];

/// Every plain gateway query: each entry by code, with and without its own
/// status, in every locale and profile.
fn gateway_queries() -> Vec<ResolveGatewayErrorRequest> {
    let catalog = Catalog::embedded().expect("embedded catalog loads");
    let mut queries = Vec::new();
    for entry in catalog.entries() {
        for status in [None, Some(entry.http_status)] {
            for locale in LOCALES {
                for profile in PROFILES {
                    queries.push(ResolveGatewayErrorRequest {
                        code: entry.code.clone(),
                        http_status: status,
                        locale: locale.into(),
                        profile: profile as i32,
                        ..Default::default()
                    });
                }
            }
        }
    }
    queries
}

/// Every plain gRPC query: each code in every locale.
fn grpc_queries() -> Vec<ResolveGrpcStatusRequest> {
    (0..=16)
        .flat_map(|code| {
            LOCALES.map(|locale| ResolveGrpcStatusRequest {
                code,
                locale: locale.into(),
                ..Default::default()
            })
        })
        .collect()
}

/// Every plain query, in batches of at most the server's limit.
fn batches(view: ResolutionView) -> Vec<BatchResolveRequest> {
    let gateway = gateway_queries().into_iter().map(Query::GatewayError);
    let grpc = grpc_queries().into_iter().map(Query::GrpcStatus);
    let queries: Vec<BatchQuery> = gateway
        .chain(grpc)
        .map(|query| BatchQuery { query: Some(query) })
        .collect();
    queries
        .chunks(1000)
        .map(|chunk| BatchResolveRequest {
            view: view as i32,
            ..BatchResolveRequest::new(chunk.to_vec())
        })
        .collect()
}

async fn computing_server() -> TestServer {
    TestServer::start_with(ServerConfig {
        service: Options {
            prepare_answers: false,
            ..Options::default()
        },
        ..Default::default()
    })
    .await
}

async fn batch_results(
    client: &mut Client,
    requests: Vec<BatchResolveRequest>,
) -> Vec<BatchResult> {
    let mut results = Vec::new();
    for request in requests {
        let answer = client
            .batch_resolve(request)
            .await
            .expect("the batch succeeds");
        results.extend(answer.into_inner().results);
    }
    results
}

#[tokio::test]
async fn prepared_single_answers_are_the_computed_ones() {
    let (prepared, computed) = (TestServer::start().await, computing_server().await);
    let (mut fast, mut slow) = (prepared.client(), computed.client());
    for query in gateway_queries() {
        let a = fast
            .resolve_gateway_error(query.clone())
            .await
            .expect("resolves");
        let b = slow
            .resolve_gateway_error(query.clone())
            .await
            .expect("resolves");
        assert_eq!(a.into_inner(), b.into_inner(), "{query:?}");
    }
    for query in grpc_queries() {
        let a = fast
            .resolve_grpc_status(query.clone())
            .await
            .expect("resolves");
        let b = slow
            .resolve_grpc_status(query.clone())
            .await
            .expect("resolves");
        assert_eq!(a.into_inner(), b.into_inner(), "{query:?}");
    }
}

#[tokio::test]
async fn prepared_batch_answers_are_the_computed_ones_in_both_views() {
    let (prepared, computed) = (TestServer::start().await, computing_server().await);
    let (mut fast, mut slow) = (prepared.client(), computed.client());
    for view in [
        ResolutionView::Unspecified,
        ResolutionView::Full,
        ResolutionView::Basic,
    ] {
        let a = batch_results(&mut fast, batches(view)).await;
        let b = batch_results(&mut slow, batches(view)).await;
        let asked: usize = batches(view).iter().map(|b| b.queries.len()).sum();
        assert_eq!(a.len(), asked);
        assert_eq!(a, b, "{view:?}");
    }
}

#[tokio::test]
async fn the_basic_view_keeps_what_a_bulk_caller_acts_on() {
    let server = TestServer::start().await;
    let mut client = server.client();
    let full = batch_results(&mut client, batches(ResolutionView::Full)).await;
    let basic = batch_results(&mut client, batches(ResolutionView::Basic)).await;
    assert_eq!(full.len(), basic.len());
    let resolution = |result: &BatchResult| match &result.result {
        Some(Outcome::Resolution(r)) => r.clone(),
        other => panic!("not a resolution: {other:?}"),
    };
    let mut largest = 0;
    for (full, basic) in full.iter().zip(&basic) {
        let (f, b) = (resolution(full), resolution(basic));
        assert_eq!(
            (
                b.match_kind,
                b.grpc_code,
                b.http_status,
                b.success,
                &b.message
            ),
            (
                f.match_kind,
                f.grpc_code,
                f.http_status,
                f.success,
                &f.message
            )
        );
        let code =
            |r: &errmap::pb::errmap::v1::Resolution| r.entry.as_ref().map(|e| e.code.clone());
        assert_eq!(code(&b), code(&f));
        let entry = b.entry.clone().unwrap_or_default();
        assert_eq!(
            entry,
            errmap::pb::errmap::v1::CatalogEntry {
                code: entry.code.clone(),
                ..Default::default()
            },
            "the basic view's entry holds its code alone"
        );
        assert!(b.status.is_none() && b.status_details_bin.is_empty());
        assert!(b.note.is_empty() && b.gateway_error_body.is_empty());
        assert!(b.candidates.is_empty() && b.catalog_version.is_empty());
        largest = largest.max(basic.encoded_len());
        assert!(basic.encoded_len() * 5 < full.encoded_len(), "{b:?}");
    }
    assert!(
        largest <= 200,
        "a basic result is at most 200 bytes, got {largest}"
    );
}

#[tokio::test]
async fn an_unknown_view_is_invalid_argument_naming_the_range() {
    let server = TestServer::start().await;
    let request = BatchResolveRequest {
        view: 7,
        ..BatchResolveRequest::new(vec![])
    };
    let status = server
        .client()
        .batch_resolve(request)
        .await
        .expect_err("view 7 is refused");
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert_eq!(bad_fields(&status), ["view"]);
    assert!(
        status.message().contains("RESOLUTION_VIEW_BASIC (1)"),
        "{status:?}"
    );
    assert!(
        status.message().contains("RESOLUTION_VIEW_FULL (2)"),
        "{status:?}"
    );
}

#[tokio::test]
async fn a_query_that_does_not_decode_fails_only_itself() {
    let server = TestServer::start().await;
    let plain = BatchQuery {
        query: Some(Query::GrpcStatus(ResolveGrpcStatusRequest {
            code: 14,
            ..Default::default()
        })),
    };
    let mut request = BatchResolveRequest::default();
    request.received.push(&plain.encode_to_vec());
    // Field 1, length 5, but one byte follows.
    request.received.push(&[0x0a, 0x05, 0x01]);
    // Field 2 with a wire type that no string, message or bytes has.
    request.received.push(&[0x10, 0x01]);
    request.received.push(&plain.encode_to_vec());
    let results = batch_results(&mut server.client(), vec![request]).await;
    assert_eq!(results.len(), 4);
    for i in [0, 3] {
        assert!(
            matches!(&results[i].result, Some(Outcome::Resolution(r)) if r.http_status == 503),
            "{i}: {:?}",
            results[i]
        );
    }
    for i in [1, 2] {
        let Some(Outcome::Error(status)) = &results[i].result else {
            panic!("{i}: {:?}", results[i]);
        };
        assert_eq!(status.code, tonic::Code::InvalidArgument as i32);
        assert!(
            status.message.contains(&format!("queries[{i}]")),
            "{status:?}"
        );
    }
}

/// The bytes a prepared answer goes out as, field 1 of a hand-encoded
/// response or batch, are prost's encoding of the computed resolution in
/// core's plain messages, `success` (field 15) included.
#[test]
fn prepared_bytes_are_prosts_encoding_of_the_computed_answer() {
    use errmap::engine::{self, Answer, Context, Prefix, View};
    use errmap::pb::errmap::v1 as wire;
    use errmap::service::prepared::Prepared;
    use errmap_core::pb::errmap::v1 as plain;
    use std::sync::Arc;

    let catalog = Arc::new(Catalog::embedded().expect("embedded catalog loads"));
    let options = Options::default();
    let prepared = Prepared::build(catalog.clone(), &options);
    let cache = &prepared;
    let full = options.context(&catalog, None, None);
    let basic = Context {
        view: View::Basic,
        ..full
    };
    let (mut checked, mut successes) = (0, 0);
    let mut batch = wire::BatchResolveResponse::builder(0);
    let mut results = Vec::new();
    let mut check = |encoded: &[u8], computed: plain::Resolution, what: &str| {
        let success = computed.success;
        assert_eq!(success, computed.grpc_code == 0, "{what}");
        successes += usize::from(success);
        let single = plain::ResolveGatewayErrorResponse {
            resolution: Some(computed.clone()),
        }
        .encode_to_vec();
        assert_eq!(encoded, single.as_slice(), "{what}");
        let result = plain::BatchResult {
            result: Some(plain::batch_result::Result::Resolution(computed.clone())),
        };
        assert_eq!(encoded, result.encode_to_vec().as_slice(), "{what}");
        // The hand-encoded responses: prepared, built, and decoded back.
        let bytes = bytes::Bytes::copy_from_slice(encoded);
        let sent = wire::ResolveGatewayErrorResponse::prepared(bytes.clone());
        assert_eq!(sent.encode_to_vec(), single, "{what}");
        assert_eq!(sent.encoded_len(), single.len(), "{what}");
        let built = wire::ResolveGrpcStatusResponse::new(computed.clone());
        assert_eq!(built.encode_to_vec(), single, "{what}");
        let decoded = wire::ResolveGatewayErrorResponse::decode(bytes).expect("decodes");
        assert_eq!(
            decoded.resolution.as_ref().map(|r| r.success),
            Some(success)
        );
        // Field 15, varint 1: present exactly when success is true.
        let field = plain::Resolution {
            success: true,
            ..Default::default()
        }
        .encode_to_vec();
        assert_eq!(field, [0x78, 0x01]);
        let inner = computed.encode_to_vec();
        assert_eq!(inner.ends_with(&field), success, "{what}");
        batch.push_encoded(encoded);
        results.push(result);
        checked += 1;
    };
    for (row, entry) in catalog.entries().iter().enumerate() {
        for ctx in [&full, &basic] {
            for locale in ["zh-CN", "en-US"] {
                for profile in [Profile::Google, Profile::GrpcProxy] {
                    let request = ResolveGatewayErrorRequest {
                        code: entry.code.clone(),
                        http_status: Some(entry.http_status),
                        locale: locale.into(),
                        profile: profile as i32,
                        ..Default::default()
                    };
                    let Ok(Answer::Cached(answer)) =
                        engine::gateway(ctx, Prefix::ROOT, &request, &cache)
                    else {
                        panic!("row {row} is prepared: {request:?}");
                    };
                    let computed = engine::resolve_gateway(ctx, &request).expect("resolves");
                    check(&answer.encoded, computed, &format!("{request:?}"));
                }
            }
        }
    }
    for code in 0..=16 {
        for ctx in [&full, &basic] {
            let request = ResolveGrpcStatusRequest {
                code,
                locale: "en-US".into(),
                ..Default::default()
            };
            let Ok(Answer::Cached(answer)) = engine::grpc(ctx, Prefix::ROOT, &request, &cache)
            else {
                panic!("code {code} is prepared");
            };
            let computed = engine::resolve_grpc(ctx, &request).expect("resolves");
            check(&answer.encoded, computed, &format!("{request:?}"));
        }
    }
    let expected = catalog
        .entries()
        .iter()
        .filter(|e| e.grpc_code == 0)
        .count();
    assert_eq!(expected, 1, "the success entry alone is OK");
    // Each OK row in 2 views, 2 locales, 2 profiles; OK itself in 2 views.
    assert_eq!(successes, expected * 8 + 2);
    assert_eq!(checked, catalog.entries().len() * 8 + 17 * 2);
    let version = catalog.version().to_owned();
    let sent = batch.finish(&version).encode_to_vec();
    let whole = plain::BatchResolveResponse {
        results,
        catalog_version: version,
    };
    assert_eq!(sent, whole.encode_to_vec());
}
