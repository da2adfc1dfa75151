//! Running pipelines: one poll that is recorded in state and metrics, and
//! the daemon loop that polls each mailbox on its own schedule until told
//! to stop.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use popline_core::clock::unix_now;

use crate::error::PollError;
use crate::lease::{self, Lease, LeaseKeeper};
use crate::pipeline::{Pipeline, Pipelines, PollSummary};

/// How long a stopping daemon lets polls in progress finish.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Why the daemon loop stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The process ends: polls in progress get [`SHUTDOWN_GRACE`], then
    /// the mailboxes' leases are released for other hosts.
    Shutdown,
    /// A new configuration takes over: polls in progress run to their end
    /// (each is bounded by its `session_timeout`), and leases are kept.
    Reload,
}

/// Poll one mailbox while holding `lease`, and record the outcome in
/// metrics and state.
pub async fn poll_and_record(
    all: &Pipelines,
    pipeline: &Pipeline,
    lease: &Lease,
) -> Result<PollSummary, PollError> {
    // Bounded: connections, dialogue instances and batches in memory.
    let _slot = all.poll_slots.acquire().await.expect("never closed");
    let started = std::time::Instant::now();
    let res = pipeline.poll(all.state.as_ref(), lease).await;
    let (at, took) = (unix_now(), started.elapsed());
    let (ok, line) = match &res {
        Ok(s) => {
            popline_metrics::record_poll(&pipeline.name, &s.metric_counts(), took, at);
            (true, s.line())
        }
        Err(e) => {
            popline_metrics::record_poll_failed(&pipeline.name, e.kind().as_str(), took);
            (false, e.to_string())
        }
    };
    if let Err(e) = all.state.record_poll(&pipeline.name, at, ok, line).await {
        tracing::warn!(mailbox = %pipeline.name, "cannot record poll outcome: {e:#}");
    }
    res
}

/// Poll `pipeline` if this host holds (or can take) its lease; `None` when
/// another host holds it. With single-host state every mailbox is held.
pub async fn poll_leased(
    all: &Arc<Pipelines>,
    pipeline: &Pipeline,
) -> Option<Result<PollSummary, PollError>> {
    match lease::take(&all.state, &pipeline.name).await {
        Ok(Some(keeper)) => Some(poll_and_record(all, pipeline, keeper.lease()).await),
        Ok(None) => None,
        Err(e) => Some(Err(PollError::State(
            e.context("taking the mailbox's lease"),
        ))),
    }
}

/// Poll every pipeline on its own schedule until `stop` completes; then let
/// polls in progress finish as [`Stop`] says. A failing mailbox is retried
/// sooner than its interval at first, backing off to it.
pub async fn run_until(all: Arc<Pipelines>, stop: impl Future<Output = Stop>) {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    for pipeline in all.pipelines.clone() {
        let all = all.clone();
        let mut stop = stop_rx.clone();
        tasks.push(tokio::spawn(async move {
            let mut failures = 0u32;
            let mut keeper: Option<LeaseKeeper> = None;
            loop {
                drop(keeper.take());
                // Fleet state: poll only while holding the mailbox's lease,
                // and keep it until the next poll.
                let wait = match lease::take(&all.state, &pipeline.name).await {
                    Ok(Some(k)) => {
                        let polled = poll_and_record(&all, &pipeline, k.lease()).await;
                        keeper = Some(k);
                        match polled {
                            Ok(s) => {
                                failures = 0;
                                tracing::info!(mailbox = %pipeline.name, "{}", s.line());
                                pipeline.interval()
                            }
                            Err(e) => {
                                failures += 1;
                                let backoff = backoff(failures, pipeline.interval());
                                tracing::warn!(mailbox = %pipeline.name, kind = e.kind().as_str(), retry_in = ?backoff, "poll failed: {e}");
                                backoff
                            }
                        }
                    }
                    // Another host holds it: look again within a third of
                    // its TTL, in case that host goes away.
                    Ok(None) => {
                        let retry = all.state.lease_ttl().unwrap_or(pipeline.interval()) / 3;
                        retry.min(pipeline.interval())
                    }
                    Err(e) => {
                        failures += 1;
                        let backoff = backoff(failures, pipeline.interval());
                        tracing::warn!(mailbox = %pipeline.name, retry_in = ?backoff, "taking the mailbox's lease: {e:#}");
                        backoff
                    }
                };
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.changed() => break,
                }
            }
        }));
    }
    let why = stop.await;
    tracing::info!(?why, "stopping: finishing polls in progress");
    let _ = stop_tx.send(true);
    if why == Stop::Reload {
        for t in tasks {
            let _ = t.await;
        }
        return;
    }
    // A poll in progress commits what it has; past the grace period its
    // connection is dropped without QUIT, so the server keeps everything.
    let grace = tokio::time::sleep(SHUTDOWN_GRACE);
    tokio::pin!(grace);
    for mut t in tasks {
        tokio::select! {
            _ = &mut grace => t.abort(),
            _ = &mut t => {}
        }
    }
    // Other hosts take these mailboxes at once, not after the TTL.
    if let Err(e) = all.state.release_all().await {
        tracing::warn!("releasing mailbox leases: {e:#}");
    }
}

/// The wait after `failures` consecutive failed polls: from 2 s, doubling
/// (with jitter), up to the interval itself.
pub fn backoff(failures: u32, interval: Duration) -> Duration {
    popline_core::backoff::delay(
        failures,
        Duration::from_secs(2),
        interval.max(Duration::from_secs(2)),
    )
}
