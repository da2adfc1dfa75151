//! Durable ingestion state in SQLite: which messages of which mailbox were
//! committed, with what outcome, and which were deleted from the server.
//!
//! Every popline SQLite file has one schema, versioned by `PRAGMA
//! user_version` and built by [`MIGRATIONS`]: the state tables (`messages`,
//! `polls`) and the sqlite sink's `feedback` table. One migration history per
//! file means the state and a sqlite sink can share a file without two
//! version counters disagreeing; a file used by only one of them simply has
//! the other's tables empty.
//!
//! Durability: WAL journal with `synchronous=FULL`, so a transaction is on
//! disk when its commit returns. A batch is one transaction (one fsync).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use popline_core::clock::unix_now;

use crate::backend::{
    Committed, Fingerprint, Joined, MailboxStatus, Oversized, Seen, StateBackend,
};
use crate::outbox::{NewNotice, Notice, NoticeCounts, NoticeStatus};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

/// How long a statement waits for another connection's lock (another
/// process, or the sqlite sink sharing the file) before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Schema steps; step `i` takes the file from version `i` to `i + 1`.
/// Append only: never edit a step that has shipped.
const MIGRATIONS: &[&str] = &[
    // 1: ingestion state, poll bookkeeping, the sqlite sink's records.
    "CREATE TABLE messages (
         mailbox        TEXT    NOT NULL,
         uid            TEXT    NOT NULL,
         message_id     TEXT,
         sha256         TEXT    NOT NULL,
         size           INTEGER NOT NULL,
         outcome        TEXT    NOT NULL
             CHECK (outcome IN ('feedback', 'skipped', 'duplicate', 'dead_letter')),
         -- feedback: record count; otherwise NULL
         records        INTEGER,
         -- skipped/dead_letter: the reason; duplicate: the original uid
         outcome_detail TEXT,
         committed_at   INTEGER NOT NULL,
         deleted_at     INTEGER,
         PRIMARY KEY (mailbox, uid)
     ) WITHOUT ROWID;
     CREATE INDEX messages_by_sha256 ON messages (mailbox, sha256);
     CREATE INDEX messages_by_message_id ON messages (mailbox, message_id);

     CREATE TABLE polls (
         mailbox              TEXT    PRIMARY KEY,
         last_at              INTEGER NOT NULL,
         last_ok              INTEGER NOT NULL,
         last_summary         TEXT    NOT NULL,
         last_ok_at           INTEGER,
         consecutive_failures INTEGER NOT NULL
     );

     CREATE TABLE feedback (
         id             TEXT PRIMARY KEY,
         pipeline       TEXT NOT NULL,
         mailbox        TEXT NOT NULL,
         uid            TEXT,
         target         TEXT,
         kind           TEXT NOT NULL,
         author_address TEXT NOT NULL,
         author_name    TEXT,
         subject        TEXT,
         body_text      TEXT NOT NULL,
         received_at    TEXT NOT NULL,
         match_method   TEXT,
         match_value    TEXT,
         -- the full record as JSON (popline.feedback/1)
         record         TEXT NOT NULL
     );
     CREATE INDEX feedback_by_target ON feedback (pipeline, target);",
    // 2: messages left on the server for their size (`oversize = "skip"`),
    // with the headers TOP showed, so operators can see and act on them.
    "CREATE TABLE oversized (
         mailbox     TEXT    NOT NULL,
         uid         TEXT    NOT NULL,
         size        INTEGER NOT NULL,
         message_id  TEXT,
         sender      TEXT,
         subject     TEXT,
         -- Unix seconds of the first poll that saw it
         seen_at     INTEGER NOT NULL,
         PRIMARY KEY (mailbox, uid)
     ) WITHOUT ROWID;",
    // 3: the sqlite sink's attachment bytes, content-addressed; a record's
    // `attachments[].sha256` is the key.
    "CREATE TABLE attachments (
         sha256       TEXT    PRIMARY KEY,
         content_type TEXT    NOT NULL,
         size         INTEGER NOT NULL,
         data         BLOB    NOT NULL
     );",
    // 4: a digest of the body (everything after the header section), so a
    // Message-ID match only counts as a duplicate when the content agrees.
    "ALTER TABLE messages ADD COLUMN body_sha256 TEXT;",
    // 5: a DELE sent and a QUIT about to be: once QUIT succeeds the server
    // may have applied it, whether or not `deleted_at` got recorded.
    "ALTER TABLE messages ADD COLUMN delete_pending INTEGER NOT NULL DEFAULT 0;",
    // 6: the notice outbox (see `outbox.rs`), written with the outcomes.
    "CREATE TABLE notices (
         message_id      TEXT    PRIMARY KEY,
         mailbox         TEXT    NOT NULL,
         uid             TEXT    NOT NULL,
         via             TEXT    NOT NULL,
         sender          TEXT    NOT NULL,
         recipient       TEXT    NOT NULL COLLATE NOCASE,
         reason          TEXT    NOT NULL,
         raw             BLOB    NOT NULL,
         status          TEXT    NOT NULL
             CHECK (status IN ('pending', 'sent', 'failed', 'suppressed')),
         attempts        INTEGER NOT NULL DEFAULT 0,
         created_at      INTEGER NOT NULL,
         next_attempt_at INTEGER NOT NULL,
         sent_at         INTEGER,
         last_error      TEXT
     );
     CREATE INDEX notices_due ON notices (status, next_attempt_at);
     CREATE INDEX notices_by_recipient ON notices (recipient, created_at);",
];

/// Queue one notice: pending, or suppressed when its recipient already has
/// `?9` notices (queued or sent) from the last 24 hours. A Message-ID the
/// outbox holds (a replayed message) is left as it is.
const QUEUE_NOTICE: &str = "INSERT INTO notices (message_id, mailbox, uid, via, sender, recipient,
                              reason, raw, status, created_at, next_attempt_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,
             CASE WHEN (SELECT count(*) FROM notices
                        WHERE recipient = ?6 AND created_at > ?10 - 86400
                          AND status != 'suppressed') >= ?9
                  THEN 'suppressed' ELSE 'pending' END,
             ?10, ?10)
     ON CONFLICT (message_id) DO NOTHING";

/// The columns of a [`Notice`], in [`notice_row`]'s order.
const NOTICE_COLUMNS: &str = "message_id, mailbox, uid, via, sender, recipient, reason, status,
     attempts, created_at, next_attempt_at, sent_at, last_error";

/// [`SqliteState::find_duplicate`]'s query: two indexed lookups, not one `OR`,
/// which SQLite answers by scanning every row of the mailbox (O(n) per
/// message; a test checks the plan).
const FIND_DUPLICATE: &str = "SELECT uid FROM (
     SELECT uid, 1 AS exact, outcome, committed_at
     FROM messages INDEXED BY messages_by_sha256
     WHERE mailbox = ?1 AND sha256 = ?2
     UNION ALL
     SELECT uid, 0, outcome, committed_at
     FROM messages INDEXED BY messages_by_message_id
     WHERE mailbox = ?1 AND message_id = ?3
       AND (body_sha256 IS NULL OR ?4 IS NULL OR body_sha256 = ?4))
 ORDER BY exact DESC, outcome = 'duplicate', committed_at, uid
 LIMIT 1";

/// The state database, used synchronously. Writes take `&mut self`; the
/// pipeline uses it through [`SqliteBackend`].
pub struct SqliteState {
    conn: Connection,
    path: PathBuf,
}

impl SqliteState {
    /// Open (creating it and its parent folders if missing) and migrate the
    /// state database at `path`.
    pub fn open(path: &Path) -> anyhow::Result<SqliteState> {
        let conn = open_database(path)?;
        Ok(SqliteState {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// Every committed unique id of `mailbox`.
    pub fn seen(&self, mailbox: &str) -> anyhow::Result<HashMap<String, Seen>> {
        let read = || -> rusqlite::Result<HashMap<String, Seen>> {
            let mut stmt = self.conn.prepare_cached(
                "SELECT uid, committed_at, deleted_at IS NOT NULL OR delete_pending
                 FROM messages WHERE mailbox = ?1",
            )?;
            stmt.query_map([mailbox], |row| {
                Ok((
                    row.get(0)?,
                    Seen {
                        committed_at: row.get(1)?,
                        deleted: row.get(2)?,
                    },
                ))
            })?
            .collect()
        };
        read().with_context(|| {
            format!(
                "reading the committed messages of mailbox {mailbox:?} from {}",
                self.path.display()
            )
        })
    }

    /// Dedupe for servers with unstable UIDLs: a committed message in this
    /// mailbox with the same SHA-256, or with the same Message-ID and the
    /// same body (the same mail delivered again with other trace headers);
    /// returns its uid. A different message that merely reuses a Message-ID
    /// (broken senders do) is not a duplicate. Rows recorded before body
    /// digests existed match on Message-ID alone.
    ///
    /// A content match wins over a Message-ID match, and an original over a
    /// message that was itself recorded as a duplicate, so `of_uid` chains
    /// stay one link long.
    pub fn find_duplicate(
        &self,
        mailbox: &str,
        message_id: Option<&str>,
        sha256: &str,
        body_sha256: Option<&str>,
    ) -> anyhow::Result<Option<String>> {
        self.conn
            .prepare_cached(FIND_DUPLICATE)
            .and_then(|mut stmt| {
                stmt.query_row(params![mailbox, sha256, message_id, body_sha256], |row| {
                    row.get(0)
                })
                .optional()
            })
            .with_context(|| {
                format!(
                    "looking up duplicates in mailbox {mailbox:?} in {}",
                    self.path.display()
                )
            })
    }

    /// Record a batch of committed messages in one transaction (group
    /// commit: one fsync). All or nothing. Recording a uid again replaces its
    /// row; its deletion mark survives only if the content is the same.
    pub fn record_batch(&mut self, mailbox: &str, batch: &[Committed]) -> anyhow::Result<()> {
        self.record_batch_with_notices(mailbox, batch, &[])
    }

    /// [`SqliteState::record_batch`], queueing `notices` in the same
    /// transaction.
    pub fn record_batch_with_notices(
        &mut self,
        mailbox: &str,
        batch: &[Committed],
        notices: &[NewNotice],
    ) -> anyhow::Result<()> {
        let now = unix_now();
        let write = |conn: &mut Connection| -> rusqlite::Result<()> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            {
                let mut stmt = tx.prepare_cached(
                    "INSERT INTO messages (mailbox, uid, message_id, sha256, size, outcome,
                                           records, outcome_detail, committed_at, body_sha256)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                     ON CONFLICT (mailbox, uid) DO UPDATE SET
                         message_id = excluded.message_id,
                         body_sha256 = excluded.body_sha256,
                         size = excluded.size,
                         outcome = excluded.outcome,
                         records = excluded.records,
                         outcome_detail = excluded.outcome_detail,
                         committed_at = excluded.committed_at,
                         -- a reused uid naming different content is a new message
                         deleted_at = CASE WHEN sha256 = excluded.sha256
                                           THEN deleted_at END,
                         delete_pending = CASE WHEN sha256 = excluded.sha256
                                               THEN delete_pending ELSE 0 END,
                         sha256 = excluded.sha256",
                )?;
                for c in batch {
                    let (outcome, records, detail) = c.outcome.columns();
                    // SQLite integers are i64.
                    let size = i64::try_from(c.size)
                        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
                    stmt.execute(params![
                        mailbox,
                        c.uid,
                        c.message_id,
                        c.sha256,
                        size,
                        outcome,
                        records,
                        detail,
                        now,
                        c.body_sha256
                    ])?;
                }
                // Committed after all (a raised bound): no longer oversized.
                let mut unlist =
                    tx.prepare_cached("DELETE FROM oversized WHERE mailbox = ?1 AND uid = ?2")?;
                for c in batch {
                    unlist.execute(params![mailbox, c.uid])?;
                }
            }
            queue_notices(&tx, mailbox, notices, now)?;
            tx.commit()
        };
        write(&mut self.conn).with_context(|| {
            format!(
                "recording {} committed messages of mailbox {mailbox:?} in {}",
                batch.len(),
                self.path.display()
            )
        })
    }

    /// Record, before QUIT, that these unique ids were sent `DELE`: from now
    /// on the state cannot tell whether the server applied it, so a later
    /// listing of the uid is fetched and compared, never deleted unread.
    pub fn mark_deleting(&mut self, mailbox: &str, uids: &[String]) -> anyhow::Result<()> {
        let write = |conn: &mut Connection| -> rusqlite::Result<()> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            {
                let mut stmt = tx.prepare_cached(
                    "UPDATE messages SET delete_pending = 1 WHERE mailbox = ?1 AND uid = ?2",
                )?;
                for uid in uids {
                    stmt.execute(params![mailbox, uid])?;
                }
            }
            tx.commit()
        };
        write(&mut self.conn).with_context(|| {
            format!(
                "recording {} pending deletions of mailbox {mailbox:?} in {}",
                uids.len(),
                self.path.display()
            )
        })
    }

    /// Mark unique ids as deleted from the server, in one transaction.
    /// Unknown ids are ignored (and logged): the deletion already happened,
    /// failing here would only hide that.
    pub fn mark_deleted(&mut self, mailbox: &str, uids: &[String]) -> anyhow::Result<()> {
        let now = unix_now();
        let write = |conn: &mut Connection| -> rusqlite::Result<usize> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut unknown = 0;
            {
                let mut stmt = tx.prepare_cached(
                    "UPDATE messages SET deleted_at = coalesce(deleted_at, ?3), delete_pending = 0
                     WHERE mailbox = ?1 AND uid = ?2",
                )?;
                for uid in uids {
                    if stmt.execute(params![mailbox, uid, now])? == 0 {
                        unknown += 1;
                    }
                }
            }
            tx.commit()?;
            Ok(unknown)
        };
        let unknown = write(&mut self.conn).with_context(|| {
            format!(
                "marking {} messages of mailbox {mailbox:?} deleted in {}",
                uids.len(),
                self.path.display()
            )
        })?;
        if unknown > 0 {
            tracing::warn!(
                mailbox,
                unknown,
                "deleted messages that were never recorded as committed"
            );
        }
        Ok(())
    }

    /// Every oversized message of `mailbox` still on record, largest first.
    pub fn oversized(&self, mailbox: &str) -> anyhow::Result<Vec<Oversized>> {
        let read = || -> rusqlite::Result<Vec<Oversized>> {
            self.conn
                .prepare_cached(
                    "SELECT uid, size, message_id, sender, subject FROM oversized
                     WHERE mailbox = ?1 ORDER BY size DESC, uid",
                )?
                .query_map([mailbox], |row| {
                    Ok(Oversized {
                        uid: row.get(0)?,
                        size: row.get::<_, i64>(1)? as u64,
                        message_id: row.get(2)?,
                        sender: row.get(3)?,
                        subject: row.get(4)?,
                    })
                })?
                .collect()
        };
        read().with_context(|| {
            format!(
                "reading the oversized messages of mailbox {mailbox:?} from {}",
                self.path.display()
            )
        })
    }

    /// Record oversized messages (a uid already recorded keeps its row), and
    /// forget those of `mailbox` that are no longer listed (`listed`: every
    /// uid the server listed this poll), so the record mirrors the server.
    pub fn record_oversized(
        &mut self,
        mailbox: &str,
        found: &[Oversized],
        listed: &HashSet<String>,
    ) -> anyhow::Result<()> {
        let now = unix_now();
        let write = |conn: &mut Connection| -> rusqlite::Result<()> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT OR IGNORE INTO oversized
                         (mailbox, uid, size, message_id, sender, subject, seen_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?;
                for o in found {
                    insert.execute(params![
                        mailbox,
                        o.uid,
                        i64::try_from(o.size).unwrap_or(i64::MAX),
                        o.message_id,
                        o.sender,
                        o.subject,
                        now
                    ])?;
                }
                let gone: Vec<String> = tx
                    .prepare_cached("SELECT uid FROM oversized WHERE mailbox = ?1")?
                    .query_map([mailbox], |row| row.get::<_, String>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()?
                    .into_iter()
                    .filter(|uid| !listed.contains(uid))
                    .collect();
                let mut delete =
                    tx.prepare_cached("DELETE FROM oversized WHERE mailbox = ?1 AND uid = ?2")?;
                for uid in gone {
                    delete.execute(params![mailbox, uid])?;
                }
            }
            tx.commit()
        };
        write(&mut self.conn).with_context(|| {
            format!(
                "recording oversized messages of mailbox {mailbox:?} in {}",
                self.path.display()
            )
        })
    }

    /// Record the result of one poll of `mailbox` at `at` (Unix seconds):
    /// the last poll, the last successful one, and the failure streak.
    pub fn record_poll(
        &mut self,
        mailbox: &str,
        at: i64,
        ok: bool,
        summary: &str,
    ) -> anyhow::Result<()> {
        self.conn
            .execute(
                "INSERT INTO polls (mailbox, last_at, last_ok, last_summary, last_ok_at,
                                    consecutive_failures)
                 VALUES (?1, ?2, ?3, ?4, CASE WHEN ?3 THEN ?2 END, CASE WHEN ?3 THEN 0 ELSE 1 END)
                 ON CONFLICT (mailbox) DO UPDATE SET
                     last_at = excluded.last_at,
                     last_ok = excluded.last_ok,
                     last_summary = excluded.last_summary,
                     last_ok_at = coalesce(excluded.last_ok_at, last_ok_at),
                     consecutive_failures = CASE WHEN excluded.last_ok THEN 0
                                                 ELSE consecutive_failures + 1 END",
                params![mailbox, at, ok, summary],
            )
            .with_context(|| {
                format!(
                    "recording a poll of mailbox {mailbox:?} in {}",
                    self.path.display()
                )
            })?;
        Ok(())
    }
}

impl SqliteState {
    /// Read the schema version: the file is open and readable.
    pub fn ping(&self) -> anyhow::Result<()> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
            .with_context(|| format!("state database {} does not answer", self.path.display()))?;
        Ok(())
    }

    /// Poll bookkeeping and message counts for one mailbox.
    pub fn status(&self, mailbox: &str) -> anyhow::Result<MailboxStatus> {
        let mut st = MailboxStatus::default();
        let row = self
            .conn
            .query_row(
                "SELECT last_at, last_ok, last_summary, last_ok_at, consecutive_failures
                 FROM polls WHERE mailbox = ?1",
                params![mailbox],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()
            .with_context(|| format!("reading poll state from {}", self.path.display()))?;
        if let Some((at, ok, summary, ok_at, fails)) = row {
            st.last = Some((at, ok, summary));
            st.last_ok_at = ok_at;
            st.consecutive_failures = fails;
        }
        let mut stmt = self
            .conn
            .prepare("SELECT outcome, count(*) FROM messages WHERE mailbox = ?1 GROUP BY outcome ORDER BY outcome")?;
        st.outcomes = stmt
            .query_map(params![mailbox], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        st.oversized = self.conn.query_row(
            "SELECT count(*) FROM oversized WHERE mailbox = ?1",
            params![mailbox],
            |r| r.get(0),
        )?;
        Ok(st)
    }
}

/// Insert `notices` in transaction `tx` ([`QUEUE_NOTICE`]).
fn queue_notices(
    tx: &rusqlite::Transaction<'_>,
    mailbox: &str,
    notices: &[NewNotice],
    now: i64,
) -> rusqlite::Result<()> {
    let mut stmt = tx.prepare_cached(QUEUE_NOTICE)?;
    for n in notices {
        stmt.execute(params![
            n.message_id,
            mailbox,
            n.uid,
            n.via,
            n.sender,
            n.recipient,
            n.reason,
            n.raw,
            n.per_recipient_per_day,
            now
        ])?;
    }
    Ok(())
}

/// A [`Notice`] from a row of [`NOTICE_COLUMNS`] (without its bytes).
fn notice_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Notice> {
    let status: String = r.get(7)?;
    Ok(Notice {
        message_id: r.get(0)?,
        mailbox: r.get(1)?,
        uid: r.get(2)?,
        via: r.get(3)?,
        sender: r.get(4)?,
        recipient: r.get(5)?,
        reason: r.get(6)?,
        raw: Vec::new(),
        status: NoticeStatus::parse(&status).unwrap_or(NoticeStatus::Failed),
        attempts: r.get(8)?,
        created_at: r.get(9)?,
        next_attempt_at: r.get(10)?,
        sent_at: r.get(11)?,
        last_error: r.get(12)?,
    })
}

impl SqliteState {
    /// Queue notices on their own, in one transaction.
    pub fn queue_notices(&mut self, mailbox: &str, notices: &[NewNotice]) -> anyhow::Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        queue_notices(&tx, mailbox, notices, unix_now())?;
        tx.commit()
            .with_context(|| format!("queueing notices in {}", self.path.display()))
    }

    /// Pending notices due at `now`, with their bytes.
    pub fn due_notices(&self, now: i64, limit: usize) -> anyhow::Result<Vec<Notice>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {NOTICE_COLUMNS}, raw FROM notices
             WHERE status = 'pending' AND next_attempt_at <= ?1
             ORDER BY next_attempt_at, created_at LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![now, limit as i64], |r| {
            let mut n = notice_row(r)?;
            n.raw = r.get(13)?;
            Ok(n)
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Mark a notice sent.
    pub fn notice_sent(&mut self, message_id: &str, at: i64) -> anyhow::Result<()> {
        self.conn.execute(
            "UPDATE notices SET status = 'sent', sent_at = ?2, attempts = attempts + 1,
                                last_error = NULL
             WHERE message_id = ?1",
            params![message_id, at],
        )?;
        Ok(())
    }

    /// Count a failed attempt: retry at `retry_at`, or failed for good.
    pub fn notice_attempt_failed(
        &mut self,
        message_id: &str,
        retry_at: Option<i64>,
        error: &str,
    ) -> anyhow::Result<()> {
        self.conn.execute(
            "UPDATE notices SET attempts = attempts + 1, last_error = ?3,
                                status = CASE WHEN ?2 IS NULL THEN 'failed' ELSE 'pending' END,
                                next_attempt_at = coalesce(?2, next_attempt_at)
             WHERE message_id = ?1 AND status = 'pending'",
            params![message_id, retry_at, error],
        )?;
        Ok(())
    }

    /// Notices, newest first, without bytes.
    pub fn notices(
        &self,
        mailbox: Option<&str>,
        status: Option<NoticeStatus>,
        limit: usize,
    ) -> anyhow::Result<Vec<Notice>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {NOTICE_COLUMNS} FROM notices
             WHERE (?1 IS NULL OR mailbox = ?1) AND (?2 IS NULL OR status = ?2)
             ORDER BY created_at DESC, message_id LIMIT ?3"
        ))?;
        let rows = stmt.query_map(
            params![mailbox, status.map(NoticeStatus::as_str), limit as i64],
            notice_row,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Queue failed notices again (those named, or every failed one of
    /// `mailbox` or of all).
    pub fn retry_notices(
        &mut self,
        message_ids: &[String],
        mailbox: Option<&str>,
    ) -> anyhow::Result<u64> {
        let now = unix_now();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut n = 0;
        {
            const AGAIN: &str = "UPDATE notices SET status = 'pending', attempts = 0,
                                                   next_attempt_at = ?1";
            if message_ids.is_empty() {
                n += tx.execute(
                    &format!("{AGAIN} WHERE status = 'failed' AND (?2 IS NULL OR mailbox = ?2)"),
                    params![now, mailbox],
                )?;
            } else {
                let mut stmt = tx.prepare_cached(&format!(
                    "{AGAIN} WHERE status = 'failed' AND message_id = ?2"
                ))?;
                for id in message_ids {
                    n += stmt.execute(params![now, id])?;
                }
            }
        }
        tx.commit()?;
        Ok(n as u64)
    }

    /// Notices of `mailbox` by status.
    pub fn notice_counts(&self, mailbox: &str) -> anyhow::Result<NoticeCounts> {
        let mut c = NoticeCounts::default();
        let mut stmt = self.conn.prepare_cached(
            "SELECT status, count(*) FROM notices WHERE mailbox = ?1 GROUP BY status",
        )?;
        let rows = stmt.query_map(params![mailbox], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })?;
        for row in rows {
            let (status, n) = row?;
            c.set(&status, n);
        }
        Ok(c)
    }
}

/// The SQLite state as a [`StateBackend`]. One locking policy: every call
/// runs on tokio's blocking pool and holds the database for that one call.
#[derive(Clone)]
pub struct SqliteBackend {
    db: Arc<Mutex<SqliteState>>,
}

impl SqliteBackend {
    /// Open (creating and migrating) the state database at `path`.
    pub fn open(path: &Path) -> anyhow::Result<SqliteBackend> {
        Ok(SqliteBackend {
            db: Arc::new(Mutex::new(SqliteState::open(path)?)),
        })
    }

    /// Run `f` on the database off the async threads (its CPU time charged
    /// to the caller's `--timings` stage).
    async fn with<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut SqliteState) -> anyhow::Result<R> + Send + 'static,
    ) -> anyhow::Result<R> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(popline_core::timing::blocking(move || {
            let mut db = db.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut db)
        }))
        .await
        .map_err(|e| anyhow::anyhow!("state task failed: {e}"))?
    }
}

#[async_trait::async_trait]
impl StateBackend for SqliteBackend {
    async fn seen(&self, mailbox: &str) -> anyhow::Result<HashMap<String, Seen>> {
        let mailbox = mailbox.to_string();
        self.with(move |db| db.seen(&mailbox)).await
    }

    async fn find_duplicates(
        &self,
        mailbox: &str,
        messages: Vec<Fingerprint>,
    ) -> anyhow::Result<Vec<Option<String>>> {
        let mailbox = mailbox.to_string();
        self.with(move |db| {
            messages
                .iter()
                .map(|m| {
                    db.find_duplicate(
                        &mailbox,
                        m.message_id.as_deref(),
                        &m.sha256,
                        m.body_sha256.as_deref(),
                    )
                })
                .collect()
        })
        .await
    }

    async fn record_batch(&self, mailbox: &str, batch: Vec<Committed>) -> anyhow::Result<()> {
        let mailbox = mailbox.to_string();
        self.with(move |db| db.record_batch(&mailbox, &batch)).await
    }

    async fn mark_deleting(&self, mailbox: &str, uids: Vec<String>) -> anyhow::Result<()> {
        let mailbox = mailbox.to_string();
        self.with(move |db| db.mark_deleting(&mailbox, &uids)).await
    }

    async fn mark_deleted(&self, mailbox: &str, uids: Vec<String>) -> anyhow::Result<()> {
        let mailbox = mailbox.to_string();
        self.with(move |db| db.mark_deleted(&mailbox, &uids)).await
    }

    async fn oversized(&self, mailbox: &str) -> anyhow::Result<Vec<Oversized>> {
        let mailbox = mailbox.to_string();
        self.with(move |db| db.oversized(&mailbox)).await
    }

    async fn record_oversized(
        &self,
        mailbox: &str,
        found: Vec<Oversized>,
        listed: HashSet<String>,
    ) -> anyhow::Result<()> {
        let mailbox = mailbox.to_string();
        self.with(move |db| db.record_oversized(&mailbox, &found, &listed))
            .await
    }

    async fn record_poll(
        &self,
        mailbox: &str,
        at: i64,
        ok: bool,
        line: String,
    ) -> anyhow::Result<()> {
        let mailbox = mailbox.to_string();
        self.with(move |db| db.record_poll(&mailbox, at, ok, &line))
            .await
    }

    async fn status(&self, mailbox: &str) -> anyhow::Result<MailboxStatus> {
        let mailbox = mailbox.to_string();
        self.with(move |db| db.status(&mailbox)).await
    }

    async fn ping(&self) -> anyhow::Result<()> {
        self.with(|db| db.ping()).await
    }

    fn keeps_notices(&self) -> bool {
        true
    }

    async fn record_batch_joined(
        &self,
        mailbox: &str,
        batch: Vec<Committed>,
        joined: Joined<'_>,
    ) -> anyhow::Result<()> {
        // Feedback records join only a PostgreSQL state's commit.
        joined.refuse_unless(mailbox, false, true)?;
        let mailbox = mailbox.to_string();
        let notices = joined.notices;
        self.with(move |db| db.record_batch_with_notices(&mailbox, &batch, &notices))
            .await
    }

    async fn queue_notices(&self, mailbox: &str, notices: Vec<NewNotice>) -> anyhow::Result<()> {
        let mailbox = mailbox.to_string();
        self.with(move |db| db.queue_notices(&mailbox, &notices))
            .await
    }

    async fn due_notices(&self, now: i64, limit: usize) -> anyhow::Result<Vec<Notice>> {
        self.with(move |db| db.due_notices(now, limit)).await
    }

    async fn notice_sent(&self, message_id: &str, at: i64) -> anyhow::Result<()> {
        let id = message_id.to_string();
        self.with(move |db| db.notice_sent(&id, at)).await
    }

    async fn notice_attempt_failed(
        &self,
        message_id: &str,
        retry_at: Option<i64>,
        error: String,
    ) -> anyhow::Result<()> {
        let id = message_id.to_string();
        self.with(move |db| db.notice_attempt_failed(&id, retry_at, &error))
            .await
    }

    async fn notices(
        &self,
        mailbox: Option<String>,
        status: Option<NoticeStatus>,
        limit: usize,
    ) -> anyhow::Result<Vec<Notice>> {
        self.with(move |db| db.notices(mailbox.as_deref(), status, limit))
            .await
    }

    async fn retry_notices(
        &self,
        message_ids: Vec<String>,
        mailbox: Option<String>,
    ) -> anyhow::Result<u64> {
        self.with(move |db| db.retry_notices(&message_ids, mailbox.as_deref()))
            .await
    }

    async fn notice_counts(&self, mailbox: &str) -> anyhow::Result<NoticeCounts> {
        let mailbox = mailbox.to_string();
        self.with(move |db| db.notice_counts(&mailbox)).await
    }
}

/// Open a popline SQLite file: create parent folders, set WAL,
/// `synchronous=FULL` and the busy timeout, and migrate the schema.
/// Shared by [`SqliteState`] and the sqlite sink.
pub fn open_database(path: &Path) -> anyhow::Result<Connection> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| {
            format!("creating the folder {} for the database", parent.display())
        })?;
    }
    let mut conn = Connection::open(path)
        .with_context(|| format!("opening SQLite database {}", path.display()))?;
    configure(&conn).with_context(|| format!("configuring SQLite database {}", path.display()))?;
    migrate(&mut conn, path, MIGRATIONS)?;
    Ok(conn)
}

fn configure(conn: &Connection) -> anyhow::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        // Durability does not depend on WAL (synchronous=FULL covers the
        // rollback journal too); concurrency between readers and the writer does.
        tracing::warn!(
            journal_mode = %mode,
            "SQLite refused WAL mode (a network filesystem?); readers will block the writer"
        );
    }
    // FULL: the WAL is fsynced at every commit, so a returned commit survives
    // power loss (NORMAL would only protect against application crashes).
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(())
}

/// Apply `steps[user_version..]` in one transaction, then set
/// `user_version` to `steps.len()`. Refuse a file from a newer popline.
fn migrate(conn: &mut Connection, path: &Path, steps: &[&str]) -> anyhow::Result<()> {
    let latest = steps.len() as i64;
    // IMMEDIATE: two processes opening a fresh file at once serialise here
    // instead of both trying to create the tables.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .with_context(|| format!("locking {} to check its schema", path.display()))?;
    let version: i64 = tx
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .with_context(|| format!("reading the schema version of {}", path.display()))?;
    if version > latest {
        bail!(
            "{} has schema version {version}, but this popline only knows versions up to \
             {latest}: it was written by a newer popline. Run that newer version, or point \
             this one at another file.",
            path.display()
        );
    }
    if version == latest {
        return Ok(());
    }
    for (i, step) in steps.iter().enumerate().skip(version as usize) {
        tx.execute_batch(step).with_context(|| {
            format!(
                "migrating {} from schema version {i} to {}",
                path.display(),
                i + 1
            )
        })?;
    }
    tx.pragma_update(None, "user_version", latest)
        .and_then(|()| tx.commit())
        .with_context(|| {
            format!(
                "committing the schema migration of {} to version {latest}",
                path.display()
            )
        })?;
    tracing::info!(path = %path.display(), from = version, to = latest, "migrated database schema");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Disposition;

    fn committed(
        uid: &str,
        sha: &str,
        message_id: Option<&str>,
        outcome: Disposition,
    ) -> Committed {
        Committed {
            uid: uid.to_string(),
            message_id: message_id.map(str::to_string),
            sha256: sha.to_string(),
            body_sha256: Some(format!("body-{sha}")),
            size: 1234,
            outcome,
        }
    }

    fn feedback(n: u32) -> Disposition {
        Disposition::Feedback { records: n }
    }

    fn user_version(conn: &Connection) -> i64 {
        conn.pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn a_pending_deletion_counts_as_deleted_until_recorded_or_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let mut st = SqliteState::open(&dir.path().join("s.db")).unwrap();
        st.record_batch("m", &[committed("u1", "aa", None, feedback(1))])
            .unwrap();
        assert!(!st.seen("m").unwrap()["u1"].deleted);
        st.mark_deleting("m", &["u1".to_string()]).unwrap();
        assert!(
            st.seen("m").unwrap()["u1"].deleted,
            "QUIT may have applied it"
        );
        st.mark_deleted("m", &["u1".to_string()]).unwrap();
        assert!(st.seen("m").unwrap()["u1"].deleted);

        // A reused uid with other content is a new message, pending nothing.
        st.record_batch("m", &[committed("u2", "bb", None, feedback(1))])
            .unwrap();
        st.mark_deleting("m", &["u2".to_string()]).unwrap();
        st.record_batch("m", &[committed("u2", "cc", None, feedback(1))])
            .unwrap();
        assert!(!st.seen("m").unwrap()["u2"].deleted);
    }

    #[test]
    fn open_creates_parent_folders_and_sets_durable_pragmas() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/state.db");
        let store = SqliteState::open(&path).unwrap();
        assert!(path.is_file());
        let mode: String = store
            .conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        // 2 = FULL
        let sync: i64 = store
            .conn
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 2);
        assert_eq!(user_version(&store.conn), MIGRATIONS.len() as i64);
    }

    #[test]
    fn records_are_seen_after_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let mut store = SqliteState::open(&path).unwrap();
        store
            .record_batch(
                "beta",
                &[
                    committed("u1", "s1", Some("<1@x>"), feedback(2)),
                    committed(
                        "u2",
                        "s2",
                        None,
                        Disposition::Skipped {
                            reason: "auto-reply".into(),
                        },
                    ),
                ],
            )
            .unwrap();
        store
            .record_batch("other", &[committed("u9", "s9", None, feedback(1))])
            .unwrap();
        drop(store);

        let store = SqliteState::open(&path).unwrap();
        let seen = store.seen("beta").unwrap();
        assert_eq!(seen.len(), 2);
        assert!(!seen["u1"].deleted);
        assert!((unix_now() - seen["u1"].committed_at).abs() < 60);
        assert!(store.seen("nobody").unwrap().is_empty());

        let (outcome, records, detail): (String, Option<u32>, Option<String>) = store
            .conn
            .query_row(
                "SELECT outcome, records, outcome_detail FROM messages WHERE uid = 'u2'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(
            (outcome.as_str(), records, detail.as_deref()),
            ("skipped", None, Some("auto-reply"))
        );
    }

    #[test]
    fn recording_the_same_uid_twice_upserts() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteState::open(&dir.path().join("state.db")).unwrap();
        let first = committed("u1", "s1", None, feedback(1));
        store
            .record_batch("beta", std::slice::from_ref(&first))
            .unwrap();
        store.mark_deleted("beta", &["u1".into()]).unwrap();
        // Same content again (a replay): the deletion mark stays.
        store.record_batch("beta", &[first]).unwrap();
        assert!(store.seen("beta").unwrap()["u1"].deleted);
        // Different content under the same uid (a reused UIDL): a new message.
        let reused = committed(
            "u1",
            "s2",
            None,
            Disposition::DeadLetter {
                reason: "unparseable".into(),
            },
        );
        // Twice in one batch is fine too.
        store
            .record_batch("beta", &[reused.clone(), reused])
            .unwrap();
        let seen = store.seen("beta").unwrap();
        assert_eq!(seen.len(), 1);
        assert!(!seen["u1"].deleted);
        let sha: String = store
            .conn
            .query_row("SELECT sha256 FROM messages", [], |r| r.get(0))
            .unwrap();
        assert_eq!(sha, "s2");
    }

    fn notice(id: &str, uid: &str, to: &str) -> NewNotice {
        NewNotice {
            message_id: id.into(),
            uid: uid.into(),
            via: "smtp".into(),
            sender: "beta@contoso.example".into(),
            recipient: to.into(),
            reason: "no-match".into(),
            raw: format!("Message-ID: <{id}>\r\n\r\nhi\r\n").into_bytes(),
            per_recipient_per_day: 2,
        }
    }

    /// Notices are queued with their outcomes (all or nothing), once per
    /// Message-ID, within the per-recipient limit, and move through
    /// pending → sent / retry / failed → retried.
    #[test]
    fn the_outbox_goes_with_the_outcomes() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteState::open(&dir.path().join("state.db")).unwrap();
        let skipped = || Disposition::Skipped {
            reason: "no-match: nothing".into(),
        };
        // A failing batch leaves no notice behind.
        let mut too_big = committed("u2", "s2", None, skipped());
        too_big.size = u64::MAX;
        store
            .record_batch_with_notices(
                "beta",
                &[committed("u1", "s1", None, skipped()), too_big],
                &[notice("n1@x", "u1", "dana@example.org")],
            )
            .unwrap_err();
        assert!(store.notices(None, None, 10).unwrap().is_empty());

        // Three to Dana (limit 2: the third is suppressed), one to Eve, and
        // the first again (a replay): nothing new.
        store
            .record_batch_with_notices(
                "beta",
                &[committed("u1", "s1", None, skipped())],
                &[
                    notice("n1@x", "u1", "dana@example.org"),
                    notice("n2@x", "u2", "Dana@Example.org"),
                    notice("n3@x", "u3", "dana@example.org"),
                    notice("n4@x", "u4", "eve@example.org"),
                ],
            )
            .unwrap();
        store
            .record_batch_with_notices(
                "beta",
                &[committed("u1", "s1", None, skipped())],
                &[notice("n1@x", "u1", "dana@example.org")],
            )
            .unwrap();
        let counts = store.notice_counts("beta").unwrap();
        assert_eq!((counts.pending, counts.suppressed), (3, 1), "{counts:?}");
        let now = unix_now();
        let due = store.due_notices(now, 10).unwrap();
        let ids: Vec<&str> = due.iter().map(|n| n.message_id.as_str()).collect();
        assert_eq!(ids.len(), 3);
        assert!(!ids.contains(&"n3@x"), "{ids:?}");
        assert!(due[0].raw.starts_with(b"Message-ID: <"));

        store.notice_sent("n1@x", now).unwrap();
        store
            .notice_attempt_failed("n2@x", Some(now + 60), "421 try later")
            .unwrap();
        store
            .notice_attempt_failed("n4@x", None, "550 no such user")
            .unwrap();
        assert!(store.due_notices(now, 10).unwrap().is_empty());
        assert_eq!(store.due_notices(now + 60, 10).unwrap().len(), 1);
        let failed = store
            .notices(Some("beta"), Some(NoticeStatus::Failed), 10)
            .unwrap();
        assert_eq!(failed.len(), 1);
        assert_eq!(
            (failed[0].attempts, failed[0].last_error.as_deref()),
            (1, Some("550 no such user"))
        );
        assert_eq!(store.notice_counts("beta").unwrap().sent, 1);
        assert_eq!(store.retry_notices(&[], Some("beta")).unwrap(), 1);
        let again = store.due_notices(unix_now(), 10).unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(
            (again[0].message_id.as_str(), again[0].attempts),
            ("n4@x", 0)
        );
    }

    #[test]
    fn record_batch_is_all_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteState::open(&dir.path().join("state.db")).unwrap();
        // A size beyond SQLite's i64 fails on the second row; the first must
        // not be left behind.
        let mut too_big = committed("u2", "s2", None, feedback(1));
        too_big.size = u64::MAX;
        let err = store
            .record_batch("beta", &[committed("u1", "s1", None, feedback(1)), too_big])
            .unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("recording 2 committed messages of mailbox \"beta\""),
            "{msg}"
        );
        assert!(msg.contains("state.db"), "{msg}");
        assert!(store.seen("beta").unwrap().is_empty());
    }

    #[test]
    fn find_duplicate_by_content_or_message_id_within_the_mailbox() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteState::open(&dir.path().join("state.db")).unwrap();
        store
            .record_batch(
                "beta",
                &[
                    committed("u1", "s1", Some("<a@x>"), feedback(1)),
                    committed("u2", "s2", Some("<b@x>"), feedback(1)),
                    committed(
                        "u3",
                        "s1",
                        Some("<a@x>"),
                        Disposition::Duplicate {
                            of_uid: "u1".into(),
                        },
                    ),
                ],
            )
            .unwrap();
        let find = |mb, mid, sha, body| store.find_duplicate(mb, mid, sha, body).unwrap();
        // Same content: the original, not the recorded duplicate.
        assert_eq!(find("beta", None, "s1", None).as_deref(), Some("u1"));
        // Same Message-ID and body, different bytes (re-delivered with new
        // trace headers).
        assert_eq!(
            find("beta", Some("<b@x>"), "zz", Some("body-s2")).as_deref(),
            Some("u2")
        );
        // Same Message-ID, another body: a different message reusing the id.
        assert_eq!(find("beta", Some("<b@x>"), "zz", Some("body-zz")), None);
        // Content beats Message-ID when they point at different messages.
        assert_eq!(
            find("beta", Some("<a@x>"), "s2", Some("body-s2")).as_deref(),
            Some("u2")
        );
        assert_eq!(find("beta", Some("<new@x>"), "zz", None), None);
        assert_eq!(find("beta", None, "zz", None), None);
        // Scoped to the mailbox.
        assert_eq!(find("other", Some("<a@x>"), "s1", None), None);
    }

    #[test]
    fn duplicate_lookups_use_the_indexes_not_a_scan() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteState::open(&dir.path().join("state.db")).unwrap();
        let plan: Vec<String> = store
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {FIND_DUPLICATE}"))
            .unwrap()
            .query_map(params!["beta", "s", "<m@x>", "b"], |r| {
                r.get::<_, String>(3)
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let plan = plan.join("\n");
        assert!(plan.contains("USING INDEX messages_by_sha256"), "{plan}");
        assert!(
            plan.contains("USING INDEX messages_by_message_id"),
            "{plan}"
        );
        assert!(!plan.contains("SCAN messages"), "{plan}");
    }

    #[test]
    fn mark_deleted_sets_the_flag_and_ignores_unknown_uids() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteState::open(&dir.path().join("state.db")).unwrap();
        store
            .record_batch(
                "beta",
                &[
                    committed("u1", "s1", None, feedback(1)),
                    committed("u2", "s2", None, feedback(1)),
                ],
            )
            .unwrap();
        store
            .mark_deleted("beta", &["u1".into(), "nope".into()])
            .unwrap();
        let seen = store.seen("beta").unwrap();
        assert!(seen["u1"].deleted);
        assert!(!seen["u2"].deleted);
        assert!(!seen.contains_key("nope"));
    }

    #[test]
    fn record_poll_tracks_last_success_and_failure_streak() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteState::open(&dir.path().join("state.db")).unwrap();
        let row = |store: &SqliteState| -> (i64, bool, String, Option<i64>, i64) {
            store
                .conn
                .query_row(
                    "SELECT last_at, last_ok, last_summary, last_ok_at, consecutive_failures
                     FROM polls WHERE mailbox = 'beta'",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                )
                .unwrap()
        };
        store.record_poll("beta", 100, true, "3 committed").unwrap();
        assert_eq!(row(&store), (100, true, "3 committed".into(), Some(100), 0));
        store
            .record_poll("beta", 200, false, "connect: refused")
            .unwrap();
        store
            .record_poll("beta", 300, false, "connect: refused")
            .unwrap();
        assert_eq!(
            row(&store),
            (300, false, "connect: refused".into(), Some(100), 2)
        );
        store.record_poll("beta", 400, true, "0 new").unwrap();
        assert_eq!(row(&store), (400, true, "0 new".into(), Some(400), 0));
    }

    #[test]
    fn a_database_from_a_newer_popline_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        let msg = format!("{:#}", SqliteState::open(&path).err().unwrap());
        assert!(msg.contains("schema version 99"), "{msg}");
        assert!(msg.contains("newer popline"), "{msg}");
        assert!(msg.contains("state.db"), "{msg}");
    }

    #[test]
    fn a_failing_migration_leaves_the_file_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        let mut conn = Connection::open(&path).unwrap();
        let steps = [
            "CREATE TABLE a (x)",
            "CREATE TABLE b (",
            "CREATE TABLE c (x)",
        ];
        let msg = format!("{:#}", migrate(&mut conn, &path, &steps).unwrap_err());
        assert!(msg.contains("from schema version 1 to 2"), "{msg}");
        assert_eq!(user_version(&conn), 0);
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .unwrap();
        assert_eq!(tables, 0);

        // Applied in order and only once.
        migrate(&mut conn, &path, &steps[..1]).unwrap();
        assert_eq!(user_version(&conn), 1);
        migrate(
            &mut conn,
            &path,
            &["CREATE TABLE a (x)", "CREATE TABLE c (x)"],
        )
        .unwrap();
        assert_eq!(user_version(&conn), 2);
        migrate(
            &mut conn,
            &path,
            &["CREATE TABLE a (x)", "CREATE TABLE c (x)"],
        )
        .unwrap();
    }

    #[test]
    fn open_names_the_path_when_it_cannot_create_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file.txt");
        std::fs::write(&file, "not a folder").unwrap();
        let msg = format!(
            "{:#}",
            SqliteState::open(&file.join("state.db")).err().unwrap()
        );
        assert!(msg.contains("file.txt"), "{msg}");
    }
}
