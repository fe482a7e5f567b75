//! The most frequent unknown codes, in bounded memory: the Space-Saving
//! algorithm (Metwally, Agrawal and El Abbadi, 2005) keeps at most
//! `capacity` counters however many distinct codes clients send, and any
//! code seen more than 1/capacity of the time is certain to be among them.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;
use std::borrow::Cow;
use std::sync::{Mutex, PoisonError};

/// How many distinct unknown codes are tracked.
pub const CAPACITY: usize = 100;
/// The longest label value a code is exported under.
pub const MAX_LABEL_LEN: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Slot {
    code: String,
    count: u64,
}

/// Estimated counts of the most frequent codes. A count may overstate a
/// code's true count by as much as the count of the code it displaced.
#[derive(Debug)]
pub struct TopCodes {
    capacity: usize,
    slots: Mutex<Vec<Slot>>,
}

impl TopCodes {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            slots: Mutex::new(Vec::with_capacity(capacity)),
        }
    }

    /// Counts one sighting of `code`, already sanitized.
    pub fn record(&self, code: &str) {
        if self.capacity == 0 {
            return;
        }
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = slots.iter_mut().find(|s| s.code == code) {
            slot.count += 1;
        } else if slots.len() < self.capacity {
            slots.push(Slot {
                code: code.to_owned(),
                count: 1,
            });
        } else if let Some(least) = slots.iter_mut().min_by_key(|s| s.count) {
            // The newcomer inherits the evicted count: that is what keeps
            // every estimate an upper bound.
            least.code = code.to_owned();
            least.count += 1;
        }
    }

    /// The tracked codes with their estimated counts, most frequent first.
    pub fn snapshot(&self) -> Vec<(String, u64)> {
        let slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out: Vec<(String, u64)> = slots.iter().map(|s| (s.code.clone(), s.count)).collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out
    }
}

impl Collector for TopCodes {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let top = self.snapshot();
        if top.is_empty() {
            return Ok(());
        }
        let mut family = encoder.encode_descriptor(
            "unknown_code_top",
            &format!(
                "Estimated lookups of the most frequent unknown codes (at most {} codes; \
                 an estimate may overstate, never understate).",
                self.capacity
            ),
            None,
            prometheus_client::metrics::MetricType::Gauge,
        )?;
        for (code, count) in &top {
            let labels = [("code", code.as_str())];
            let gauge = ConstGauge::new(i64::try_from(*count).unwrap_or(i64::MAX));
            gauge.encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

/// A client-sent code as a safe, bounded label value: the catalog's own
/// folding (trimmed, upper case), anything but `A-Z`, `0-9`, `_`, `-` and
/// `.` turned into `_`, cut at [`MAX_LABEL_LEN`]. `None` when nothing is
/// left. A code that is a label already, as most are, is lent as it is:
/// this runs for every unknown code a call or an Envoy stream names.
pub fn label_for(code: &str) -> Option<Cow<'_, str>> {
    let trimmed = code.trim();
    let kept = |c: char| matches!(c, 'A'..='Z' | '0'..='9' | '_' | '-' | '.');
    if !trimmed.is_empty()
        && trimmed.len() <= MAX_LABEL_LEN
        && trimmed.bytes().all(|b| kept(char::from(b)))
    {
        return Some(Cow::Borrowed(trimmed));
    }
    let label: String = crate::catalog::normalize_code(code)
        .chars()
        .map(|c| if kept(c) { c } else { '_' })
        .take(MAX_LABEL_LEN)
        .collect();
    Some(label).filter(|l| !l.is_empty()).map(Cow::Owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_stays_bounded_and_frequent_codes_stay_listed() {
        let top = TopCodes::new(3);
        for round in 0..50 {
            top.record("FREQUENT");
            top.record(&format!("RARE_{round}"));
        }
        let snapshot = top.snapshot();
        assert_eq!(snapshot.len(), 3);
        assert_eq!(snapshot[0], ("FREQUENT".to_owned(), 50));
    }

    #[test]
    fn labels_are_folded_sanitized_and_bounded() {
        assert_eq!(label_for(" apigw_x ").as_deref(), Some("APIGW_X"));
        assert_eq!(label_for("a\"b}c\\d").as_deref(), Some("A_B_C_D"));
        assert_eq!(label_for(&"x".repeat(500)).map(|l| l.len()), Some(64));
        assert_eq!(label_for("   "), None);
        // Already a label: the same text, trimmed, lent.
        assert!(matches!(
            label_for(" APIGW_X-1.2\t"),
            Some(Cow::Borrowed("APIGW_X-1.2"))
        ));
        // One byte over the bound, or one to fold: made anew.
        assert_eq!(label_for(&"X".repeat(65)).map(|l| l.len()), Some(64));
        assert!(matches!(label_for("APIGW_é"), Some(Cow::Owned(l)) if l == "APIGW__"));
    }
}
