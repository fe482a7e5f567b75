//! Raw HTTP/2 for the tests that need a peer's every frame in hand: frame
//! building and reading, and a request's header block in HPACK literals.

use tokio::io::AsyncReadExt;

pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
pub const DATA: u8 = 0x0;
pub const HEADERS: u8 = 0x1;
pub const RST_STREAM: u8 = 0x3;
pub const SETTINGS: u8 = 0x4;
pub const PING: u8 = 0x6;
pub const GOAWAY: u8 = 0x7;
pub const WINDOW_UPDATE: u8 = 0x8;
pub const END_STREAM: u8 = 0x1;
pub const END_HEADERS: u8 = 0x4;
/// SETTINGS' flag: an acknowledgement.
pub const ACK: u8 = 0x1;
pub const ENHANCE_YOUR_CALM: u32 = 0xb;

pub fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).expect("a small frame");
    let mut out = Vec::with_capacity(9 + payload.len());
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// One frame as the server sent it.
pub struct Frame {
    pub kind: u8,
    pub flags: u8,
    pub payload: Vec<u8>,
}

/// The next frame the server sends, whole; `None` once the connection
/// ends.
pub async fn read_frame(reader: &mut (impl tokio::io::AsyncRead + Unpin)) -> Option<Frame> {
    let mut header = [0u8; 9];
    reader.read_exact(&mut header).await.ok()?;
    let len = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
    let mut payload = vec![0u8; len];
    reader.read_exact(&mut payload).await.ok()?;
    Some(Frame {
        kind: header[3],
        flags: header[4],
        payload,
    })
}

/// The next frame the server sends: its type and payload; `None` once the
/// connection ends.
pub async fn next_frame(reader: &mut (impl tokio::io::AsyncRead + Unpin)) -> Option<(u8, Vec<u8>)> {
    read_frame(reader).await.map(|f| (f.kind, f.payload))
}

/// A GOAWAY's error code.
pub fn goaway_code(payload: &[u8]) -> Option<u32> {
    let code: [u8; 4] = payload.get(4..8)?.try_into().ok()?;
    Some(u32::from_be_bytes(code))
}

/// A request's header block in HPACK, with literal fields only.
pub fn request_block(path: &str) -> Vec<u8> {
    let mut block = vec![0x83, 0x86]; // :method POST, :scheme http
    let mut literal = |index: u8, value: &str| {
        block.push(index); // literal without indexing, indexed name (< 15)
        block.push(u8::try_from(value.len()).expect("short value"));
        block.extend_from_slice(value.as_bytes());
    };
    literal(0x04, path); // :path
    literal(0x01, "localhost"); // :authority
    block.extend_from_slice(&[0x0f, 0x10]); // content-type (index 31)
    block.push(16);
    block.extend_from_slice(b"application/grpc");
    block
}

/// The next frame the server sends, but for its SETTINGS, which are
/// acknowledged on `writer`. Panics after 10 s without a frame, and when
/// the connection ends.
pub async fn next_after_settings(
    reader: &mut (impl tokio::io::AsyncRead + Unpin),
    writer: &mut (impl tokio::io::AsyncWrite + Unpin),
) -> Frame {
    use tokio::io::AsyncWriteExt;
    use tokio::time::{timeout, Duration};

    loop {
        let f = timeout(Duration::from_secs(10), read_frame(reader))
            .await
            .expect("a frame within 10 s")
            .expect("the connection stays open");
        if f.kind == SETTINGS && f.flags & ACK == 0 {
            writer
                .write_all(&frame(SETTINGS, ACK, 0, &[]))
                .await
                .expect("write");
            continue;
        }
        return f;
    }
}

/// Streams opened at once in each round of [`late_ends`]: more than h2
/// remembers resets of (50 in the last second), under the listener's cap
/// of concurrent streams.
pub const ROUND: u32 = 200;
/// Rounds of [`late_ends`]: in all, more streams than the resets a server
/// makes on its own before it sends GOAWAY (`MAX_LOCAL_RESETS`).
pub const ROUNDS: u32 = 8;

/// What the server sent over [`late_ends`].
#[derive(Debug, Default)]
pub struct LateEnds {
    /// DATA frames carrying more than an empty message's prefix.
    pub answers: u32,
    /// Streams the server ended (HEADERS or DATA with END_STREAM).
    pub ended: u32,
    /// RST_STREAM frames.
    pub resets: u32,
}

/// Calls `path` on `addr` the way a busy peer does: in [`ROUNDS`] rounds of
/// [`ROUND`] streams, each request's HEADERS and DATA (`message`, not yet
/// ended) go out together; once the server has ended every stream of the
/// round, the requests are ended together (an empty DATA with END_STREAM).
/// A server that answers before a request's end and then drops its request
/// side resets the stream; an end arriving after h2 has forgotten that
/// reset is answered by a reset of h2's own making, and after
/// `MAX_LOCAL_RESETS` of those by a GOAWAY, which panics here.
pub async fn late_ends(addr: std::net::SocketAddr, path: &str, message: &[u8]) -> LateEnds {
    use tokio::io::AsyncWriteExt;

    let socket = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut reader, mut writer) = socket.into_split();
    let mut out = PREFACE.to_vec();
    out.extend(frame(SETTINGS, 0, 0, &[]));
    // Room for every answer on the connection.
    out.extend(frame(WINDOW_UPDATE, 0, 0, &0x4000_0000u32.to_be_bytes()));
    writer.write_all(&out).await.expect("write");
    let block = request_block(path);
    let mut seen = LateEnds::default();

    // Reads until `done` says so, counting what `LateEnds` counts; a
    // GOAWAY panics. A PING's acknowledgement ends the reading too.
    macro_rules! read_until {
        ($done:expr) => {
            while !$done {
                let f = next_after_settings(&mut reader, &mut writer).await;
                match f.kind {
                    DATA | HEADERS => {
                        if f.kind == DATA && f.payload.len() > 5 {
                            seen.answers += 1;
                        }
                        if f.flags & END_STREAM != 0 {
                            seen.ended += 1;
                        }
                    }
                    RST_STREAM => seen.resets += 1,
                    GOAWAY => panic!(
                        "GOAWAY (code {:?}) after {} streams",
                        goaway_code(&f.payload),
                        seen.ended
                    ),
                    PING if f.flags & ACK != 0 => break,
                    _ => {}
                }
            }
        };
    }

    for round in 0..ROUNDS {
        let ids: Vec<u32> = (0..ROUND).map(|i| 1 + 2 * (round * ROUND + i)).collect();
        let mut out = Vec::new();
        for &id in &ids {
            out.extend(frame(HEADERS, END_HEADERS, id, &block));
            out.extend(frame(DATA, 0, id, message));
        }
        writer.write_all(&out).await.expect("write");
        read_until!(seen.ended == (round + 1) * ROUND);
        let mut out = Vec::new();
        for &id in &ids {
            out.extend(frame(DATA, END_STREAM, id, &[]));
        }
        writer.write_all(&out).await.expect("write");
    }
    // The server answers a PING after the frames before it.
    writer
        .write_all(&frame(PING, 0, 0, &[7; 8]))
        .await
        .expect("write");
    read_until!(false);
    seen
}

/// `message` framed as one uncompressed gRPC message.
pub fn grpc_message(message: &[u8]) -> Vec<u8> {
    let mut framed = vec![0];
    framed.extend(u32::try_from(message.len()).expect("small").to_be_bytes());
    framed.extend_from_slice(message);
    framed
}
