//! A gateway error to a gRPC status: check the request, ask the cache,
//! else resolve and present.

use super::cache::{Answer, AnswerCache, GatewayKey, NoCache};
use super::context::{Context, View};
use super::error::EngineError;
use super::observe;
use super::validate::GatewayFound;
use super::validate::{self, Prefix};
use crate::catalog::CodeMatch;
use crate::locale::Locale;
use crate::mapping::{resolve_gateway_found, Profile};
use crate::pb::errmap::v1::{Resolution, ResolveGatewayErrorRequest};
use std::collections::BTreeMap;

/// Resolves a gateway error: its code, its HTTP status, or both (or its
/// JSON body, which supplies what the fields leave out).
pub fn resolve_gateway(
    ctx: &Context<'_>,
    request: &ResolveGatewayErrorRequest,
) -> Result<Resolution, EngineError> {
    gateway(ctx, Prefix::ROOT, request, &NoCache).map(Answer::computed)
}

/// [`resolve_gateway`] with a cache in front and the request's place in a
/// batch: the request is checked once; a plain query is answered from
/// `cache` when it holds the answer, anything else is computed.
pub fn gateway<C: AnswerCache>(
    ctx: &Context<'_>,
    prefix: Prefix,
    request: &ResolveGatewayErrorRequest,
    cache: &C,
) -> Result<Answer<C::Answer>, EngineError> {
    let locale = ctx.locale(prefix, &request.locale)?;
    // Empty fields are valid: a plain query skips their checks.
    let params = if request.params.is_empty() {
        BTreeMap::new()
    } else {
        validate::params(prefix, &request.params)?
    };
    if !request.request_id.is_empty() {
        validate::request_id(prefix, &request.request_id)?;
    }
    let profile = validate::profile(prefix, request.profile)?;
    let body = validate::body(prefix, &request.body)?;
    let found = validate::gateway_query(prefix, request, body.as_ref(), profile)?;
    let query = found.query;
    let matched = query.code.and_then(|code| ctx.catalog.lookup(code));
    let plain = params.is_empty() && request.request_id.is_empty() && body.is_none();
    if let (true, Some(matched)) = (plain, matched) {
        let row = match query.http_status {
            _ if matched.alias => None,
            None => matched.rows.first().copied(),
            Some(status) => matched
                .rows
                .iter()
                .copied()
                .find(|&row| ctx.catalog.entry(row).http_status == status),
        };
        let key = row.map(|row| GatewayKey {
            row,
            profile,
            locale,
            view: ctx.view,
        });
        if let Some(answer) = key.and_then(|key| cache.gateway(key)) {
            return Ok(Answer::Cached(answer));
        }
    }
    let checked = Checked {
        request,
        locale,
        params,
        profile,
        found,
        matched,
    };
    compute(ctx, checked).map(Answer::Computed)
}

/// A request that passed the checks and missed the cache.
struct Checked<'r, 'c> {
    request: &'r ResolveGatewayErrorRequest,
    locale: Locale,
    params: BTreeMap<String, String>,
    profile: Profile,
    found: GatewayFound<'r>,
    matched: Option<CodeMatch<'c>>,
}

/// Resolves and presents a checked request. Kept out of line: its frame
/// is large, and a cache hit must not pay for setting it up.
#[inline(never)]
fn compute(ctx: &Context<'_>, checked: Checked<'_, '_>) -> Result<Resolution, EngineError> {
    let Checked {
        request,
        locale,
        params,
        profile,
        found,
        matched,
    } = checked;
    let mut query = found.query;
    // Only the full view shows how the answer was reached.
    query.explain = ctx.view == View::Full;
    let outcome = resolve_gateway_found(ctx.catalog, query, matched);
    observe::gateway(ctx.observer, query, &outcome);
    let mut resolution = outcome?;
    if let Some(note) = found.note.filter(|_| query.explain) {
        resolution.note = format!("{note}; {}", resolution.note);
    }
    let request_id = if request.request_id.is_empty() {
        found.request_id.as_deref().unwrap_or_default()
    } else {
        &request.request_id
    };
    Ok(ctx.finish(resolution, locale, &params, request_id, profile))
}
