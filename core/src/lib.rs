//! The errmap domain: the JD Cloud API Gateway's error catalog and the rules
//! that translate its errors (an HTTP status and a string code) to and from
//! gRPC status codes. No transport: the errmap server and any other face
//! build on these modules.
//!
//! - [`catalog`]: the gateway's error catalog: parse, validate, index.
//! - [`mapping`]: the translation rules, as plain functions over a catalog.
//! - [`locale`]: the two answer languages and how a request picks one.
//! - [`render`]: message templates filled in from request params.
//! - [`present`]: a resolution as a caller hands it on: a `google.rpc.Status`
//!   with details, and the gateway's JSON error body ([`gateway_body`]).
//! - [`engine`]: the questions callers ask (resolve a gateway error, a gRPC
//!   status, a batch; read an entry), one plain function each.
//! - [`pb`]: the messages generated from `proto/`.

#![forbid(unsafe_code)]

pub mod catalog;
pub mod engine;
pub mod gateway_body;
pub mod locale;
pub mod mapping;
pub mod pb;
pub mod present;
pub mod render;
