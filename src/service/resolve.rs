//! The two resolve paths: validate a request, resolve it against one
//! catalog snapshot, and present the answer in the caller's terms.

use crate::catalog::Catalog;
use crate::locale::Locale;
use crate::mapping::{resolve_gateway, resolve_grpc, ReasonFrom, Resolution};
use crate::pb::errmap::v1 as pb;
use crate::present::{self, present, Presentation};
use crate::service::error::ApiError;
use crate::service::observe::Tally;
use crate::service::prepared::{Answer, Prepared, View};
use crate::service::{convert, observe, validate, Observer, Options};
use std::collections::BTreeMap;

/// What one call shares among its queries (a batch shares one).
pub struct CallContext<'a> {
    pub catalog: &'a Catalog,
    /// The call's `accept-language` metadata, if any.
    pub accept_language: Option<&'a str>,
    pub options: &'a Options,
    /// Told how each query resolved (metrics).
    pub observer: Option<&'a dyn Observer>,
    /// Answer with the basic view: no status, body or entry text.
    pub basic: bool,
    /// Answers prepared for this catalog, if any.
    pub prepared: Option<&'a Prepared>,
    /// Where a batch counts its prepared answers; without one, each is
    /// told to the observer at once.
    pub tally: Option<&'a Tally>,
}

impl CallContext<'_> {
    fn locale(&self, prefix: &str, requested: &str) -> Result<Locale, ApiError> {
        validate::locale(
            prefix,
            requested,
            self.accept_language,
            self.options.default_locale,
        )
    }

    fn finish(
        &self,
        resolution: Resolution<'_>,
        locale: Locale,
        params: &BTreeMap<String, String>,
        request_id: &str,
        profile: pb::Profile,
    ) -> pb::Resolution {
        if self.basic {
            return convert::basic(&resolution, locale, params);
        }
        let presented = present(
            &resolution,
            Presentation {
                locale,
                params,
                request_id,
                error_domain: &self.options.error_domain,
            },
        );
        let mut answer = convert::resolution(resolution, presented, locale, profile);
        answer.catalog_version = self.catalog.version().to_owned();
        answer
    }
}

impl<'a> CallContext<'a> {
    fn view(&self) -> View {
        if self.basic {
            View::Basic
        } else {
            View::Full
        }
    }

    fn answered(&self, answer: &'a Answer) -> &'a Answer {
        match (self.tally, self.observer) {
            (Some(tally), _) => tally.add(answer.match_kind),
            (None, Some(observer)) => observer.resolved(answer.match_kind),
            (None, None) => {}
        }
        answer
    }
}

/// The prepared answer to a plain gateway query, if this is one: a code
/// (not an alias) with at most its own HTTP status, and no params, request
/// id or body. Anything else, errors included, takes [`gateway`].
pub fn prepared_gateway<'a>(
    ctx: &CallContext<'a>,
    request: &pb::ResolveGatewayErrorRequest,
) -> Option<&'a Answer> {
    let prepared = ctx.prepared?;
    if !request.params.is_empty() || !request.request_id.is_empty() || !request.body.is_empty() {
        return None;
    }
    let locale = ctx.locale("", &request.locale).ok()?;
    let profile = match pb::Profile::try_from(request.profile).ok()? {
        pb::Profile::Unspecified | pb::Profile::Google => pb::Profile::Google,
        pb::Profile::GrpcProxy => pb::Profile::GrpcProxy,
    };
    validate::code_text("", "code", &request.code).ok()?;
    let found = ctx.catalog.lookup(&request.code)?;
    if found.alias {
        return None;
    }
    let row = match request.http_status {
        None => *found.rows.first()?,
        Some(status) => *found
            .rows
            .iter()
            .find(|&&row| ctx.catalog.entry(row).http_status == status)?,
    };
    let answer = prepared.gateway(row, profile, locale, ctx.view())?;
    Some(ctx.answered(answer))
}

/// The prepared answer to a bare gRPC code, if this is one: no reason,
/// params, request id or details. Anything else takes [`grpc`].
pub fn prepared_grpc<'a>(
    ctx: &CallContext<'a>,
    request: &pb::ResolveGrpcStatusRequest,
) -> Option<&'a Answer> {
    let prepared = ctx.prepared?;
    if !request.params.is_empty()
        || !request.request_id.is_empty()
        || !request.status_details_bin.is_empty()
        || request.status.is_some()
    {
        return None;
    }
    let locale = ctx.locale("", &request.locale).ok()?;
    let query = validate::grpc_query("", request).ok()?;
    if query.reason.is_some() {
        return None;
    }
    let answer = prepared.grpc(query.code, locale, ctx.view())?;
    Some(ctx.answered(answer))
}

pub fn gateway(
    ctx: &CallContext<'_>,
    prefix: &str,
    request: &pb::ResolveGatewayErrorRequest,
) -> Result<pb::Resolution, ApiError> {
    let locale = ctx.locale(prefix, &request.locale)?;
    let params = validate::params(prefix, &request.params)?;
    validate::request_id(prefix, &request.request_id)?;
    let profile = validate::profile(prefix, request.profile)?;
    let body = validate::body(prefix, &request.body)?;
    let found = validate::gateway_query(prefix, request, body.as_ref(), profile)?;
    let outcome = resolve_gateway(ctx.catalog, found.query);
    observe::gateway(ctx.observer, found.query, &outcome);
    let mut resolution = outcome?;
    if let Some(note) = found.note {
        resolution.note = format!("{note}; {}", resolution.note);
    }
    let request_id = if request.request_id.is_empty() {
        found.request_id.as_deref().unwrap_or_default()
    } else {
        &request.request_id
    };
    let profile = convert::profile(profile);
    Ok(ctx.finish(resolution, locale, &params, request_id, profile))
}

pub fn grpc(
    ctx: &CallContext<'_>,
    prefix: &str,
    request: &pb::ResolveGrpcStatusRequest,
) -> Result<pb::Resolution, ApiError> {
    let locale = ctx.locale(prefix, &request.locale)?;
    let mut params = validate::params(prefix, &request.params)?;
    validate::request_id(prefix, &request.request_id)?;
    let mut query = validate::grpc_query(prefix, request)?;
    let details = validate::details(prefix, &request.status_details_bin, request.status.as_ref())?;
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
        params.retain(|_, v| v.len() <= crate::render::MAX_PARAM_VALUE);
    }
    let resolution = resolve_grpc(ctx.catalog, query);
    observe::grpc(ctx.observer, query, &resolution);
    Ok(ctx.finish(
        resolution,
        locale,
        &params,
        &request.request_id,
        pb::Profile::Unspecified,
    ))
}
