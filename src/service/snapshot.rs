//! The catalog and prepared answers one call works on, and keeping the
//! answers current when the catalog is replaced, off the calls' path.

use super::options::Options;
use super::prepared::{self, Prepared};
use crate::catalog::{Catalog, SharedCatalog};
use crate::engine::{AnswerCache, GatewayKey, GrpcKey};
use arc_swap::{ArcSwap, Guard};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The prepared answers in service, and how they are kept current.
#[derive(Debug)]
pub(super) struct Preparer {
    current: ArcSwap<Generation>,
    /// A build for a newer catalog is running.
    building: AtomicBool,
}

/// Prepared answers, and the catalog generation they were made for.
#[derive(Debug)]
pub(super) struct Generation {
    number: u64,
    answers: Prepared,
}

impl Preparer {
    /// The answers of the catalog in service, prepared now.
    pub(super) fn new(catalog: &SharedCatalog, options: &Options) -> Self {
        Self {
            current: ArcSwap::from_pointee(Generation::prepare(catalog, options)),
            building: AtomicBool::new(false),
        }
    }

    /// Prepares the catalog in service on the calling thread.
    pub(super) fn prepare(&self, catalog: &SharedCatalog, options: &Options) {
        self.install(Generation::prepare(catalog, options));
    }

    /// Puts answers in service, unless newer ones are there already (a
    /// slow build can end after a later one).
    fn install(&self, generation: Generation) {
        let generation = Arc::new(generation);
        self.current.rcu(|current| {
            if current.number > generation.number {
                Arc::clone(current)
            } else {
                Arc::clone(&generation)
            }
        });
    }

    /// What a call works on. A catalog replaced since the answers were
    /// made is answered without them (the same bytes, computed) while a
    /// thread of its own prepares them: with a large catalog that takes
    /// long, and must not hold up the calls.
    pub(super) fn snapshot(
        self: &Arc<Self>,
        catalog: &SharedCatalog,
        options: &Options,
    ) -> Snapshot {
        let current = self.current.load();
        if current.number == catalog.generation() {
            return Snapshot::Prepared(current);
        }
        drop(current);
        self.prepare_elsewhere(catalog, options);
        Snapshot::Catalog(catalog.current())
    }

    /// Starts preparing the catalog in service on a new thread, unless a
    /// build is running already. A build that ends on an older catalog
    /// than the one then in service leaves the next call to start another.
    fn prepare_elsewhere(self: &Arc<Self>, catalog: &SharedCatalog, options: &Options) {
        if self.building.swap(true, Ordering::AcqRel) {
            return;
        }
        let (catalog, options, target) = (catalog.clone(), options.clone(), Arc::clone(self));
        let spawned = super::background::spawn("errmap-prepare", move || {
            target.prepare(&catalog, &options);
            target.building.store(false, Ordering::Release);
        });
        if let Err(err) = spawned {
            tracing::warn!("cannot start preparing answers; computing them per call: {err}");
            self.building.store(false, Ordering::Release);
        }
    }
}

impl Generation {
    /// The answers of the catalog in service.
    fn prepare(catalog: &SharedCatalog, options: &Options) -> Self {
        // Read before the catalog: if a replacement comes in between, the
        // newer catalog is marked older, and is prepared again.
        let number = catalog.generation();
        let answers = Prepared::build(catalog.snapshot(), options);
        Self { number, answers }
    }
}

/// What one call works on: the prepared answers and the catalog they were
/// made from, or the catalog alone when answers are not prepared (or not
/// yet, for a catalog just swapped in). One guard either way.
pub(super) enum Snapshot {
    Prepared(Guard<Arc<Generation>>),
    Catalog(Guard<Arc<Catalog>>),
}

impl Snapshot {
    pub(super) fn cache(&self) -> Cache<'_> {
        match self {
            Snapshot::Prepared(generation) => Cache(Some(&generation.answers)),
            Snapshot::Catalog(_) => Cache(None),
        }
    }

    pub(super) fn catalog(&self) -> &Catalog {
        match self {
            Snapshot::Prepared(generation) => generation.answers.catalog(),
            Snapshot::Catalog(catalog) => catalog,
        }
    }
}

/// The prepared answers of a call, if it has them.
pub(super) struct Cache<'a>(Option<&'a Prepared>);

impl<'a> AnswerCache for Cache<'a> {
    type Answer = &'a prepared::Answer;

    fn gateway(&self, key: GatewayKey) -> Option<Self::Answer> {
        self.0?.gateway(key)
    }

    fn grpc(&self, key: GrpcKey) -> Option<Self::Answer> {
        self.0?.grpc(key)
    }
}
