//! The API listener's hard limits. The connection cap is enforced where
//! connections are accepted ([`super::accept`]), the per-call deadline in
//! the call layer ([`super::call`]).

use std::time::Duration;

/// Limits of the API listener. Defaults are in [`crate::config`].
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
    /// Connections open at once; more are closed as soon as they are
    /// accepted, and their clients see UNAVAILABLE and may retry.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        use crate::config as c;
        Self {
            max_message_bytes: c::DEFAULT_MAX_MESSAGE_SIZE,
            max_concurrent_streams: c::DEFAULT_MAX_CONCURRENT_STREAMS,
            call_timeout: Duration::from_secs(5),
            keepalive_interval: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(10),
            max_connections: c::DEFAULT_MAX_CONNECTIONS,
        }
    }
}
