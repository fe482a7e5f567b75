//! The `errmap` binary as operators run it: flags, environment, exit codes,
//! and a clean exit on SIGTERM.

use errmap::pb::errmap::v1::error_map_service_client::ErrorMapServiceClient;
use errmap::pb::errmap::v1::ResolveGatewayErrorRequest;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

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

/// Starts the binary on a free port and returns it with the address it
/// logged.
async fn start(extra: &[&str]) -> (Child, String) {
    let mut child = errmap()
        .args(["--listen", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn errmap");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let addr = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(line) = lines.next_line().await.expect("read log") {
            if let Some(rest) = line.split("errmap listening on ").nth(1) {
                return rest
                    .split_whitespace()
                    .next()
                    .expect("an address")
                    .to_owned();
            }
        }
        panic!("errmap exited before listening");
    })
    .await
    .expect("errmap starts listening");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, addr)
}

async fn terminate(child: &Child) {
    let pid = child.id().expect("running").to_string();
    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .expect("run kill");
    assert!(status.success());
}

#[tokio::test]
async fn sigterm_exits_zero_within_the_grace_period() {
    let (mut child, addr) = start(&["--shutdown-grace", "2s"]).await;
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
    terminate(&child).await;
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("exits within the grace period plus margin")
        .expect("wait");
    assert_eq!(status.code(), Some(0));
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
        "127.0.0.1:50051",
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
    ] {
        let output = errmap().env(env, value).output().await.expect("run errmap");
        assert_eq!(output.status.code(), Some(64), "{env}={value}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(named), "{env}={value}: {stderr}");
    }
    let output = errmap()
        .args(["--max-batch", "20000"])
        .output()
        .await
        .expect("run errmap");
    assert_eq!(output.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&output.stderr).contains("between 1 and 10000"));
}

#[tokio::test]
async fn a_busy_port_is_a_clear_start_up_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let output = errmap()
        .args(["--listen", &addr])
        .output()
        .await
        .expect("run errmap");
    assert_eq!(output.status.code(), Some(1));
    let log = String::from_utf8_lossy(&output.stdout);
    assert!(
        log.contains("cannot listen on") && log.contains(&addr),
        "{log}"
    );
}
