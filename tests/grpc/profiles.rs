//! The two tables for bare HTTP statuses, one test per row
//! (docs/mapping.md, "HTTP status alone → gRPC").

use crate::support::TestServer;
use errmap::pb::errmap::v1::{MatchKind, Profile, ResolveGatewayErrorRequest};
use errmap::pb::google::rpc::Code;

async fn bare(status: i32, profile: Profile) -> (Code, String) {
    let server = TestServer::start().await;
    let r = server
        .client()
        .resolve_gateway_error(ResolveGatewayErrorRequest {
            http_status: Some(status),
            profile: profile as i32,
            ..Default::default()
        })
        .await
        .expect("resolves")
        .into_inner()
        .resolution
        .expect("resolution");
    server.stop().await;
    assert_eq!(r.match_kind(), MatchKind::StatusOnly);
    assert_eq!(r.http_status, status);
    let expected_profile = if profile == Profile::GrpcProxy {
        Profile::GrpcProxy
    } else {
        Profile::Google
    };
    assert_eq!(r.profile(), expected_profile);
    (r.grpc_code(), r.entry.map(|e| e.code).unwrap_or_default())
}

macro_rules! rows {
    ($($name:ident: $profile:ident $status:literal => $code:ident;)*) => {$(
        #[tokio::test]
        async fn $name() {
            let (code, _) = bare($status, Profile::$profile).await;
            assert_eq!(code, Code::$code);
        }
    )*};
}

rows! {
    google_200: Google 200 => Ok;
    google_204: Google 204 => Ok;
    google_400: Google 400 => InvalidArgument;
    google_401: Google 401 => Unauthenticated;
    google_403: Google 403 => PermissionDenied;
    google_404: Google 404 => NotFound;
    google_409: Google 409 => Aborted;
    google_418: Google 418 => FailedPrecondition;
    google_429: Google 429 => ResourceExhausted;
    google_499: Google 499 => Cancelled;
    google_500: Google 500 => Internal;
    google_501: Google 501 => Unimplemented;
    google_502: Google 502 => Unavailable;
    google_503: Google 503 => Unavailable;
    google_504: Google 504 => DeadlineExceeded;
    google_505: Google 505 => Unknown;
    google_101: Google 101 => Unknown;
    google_302: Google 302 => Unknown;
    unspecified_is_google_404: Unspecified 404 => NotFound;
    proxy_400: GrpcProxy 400 => Internal;
    proxy_401: GrpcProxy 401 => Unauthenticated;
    proxy_403: GrpcProxy 403 => PermissionDenied;
    proxy_404: GrpcProxy 404 => Unimplemented;
    proxy_429: GrpcProxy 429 => Unavailable;
    proxy_502: GrpcProxy 502 => Unavailable;
    proxy_503: GrpcProxy 503 => Unavailable;
    proxy_504: GrpcProxy 504 => Unavailable;
    proxy_200: GrpcProxy 200 => Unknown;
    proxy_409: GrpcProxy 409 => Unknown;
    proxy_500: GrpcProxy 500 => Unknown;
}

#[tokio::test]
async fn a_known_code_is_not_affected_by_the_profile() {
    let server = TestServer::start().await;
    let r = server
        .client()
        .resolve_gateway_error(ResolveGatewayErrorRequest {
            code: "NOT_FOUND".into(),
            http_status: Some(404),
            profile: Profile::GrpcProxy as i32,
            ..Default::default()
        })
        .await
        .expect("resolves")
        .into_inner()
        .resolution
        .expect("resolution");
    assert_eq!(r.grpc_code(), Code::NotFound);
    server.stop().await;
}

#[tokio::test]
async fn the_profile_applies_to_unknown_code_fallback() {
    let (code, entry) = {
        let server = TestServer::start().await;
        let r = server
            .client()
            .resolve_gateway_error(ResolveGatewayErrorRequest {
                code: "SOMETHING_ELSE".into(),
                http_status: Some(429),
                profile: Profile::GrpcProxy as i32,
                ..Default::default()
            })
            .await
            .expect("resolves")
            .into_inner()
            .resolution
            .expect("resolution");
        server.stop().await;
        (r.grpc_code(), r.entry.map(|e| e.code))
    };
    assert_eq!(code, Code::Unavailable);
    assert_eq!(entry, None, "no 429 entry maps to UNAVAILABLE");
}

#[tokio::test]
async fn an_unknown_profile_is_an_invalid_argument() {
    let server = TestServer::start().await;
    let status = server
        .client()
        .resolve_gateway_error(ResolveGatewayErrorRequest {
            http_status: Some(404),
            profile: 3,
            ..Default::default()
        })
        .await
        .expect_err("bad profile");
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(
        status
            .message()
            .starts_with("profile: must be a Profile between 0"),
        "{}",
        status.message()
    );
    server.stop().await;
}
