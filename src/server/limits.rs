//! The API listener's hard limits. The connection cap is enforced where
//! connections are accepted ([`super::accept`]), the per-call deadline in
//! the call layer ([`super::call`]).

use super::accept::{Admission, Writes};
use std::time::Duration;

/// Limits of the API listener. Defaults are in [`crate::app::config`].
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request message, encoded, in bytes.
    pub max_message_bytes: usize,
    /// HTTP/2 streams one connection may have open at once; a client that
    /// opens more waits for one to finish (the HTTP/2 SETTINGS contract).
    pub max_concurrent_streams: u32,
    /// How long one call may take before it is answered DEADLINE_EXCEEDED.
    pub call_timeout: Duration,
    /// How often an idle connection is pinged, and how long a ping may go
    /// unanswered before the connection is closed.
    pub keepalive_interval: Duration,
    pub keepalive_timeout: Duration,
    /// Connections the API and the HTTP/JSON listener each keep open at
    /// once. At the cap an idle connection is closed to make room; when
    /// every one is busy a new one is refused, and its client sees
    /// RESOURCE_EXHAUSTED or UNAVAILABLE and may retry.
    pub max_connections: usize,
    /// The same cap for the admin listener, which only probes and scrapers
    /// use.
    pub admin_max_connections: usize,
    /// How long a new connection has to send the HTTP/2 preface or start
    /// an HTTP/1.1 request before it is closed.
    pub handshake_timeout: Duration,
}

impl Limits {
    /// How a listener with this cap admits connections.
    pub fn admission(&self, max_connections: usize, writes: Writes) -> Admission {
        Admission {
            max_connections,
            handshake_timeout: self.handshake_timeout,
            writes,
        }
    }
}

pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 4 * 1024 * 1024;
pub const DEFAULT_MAX_CONCURRENT_STREAMS: u32 = 256;
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(5);
pub const DEFAULT_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
pub const DEFAULT_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Probes and scrapers hold a few connections each.
pub const DEFAULT_ADMIN_MAX_CONNECTIONS: usize = 64;
/// Far above a real client's handshake, even over a slow pod network, and
/// short enough that silent sockets give their places back soon.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_bytes: DEFAULT_MAX_MESSAGE_SIZE,
            max_concurrent_streams: DEFAULT_MAX_CONCURRENT_STREAMS,
            call_timeout: DEFAULT_CALL_TIMEOUT,
            keepalive_interval: DEFAULT_KEEPALIVE_INTERVAL,
            keepalive_timeout: DEFAULT_KEEPALIVE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            admin_max_connections: DEFAULT_ADMIN_MAX_CONNECTIONS,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }
}
