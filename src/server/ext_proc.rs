//! The Envoy external processor face (`--ext-proc-listen`): Envoy's
//! `ext_proc` filter opens one `envoy.service.ext_proc.v3.ExternalProcessor/
//! Process` stream per HTTP request and hands errmap the request headers,
//! the response headers, the response trailers and, when errmap asks for
//! it, an error response's body. errmap answers each with what to change:
//!
//! - a failing gRPC response going to a gRPC client keeps its status and
//!   gains `grpc-status-details-bin` (ErrorInfo, LocalizedMessage, Help,
//!   RetryInfo), in the headers of a trailers-only answer or in the
//!   trailers;
//! - a failing trailers-only gRPC response going to any other client
//!   becomes the gateway's HTTP status and JSON error body;
//! - a non-gRPC error response with the gateway's JSON error body going to
//!   a gRPC client becomes that error's gRPC status with details, sent as
//!   Envoy's immediate response (Envoy cannot add trailers the upstream did
//!   not send);
//! - everything else passes as it is.
//!
//! The decisions are in [`exchange`]; what one stream's settings are (the
//! errmap flags, narrowed per route by the stream's metadata) in
//! [`settings`].
//! Nothing that arrives makes errmap fail the stream: what it cannot read
//! it passes on untouched, so Envoy's traffic flows whatever errmap thinks
//! of it.

#[cfg(feature = "ext-proc")]
mod attributes;
#[cfg(feature = "ext-proc")]
mod bare;
#[cfg(feature = "ext-proc")]
pub mod exchange;
#[cfg(feature = "ext-proc")]
mod headers;
#[cfg(feature = "ext-proc")]
pub mod inbound;
pub mod settings;

#[cfg(feature = "ext-proc")]
pub use exchange::{Action, Exchange, Translator};
#[cfg(feature = "ext-proc")]
pub use processor::Processor;
pub use settings::{
    Directions, Route, Settings, DEFAULT_MAX_BODY, LOCALE_METADATA, PROFILE_METADATA, SERVICE_NAME,
    TRANSLATE_METADATA,
};

#[cfg(feature = "ext-proc")]
mod processor;

/// The descriptors reflection serves for the ext_proc listener: the part
/// of Envoy's `envoy.service.ext_proc.v3` API errmap reads and writes
/// (`src/server/ext_proc/proto/`).
#[cfg(feature = "ext-proc")]
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/ext_proc_descriptor.bin"));
