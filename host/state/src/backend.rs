//! The state interface: what ingestion needs to remember, whatever keeps it.
//!
//! [`StateBackend`] is what the pipeline calls; [`crate::SqliteBackend`] is
//! the embedded default. Another backend (PostgreSQL for a fleet) implements
//! the same trait and the pipeline does not change.

use std::collections::{HashMap, HashSet};

use crate::outbox::{NewNotice, Notice, NoticeCounts, NoticeStatus};

/// What became of one retrieved message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// Mapped to `records` feedback records, all delivered to the sinks.
    Feedback { records: u32 },
    /// The mapper chose to skip it (an auto-reply, say).
    Skipped { reason: String },
    /// The same message was already committed under another unique id.
    Duplicate { of_uid: String },
    /// It can never be processed (unparseable, mapper failure); kept for
    /// inspection instead of being retried forever.
    DeadLetter { reason: String },
}

impl Disposition {
    /// Its columns in a state database: (`outcome`, `records`,
    /// `outcome_detail`), the same in every backend.
    pub fn columns(&self) -> (&'static str, Option<u32>, Option<&str>) {
        match self {
            Disposition::Feedback { records } => ("feedback", Some(*records), None),
            Disposition::Skipped { reason } => ("skipped", None, Some(reason)),
            Disposition::Duplicate { of_uid } => ("duplicate", None, Some(of_uid)),
            Disposition::DeadLetter { reason } => ("dead_letter", None, Some(reason)),
        }
    }
}

/// One message whose result is to be recorded as committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// The server's unique id (UIDL).
    pub uid: String,
    /// The message's Message-ID header, if it had one.
    pub message_id: Option<String>,
    /// SHA-256 of the raw message, lowercase hex.
    pub sha256: String,
    /// SHA-256 of the body (after the header section), lowercase hex.
    pub body_sha256: Option<String>,
    /// Size of the raw message in bytes.
    pub size: u64,
    /// What became of it.
    pub outcome: Disposition,
}

/// A message left on the server because it is larger than the mailbox's
/// `max_message_mib`, with what its headers (TOP) said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Oversized {
    /// The server's unique id (UIDL).
    pub uid: String,
    /// Size as LIST reported it, in bytes.
    pub size: u64,
    /// Message-ID, From and Subject from the headers, when TOP gave them.
    pub message_id: Option<String>,
    pub sender: Option<String>,
    pub subject: Option<String>,
}

/// What the state knows about a committed unique id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    /// When it was (last) committed, Unix seconds.
    pub committed_at: i64,
    /// Whether it was, or may have been, deleted from the server: DELE
    /// followed by QUIT, or DELE sent with the outcome of QUIT unknown.
    pub deleted: bool,
}

/// What `popline status` shows for one mailbox.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MailboxStatus {
    /// Unix seconds of the last poll, its outcome and summary line.
    pub last: Option<(i64, bool, String)>,
    /// Unix seconds of the last successful poll.
    pub last_ok_at: Option<i64>,
    pub consecutive_failures: i64,
    /// Committed messages by outcome (`feedback`, `skipped`, ...).
    pub outcomes: Vec<(String, i64)>,
    /// Messages left on the server for their size.
    pub oversized: i64,
}

/// What identifies a retrieved message when looking for earlier copies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    pub message_id: Option<String>,
    /// SHA-256 of the raw message, lowercase hex.
    pub sha256: String,
    /// SHA-256 of the decoded content, lowercase hex.
    pub body_sha256: Option<String>,
}

/// Feedback records that join a batch's commit, with the attachment bytes
/// to store beside them.
pub struct FeedbackRows<'a> {
    /// The batch's records (already checked for their attachments).
    pub records: &'a [popline_core::record::FeedbackRecord],
    /// Attachment bytes to store: SHA-256, content type, bytes.
    pub attachments: Vec<(&'a str, &'a str, &'a [u8])>,
}

/// What joins a batch's outcomes in their transaction
/// ([`StateBackend::record_batch_joined`]): a notice exists exactly when its
/// message's outcome does, and so do the records of a sink on the state's
/// database.
#[derive(Default)]
pub struct Joined<'a> {
    /// Feedback records of a `postgres` sink on the state's own database.
    pub feedback: Option<FeedbackRows<'a>>,
    /// Notices to testers (the outbox).
    pub notices: Vec<NewNotice>,
}

impl Joined<'_> {
    /// An error naming what is joined that a backend does not keep.
    pub fn refuse_unless(
        &self,
        mailbox: &str,
        keeps_feedback: bool,
        keeps_notices: bool,
    ) -> anyhow::Result<()> {
        anyhow::ensure!(
            keeps_feedback || self.feedback.is_none(),
            "mailbox {mailbox:?}: this state backend cannot store feedback records in its commit"
        );
        anyhow::ensure!(
            keeps_notices || self.notices.is_empty(),
            "mailbox {mailbox:?}: this state backend keeps no notice outbox"
        );
        Ok(())
    }
}

/// What the pipeline needs from state. Every method is one unit of work: a
/// batch's outcomes are recorded atomically or not at all.
#[async_trait::async_trait]
pub trait StateBackend: Send + Sync {
    /// Every committed unique id of `mailbox`.
    async fn seen(&self, mailbox: &str) -> anyhow::Result<HashMap<String, Seen>>;

    /// For each message, in order, the uid of a committed message that is
    /// the same: the same raw SHA-256, or the same Message-ID with the same
    /// body digest. One call per batch.
    async fn find_duplicates(
        &self,
        mailbox: &str,
        messages: Vec<Fingerprint>,
    ) -> anyhow::Result<Vec<Option<String>>>;

    /// Record a batch of committed messages, atomically.
    async fn record_batch(&self, mailbox: &str, batch: Vec<Committed>) -> anyhow::Result<()>;

    /// [`Self::record_batch`] with what joins the outcomes in their
    /// transaction: feedback records (a `postgres` sink on this backend's
    /// own database) and notices to testers. A backend refuses what it does
    /// not keep; with nothing joined this is `record_batch`.
    async fn record_batch_joined(
        &self,
        mailbox: &str,
        batch: Vec<Committed>,
        joined: Joined<'_>,
    ) -> anyhow::Result<()> {
        joined.refuse_unless(mailbox, false, false)?;
        self.record_batch(mailbox, batch).await
    }

    /// Note, durably and before QUIT, that these uids were sent `DELE`:
    /// until [`StateBackend::mark_deleted`] they count as possibly deleted
    /// ([`Seen::deleted`]), so a uid the server reuses is never deleted
    /// unread.
    async fn mark_deleting(&self, mailbox: &str, uids: Vec<String>) -> anyhow::Result<()>;

    /// Note that these uids were deleted from the server (after QUIT).
    async fn mark_deleted(&self, mailbox: &str, uids: Vec<String>) -> anyhow::Result<()>;

    /// Every oversized message of `mailbox`.
    async fn oversized(&self, mailbox: &str) -> anyhow::Result<Vec<Oversized>>;

    /// Record newly found oversized messages and forget those no longer
    /// `listed` on the server.
    async fn record_oversized(
        &self,
        mailbox: &str,
        found: Vec<Oversized>,
        listed: HashSet<String>,
    ) -> anyhow::Result<()>;

    /// Record a poll's end: when, whether it succeeded, its summary line.
    async fn record_poll(
        &self,
        mailbox: &str,
        at: i64,
        ok: bool,
        line: String,
    ) -> anyhow::Result<()>;

    /// What `popline status` shows for `mailbox`.
    async fn status(&self, mailbox: &str) -> anyhow::Result<MailboxStatus>;

    /// Whether the database answers a trivial query now (`/readyz`).
    async fn ping(&self) -> anyhow::Result<()>;

    /// Whether this backend keeps the notice outbox (the methods below);
    /// without it, mailboxes with `notices` are refused at start.
    fn keeps_notices(&self) -> bool {
        false
    }

    /// Queue notices about messages recorded apart from a batch (oversized
    /// ones), in one transaction.
    async fn queue_notices(&self, _mailbox: &str, notices: Vec<NewNotice>) -> anyhow::Result<()> {
        anyhow::ensure!(
            notices.is_empty(),
            "this state backend keeps no notice outbox"
        );
        Ok(())
    }

    /// Pending notices whose next attempt is due at `now`, oldest first, at
    /// most `limit`, with their bytes. A fleet backend claims them for this
    /// host, so that no other host sends them meanwhile.
    async fn due_notices(&self, _now: i64, _limit: usize) -> anyhow::Result<Vec<Notice>> {
        Ok(Vec::new())
    }

    /// Whether this host may send `message_id`, taken from
    /// [`Self::due_notices`], now: a fleet backend renews this host's claim
    /// on it, and says `false` when another host took it over after the
    /// claim expired. A single-host backend holds every notice.
    async fn hold_notice(&self, _message_id: &str) -> anyhow::Result<bool> {
        Ok(true)
    }

    /// Give up this host's claims on notices it took from
    /// [`Self::due_notices`] but did not try (their server was down this
    /// round), so that another host may send them at once. A single-host
    /// backend has no claims.
    async fn release_notices(&self, _message_ids: Vec<String>) -> anyhow::Result<()> {
        Ok(())
    }

    /// The server took notice `message_id` (`250`) at `at`.
    async fn notice_sent(&self, _message_id: &str, _at: i64) -> anyhow::Result<()> {
        Ok(())
    }

    /// An attempt to send `message_id` failed with `error`: retry at
    /// `retry_at`, or (`None`) it failed for good.
    async fn notice_attempt_failed(
        &self,
        _message_id: &str,
        _retry_at: Option<i64>,
        _error: String,
    ) -> anyhow::Result<()> {
        Ok(())
    }

    /// Notices, newest first, without their bytes: of `mailbox` (or all)
    /// in `status` (or any), at most `limit`.
    async fn notices(
        &self,
        _mailbox: Option<String>,
        _status: Option<NoticeStatus>,
        _limit: usize,
    ) -> anyhow::Result<Vec<Notice>> {
        Ok(Vec::new())
    }

    /// Queue failed notices again, due now, with their attempts reset:
    /// those named (or, with none named, every failed one of `mailbox`, or
    /// of all). How many.
    async fn retry_notices(
        &self,
        _message_ids: Vec<String>,
        _mailbox: Option<String>,
    ) -> anyhow::Result<u64> {
        Ok(0)
    }

    /// How many notices of `mailbox` are in each status.
    async fn notice_counts(&self, _mailbox: &str) -> anyhow::Result<NoticeCounts> {
        Ok(NoticeCounts::default())
    }

    /// Take or renew this host's lease on `mailbox`: whether this host may
    /// poll it now. A fleet backend grants each mailbox to one host at a
    /// time and fences every write with the lease; a single-host backend
    /// holds every mailbox.
    async fn acquire(&self, _mailbox: &str) -> anyhow::Result<bool> {
        Ok(true)
    }

    /// Extend the lease on `mailbox` this host holds, while it works:
    /// `false` when it was lost (its writes will then be refused).
    async fn renew(&self, _mailbox: &str) -> anyhow::Result<bool> {
        Ok(true)
    }

    /// Give up the lease on `mailbox` (between polls, or at shutdown).
    async fn release(&self, _mailbox: &str) -> anyhow::Result<()> {
        Ok(())
    }

    /// Give up every lease this host holds (graceful shutdown).
    async fn release_all(&self) -> anyhow::Result<()> {
        Ok(())
    }

    /// Every mailbox lease and its holder, for `popline status`.
    async fn leases(&self) -> anyhow::Result<Vec<LeaseInfo>> {
        Ok(Vec::new())
    }

    /// How long a lease lasts unless renewed; `None` without leases.
    fn lease_ttl(&self) -> Option<std::time::Duration> {
        None
    }
}

/// Who holds a mailbox (fleet backends).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseInfo {
    pub mailbox: String,
    /// The host holding it (`host_id`).
    pub holder: String,
    /// The fencing token of this lease.
    pub token: i64,
    /// When the lease was taken, Unix seconds.
    pub since: i64,
    /// Whether it is still unexpired.
    pub live: bool,
}
