//! A latency histogram that records with atomic adds alone.
//!
//! Every call records one observation, so the recording is on the hot
//! path of every RPC. prometheus-client's `Histogram` takes a mutex and
//! scans its buckets for each one; this one has fixed doubling buckets, so
//! the bucket is a shift and a leading-zero count, and the sum is kept in
//! whole nanoseconds, so it is exact and needs no compare-and-swap loop.
//! The text it exports is the same as that `Histogram`'s.

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::histogram::exponential_buckets;
use prometheus_client::metrics::{MetricType, TypedMetric};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The first bucket's upper bound: 100 µs. A lookup takes microseconds.
const FIRST_BOUND_NANOS: u64 = 100_000;
/// Bounded buckets, doubling from the first: up to about 3.3 s, which
/// catches a starved process.
const BOUNDED: usize = 16;

/// A shared latency histogram; clones record into the same one.
#[derive(Debug, Clone, Default)]
pub struct Latency(Arc<Counts>);

#[derive(Debug, Default)]
struct Counts {
    /// Per bucket, not cumulative; the last one is +Inf.
    buckets: [AtomicU64; BOUNDED + 1],
    sum_nanos: AtomicU64,
}

impl Latency {
    pub fn observe(&self, elapsed: Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let counts = &self.0;
        counts.buckets[bucket_of(nanos)].fetch_add(1, Ordering::Relaxed);
        counts.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }
}

/// The first bucket whose bound `nanos` does not exceed: bucket `i` holds
/// values up to 100 µs × 2^i, and the last one everything beyond.
fn bucket_of(nanos: u64) -> usize {
    // Multiples of the first bound, rounded up: bucket i holds 2^(i-1) < q
    // ≤ 2^i, so i = ceil(log2 q).
    let q = nanos.div_ceil(FIRST_BOUND_NANOS);
    if q <= 1 {
        return 0;
    }
    let i = (u64::BITS - (q - 1).leading_zeros()) as usize;
    i.min(BOUNDED)
}

/// The bounds in seconds, computed as prometheus-client computes them, so
/// the `le` labels read the same.
fn bounds() -> impl Iterator<Item = f64> {
    let first = FIRST_BOUND_NANOS as f64 / 1e9;
    exponential_buckets(first, 2.0, BOUNDED as u16).chain(std::iter::once(f64::INFINITY))
}

impl TypedMetric for Latency {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for Latency {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let buckets: Vec<(f64, u64)> = bounds()
            .zip(&self.0.buckets)
            .map(|(bound, count)| (bound, count.load(Ordering::Relaxed)))
            .collect();
        // The count is the buckets' total, so the two always agree.
        let count = buckets.iter().map(|(_, n)| n).sum();
        let sum = self.0.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_value_lands_in_the_first_bucket_that_holds_it() {
        let bounds: Vec<f64> = bounds().collect();
        for nanos in [
            0,
            1,
            99_999,
            100_000,
            100_001,
            200_000,
            200_001,
            1_000_000,
            3_276_800_000,
            3_276_800_001,
            u64::MAX,
        ] {
            let seconds = nanos as f64 / 1e9;
            let expected = bounds
                .iter()
                .position(|bound| seconds <= *bound)
                .expect("+Inf holds every value");
            assert_eq!(bucket_of(nanos), expected, "{nanos} ns");
        }
    }

    #[test]
    fn observations_are_counted_and_summed() {
        let latency = Latency::default();
        latency.observe(Duration::from_micros(50));
        latency.observe(Duration::from_micros(150));
        latency.observe(Duration::from_secs(10));
        let counts: Vec<u64> = latency
            .0
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        assert_eq!(counts[0], 1);
        assert_eq!(counts[1], 1);
        assert_eq!(counts[BOUNDED], 1);
        assert_eq!(latency.0.sum_nanos.load(Ordering::Relaxed), 10_000_200_000);
    }
}
