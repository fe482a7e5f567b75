//! The one place where errors become statuses: bad requests become
//! `INVALID_ARGUMENT` naming the field and its allowed range, unknown codes
//! become `NOT_FOUND` naming the code and the closest known ones. Both carry
//! `google.rpc` details so clients can act on them without parsing text.
//! A single call answers with a `tonic::Status`; a failed batch item
//! carries the `google.rpc.Status` that call would have carried in its
//! `grpc-status-details-bin` trailer.

use crate::engine::EngineError;
use crate::pb::google::rpc::{
    bad_request::FieldViolation, BadRequest, Code, ErrorInfo, ResourceInfo, Status as StatusProto,
};
use prost::Message;
use prost_types::Any;

/// The `ErrorInfo.domain` of errmap's own errors.
pub const ERROR_DOMAIN: &str = "errmap.v1";

/// The `ResourceInfo.resource_type` of an unknown code.
const ENTRY_TYPE: &str = "errmap.v1.CatalogEntry";

fn any(name: &str, message: &impl Message) -> Any {
    Any {
        type_url: format!("type.googleapis.com/google.rpc.{name}"),
        value: message.encode_to_vec(),
    }
}

/// The error as a `google.rpc.Status` with its details.
pub fn status_proto(err: &EngineError) -> StatusProto {
    let (code, details) = match err {
        EngineError::InvalidField { field, description } => {
            let violation = FieldViolation {
                field: field.clone(),
                description: description.clone(),
                ..Default::default()
            };
            let bad_request = BadRequest {
                field_violations: vec![violation],
            };
            (Code::InvalidArgument, vec![any("BadRequest", &bad_request)])
        }
        EngineError::UnknownCode { code, suggestions } => {
            let info = ErrorInfo {
                reason: "UNKNOWN_GATEWAY_CODE".to_owned(),
                domain: ERROR_DOMAIN.to_owned(),
                metadata: [
                    ("code".to_owned(), code.clone()),
                    ("suggestions".to_owned(), suggestions.join(",")),
                ]
                .into(),
            };
            let resource = ResourceInfo {
                resource_type: ENTRY_TYPE.to_owned(),
                resource_name: code.clone(),
                owner: String::new(),
                description: "no such code in the catalog".to_owned(),
            };
            let details = vec![any("ErrorInfo", &info), any("ResourceInfo", &resource)];
            (Code::NotFound, details)
        }
        EngineError::UnknownKey { code, http_status } => {
            let resource = ResourceInfo {
                resource_type: ENTRY_TYPE.to_owned(),
                resource_name: format!("{code}/{http_status}"),
                owner: String::new(),
                description: "the code exists, but not with this HTTP status".to_owned(),
            };
            (Code::NotFound, vec![any("ResourceInfo", &resource)])
        }
    };
    StatusProto {
        code: code as i32,
        message: err.to_string(),
        details,
    }
}

/// The error as the status a single call answers with.
pub fn status(err: &EngineError) -> tonic::Status {
    let proto = status_proto(err);
    let code = tonic::Code::from_i32(proto.code);
    let details = proto.encode_to_vec();
    tonic::Status::with_details(code, proto.message, details.into())
}
