//! Counting the prepared answers of a batch, so the observer hears of them
//! once per batch rather than once per query.

use crate::engine::Observer;
use crate::pb::errmap::v1 as pb;

/// Prepared answers of one batch, counted by match kind and told to the
/// observer once at the end: one atomic add per kind, not per query.
#[derive(Debug, Default)]
pub(super) struct Tally([std::cell::Cell<u64>; MATCH_KINDS]);

const MATCH_KINDS: usize = 9;

impl Tally {
    pub(super) fn add(&self, kind: pb::MatchKind) {
        if let Some(cell) = self.0.get(kind as usize) {
            cell.set(cell.get() + 1);
        }
    }

    pub(super) fn report(&self, observer: Option<&dyn Observer>) {
        let Some(observer) = observer else {
            return;
        };
        for (i, cell) in self.0.iter().enumerate() {
            let count = cell.get();
            let kind = i32::try_from(i)
                .ok()
                .and_then(|i| pb::MatchKind::try_from(i).ok());
            if let (Some(kind), true) = (kind, count > 0) {
                observer.resolved_many(kind, count);
            }
        }
    }
}
