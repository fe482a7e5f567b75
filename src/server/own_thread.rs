//! A listener served on a thread of its own, by a single-threaded runtime.
//!
//! The ext_proc listener runs so: Envoy opens one stream per processed
//! HTTP request, and on the shared multi-threaded runtime each stream's
//! task and its connection's woke each other across threads. One thread
//! took errmap's CPU per processed response from 50 to about 27 µs
//! (BENCHMARKS.md, "Behind Envoy"), and keeps that cost off the API's
//! threads.

use std::future::Future;
use std::io;
use tokio::net::TcpListener;

/// Starts a thread named `name` that serves `listener` with `serve`, and
/// returns a future that ends with it, with what `serve` returned (`None`
/// if the thread ended without a result). The listener is moved to the new
/// runtime first, so that its connections are driven there. Fails only
/// when the runtime, the listener's move or the thread cannot be had.
pub(super) fn serve<F, Fut, T>(
    name: &str,
    listener: TcpListener,
    serve: F,
) -> io::Result<impl Future<Output = Option<T>>>
where
    F: FnOnce(TcpListener) -> Fut + Send + 'static,
    Fut: Future<Output = T>,
    T: Send + 'static,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let listener = {
        let std = listener.into_std()?;
        let _entered = runtime.enter();
        TcpListener::from_std(std)?
    };
    let (done, served) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let _ = done.send(runtime.block_on(serve(listener)));
        })?;
    Ok(async move { served.await.ok() })
}
