//! Gateway → gRPC: by code, alias, code and status, status alone, fallback.

use crate::support::{Client, TestServer};
use errmap::pb::errmap::v1::{MatchKind, Resolution, ResolveGatewayErrorRequest};
use errmap::pb::google::rpc::Code;
use tonic_types::StatusExt;

async fn resolve(client: &mut Client, code: &str, http_status: Option<i32>) -> Resolution {
    try_resolve(client, code, http_status)
        .await
        .unwrap_or_else(|s| panic!("{code:?} {http_status:?}: {s}"))
}

async fn try_resolve(
    client: &mut Client,
    code: &str,
    http_status: Option<i32>,
) -> Result<Resolution, tonic::Status> {
    Ok(client
        .resolve_gateway_error(ResolveGatewayErrorRequest {
            code: code.to_owned(),
            http_status,
            ..Default::default()
        })
        .await?
        .into_inner()
        .resolution
        .expect("a resolution"))
}

#[tokio::test]
async fn corrected_spellings_are_aliases_of_the_seed_spellings() {
    let server = TestServer::start().await;
    let mut client = server.client();
    for (alias, canonical) in [
        ("APIGW_KEY_NOT_EXIST", "APIGW_KEY_NOT_EXITST"),
        ("APIGW_ROLE_NOT_EXIST", "APIGW_ROLE_NOT_EXITST"),
        ("APIGW_USER_NOT_EXIST", "APIGW_USER_NOT_EXITST"),
        (
            "APIGATEWAY_SWAGGER_NULL_ERROR",
            "APIGATEWAY_SWAGGER_NULL_ERRO",
        ),
    ] {
        let r = resolve(&mut client, alias, None).await;
        assert_eq!(r.match_kind(), MatchKind::Alias, "{alias}");
        assert_eq!(r.entry.expect("entry").code, canonical);
        let r = resolve(&mut client, &format!("  {}\t", alias.to_lowercase()), None).await;
        assert_eq!(r.match_kind(), MatchKind::Alias, "{alias}");
        assert_eq!(r.entry.expect("entry").code, canonical);
        let r = resolve(&mut client, canonical, None).await;
        assert_eq!(r.match_kind(), MatchKind::Code, "{canonical}");
        assert_eq!(r.entry.expect("entry").code, canonical);
    }
    server.stop().await;
}

#[tokio::test]
async fn case_and_surrounding_space_are_ignored_and_answers_are_canonical() {
    let server = TestServer::start().await;
    let mut client = server.client();
    let r = resolve(&mut client, "  apigw_nonce_Conflict \n", Some(403)).await;
    assert_eq!(r.match_kind(), MatchKind::Code);
    assert_eq!(r.grpc_code, Code::PermissionDenied as i32);
    assert_eq!(r.entry.expect("entry").code, "APIGW_NONCE_CONFLICT");
    server.stop().await;
}

#[tokio::test]
async fn both_failed_precondition_rows_are_reachable() {
    let server = TestServer::start().await;
    let mut client = server.client();
    let r400 = resolve(&mut client, "FAILED_PRECONDITION", Some(400)).await;
    let e400 = r400.entry.expect("entry");
    assert_eq!(
        (e400.http_status, e400.message.as_str()),
        (400, "资源 resource 在当前状态下不可进行当前操作")
    );
    let r409 = resolve(&mut client, "FAILED_PRECONDITION", Some(409)).await;
    assert_eq!(r409.match_kind(), MatchKind::Code);
    let e409 = r409.entry.expect("entry");
    assert_eq!(
        (e409.http_status, e409.message.as_str()),
        (409, "多个参数有大小依赖关系")
    );
    assert_eq!(r409.candidates.len(), 1);
    assert_eq!(r409.candidates[0].http_status, 400);

    let bare = resolve(&mut client, "failed_precondition", None).await;
    assert_eq!(bare.entry.expect("entry").http_status, 400);
    assert_eq!(bare.candidates.len(), 1);
    assert_eq!(bare.candidates[0].http_status, 409);
    server.stop().await;
}

#[tokio::test]
async fn a_known_code_with_another_status_is_answered_by_code() {
    let server = TestServer::start().await;
    let mut client = server.client();
    let r = resolve(&mut client, "APIGW_NONCE_CONFLICT", Some(500)).await;
    assert_eq!(r.match_kind(), MatchKind::CodeStatusMismatch);
    assert_eq!(r.http_status, 403);
    assert_eq!(r.entry.expect("entry").code, "APIGW_NONCE_CONFLICT");
    assert!(r.note.contains("500"), "{}", r.note);
    server.stop().await;
}

#[tokio::test]
async fn status_alone_resolves_any_status_and_lists_candidates() {
    let server = TestServer::start().await;
    let mut client = server.client();

    let r = resolve(&mut client, "", Some(503)).await;
    assert_eq!(r.match_kind(), MatchKind::StatusOnly);
    assert_eq!(
        (r.grpc_code, r.http_status),
        (Code::Unavailable as i32, 503)
    );
    assert_eq!(r.entry.expect("entry").code, "UNAVAILABLE");
    assert!(r.candidates.is_empty());

    let r = resolve(&mut client, "", Some(404)).await;
    assert_eq!(r.grpc_code, Code::NotFound as i32);
    assert_eq!(r.entry.expect("entry").code, "NOT_FOUND");
    let codes: Vec<&str> = r.candidates.iter().map(|c| c.code.as_str()).collect();
    assert!(codes.contains(&"APIGW_SERVICE_NOT_FOUND"));
    assert!(codes.contains(&"APIGATEWAY_SWAGGER_NULL_ERRO"));
    assert!(r.candidates.iter().all(|c| c.http_status == 404));

    let r = resolve(&mut client, "", Some(502)).await;
    assert_eq!(r.grpc_code, Code::Unavailable as i32);
    assert_eq!(r.entry.expect("entry").code, "SOURCE_UNAVAILABLE");
    assert_eq!(r.candidates.len(), 1);
    assert_eq!(r.candidates[0].code, "HTTP_BAD_GATEWAY");

    for (status, code) in [
        (100, Code::Unknown),
        (204, Code::Ok),
        (302, Code::Unknown),
        (418, Code::FailedPrecondition),
        (599, Code::Unknown),
    ] {
        let r = resolve(&mut client, "", Some(status)).await;
        assert_eq!(r.match_kind(), MatchKind::StatusOnly, "{status}");
        assert_eq!((r.grpc_code, r.http_status), (code as i32, status));
        assert!(r.entry.is_none(), "{status} has no catalog entry");
        assert!(r.candidates.is_empty(), "{status}");
    }
    server.stop().await;
}

#[tokio::test]
async fn an_unknown_code_with_a_status_falls_back_to_the_status() {
    let server = TestServer::start().await;
    let mut client = server.client();
    let r = resolve(&mut client, "SOMETHING_NEW", Some(429)).await;
    assert_eq!(r.match_kind(), MatchKind::StatusFallback);
    assert_eq!(
        (r.grpc_code, r.http_status),
        (Code::ResourceExhausted as i32, 429)
    );
    assert_eq!(r.entry.expect("entry").code, "QUOTA_EXCEEDED");
    assert_eq!(r.candidates[0].code, "RATE_LIMIT_EXCEEDED");
    assert!(r.note.contains("SOMETHING_NEW"), "{}", r.note);
    server.stop().await;
}

#[tokio::test]
async fn an_unknown_code_alone_is_not_found_with_suggestions() {
    let server = TestServer::start().await;
    let mut client = server.client();
    let status = try_resolve(&mut client, "APIGW_NONCE_CONFLICTS", None)
        .await
        .expect_err("unknown code");
    assert_eq!(status.code(), tonic::Code::NotFound);
    assert!(
        status.message().contains("\"APIGW_NONCE_CONFLICTS\""),
        "{}",
        status.message()
    );
    assert!(
        status.message().contains("APIGW_NONCE_CONFLICT"),
        "{}",
        status.message()
    );
    let info = status.get_details_error_info().expect("ErrorInfo detail");
    assert_eq!(info.reason, "UNKNOWN_GATEWAY_CODE");
    assert_eq!(
        info.metadata.get("code").map(String::as_str),
        Some("APIGW_NONCE_CONFLICTS")
    );
    let suggestions = info.metadata.get("suggestions").expect("suggestions");
    assert!(
        suggestions.starts_with("APIGW_NONCE_CONFLICT"),
        "{suggestions}"
    );
    server.stop().await;
}
