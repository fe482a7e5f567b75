//! Keeps the `--catalog` file's catalog in service: reloads it when its
//! directory changes and, as a safety net, every poll interval. A file that
//! fails to load changes nothing; the last good catalog keeps serving.
//!
//! The directory is watched rather than the file: Kubernetes updates a
//! ConfigMap volume by swapping a `..data` symlink, after which a watch on
//! the old file would see nothing ever again.

use crate::catalog::{Catalog, SharedCatalog, Source};
use notify::{RecursiveMode, Watcher};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::mpsc;

/// Quiet time after a file event before reading: editors and kubelet write
/// in several steps.
const SETTLE: Duration = Duration::from_millis(100);

/// Reads and validates the file laid over the embedded catalog.
pub fn load_file(path: &Path) -> Result<Catalog, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let name = path.display().to_string();
    Catalog::load(Some(Source {
        name: &name,
        text: &text,
    }))
    .map_err(|e| e.to_string())
}

/// Reloads once: swaps in the file's catalog if it is valid and differs
/// from the one serving.
pub fn reload_once(path: &Path, shared: &SharedCatalog) {
    match load_file(path) {
        Ok(catalog) if catalog.version() == shared.snapshot().version() => {}
        Ok(catalog) => {
            tracing::info!(
                version = catalog.version(),
                entries = catalog.entries().len(),
                "catalog reloaded from {}",
                path.display()
            );
            shared.replace(catalog);
        }
        Err(why) => {
            tracing::warn!("catalog reload failed; the last good catalog keeps serving: {why}");
            shared.reload_failed(why);
        }
    }
}

/// Watches the file until the task is dropped.
pub async fn watch(path: PathBuf, shared: SharedCatalog, poll: Duration) {
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok() {
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
    let mut ticks = tokio::time::interval(poll);
    ticks.tick().await;
    loop {
        tokio::select! {
            Some(()) = rx.recv() => {
                tokio::time::sleep(SETTLE).await;
                while rx.try_recv().is_ok() {}
            }
            _ = ticks.tick() => {}
        }
        reload_once(&path, &shared);
    }
}
