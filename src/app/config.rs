//! Command-line flags, each with an `ERRMAP_*` environment twin. Parsed in
//! one place; a bad value stops start-up with a message naming the setting.

use super::reload::{DEFAULT_POLL, MIN_POLL};
use crate::locale::Locale;
use crate::present::DEFAULT_ERROR_DOMAIN;
use crate::server::ext_proc::{self, Directions, DEFAULT_MAX_BODY};
use crate::server::{
    DEFAULT_ADMIN_MAX_CONNECTIONS, DEFAULT_CALL_TIMEOUT, DEFAULT_HANDSHAKE_TIMEOUT,
    DEFAULT_KEEPALIVE_INTERVAL, DEFAULT_KEEPALIVE_TIMEOUT, DEFAULT_MAX_CONCURRENT_STREAMS,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_SHUTDOWN_DELAY,
    DEFAULT_SHUTDOWN_GRACE,
};
use crate::service::{self, DEFAULT_LOCALE, DEFAULT_MAX_BATCH};
use clap::builder::TypedValueParser;
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use humantime::Duration as Span;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:50051";
/// Loopback, for local runs; in Kubernetes set `0.0.0.0:9090` so the
/// kubelet's probes, which dial the pod IP, reach it.
pub const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:9090";
/// Loopback like the gRPC API: the pod's own containers call it.
pub const DEFAULT_HTTP_LISTEN: &str = "127.0.0.1:8080";
/// Off: the ext_proc face serves only where Envoy is set up to call it.
pub const DEFAULT_EXT_PROC_LISTEN: &str = "off";
/// Where `--ext-proc-listen on` binds: loopback, for an Envoy sidecar in
/// the same pod, next to the API's port.
pub const EXT_PROC_ON_ADDR: &str = "127.0.0.1:50052";
/// Every translation; a route can narrow it (`x-errmap-translate`).
pub const DEFAULT_EXT_PROC_TRANSLATE: &str = "all";
pub const DEFAULT_LOG_FORMAT: &str = "text";
pub const DEFAULT_LOG: &str = "info";
/// The largest `--max-batch` accepted. A batch is answered in one message
/// of about 1 KiB a result, 3.5 KiB at most (statuses included), which
/// must stay under the 4 MiB receive limit most gRPC clients apply by
/// default.
pub const MAX_BATCH_LIMIT: usize = 1_000;

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
    /// Without a command, errmap serves.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// A catalog file in the embedded catalog's format (protobuf text format
    /// of errmap.v1.Catalog) laid over the embedded one: an entry with the
    /// code and HTTP status of a built-in row replaces it, any other entry is
    /// added. When serving, the file is watched and reloaded when it
    /// changes, and a file that fails to load leaves the last good catalog
    /// serving; the catalog and resolve commands read it once.
    #[arg(long, env = "ERRMAP_CATALOG", value_name = "PATH", global = true)]
    pub catalog: Option<PathBuf>,

    /// How often the catalog file is re-read even when no change was
    /// noticed, as a safety net for missed file events.
    #[arg(long, env = "ERRMAP_CATALOG_POLL", default_value_t = Span::from(DEFAULT_POLL),
          value_name = "DURATION", value_parser = parse_poll)]
    pub catalog_poll: Span,

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

    /// Address of Envoy's external processor (envoy.service.ext_proc.v3):
    /// errors translated in flight between Envoy's clients and upstreams.
    /// "off" (the default, or empty) disables it; "on" binds
    /// 127.0.0.1:50052; a bare PORT binds 127.0.0.1:PORT.
    #[arg(long, env = "ERRMAP_EXT_PROC_LISTEN", default_value = DEFAULT_EXT_PROC_LISTEN,
          value_name = "ADDR", value_parser = parse_ext_proc_endpoint)]
    pub ext_proc_listen: Endpoint,

    /// Translations the ext_proc face makes: "all", "none", or a
    /// comma-separated list of grpc-details (gRPC error to gRPC client:
    /// details added), grpc-to-http (gRPC error to another client: the
    /// gateway's status and JSON body), http-to-grpc (gateway error to gRPC
    /// client: a gRPC status). A route's x-errmap-translate can narrow it.
    #[arg(long, env = "ERRMAP_EXT_PROC_TRANSLATE", default_value = DEFAULT_EXT_PROC_TRANSLATE,
          value_name = "LIST", value_parser = parse_directions)]
    pub ext_proc_translate: Directions,

    /// Largest error body the ext_proc face asks Envoy for and reads, in
    /// bytes (1-65536); a larger one passes unchanged.
    #[arg(long, env = "ERRMAP_EXT_PROC_MAX_BODY", default_value_t = DEFAULT_MAX_BODY,
          value_name = "BYTES", value_parser = clap::value_parser!(u32).range(1..=65_536).map(|n| n as usize))]
    pub ext_proc_max_body: usize,

    /// How long to keep serving after SIGTERM or SIGINT, with health
    /// NOT_SERVING and /readyz 503, before draining: time for callers to
    /// notice, such as "5s". Draining and its grace come after it.
    #[arg(long, env = "ERRMAP_SHUTDOWN_DELAY", default_value_t = Span::from(DEFAULT_SHUTDOWN_DELAY),
          value_name = "DURATION", value_parser = parse_span)]
    pub shutdown_delay: Span,

    /// How long in-flight calls may finish once draining begins (after
    /// SIGTERM or SIGINT and the shutdown delay), such as "10s" or "500ms";
    /// after it the process exits anyway.
    #[arg(long, env = "ERRMAP_SHUTDOWN_GRACE", default_value_t = Span::from(DEFAULT_SHUTDOWN_GRACE),
          value_name = "DURATION", value_parser = parse_span)]
    pub shutdown_grace: Span,

    /// Most queries one BatchResolve call may carry (1-1000); a larger
    /// batch is refused with INVALID_ARGUMENT.
    #[arg(long, env = "ERRMAP_MAX_BATCH", default_value_t = DEFAULT_MAX_BATCH,
          value_name = "N", value_parser = parse_max_batch)]
    pub max_batch: usize,

    /// Locale of answers when neither the request's locale field nor its
    /// accept-language metadata names one: zh-CN or en-US.
    #[arg(long, env = "ERRMAP_DEFAULT_LOCALE", default_value_t = DEFAULT_LOCALE, value_name = "LOCALE")]
    pub default_locale: Locale,

    /// ErrorInfo.domain of the statuses errmap builds: the system whose
    /// reasons (the gateway codes) they are.
    #[arg(long, env = "ERRMAP_ERROR_DOMAIN", default_value = DEFAULT_ERROR_DOMAIN,
          value_name = "DOMAIN", value_parser = parse_domain)]
    pub error_domain: String,

    /// Largest request message the API accepts, in bytes (1024-67108864);
    /// a larger one is refused with RESOURCE_EXHAUSTED.
    #[arg(long, env = "ERRMAP_MAX_MESSAGE_SIZE", default_value_t = DEFAULT_MAX_MESSAGE_SIZE,
          value_name = "BYTES", value_parser = clap::value_parser!(u32).range(1024..=67_108_864).map(|n| n as usize))]
    pub max_message_size: usize,

    /// HTTP/2 streams (calls) one connection may have open at once
    /// (1-65535); a client's further calls wait for one to finish.
    #[arg(long, env = "ERRMAP_MAX_CONCURRENT_STREAMS", default_value_t = DEFAULT_MAX_CONCURRENT_STREAMS,
          value_name = "N", value_parser = clap::value_parser!(u32).range(1..=65_535))]
    pub max_concurrent_streams: u32,

    /// How long one call may take before it is answered DEADLINE_EXCEEDED,
    /// such as "5s" (at least 1ms).
    #[arg(long, env = "ERRMAP_CALL_TIMEOUT", default_value_t = Span::from(DEFAULT_CALL_TIMEOUT),
          value_name = "DURATION", value_parser = parse_positive_duration)]
    pub call_timeout: Span,

    /// How often the API pings an idle HTTP/2 connection to find dead peers.
    #[arg(long, env = "ERRMAP_KEEPALIVE_INTERVAL", default_value_t = Span::from(DEFAULT_KEEPALIVE_INTERVAL),
          value_name = "DURATION", value_parser = parse_positive_duration)]
    pub keepalive_interval: Span,

    /// How long a keep-alive ping may go unanswered before the connection
    /// is closed.
    #[arg(long, env = "ERRMAP_KEEPALIVE_TIMEOUT", default_value_t = Span::from(DEFAULT_KEEPALIVE_TIMEOUT),
          value_name = "DURATION", value_parser = parse_positive_duration)]
    pub keepalive_timeout: Span,

    /// Connections the API listener, and apart from it each of the
    /// HTTP/JSON and ext_proc listeners, keeps open at once (1-65536). At the cap an idle
    /// connection is closed to make room; when every one is busy a new one
    /// is refused, and its client sees RESOURCE_EXHAUSTED or UNAVAILABLE.
    #[arg(long, env = "ERRMAP_MAX_CONNECTIONS", default_value_t = DEFAULT_MAX_CONNECTIONS,
          value_name = "N", value_parser = clap::value_parser!(u32).range(1..=65_536).map(|n| n as usize))]
    pub max_connections: usize,

    /// Connections the admin listener keeps open at once (1-65536), with
    /// the same rules as --max-connections.
    #[arg(long, env = "ERRMAP_ADMIN_MAX_CONNECTIONS", default_value_t = DEFAULT_ADMIN_MAX_CONNECTIONS,
          value_name = "N", value_parser = clap::value_parser!(u32).range(1..=65_536).map(|n| n as usize))]
    pub admin_max_connections: usize,

    /// How long a new connection, on any listener, has to send the HTTP/2
    /// preface or start an HTTP/1.1 request before it is closed, such as
    /// "5s" (at least 1ms).
    #[arg(long, env = "ERRMAP_HANDSHAKE_TIMEOUT", default_value_t = Span::from(DEFAULT_HANDSHAKE_TIMEOUT),
          value_name = "DURATION", value_parser = parse_positive_duration)]
    pub handshake_timeout: Span,

    /// Threads that serve calls (1-1024). Default: the CPUs errmap may use,
    /// as its cgroup CPU quota and affinity allow. One thread runs tokio's
    /// current-thread runtime, the fastest on one CPU.
    #[arg(long, env = "ERRMAP_WORKER_THREADS", value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=1024).map(|n| n as usize))]
    pub worker_threads: Option<usize>,

    /// Compute every answer per call instead of sending the answers
    /// prepared for plain queries; for benchmarks (BENCHMARKS.md).
    #[arg(long, env = "ERRMAP_NO_PREPARED_ANSWERS", hide = true)]
    pub no_prepared_answers: bool,

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

/// Like [`parse_endpoint`], with "on" for the default address and a bare
/// port on loopback.
fn parse_ext_proc_endpoint(value: &str) -> Result<Endpoint, String> {
    let value = value.trim();
    let loopback = |port: u16| Endpoint::At(SocketAddr::from(([127, 0, 0, 1], port)));
    if value.eq_ignore_ascii_case("on") {
        return parse_endpoint(EXT_PROC_ON_ADDR);
    }
    if let Ok(port) = value.parse::<u16>() {
        return Ok(loopback(port));
    }
    parse_endpoint(value).map_err(|_| {
        format!("must be HOST:PORT such as {EXT_PROC_ON_ADDR}, a port, \"on\" or \"off\"; got {value:?}")
    })
}

fn parse_directions(value: &str) -> Result<Directions, String> {
    Directions::parse(value)
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

/// A duration such as "5s" or "500ms".
fn parse_span(value: &str) -> Result<Span, String> {
    value.parse::<Span>().map_err(|e| e.to_string())
}

fn parse_positive_duration(value: &str) -> Result<Span, String> {
    let duration = parse_span(value)?;
    if *duration < Duration::from_millis(1) {
        return Err("must be at least 1ms".to_owned());
    }
    Ok(duration)
}

fn parse_poll(value: &str) -> Result<Span, String> {
    let poll = parse_span(value)?;
    if *poll < MIN_POLL {
        return Err(format!("must be at least {}", Span::from(MIN_POLL)));
    }
    Ok(poll)
}

/// What errmap does besides serving.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Check or print catalogs.
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Answer one query with the server's engine, without a server; prints
    /// the resolution as JSON (the shape grpcurl shows).
    #[command(subcommand)]
    Resolve(ResolveCommand),
    /// Add the errmap sidecar to every pod template of Kubernetes objects
    /// read as YAML, and write them to standard output; or take it out
    /// again with --uninject.
    Inject(super::inject::InjectArgs),
}

#[derive(Debug, Clone, Subcommand)]
pub enum CatalogCommand {
    /// Validate a catalog file as the server would load it (laid over the
    /// embedded catalog). Prints every problem as file:line:column with the
    /// rule it breaks; exits 0 when the file is valid, 1 when not.
    Check {
        /// The catalog file.
        path: PathBuf,
    },
    /// Print the effective catalog: the embedded one, with --catalog laid
    /// over it when given.
    Export {
        /// Output format.
        #[arg(long, value_enum, default_value_t = ExportFormat::Markdown)]
        format: ExportFormat,
    },
    /// What a catalog change does: entries added, removed and changed (each
    /// answer field that differs), and the alias, status-only and gRPC-code
    /// answers that move. OLD and NEW are catalog files, each laid over the
    /// embedded catalog as --catalog is (--catalog itself is not used), or
    /// "embedded" for the built-in catalog alone. Exits 0 when they give
    /// the same answers, 1 when they differ, 2 when either cannot be loaded.
    Diff {
        /// The catalog in service (a file, or "embedded").
        old: String,
        /// The catalog to roll out (a file, or "embedded").
        new: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = DiffFormat::Markdown)]
        format: DiffFormat,
        /// No summary line on standard error.
        #[arg(long, short)]
        quiet: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// A Markdown table, one row per entry.
    Markdown,
    /// The catalog as proto3 JSON (errmap.v1.Catalog).
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    /// A report for reviewers: tables of entries and answers.
    Markdown,
    /// One JSON object, for scripts.
    Json,
}

#[derive(Debug, Clone, Subcommand)]
pub enum ResolveCommand {
    /// A gateway error, by code, by HTTP status, or both.
    Gateway {
        /// The gateway code, such as APIGW_NONCE_CONFLICT.
        #[arg(value_name = "CODE", conflicts_with = "code")]
        code_arg: Option<String>,
        /// The gateway code, as a flag.
        #[arg(long, default_value = "")]
        code: String,
        /// The HTTP status, 100-599.
        #[arg(long)]
        http_status: Option<i32>,
        /// A placeholder value, NAME=VALUE; repeatable.
        #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_param)]
        params: Vec<(String, String)>,
        /// zh-CN or en-US; default: --default-locale.
        #[arg(long, default_value = "")]
        locale: String,
        /// The table for a bare HTTP status: google or grpc-proxy.
        #[arg(long, value_enum, default_value_t = ProfileArg::Google)]
        profile: ProfileArg,
    },
    /// A gRPC status code, by name (UNAVAILABLE) or number (14).
    Grpc {
        /// The gRPC code, such as UNAVAILABLE or 14.
        #[arg(
            value_name = "CODE",
            conflicts_with = "code",
            required_unless_present = "code"
        )]
        code_arg: Option<String>,
        /// The gRPC code, as a flag.
        #[arg(long)]
        code: Option<String>,
        /// A gateway code naming the entry to report.
        #[arg(long, default_value = "")]
        reason: String,
        /// A placeholder value, NAME=VALUE; repeatable.
        #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_param)]
        params: Vec<(String, String)>,
        /// zh-CN or en-US; default: --default-locale.
        #[arg(long, default_value = "")]
        locale: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProfileArg {
    Google,
    GrpcProxy,
}

fn parse_param(value: &str) -> Result<(String, String), String> {
    value
        .split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("must be NAME=VALUE, got {value:?}"))
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

/// How a setting is named to people: `--flag / ERRMAP_FLAG`, read from the
/// flag's own definition (the field `id` of [`Config`]), so each name is
/// written once.
pub fn setting(id: &str) -> String {
    let command = Config::command();
    let Some(arg) = command.get_arguments().find(|a| a.get_id() == id) else {
        return id.to_owned();
    };
    let flag = arg.get_long().map(|long| format!("--{long}"));
    let env = arg.get_env().map(|env| env.to_string_lossy().into_owned());
    match (flag, env) {
        (Some(flag), Some(env)) => format!("{flag} / {env}"),
        (Some(name), None) | (None, Some(name)) => name,
        (None, None) => id.to_owned(),
    }
}

impl Config {
    /// The hard limits of the API listener.
    pub fn limits(&self) -> crate::server::Limits {
        crate::server::Limits {
            max_message_bytes: self.max_message_size,
            max_concurrent_streams: self.max_concurrent_streams,
            call_timeout: *self.call_timeout,
            keepalive_interval: *self.keepalive_interval,
            keepalive_timeout: *self.keepalive_timeout,
            max_connections: self.max_connections,
            admin_max_connections: self.admin_max_connections,
            handshake_timeout: *self.handshake_timeout,
        }
    }

    /// The settings of the ext_proc face.
    pub fn ext_proc(&self) -> ext_proc::Settings {
        ext_proc::Settings {
            directions: self.ext_proc_translate,
            max_body: self.ext_proc_max_body,
        }
    }

    /// The settings of the API service.
    pub fn service_options(&self) -> service::Options {
        service::Options {
            max_batch: self.max_batch,
            default_locale: self.default_locale,
            error_domain: self.error_domain.clone(),
            prepare_answers: !self.no_prepared_answers,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_named_from_their_definitions() {
        assert_eq!(setting("listen"), "--listen / ERRMAP_LISTEN");
        assert_eq!(
            setting("worker_threads"),
            "--worker-threads / ERRMAP_WORKER_THREADS"
        );
        assert_eq!(setting("no_such_setting"), "no_such_setting");
    }

    #[test]
    fn durations_default_to_the_owners_values() {
        let config = Config::try_parse_from(["errmap"]).expect("defaults parse");
        assert_eq!(config.limits().call_timeout, DEFAULT_CALL_TIMEOUT);
        assert_eq!(config.limits().handshake_timeout, DEFAULT_HANDSHAKE_TIMEOUT);
        assert_eq!(*config.shutdown_grace, DEFAULT_SHUTDOWN_GRACE);
        assert_eq!(*config.catalog_poll, DEFAULT_POLL);
        assert_eq!(config.default_locale, DEFAULT_LOCALE);
        assert_eq!(config.ext_proc_listen, Endpoint::Off);
        assert_eq!(config.ext_proc(), ext_proc::Settings::default());
    }

    #[test]
    fn the_ext_proc_listener_is_off_unless_asked_and_on_loopback() {
        let parse = |value: &str| {
            Config::try_parse_from(["errmap", "--ext-proc-listen", value])
                .map(|c| c.ext_proc_listen)
                .map_err(|e| e.to_string())
        };
        let on = EXT_PROC_ON_ADDR.parse().expect("an address");
        assert_eq!(parse("on"), Ok(Endpoint::At(on)));
        assert_eq!(
            parse("9000"),
            Ok(Endpoint::At("127.0.0.1:9000".parse().expect("an address")))
        );
        assert_eq!(
            parse("0.0.0.0:50052"),
            Ok(Endpoint::At("0.0.0.0:50052".parse().expect("an address")))
        );
        assert_eq!(parse("off"), Ok(Endpoint::Off));
        let err = parse("somewhere").expect_err("refused");
        assert!(err.contains("ext-proc-listen"), "{err}");
        let err = Config::try_parse_from(["errmap", "--ext-proc-translate", "sideways"])
            .expect_err("refused")
            .to_string();
        assert!(err.contains("grpc-details"), "{err}");
    }
}
