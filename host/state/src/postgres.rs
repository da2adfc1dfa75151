//! Ingestion state in PostgreSQL, shared by a fleet of popline hosts, with
//! mailbox leases so that each mailbox is polled by one host at a time.
//!
//! The same guarantees as SQLite: a batch's outcomes commit in one
//! transaction, deletions are noted as pending before QUIT, the schema is
//! versioned ([`MIGRATIONS`], applied under an advisory lock so hosts
//! starting together migrate once).
//!
//! **Leases and fencing.** A lease row per mailbox names its holder, when it
//! expires (database time, so hosts' clocks do not matter) and a *fencing
//! token* drawn from a sequence, new for every new lease. A host renews its
//! leases while it works and takes expired ones; it holds no more than its
//! fair share (mailboxes ÷ live hosts, rounded up), so a host that joins
//! gets mailboxes as the others give up their surplus. Every write that
//! commits outcomes or authorises a `DELE` locks the lease row and checks
//! holder and token in the same transaction: a host that was paused past
//! its lease (GC, SIGSTOP, a partition) finds its token stale and its write
//! refused ([`LeaseLost`]), so it can neither commit nor delete.
//!
//! **Notices.** The outbox, with claims so that hosts never send one notice
//! at once (`postgres/outbox.rs`).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::{NoTls, Transaction};

use crate::backend::{
    Committed, FeedbackRows, Fingerprint, Joined, LeaseInfo, MailboxStatus, Oversized, Seen,
    StateBackend,
};
use crate::outbox::{NewNotice, Notice, NoticeCounts, NoticeStatus};

mod outbox;

/// Schema steps; step `i` takes the database from version `i` to `i + 1`.
/// Append only: never edit a step that has shipped.
pub const MIGRATIONS: &[&str] = &[
    // 1: ingestion state, poll bookkeeping, oversized messages, leases.
    "CREATE TABLE messages (
         mailbox        TEXT    NOT NULL,
         uid            TEXT    NOT NULL,
         message_id     TEXT,
         sha256         TEXT    NOT NULL,
         body_sha256    TEXT,
         size           BIGINT  NOT NULL,
         outcome        TEXT    NOT NULL
             CHECK (outcome IN ('feedback', 'skipped', 'duplicate', 'dead_letter')),
         records        INTEGER,
         outcome_detail TEXT,
         committed_at   BIGINT  NOT NULL,
         deleted_at     BIGINT,
         delete_pending BOOLEAN NOT NULL DEFAULT false,
         PRIMARY KEY (mailbox, uid)
     );
     CREATE INDEX messages_by_sha256 ON messages (mailbox, sha256);
     CREATE INDEX messages_by_message_id ON messages (mailbox, message_id);
     CREATE TABLE polls (
         mailbox              TEXT    PRIMARY KEY,
         last_at              BIGINT  NOT NULL,
         last_ok              BOOLEAN NOT NULL,
         last_summary         TEXT    NOT NULL,
         last_ok_at           BIGINT,
         consecutive_failures BIGINT  NOT NULL
     );
     CREATE TABLE oversized (
         mailbox    TEXT   NOT NULL,
         uid        TEXT   NOT NULL,
         size       BIGINT NOT NULL,
         message_id TEXT,
         sender     TEXT,
         subject    TEXT,
         seen_at    BIGINT NOT NULL,
         PRIMARY KEY (mailbox, uid)
     );
     CREATE SEQUENCE lease_tokens;
     CREATE TABLE leases (
         mailbox     TEXT   PRIMARY KEY,
         holder      TEXT   NOT NULL,
         token       BIGINT NOT NULL,
         acquired_at BIGINT NOT NULL,
         expires_at  BIGINT NOT NULL
     );
     CREATE TABLE hosts (
         host    TEXT   PRIMARY KEY,
         seen_at BIGINT NOT NULL
     );",
    // 2: the postgres sink's records and attachment bytes (content
    // addressed), in the same schema history as the state, as in SQLite.
    "CREATE TABLE feedback (
         id             TEXT  PRIMARY KEY,
         pipeline       TEXT  NOT NULL,
         mailbox        TEXT  NOT NULL,
         uid            TEXT,
         target         TEXT,
         kind           TEXT  NOT NULL,
         author_address TEXT  NOT NULL,
         author_name    TEXT,
         subject        TEXT,
         body_text      TEXT  NOT NULL,
         received_at    TEXT  NOT NULL,
         match_method   TEXT,
         match_value    TEXT,
         record         JSONB NOT NULL
     );
     CREATE INDEX feedback_by_target ON feedback (pipeline, target);
     CREATE TABLE attachments (
         sha256       TEXT   PRIMARY KEY,
         content_type TEXT   NOT NULL,
         size         BIGINT NOT NULL,
         data         BYTEA  NOT NULL
     );",
    // 3: the notice outbox (see `outbox.rs`), written with the outcomes,
    // and each host's claim on the notices it is sending.
    "CREATE TABLE notices (
         message_id       TEXT    PRIMARY KEY,
         mailbox          TEXT    NOT NULL,
         uid              TEXT    NOT NULL,
         via              TEXT    NOT NULL,
         sender           TEXT    NOT NULL,
         recipient        TEXT    NOT NULL,
         reason           TEXT    NOT NULL,
         raw              BYTEA   NOT NULL,
         status           TEXT    NOT NULL
             CHECK (status IN ('pending', 'sent', 'failed', 'suppressed')),
         attempts         INTEGER NOT NULL DEFAULT 0,
         created_at       BIGINT  NOT NULL,
         next_attempt_at  BIGINT  NOT NULL,
         sent_at          BIGINT,
         last_error       TEXT,
         claimed_by       TEXT,
         claim_expires_at BIGINT
     );
     CREATE INDEX notices_due ON notices (next_attempt_at, created_at) WHERE status = 'pending';
     CREATE INDEX notices_by_recipient ON notices (lower(recipient), created_at);
     CREATE INDEX notices_by_mailbox ON notices (mailbox, status, created_at);",
];

/// How long a host's claim on the notices it is sending lasts unless
/// renewed (each is renewed right before it is sent): a crashed host's
/// notices are sent by another host after it.
pub const NOTICE_CLAIM_TTL: Duration = Duration::from_secs(600);

/// Database time in Unix seconds: leases never depend on hosts' clocks.
const NOW: &str = "floor(extract(epoch from clock_timestamp()))::bigint";

/// The advisory lock that serialises migrations across hosts.
const MIGRATION_LOCK: i64 = 0x0070_6f70_6c69_6e65; // "popline"

/// How to reach the database and take part in the fleet.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// `postgres://user:password@host:port/database` (a secret: never logged).
    pub url: String,
    /// Connections kept in the pool.
    pub pool_size: usize,
    /// Extra CA certificate (PEM) trusted for the database's TLS.
    pub ca_file: Option<PathBuf>,
    /// How long a lease lasts unless renewed; a crashed host's mailboxes are
    /// free again after it.
    pub lease_ttl: Duration,
    /// This host's name in leases (unique per process).
    pub host_id: String,
    /// Mailboxes the fleet shares (all hosts run the same configuration):
    /// with the live hosts, this host's fair share.
    pub mailboxes: usize,
    /// How long this host's claim on a notice it is about to send lasts
    /// ([`NOTICE_CLAIM_TTL`] in production).
    pub notice_claim_ttl: Duration,
}

/// A write refused because this host no longer holds the mailbox's lease.
#[derive(Debug, thiserror::Error)]
#[error(
    "the lease on mailbox {mailbox:?} was lost (this host {host:?} was paused or cut off past the lease TTL); \
     its writes are refused so that the host now holding it is the only one to commit or delete"
)]
pub struct LeaseLost {
    pub mailbox: String,
    pub host: String,
}

/// PostgreSQL state with mailbox leases.
pub struct PostgresBackend {
    pool: Pool,
    opts: PostgresOptions,
    /// Fencing tokens of the leases this host holds.
    held: Mutex<HashMap<String, i64>>,
    /// When this host last renewed all its leases at once.
    renewed: Mutex<Option<Instant>>,
    /// When the heartbeat was last written, and the live hosts then.
    fleet: Mutex<Option<(Instant, i64)>>,
    /// Serialises this host's take-or-give-up decisions: every mailbox's
    /// task decides from the count of leases held, and concurrent decisions
    /// on one stale count would all take (or all give up) at once.
    deciding: tokio::sync::Mutex<()>,
}

impl PostgresBackend {
    /// Connect (see [`connect_pool`]), migrate, and take part in the fleet
    /// as `opts.host_id`.
    pub async fn connect(opts: PostgresOptions) -> anyhow::Result<PostgresBackend> {
        let pool = connect_pool(&opts.url, opts.pool_size, opts.ca_file.as_deref())?;
        migrate(&pool, MIGRATIONS).await?;
        Ok(PostgresBackend {
            pool,
            opts,
            held: Mutex::new(HashMap::new()),
            renewed: Mutex::new(None),
            fleet: Mutex::new(None),
            deciding: tokio::sync::Mutex::new(()),
        })
    }

    async fn client(&self) -> anyhow::Result<deadpool_postgres::Object> {
        self.pool.get().await.map_err(|e| {
            anyhow::anyhow!(
                "cannot reach the PostgreSQL state database: {}",
                redact(&e.to_string())
            )
        })
    }

    /// Lock `mailbox`'s lease row in `tx` and check it is still this host's,
    /// with the token it was taken with; [`LeaseLost`] otherwise.
    async fn fence(&self, tx: &Transaction<'_>, mailbox: &str) -> anyhow::Result<()> {
        let token = self.held.lock().unwrap().get(mailbox).copied();
        let ok = match token {
            None => false,
            Some(token) => tx
                .query_opt(
                    &format!(
                        "SELECT 1 FROM leases WHERE mailbox = $1 AND holder = $2 AND token = $3
                         AND expires_at > {NOW} FOR UPDATE"
                    ),
                    &[&mailbox, &self.opts.host_id, &token],
                )
                .await?
                .is_some(),
        };
        if !ok {
            self.held.lock().unwrap().remove(mailbox);
            tracing::error!(mailbox, host = %self.opts.host_id, "write refused: this host no longer holds the mailbox's lease");
            return Err(LeaseLost {
                mailbox: mailbox.to_string(),
                host: self.opts.host_id.clone(),
            }
            .into());
        }
        Ok(())
    }

    /// This host's fair share of the mailboxes, given the live hosts. The
    /// heartbeat and the count of live hosts are refreshed at most every
    /// sixth of the TTL, not on every call (a host may hold many mailboxes).
    async fn fair_share(&self) -> anyhow::Result<i64> {
        let fresh = self.opts.lease_ttl / 6;
        let cached = *self.fleet.lock().unwrap();
        let live = match cached {
            Some((at, live)) if at.elapsed() < fresh => live,
            _ => {
                let ttl = self.opts.lease_ttl.as_secs().max(1) as i64;
                let client = self.client().await?;
                client
                    .execute(
                        &format!(
                            "INSERT INTO hosts (host, seen_at) VALUES ($1, {NOW})
                             ON CONFLICT (host) DO UPDATE SET seen_at = excluded.seen_at"
                        ),
                        &[&self.opts.host_id],
                    )
                    .await?;
                let live: i64 = client
                    .query_one(
                        &format!("SELECT count(*) FROM hosts WHERE seen_at > {NOW} - $1"),
                        &[&ttl],
                    )
                    .await?
                    .get(0);
                *self.fleet.lock().unwrap() = Some((Instant::now(), live));
                live
            }
        };
        let mailboxes = self.opts.mailboxes.max(1) as i64;
        Ok((mailboxes + live.max(1) - 1) / live.max(1))
    }

    /// Renew every lease this host holds in one statement (at most every
    /// sixth of the TTL); leases that did not renew are lost. Whether
    /// `mailbox` is still held.
    async fn renew_all(&self, mailbox: &str) -> anyhow::Result<bool> {
        let fresh = self.opts.lease_ttl / 6;
        if self
            .renewed
            .lock()
            .unwrap()
            .is_some_and(|at| at.elapsed() < fresh)
        {
            return Ok(self.held.lock().unwrap().contains_key(mailbox));
        }
        let (mailboxes, tokens): (Vec<String>, Vec<i64>) = self
            .held
            .lock()
            .unwrap()
            .iter()
            .map(|(m, t)| (m.clone(), *t))
            .unzip();
        let ttl = self.opts.lease_ttl.as_secs().max(1) as i64;
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "UPDATE leases SET expires_at = {NOW} + $4
                     WHERE holder = $1 AND expires_at > {NOW}
                       AND (mailbox, token) IN (SELECT * FROM unnest($2::text[], $3::bigint[]))
                     RETURNING mailbox"
                ),
                &[&self.opts.host_id, &mailboxes, &tokens, &ttl],
            )
            .await?;
        let kept: HashSet<String> = rows.iter().map(|r| r.get(0)).collect();
        let mut held = self.held.lock().unwrap();
        for m in &mailboxes {
            if !kept.contains(m) {
                held.remove(m);
                tracing::error!(mailbox = %m, host = %self.opts.host_id, "the mailbox's lease was lost before it could be renewed");
            }
        }
        *self.renewed.lock().unwrap() = Some(Instant::now());
        Ok(held.contains_key(mailbox))
    }
}

/// A connection pool for `url`: TLS (rustls, verified against the web roots
/// and `ca_file`) unless the database is on loopback and the URL says
/// `sslmode=disable`; off loopback TLS is required, never a plaintext
/// fallback. Shared by the state backend and the postgres sink.
pub fn connect_pool(url: &str, pool_size: usize, ca_file: Option<&Path>) -> anyhow::Result<Pool> {
    let mut pg: tokio_postgres::Config = url.parse().map_err(|e| {
        anyhow::anyhow!("not a PostgreSQL URL (postgres://user:password@host/db): {e}")
    })?;
    let loopback = pg.get_hosts().iter().all(|h| match h {
        tokio_postgres::config::Host::Tcp(name) => {
            name == "localhost"
                || name
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        tokio_postgres::config::Host::Unix(_) => true,
    });
    if !loopback {
        pg.ssl_mode(tokio_postgres::config::SslMode::Require);
    }
    pg.connect_timeout(Duration::from_secs(10));
    let manager_config = ManagerConfig {
        recycling_method: RecyclingMethod::Fast,
    };
    let manager = if pg.get_ssl_mode() == tokio_postgres::config::SslMode::Disable {
        Manager::from_config(pg, NoTls, manager_config)
    } else {
        let tls = popline_net::rustls_config(ca_file)?;
        let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls);
        Manager::from_config(pg, tls, manager_config)
    };
    Pool::builder(manager)
        .max_size(pool_size.max(1))
        .build()
        .context("building the PostgreSQL connection pool")
}

/// A connection from `pool`, or an error that says so without the URL's
/// password.
pub async fn checkout(pool: &Pool) -> anyhow::Result<deadpool_postgres::Object> {
    pool.get()
        .await
        .map_err(|e| Unreachable(redact(&e.to_string())).into())
}

/// The database could not be reached (down, refused, TLS, login): a
/// temporary condition, retried, never a reason to delete or commit.
#[derive(Debug, thiserror::Error)]
#[error("cannot reach PostgreSQL: {0}")]
pub struct Unreachable(pub String);

/// Apply the steps past the database's version, under an advisory lock so
/// hosts starting together migrate once.
pub async fn migrate(pool: &Pool, steps: &[&str]) -> anyhow::Result<()> {
    let mut client = checkout(pool).await?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS popline_schema (version INTEGER NOT NULL);
         INSERT INTO popline_schema SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM popline_schema);",
    )
    .await?;
    let version: i32 = tx
        .query_one("SELECT version FROM popline_schema", &[])
        .await?
        .get(0);
    let version = version as usize;
    if version > steps.len() {
        bail!(
            "the PostgreSQL database is at popline schema version {version}, newer than this popline knows ({}); upgrade popline",
            steps.len()
        );
    }
    for (i, step) in steps.iter().enumerate().skip(version) {
        tx.batch_execute(step)
            .await
            .with_context(|| format!("migrating the PostgreSQL database to version {}", i + 1))?;
    }
    tx.execute(
        "UPDATE popline_schema SET version = $1",
        &[&(steps.len() as i32)],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// What [`import_sqlite`] copied.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Imported {
    pub messages: u64,
    pub polls: u64,
    pub oversized: u64,
    pub notices: u64,
}

/// Copy a popline SQLite state file (messages, poll bookkeeping, oversized
/// messages, the notice outbox) into the PostgreSQL database of `pool`, in one transaction.
/// Rows already there are kept, so running it twice is harmless. Stop
/// popline first: the copy is not fenced.
pub async fn import_sqlite(pool: &Pool, sqlite: &Path) -> anyhow::Result<Imported> {
    type Message = (
        String,
        String,
        Option<String>,
        String,
        Option<String>,
        i64,
        String,
        Option<i64>,
        Option<String>,
        i64,
        Option<i64>,
        bool,
    );
    type Poll = (String, i64, bool, String, Option<i64>, i64);
    type Large = (
        String,
        String,
        i64,
        Option<String>,
        Option<String>,
        Option<String>,
        i64,
    );
    type Queued = (
        (String, String, String, String, String, String, String),
        Vec<u8>,
        String,
        i64,
        (i64, i64, Option<i64>, Option<String>),
    );
    let path = sqlite.to_path_buf();
    let (messages, polls, oversized, notices) = tokio::task::spawn_blocking(move || {
        let conn = crate::sqlite::open_database(&path)?;
        let messages: Vec<Message> = conn
            .prepare(
                "SELECT mailbox, uid, message_id, sha256, body_sha256, size, outcome, records,
                        outcome_detail, committed_at, deleted_at, delete_pending != 0
                 FROM messages",
            )?
            .query_map([], |r| {
                Ok((
                    r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?,
                    r.get(7)?, r.get(8)?, r.get(9)?, r.get(10)?, r.get(11)?,
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let polls: Vec<Poll> = conn
            .prepare(
                "SELECT mailbox, last_at, last_ok != 0, last_summary, last_ok_at, consecutive_failures
                 FROM polls",
            )?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let oversized: Vec<Large> = conn
            .prepare("SELECT mailbox, uid, size, message_id, sender, subject, seen_at FROM oversized")?
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let notices: Vec<Queued> = conn
            .prepare(
                "SELECT message_id, mailbox, uid, via, sender, recipient, reason, raw, status,
                        attempts, created_at, next_attempt_at, sent_at, last_error
                 FROM notices",
            )?
            .query_map([], |r| {
                Ok((
                    (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?),
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                    (r.get(10)?, r.get(11)?, r.get(12)?, r.get(13)?),
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        anyhow::Ok((messages, polls, oversized, notices))
    })
    .await
    .context("reading the SQLite state was interrupted")?
    .with_context(|| format!("reading the SQLite state {}", sqlite.display()))?;
    let mut client = checkout(pool).await?;
    let tx = client.transaction().await?;
    let mut done = Imported::default();
    for m in &messages {
        let records = m.7.map(|n| n as i32);
        done.messages += tx
            .execute(
                "INSERT INTO messages (mailbox, uid, message_id, sha256, body_sha256, size, outcome,
                     records, outcome_detail, committed_at, deleted_at, delete_pending)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING",
                &[&m.0, &m.1, &m.2, &m.3, &m.4, &m.5, &m.6, &records, &m.8, &m.9, &m.10, &m.11],
            )
            .await?;
    }
    for p in &polls {
        done.polls += tx
            .execute(
                "INSERT INTO polls (mailbox, last_at, last_ok, last_summary, last_ok_at, consecutive_failures)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                &[&p.0, &p.1, &p.2, &p.3, &p.4, &p.5],
            )
            .await?;
    }
    for o in &oversized {
        done.oversized += tx
            .execute(
                "INSERT INTO oversized (mailbox, uid, size, message_id, sender, subject, seen_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                &[&o.0, &o.1, &o.2, &o.3, &o.4, &o.5, &o.6],
            )
            .await?;
    }
    for ((id, mailbox, uid, via, sender, recipient, reason), raw, status, attempts, at) in &notices
    {
        let (created, next, sent, error) = at;
        done.notices += tx
            .execute(
                "INSERT INTO notices (message_id, mailbox, uid, via, sender, recipient, reason,
                     raw, status, attempts, created_at, next_attempt_at, sent_at, last_error)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
                 ON CONFLICT DO NOTHING",
                &[
                    id,
                    mailbox,
                    uid,
                    via,
                    sender,
                    recipient,
                    reason,
                    raw,
                    status,
                    &(*attempts as i32),
                    created,
                    next,
                    sent,
                    error,
                ],
            )
            .await?;
    }
    tx.commit().await.context("committing the imported state")?;
    Ok(done)
}

/// A connection error's text without the URL's password.
fn redact(text: &str) -> String {
    match (text.find("://"), text.find('@')) {
        (Some(a), Some(b)) if a < b => format!("{}://***{}", &text[..a], &text[b..]),
        _ => text.to_string(),
    }
}

#[async_trait::async_trait]
impl StateBackend for PostgresBackend {
    async fn seen(&self, mailbox: &str) -> anyhow::Result<HashMap<String, Seen>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT uid, committed_at, deleted_at IS NOT NULL OR delete_pending
                 FROM messages WHERE mailbox = $1",
                &[&mailbox],
            )
            .await
            .with_context(|| format!("reading the committed messages of mailbox {mailbox:?}"))?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    r.get(0),
                    Seen {
                        committed_at: r.get(1),
                        deleted: r.get(2),
                    },
                )
            })
            .collect())
    }

    async fn find_duplicates(
        &self,
        mailbox: &str,
        messages: Vec<Fingerprint>,
    ) -> anyhow::Result<Vec<Option<String>>> {
        let client = self.client().await?;
        // A content match wins over a Message-ID match, and an original
        // over a message itself recorded as a duplicate (see SqliteState).
        let stmt = client
            .prepare(
                "SELECT uid FROM (
                     SELECT uid, 1 AS exact, outcome, committed_at FROM messages
                     WHERE mailbox = $1 AND sha256 = $2
                     UNION ALL
                     SELECT uid, 0, outcome, committed_at FROM messages
                     WHERE mailbox = $1 AND message_id = $3
                       AND (body_sha256 IS NULL OR $4::text IS NULL OR body_sha256 = $4)) m
                 ORDER BY exact DESC, outcome = 'duplicate', committed_at, uid
                 LIMIT 1",
            )
            .await?;
        let mut out = Vec::with_capacity(messages.len());
        for m in &messages {
            let row = client
                .query_opt(&stmt, &[&mailbox, &m.sha256, &m.message_id, &m.body_sha256])
                .await
                .with_context(|| format!("looking up duplicates in mailbox {mailbox:?}"))?;
            out.push(row.map(|r| r.get(0)));
        }
        Ok(out)
    }

    async fn record_batch(&self, mailbox: &str, batch: Vec<Committed>) -> anyhow::Result<()> {
        self.record_batch_joined(mailbox, batch, Joined::default())
            .await
    }

    async fn record_batch_joined(
        &self,
        mailbox: &str,
        batch: Vec<Committed>,
        joined: Joined<'_>,
    ) -> anyhow::Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        self.fence(&tx, mailbox).await?;
        if let Some(feedback) = &joined.feedback {
            let inserted = insert_feedback(&tx, feedback)
                .await
                .with_context(|| format!("storing the feedback records of mailbox {mailbox:?}"))?;
            tracing::debug!(
                mailbox,
                inserted,
                "feedback records stored with the batch's state"
            );
        }
        record_in(&tx, mailbox, &batch).await?;
        outbox::queue_in(&tx, mailbox, &joined.notices)
            .await
            .with_context(|| format!("queueing the notices of mailbox {mailbox:?}"))?;
        tx.commit().await.with_context(|| {
            format!(
                "recording {} committed messages of mailbox {mailbox:?}",
                batch.len()
            )
        })
    }

    async fn mark_deleting(&self, mailbox: &str, uids: Vec<String>) -> anyhow::Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        self.fence(&tx, mailbox).await?;
        tx.execute(
            "UPDATE messages SET delete_pending = true WHERE mailbox = $1 AND uid = ANY($2)",
            &[&mailbox, &uids],
        )
        .await?;
        tx.commit()
            .await
            .with_context(|| format!("recording pending deletions of mailbox {mailbox:?}"))
    }

    async fn mark_deleted(&self, mailbox: &str, uids: Vec<String>) -> anyhow::Result<()> {
        // After QUIT the deletion has happened: record it even if the lease
        // was lost meanwhile, since failing would only hide it.
        let client = self.client().await?;
        let n = client
            .execute(
                &format!(
                    "UPDATE messages SET deleted_at = coalesce(deleted_at, {NOW}), delete_pending = false
                     WHERE mailbox = $1 AND uid = ANY($2)"
                ),
                &[&mailbox, &uids],
            )
            .await
            .with_context(|| format!("marking messages of mailbox {mailbox:?} deleted"))?;
        let unknown = uids.len() as u64 - n.min(uids.len() as u64);
        if unknown > 0 {
            tracing::warn!(
                mailbox,
                unknown,
                "deleted messages that were never recorded as committed"
            );
        }
        Ok(())
    }

    async fn oversized(&self, mailbox: &str) -> anyhow::Result<Vec<Oversized>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT uid, size, message_id, sender, subject FROM oversized
                 WHERE mailbox = $1 ORDER BY size DESC, uid",
                &[&mailbox],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| Oversized {
                uid: r.get(0),
                size: r.get::<_, i64>(1) as u64,
                message_id: r.get(2),
                sender: r.get(3),
                subject: r.get(4),
            })
            .collect())
    }

    async fn record_oversized(
        &self,
        mailbox: &str,
        found: Vec<Oversized>,
        listed: HashSet<String>,
    ) -> anyhow::Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        self.fence(&tx, mailbox).await?;
        for o in &found {
            tx.execute(
                &format!(
                    "INSERT INTO oversized (mailbox, uid, size, message_id, sender, subject, seen_at)
                     VALUES ($1, $2, $3, $4, $5, $6, {NOW}) ON CONFLICT DO NOTHING"
                ),
                &[
                    &mailbox,
                    &o.uid,
                    &i64::try_from(o.size).unwrap_or(i64::MAX),
                    &o.message_id,
                    &o.sender,
                    &o.subject,
                ],
            )
            .await?;
        }
        let listed: Vec<String> = listed.into_iter().collect();
        tx.execute(
            "DELETE FROM oversized WHERE mailbox = $1 AND NOT (uid = ANY($2))",
            &[&mailbox, &listed],
        )
        .await?;
        tx.commit()
            .await
            .with_context(|| format!("recording oversized messages of mailbox {mailbox:?}"))
    }

    async fn record_poll(
        &self,
        mailbox: &str,
        at: i64,
        ok: bool,
        line: String,
    ) -> anyhow::Result<()> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO polls (mailbox, last_at, last_ok, last_summary, last_ok_at,
                                    consecutive_failures)
                 VALUES ($1, $2, $3, $4, CASE WHEN $3 THEN $2::bigint END, CASE WHEN $3 THEN 0 ELSE 1 END)
                 ON CONFLICT (mailbox) DO UPDATE SET
                     last_at = excluded.last_at,
                     last_ok = excluded.last_ok,
                     last_summary = excluded.last_summary,
                     last_ok_at = coalesce(excluded.last_ok_at, polls.last_ok_at),
                     consecutive_failures = CASE WHEN excluded.last_ok THEN 0
                                                 ELSE polls.consecutive_failures + 1 END",
                &[&mailbox, &at, &ok, &line],
            )
            .await
            .with_context(|| format!("recording a poll of mailbox {mailbox:?}"))?;
        Ok(())
    }

    async fn ping(&self) -> anyhow::Result<()> {
        let client = self.client().await?;
        client.simple_query("SELECT 1").await.map_err(|e| {
            anyhow::anyhow!(
                "the PostgreSQL state database does not answer: {}",
                redact(&e.to_string())
            )
        })?;
        Ok(())
    }

    async fn status(&self, mailbox: &str) -> anyhow::Result<MailboxStatus> {
        let client = self.client().await?;
        let mut st = MailboxStatus::default();
        if let Some(r) = client
            .query_opt(
                "SELECT last_at, last_ok, last_summary, last_ok_at, consecutive_failures
                 FROM polls WHERE mailbox = $1",
                &[&mailbox],
            )
            .await?
        {
            st.last = Some((r.get(0), r.get(1), r.get(2)));
            st.last_ok_at = r.get(3);
            st.consecutive_failures = r.get(4);
        }
        st.outcomes = client
            .query(
                "SELECT outcome, count(*) FROM messages WHERE mailbox = $1
                 GROUP BY outcome ORDER BY outcome",
                &[&mailbox],
            )
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        st.oversized = client
            .query_one(
                "SELECT count(*) FROM oversized WHERE mailbox = $1",
                &[&mailbox],
            )
            .await?
            .get(0);
        Ok(st)
    }

    fn keeps_notices(&self) -> bool {
        true
    }

    async fn queue_notices(&self, mailbox: &str, notices: Vec<NewNotice>) -> anyhow::Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        self.fence(&tx, mailbox).await?;
        outbox::queue_in(&tx, mailbox, &notices).await?;
        tx.commit()
            .await
            .with_context(|| format!("queueing the notices of mailbox {mailbox:?}"))
    }

    async fn due_notices(&self, now: i64, limit: usize) -> anyhow::Result<Vec<Notice>> {
        self.claim_due(now, limit).await
    }

    async fn hold_notice(&self, message_id: &str) -> anyhow::Result<bool> {
        self.hold(message_id).await
    }

    async fn release_notices(&self, message_ids: Vec<String>) -> anyhow::Result<()> {
        self.release_claims(message_ids).await
    }

    async fn notice_sent(&self, message_id: &str, at: i64) -> anyhow::Result<()> {
        self.mark_sent(message_id, at).await
    }

    async fn notice_attempt_failed(
        &self,
        message_id: &str,
        retry_at: Option<i64>,
        error: String,
    ) -> anyhow::Result<()> {
        self.mark_failed(message_id, retry_at, &error).await
    }

    async fn notices(
        &self,
        mailbox: Option<String>,
        status: Option<NoticeStatus>,
        limit: usize,
    ) -> anyhow::Result<Vec<Notice>> {
        self.list(mailbox, status, limit).await
    }

    async fn retry_notices(
        &self,
        message_ids: Vec<String>,
        mailbox: Option<String>,
    ) -> anyhow::Result<u64> {
        self.retry(message_ids, mailbox, popline_core::clock::unix_now())
            .await
    }

    async fn notice_counts(&self, mailbox: &str) -> anyhow::Result<NoticeCounts> {
        self.counts(mailbox).await
    }

    async fn acquire(&self, mailbox: &str) -> anyhow::Result<bool> {
        let _deciding = self.deciding.lock().await;
        let share = self.fair_share().await?;
        let (holds, holding) = {
            let held = self.held.lock().unwrap();
            (held.contains_key(mailbox), held.len() as i64)
        };
        if holds {
            if holding > share {
                // Over the fair share (a host joined): give this one up.
                self.release(mailbox).await?;
                tracing::info!(mailbox, host = %self.opts.host_id, holding, share, "gave the mailbox's lease up: over this host's fair share");
                return Ok(false);
            }
            if self.renew_all(mailbox).await? {
                return Ok(true);
            }
        }
        if holding >= share {
            return Ok(false);
        }
        let ttl = self.opts.lease_ttl.as_secs().max(1) as i64;
        let me = &self.opts.host_id;
        let client = self.client().await?;
        let taken = client
            .query_opt(
                &format!(
                    "INSERT INTO leases (mailbox, holder, token, acquired_at, expires_at)
                     VALUES ($1, $2, nextval('lease_tokens'), {NOW}, {NOW} + $3)
                     ON CONFLICT (mailbox) DO UPDATE SET
                         holder = excluded.holder, token = excluded.token,
                         acquired_at = excluded.acquired_at, expires_at = excluded.expires_at
                     WHERE leases.expires_at <= {NOW}
                     RETURNING token"
                ),
                &[&mailbox, me, &ttl],
            )
            .await?;
        match taken {
            Some(row) => {
                let token: i64 = row.get(0);
                tracing::info!(mailbox, host = %me, token, "took the mailbox's lease");
                self.held.lock().unwrap().insert(mailbox.to_string(), token);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn renew(&self, mailbox: &str) -> anyhow::Result<bool> {
        self.renew_all(mailbox).await
    }

    async fn release(&self, mailbox: &str) -> anyhow::Result<()> {
        let token = self.held.lock().unwrap().remove(mailbox);
        if let Some(token) = token {
            let client = self.client().await?;
            client
                .execute(
                    "DELETE FROM leases WHERE mailbox = $1 AND holder = $2 AND token = $3",
                    &[&mailbox, &self.opts.host_id, &token],
                )
                .await?;
        }
        Ok(())
    }

    async fn release_all(&self) -> anyhow::Result<()> {
        let held: Vec<String> = self.held.lock().unwrap().keys().cloned().collect();
        for mailbox in held {
            self.release(&mailbox).await?;
        }
        let client = self.client().await?;
        client
            .execute("DELETE FROM hosts WHERE host = $1", &[&self.opts.host_id])
            .await?;
        Ok(())
    }

    async fn leases(&self) -> anyhow::Result<Vec<LeaseInfo>> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT mailbox, holder, token, acquired_at, expires_at > {NOW}
                     FROM leases ORDER BY mailbox"
                ),
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| LeaseInfo {
                mailbox: r.get(0),
                holder: r.get(1),
                token: r.get(2),
                since: r.get(3),
                live: r.get(4),
            })
            .collect())
    }

    fn lease_ttl(&self) -> Option<Duration> {
        Some(self.opts.lease_ttl)
    }
}
/// A batch's outcomes written in `tx` (fenced by the caller).
async fn record_in(tx: &Transaction<'_>, mailbox: &str, batch: &[Committed]) -> anyhow::Result<()> {
    let insert = tx
        .prepare(&format!(
            "INSERT INTO messages (mailbox, uid, message_id, sha256, size, outcome,
                                   records, outcome_detail, committed_at, body_sha256)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, {NOW}, $9)
             ON CONFLICT (mailbox, uid) DO UPDATE SET
                 message_id = excluded.message_id,
                 body_sha256 = excluded.body_sha256,
                 size = excluded.size,
                 outcome = excluded.outcome,
                 records = excluded.records,
                 outcome_detail = excluded.outcome_detail,
                 committed_at = excluded.committed_at,
                 deleted_at = CASE WHEN messages.sha256 = excluded.sha256
                                   THEN messages.deleted_at END,
                 delete_pending = messages.sha256 = excluded.sha256 AND messages.delete_pending,
                 sha256 = excluded.sha256"
        ))
        .await?;
    for c in batch {
        let (outcome, records, detail) = c.outcome.columns();
        let records = records.map(|n| n as i32);
        let size = i64::try_from(c.size).unwrap_or(i64::MAX);
        tx.execute(
            &insert,
            &[
                &mailbox,
                &c.uid,
                &c.message_id,
                &c.sha256,
                &size,
                &outcome,
                &records,
                &detail,
                &c.body_sha256,
            ],
        )
        .await?;
        tx.execute(
            "DELETE FROM oversized WHERE mailbox = $1 AND uid = $2",
            &[&mailbox, &c.uid],
        )
        .await?;
    }
    Ok(())
}

/// Insert feedback records whose id is new, and the attachment bytes they
/// reference, in `tx`: the `postgres` sink's write, on its own transaction
/// or on the state's. Returns how many records were new.
pub async fn insert_feedback(
    tx: &Transaction<'_>,
    rows: &FeedbackRows<'_>,
) -> Result<u64, tokio_postgres::Error> {
    for (sha256, content_type, bytes) in &rows.attachments {
        tx.execute(
            "INSERT INTO attachments (sha256, content_type, size, data)
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            &[sha256, content_type, &(bytes.len() as i64), bytes],
        )
        .await?;
    }
    let insert = tx
        .prepare(
            "INSERT INTO feedback (id, pipeline, mailbox, uid, target, kind,
                 author_address, author_name, subject, body_text, received_at,
                 match_method, match_value, record)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14::text::jsonb)
             ON CONFLICT (id) DO NOTHING",
        )
        .await?;
    let mut inserted = 0;
    for r in rows.records {
        let json = r.to_json();
        inserted += tx
            .execute(
                &insert,
                &[
                    &r.id,
                    &r.pipeline,
                    &r.mailbox,
                    &r.uid,
                    &r.target,
                    &r.kind,
                    &r.author.address,
                    &r.author.name,
                    &r.subject,
                    &r.body_text,
                    &r.received_at,
                    &r.match_.as_ref().map(|m| m.method.as_str()),
                    &r.match_.as_ref().map(|m| m.value.as_str()),
                    &json,
                ],
            )
            .await?;
    }
    Ok(inserted)
}
