//! Keeps the `--catalog` file's catalog in service: reloads it when its
//! directory changes and, as a safety net, every poll interval. A file that
//! fails to load changes nothing; the last good catalog keeps serving.
//!
//! The directory is watched rather than the file: Kubernetes updates a
//! ConfigMap volume by swapping a `..data` symlink, after which a watch on
//! the old file would see nothing ever again.
//!
//! Reading, parsing and validating run on a thread of their own at the
//! low CPU priority ([`background`]), never on the threads that serve calls: a
//! large catalog takes a while to parse, and calls must not wait for it. A
//! file whose bytes have not changed since the last read is not parsed
//! again, and the watch ignores the events that reading a file raises, so
//! errmap's own reads never set it off.

use crate::catalog::file::{self, Fingerprint};
use crate::catalog::{Catalog, SharedCatalog};
use crate::service::background;
use notify::event::{AccessKind, AccessMode, EventKind};
use notify::{RecursiveMode, Watcher};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, TrySendError};
use std::time::Duration;
use tokio::sync::mpsc;

/// Quiet time after a file event before reading: editors and kubelet write
/// in several steps.
const SETTLE: Duration = Duration::from_millis(100);

/// How often the file is read even when no change was noticed: a safety
/// net for missed file events, cheap since an unchanged file is not parsed.
pub const DEFAULT_POLL: Duration = Duration::from_secs(30);
/// The shortest poll interval accepted.
pub const MIN_POLL: Duration = Duration::from_millis(100);

/// Reads and validates the file laid over the embedded catalog.
pub fn load_file(path: &Path) -> Result<Catalog, String> {
    Catalog::load_file(path).map_err(|e| e.to_string())
}

/// What the last read of the file found.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    /// The file's bytes, by length and SHA-256.
    Bytes(Fingerprint),
    /// The file could not be read, for this reason.
    Unreadable(String),
}

/// What one look at the file did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The file holds what it held at the last look: nothing was parsed.
    Unchanged,
    /// The file changed, but its catalog is the one serving.
    Same,
    /// The file's catalog now serves.
    Replaced,
    /// The file could not be read or is not a valid catalog.
    Failed,
}

/// What `stat` says of the file: where it is and when it last changed.
/// The same stamp as at the last look means the same bytes, so the file is
/// not even read: reading and hashing a 33 MB file takes about 100 ms of
/// CPU, and on a serving thread's CPU that showed in the calls' p99 (5-8
/// ms instead of 0.5; BENCHMARKS.md, "Loading a large catalog").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: i64,
    mtime_nsec: i64,
    ctime: i64,
    ctime_nsec: i64,
}

impl Stamp {
    fn of(path: &Path) -> Option<Self> {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path).ok()?;
        Some(Self {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime: m.mtime(),
            mtime_nsec: m.mtime_nsec(),
            ctime: m.ctime(),
            ctime_nsec: m.ctime_nsec(),
        })
    }
}

/// Reloads the file into a shared catalog, remembering what it last read.
#[derive(Debug)]
pub struct Reloader {
    path: PathBuf,
    shared: SharedCatalog,
    last: Option<Seen>,
    /// The file's stamp when `last` was read, if it could be taken.
    stamp: Option<Stamp>,
}

impl Reloader {
    /// A reloader that takes the file as read when the catalog in service
    /// was, if it was read from a file.
    pub fn new(path: PathBuf, shared: SharedCatalog) -> Self {
        let last = shared.current().file().map(Seen::Bytes);
        Self {
            path,
            shared,
            last,
            stamp: None,
        }
    }

    /// Reads the file and, if it changed since the last look, swaps in its
    /// catalog when that is valid and differs from the one serving. Blocks
    /// for as long as parsing takes: run it off the serving threads.
    pub fn check(&mut self) -> Outcome {
        let stamp = Stamp::of(&self.path);
        if stamp.is_some() && stamp == self.stamp && self.last.is_some() {
            return Outcome::Unchanged;
        }
        let (read, seen) = match file::read(&self.path) {
            Ok(text) => {
                let fingerprint = Fingerprint::of(&text);
                (Ok((text, fingerprint)), Seen::Bytes(fingerprint))
            }
            Err(err) => {
                let why = err.to_string();
                (Err(err), Seen::Unreadable(why))
            }
        };
        // Taken before the read: a write during it changes the stamp, so
        // the next look reads again.
        self.stamp = stamp;
        if self.last.as_ref() == Some(&seen) {
            return Outcome::Unchanged;
        }
        self.last = Some(seen);
        let loaded = read.and_then(|(text, fingerprint)| {
            Ok(Catalog::overlay(&self.path, &text)?.read_from(fingerprint))
        });
        match loaded {
            Ok(catalog) if catalog.version() == self.shared.current().version() => Outcome::Same,
            Ok(catalog) => {
                tracing::info!(
                    version = catalog.version(),
                    entries = catalog.entries().len(),
                    "catalog reloaded from {}",
                    self.path.display()
                );
                crate::catalog::free_when_unshared(self.shared.replace(catalog));
                Outcome::Replaced
            }
            Err(err) => {
                let why = err.to_string();
                tracing::warn!("catalog reload failed; the last good catalog keeps serving: {why}");
                self.shared.reload_failed(why);
                Outcome::Failed
            }
        }
    }
}

/// Reloads once, on this thread: swaps in the file's catalog if it is
/// valid and differs from the one serving.
pub fn reload_once(path: &Path, shared: &SharedCatalog) -> Outcome {
    Reloader::new(path.to_path_buf(), shared.clone()).check()
}

/// Whether a file event may mean the file changed. Opening, reading and
/// closing a file unwritten (which errmap's own reads do) cannot; nor can
/// an event about another file of the folder (a log written beside the
/// catalog, say). A ConfigMap volume changes through entries named `..*`
/// (a new `..2026_...` folder, then the `..data` link swapped), so those
/// count, and so does an event that names no file.
fn means_change(event: &notify::Event, name: Option<&OsStr>) -> bool {
    let kind_may = match event.kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    };
    kind_may
        && (event.paths.is_empty()
            || event.paths.iter().any(|path| {
                let file = path.file_name();
                file.is_none()
                    || file == name
                    || file.is_some_and(|f| f.as_encoded_bytes().starts_with(b".."))
            }))
}

/// Watches the file until the task is dropped. The first look is at once,
/// so a change made since start-up is not missed (an unchanged file is not
/// parsed again).
pub async fn watch(path: PathBuf, shared: SharedCatalog, poll: Duration) {
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    let name = path.file_name().map(OsStr::to_os_string);
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok_and(|event| means_change(&event, name.as_deref())) {
            let _ = tx.send(());
        }
    });
    let directory = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    // Held for as long as the loop runs; dropping it stops the watch.
    let _watcher = match watcher {
        Ok(mut watcher) => match watcher.watch(&directory, RecursiveMode::NonRecursive) {
            Ok(()) => Some(watcher),
            Err(err) => {
                tracing::warn!("cannot watch {}; polling only: {err}", directory.display());
                None
            }
        },
        Err(err) => {
            tracing::warn!("cannot watch files; polling only: {err}");
            None
        }
    };
    // One look waiting at most: looks asked for while one runs are one.
    let (look, looks) = sync_channel::<()>(1);
    let mut reloader = Reloader::new(path, shared);
    let started = background::spawn("errmap-reload", move || {
        while looks.recv().is_ok() {
            reloader.check();
        }
    });
    if let Err(err) = started {
        tracing::error!(
            "cannot start the thread that reloads the catalog file; it will not be reloaded: {err}"
        );
        return;
    }
    let mut ticks = tokio::time::interval(poll);
    ticks.tick().await;
    loop {
        if let Err(TrySendError::Disconnected(())) = look.try_send(()) {
            return;
        }
        tokio::select! {
            Some(()) = rx.recv() => {
                tokio::time::sleep(SETTLE).await;
                while rx.try_recv().is_ok() {}
            }
            _ = ticks.tick() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, ModifyKind};

    fn event(kind: EventKind, path: &str) -> notify::Event {
        notify::Event::new(kind).add_path(PathBuf::from(path))
    }

    #[test]
    fn only_events_about_the_catalog_file_mean_a_change() {
        let name = Some(OsStr::new("catalog.textproto"));
        let modify = EventKind::Modify(ModifyKind::Any);
        assert!(means_change(&event(modify, "/cfg/catalog.textproto"), name));
        assert!(!means_change(&event(modify, "/cfg/requests.log"), name));
        let create = EventKind::Create(CreateKind::Any);
        assert!(
            means_change(&event(create, "/cfg/..data_tmp"), name),
            "a ConfigMap swap"
        );
        assert!(
            means_change(&notify::Event::new(modify), name),
            "no path named"
        );
        let read = EventKind::Access(AccessKind::Close(AccessMode::Read));
        assert!(!means_change(&event(read, "/cfg/catalog.textproto"), name));
    }
}
