//! gateway → gRPC status with details → gateway gives the same entry and
//! the same rendered message, in both locales.

use crate::rich::all_entries;
use crate::support::{resolve_gateway, resolve_grpc, Client, TestServer};
use errmap::pb::errmap::v1::{
    CatalogEntry, MatchKind, Resolution, ResolveGatewayErrorRequest, ResolveGrpcStatusRequest,
};
use errmap::pb::google::rpc::Status;
use proptest::prelude::*;
use std::collections::HashMap;
use std::sync::OnceLock;

async fn there_and_back(
    client: &mut Client,
    entry: &CatalogEntry,
    params: HashMap<String, String>,
    locale: &str,
    as_message: bool,
) -> (Resolution, Resolution) {
    let there = resolve_gateway(
        client,
        ResolveGatewayErrorRequest {
            code: entry.code.clone(),
            http_status: Some(entry.http_status),
            params,
            locale: locale.into(),
            ..Default::default()
        },
    )
    .await;
    let mut request = ResolveGrpcStatusRequest {
        code: there.grpc_code,
        locale: locale.into(),
        ..Default::default()
    };
    if as_message {
        request.status = there.status.clone();
    } else {
        request.status_details_bin = there.status_details_bin.clone();
    }
    let back = resolve_grpc(client, request).await;
    (there, back)
}

fn assert_same(entry: &CatalogEntry, there: &Resolution, back: &Resolution) {
    assert_eq!(back.match_kind(), MatchKind::ErrorInfo, "{}", entry.code);
    let back_entry = back.entry.as_ref().expect("entry");
    assert_eq!(
        (back_entry.code.as_str(), back_entry.http_status),
        (entry.code.as_str(), entry.http_status)
    );
    assert_eq!(back.http_status, entry.http_status);
    assert_eq!(back.message, there.message, "{}", entry.code);
}

#[tokio::test]
async fn every_entry_round_trips_through_its_status_details() {
    let server = TestServer::start().await;
    let mut client = server.client();
    for entry in all_entries(&mut client).await {
        for locale in ["zh-CN", "en-US"] {
            for as_message in [false, true] {
                let (there, back) =
                    there_and_back(&mut client, &entry, HashMap::new(), locale, as_message).await;
                assert_same(&entry, &there, &back);
            }
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn undecodable_details_are_invalid_arguments() {
    let server = TestServer::start().await;
    let mut client = server.client();
    let status = client
        .resolve_grpc_status(ResolveGrpcStatusRequest {
            code: 14,
            status_details_bin: vec![0xff, 0xff, 0xff, 0x0f],
            ..Default::default()
        })
        .await
        .expect_err("garbage");
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(status
        .message()
        .starts_with("status_details_bin: must be an encoded google.rpc.Status"));
    let status = client
        .resolve_grpc_status(ResolveGrpcStatusRequest {
            code: 14,
            status_details_bin: vec![8, 14],
            status: Some(Status::default()),
            ..Default::default()
        })
        .await
        .expect_err("both");
    assert!(
        status.message().contains("at most one"),
        "{}",
        status.message()
    );
    // Details without an ErrorInfo are no error: the code decides.
    let r = resolve_grpc(
        &mut client,
        ResolveGrpcStatusRequest {
            code: 14,
            status: Some(Status {
                code: 14,
                message: "down".into(),
                details: vec![],
            }),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(r.match_kind(), MatchKind::GrpcCode);
    server.stop().await;
}

struct Shared {
    runtime: tokio::runtime::Runtime,
    client: Client,
    entries: Vec<CatalogEntry>,
    _server: TestServer,
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let (server, entries) = runtime.block_on(async {
            let server = TestServer::start().await;
            let entries = all_entries(&mut server.client()).await;
            (server, entries)
        });
        Shared {
            client: server.client(),
            runtime,
            entries,
            _server: server,
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Any entry, any params (its own and strangers), either locale: the
    /// answer survives the trip through a gRPC status.
    #[test]
    fn round_trips_keep_entry_and_rendered_message(
        index in 0usize..82,
        values in proptest::collection::vec("[^\\p{Cc}]{1,40}", 3),
        stranger in proptest::option::of("[a-z]{1,8}"),
        english in any::<bool>(),
    ) {
        let shared = shared();
        let entry = &shared.entries[index];
        let mut params: HashMap<String, String> = entry
            .placeholders
            .iter()
            .zip(values)
            .map(|(p, v)| (p.clone(), v))
            .collect();
        if let Some(name) = stranger {
            params.entry(format!("x_{name}")).or_insert_with(|| "ignored".into());
        }
        let locale = if english { "en-US" } else { "zh-CN" };
        let mut client = shared.client.clone();
        let (there, back) = shared
            .runtime
            .block_on(there_and_back(&mut client, entry, params, locale, false));
        assert_same(entry, &there, &back);
        prop_assert_eq!(&back.locale, locale);
    }
}
