//! The one place where errors become `tonic::Status`: bad requests become
//! `INVALID_ARGUMENT` naming the field and its allowed range, unknown codes
//! become `NOT_FOUND` naming the code and the closest known ones. Both carry
//! `google.rpc` details so clients can act on them without parsing text.

use crate::mapping::ResolveError;
use crate::pb::google::rpc::Status as StatusProto;
use prost::Message;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The `ErrorInfo.domain` of errmap's own errors.
pub const ERROR_DOMAIN: &str = "errmap.v1";

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// A field is out of its allowed range or malformed.
    InvalidField { field: String, description: String },
    /// A gateway code that is not in the catalog.
    UnknownCode {
        code: String,
        suggestions: Vec<String>,
    },
    /// A code that exists, but not with the HTTP status asked for.
    UnknownKey { code: String, http_status: i32 },
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        ApiError::InvalidField {
            field: field.into(),
            description: description.into(),
        }
    }

    /// The error as the gRPC status a single call answers with.
    pub fn into_status(self) -> Status {
        match self {
            ApiError::InvalidField { field, description } => {
                let message = format!("{field}: {description}");
                let details = ErrorDetails::with_bad_request_violation(field, description);
                Status::with_error_details(Code::InvalidArgument, message, details)
            }
            ApiError::UnknownCode { code, suggestions } => {
                let mut message = format!("no catalog entry has code {code:?}");
                if !suggestions.is_empty() {
                    message.push_str(&format!(
                        "; closest known codes: {}",
                        suggestions.join(", ")
                    ));
                }
                let mut details = ErrorDetails::with_error_info(
                    "UNKNOWN_GATEWAY_CODE",
                    ERROR_DOMAIN,
                    [
                        ("code".to_owned(), code.clone()),
                        ("suggestions".to_owned(), suggestions.join(",")),
                    ],
                );
                details.set_resource_info(
                    "errmap.v1.CatalogEntry",
                    code,
                    "",
                    "no such code in the catalog",
                );
                Status::with_error_details(Code::NotFound, message, details)
            }
            ApiError::UnknownKey { code, http_status } => {
                let message =
                    format!("no catalog entry has code {code:?} with HTTP status {http_status}");
                let name = format!("{code}/{http_status}");
                let details = ErrorDetails::with_resource_info(
                    "errmap.v1.CatalogEntry",
                    name,
                    "",
                    "the code exists, but not with this HTTP status",
                );
                Status::with_error_details(Code::NotFound, message, details)
            }
        }
    }

    /// The error as a `google.rpc.Status` message, for one failed item of a
    /// batch: exactly what the single call would have carried in its
    /// `grpc-status-details-bin` trailer.
    pub fn into_status_proto(self) -> StatusProto {
        let status = self.into_status();
        StatusProto::decode(status.details()).unwrap_or_else(|_| StatusProto {
            code: status.code() as i32,
            message: status.message().to_owned(),
            details: Vec::new(),
        })
    }
}

impl From<ResolveError> for ApiError {
    fn from(err: ResolveError) -> Self {
        match err {
            ResolveError::UnknownCode { code, suggestions } => {
                ApiError::UnknownCode { code, suggestions }
            }
            ResolveError::UnknownKey { code, http_status } => {
                ApiError::UnknownKey { code, http_status }
            }
            ResolveError::NothingToResolve => ApiError::invalid(
                "code",
                "nothing to resolve: set code, http_status (100-599), or both",
            ),
        }
    }
}

impl From<ApiError> for Status {
    fn from(err: ApiError) -> Self {
        err.into_status()
    }
}
