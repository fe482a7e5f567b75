//! `Resolution.success`: true exactly when the answer is gRPC OK (the
//! gateway's success entry, a bare 2xx status, OK itself), in every RPC,
//! view and profile, prepared or computed; the success entry's status is
//! still filled, as it was before the field.

use crate::support::{resolve_gateway, resolve_grpc, seed_rows, Client, TestServer};
use errmap::pb::errmap::v1::batch_query::Query;
use errmap::pb::errmap::v1::batch_result::Result as Outcome;
use errmap::pb::errmap::v1::{
    BatchQuery, BatchResolveRequest, MatchKind, Profile, Resolution, ResolutionView,
    ResolveGatewayErrorRequest, ResolveGrpcStatusRequest,
};
use errmap::pb::google::rpc::Code;
use errmap::server::ServerConfig;
use errmap::service::Options;

const SUCCESS_CODE: &str = "APIGATEWAY_SUCCESS";

/// A server that sends prepared answers, and one that computes them all.
async fn both_servers() -> [TestServer; 2] {
    let computing = TestServer::start_with(ServerConfig {
        service: Options {
            prepare_answers: false,
            ..Options::default()
        },
        ..Default::default()
    })
    .await;
    [TestServer::start().await, computing]
}

fn gateway(code: &str, http_status: Option<i32>, profile: Profile) -> ResolveGatewayErrorRequest {
    ResolveGatewayErrorRequest {
        code: code.into(),
        http_status,
        profile: profile as i32,
        ..Default::default()
    }
}

/// The resolutions of a batch, which must all resolve.
async fn batch(client: &mut Client, queries: Vec<Query>, view: ResolutionView) -> Vec<Resolution> {
    let request = BatchResolveRequest {
        view: view as i32,
        ..BatchResolveRequest::new(
            queries
                .into_iter()
                .map(|query| BatchQuery { query: Some(query) })
                .collect(),
        )
    };
    client
        .batch_resolve(request)
        .await
        .expect("the batch succeeds")
        .into_inner()
        .results
        .into_iter()
        .map(|result| match result.result {
            Some(Outcome::Resolution(r)) => r,
            other => panic!("not a resolution: {other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn only_the_success_entry_is_success_among_the_catalog_rows() {
    let rows = seed_rows();
    assert_eq!(
        rows.iter().filter(|r| r.code == SUCCESS_CODE).count(),
        1,
        "the document has one success row"
    );
    for server in both_servers().await {
        let mut client = server.client();
        for row in &rows {
            let expected = row.code == SUCCESS_CODE;
            for profile in [Profile::Google, Profile::GrpcProxy] {
                for status in [None, Some(row.http_status)] {
                    let r = resolve_gateway(&mut client, gateway(&row.code, status, profile)).await;
                    assert_eq!(r.success, expected, "{} {status:?} {profile:?}", row.code);
                    assert_eq!(r.success, r.grpc_code == Code::Ok as i32, "{}", row.code);
                }
            }
            let queries = vec![Query::GatewayError(gateway(
                &row.code,
                Some(row.http_status),
                Profile::Unspecified,
            ))];
            for view in [ResolutionView::Full, ResolutionView::Basic] {
                let results = batch(&mut client, queries.clone(), view).await;
                assert_eq!(results[0].success, expected, "{} {view:?}", row.code);
            }
        }
        server.stop().await;
    }
}

#[tokio::test]
async fn the_success_entry_keeps_its_status_beside_the_field() {
    let server = TestServer::start().await;
    let mut client = server.client();
    let r = resolve_gateway(
        &mut client,
        gateway(SUCCESS_CODE, Some(200), Profile::Unspecified),
    )
    .await;
    assert!(r.success);
    assert_eq!(r.match_kind(), MatchKind::Code);
    assert_eq!((r.grpc_code, r.http_status), (Code::Ok as i32, 200));
    let status = r.status.expect("the status is still filled");
    assert_eq!(status.code, Code::Ok as i32);
    assert!(!status.message.is_empty());
    assert!(!status.details.is_empty());
    assert!(!r.status_details_bin.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn grpc_ok_alone_is_success_in_both_views() {
    for server in both_servers().await {
        let mut client = server.client();
        for code in 0..=16 {
            let request = ResolveGrpcStatusRequest {
                code,
                ..Default::default()
            };
            let r = resolve_grpc(&mut client, request.clone()).await;
            assert_eq!(r.success, code == 0, "code {code}");
            if code == 0 {
                let entry = r.entry.expect("an entry");
                assert_eq!((entry.code.as_str(), r.http_status), (SUCCESS_CODE, 200));
            }
            for view in [ResolutionView::Full, ResolutionView::Basic] {
                let results =
                    batch(&mut client, vec![Query::GrpcStatus(request.clone())], view).await;
                assert_eq!(results[0].success, code == 0, "code {code} {view:?}");
            }
        }
        server.stop().await;
    }
}

#[tokio::test]
async fn a_bare_status_is_success_when_its_profile_gives_ok() {
    let server = TestServer::start().await;
    let mut client = server.client();
    let cases = [
        (200, Profile::Google, true),
        (201, Profile::Google, true),
        (204, Profile::Unspecified, true),
        (200, Profile::GrpcProxy, false),
        (204, Profile::GrpcProxy, false),
        (302, Profile::Google, false),
        (404, Profile::Google, false),
        (503, Profile::Google, false),
    ];
    for (status, profile, expected) in cases {
        let r = resolve_gateway(&mut client, gateway("", Some(status), profile)).await;
        assert_eq!(r.match_kind(), MatchKind::StatusOnly);
        assert_eq!(r.success, expected, "{status} {profile:?}");
        assert_eq!(r.success, r.grpc_code == Code::Ok as i32);
        // An unknown code falls back to its status, and so does success.
        let fallback =
            resolve_gateway(&mut client, gateway("NO_SUCH_CODE", Some(status), profile)).await;
        assert_eq!(fallback.match_kind(), MatchKind::StatusFallback);
        assert_eq!(
            fallback.success, expected,
            "NO_SUCH_CODE {status} {profile:?}"
        );
    }
    server.stop().await;
}
