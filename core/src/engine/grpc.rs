//! A gRPC status to a gateway error: check the request, ask the cache,
//! else resolve and present.

use super::cache::{Answer, AnswerCache, GrpcKey, NoCache};
use super::context::Context;
use super::error::EngineError;
use super::observe;
use super::validate::{self, Prefix};
use crate::locale::Locale;
use crate::mapping::{resolve_grpc as translate, GrpcQuery, ReasonFrom};
use crate::pb::errmap::v1::{Profile, Resolution, ResolveGrpcStatusRequest};
use crate::pb::google::rpc::Status as StatusProto;
use crate::present;
use crate::render::MAX_PARAM_VALUE;
use std::collections::BTreeMap;

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
    // Empty fields are valid: a plain query skips their checks.
    let plain = request.params.is_empty()
        && request.request_id.is_empty()
        && request.status_details_bin.is_empty()
        && request.status.is_none();
    if plain {
        let query = validate::grpc_query(prefix, request)?;
        let key = GrpcKey {
            code: query.code,
            locale,
            view: ctx.view,
        };
        let cached = query.reason.is_none().then(|| cache.grpc(key)).flatten();
        if let Some(answer) = cached {
            return Ok(Answer::Cached(answer));
        }
        return compute(ctx, request, locale, BTreeMap::new(), query, None).map(Answer::Computed);
    }
    let params = validate::params(prefix, &request.params)?;
    validate::request_id(prefix, &request.request_id)?;
    let query = validate::grpc_query(prefix, request)?;
    let details = validate::details(prefix, &request.status_details_bin, request.status.as_ref())?;
    compute(ctx, request, locale, params, query, details).map(Answer::Computed)
}

/// Resolves and presents a checked request. Kept out of line: its frame
/// is large, and a cache hit must not pay for setting it up.
#[inline(never)]
fn compute<'r>(
    ctx: &Context<'_>,
    request: &'r ResolveGrpcStatusRequest,
    locale: Locale,
    mut params: BTreeMap<String, String>,
    checked: GrpcQuery<'r>,
    details: Option<StatusProto>,
) -> Result<Resolution, EngineError> {
    // May take its reason from the details, which live only here.
    let mut query = checked;
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
    Ok(ctx.finish(
        resolution,
        locale,
        &params,
        &request.request_id,
        Profile::Unspecified,
    ))
}
