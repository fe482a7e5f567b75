//! errmap translates between the JD Cloud API Gateway's errors (an HTTP
//! status and a string code) and gRPC status codes, as a gRPC sidecar.
//!
//! # Layout
//!
//! The domain is the `errmap-core` crate (`core/`), re-exported here:
//! [`catalog`], [`mapping`], [`locale`], [`render`], [`present`],
//! [`gateway_body`], the [`engine`] every face asks, and [`diff`] (what a
//! catalog change does). This crate holds
//! the faces and what serves them:
//!
//! - [`service`]: the `errmap.v1.ErrorMapService` gRPC service: decodes a
//!   request, asks the engine through the prepared answers, encodes the
//!   answer (`pb/wire.rs`: the few messages encoded by hand so
//!   prepared answers go out as ready-made bytes); errors become statuses
//!   in one place (`service/error.rs`).
//! - [`metrics`]: Prometheus metrics, the observer the engine reports to,
//!   and the record of one call that the server's call layer keeps.
//! - [`server`]: the listeners (API, admin, HTTP/JSON, ext_proc) and how
//!   each admits connections, health, reflection, the call layer every gRPC
//!   call passes (metrics, deadline, fault codes) and graceful shutdown;
//!   `server/admin.rs` (probes and metrics), `server/http_api.rs` (the
//!   HTTP/JSON face) and `server/ext_proc.rs` (Envoy's external processor,
//!   served on a thread of its own by `server/own_thread.rs`).
//! - [`app`]: settings (flags and their `ERRMAP_*` twins), the commands
//!   besides serving, watching the catalog file, the runtime and signals;
//!   [`app::run`] is all the binary's `main` calls.
//! - [`pb`]: the API's types: core's messages and the service stubs.
//!
//! Each floor uses only those above it in this list (and the core):
//! nothing imports upward. `docs/architecture.md` follows one call through
//! them.

#![forbid(unsafe_code)]

pub use errmap_core::catalog;
pub use errmap_core::diff;
pub use errmap_core::echo;
pub use errmap_core::engine;
pub use errmap_core::gateway_body;
pub use errmap_core::locale;
pub use errmap_core::mapping;
pub use errmap_core::present;
pub use errmap_core::render;

pub mod app;
pub mod metrics;
pub mod pb;
pub mod server;
pub mod service;
