//! errmap translates between the JD Cloud API Gateway's errors (an HTTP
//! status and a string code) and gRPC status codes, as a gRPC sidecar.
//!
//! # Layout
//!
//! - [`catalog`]: the gateway's error catalog: parse, validate, index.
//! - [`mapping`]: the translation rules, as plain functions over a catalog.
//! - [`locale`]: the two answer languages and how a request picks one.
//! - [`render`]: message templates filled in from request params.
//! - [`present`]: a resolution as a caller hands it on: a `google.rpc.Status`
//!   with details, and the gateway's JSON error body ([`gateway_body`]).
//! - [`service`]: the `errmap.v1.ErrorMapService` gRPC service: validates
//!   requests, asks the core, maps errors to statuses in one place.
//! - [`server`]: the listeners (API, admin, HTTP/JSON), health, reflection,
//!   the call layer every gRPC call passes (metrics, deadline, fault codes)
//!   and graceful shutdown.
//! - [`admin`]: the admin listener: `/livez`, `/readyz`, `/metrics` and gRPC
//!   health, for probes and scrapers.
//! - [`http_api`]: the HTTP/JSON face of the API, for clients without gRPC.
//! - [`metrics`]: Prometheus metrics, the observer the service reports to,
//!   and the record of one call that the server's call layer keeps.
//! - [`config`]: command-line flags and their `ERRMAP_*` environment twins.
//! - [`cli`]: the commands besides serving (`catalog check|export`,
//!   `resolve`).
//! - [`runtime`]: the tokio runtime, sized to the CPUs errmap may use.
//! - [`reload`]: watching the catalog file and swapping in good versions.
//! - [`json`]: messages as proto3 JSON.
//! - [`pb`]: code generated from `proto/`, and [`wire`]: the few messages
//!   encoded by hand so prepared answers go out as ready-made bytes.

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
