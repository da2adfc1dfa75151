//! The notice outbox in PostgreSQL, shared by a fleet ([`crate::outbox`]
//! says what a notice goes through).
//!
//! Notices are written in the fenced transaction of their outcomes, with the
//! same per-recipient 24 h limit as SQLite (an advisory lock per recipient
//! makes two hosts queueing to one tester at once count each other).
//!
//! **Claims.** Every host delivers, so a due notice is *claimed* before it
//! is sent: `SELECT … FOR UPDATE SKIP LOCKED` picks rows no other host is
//! claiming at that moment, and the claim (`claimed_by`, `claim_expires_at`
//! in database time) keeps them this host's for [`PostgresOptions`]'
//! `notice_claim_ttl`. A crashed host's claims expire and another host takes
//! the notices over. Right before sending, the deliverer renews the claim
//! ([`StateBackend::hold_notice`]); only the holder marks a notice sent or
//! failed, so a host whose claim was taken over sends nothing more and
//! changes nothing.
//!
//! [`PostgresOptions`]: super::PostgresOptions
//! [`StateBackend::hold_notice`]: crate::StateBackend::hold_notice

use anyhow::Context;
use tokio_postgres::{Row, Transaction};

use super::{NOW, PostgresBackend};
use crate::outbox::{NewNotice, Notice, NoticeCounts, NoticeStatus};

/// Advisory lock class of the per-recipient limit (the two-key form, apart
/// from the migration lock's single key).
const RECIPIENT_LOCK: i32 = 0x6e6f_7469; // "noti"

/// The columns of a [`Notice`], in [`notice_row`]'s order.
const COLUMNS: &str = "message_id, mailbox, uid, via, sender, recipient, reason, status,
     attempts, created_at, next_attempt_at, sent_at, last_error";

/// A [`Notice`] from a row of [`COLUMNS`] (without its bytes).
fn notice_row(r: &Row) -> Notice {
    let status: String = r.get(7);
    Notice {
        message_id: r.get(0),
        mailbox: r.get(1),
        uid: r.get(2),
        via: r.get(3),
        sender: r.get(4),
        recipient: r.get(5),
        reason: r.get(6),
        raw: Vec::new(),
        status: NoticeStatus::parse(&status).unwrap_or(NoticeStatus::Failed),
        attempts: r.get::<_, i32>(8) as u32,
        created_at: r.get(9),
        next_attempt_at: r.get(10),
        sent_at: r.get(11),
        last_error: r.get(12),
    }
}

/// Queue `notices` of `mailbox` in `tx` (fenced by the caller): pending, or
/// suppressed when the recipient already has its limit of notices (queued
/// or sent) from the last 24 hours. A Message-ID the outbox holds (a
/// replayed message) is left as it is.
pub(super) async fn queue_in(
    tx: &Transaction<'_>,
    mailbox: &str,
    notices: &[NewNotice],
) -> Result<(), tokio_postgres::Error> {
    if notices.is_empty() {
        return Ok(());
    }
    // One lock per recipient, taken in one order by every host: concurrent
    // batches to one tester are counted one after the other, and never
    // deadlock on each other.
    let mut recipients: Vec<String> = notices.iter().map(|n| n.recipient.to_lowercase()).collect();
    recipients.sort();
    recipients.dedup();
    for r in &recipients {
        tx.execute(
            "SELECT pg_advisory_xact_lock($1, hashtext($2))",
            &[&RECIPIENT_LOCK, r],
        )
        .await?;
    }
    let insert = tx
        .prepare(&format!(
            "INSERT INTO notices (message_id, mailbox, uid, via, sender, recipient, reason, raw,
                                  status, created_at, next_attempt_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8,
                     CASE WHEN (SELECT count(*) FROM notices
                                WHERE lower(recipient) = lower($6::text)
                                  AND created_at > {NOW} - 86400
                                  AND status <> 'suppressed') >= $9::bigint
                          THEN 'suppressed' ELSE 'pending' END,
                     {NOW}, {NOW})
             ON CONFLICT (message_id) DO NOTHING"
        ))
        .await?;
    for n in notices {
        tx.execute(
            &insert,
            &[
                &n.message_id,
                &mailbox,
                &n.uid,
                &n.via,
                &n.sender,
                &n.recipient,
                &n.reason,
                &n.raw,
                &i64::from(n.per_recipient_per_day),
            ],
        )
        .await?;
    }
    Ok(())
}

impl PostgresBackend {
    /// The claim's length in seconds, as the database counts them.
    fn claim_secs(&self) -> i64 {
        self.opts.notice_claim_ttl.as_secs() as i64
    }

    /// Claim up to `limit` pending notices due at `now` that no other host
    /// holds (unclaimed, this host's own, or with an expired claim), oldest
    /// first, with their bytes.
    pub(super) async fn claim_due(&self, now: i64, limit: usize) -> anyhow::Result<Vec<Notice>> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "UPDATE notices SET claimed_by = $1, claim_expires_at = {NOW} + $2
                     WHERE message_id IN (
                         SELECT message_id FROM notices
                         WHERE status = 'pending' AND next_attempt_at <= $3
                           AND (claimed_by IS NULL OR claimed_by = $1
                                OR claim_expires_at <= {NOW})
                         ORDER BY next_attempt_at, created_at
                         LIMIT $4
                         FOR UPDATE SKIP LOCKED)
                     RETURNING {COLUMNS}, raw"
                ),
                &[
                    &self.opts.host_id,
                    &self.claim_secs(),
                    &now,
                    &(limit as i64),
                ],
            )
            .await
            .context("claiming due notices")?;
        let mut due: Vec<Notice> = rows
            .iter()
            .map(|r| {
                let mut n = notice_row(r);
                n.raw = r.get(13);
                n
            })
            .collect();
        due.sort_by(|a, b| {
            (a.next_attempt_at, a.created_at).cmp(&(b.next_attempt_at, b.created_at))
        });
        Ok(due)
    }

    /// Renew this host's claim on `message_id` just before sending it:
    /// `false` when another host took it over (or it is no longer pending).
    pub(super) async fn hold(&self, message_id: &str) -> anyhow::Result<bool> {
        let client = self.client().await?;
        let n = client
            .execute(
                &format!(
                    "UPDATE notices SET claim_expires_at = {NOW} + $3
                     WHERE message_id = $1 AND claimed_by = $2 AND status = 'pending'"
                ),
                &[&message_id, &self.opts.host_id, &self.claim_secs()],
            )
            .await
            .with_context(|| format!("renewing the claim on notice {message_id:?}"))?;
        Ok(n == 1)
    }

    /// Give up this host's claims on `message_ids` (not tried this round).
    pub(super) async fn release_claims(&self, message_ids: Vec<String>) -> anyhow::Result<()> {
        if message_ids.is_empty() {
            return Ok(());
        }
        let client = self.client().await?;
        client
            .execute(
                "UPDATE notices SET claimed_by = NULL, claim_expires_at = NULL
                 WHERE message_id = ANY($1) AND claimed_by = $2 AND status = 'pending'",
                &[&message_ids, &self.opts.host_id],
            )
            .await
            .context("releasing claims on notices")?;
        Ok(())
    }

    /// Whether `n` rows changed; a mark that changed nothing means another
    /// host holds the notice now, which is logged.
    fn marked(&self, message_id: &str, n: u64, what: &str) {
        if n == 0 {
            tracing::warn!(notice = %message_id, host = %self.opts.host_id,
                "notice not marked {what}: another host took it over after this host's claim \
                 expired (it may be sent twice, with the same Message-ID)");
        }
    }

    /// Mark `message_id` sent, if this host still holds its claim.
    pub(super) async fn mark_sent(&self, message_id: &str, at: i64) -> anyhow::Result<()> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE notices SET status = 'sent', sent_at = $2, attempts = attempts + 1,
                                    last_error = NULL, claimed_by = NULL, claim_expires_at = NULL
                 WHERE message_id = $1 AND claimed_by = $3 AND status = 'pending'",
                &[&message_id, &at, &self.opts.host_id],
            )
            .await
            .with_context(|| format!("marking notice {message_id:?} sent"))?;
        self.marked(message_id, n, "sent");
        Ok(())
    }

    /// Count a failed attempt (retry at `retry_at`, or failed for good) and
    /// free the claim, if this host still holds it.
    pub(super) async fn mark_failed(
        &self,
        message_id: &str,
        retry_at: Option<i64>,
        error: &str,
    ) -> anyhow::Result<()> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE notices SET attempts = attempts + 1, last_error = $3,
                                    status = CASE WHEN $2::bigint IS NULL THEN 'failed' ELSE 'pending' END,
                                    next_attempt_at = coalesce($2, next_attempt_at),
                                    claimed_by = NULL, claim_expires_at = NULL
                 WHERE message_id = $1 AND claimed_by = $4 AND status = 'pending'",
                &[&message_id, &retry_at, &error, &self.opts.host_id],
            )
            .await
            .with_context(|| format!("recording a failed attempt of notice {message_id:?}"))?;
        self.marked(message_id, n, "failed");
        Ok(())
    }

    /// Notices, newest first, without their bytes.
    pub(super) async fn list(
        &self,
        mailbox: Option<String>,
        status: Option<NoticeStatus>,
        limit: usize,
    ) -> anyhow::Result<Vec<Notice>> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM notices
                     WHERE ($1::text IS NULL OR mailbox = $1) AND ($2::text IS NULL OR status = $2)
                     ORDER BY created_at DESC, message_id LIMIT $3"
                ),
                &[&mailbox, &status.map(NoticeStatus::as_str), &(limit as i64)],
            )
            .await
            .context("listing notices")?;
        Ok(rows.iter().map(notice_row).collect())
    }

    /// Queue failed notices again, due at `now`: those named, or every
    /// failed one of `mailbox` (or of all). How many.
    pub(super) async fn retry(
        &self,
        message_ids: Vec<String>,
        mailbox: Option<String>,
        now: i64,
    ) -> anyhow::Result<u64> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE notices SET status = 'pending', attempts = 0, next_attempt_at = $1,
                                    claimed_by = NULL, claim_expires_at = NULL
                 WHERE status = 'failed'
                   AND (cardinality($2::text[]) > 0 OR $3::text IS NULL OR mailbox = $3)
                   AND (cardinality($2::text[]) = 0 OR message_id = ANY($2))",
                &[&now, &message_ids, &mailbox],
            )
            .await
            .context("queueing failed notices again")?;
        Ok(n)
    }

    /// How many notices of `mailbox` are in each status.
    pub(super) async fn counts(&self, mailbox: &str) -> anyhow::Result<NoticeCounts> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT status, count(*) FROM notices WHERE mailbox = $1 GROUP BY status",
                &[&mailbox],
            )
            .await
            .with_context(|| format!("counting the notices of mailbox {mailbox:?}"))?;
        let mut c = NoticeCounts::default();
        for r in &rows {
            c.set(r.get(0), r.get(1));
        }
        Ok(c)
    }
}
