//! Every row of the gateway's document is served, text byte for byte.

use crate::support::{seed_rows, TestServer};
use errmap::pb::errmap::v1::{GetErrorRequest, MatchKind, ResolveGatewayErrorRequest};

#[test]
fn the_document_has_82_rows_in_three_tables() {
    let rows = seed_rows();
    let count = |t| rows.iter().filter(|r| r.table == t).count();
    assert_eq!((count(1), count(2), count(3)), (20, 24, 38));
    assert_eq!(rows.len(), 82);
}

#[tokio::test]
async fn every_row_resolves_to_its_own_entry_byte_for_byte() {
    let server = TestServer::start().await;
    let mut client = server.client();
    for row in seed_rows() {
        let response = client
            .resolve_gateway_error(ResolveGatewayErrorRequest {
                code: row.code.clone(),
                http_status: Some(row.http_status),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|s| panic!("{} {}: {s}", row.code, row.http_status))
            .into_inner();
        let resolution = response.resolution.expect("a resolution");
        assert_eq!(resolution.match_kind(), MatchKind::Code, "{}", row.code);
        assert_eq!(resolution.http_status, row.http_status, "{}", row.code);
        let entry = resolution.entry.expect("an entry");
        assert_eq!(entry.code, row.code);
        assert_eq!(entry.http_status, row.http_status);
        assert_eq!(entry.table, row.table, "{}", row.code);
        assert_eq!(
            entry.message.as_bytes(),
            row.message.as_bytes(),
            "{}",
            row.code
        );
        assert_eq!(
            entry.solution.as_bytes(),
            row.solution.as_bytes(),
            "{}",
            row.code
        );
        assert_eq!(resolution.grpc_code, entry.grpc_code, "{}", row.code);
        assert!(
            !entry.message_en.is_empty(),
            "{} has English text",
            row.code
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn get_error_returns_every_row_by_its_key() {
    let server = TestServer::start().await;
    let mut client = server.client();
    for row in seed_rows() {
        let entry = client
            .get_error(GetErrorRequest {
                code: row.code.clone(),
                http_status: Some(row.http_status),
            })
            .await
            .unwrap_or_else(|s| panic!("{} {}: {s}", row.code, row.http_status))
            .into_inner()
            .entry
            .expect("an entry");
        assert_eq!(
            (
                entry.code.as_str(),
                entry.http_status,
                entry.message.as_str()
            ),
            (row.code.as_str(), row.http_status, row.message.as_str())
        );
    }
    server.stop().await;
}
