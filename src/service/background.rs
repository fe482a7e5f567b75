//! Threads for work that must not delay a call: reloading the catalog file
//! and preparing a new catalog's answers. They run at a low CPU priority,
//! so that on a CPU they share with a serving thread, a call that arrives
//! takes the CPU at once instead of waiting for the end of the background
//! thread's time slice.

use std::io;
use std::thread::JoinHandle;

/// The nice value background threads take. At 10 a thread weighs about a
/// tenth of a serving thread (the kernel's weights are 110 and 1024), so
/// calls go first, while a reload on a CPU saturated by calls still gets
/// about a tenth of it rather than almost nothing (1.5% at 19).
pub const BACKGROUND_NICE: i32 = 10;

/// Starts a thread named `name` that lowers itself to [`BACKGROUND_NICE`]
/// and then runs `work`.
pub fn spawn<F>(name: &str, work: F) -> io::Result<JoinHandle<()>>
where
    F: FnOnce() + Send + 'static,
{
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            lower_this_thread();
            work();
        })
}

/// Lowers the calling thread to [`BACKGROUND_NICE`]. On Linux the nice
/// value belongs to each thread; elsewhere this does nothing. A refusal
/// leaves the thread as it is, which costs latency, not correctness.
fn lower_this_thread() {
    #[cfg(target_os = "linux")]
    {
        let thread = rustix::thread::gettid();
        if let Err(err) = rustix::process::setpriority_process(Some(thread), BACKGROUND_NICE) {
            tracing::debug!("cannot lower the priority of a background thread: {err}");
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn a_background_thread_runs_at_the_background_nice_value() {
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = spawn("errmap-test", move || {
            let me = rustix::thread::gettid();
            let _ = tx.send(rustix::process::getpriority_process(Some(me)));
        });
        let nice = rx.recv().map_err(|e| e.to_string());
        assert!(thread.is_ok_and(|t| t.join().is_ok()));
        assert_eq!(nice, Ok(Ok(BACKGROUND_NICE)));
    }
}
