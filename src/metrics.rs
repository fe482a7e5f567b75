//! Prometheus metrics, all named `errmap_*`, served by the admin listener
//! at `/metrics` in the Prometheus text format:
//!
//! - `errmap_calls_total{protocol, service, method, code}`: calls by RPC and
//!   gRPC status code, over gRPC and over the HTTP/JSON face.
//! - `errmap_call_duration_seconds{protocol, service, method}`: latency.
//! - `errmap_resolutions_total{match_kind}`: answers by how they were found.
//! - `errmap_unknown_codes_total`: lookups of codes the catalog lacks, and
//!   `errmap_unknown_code_top{code}`: the most frequent of them, in bounded
//!   memory ([`top`]).
//! - `errmap_catalog_entries` and `errmap_catalog_info{version}`: the
//!   catalog in service, read at each scrape.
//! - `errmap_ext_proc_messages_total{action}`: messages from Envoy's
//!   ext_proc filter, by what errmap did with them (passed, enriched,
//!   grpc_to_http, http_to_grpc, body_asked, untranslated).
//! - `errmap_ext_proc_streams_total{client}`: `Process` streams, by where
//!   errmap learned what the client speaks (headers, attributes, route,
//!   unknown).
//! - `errmap_connections{listener}` and
//!   `errmap_connections_closed_total{listener, reason}`: connections open,
//!   and those a listener closed early ([`connections`]).

pub mod connections;
pub mod latency;
pub mod top;

use crate::catalog::SharedCatalog;
use crate::engine::Observer;
use crate::pb::errmap::v1::MatchKind;
use crate::pb::google::rpc::Code;
use connections::{ConnectionStats, Connections, Listener};
use latency::Latency;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};
use quanta::Instant;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use top::TopCodes;

/// The `Content-Type` of `/metrics`.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Values of `errmap.v1.MatchKind`, UNSPECIFIED included.
const MATCH_KINDS: usize = 9;

/// Gross statuses of gRPC: OK (0) to UNAUTHENTICATED (16).
const CODES: usize = 17;

/// How a call reached errmap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    Grpc = 0,
    Http = 1,
}

impl Protocol {
    pub const fn as_str(self) -> &'static str {
        match self {
            Protocol::Grpc => "grpc",
            Protocol::Http => "http",
        }
    }
}

/// An RPC as metrics label it. Paths no served service defines share one
/// "unknown" label, so clients cannot grow the label set. Clones share the
/// RPC's counters and histograms, found in their families on first use, so
/// recording a call neither allocates nor hashes labels.
#[derive(Debug, Clone)]
pub struct Rpc(Arc<RpcMetrics>);

#[derive(Debug)]
struct RpcMetrics {
    service: String,
    method: String,
    /// One request, one response: see [`Call::answered`].
    unary: bool,
    families: Families,
    /// By protocol, then gRPC code.
    calls: [[OnceLock<Counter>; CODES]; 2],
    /// By protocol.
    latency: [OnceLock<Latency>; 2],
    /// By gRPC code: when a failure may next be logged at warn (in
    /// [`millis_now`]), and the failures not logged since
    /// ([`Rpc::warn_due`]).
    warned: [AtomicU64; CODES],
    unlogged: [AtomicU64; CODES],
}

/// Least time between two warnings of one RPC and code. A line per failed
/// call let a client that sends unknown codes in a loop (each answered
/// NOT_FOUND) fill the log and cut the calls served (BENCHMARKS.md, "Under
/// attack"). Every failure is counted in `errmap_calls_total` whatever is
/// logged.
pub const WARN_INTERVAL: Duration = Duration::from_secs(10);

/// Milliseconds since the first call to this function: a clock that fits
/// an atomic.
fn millis_now() -> u64 {
    static EPOCH: OnceLock<std::time::Instant> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(std::time::Instant::now);
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The families every RPC's metrics live in (handles to shared data).
#[derive(Debug, Clone)]
struct Families {
    calls: Family<CallLabels, Counter>,
    latency: Family<RpcLabels, Latency>,
}

impl Rpc {
    fn new(service: &str, method: &str, unary: bool, families: Families) -> Self {
        Self(Arc::new(RpcMetrics {
            service: service.to_owned(),
            method: method.to_owned(),
            unary,
            families,
            calls: Default::default(),
            latency: Default::default(),
            warned: Default::default(),
            unlogged: Default::default(),
        }))
    }

    /// Whether a failure with `code` is to be logged at warn now: the
    /// first one, then at most one every [`WARN_INTERVAL`]. `Some(n)`: log,
    /// with `n` failures left unlogged since the last line.
    fn warn_due(&self, code: Code) -> Option<u64> {
        let slot = code as usize;
        let (warned, unlogged) = (self.0.warned.get(slot)?, self.0.unlogged.get(slot)?);
        let now = millis_now();
        let next = warned.load(Ordering::Relaxed);
        let interval = u64::try_from(WARN_INTERVAL.as_millis()).unwrap_or(u64::MAX);
        if now >= next
            && warned
                .compare_exchange(
                    next,
                    now.saturating_add(interval),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
        {
            return Some(unlogged.swap(0, Ordering::Relaxed));
        }
        unlogged.fetch_add(1, Ordering::Relaxed);
        None
    }

    /// Counts and times one call.
    fn record(&self, protocol: Protocol, code: Code, elapsed: Duration) {
        let rpc = &self.0;
        let p = protocol as usize;
        let counter = rpc.calls[p].get(code as usize).map(|slot| {
            slot.get_or_init(|| {
                let labels = CallLabels {
                    protocol: protocol.as_str(),
                    service: rpc.service.clone(),
                    method: rpc.method.clone(),
                    code: code.as_str_name(),
                };
                rpc.families.calls.get_or_create(&labels).clone()
            })
        });
        if let Some(counter) = counter {
            counter.inc();
        }
        rpc.latency[p]
            .get_or_init(|| {
                let labels = RpcLabels {
                    protocol: protocol.as_str(),
                    service: rpc.service.clone(),
                    method: rpc.method.clone(),
                };
                rpc.families.latency.get_or_create(&labels).clone()
            })
            .observe(elapsed);
    }
}

impl fmt::Display for Rpc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.0.service, self.0.method)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct CallLabels {
    protocol: &'static str,
    service: String,
    method: String,
    code: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RpcLabels {
    protocol: &'static str,
    service: String,
    method: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ExtProcLabels {
    action: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ExtProcStreamLabels {
    client: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ResolutionLabels {
    match_kind: &'static str,
}

/// Every metric errmap exports, and the registry that encodes them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    resolutions: Family<ResolutionLabels, Counter>,
    /// The counter of each match kind, once first used: a resolution then
    /// costs one atomic add, not a lock and a hash of its labels.
    by_match_kind: [OnceLock<Counter>; MATCH_KINDS],
    unknown_codes: Counter,
    top_unknown: Arc<TopCodes>,
    ext_proc: Family<ExtProcLabels, Counter>,
    ext_proc_streams: Family<ExtProcStreamLabels, Counter>,
    /// By request path ("/package.Service/Method"), errmap's own first.
    /// A handful of paths, nearly all of different lengths, and strings of
    /// different lengths compare unequal at once: a scan finds a path with
    /// one comparison of its bytes, sooner than hashing it would.
    rpcs: Vec<(Box<str>, Rpc)>,
    unknown_rpc: Rpc,
    connections: Arc<Connections>,
}

impl Metrics {
    /// Metrics for a server serving the RPCs of the given encoded
    /// descriptor sets, over `catalog`.
    pub fn new(catalog: SharedCatalog, descriptor_sets: &[&[u8]]) -> Self {
        let calls = Family::<CallLabels, Counter>::default();
        let latency = Family::<RpcLabels, Latency>::default();
        let resolutions = Family::<ResolutionLabels, Counter>::default();
        let unknown_codes = Counter::default();
        let top_unknown = Arc::new(TopCodes::new(top::CAPACITY));
        // The clock calibrates on its first reading (under a millisecond):
        // here, at start-up, rather than in the first call.
        let _ = Instant::now();

        let families = Families {
            calls: calls.clone(),
            latency: latency.clone(),
        };
        let mut registry = Registry::with_prefix("errmap");
        registry.register("calls", "Calls by RPC and gRPC status code", calls.clone());
        registry.register_with_unit(
            "call_duration",
            "Time from request to answer (for a stream, to its end), by RPC",
            Unit::Seconds,
            latency.clone(),
        );
        registry.register(
            "resolutions",
            "Resolved queries (batch items included) by match kind",
            resolutions.clone(),
        );
        registry.register(
            "unknown_codes",
            "Lookups of gateway codes or gRPC reasons the catalog lacks",
            unknown_codes.clone(),
        );
        let ext_proc = Family::<ExtProcLabels, Counter>::default();
        registry.register(
            "ext_proc_messages",
            "Messages from Envoy's ext_proc filter, by what errmap did with them",
            ext_proc.clone(),
        );
        let ext_proc_streams = Family::<ExtProcStreamLabels, Counter>::default();
        registry.register(
            "ext_proc_streams",
            "Streams from Envoy's ext_proc filter, by where errmap learned what the client speaks",
            ext_proc_streams.clone(),
        );
        registry.register_collector(Box::new(top_unknown.clone()));
        registry.register_collector(Box::new(CatalogMetrics(catalog)));
        let connections = Arc::new(Connections::default());
        registry.register_collector(Box::new(connections.clone()));

        Self {
            registry,
            resolutions,
            by_match_kind: Default::default(),
            unknown_codes,
            top_unknown,
            ext_proc,
            ext_proc_streams,
            rpcs: rpcs_of(descriptor_sets, &families),
            unknown_rpc: Rpc::new("unknown", "unknown", false, families.clone()),
            connections,
        }
    }

    /// Where a listener counts its connections.
    pub fn connections(&self, listener: Listener) -> Arc<ConnectionStats> {
        self.connections.of(listener)
    }

    /// The counter of one ext_proc action, its series exported (at 0)
    /// from now on. The ext_proc listener keeps it, so that a message costs
    /// one atomic add, not a lock and a hash of its labels.
    pub fn ext_proc_counter(&self, action: &'static str) -> Counter {
        self.ext_proc
            .get_or_create(&ExtProcLabels { action })
            .clone()
    }

    /// The counter of `Process` streams whose client was learned from
    /// `client`, kept as [`Self::ext_proc_counter`] is.
    pub fn ext_proc_stream_counter(&self, client: &'static str) -> Counter {
        self.ext_proc_streams
            .get_or_create(&ExtProcStreamLabels { client })
            .clone()
    }

    /// The metrics in the Prometheus text format.
    pub fn encode(&self) -> Result<String, fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)?;
        Ok(text)
    }

    /// The RPC a gRPC request path names, or "unknown".
    pub fn rpc_for_path(&self, path: &str) -> Rpc {
        self.rpcs
            .iter()
            .find(|(known, _)| **known == *path)
            .map_or(&self.unknown_rpc, |(_, rpc)| rpc)
            .clone()
    }
}

impl Observer for Metrics {
    fn resolved(&self, kind: MatchKind) {
        self.resolved_many(kind, 1);
    }

    fn resolved_many(&self, kind: MatchKind, count: u64) {
        let counter = self.by_match_kind.get(kind as usize).map(|slot| {
            slot.get_or_init(|| {
                let labels = ResolutionLabels {
                    match_kind: kind.as_str_name(),
                };
                self.resolutions.get_or_create(&labels).clone()
            })
        });
        if let Some(counter) = counter {
            counter.inc_by(count);
        }
    }

    fn unknown_code(&self, code: &str) {
        self.unknown_codes.inc();
        if let Some(label) = top::label_for(code) {
            self.top_unknown.record(&label);
        }
    }
}

/// "/package.Service/Method" for every method of every service in the
/// descriptor sets. A set that does not decode adds nothing: its calls are
/// still counted, as "unknown".
fn rpcs_of(descriptor_sets: &[&[u8]], families: &Families) -> Vec<(Box<str>, Rpc)> {
    let mut rpcs: Vec<(Box<str>, Rpc)> = Vec::new();
    for set in descriptor_sets {
        let Ok(pool) = prost_reflect::DescriptorPool::decode(*set) else {
            continue;
        };
        for service in pool.services() {
            for method in service.methods() {
                let unary = !method.is_client_streaming() && !method.is_server_streaming();
                let path = format!("/{}/{}", service.full_name(), method.name());
                if rpcs.iter().all(|(known, _)| **known != *path) {
                    let rpc = Rpc::new(service.full_name(), method.name(), unary, families.clone());
                    rpcs.push((path.into_boxed_str(), rpc));
                }
            }
        }
    }
    rpcs
}

/// One call being served: recorded (counted, timed, logged) once, when it
/// finishes, or as CANCELLED if it is dropped unfinished.
#[derive(Debug)]
pub struct Call {
    protocol: Protocol,
    rpc: Rpc,
    start: Instant,
    /// The latency, once known before the call is recorded.
    elapsed: Option<Duration>,
    recorded: bool,
}

impl Call {
    pub fn start(protocol: Protocol, rpc: Rpc) -> Self {
        Self::started_at(protocol, rpc, Instant::now())
    }

    /// A call that began at `start`, for a caller that has read the clock.
    pub fn started_at(protocol: Protocol, rpc: Rpc, start: Instant) -> Self {
        Self {
            protocol,
            rpc,
            start,
            elapsed: None,
            recorded: false,
        }
    }

    /// The answer was ready `elapsed` after the start. A unary call's body
    /// is its one encoded message and the trailers, sent in the same turn,
    /// so its latency is taken here and the clock is not read again when
    /// the trailers go out; a stream's latency runs to its end.
    pub fn answered(&mut self, elapsed: Duration) {
        if self.rpc.0.unary {
            self.elapsed = Some(elapsed);
        }
    }

    pub fn finish(mut self, code: Code) {
        self.record(code);
    }

    /// One log line per call at debug; a failure also at warn, at most one
    /// line per RPC and code every [`WARN_INTERVAL`], naming how many
    /// failures went unlogged in between.
    fn record(&mut self, code: Code) {
        if std::mem::replace(&mut self.recorded, true) {
            return;
        }
        let elapsed = self.elapsed.unwrap_or_else(|| self.start.elapsed());
        self.rpc.record(self.protocol, code, elapsed);
        let (protocol, rpc, code_name) = (self.protocol.as_str(), &self.rpc, code.as_str_name());
        if code == Code::Ok {
            tracing::debug!(protocol, %rpc, code = code_name, ?elapsed, "call");
        } else if let Some(unlogged) = self.rpc.warn_due(code) {
            tracing::warn!(
                protocol,
                %rpc,
                code = code_name,
                ?elapsed,
                unlogged,
                "call failed (further failures of this RPC and code are logged at most every {WARN_INTERVAL:?}; `unlogged` counts those since the last line)"
            );
        } else {
            tracing::debug!(protocol, %rpc, code = code_name, ?elapsed, "call failed");
        }
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        self.record(Code::Cancelled);
    }
}

/// The catalog in service, read at scrape time so a replaced catalog shows.
#[derive(Debug)]
struct CatalogMetrics(SharedCatalog);

impl Collector for CatalogMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let catalog = self.0.snapshot();
        let entries = ConstGauge::new(i64::try_from(catalog.entries().len()).unwrap_or(i64::MAX));
        entries.encode(encoder.encode_descriptor(
            "catalog_entries",
            "Entries in the catalog in service.",
            None,
            entries.metric_type(),
        )?)?;
        let reloads = self.0.reloads();
        let mut family = encoder.encode_descriptor(
            "catalog_reloads",
            "Reloads of the --catalog file by outcome; a failed one leaves the last good catalog serving.",
            None,
            MetricType::Counter,
        )?;
        for (result, count) in [
            ("ok", reloads.succeeded.load(Ordering::Relaxed)),
            ("error", reloads.failed.load(Ordering::Relaxed)),
        ] {
            let labels = [("result", result)];
            ConstCounter::new(count).encode(family.encode_family(&labels)?)?;
        }
        let info = Info::new([("version", catalog.version().to_owned())]);
        info.encode(encoder.encode_descriptor(
            "catalog",
            "The catalog in service, by content hash.",
            None,
            info.metric_type(),
        )?)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_is_logged_once_an_interval_and_the_rest_counted() {
        let families = Families {
            calls: Family::default(),
            latency: Family::default(),
        };
        let rpc = Rpc::new("s", "m", true, families);
        assert_eq!(rpc.warn_due(Code::NotFound), Some(0), "the first is logged");
        for _ in 0..5 {
            assert_eq!(rpc.warn_due(Code::NotFound), None);
        }
        assert_eq!(
            rpc.warn_due(Code::InvalidArgument),
            Some(0),
            "each code has its own interval"
        );
        rpc.0.warned[Code::NotFound as usize].store(0, Ordering::Relaxed);
        assert_eq!(
            rpc.warn_due(Code::NotFound),
            Some(5),
            "after the interval, the next is logged with the count left out"
        );
    }
}
