//! Request checks. Each returns the domain query or an `ApiError` naming the
//! field (with its path inside a batch) and the allowed range.

use crate::catalog::validate::MAX_CODE_LEN;
use crate::mapping::{GatewayQuery, GrpcQuery};
use crate::pb::errmap::v1::{ResolveGatewayErrorRequest, ResolveGrpcStatusRequest, Table};
use crate::pb::google::rpc::Code;
use crate::service::error::ApiError;

/// The longest `message` a gRPC status query may carry.
pub const MAX_MESSAGE_LEN: usize = 4096;

/// Joins a batch prefix ("queries[3].gateway_error") and a field name.
pub fn path(prefix: &str, field: &str) -> String {
    if prefix.is_empty() {
        field.to_owned()
    } else {
        format!("{prefix}.{field}")
    }
}

/// A code-like string: bounded, no control characters.
pub fn code_text(prefix: &str, field: &str, value: &str) -> Result<(), ApiError> {
    if value.len() > MAX_CODE_LEN {
        return Err(ApiError::invalid(
            path(prefix, field),
            format!("must be at most {MAX_CODE_LEN} bytes, got {}", value.len()),
        ));
    }
    // Surrounding white space (tabs and newlines too) is ignored by lookups.
    if value.trim().chars().any(char::is_control) {
        return Err(ApiError::invalid(
            path(prefix, field),
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// An HTTP status, 100-599.
pub fn http_status(prefix: &str, field: &str, value: i32) -> Result<i32, ApiError> {
    if (100..=599).contains(&value) {
        Ok(value)
    } else {
        Err(ApiError::invalid(
            path(prefix, field),
            format!("must be an HTTP status between 100 and 599, got {value}"),
        ))
    }
}

/// A `google.rpc.Code` value, 0-16.
pub fn grpc_code(prefix: &str, field: &str, value: i32) -> Result<Code, ApiError> {
    Code::try_from(value).map_err(|_| {
        ApiError::invalid(
            path(prefix, field),
            format!(
                "must be a google.rpc.Code between 0 (OK) and 16 (UNAUTHENTICATED), got {value}"
            ),
        )
    })
}

/// A table filter: unset, or one of the three tables.
pub fn table(prefix: &str, field: &str, value: i32) -> Result<Table, ApiError> {
    Table::try_from(value).map_err(|_| {
        ApiError::invalid(
            path(prefix, field),
            format!(
                "must be a Table between 0 (TABLE_UNSPECIFIED) and 3 (TABLE_CONSOLE), got {value}"
            ),
        )
    })
}

pub fn gateway_query<'r>(
    prefix: &str,
    request: &'r ResolveGatewayErrorRequest,
) -> Result<GatewayQuery<'r>, ApiError> {
    code_text(prefix, "code", &request.code)?;
    let http_status = request
        .http_status
        .map(|s| http_status(prefix, "http_status", s))
        .transpose()?;
    let code = Some(request.code.trim()).filter(|c| !c.is_empty());
    if code.is_none() && http_status.is_none() {
        return Err(ApiError::invalid(
            path(prefix, "code"),
            "nothing to resolve: set code, http_status (100-599), or both",
        ));
    }
    Ok(GatewayQuery { code, http_status })
}

pub fn grpc_query<'r>(
    prefix: &str,
    request: &'r ResolveGrpcStatusRequest,
) -> Result<GrpcQuery<'r>, ApiError> {
    let code = grpc_code(prefix, "code", request.code)?;
    code_text(prefix, "reason", &request.reason)?;
    if request.message.len() > MAX_MESSAGE_LEN {
        return Err(ApiError::invalid(
            path(prefix, "message"),
            format!(
                "must be at most {MAX_MESSAGE_LEN} bytes, got {}",
                request.message.len()
            ),
        ));
    }
    let reason = Some(request.reason.trim()).filter(|r| !r.is_empty());
    Ok(GrpcQuery { code, reason })
}
