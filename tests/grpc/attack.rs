//! Attacks from the pod network, each bounded to a few seconds: stream
//! reset storms, silent, slowloris and handshaken-silent sockets, on every
//! listener; and saturation reported as it is. The frame-level ones speak
//! raw HTTP/2 over a plain socket.

use crate::frames::{
    frame, goaway_code, next_frame, request_block, END_HEADERS, ENHANCE_YOUR_CALM, GOAWAY, HEADERS,
    PING, PREFACE, RST_STREAM, SETTINGS, WINDOW_UPDATE,
};
use crate::support::{http_get, TestServer};
use errmap::pb::errmap::v1::GetErrorRequest;
use errmap::server::accept::MAX_LOCAL_RESETS;
use errmap::server::{Limits, ServerConfig};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

/// Opens `streams` streams and overflows each one's flow-control window
/// (WINDOW_UPDATE past 2^31-1), which the server must answer with a reset
/// of its own. Returns the resets received and the GOAWAY error code, if
/// one came before the connection closed.
async fn reset_storm(addr: SocketAddr, streams: u32) -> (usize, Option<u32>) {
    let socket = TcpStream::connect(addr).await.expect("connect");
    let (mut reader, mut writer) = socket.into_split();
    let block = request_block("/errmap.v1.ErrorMapService/GetError");
    let writing = tokio::spawn(async move {
        let mut out = PREFACE.to_vec();
        out.extend(frame(SETTINGS, 0, 0, &[]));
        if writer.write_all(&out).await.is_err() {
            return;
        }
        for chunk in (0..streams).collect::<Vec<_>>().chunks(64) {
            let mut out = Vec::new();
            for &i in chunk {
                let id = 2 * i + 1;
                out.extend(frame(HEADERS, END_HEADERS, id, &block));
                out.extend(frame(WINDOW_UPDATE, 0, id, &0x7fff_ffffu32.to_be_bytes()));
            }
            // The server closes the connection once it has had enough.
            if writer.write_all(&out).await.is_err() {
                return;
            }
        }
    });
    let mut resets = 0;
    let mut goaway = None;
    let reading = async {
        while let Some((kind, payload)) = next_frame(&mut reader).await {
            match kind {
                RST_STREAM => resets += 1,
                GOAWAY => {
                    goaway = goaway_code(&payload);
                    break;
                }
                _ => {}
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(30), reading).await;
    writing.abort();
    (resets, goaway)
}

#[tokio::test]
async fn a_reset_storm_ends_in_goaway_on_every_listener() {
    let server = TestServer::start().await;
    let streams = u32::try_from(MAX_LOCAL_RESETS * 3).expect("small");
    for (name, addr) in [
        ("api", server.grpc_addr),
        ("admin", server.admin_addr),
        ("http", server.http_addr),
        ("ext_proc", server.ext_proc_addr),
    ] {
        let (resets, goaway) = reset_storm(addr, streams).await;
        assert_eq!(
            goaway,
            Some(ENHANCE_YOUR_CALM),
            "{name}: GOAWAY after {resets} resets"
        );
        assert!(
            resets <= MAX_LOCAL_RESETS,
            "{name}: {resets} resets before the GOAWAY"
        );
    }
    // The storms hurt no one else.
    still_serves(&server).await;
    server.stop().await;
}

const TIMEOUT: Duration = Duration::from_millis(800);
const CAP: usize = 4;

fn small_server() -> ServerConfig {
    ServerConfig {
        limits: Limits {
            max_connections: CAP,
            admin_max_connections: CAP,
            handshake_timeout: TIMEOUT,
            ..Default::default()
        },
        shutdown_grace: Duration::from_secs(2),
        ..Default::default()
    }
}

/// Whether the server closes the socket within `within`.
async fn closed_within(socket: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let reading = async {
        loop {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(within, reading).await.is_ok()
}

/// A socket that sends `bytes`, one every 200 ms, for as long as it lives.
fn slowloris(addr: SocketAddr, bytes: &'static [u8]) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let Ok(mut socket) = TcpStream::connect(addr).await else {
            return;
        };
        for &byte in bytes.iter().cycle() {
            if socket.write_all(&[byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
}

#[tokio::test]
async fn silent_and_slowloris_sockets_are_closed_after_the_handshake_timeout() {
    let server = TestServer::start_with(small_server()).await;
    for addr in [
        server.grpc_addr,
        server.admin_addr,
        server.http_addr,
        server.ext_proc_addr,
    ] {
        let mut silent = TcpStream::connect(addr).await.expect("connect");
        assert!(
            closed_within(&mut silent, TIMEOUT + Duration::from_secs(1)).await,
            "{addr}: a silent socket is closed"
        );
        for greeting in [PREFACE, b"GET /readyz HTTP/1.1\r\nHost: x\r\n"] {
            let mut socket = TcpStream::connect(addr).await.expect("connect");
            let started = Instant::now();
            let trickle = async {
                for &byte in greeting {
                    if socket.write_all(&[byte]).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                let _ = closed_within(&mut socket, Duration::from_secs(5)).await;
            };
            let _ = tokio::time::timeout(Duration::from_secs(5), trickle).await;
            assert!(
                started.elapsed() < TIMEOUT + Duration::from_secs(1),
                "{addr}: a slowloris socket is closed at the timeout, not after {:?}",
                started.elapsed()
            );
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn twice_the_cap_of_idle_sockets_does_not_keep_a_real_client_out() {
    let server = TestServer::start_with(small_server()).await;
    let mut held = Vec::new();
    for addr in [server.grpc_addr, server.admin_addr, server.http_addr] {
        for _ in 0..CAP {
            held.push(slowloris(addr, PREFACE));
            held.push(slowloris(addr, b"\0"));
        }
        // Handshaken, then silent: preface and SETTINGS, then nothing.
        for _ in 0..2 * CAP {
            let mut socket = TcpStream::connect(addr).await.expect("connect");
            let mut hello = PREFACE.to_vec();
            hello.extend(frame(SETTINGS, 0, 0, &[]));
            socket.write_all(&hello).await.expect("preface");
            held.push(tokio::spawn(async move {
                let _ = closed_within(&mut socket, Duration::from_secs(60)).await;
            }));
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", server.grpc_addr))
        .expect("uri")
        .connect()
        .await
        .expect("a real client connects");
    let mut client =
        errmap::pb::errmap::v1::error_map_service_client::ErrorMapServiceClient::new(channel);
    client
        .get_error(GetErrorRequest {
            code: "UNAVAILABLE".into(),
            http_status: None,
        })
        .await
        .expect("a real client's call succeeds");
    let ready = http_get(server.admin_addr, "/readyz").await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    let listed = http_get(server.http_addr, "/v1/errors?page_size=1").await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert!(
        started.elapsed() < TIMEOUT + Duration::from_secs(1),
        "served after {:?}",
        started.elapsed()
    );
    let metrics = http_get(server.admin_addr, "/metrics").await.body;
    for listener in ["api", "admin", "http"] {
        let evicted = format!(
            "errmap_connections_closed_total{{listener=\"{listener}\",reason=\"evicted_idle\"}} "
        );
        let count: u64 = metrics
            .lines()
            .find_map(|line| line.strip_prefix(&evicted))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("{evicted} in:\n{metrics}"));
        assert!(count > 0, "{listener}: idle connections made room");
    }
    for task in held {
        task.abort();
    }
    server.stop().await;
}

#[tokio::test]
async fn a_saturated_api_is_unready_and_says_why() {
    let server = TestServer::start_with(small_server()).await;
    // Every place taken by a connection with a call in progress: a health
    // watch, which stays open.
    let mut watches = Vec::new();
    for _ in 0..CAP {
        let channel =
            tonic::transport::Channel::from_shared(format!("http://{}", server.grpc_addr))
                .expect("uri")
                .connect()
                .await
                .expect("connect");
        let mut health = HealthClient::new(channel);
        let stream = health
            .watch(HealthCheckRequest::default())
            .await
            .expect("watch")
            .into_inner();
        watches.push((health, stream));
    }
    let ready = http_get(server.admin_addr, "/readyz").await;
    assert_eq!(ready.status, 503, "{}", ready.body);
    assert!(ready.body.contains("saturated"), "{}", ready.body);
    assert!(ready.body.contains(&CAP.to_string()), "{}", ready.body);
    let admin = server.admin_channel().await;
    let mut health = HealthClient::new(admin);
    let mut status = 0;
    for _ in 0..30 {
        status = health
            .check(HealthCheckRequest::default())
            .await
            .expect("health answers")
            .into_inner()
            .status;
        if status == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 2, "NOT_SERVING while saturated");
    watches.pop();
    let mut ready = http_get(server.admin_addr, "/readyz").await;
    for _ in 0..30 {
        if ready.status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        ready = http_get(server.admin_addr, "/readyz").await;
    }
    assert_eq!(ready.status, 200, "ready again: {}", ready.body);
    drop(watches);
    server.stop().await;
}

const RST_CANCEL: u32 = 0x8;
const CONTINUATION: u8 = 0x9;

/// Writes `frames` on a fresh HTTP/2 connection (after the preface), and
/// reads until the server sends GOAWAY or closes, for `within` at most.
/// Returns the GOAWAY's error code, or `None` if the connection was closed
/// without one, or stayed open.
async fn flood(addr: SocketAddr, frames: Vec<u8>, within: Duration) -> (Option<u32>, bool) {
    let socket = TcpStream::connect(addr).await.expect("connect");
    let (mut reader, mut writer) = socket.into_split();
    let writing = tokio::spawn(async move {
        let mut out = PREFACE.to_vec();
        out.extend(frame(SETTINGS, 0, 0, &[]));
        out.extend(frames);
        for chunk in out.chunks(16 * 1024) {
            if writer.write_all(chunk).await.is_err() {
                return;
            }
        }
        // Held open until the test is done with it.
        tokio::time::sleep(Duration::from_secs(60)).await;
    });
    let reading = async {
        while let Some((kind, payload)) = next_frame(&mut reader).await {
            if kind == GOAWAY {
                return goaway_code(&payload);
            }
        }
        None
    };
    let outcome = tokio::time::timeout(within, reading).await;
    writing.abort();
    match outcome {
        Ok(goaway) => (goaway, true),
        Err(_) => (None, false),
    }
}

async fn still_serves(server: &TestServer) {
    let mut client = server.client();
    client
        .get_error(GetErrorRequest {
            code: "UNAVAILABLE".into(),
            http_status: None,
        })
        .await
        .expect("the server still answers");
}

#[tokio::test]
async fn rapid_reset_ends_in_goaway() {
    let server = TestServer::start().await;
    let block = request_block("/errmap.v1.ErrorMapService/GetError");
    let mut frames = Vec::new();
    for i in 0..2000u32 {
        let id = 2 * i + 1;
        frames.extend(frame(HEADERS, END_HEADERS, id, &block));
        frames.extend(frame(RST_STREAM, 0, id, &RST_CANCEL.to_be_bytes()));
    }
    let (goaway, ended) = flood(server.grpc_addr, frames, Duration::from_secs(20)).await;
    assert!(ended, "the connection is ended");
    assert_eq!(goaway, Some(ENHANCE_YOUR_CALM));
    still_serves(&server).await;
    server.stop().await;
}

#[tokio::test]
async fn a_continuation_flood_is_cut_off() {
    let server = TestServer::start().await;
    let mut block = request_block("/errmap.v1.ErrorMapService/GetError");
    // HEADERS without END_HEADERS, then a megabyte of CONTINUATION frames,
    // each with header fields that never end the block.
    let mut frames = frame(HEADERS, 0, 1, &block);
    block.clear();
    for _ in 0..64 {
        block.extend_from_slice(&[0x00, 0x01, b'x', 0x0e]);
        block.extend_from_slice(b"aaaaaaaaaaaaaa");
    }
    for _ in 0..1000 {
        frames.extend(frame(CONTINUATION, 0, 1, &block));
    }
    let (_, ended) = flood(server.grpc_addr, frames, Duration::from_secs(20)).await;
    assert!(ended, "the server ends the connection");
    still_serves(&server).await;
    server.stop().await;
}

#[tokio::test]
async fn a_ping_flood_does_not_keep_others_waiting() {
    let server = TestServer::start().await;
    let mut frames = Vec::new();
    for i in 0..100_000u64 {
        frames.extend(frame(PING, 0, 0, &i.to_be_bytes()));
    }
    let flooding = {
        let addr = server.grpc_addr;
        tokio::spawn(async move { flood(addr, frames, Duration::from_secs(3)).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    still_serves(&server).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "served in {:?} during the flood",
        started.elapsed()
    );
    let _ = flooding.await;
    still_serves(&server).await;
    server.stop().await;
}

/// A server may answer a call before its request has ended: a method it
/// lacks (a client newer than the server), a message over the limit, an
/// HTTP path it does not serve. The request's end can still be on its way,
/// and comes in a later read when the peer is busy. errmap reads such a
/// request to its end after answering, so the end finds the stream open:
/// no reset either way and no GOAWAY ([`late_ends`] says what otherwise
/// follows), on every listener.
#[tokio::test]
async fn ends_that_come_after_an_early_answer_cost_no_reset_and_no_goaway() {
    use crate::frames::{grpc_message, late_ends, ROUND, ROUNDS};

    let server = TestServer::start().await;
    let over_the_limit = {
        // Only the prefix, announcing one byte more than a message may have.
        let mut prefix = vec![0];
        let len = u32::try_from(errmap::server::DEFAULT_MAX_MESSAGE_SIZE + 1).expect("u32");
        prefix.extend(len.to_be_bytes());
        prefix
    };
    let calls = [
        (
            "a method errmap lacks",
            server.grpc_addr,
            "/errmap.v1.ErrorMapService/NoSuchMethod",
            grpc_message(&[]),
        ),
        (
            "a message over the limit",
            server.grpc_addr,
            "/errmap.v1.ErrorMapService/GetError",
            over_the_limit,
        ),
        (
            "a path the HTTP listener does not serve",
            server.http_addr,
            "/no/such/path",
            b"{}".to_vec(),
        ),
    ];
    for (what, addr, path, message) in calls {
        let seen = late_ends(addr, path, &message).await;
        assert_eq!(seen.ended, ROUNDS * ROUND, "{what}: every stream answered");
        assert_eq!(seen.resets, 0, "{what}: no stream reset by errmap");
    }
    still_serves(&server).await;
    server.stop().await;
}

/// The hold after an early answer is bounded: a request that never ends
/// is let go (its stream reset) once a call's time has passed, so a peer
/// cannot keep streams open by never ending them.
#[tokio::test]
async fn a_request_never_ended_after_an_early_answer_is_let_go_after_a_calls_time() {
    use crate::frames::{grpc_message, next_after_settings, DATA, END_STREAM};

    const CALL_TIMEOUT: Duration = Duration::from_millis(800);
    let server = TestServer::start_with(ServerConfig {
        limits: Limits {
            call_timeout: CALL_TIMEOUT,
            ..Default::default()
        },
        shutdown_grace: Duration::from_secs(5),
        ..Default::default()
    })
    .await;
    let socket = TcpStream::connect(server.grpc_addr).await.expect("connect");
    let (mut reader, mut writer) = socket.into_split();
    let mut out = PREFACE.to_vec();
    out.extend(frame(SETTINGS, 0, 0, &[]));
    let block = request_block("/errmap.v1.ErrorMapService/NoSuchMethod");
    out.extend(frame(HEADERS, END_HEADERS, 1, &block));
    out.extend(frame(DATA, 0, 1, &grpc_message(&[])));
    writer.write_all(&out).await.expect("write");

    let mut answered = None;
    let reset = loop {
        let f = next_after_settings(&mut reader, &mut writer).await;
        match f.kind {
            HEADERS if f.flags & END_STREAM != 0 => answered = Some(Instant::now()),
            RST_STREAM => break Instant::now(),
            GOAWAY => panic!("GOAWAY (code {:?})", goaway_code(&f.payload)),
            _ => {}
        }
    };
    let answered = answered.expect("answered before the reset");
    let held = reset - answered;
    assert!(
        held >= CALL_TIMEOUT / 2,
        "the request side was held after the answer, not reset at once ({held:?})"
    );
    assert!(
        held < CALL_TIMEOUT * 4,
        "the request side was let go after about a call's time ({held:?})"
    );
    drop((reader, writer));
    still_serves(&server).await;
    server.stop().await;
}
