//! The tokio runtime, sized to the CPUs errmap may actually use.
//!
//! A sidecar usually gets a fraction of a node: a CPU limit of 1 on a
//! 64-core node must not start 64 workers that then take turns on one CPU
//! (two workers on one CPU multiplied p99 latency by 4.5 in
//! BENCHMARKS.md). `std::thread::available_parallelism` already reads the
//! cgroup CPU quota (v1 and v2) and the affinity mask, so it is the default.
//! With one worker the runtime is tokio's `current_thread` flavour: no
//! work-stealing and no cross-thread wake-ups, which served about 1.5 times
//! the calls per second of a one-worker multi-thread runtime.

use std::io;
use std::num::NonZeroUsize;

/// The CPUs this process may use: cgroup quota and affinity included.
pub fn available_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, NonZeroUsize::get)
}

/// Builds the runtime for `workers` threads (`None`: [`available_cpus`]).
pub fn build(workers: Option<usize>) -> io::Result<tokio::runtime::Runtime> {
    match workers.unwrap_or_else(available_cpus) {
        0 | 1 => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        n => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .enable_all()
            .build(),
    }
}

/// What `build` chose, for the start-up log.
pub fn describe(workers: Option<usize>) -> String {
    match workers.unwrap_or_else(available_cpus) {
        0 | 1 => "current-thread".to_owned(),
        n => format!("multi-thread, {n} workers"),
    }
}
