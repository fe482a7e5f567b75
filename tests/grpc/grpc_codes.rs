//! gRPC → gateway for all 17 codes, and the reason that picks an entry.

use crate::support::{bad_fields, resolve_gateway, seed_rows, TestServer};
use errmap::pb::errmap::v1::{
    ListErrorsRequest, MatchKind, Resolution, ResolveGatewayErrorRequest, ResolveGrpcStatusRequest,
};
use errmap::pb::google::rpc::Code;

/// google/rpc/code.proto's HTTP status per code, and the gateway code the
/// catalog reports by default.
const EXPECTED: [(Code, i32, &str); 17] = [
    (Code::Ok, 200, "APIGATEWAY_SUCCESS"),
    (Code::Cancelled, 499, "CANCELLED"),
    (Code::Unknown, 500, "UNKNOWN"),
    (Code::InvalidArgument, 400, "INVALID_ARGUMENT"),
    (Code::DeadlineExceeded, 504, "DEADLINE_EXCEEDED"),
    (Code::NotFound, 404, "NOT_FOUND"),
    (Code::AlreadyExists, 409, "ALREADY_EXISTS"),
    (Code::PermissionDenied, 403, "HTTP_FORBIDDEN"),
    (Code::ResourceExhausted, 429, "QUOTA_EXCEEDED"),
    (Code::FailedPrecondition, 400, "FAILED_PRECONDITION"),
    (Code::Aborted, 409, "ABORTED"),
    (Code::OutOfRange, 400, "OUT_OF_RANGE"),
    (Code::Unimplemented, 501, "NOT_IMPLEMENTED"),
    (Code::Internal, 500, "INTERNAL"),
    (Code::Unavailable, 503, "UNAVAILABLE"),
    (Code::DataLoss, 500, "INTERNAL"),
    (Code::Unauthenticated, 401, "UNAUTHENTICATED"),
];

async fn resolve(client: &mut crate::support::Client, code: i32, reason: &str) -> Resolution {
    client
        .resolve_grpc_status(ResolveGrpcStatusRequest {
            code,
            message: String::new(),
            reason: reason.to_owned(),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|s| panic!("code {code} reason {reason:?}: {s}"))
        .into_inner()
        .resolution
        .expect("a resolution")
}

#[tokio::test]
async fn all_17_codes_map_to_code_proto_statuses_and_default_codes() {
    let server = TestServer::start().await;
    let mut client = server.client();
    for (code, http_status, gateway) in EXPECTED {
        let r = resolve(&mut client, code as i32, "").await;
        let name = code.as_str_name();
        assert_eq!(r.match_kind(), MatchKind::GrpcCode, "{name}");
        assert_eq!(r.grpc_code, code as i32, "{name}");
        assert_eq!(r.http_status, http_status, "{name}");
        let entry = r.entry.expect("an entry");
        assert_eq!(entry.code, gateway, "{name}");
        // Every other entry with the same gRPC code is a candidate.
        let same_code = client
            .list_errors(ListErrorsRequest {
                grpc_code: Some(code as i32),
                page_size: 1000,
                ..Default::default()
            })
            .await
            .expect("lists")
            .into_inner()
            .total_size;
        let chosen_counts = i32::from(entry.grpc_code == code as i32);
        assert_eq!(
            r.candidates.len() as i32,
            same_code - chosen_counts,
            "{name}"
        );
        assert!(r.candidates.iter().all(|c| c.grpc_code == code as i32
            && !(c.code == gateway && c.http_status == entry.http_status)));
    }
    server.stop().await;
}

#[tokio::test]
async fn candidates_are_every_other_entry_with_the_code() {
    let server = TestServer::start().await;
    let mut client = server.client();
    let r = resolve(&mut client, Code::PermissionDenied as i32, "").await;
    let codes: Vec<&str> = r.candidates.iter().map(|c| c.code.as_str()).collect();
    assert!(codes.contains(&"APIGW_NONCE_CONFLICT"));
    assert!(codes.contains(&"APIGATEWAY_HTTP_FORBIDDEN"));
    assert!(
        !codes.contains(&"HTTP_FORBIDDEN"),
        "the chosen entry is not a candidate"
    );
    server.stop().await;
}

#[tokio::test]
async fn reason_picks_between_quota_and_rate_limit() {
    let server = TestServer::start().await;
    let mut client = server.client();
    let default = resolve(&mut client, Code::ResourceExhausted as i32, "").await;
    assert_eq!(default.entry.expect("entry").code, "QUOTA_EXCEEDED");
    assert!(default
        .candidates
        .iter()
        .any(|c| c.code == "RATE_LIMIT_EXCEEDED"));

    let rate = resolve(
        &mut client,
        Code::ResourceExhausted as i32,
        " rate_limit_exceeded ",
    )
    .await;
    assert_eq!(rate.match_kind(), MatchKind::GrpcReason);
    assert_eq!(rate.http_status, 429);
    assert_eq!(rate.entry.expect("entry").code, "RATE_LIMIT_EXCEEDED");
    assert!(rate.candidates.iter().any(|c| c.code == "QUOTA_EXCEEDED"));

    let unknown = resolve(
        &mut client,
        Code::ResourceExhausted as i32,
        "NO_SUCH_REASON",
    )
    .await;
    assert_eq!(unknown.match_kind(), MatchKind::GrpcCode);
    assert_eq!(unknown.entry.expect("entry").code, "QUOTA_EXCEEDED");
    assert!(unknown.note.contains("NO_SUCH_REASON"), "{}", unknown.note);
    server.stop().await;
}

#[tokio::test]
async fn a_reason_naming_any_entry_selects_it_with_its_own_status() {
    let server = TestServer::start().await;
    let mut client = server.client();
    let r = resolve(
        &mut client,
        Code::PermissionDenied as i32,
        "APIGW_NONCE_CONFLICT",
    )
    .await;
    assert_eq!(r.match_kind(), MatchKind::GrpcReason);
    assert_eq!(r.http_status, 403);
    assert_eq!(r.entry.expect("entry").code, "APIGW_NONCE_CONFLICT");
    // The 409 row of FAILED_PRECONDITION is chosen when the reason says so
    // and the code agrees; the code decides between rows of one name.
    let r = resolve(
        &mut client,
        Code::FailedPrecondition as i32,
        "FAILED_PRECONDITION",
    )
    .await;
    assert_eq!(r.entry.expect("entry").http_status, 400);
    server.stop().await;
}

/// gRPC → gateway → gRPC gives the code back, for every code whose default
/// entry exists (DATA_LOSS has no own entry and reports INTERNAL).
#[tokio::test]
async fn grpc_to_gateway_and_back_round_trips() {
    let server = TestServer::start().await;
    let mut client = server.client();
    for (code, _, _) in EXPECTED {
        let there = resolve(&mut client, code as i32, "").await;
        let entry = there.entry.expect("entry");
        let back = resolve_gateway(
            &mut client,
            ResolveGatewayErrorRequest {
                code: entry.code.clone(),
                http_status: Some(entry.http_status),
                ..Default::default()
            },
        )
        .await;
        let expected = if code == Code::DataLoss {
            Code::Internal
        } else {
            code
        };
        assert_eq!(back.grpc_code, expected as i32, "{}", code.as_str_name());
    }
    server.stop().await;
}

/// Where an entry's gRPC code carries the entry's own status in code.proto,
/// gRPC → HTTP gives the gateway's status back (the rule of thumb).
#[tokio::test]
async fn entries_that_follow_code_proto_get_their_status_back() {
    let server = TestServer::start().await;
    let mut client = server.client();
    let mut followed = 0;
    for row in seed_rows() {
        let entry = resolve_gateway(
            &mut client,
            ResolveGatewayErrorRequest {
                code: row.code.clone(),
                http_status: Some(row.http_status),
                ..Default::default()
            },
        )
        .await;
        let status_of_code = EXPECTED
            .iter()
            .find(|(c, _, _)| *c as i32 == entry.grpc_code)
            .map(|(_, s, _)| *s)
            .expect("a valid code");
        if status_of_code == row.http_status {
            followed += 1;
            let back = resolve(&mut client, entry.grpc_code, "").await;
            assert_eq!(back.http_status, row.http_status, "{}", row.code);
        }
    }
    // docs/mapping.md lists the nine entries that deviate, with reasons.
    assert_eq!(followed, 82 - 9);
    server.stop().await;
}

#[tokio::test]
async fn codes_outside_0_to_16_are_invalid_arguments() {
    let server = TestServer::start().await;
    let mut client = server.client();
    for code in [17, -1, i32::MAX, i32::MIN] {
        let status = client
            .resolve_grpc_status(ResolveGrpcStatusRequest {
                code,
                ..Default::default()
            })
            .await
            .expect_err("out of range");
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(status.message().contains("code"), "{}", status.message());
        assert!(
            status.message().contains("between 0 (OK) and 16"),
            "{}",
            status.message()
        );
        assert!(
            status.message().contains(&code.to_string()),
            "{}",
            status.message()
        );
        assert_eq!(bad_fields(&status), vec!["code".to_owned()]);
    }
    server.stop().await;
}
