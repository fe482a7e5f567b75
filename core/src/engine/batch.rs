//! Many queries in one call, each answered or failed on its own.

use super::validate::Prefix;
use super::{gateway, grpc, Answer, AnswerCache, Context, EngineError, NoCache, View};
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
