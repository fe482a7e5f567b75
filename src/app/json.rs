//! Protobuf messages as proto3 JSON, the shapes grpcurl shows.

use prost_reflect::{DynamicMessage, SerializeOptions};

/// A message as pretty proto3 JSON, or `None` if its type is unknown.
pub(super) fn to_json<M: prost::Message>(message: &M, full_name: &str) -> Option<String> {
    let descriptor = crate::pb::descriptor_pool()?.get_message_by_name(full_name)?;
    let mut dynamic = DynamicMessage::new(descriptor);
    dynamic.transcode_from(message).ok()?;
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::pretty(&mut out);
    dynamic
        .serialize_with_options(&mut serializer, &SerializeOptions::new())
        .ok()?;
    String::from_utf8(out).ok()
}
