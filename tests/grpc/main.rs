//! Integration tests: the real server on 127.0.0.1:0, real tonic clients.

// A test or a benchmark fails loudly, and its helpers are its own.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod support;

mod admin;
mod attack;
mod bad_input;
mod batch;
mod catalog_rows;
mod echoes;
#[cfg(feature = "ext-proc")]
mod ext_proc;
mod frames;
mod gateway;
mod grpc_codes;
mod health_reflection;
mod hostile;
mod http_api;
mod limits;
mod list_get;
mod pieces;
mod prepared;
mod profiles;
mod reload;
mod rich;
mod round_trip;
mod shutdown;
mod success;
