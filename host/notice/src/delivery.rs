//! [`Deliverer`]: sends the outbox's due notices after their outcomes are
//! committed. Each is marked sent after the server's `250`, put off with
//! backoff after a `4xx` or a connection failure, and failed for good after
//! `max_attempts` or a `5xx`. A crash between the `250` and the mark sends
//! it again on restart, with the same Message-ID, so the receiving side can
//! drop the copy.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use popline_core::{backoff, clock::unix_now, failpoint};
use popline_state::{Notice, StateBackend};

use crate::smtp::Submitter;

/// Notices taken from the outbox per round.
const ROUND: usize = 100;

/// What one round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
}

/// Sends due notices through the configured servers.
pub struct Deliverer {
    state: Arc<dyn StateBackend>,
    servers: HashMap<String, Arc<Submitter>>,
}

impl Deliverer {
    /// A deliverer over `state` with the `[notices.NAME]` servers.
    pub fn new(state: Arc<dyn StateBackend>, servers: Vec<Submitter>) -> Deliverer {
        Deliverer {
            state,
            servers: servers
                .into_iter()
                .map(|s| (s.name().to_string(), Arc::new(s)))
                .collect(),
        }
    }

    /// Whether any server is configured.
    pub fn is_empty(&self) -> bool {
        self.servers.is_empty()
    }

    /// Send every notice due now (in rounds of [`ROUND`]); errors of the
    /// state end the round, a notice's own failure is recorded on it.
    pub async fn deliver_due(&self) -> anyhow::Result<Delivered> {
        let mut done = Delivered::default();
        let mut mailboxes = BTreeSet::new();
        // Servers that could not be reached this round: their other notices
        // wait for the next round instead of each waiting out a timeout.
        let mut down = HashSet::new();
        // Notices left for the next round: in a fleet, their claims are
        // given up, so a host that reaches the server sends them meanwhile.
        let mut untried = BTreeSet::new();
        loop {
            let due = self.state.due_notices(unix_now(), ROUND).await?;
            let n = due.len();
            let mut tried = 0;
            for notice in due {
                if down.contains(&notice.via) {
                    untried.insert(notice.message_id);
                    continue;
                }
                tried += 1;
                mailboxes.insert(notice.mailbox.clone());
                if !self.deliver(&notice, &mut done).await? {
                    down.insert(notice.via.clone());
                }
            }
            if n < ROUND || tried == 0 {
                break;
            }
        }
        self.state
            .release_notices(untried.into_iter().collect())
            .await?;
        for mb in mailboxes {
            let counts = self.state.notice_counts(&mb).await?;
            popline_metrics::record_notices_failed(&mb, counts.failed);
        }
        Ok(done)
    }

    /// Send one notice and record what happened; `false` when its server
    /// could not be reached (a connection, TLS or timeout failure).
    async fn deliver(&self, n: &Notice, done: &mut Delivered) -> anyhow::Result<bool> {
        let Some(server) = self.servers.get(&n.via) else {
            let error = format!("[notices.{}] is no longer configured", n.via);
            tracing::error!(mailbox = %n.mailbox, notice = %n.message_id, "notice failed: {error}");
            self.state
                .notice_attempt_failed(&n.message_id, None, error)
                .await?;
            popline_metrics::record_notice(&n.mailbox, "failed");
            done.failed += 1;
            return Ok(true);
        };
        // In a fleet, another host may have taken it over meanwhile (this
        // round outlasted the claim): it is that host's to send now.
        if !self.state.hold_notice(&n.message_id).await? {
            tracing::info!(mailbox = %n.mailbox, notice = %n.message_id,
                "notice left to the host that took it over");
            return Ok(true);
        }
        failpoint::hit("notice-before-send");
        let mut reached = true;
        match server.send(&n.sender, &n.recipient, &n.raw).await {
            Ok(()) => {
                failpoint::hit("notice-after-send");
                self.state.notice_sent(&n.message_id, unix_now()).await?;
                tracing::info!(mailbox = %n.mailbox, notice = %n.message_id, to = %n.recipient,
                    reason = %n.reason, "notice sent");
                popline_metrics::record_notice(&n.mailbox, "sent");
                done.sent += 1;
            }
            Err(e) => {
                reached = !e.unreachable();
                let attempt = n.attempts + 1;
                let cfg = server.config();
                let retry_at = (e.retryable() && attempt < cfg.max_attempts).then(|| {
                    let wait = backoff::delay(attempt, cfg.retry_initial, cfg.retry_max);
                    unix_now() + wait.as_secs().max(1) as i64
                });
                match retry_at {
                    Some(at) => {
                        tracing::warn!(mailbox = %n.mailbox, notice = %n.message_id,
                            attempt, retry_in_secs = at - unix_now(), "notice not sent yet: {e}");
                        popline_metrics::record_notice(&n.mailbox, "retried");
                        done.retried += 1;
                    }
                    None => {
                        tracing::error!(mailbox = %n.mailbox, notice = %n.message_id, attempt,
                            "notice failed for good (popline notices retry sends it again): {e}");
                        popline_metrics::record_notice(&n.mailbox, "failed");
                        done.failed += 1;
                    }
                }
                self.state
                    .notice_attempt_failed(&n.message_id, retry_at, e.to_string())
                    .await?;
            }
        }
        Ok(reached)
    }

    /// Deliver every `every` until `stop` resolves; a failing round is
    /// logged and tried again next time.
    pub async fn run_until(&self, every: Duration, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            if let Err(e) = self.deliver_due().await {
                tracing::warn!("delivering notices: {e:#}");
            }
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(every) => {}
            }
        }
    }
}
