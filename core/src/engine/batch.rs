//! Many queries in one call, each answered or failed on its own.

use super::cache::{Answer, AnswerCache, NoCache};
use super::context::{Context, View};
use super::error::EngineError;
use super::gateway::gateway;
use super::grpc::grpc;
use super::validate::Prefix;
use crate::pb::errmap::v1::{
    batch_query::Query, BatchQuery, BatchResolveRequest, Resolution, ResolutionView,
};

/// The default and the bound of the most queries one batch may carry.
pub const DEFAULT_MAX_BATCH: usize = 1000;

/// Resolves every query of a batch, in order, in the view the request
/// asks for. The batch as a whole fails only when it is too long (more
/// than `max_batch` queries) or names no known view.
pub fn resolve_batch(
    ctx: &Context<'_>,
    request: &BatchResolveRequest,
    max_batch: usize,
) -> Result<Vec<Result<Resolution, EngineError>>, EngineError> {
    let view = batch_view(request.queries.len(), request.view, max_batch)?;
    let ctx = Context { view, ..*ctx };
    Ok(request
        .queries
        .iter()
        .enumerate()
        .map(|(index, query)| batch_query(&ctx, index, query, &NoCache).map(Answer::computed))
        .collect())
}

/// The view of a batch of `len` queries, if the batch is acceptable.
pub fn batch_view(len: usize, view: i32, max_batch: usize) -> Result<View, EngineError> {
    if len > max_batch {
        return Err(EngineError::invalid(
            "queries",
            format!("must hold at most {max_batch} queries (the server's batch limit), got {len}"),
        ));
    }
    match ResolutionView::try_from(view) {
        Ok(ResolutionView::Basic) => Ok(View::Basic),
        Ok(ResolutionView::Full | ResolutionView::Unspecified) => Ok(View::Full),
        Err(_) => Err(EngineError::invalid(
            "view",
            format!("must be RESOLUTION_VIEW_BASIC (1) or RESOLUTION_VIEW_FULL (2), got {view}"),
        )),
    }
}

/// Query `index` of a batch, with a cache in front.
pub fn batch_query<C: AnswerCache>(
    ctx: &Context<'_>,
    index: usize,
    query: &BatchQuery,
    cache: &C,
) -> Result<Answer<C::Answer>, EngineError> {
    match &query.query {
        Some(Query::GatewayError(q)) => {
            gateway(ctx, Prefix::query(index, "gateway_error"), q, cache)
        }
        Some(Query::GrpcStatus(q)) => grpc(ctx, Prefix::query(index, "grpc_status"), q, cache),
        None => Err(EngineError::invalid(
            format!("queries[{index}]"),
            "set one of gateway_error or grpc_status",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::pb::errmap::v1::{ResolveGatewayErrorRequest, ResolveGrpcStatusRequest};
    use crate::pb::google::rpc::Code;

    fn gateway(code: &str) -> BatchQuery {
        BatchQuery {
            query: Some(Query::GatewayError(ResolveGatewayErrorRequest {
                code: code.to_owned(),
                ..Default::default()
            })),
        }
    }

    #[test]
    fn each_query_is_answered_or_failed_on_its_own_in_order() {
        let catalog = Catalog::embedded().expect("the embedded catalog loads");
        let ctx = Context::new(&catalog);
        let request = BatchResolveRequest {
            queries: vec![
                gateway("APIGW_NONCE_CONFLICT"),
                BatchQuery { query: None },
                BatchQuery {
                    query: Some(Query::GrpcStatus(ResolveGrpcStatusRequest {
                        code: 99,
                        ..Default::default()
                    })),
                },
                gateway("NO_SUCH_CODE_ANYWHERE"),
            ],
            view: ResolutionView::Basic as i32,
        };
        let results = resolve_batch(&ctx, &request, DEFAULT_MAX_BATCH).expect("a valid batch");
        assert_eq!(results.len(), 4);
        let first = results[0].as_ref().expect("a known code resolves");
        assert_eq!(first.grpc_code, Code::PermissionDenied as i32);
        // The basic view leaves the rich status out.
        assert!(first.status.is_none());
        assert!(matches!(
            &results[1],
            Err(EngineError::InvalidField { field, .. }) if field == "queries[1]"
        ));
        assert!(matches!(
            &results[2],
            Err(EngineError::InvalidField { field, .. }) if field == "queries[2].grpc_status.code"
        ));
        assert!(matches!(
            &results[3],
            Err(EngineError::UnknownCode { code, .. }) if code == "NO_SUCH_CODE_ANYWHERE"
        ));
    }

    #[test]
    fn a_batch_over_the_limit_or_in_no_known_view_fails_whole() {
        let catalog = Catalog::embedded().expect("the embedded catalog loads");
        let ctx = Context::new(&catalog);
        let request = BatchResolveRequest {
            queries: vec![gateway("APIGW_NONCE_CONFLICT"); 3],
            view: 0,
        };
        let too_long = resolve_batch(&ctx, &request, 2);
        assert!(matches!(
            too_long,
            Err(EngineError::InvalidField { ref field, .. }) if field == "queries"
        ));
        let unknown_view = BatchResolveRequest { view: 7, ..request };
        assert!(matches!(
            resolve_batch(&ctx, &unknown_view, DEFAULT_MAX_BATCH),
            Err(EngineError::InvalidField { ref field, .. }) if field == "view"
        ));
    }
}
