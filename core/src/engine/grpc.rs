//! A gRPC status to a gateway error: check the request, ask the cache,
//! else resolve and present.

use super::cache::{Answer, AnswerCache, GrpcKey, NoCache};
use super::context::Context;
use super::error::EngineError;
use super::observe;
use super::validate::{self, Prefix};
use crate::mapping::{resolve_grpc as translate, ReasonFrom};
use crate::pb::errmap::v1::{Profile, Resolution, ResolveGrpcStatusRequest};
use crate::present;
use crate::render::MAX_PARAM_VALUE;

/// Resolves a gRPC status: its code, and the gateway code its reason (or
/// its details' `ErrorInfo.reason`) names.
pub fn resolve_grpc(
    ctx: &Context<'_>,
    request: &ResolveGrpcStatusRequest,
) -> Result<Resolution, EngineError> {
    grpc(ctx, Prefix::ROOT, request, &NoCache).map(Answer::computed)
}

/// [`resolve_grpc`] with a cache in front and the request's place in a
/// batch: the request is checked once; a bare code is answered from
/// `cache` when it holds the answer, anything else is computed.
pub fn grpc<C: AnswerCache>(
    ctx: &Context<'_>,
    prefix: Prefix,
    request: &ResolveGrpcStatusRequest,
    cache: &C,
) -> Result<Answer<C::Answer>, EngineError> {
    let locale = ctx.locale(prefix, &request.locale)?;
    let mut params = validate::params(prefix, &request.params)?;
    validate::request_id(prefix, &request.request_id)?;
    let mut query = validate::grpc_query(prefix, request)?;
    let details = validate::details(prefix, &request.status_details_bin, request.status.as_ref())?;
    let plain = params.is_empty() && request.request_id.is_empty() && details.is_none();
    if plain && query.reason.is_none() {
        let key = GrpcKey {
            code: query.code,
            locale,
            view: ctx.view,
        };
        if let Some(answer) = cache.grpc(key) {
            return Ok(Answer::Cached(answer));
        }
    }
    let info = details.as_ref().and_then(present::error_info);
    if let Some(info) = &info {
        if query.reason.is_none() && !info.reason.trim().is_empty() {
            query.reason = Some(info.reason.trim());
            query.reason_from = ReasonFrom::ErrorInfo;
        }
        query.http_status = info
            .metadata
            .get("httpStatus")
            .and_then(|s| s.trim().parse().ok())
            .filter(|s| (100..=599).contains(s));
        for (key, value) in &info.metadata {
            if key != "httpStatus" && key != "table" {
                params.entry(key.clone()).or_insert_with(|| value.clone());
            }
        }
        params.retain(|_, v| v.len() <= MAX_PARAM_VALUE);
    }
    let resolution = translate(ctx.catalog, query);
    observe::grpc(ctx.observer, query, &resolution);
    Ok(Answer::Computed(ctx.finish(
        resolution,
        locale,
        &params,
        &request.request_id,
        Profile::Unspecified,
    )))
}
