//! What each listener does with its connections: how many are open, and
//! why the ones it closed early were closed. The accepting code counts into
//! [`ConnectionStats`] with plain atomic adds; the counts are read at
//! scrape time.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The listeners errmap serves on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    Api = 0,
    Admin = 1,
    Http = 2,
    /// Envoy's external processor (`server/ext_proc.rs`).
    ExtProc = 3,
}

impl Listener {
    pub const ALL: [Listener; 4] = [
        Listener::Api,
        Listener::Admin,
        Listener::Http,
        Listener::ExtProc,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Listener::Api => "api",
            Listener::Admin => "admin",
            Listener::Http => "http",
            Listener::ExtProc => "ext_proc",
        }
    }
}

/// Why a listener closed a connection before its client did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// The connection cap was reached and no open connection was idle.
    Cap = 0,
    /// Its address opened connections faster than its budget allows.
    Rate = 1,
    /// It did not complete its handshake within the handshake timeout.
    Handshake = 2,
    /// It was idle when the cap was reached, and made room for a new one.
    Evicted = 3,
}

impl Closed {
    const ALL: [Closed; 4] = [
        Closed::Cap,
        Closed::Rate,
        Closed::Handshake,
        Closed::Evicted,
    ];

    const fn as_str(self) -> &'static str {
        match self {
            Closed::Cap => "cap",
            Closed::Rate => "rate",
            Closed::Handshake => "handshake_timeout",
            Closed::Evicted => "evicted_idle",
        }
    }
}

/// One listener's connection counts.
#[derive(Debug, Default)]
pub struct ConnectionStats {
    open: AtomicU64,
    closed: [AtomicU64; 4],
}

impl ConnectionStats {
    pub fn opened(&self) {
        self.open.fetch_add(1, Ordering::Relaxed);
    }

    pub fn dropped(&self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn closed(&self, why: Closed) {
        self.closed[why as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Connections closed early for this reason so far.
    pub fn closed_for(&self, why: Closed) -> u64 {
        self.closed[why as usize].load(Ordering::Relaxed)
    }

    pub fn open(&self) -> u64 {
        self.open.load(Ordering::Relaxed)
    }
}

/// The listeners' counts, as `errmap_connections{listener}` and
/// `errmap_connections_closed_total{listener, reason}`.
#[derive(Debug, Default)]
pub struct Connections([Arc<ConnectionStats>; 4]);

impl Connections {
    pub fn of(&self, listener: Listener) -> Arc<ConnectionStats> {
        self.0[listener as usize].clone()
    }
}

impl Collector for Connections {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let mut open = encoder.encode_descriptor(
            "connections",
            "Connections open, by listener.",
            None,
            MetricType::Gauge,
        )?;
        for listener in Listener::ALL {
            let count = i64::try_from(self.0[listener as usize].open()).unwrap_or(i64::MAX);
            ConstGauge::new(count)
                .encode(open.encode_family(&[("listener", listener.as_str())])?)?;
        }
        let mut closed = encoder.encode_descriptor(
            "connections_closed",
            "Connections a listener closed before their clients did, by listener and reason.",
            None,
            MetricType::Counter,
        )?;
        for listener in Listener::ALL {
            for why in Closed::ALL {
                let labels = [("listener", listener.as_str()), ("reason", why.as_str())];
                let count = self.0[listener as usize].closed_for(why);
                ConstCounter::new(count).encode(closed.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}
