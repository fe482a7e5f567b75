//! Answers over a kilobyte are handed to HTTP/2 in pieces
//! (`errmap::server::pieces`); the client must get them whole.

use crate::support::TestServer;
use errmap::catalog::{Catalog, SharedCatalog};
use errmap::pb::errmap::v1::error_map_service_server::ErrorMapService;
use errmap::pb::errmap::v1::{batch_query::Query, ResolutionView};
use errmap::pb::errmap::v1::{BatchQuery, BatchResolveRequest, ResolveGrpcStatusRequest};
use errmap::server::pieces::{DEFAULT_MAX_PIECED, PIECE_BYTES};
use errmap::service::{ErrorMap, Options};
use prost::Message;
use tonic::Request;

/// The service itself, answering without a socket in between.
fn direct() -> ErrorMap {
    let catalog = Catalog::embedded().expect("embedded catalog loads");
    ErrorMap::new(SharedCatalog::new(catalog), Options::default())
}

/// A gRPC message's length on the wire: the 5-byte prefix and the message.
fn framed(message: &impl Message) -> usize {
    5 + message.encoded_len()
}

#[tokio::test]
async fn unary_answers_in_pieces_arrive_byte_for_byte() {
    let server = TestServer::start().await;
    let mut client = server.client();
    let service = direct();
    let mut cut = 0;
    for code in 0..=16 {
        for locale in ["zh-CN", "en-US"] {
            let query = ResolveGrpcStatusRequest {
                code,
                locale: locale.into(),
                ..Default::default()
            };
            let over = client
                .resolve_grpc_status(query.clone())
                .await
                .expect("resolves")
                .into_inner();
            let here = service
                .resolve_grpc_status(Request::new(query))
                .await
                .expect("resolves")
                .into_inner();
            assert_eq!(
                over.encode_to_vec(),
                here.encode_to_vec(),
                "code {code}, {locale}"
            );
            if framed(&over) > PIECE_BYTES {
                cut += 1;
            }
        }
    }
    assert!(cut > 0, "some answers are over a piece");
}

#[tokio::test]
async fn a_batch_answer_of_several_pieces_arrives_whole() {
    let server = TestServer::start().await;
    let catalog = Catalog::embedded().expect("embedded catalog loads");
    let queries: Vec<BatchQuery> = catalog
        .entries()
        .iter()
        .map(|entry| BatchQuery {
            query: Some(Query::GatewayError(
                errmap::pb::errmap::v1::ResolveGatewayErrorRequest {
                    code: entry.code.clone(),
                    ..Default::default()
                },
            )),
        })
        .collect();
    let request = BatchResolveRequest {
        view: ResolutionView::Basic as i32,
        ..BatchResolveRequest::new(queries)
    };
    let over = server
        .client()
        .batch_resolve(request.clone())
        .await
        .expect("resolves")
        .into_inner();
    let received = BatchResolveRequest::decode(request.encode_to_vec().as_slice())
        .expect("the request decodes as the server sees it");
    let here = direct()
        .batch_resolve(Request::new(received))
        .await
        .expect("resolves")
        .into_inner();
    assert_eq!(over.encode_to_vec(), here.encode_to_vec());
    let length = framed(&over);
    assert!(
        length > 3 * PIECE_BYTES && length <= DEFAULT_MAX_PIECED,
        "the answer spans several pieces: {length} bytes"
    );
}
