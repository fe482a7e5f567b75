//! Command-line flags, each with an `ERRMAP_*` environment twin. Parsed in
//! one place; a bad value stops start-up with a message naming the setting.

use crate::service::DEFAULT_MAX_BATCH;
use clap::{Parser, ValueEnum};
use std::net::SocketAddr;
use std::time::Duration;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:50051";
/// Loopback, for local runs; in Kubernetes set `0.0.0.0:9090` so the
/// kubelet's probes, which dial the pod IP, reach it.
pub const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:9090";
/// Loopback like the gRPC API: the pod's own containers call it.
pub const DEFAULT_HTTP_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_LOG_FORMAT: &str = "text";
pub const DEFAULT_SHUTDOWN_GRACE: &str = "10s";
pub const DEFAULT_LOG: &str = "info";
/// The largest `--max-batch` accepted: a batch is answered in one message,
/// and its answer must stay well under the 4 MiB default message limit.
pub const MAX_BATCH_LIMIT: usize = 10_000;

/// Exit code for a bad setting (EX_USAGE from sysexits.h).
pub const EXIT_USAGE: i32 = 64;

/// errmap: translates between API gateway errors and gRPC status codes.
///
/// Serves errmap.v1.ErrorMapService, grpc.health.v1.Health and server
/// reflection (v1 and v1alpha) on one gRPC listener, over the catalog built
/// into the binary; probes and metrics on an admin listener; and the same
/// API as HTTP/JSON on a third.
#[derive(Debug, Clone, Parser)]
#[command(name = "errmap", version, about, long_about)]
pub struct Config {
    /// Address the gRPC listener binds, HOST:PORT. Port 0 picks a free port
    /// (the chosen address is logged).
    #[arg(long, env = "ERRMAP_LISTEN", default_value = DEFAULT_LISTEN, value_name = "ADDR")]
    pub listen: SocketAddr,

    /// Address of the admin listener (HTTP/1.1 and gRPC on one port):
    /// /livez, /readyz, /metrics and grpc.health.v1.Health. Point Kubernetes
    /// probes here and bind 0.0.0.0:9090 in a pod, since probes dial the pod
    /// IP. "off" (or empty) disables it.
    #[arg(long, env = "ERRMAP_ADMIN_LISTEN", default_value = DEFAULT_ADMIN_LISTEN,
          value_name = "ADDR", value_parser = parse_endpoint)]
    pub admin_listen: Endpoint,

    /// Address of the HTTP/JSON face of the API (GET /v1/errors, POST
    /// /v1/resolve/gateway, ...). "off" (or empty) disables it.
    #[arg(long, env = "ERRMAP_HTTP_LISTEN", default_value = DEFAULT_HTTP_LISTEN,
          value_name = "ADDR", value_parser = parse_endpoint)]
    pub http_listen: Endpoint,

    /// How long in-flight calls may finish after SIGTERM or SIGINT, such as
    /// "10s" or "500ms"; after it the process exits anyway.
    #[arg(long, env = "ERRMAP_SHUTDOWN_GRACE", default_value = DEFAULT_SHUTDOWN_GRACE,
          value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub shutdown_grace: Duration,

    /// Most queries one BatchResolve call may carry (1-10000); a larger
    /// batch is refused with INVALID_ARGUMENT.
    #[arg(long, env = "ERRMAP_MAX_BATCH", default_value_t = DEFAULT_MAX_BATCH,
          value_name = "N", value_parser = parse_max_batch)]
    pub max_batch: usize,

    /// Log filter, in tracing's EnvFilter syntax, such as "info" or
    /// "errmap=debug".
    #[arg(long, env = "ERRMAP_LOG", default_value = DEFAULT_LOG, value_name = "FILTER")]
    pub log: String,

    /// Log format: "text" for people, "json" for one JSON object a line.
    #[arg(long, env = "ERRMAP_LOG_FORMAT", default_value = DEFAULT_LOG_FORMAT,
          value_name = "FORMAT", value_enum)]
    pub log_format: LogFormat,
}

/// An optional listener address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Off,
    At(SocketAddr),
}

impl Endpoint {
    pub fn addr(self) -> Option<SocketAddr> {
        match self {
            Endpoint::Off => None,
            Endpoint::At(addr) => Some(addr),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object a line, for log collectors.
    Json,
}

fn parse_endpoint(value: &str) -> Result<Endpoint, String> {
    let value = value.trim();
    if value.is_empty() || value.eq_ignore_ascii_case("off") {
        return Ok(Endpoint::Off);
    }
    value
        .parse()
        .map(Endpoint::At)
        .map_err(|_| format!("must be HOST:PORT such as 127.0.0.1:8080, or \"off\"; got {value:?}"))
}

fn parse_max_batch(value: &str) -> Result<usize, String> {
    let n: usize = value
        .parse()
        .map_err(|_| format!("must be a whole number between 1 and {MAX_BATCH_LIMIT}"))?;
    if (1..=MAX_BATCH_LIMIT).contains(&n) {
        Ok(n)
    } else {
        Err(format!("must be between 1 and {MAX_BATCH_LIMIT}, got {n}"))
    }
}

impl Config {
    /// Parses flags and environment; prints help or version and exits 0 when
    /// asked, and exits 64 on a bad setting.
    pub fn from_env_and_args() -> Self {
        match Self::try_parse() {
            Ok(config) => config,
            Err(err) => {
                let code = if err.use_stderr() { EXIT_USAGE } else { 0 };
                let _ = err.print();
                std::process::exit(code);
            }
        }
    }
}
