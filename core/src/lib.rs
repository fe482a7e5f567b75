//! The errmap domain: the JD Cloud API Gateway's error catalog and the rules
//! that translate its errors (an HTTP status and a string code) to and from
//! gRPC status codes. No transport: the errmap server is one face built on
//! this crate, and a Rust service that wants no sidecar can use it in
//! process, with the same answers the server gives.
//!
//! - [`catalog`]: the gateway's error catalog: parse, validate, index.
//! - [`mapping`]: the translation rules, as plain functions over a catalog.
//! - [`locale`]: the two answer languages and how a request picks one.
//! - [`render`]: message templates filled in from request params.
//! - [`echo`]: how much of a client's value an answer repeats.
//! - [`present`]: a resolution as a caller hands it on: a `google.rpc.Status`
//!   with details, and the gateway's JSON error body ([`gateway_body`]).
//! - [`engine`]: the questions callers ask (resolve a gateway error, a gRPC
//!   status, a batch; read an entry), one plain function each.
//! - [`diff`]: what a catalog change does: entries added, removed and
//!   changed, and the answers that move.
//! - [`pb`]: the messages generated from `proto/`.
//!
//! # In process
//!
//! Load a catalog once, then ask the engine; the request and answer types
//! are the API's messages.
//!
//! ```
//! use errmap_core::catalog::Catalog;
//! use errmap_core::engine::{self, Context, EngineError};
//! use errmap_core::pb::errmap::v1::{ResolveGatewayErrorRequest, ResolveGrpcStatusRequest};
//! use errmap_core::pb::google::rpc::Code;
//!
//! let catalog = Catalog::embedded()?;
//! let ctx = Context::new(&catalog);
//!
//! // A gateway error, to the gRPC status to answer with.
//! let answer = engine::resolve_gateway(
//!     &ctx,
//!     &ResolveGatewayErrorRequest {
//!         code: "APIGW_NONCE_CONFLICT".into(),
//!         http_status: Some(403),
//!         locale: "en-US".into(),
//!         ..Default::default()
//!     },
//! )?;
//! assert_eq!(answer.grpc_code, Code::PermissionDenied as i32);
//! // The rich status, ready for a gRPC server's grpc-status-details-bin.
//! assert!(!answer.status_details_bin.is_empty());
//!
//! // A gRPC status, to the gateway's HTTP status and code.
//! let answer = engine::resolve_grpc(
//!     &ctx,
//!     &ResolveGrpcStatusRequest {
//!         code: Code::NotFound as i32,
//!         ..Default::default()
//!     },
//! )?;
//! assert_eq!(answer.http_status, 404);
//!
//! // Bad input is an error that names the field.
//! let bad = ResolveGatewayErrorRequest {
//!     http_status: Some(42),
//!     ..Default::default()
//! };
//! match engine::resolve_gateway(&ctx, &bad) {
//!     Err(EngineError::InvalidField { field, .. }) => assert_eq!(field, "http_status"),
//!     other => panic!("expected an invalid field, got {other:?}"),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod catalog;
pub mod diff;
pub mod echo;
pub mod engine;
pub mod gateway_body;
pub mod locale;
pub mod mapping;
pub mod pb;
pub mod present;
pub mod render;
