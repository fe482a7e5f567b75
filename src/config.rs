//! Command-line flags, each with an `ERRMAP_*` environment twin. Parsed in
//! one place; a bad value stops start-up with a message naming the setting.

use crate::locale::Locale;
use crate::present::DEFAULT_ERROR_DOMAIN;
use crate::service::{self, DEFAULT_MAX_BATCH};
use clap::Parser;
use std::net::SocketAddr;
use std::time::Duration;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:50051";
pub const DEFAULT_SHUTDOWN_GRACE: &str = "10s";
pub const DEFAULT_LOG: &str = "info";
pub const DEFAULT_LOCALE: &str = "zh-CN";
/// The largest `--max-batch` accepted: a batch is answered in one message,
/// and its answer must stay well under the 4 MiB default message limit.
pub const MAX_BATCH_LIMIT: usize = 10_000;

/// Exit code for a bad setting (EX_USAGE from sysexits.h).
pub const EXIT_USAGE: i32 = 64;

/// errmap: translates between API gateway errors and gRPC status codes.
///
/// Serves errmap.v1.ErrorMapService, grpc.health.v1.Health and server
/// reflection (v1 and v1alpha) on one gRPC listener, over the catalog built
/// into the binary.
#[derive(Debug, Clone, Parser)]
#[command(name = "errmap", version, about, long_about)]
pub struct Config {
    /// Address the gRPC listener binds, HOST:PORT. Port 0 picks a free port
    /// (the chosen address is logged).
    #[arg(long, env = "ERRMAP_LISTEN", default_value = DEFAULT_LISTEN, value_name = "ADDR")]
    pub listen: SocketAddr,

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

    /// Locale of answers when neither the request's locale field nor its
    /// accept-language metadata names one: zh-CN or en-US.
    #[arg(long, env = "ERRMAP_DEFAULT_LOCALE", default_value = DEFAULT_LOCALE, value_name = "LOCALE")]
    pub default_locale: Locale,

    /// ErrorInfo.domain of the statuses errmap builds: the system whose
    /// reasons (the gateway codes) they are.
    #[arg(long, env = "ERRMAP_ERROR_DOMAIN", default_value = DEFAULT_ERROR_DOMAIN,
          value_name = "DOMAIN", value_parser = parse_domain)]
    pub error_domain: String,

    /// Log filter, in tracing's EnvFilter syntax, such as "info" or
    /// "errmap=debug".
    #[arg(long, env = "ERRMAP_LOG", default_value = DEFAULT_LOG, value_name = "FILTER")]
    pub log: String,
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

fn parse_domain(value: &str) -> Result<String, String> {
    let valid = !value.is_empty()
        && value.len() <= 253
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    if valid {
        Ok(value.to_owned())
    } else {
        Err("must be a DNS-style name such as apigateway.jdcloud.com".to_owned())
    }
}

impl Config {
    /// The settings of the API service.
    pub fn service_options(&self) -> service::Options {
        service::Options {
            max_batch: self.max_batch,
            default_locale: self.default_locale,
            error_domain: self.error_domain.clone(),
        }
    }

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
