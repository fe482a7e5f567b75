//! errmap translates between the JD Cloud API Gateway's errors (an HTTP
//! status and a string code) and gRPC status codes, as a gRPC sidecar.
//!
//! # Layout
//!
//! - [`catalog`]: the gateway's error catalog: parse, validate, index.
//! - [`mapping`]: the translation rules, as plain functions over a catalog.
//! - [`service`]: the `errmap.v1.ErrorMapService` gRPC service: validates
//!   requests, asks the core, maps errors to statuses in one place.
//! - [`server`]: the listener, health, reflection and graceful shutdown.
//! - [`config`]: command-line flags and their `ERRMAP_*` environment twins.
//! - [`pb`]: code generated from `proto/`.

#![forbid(unsafe_code)]

pub mod catalog;
pub mod config;
pub mod mapping;
pub mod pb;
pub mod server;
pub mod service;
