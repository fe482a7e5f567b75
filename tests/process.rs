//! The `errmap` binary as operators run it: flags, environment, exit codes,
//! and a clean exit on SIGTERM.

// A test or a benchmark fails loudly, and its helpers are its own.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use errmap::pb::errmap::v1::error_map_service_client::ErrorMapServiceClient;
use errmap::pb::errmap::v1::ResolveGatewayErrorRequest;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::rt::TokioExecutor;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

fn errmap() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_errmap"));
    command.kill_on_drop(true).env_remove("RUST_LOG");
    for (key, _) in std::env::vars() {
        if key.starts_with("ERRMAP_") {
            command.env_remove(key);
        }
    }
    command
}

/// The running binary and its log so far.
struct Errmap {
    /// The gRPC API's address.
    grpc: String,
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    log: Vec<String>,
}

impl Errmap {
    /// Starts the binary with every listener on a free loopback port,
    /// unless `extra` sets that listener itself.
    async fn start(extra: &[&str]) -> Self {
        let mut command = errmap();
        for flag in ["--listen", "--admin-listen", "--http-listen"] {
            if !extra.contains(&flag) {
                command.args([flag, "127.0.0.1:0"]);
            }
        }
        let mut child = command
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn errmap");
        let stdout = child.stdout.take().expect("stdout");
        let mut errmap = Self {
            grpc: String::new(),
            child,
            lines: BufReader::new(stdout).lines(),
            log: Vec::new(),
        };
        errmap.grpc = errmap.address("errmap listening on ").await;
        errmap
    }

    /// The address logged right after `marker`, reading the log on until
    /// it appears.
    async fn address(&mut self, marker: &str) -> String {
        let found = tokio::time::timeout(Duration::from_secs(20), async {
            while let Some(line) = self.lines.next_line().await.expect("read log") {
                self.log.push(line.clone());
                if let Some(rest) = line.split(marker).nth(1) {
                    return rest
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || ".:[]".contains(*c))
                        .collect::<String>();
                }
            }
            panic!("errmap exited before logging {marker:?}: {:?}", self.log);
        })
        .await
        .expect("errmap logs the address");
        assert!(!found.is_empty(), "{marker:?} names an address");
        found
    }

    /// Sends SIGTERM and waits for the exit, reading the rest of the log.
    async fn terminate(mut self) -> (ExitStatus, Vec<String>) {
        let pid = self.child.id().expect("running").to_string();
        let status = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .expect("run kill");
        assert!(status.success());
        tokio::time::timeout(Duration::from_secs(10), async {
            while let Some(line) = self.lines.next_line().await.expect("read log") {
                self.log.push(line);
            }
            let status = self.child.wait().await.expect("wait");
            (status, self.log)
        })
        .await
        .expect("exits within the grace period plus margin")
    }
}

/// One HTTP/1.1 GET over a fresh connection: the status and the body.
async fn http_get(addr: &str, path: &str) -> (u16, String) {
    let client = HttpClient::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let uri = format!("http://{addr}{path}").parse().expect("a URI");
    let response = client.get(uri).await.expect("an HTTP answer");
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("the body")
        .to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn sigterm_exits_zero_within_the_grace_period() {
    let mut errmap = Errmap::start(&["--shutdown-grace", "2s"]).await;
    let addr = errmap.grpc.clone();
    let admin = errmap.address("admin listening on ").await;
    let http = errmap.address("http listening on ").await;
    let mut client = ErrorMapServiceClient::connect(format!("http://{addr}"))
        .await
        .expect("connect");
    let answer = client
        .resolve_gateway_error(ResolveGatewayErrorRequest {
            code: "APIGW_NONCE_CONFLICT".into(),
            http_status: Some(403),
            ..Default::default()
        })
        .await
        .expect("serves before the signal");
    assert_eq!(
        answer
            .into_inner()
            .resolution
            .expect("resolution")
            .http_status,
        403
    );
    assert_eq!(http_get(&admin, "/readyz").await.0, 200);
    let (status, body) = http_get(&http, "/v1/errors/APIGW_NONCE_CONFLICT").await;
    assert_eq!(status, 200);
    assert!(body.contains("\"httpStatus\":403"), "{body}");
    drop(client);

    let (status, _) = errmap.terminate().await;
    assert_eq!(status.code(), Some(0));
}

/// The runtime line of the start-up log.
async fn runtime_line(errmap: &mut Errmap) -> String {
    errmap.address("runtime: ").await;
    errmap
        .log
        .iter()
        .find(|line| line.contains("runtime: "))
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn worker_threads_choose_the_runtime() {
    let mut one = Errmap::start(&["--worker-threads", "1"]).await;
    assert!(runtime_line(&mut one)
        .await
        .contains("runtime: current-thread"));
    assert_eq!(one.terminate().await.0.code(), Some(0));
    let mut three = Errmap::start(&["--worker-threads", "3"]).await;
    assert!(runtime_line(&mut three)
        .await
        .contains("runtime: multi-thread, 3 workers"));
    assert_eq!(three.terminate().await.0.code(), Some(0));
}

/// Without the flag, errmap runs on as many threads as it may use CPUs:
/// pinned to one CPU, it picks the one-thread runtime.
#[tokio::test]
async fn by_default_the_runtime_fits_the_cpus_errmap_may_use() {
    let mut child = Command::new("taskset")
        .args(["-c", "0", env!("CARGO_BIN_EXE_errmap")])
        .args([
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "off",
            "--http-listen",
            "off",
        ])
        .env_remove("ERRMAP_WORKER_THREADS")
        .kill_on_drop(true)
        .stdout(Stdio::piped())
        .spawn()
        .expect("taskset (util-linux) runs errmap");
    let stdout = child.stdout.take().expect("stdout");
    let mut errmap = Errmap {
        grpc: String::new(),
        child,
        lines: BufReader::new(stdout).lines(),
        log: Vec::new(),
    };
    assert!(runtime_line(&mut errmap)
        .await
        .contains("runtime: current-thread"));
    assert_eq!(errmap.terminate().await.0.code(), Some(0));
}

#[tokio::test]
async fn json_logs_are_one_object_a_line() {
    let mut errmap = Errmap::start(&["--log-format", "json"]).await;
    errmap.address("http listening on ").await;
    let (status, log) = errmap.terminate().await;
    assert_eq!(status.code(), Some(0));
    let records: Vec<serde_json::Value> = log
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let first = &records[0];
    assert_eq!(first["level"], "INFO");
    assert_eq!(first["entries"], 82);
    assert!(
        first["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("errmap listening on 127.0.0.1:")),
        "{first}"
    );
    assert!(records.iter().any(|r| r["message"] == "received SIGTERM"));
}

#[tokio::test]
async fn off_disables_the_admin_and_http_listeners() {
    let errmap = Errmap::start(&["--admin-listen", "off", "--http-listen", ""]).await;
    let (status, log) = errmap.terminate().await;
    assert_eq!(status.code(), Some(0));
    assert!(log[0].contains("errmap listening on"));
    assert!(
        !log.iter()
            .any(|l| l.contains("admin listening") || l.contains("http listening")),
        "{log:?}"
    );
}

#[tokio::test]
async fn help_explains_every_option() {
    let output = errmap().arg("--help").output().await.expect("run --help");
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for option in [
        "--listen",
        "ERRMAP_LISTEN",
        "--shutdown-grace",
        "ERRMAP_SHUTDOWN_GRACE",
        "--max-batch",
        "ERRMAP_MAX_BATCH",
        "--log",
        "ERRMAP_LOG",
        "--log-format",
        "ERRMAP_LOG_FORMAT",
        "--admin-listen",
        "ERRMAP_ADMIN_LISTEN",
        "--http-listen",
        "ERRMAP_HTTP_LISTEN",
        "127.0.0.1:50051",
        "127.0.0.1:9090",
        "127.0.0.1:8080",
    ] {
        assert!(help.contains(option), "--help lacks {option}:\n{help}");
    }
}

#[tokio::test]
async fn bad_settings_exit_64_naming_the_setting() {
    for (env, value, named) in [
        ("ERRMAP_MAX_BATCH", "0", "--max-batch"),
        ("ERRMAP_LISTEN", "not-an-address", "--listen"),
        ("ERRMAP_SHUTDOWN_GRACE", "soon", "--shutdown-grace"),
        ("ERRMAP_ADMIN_LISTEN", "everywhere", "--admin-listen"),
        ("ERRMAP_HTTP_LISTEN", "localhost", "--http-listen"),
        ("ERRMAP_LOG_FORMAT", "xml", "--log-format"),
        ("ERRMAP_LOG", "errmap=loud", "--log"),
        ("ERRMAP_WORKER_THREADS", "0", "--worker-threads"),
        ("ERRMAP_WORKER_THREADS", "many", "--worker-threads"),
    ] {
        let output = errmap().env(env, value).output().await.expect("run errmap");
        assert_eq!(output.status.code(), Some(64), "{env}={value}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(named), "{env}={value}: {stderr}");
    }
    let output = errmap()
        .args(["--max-batch", "1001"])
        .output()
        .await
        .expect("run errmap");
    assert_eq!(output.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&output.stderr).contains("between 1 and 1000"));
}

#[tokio::test]
async fn a_busy_port_is_a_clear_start_up_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    for (args, named) in [
        (vec!["--listen", &addr], "--listen"),
        (
            vec!["--listen", "127.0.0.1:0", "--admin-listen", &addr],
            "--admin-listen",
        ),
        (
            vec![
                "--listen",
                "127.0.0.1:0",
                "--admin-listen",
                "off",
                "--http-listen",
                &addr,
            ],
            "--http-listen",
        ),
    ] {
        let output = errmap().args(&args).output().await.expect("run errmap");
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        let log = String::from_utf8_lossy(&output.stdout);
        assert!(
            log.contains("cannot listen on") && log.contains(&addr) && log.contains(named),
            "{args:?}: {log}"
        );
    }
}

fn write_temp(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new()
        .suffix(".textproto")
        .tempfile()
        .expect("temp file");
    std::io::Write::write_all(&mut file, text.as_bytes()).expect("write");
    file
}

#[tokio::test]
async fn catalog_check_reports_every_problem_with_its_place() {
    let good = write_temp(
        "entries {\n  code: \"MY_CODE\"\n  http_status: 418\n  table: TABLE_CONSOLE\n  \
         grpc_code: FAILED_PRECONDITION\n  message: \"茶壶\"\n  message_en: \"Teapot\"\n}\n",
    );
    let output = errmap()
        .args(["catalog", "check"])
        .arg(good.path())
        .output()
        .await
        .expect("run");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("ok (83 entries in effect"));

    let bad = write_temp(
        "# two problems in the second entry\nentries {\n  code: \"A\"\n  http_status: 400\n  \
         table: TABLE_SDK\n  grpc_code: OK\n  message: \"m\"\n  message_en: \"m\"\n}\n\
         entries {\n  code: \"B\"\n  http_status: 700\n  table: TABLE_SDK\n  grpc_code: 42\n  \
         message: \"资源 resource\"\n  message_en: \"Object resource\"\n}\n",
    );
    let output = errmap()
        .args(["catalog", "check"])
        .arg(bad.path())
        .output()
        .await
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    let report = String::from_utf8_lossy(&output.stdout);
    let place = format!("{}:10:1: \"B\"", bad.path().display());
    for rule in [
        "[status-out-of-range]",
        "[unknown-grpc-code]",
        "[undeclared-placeholder]",
    ] {
        assert!(
            report
                .lines()
                .any(|l| l.starts_with(&place) && l.ends_with(rule)),
            "{rule} at {place}:\n{report}"
        );
    }
    assert!(report.contains("4 problem(s)"), "{report}");

    let syntax = write_temp("entries {\n  code: \"A\"\n  http_status: 4OO\n}\n");
    let output = errmap()
        .args(["catalog", "check"])
        .arg(syntax.path())
        .output()
        .await
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        report.starts_with(&format!("{}:3:16: ", syntax.path().display())),
        "{report}"
    );
}

#[tokio::test]
async fn catalog_export_prints_the_effective_catalog() {
    let output = errmap()
        .args(["catalog", "export", "--format", "json"])
        .output()
        .await
        .expect("run");
    assert!(output.status.success());
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let entries = json["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 82);
    assert_eq!(entries[1]["code"], "APIGW_KEY_NOT_EXITST");
    assert_eq!(entries[1]["grpcCode"], "UNAUTHENTICATED");

    let extra = write_temp(
        "entries {\n  code: \"MY_CODE\"\n  http_status: 418\n  table: TABLE_CONSOLE\n  \
         grpc_code: FAILED_PRECONDITION\n  message: \"茶壶\"\n  message_en: \"Teapot\"\n}\n",
    );
    let output = errmap()
        .args(["catalog", "export", "--format", "markdown", "--catalog"])
        .arg(extra.path())
        .output()
        .await
        .expect("run");
    assert!(output.status.success());
    let table = String::from_utf8_lossy(&output.stdout);
    assert_eq!(table.lines().count(), 2 + 83);
    assert!(table
        .lines()
        .last()
        .is_some_and(|l| l.starts_with("| `MY_CODE` | 418 |")));
}

#[tokio::test]
async fn resolve_answers_one_query_without_a_server() {
    let output = errmap()
        .args([
            "resolve",
            "gateway",
            "--code",
            " http_forbidden ",
            "--param",
            "resource=vpc-1",
        ])
        .args(["--param", "permission=write", "--locale", "en-US"])
        .output()
        .await
        .expect("run");
    assert!(output.status.success(), "{output:?}");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(json["grpcCode"], "PERMISSION_DENIED");
    assert_eq!(json["message"], "No write access to vpc-1");

    let output = errmap()
        .args([
            "resolve",
            "grpc",
            "--code",
            "resource_exhausted",
            "--reason",
            "RATE_LIMIT_EXCEEDED",
        ])
        .output()
        .await
        .expect("run");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(json["entry"]["code"], "RATE_LIMIT_EXCEEDED");
    assert_eq!(json["httpStatus"], 429);

    let output = errmap()
        .args(["resolve", "gateway", "--code", "NO_SUCH_CODE"])
        .output()
        .await
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("NotFound"));
}

#[tokio::test]
async fn a_bad_catalog_file_stops_start_up() {
    let bad = write_temp("entries { code: \"A\" }\n");
    let output = errmap()
        .args(["--listen", "127.0.0.1:0", "--catalog"])
        .arg(bad.path())
        .output()
        .await
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    let log = String::from_utf8_lossy(&output.stdout);
    assert!(
        log.contains("no catalog to serve") && log.contains("unknown-table"),
        "{log}"
    );
}

#[tokio::test]
async fn a_flood_of_unknown_codes_is_counted_not_logged_line_by_line() {
    let mut errmap = Errmap::start(&[]).await;
    let admin = errmap.address("admin listening on ").await;
    let mut client = ErrorMapServiceClient::connect(format!("http://{}", errmap.grpc))
        .await
        .expect("connect");
    const CALLS: usize = 300;
    for i in 0..CALLS {
        let status = client
            .resolve_gateway_error(ResolveGatewayErrorRequest {
                code: format!("APIGW_NO_SUCH_CODE_{i}"),
                ..Default::default()
            })
            .await
            .expect_err("an unknown code");
        assert_eq!(status.code(), tonic::Code::NotFound);
    }
    let (_, metrics) = http_get(&admin, "/metrics").await;
    let counted = metrics
        .lines()
        .find(|l| {
            l.starts_with("errmap_calls_total{")
                && l.contains("method=\"ResolveGatewayError\"")
                && l.contains("code=\"NOT_FOUND\"")
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse::<usize>().ok());
    assert_eq!(counted, Some(CALLS), "every failure is counted:\n{metrics}");
    let (status, log) = errmap.terminate().await;
    assert_eq!(status.code(), Some(0));
    let warned = log.iter().filter(|l| l.contains("call failed")).count();
    assert_eq!(warned, 1, "one warning for {CALLS} failures: {log:?}");
}

#[tokio::test]
async fn the_code_may_be_given_positionally() {
    for (command, code) in [("gateway", "APIGW_NONCE_CONFLICT"), ("grpc", "UNAVAILABLE")] {
        let positional = errmap()
            .args(["resolve", command, code])
            .output()
            .await
            .expect("run");
        let flagged = errmap()
            .args(["resolve", command, "--code", code])
            .output()
            .await
            .expect("run");
        assert!(positional.status.success(), "{positional:?}");
        assert!(flagged.status.success(), "{flagged:?}");
        let json = |out: &[u8]| serde_json::from_slice::<serde_json::Value>(out).expect("JSON");
        assert_eq!(
            json(&positional.stdout),
            json(&flagged.stdout),
            "{command} {code}"
        );
    }
    let output = errmap()
        .args(["resolve", "grpc"])
        .output()
        .await
        .expect("run");
    assert_eq!(output.status.code(), Some(64), "a code is required");
}

#[tokio::test]
async fn a_closed_pipe_ends_a_command_quietly() {
    for args in [
        &["resolve", "gateway", "--code", "APIGW_NONCE_CONFLICT"][..],
        &["catalog", "export"][..],
        &["catalog", "export", "--format", "json"][..],
    ] {
        let mut child = errmap()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        // The reader goes away before errmap writes a byte.
        drop(child.stdout.take());
        let output = child.wait_with_output().await.expect("wait");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}
