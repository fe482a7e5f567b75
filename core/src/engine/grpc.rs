//! A gRPC status to a gateway error: check the request, ask the cache,
//! else resolve and present.

use super::cache::{Answer, AnswerCache, GrpcKey, NoCache};
use super::context::{Context, View};
use super::error::EngineError;
use super::observe;
use super::validate::MAX_PARAM_NAME;
use super::validate::{self, Prefix};
use crate::echo::quoted;
use crate::locale::Locale;
use crate::mapping::{resolve_grpc as translate, GrpcQuery, ReasonFrom};
use crate::pb::errmap::v1::{Profile, Resolution, ResolveGrpcStatusRequest};
use crate::pb::google::rpc::Status as StatusProto;
use crate::present;
use crate::render::{MAX_PARAMS, MAX_PARAM_VALUE};
use std::borrow::Cow;
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
    details: Option<Cow<'_, StatusProto>>,
) -> Result<Resolution, EngineError> {
    // May take its reason from the details, which live only here.
    let mut query = checked;
    query.explain = ctx.view == View::Full;
    let info = details.as_deref().and_then(present::error_info);
    let mut dropped = None;
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
        dropped = metadata_params(&info.metadata, &mut params);
    }
    let mut resolution = translate(ctx.catalog, query);
    observe::grpc(ctx.observer, query, &resolution);
    if let Some(dropped) = dropped.filter(|_| query.explain) {
        resolution.note.push_str("; ");
        resolution.note.push_str(&dropped);
    }
    Ok(ctx.finish(
        resolution,
        locale,
        &params,
        &request.request_id,
        Profile::Unspecified,
    ))
}

/// How many names of dropped metadata entries a note lists.
const DROPPED_NAMES: usize = 3;

/// Adds an incoming `ErrorInfo`'s metadata to the request's params (which
/// win on a clash), as far as each entry is a valid param and the params
/// stay within [`MAX_PARAMS`]. The metadata is another service's, passed
/// on: an entry that is not a valid param is left out rather than the
/// request refused, and the answer's note says which were left out (the
/// return value), since leaving them out silently would hide a change.
fn metadata_params(
    metadata: &BTreeMap<String, String>,
    params: &mut BTreeMap<String, String>,
) -> Option<String> {
    let mut dropped = Vec::new();
    // In name order (the map is sorted), so which entries fit under the
    // cap is the same on every call.
    for (name, value) in metadata {
        if name == "httpStatus" || name == "table" || params.contains_key(name) {
            continue;
        }
        if validate::param_fault(name, value).is_some() || params.len() >= MAX_PARAMS {
            dropped.push(name.as_str());
        } else {
            params.insert(name.clone(), value.clone());
        }
    }
    if dropped.is_empty() {
        return None;
    }
    let mut note = format!(
        "{} ErrorInfo.metadata entries not used as params (names 1-{MAX_PARAM_NAME} \
         ASCII letters, digits or '_', values at most {MAX_PARAM_VALUE} bytes without \
         control characters, at most {MAX_PARAMS} params): ",
        dropped.len()
    );
    let listed: Vec<String> = dropped
        .iter()
        .take(DROPPED_NAMES)
        .map(|n| quoted(n))
        .collect();
    note.push_str(&listed.join(", "));
    if dropped.len() > DROPPED_NAMES {
        note.push_str(", …");
    }
    Some(note)
}
