//! Protobuf messages as proto3 JSON, the shapes grpcurl shows.

use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};
use std::sync::OnceLock;

/// The descriptors of errmap's own files, decoded once.
pub fn pool() -> Option<&'static DescriptorPool> {
    static POOL: OnceLock<Option<DescriptorPool>> = OnceLock::new();
    POOL.get_or_init(|| DescriptorPool::decode(crate::pb::FILE_DESCRIPTOR_SET).ok())
        .as_ref()
}

/// A message as pretty proto3 JSON, or `None` if its type is unknown.
pub fn to_json<M: prost::Message>(message: &M, full_name: &str) -> Option<String> {
    let descriptor = pool()?.get_message_by_name(full_name)?;
    let mut dynamic = DynamicMessage::new(descriptor);
    dynamic.transcode_from(message).ok()?;
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::pretty(&mut out);
    dynamic
        .serialize_with_options(&mut serializer, &SerializeOptions::new())
        .ok()?;
    String::from_utf8(out).ok()
}
