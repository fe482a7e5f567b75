//! Reading the catalog by code.

use super::context::Context;
use super::convert;
use super::error::EngineError;
use super::observe;
use super::validate::{self, Prefix};
use crate::mapping;
use crate::pb::errmap::v1::{GetErrorRequest, GetErrorResponse};

/// One catalog entry by code or alias; the HTTP status, when given, picks
/// between rows that share a code. The other rows come along.
pub fn get_error(
    ctx: &Context<'_>,
    request: &GetErrorRequest,
) -> Result<GetErrorResponse, EngineError> {
    validate::code_text(Prefix::ROOT, "code", &request.code)?;
    if request.code.trim().is_empty() {
        return Err(EngineError::invalid(
            "code",
            "must name a gateway code or alias",
        ));
    }
    let status = request
        .http_status
        .map(|s| validate::http_status(Prefix::ROOT, "http_status", s))
        .transpose()?;
    let found = mapping::get_entry(ctx.catalog, &request.code, status);
    observe::lookup(ctx.observer, &found);
    let (entry, others) = found?;
    Ok(GetErrorResponse {
        entry: Some(entry.clone()),
        other_rows: others.into_iter().map(convert::candidate).collect(),
        catalog_version: ctx.catalog.version().to_owned(),
    })
}
