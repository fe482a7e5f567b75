//! errmap translates between the JD Cloud API Gateway's errors (an HTTP
//! status and a string code) and gRPC status codes, as a gRPC sidecar.
//!
//! # Layout
//!
//! The domain is the `errmap-core` crate (`core/`), re-exported here:
//! [`catalog`], [`mapping`], [`locale`], [`render`], [`present`],
//! [`gateway_body`] and the [`engine`] every face asks. This crate holds
//! the faces and what serves them:
//!
//! - [`service`]: the `errmap.v1.ErrorMapService` gRPC service: decodes a
//!   request, asks the engine through the prepared answers, encodes the
//!   answer; errors become statuses in one place.
//! - [`server`]: the listeners (API, admin, HTTP/JSON), health, reflection,
//!   the call layer every gRPC call passes (metrics, deadline, fault codes)
//!   and graceful shutdown.
//! - [`admin`]: the admin listener: `/livez`, `/readyz`, `/metrics` and gRPC
//!   health, for probes and scrapers.
//! - [`http_api`]: the HTTP/JSON face of the API, for clients without gRPC.
//! - [`metrics`]: Prometheus metrics, the observer the engine reports to,
//!   and the record of one call that the server's call layer keeps.
//! - [`config`]: command-line flags and their `ERRMAP_*` environment twins.
//! - [`cli`]: the commands besides serving (`catalog check|export`,
//!   `resolve`).
//! - [`runtime`]: the tokio runtime, sized to the CPUs errmap may use.
//! - [`reload`]: watching the catalog file and swapping in good versions.
//! - [`json`]: messages as proto3 JSON.
//! - [`pb`]: the API's types: core's messages and the service stubs, and
//!   [`wire`]: the few messages encoded by hand so prepared answers go out
//!   as ready-made bytes.

#![forbid(unsafe_code)]

pub mod admin;
pub use errmap_core::catalog;
pub use errmap_core::engine;
pub mod cli;
pub mod config;
pub use errmap_core::gateway_body;
pub mod http_api;
pub mod json;
pub use errmap_core::locale;
pub use errmap_core::mapping;
pub mod metrics;
pub mod pb;
pub use errmap_core::present;
pub mod reload;
pub use errmap_core::render;
pub mod runtime;
pub mod server;
pub mod service;
pub mod wire;
