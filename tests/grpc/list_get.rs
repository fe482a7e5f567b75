//! GetError and ListErrors with AIP-158 pagination.

use crate::support::{seed_rows, TestServer};
use errmap::pb::errmap::v1::{GetErrorRequest, ListErrorsRequest, Table};
use errmap::pb::google::rpc::Code;
use tonic_types::StatusExt;

#[tokio::test]
async fn pages_cover_the_catalog_once_in_order() {
    let server = TestServer::start().await;
    let mut client = server.client();
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = client
            .list_errors(ListErrorsRequest {
                page_size: 7,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .expect("lists")
            .into_inner();
        assert_eq!(page.total_size, 82);
        assert!(page.entries.len() <= 7);
        seen.extend(page.entries.into_iter().map(|e| (e.code, e.http_status)));
        pages += 1;
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(pages, 12);
    let expected: Vec<(String, i32)> = seed_rows()
        .into_iter()
        .map(|r| (r.code, r.http_status))
        .collect();
    assert_eq!(seen, expected);
    server.stop().await;
}

#[tokio::test]
async fn default_and_capped_page_sizes() {
    let server = TestServer::start().await;
    let mut client = server.client();
    let first = client
        .list_errors(ListErrorsRequest::default())
        .await
        .expect("lists")
        .into_inner();
    assert_eq!(first.entries.len(), 50);
    assert!(!first.next_page_token.is_empty());
    let all = client
        .list_errors(ListErrorsRequest {
            page_size: i32::MAX,
            ..Default::default()
        })
        .await
        .expect("a huge page size is capped, not refused")
        .into_inner();
    assert_eq!(all.entries.len(), 82);
    assert!(all.next_page_token.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn filters_by_table_status_and_grpc_code() {
    let server = TestServer::start().await;
    let mut client = server.client();
    let rows = seed_rows();
    for (table, number) in [(Table::Sdk, 1), (Table::Common, 2), (Table::Console, 3)] {
        let page = client
            .list_errors(ListErrorsRequest {
                table: table as i32,
                page_size: 100,
                ..Default::default()
            })
            .await
            .expect("lists")
            .into_inner();
        let expected = rows.iter().filter(|r| r.table == number).count();
        assert_eq!(page.entries.len(), expected);
        assert_eq!(page.total_size as usize, expected);
    }
    let page = client
        .list_errors(ListErrorsRequest {
            http_status: Some(409),
            grpc_code: Some(Code::AlreadyExists as i32),
            page_size: 100,
            ..Default::default()
        })
        .await
        .expect("lists")
        .into_inner();
    assert!(page
        .entries
        .iter()
        .all(|e| e.http_status == 409 && e.grpc_code == Code::AlreadyExists as i32));
    assert_eq!(
        page.entries.len(),
        10,
        "ALREADY_EXISTS and the nine *_ISREPEAT rows"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_token_only_works_with_its_filters() {
    let server = TestServer::start().await;
    let mut client = server.client();
    let page = client
        .list_errors(ListErrorsRequest {
            page_size: 2,
            http_status: Some(403),
            ..Default::default()
        })
        .await
        .expect("lists")
        .into_inner();
    let status = client
        .list_errors(ListErrorsRequest {
            page_size: 2,
            http_status: Some(404),
            page_token: page.next_page_token,
            ..Default::default()
        })
        .await
        .expect_err("filters changed");
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(status.message().starts_with("page_token"));
    server.stop().await;
}

#[tokio::test]
async fn get_error_by_alias_and_unknown_codes() {
    let server = TestServer::start().await;
    let mut client = server.client();
    let response = client
        .get_error(GetErrorRequest {
            code: "failed_precondition".into(),
            http_status: None,
        })
        .await
        .expect("found")
        .into_inner();
    assert_eq!(response.entry.expect("entry").http_status, 400);
    assert_eq!(response.other_rows.len(), 1);
    assert_eq!(response.other_rows[0].http_status, 409);

    let response = client
        .get_error(GetErrorRequest {
            code: "apigw_key_not_exist".into(),
            http_status: Some(401),
        })
        .await
        .expect("alias found")
        .into_inner();
    assert_eq!(response.entry.expect("entry").code, "APIGW_KEY_NOT_EXITST");

    let status = client
        .get_error(GetErrorRequest {
            code: "NOPE".into(),
            http_status: None,
        })
        .await
        .expect_err("unknown");
    assert_eq!(status.code(), tonic::Code::NotFound);
    assert!(status.message().contains("\"NOPE\""));

    let status = client
        .get_error(GetErrorRequest {
            code: "NOT_FOUND".into(),
            http_status: Some(500),
        })
        .await
        .expect_err("no such row");
    assert_eq!(status.code(), tonic::Code::NotFound);
    assert!(status.message().contains("NOT_FOUND") && status.message().contains("500"));
    let info = status
        .get_details_resource_info()
        .expect("ResourceInfo detail");
    assert_eq!(info.resource_name, "NOT_FOUND/500");
    server.stop().await;
}
