//! Background work (reloading the catalog file, preparing a new catalog's
//! answers) runs at the lowest CPU priority, so that on a CPU it shares
//! with a serving thread, a call that arrives takes the CPU at once
//! instead of waiting for the end of the background thread's time slice.

/// The nice value background threads take. At 10 a thread weighs about a
/// tenth of a serving thread (the kernel's weights are 110 and 1024), so
/// calls go first, while a reload on a CPU saturated by calls still gets
/// about a tenth of it rather than almost nothing (1.5% at 19).
pub const BACKGROUND_NICE: i32 = 10;

/// Lowers the calling thread to [`BACKGROUND_NICE`]. On Linux the nice
/// value belongs to each thread; elsewhere this does nothing. A refusal
/// leaves the thread as it is, which costs latency, not correctness.
pub fn lower_this_thread() {
    #[cfg(target_os = "linux")]
    {
        let thread = rustix::thread::gettid();
        if let Err(err) = rustix::process::setpriority_process(Some(thread), BACKGROUND_NICE) {
            tracing::debug!("cannot lower the priority of a background thread: {err}");
        }
    }
}
