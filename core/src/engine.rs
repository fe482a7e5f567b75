//! The engine: one plain function per question a caller asks, each taking
//! the API's request message and returning the API's answer or an
//! [`EngineError`] naming what was wrong.
//!
//! - [`resolve_gateway`]: a gateway error (code, HTTP status, body) to a
//!   gRPC status and its catalog entry.
//! - [`resolve_grpc`]: a gRPC status (code, reason, details) to the
//!   gateway's HTTP status and code.
//! - [`resolve_batch`]: many of both, each answered or failed on its own.
//! - [`get_error`]: one catalog entry by code.
//!
//! Every face (the gRPC service, the HTTP/JSON face, the CLI, a Rust
//! program in process) asks these. A face that keeps ready answers puts
//! them in front of the engine as an [`AnswerCache`]: the engine checks the
//! request once, asks the cache with the key of what it would compute, and
//! computes only on a miss.

mod batch;
mod cache;
mod context;
mod convert;
mod error;
mod gateway;
mod grpc;
mod lookup;
mod observe;
pub mod validate;

pub use batch::{batch_query, batch_view, resolve_batch, DEFAULT_MAX_BATCH};
pub use cache::{Answer, AnswerCache, GatewayKey, GrpcKey, NoCache};
pub use context::{Context, View};
pub use error::EngineError;
pub use gateway::{gateway, resolve_gateway};
pub use grpc::{grpc, resolve_grpc};
pub use lookup::get_error;
pub use observe::Observer;
pub use validate::Prefix;
