//! errmap's part of the details for a bare gRPC code (an error whose
//! upstream sent no details of its own), per code and locale, computed once
//! per catalog. Most failures are bare codes, and for them what errmap adds
//! is the same every time; only the upstream's code and message, which go
//! first, differ.

use crate::locale::Locale;
use crate::pb::errmap::v1::MatchKind;
use std::sync::{Arc, RwLock};

/// gRPC codes 0-16, two locales.
const SLOTS: usize = 17 * 2;

/// What errmap adds for one code in one locale.
#[derive(Debug)]
pub(super) struct Bare {
    /// The status's `details` fields (field 3), encoded: appended after the
    /// upstream's code and message, they make the whole status.
    pub(super) details: Vec<u8>,
    /// The whole `grpc-status-details-bin` value, errmap's message and
    /// details, for an upstream that sent no message either: most
    /// failures, the same bytes each time.
    pub(super) value: String,
    /// How the code resolved, for the observer on every use.
    pub(super) match_kind: MatchKind,
}

/// The cache, for the catalog whose version it holds.
#[derive(Debug, Default)]
pub(super) struct BareCache(RwLock<Slots>);

#[derive(Debug, Default)]
struct Slots {
    version: String,
    slots: Vec<Option<Arc<Bare>>>,
}

impl BareCache {
    /// The entry for `code` and `locale` of the catalog `version`, if made.
    pub(super) fn get(&self, version: &str, code: i32, locale: Locale) -> Option<Arc<Bare>> {
        let slot = slot(code, locale)?;
        let slots = self.0.read().ok()?;
        if slots.version != version {
            return None;
        }
        slots.slots.get(slot)?.clone()
    }

    /// Keeps an entry; one for another catalog clears the others.
    pub(super) fn put(&self, version: &str, code: i32, locale: Locale, bare: Arc<Bare>) {
        let Some(slot) = slot(code, locale) else {
            return;
        };
        let Ok(mut slots) = self.0.write() else {
            return;
        };
        if slots.version != version {
            slots.version = version.to_owned();
            slots.slots = vec![None; SLOTS];
        }
        if let Some(place) = slots.slots.get_mut(slot) {
            *place = Some(bare);
        }
    }
}

fn slot(code: i32, locale: Locale) -> Option<usize> {
    let code = usize::try_from(code).ok().filter(|&c| c < 17)?;
    Some(code * 2 + locale.index())
}
