//! Proto3 JSON for the HTTP face, as grpcurl prints it (lowerCamelCase
//! names, enums by name, 64-bit integers as strings, defaults left out),
//! by way of `prost-reflect` and the descriptors built into the binary.

use crate::echo;
use crate::engine::EngineError;
use crate::pb::google::rpc::Status as StatusProto;
use crate::service::error;
use prost::Message;
use prost_reflect::{DynamicMessage, Kind, MessageDescriptor, MethodDescriptor, ServiceDescriptor};
use serde_json::{Map, Value};
use tonic::Status;

const STATUS_MESSAGE: &str = "google.rpc.Status";

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("the built-in descriptors lack {0}")]
    Missing(String),
}

/// Converts between prost messages and proto3 JSON for one service.
#[derive(Debug, Clone)]
pub struct Codec {
    service: ServiceDescriptor,
    status: MessageDescriptor,
}

impl Codec {
    pub fn new(service: &str) -> Result<Self, CodecError> {
        let pool = crate::pb::descriptor_pool()
            .ok_or_else(|| CodecError::Missing("decodable built-in descriptors".into()))?;
        let missing = |name: &str| CodecError::Missing(name.to_owned());
        Ok(Self {
            service: pool
                .get_service_by_name(service)
                .ok_or_else(|| missing(service))?,
            status: pool
                .get_message_by_name(STATUS_MESSAGE)
                .ok_or_else(|| missing(STATUS_MESSAGE))?,
        })
    }

    /// A method of the service, by its simple name.
    pub fn method(&self, name: &str) -> Option<MethodDescriptor> {
        self.service.methods().find(|m| m.name() == name)
    }

    /// A request from a JSON body; an empty body is the empty message.
    pub fn from_body<T: Message + Default>(
        &self,
        desc: &MessageDescriptor,
        body: &[u8],
    ) -> Result<T, Status> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(T::default());
        }
        // Syntax first, so that a broken body is not blamed on a field.
        let value: Value = serde_json::from_slice(body).map_err(|err| {
            let why = err.to_string();
            Status::invalid_argument(format!(
                "request body is not valid JSON: {}",
                echo::text(&why)
            ))
        })?;
        let dynamic = deserialize(desc, value)?;
        transcode(desc, &dynamic)
    }

    /// A request from query parameters (and path segments), each naming a
    /// field by its JSON or proto name. A value is read as the field's type
    /// would be in JSON: text for string fields, a number where it parses
    /// as one, else a name (of an enum value).
    pub fn from_fields<T: Message + Default>(
        &self,
        desc: &MessageDescriptor,
        fields: Vec<(String, String)>,
    ) -> Result<T, Status> {
        let mut object = Map::new();
        for (name, text) in fields {
            let kind = desc
                .get_field_by_json_name(&name)
                .or_else(|| desc.get_field_by_name(&name))
                .map(|f| f.kind());
            object.insert(name, field_value(kind, text));
        }
        let dynamic = deserialize(desc, Value::Object(object))?;
        transcode(desc, &dynamic)
    }

    /// A response as JSON.
    pub fn to_json<T: Message>(&self, desc: MessageDescriptor, message: &T) -> Option<Vec<u8>> {
        let mut dynamic = DynamicMessage::new(desc);
        dynamic.transcode_from(message).ok()?;
        serde_json::to_vec(&dynamic).ok()
    }

    /// An error as a `google.rpc.Status` in JSON, with the details the gRPC
    /// call would carry (each with its `@type`).
    pub fn status_json(&self, status: &Status) -> Vec<u8> {
        let code = status.code() as i32;
        let plain = StatusProto {
            code,
            message: status.message().to_owned(),
            details: Vec::new(),
        };
        let detailed = StatusProto::decode(status.details())
            .ok()
            .filter(|s| s.code == code);
        detailed
            .and_then(|s| self.to_json(self.status.clone(), &s))
            .or_else(|| self.to_json(self.status.clone(), &plain))
            .unwrap_or_else(|| {
                serde_json::json!({ "code": code, "message": status.message() })
                    .to_string()
                    .into_bytes()
            })
    }
}

fn field_value(kind: Option<Kind>, text: String) -> Value {
    match kind {
        Some(Kind::String | Kind::Bytes) => Value::String(text),
        Some(Kind::Bool) => text
            .parse::<bool>()
            .map_or(Value::String(text), Value::Bool),
        _ => text
            .parse::<i64>()
            .map_or_else(|_| Value::String(text), Value::from),
    }
}

/// Deserializes, naming the field at fault when there is one. The field's
/// path and the parser's words may quote the request (an unknown key, an
/// enum name), so both are cut as every echo is.
fn deserialize<'de, D>(desc: &MessageDescriptor, deserializer: D) -> Result<DynamicMessage, Status>
where
    D: serde::Deserializer<'de>,
    D::Error: std::fmt::Display,
{
    let mut track = serde_path_to_error::Track::new();
    let tracked = serde_path_to_error::Deserializer::new(deserializer, &mut track);
    DynamicMessage::deserialize(desc.clone(), tracked).map_err(|err| {
        let path = track.path();
        if path.iter().next().is_some() {
            let (field, why) = (path.to_string(), err.to_string());
            error::status(&EngineError::invalid(
                echo::cut(&field, echo::MAX_ECHO_TEXT),
                echo::text(&why),
            ))
        } else {
            misfit(desc, &err)
        }
    })
}

fn transcode<T: Message + Default>(
    desc: &MessageDescriptor,
    dynamic: &DynamicMessage,
) -> Result<T, Status> {
    dynamic.transcode_to().map_err(|err| misfit(desc, &err))
}

fn misfit(desc: &MessageDescriptor, err: &dyn std::fmt::Display) -> Status {
    let why = err.to_string();
    Status::invalid_argument(format!(
        "request does not fit {}: {}",
        desc.full_name(),
        echo::text(&why)
    ))
}
