//! The notice outbox: notices to testers, written in the same transaction
//! as the outcome of the message they are about, sent after the commit.
//!
//! A row is `pending` until the submission server answers `250`
//! (`sent`), or until its attempts run out (`failed`, shown by `popline
//! status` until `popline notices retry`). A notice over the per-recipient
//! limit is stored as `suppressed` and never sent. The Message-ID is the
//! key: recording the same message's outcome again (a replay) queues
//! nothing new.

/// A notice to queue with a batch's outcomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotice {
    /// The notice's own Message-ID (without angle brackets), stable for
    /// the source message: the outbox key.
    pub message_id: String,
    /// The source message's unique id (UIDL).
    pub uid: String,
    /// The `[notices.NAME]` server to send through.
    pub via: String,
    /// The envelope sender (`MAIL FROM`).
    pub sender: String,
    /// The envelope recipient: the tester.
    pub recipient: String,
    /// Why: `no-match`, `oversize`, `dead-letter`, `expired-token`,
    /// `acknowledged`.
    pub reason: String,
    /// The whole message (RFC 5322), sent as is.
    pub raw: Vec<u8>,
    /// At most this many notices to `recipient` in 24 hours (counting the
    /// ones queued or sent, not suppressed ones); over it the notice is
    /// stored as suppressed.
    pub per_recipient_per_day: u32,
}

/// Where a notice stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeStatus {
    /// Waiting to be sent (first attempt, or a retry).
    Pending,
    /// The server took it (`250`).
    Sent,
    /// Attempts ran out, or the server refused it for good.
    Failed,
    /// Over the per-recipient limit: never sent.
    Suppressed,
}

impl NoticeStatus {
    /// Its name in the database and in `popline notices list`.
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeStatus::Pending => "pending",
            NoticeStatus::Sent => "sent",
            NoticeStatus::Failed => "failed",
            NoticeStatus::Suppressed => "suppressed",
        }
    }

    /// The status named `s`.
    pub fn parse(s: &str) -> Option<NoticeStatus> {
        [
            NoticeStatus::Pending,
            NoticeStatus::Sent,
            NoticeStatus::Failed,
            NoticeStatus::Suppressed,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

/// A notice in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub message_id: String,
    /// The pipeline (mailbox name) whose message it is about.
    pub mailbox: String,
    pub uid: String,
    pub via: String,
    pub sender: String,
    pub recipient: String,
    pub reason: String,
    /// The message bytes (empty when listed without them).
    pub raw: Vec<u8>,
    pub status: NoticeStatus,
    /// Sending attempts so far.
    pub attempts: u32,
    /// Unix seconds: queued, next attempt due, sent.
    pub created_at: i64,
    pub next_attempt_at: i64,
    pub sent_at: Option<i64>,
    /// What the last failed attempt met (never a credential).
    pub last_error: Option<String>,
}

/// How many notices of a mailbox are in each status.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct NoticeCounts {
    pub pending: i64,
    pub sent: i64,
    pub failed: i64,
    pub suppressed: i64,
}

impl NoticeCounts {
    /// Record that `n` notices are in the status named `status` (a name
    /// this popline does not know is ignored).
    pub fn set(&mut self, status: &str, n: i64) {
        match NoticeStatus::parse(status) {
            Some(NoticeStatus::Pending) => self.pending = n,
            Some(NoticeStatus::Sent) => self.sent = n,
            Some(NoticeStatus::Failed) => self.failed = n,
            Some(NoticeStatus::Suppressed) => self.suppressed = n,
            None => {}
        }
    }
}
