//! A test server's own thread and Tokio runtime, so it works the same from
//! `#[test]` and `#[tokio::test]` and keeps answering while a test blocks.

use std::future::Future;
use std::thread::JoinHandle;

use tokio::sync::oneshot;

/// The thread a server runs on; dropping it stops the server and joins
/// the thread.
pub(crate) struct ServerThread {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ServerThread {
    /// Runs `serve` on a new thread `name` with its own current-thread
    /// runtime. `serve` gets the receiver that fires when the
    /// [`ServerThread`] is dropped, and should return then; connections
    /// still open (stalled sessions included) are abandoned.
    pub fn spawn<F, Fut>(name: &str, serve: F) -> std::io::Result<ServerThread>
    where
        F: FnOnce(oneshot::Receiver<()>) -> Fut + Send + 'static,
        Fut: Future<Output = ()>,
    {
        // Built here so a failure is an error, not a panic on the thread.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (stop, stopped) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                runtime.block_on(serve(stopped));
                runtime.shutdown_background();
            })?;
        Ok(ServerThread {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for ServerThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
