//! The worker pool: a batch's messages are parsed and mapped on several
//! cores at once, while the pipeline still takes their results one by one,
//! in mailbox order (so records, the circuit breaker and the commit see the
//! same sequence as a single worker would give).
//!
//! One pool serves every mailbox of the process (`workers` in the config,
//! default the number of cores): a slot is held for one message's parse or
//! one mapper call.

use std::sync::Arc;

use popline_core::spool::{SpoolPolicy, Spooled};
use popline_mapping::Mapped;
use popline_mime::{MimeError, ParsedEmail};
use popline_plugin_runtime::mapper::wit;
use popline_plugin_runtime::{MapperPlugin, PluginError};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

/// The largest message parsed on a runtime thread rather than the blocking
/// pool: tens of microseconds of work, less than the two thread hand-offs
/// the blocking pool costs. Larger messages (and spool files, which are
/// read from disk) would hold the runtime thread too long.
const INLINE_PARSE_MAX: usize = 64 * 1024;

/// The pool's slots, shared by every pipeline of the process.
#[derive(Clone)]
pub struct Workers {
    slots: Arc<Semaphore>,
}

impl Workers {
    /// A pool of `n` slots (at least one).
    pub fn new(n: usize) -> Workers {
        Workers {
            slots: Arc::new(Semaphore::new(n.max(1))),
        }
    }

    /// The pool's size when the config does not give one: the cores this
    /// process may use.
    pub fn default_size() -> usize {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }

    /// Parse `raw` once a slot is free: a small message in place, a large
    /// or spooled one on the blocking pool.
    pub fn parse(
        &self,
        raw: Arc<Spooled>,
        spool: SpoolPolicy,
    ) -> Job<Result<ParsedEmail, MimeError>> {
        let slots = self.slots.clone();
        Job(tokio::spawn(async move {
            let _slot = slots.acquire_owned().await;
            if !raw.is_spooled() && raw.len() <= INLINE_PARSE_MAX {
                return popline_mime::parse_spooled(&raw, &spool);
            }
            match tokio::task::spawn_blocking(move || popline_mime::parse_spooled(&raw, &spool))
                .await
            {
                Ok(parsed) => parsed,
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            }
        }))
    }

    /// Map a parsed message once a slot is free.
    pub fn map(
        &self,
        mapper: Arc<MapperPlugin>,
        parsed: Arc<ParsedEmail>,
        ctx: wit::Context,
        config: Arc<[(String, String)]>,
    ) -> Job<Result<Mapped, PluginError>> {
        let slots = self.slots.clone();
        Job(tokio::spawn(async move {
            let _slot = slots.acquire_owned().await;
            popline_mapping::map_parsed(&mapper, &parsed, &ctx, &config).await
        }))
    }
}

/// A job on the pool. Dropping it cancels the job (a mapper call stops at
/// its next yield; a parse already running finishes unobserved).
pub struct Job<T>(JoinHandle<T>);

impl<T> Job<T> {
    /// The job's result; a panic in the job resumes here, as it would have
    /// without the pool.
    pub async fn result(mut self) -> T {
        match (&mut self.0).await {
            Ok(v) => v,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // Only a runtime shutting down cancels a job it still awaits.
            Err(e) => panic!("a worker job was cancelled: {e}"),
        }
    }
}

impl<T> Drop for Job<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Jobs run at most `n` at a time, and results come back in the order
    /// they are asked for, whatever order the jobs finish in.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn bounded_and_in_order() {
        let workers = Workers::new(2);
        let running = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let peak = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let jobs: Vec<Job<usize>> = (0..8)
            .map(|i| {
                let (slots, running, peak) = (workers.slots.clone(), running.clone(), peak.clone());
                Job(tokio::spawn(async move {
                    let _slot = slots.acquire_owned().await;
                    let now = running.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                    peak.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
                    // Later jobs finish sooner.
                    tokio::time::sleep(std::time::Duration::from_millis(8 - i as u64)).await;
                    running.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                    i
                }))
            })
            .collect();
        let mut got = Vec::new();
        for j in jobs {
            got.push(j.result().await);
        }
        assert_eq!(got, (0..8).collect::<Vec<_>>());
        assert_eq!(peak.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    /// A dropped job is cancelled: its future is dropped before it
    /// completes its work.
    #[tokio::test]
    async fn dropping_a_job_cancels_it() {
        struct Dropped(Option<tokio::sync::oneshot::Sender<()>>);
        impl Drop for Dropped {
            fn drop(&mut self) {
                let _ = self.0.take().unwrap().send(());
            }
        }
        let (started_tx, started) = tokio::sync::oneshot::channel();
        let (dropped_tx, dropped) = tokio::sync::oneshot::channel();
        let job = Job(tokio::spawn(async move {
            let _guard = Dropped(Some(dropped_tx));
            let _ = started_tx.send(());
            // Never woken: only cancellation ends this job.
            std::future::pending::<()>().await;
        }));
        started.await.unwrap();
        drop(job);
        // Without the abort the job would be detached and run on forever.
        tokio::time::timeout(std::time::Duration::from_secs(10), dropped)
            .await
            .expect("dropping the job cancels it")
            .unwrap();
    }

    /// The pool parses real messages, and a message it cannot parse is the
    /// parser's error, not a pool failure.
    #[tokio::test]
    async fn parses_on_the_pool() {
        let workers = Workers::new(Workers::default_size());
        let ok = Arc::new(Spooled::from(
            b"From: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n".to_vec(),
        ));
        let empty = Arc::new(Spooled::from(b"\r\n".to_vec()));
        let a = workers.parse(ok, SpoolPolicy::memory_only());
        let b = workers.parse(empty, SpoolPolicy::memory_only());
        assert_eq!(
            a.result().await.unwrap().email.subject.as_deref(),
            Some("hi")
        );
        assert!(matches!(b.result().await, Err(MimeError::Empty)));
    }
}
