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
