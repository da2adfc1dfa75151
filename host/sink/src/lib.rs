//! Sinks: where feedback records are delivered.
//!
//! Every sink is idempotent on the record `id` (see
//! [`popline_core::record::idempotency_key`]): the pipeline writes to the sinks
//! before it records the message in the state, so a crash in between replays
//! the batch, and the replay must not duplicate anything.
//!
//! | type | durable when `write_batch` returns Ok | how replays are dropped |
//! |---|---|---|
//! | `jsonl` | appended and fsynced (one fsync per batch) | ids already in the file, loaded on open |
//! | `sqlite` | committed (WAL, `synchronous=FULL`) | `INSERT OR IGNORE` on the `id` primary key |
//! | `http` | every record answered 2xx | the server, by the `Idempotency-Key` header |
//!
//! Attachment bytes travel beside the records in [`Blobs`], keyed by
//! SHA-256, and are stored content-addressed (so storing one twice is a
//! no-op): `jsonl` as files in a folder beside the file, `sqlite` in an
//! `attachments` table, `http` inline as base64 or `PUT` to an upload URL.
//! They are stored before the records that reference them.

pub(crate) mod http;
mod jsonl;
mod nats;
mod postgres;
mod sqlite;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use popline_core::SecretRef;
use popline_core::record::FeedbackRecord;
use popline_core::spool::Spooled;

pub use http::HttpSink;
pub use jsonl::JsonlSink;
pub use nats::NatsSink;
pub use postgres::PostgresSink;
pub use sqlite::SqliteSink;

/// One `[sinks.NAME]` table of the configuration, chosen by `type`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum SinkConfig {
    /// `type = "jsonl"`: append records to a JSON Lines file.
    Jsonl(JsonlConfig),
    /// `type = "sqlite"`: insert records into a SQLite table `feedback`.
    Sqlite(SqliteConfig),
    /// `type = "http"`: POST each record to an HTTP endpoint.
    Http(HttpConfig),
    /// `type = "postgres"`: insert records into a PostgreSQL table `feedback`.
    Postgres(PostgresConfig),
    /// `type = "nats"`: publish records to a NATS JetStream subject.
    Nats(NatsConfig),
}

/// A NATS JetStream subject: one message per record (its JSON), with the
/// record's idempotency key as `Nats-Msg-Id`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NatsConfig {
    /// The server, `nats://host:4222` (or `tls://`). TLS is required unless
    /// it is on loopback.
    pub url: String,
    /// The subject records are published to, e.g. `feedback.records`. A
    /// JetStream stream must capture it (see `stream`).
    pub subject: String,
    /// A stream to create (file storage, the server's defaults, capturing
    /// `subject`) if it does not exist. Leave it out when operators manage
    /// the stream. Its duplicate window (default 2 minutes) is how long a
    /// replayed record is recognised by its `Nats-Msg-Id`.
    pub stream: Option<String>,
    /// A JetStream object store bucket for attachment bytes, each named by
    /// its SHA-256 (created if missing). Without it, records carry only
    /// the attachments' references.
    pub attachments_bucket: Option<String>,
    /// Seconds to wait for the stream to acknowledge each record. Default 10.
    #[serde(default = "default_ack_timeout")]
    pub ack_timeout_secs: u64,
    /// A token: `{ env = "VAR" }` or `{ file = "path" }`.
    pub token: Option<SecretRef>,
    /// A user name, with `password`.
    pub user: Option<String>,
    /// The user's password: `{ env = "VAR" }` or `{ file = "path" }`.
    pub password: Option<SecretRef>,
    /// A NATS credentials file (JWT and NKey seed).
    pub creds_file: Option<PathBuf>,
    /// An extra CA certificate (PEM) for the server's TLS.
    pub ca_file: Option<PathBuf>,
}

fn default_ack_timeout() -> u64 {
    10
}

/// A PostgreSQL database with a `feedback` table (and `attachments`); may
/// be the fleet's state database (`[state] url`).
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PostgresConfig {
    /// `postgres://user:password@host:port/db`, a secret: `{ env = "VAR" }`
    /// or `{ file = "path" }`. TLS is required unless the database is on
    /// loopback, and its certificate is verified.
    pub url: SecretRef,
    /// Store attachment bytes in the `attachments` table (`sha256`,
    /// `content_type`, `size`, `data`) in the batch's transaction. Default
    /// true.
    #[serde(default = "yes")]
    pub store_attachments: bool,
    /// Connections in the sink's pool. Default 4.
    #[serde(default = "default_pg_pool")]
    pub pool_size: usize,
    /// An extra CA certificate (PEM) for the database's TLS.
    pub ca_file: Option<PathBuf>,
}

fn default_pg_pool() -> usize {
    4
}

/// A JSON Lines file: one record per line.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JsonlConfig {
    /// The file to append to (created with its folders if missing); relative
    /// to the configuration file's folder.
    pub path: PathBuf,
    /// Store attachment bytes as files named by their SHA-256 (the record's
    /// `attachments[].sha256`) in `attachments_dir`. Default true.
    #[serde(default = "yes")]
    pub store_attachments: bool,
    /// The attachment folder. Default: beside the file, named after it with
    /// `.attachments` (`feedback.jsonl` → `feedback.attachments/`).
    pub attachments_dir: Option<PathBuf>,
}

impl JsonlConfig {
    /// The attachment folder, if attachments are stored.
    fn attachments_dir(&self, base_dir: &Path) -> Option<PathBuf> {
        if !self.store_attachments {
            return None;
        }
        Some(match &self.attachments_dir {
            Some(dir) => base_dir.join(dir),
            None => base_dir.join(self.path.with_extension("attachments")),
        })
    }
}

/// A SQLite database with a `feedback` table. May be the same file as
/// `[state] path`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SqliteConfig {
    /// The database file (created with its folders if missing); relative to
    /// the configuration file's folder.
    pub path: PathBuf,
    /// Store attachment bytes in the `attachments` table (`sha256`,
    /// `content_type`, `size`, `data`), keyed by the record's
    /// `attachments[].sha256`, in the same transaction as the records.
    /// Default true.
    #[serde(default = "yes")]
    pub store_attachments: bool,
}

fn yes() -> bool {
    true
}

/// An HTTP endpoint that receives each record as a JSON `POST`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// The endpoint. `https://`, or `http://` to a loopback address only (the
    /// records and headers would otherwise cross the network unencrypted).
    pub url: String,
    /// Seconds one attempt (connect, send, response) may take. Default 10.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// Attempts per record before the batch fails, with exponential backoff
    /// and jitter between them, on connection errors, timeouts, 408, 429
    /// (honouring `Retry-After`) and 5xx. Default 5.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Extra request headers, e.g. `{ "X-Api-Key" = { env = "FEEDBACK_API_KEY" } }`.
    /// Values are resolved when the sink opens and never logged.
    #[serde(default)]
    pub headers: BTreeMap<String, HeaderValueRef>,
    /// How attachment bytes reach the endpoint: `inline` (default: each
    /// `attachments[]` entry of the posted JSON gets `content_base64`),
    /// `upload` (each is `PUT` to `attachments_url` before the record), or
    /// `none` (references only).
    #[serde(default)]
    pub attachments: HttpAttachments,
    /// With `attachments = "upload"`: where each attachment is `PUT`, with
    /// `{sha256}` replaced by its digest, e.g.
    /// `https://feedback.example.com/api/blobs/{sha256}`. Same TLS rule and
    /// headers as `url`; the body is the raw bytes with the attachment's
    /// `Content-Type`. Content-addressed, so a replayed `PUT` is harmless.
    pub attachments_url: Option<String>,
}

/// How the http sink delivers attachment bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HttpAttachments {
    /// Base64 in the posted record (`attachments[].content_base64`).
    #[default]
    Inline,
    /// `PUT` to `attachments_url` before the record is posted.
    Upload,
    /// Not sent: the record carries references (name, type, size, SHA-256).
    None,
}

fn default_timeout_secs() -> u64 {
    10
}

fn default_max_attempts() -> u32 {
    5
}

/// Where a header value comes from. Its `Debug` never shows a literal value.
#[derive(Clone, Deserialize, schemars::JsonSchema)]
#[serde(
    untagged,
    deny_unknown_fields,
    expecting = "a string, { env = \"VARIABLE\" }, { file = \"path\" } or { credential = \"NAME\" }"
)]
pub enum HeaderValueRef {
    /// The value itself, written in the configuration. Fine for non-secret
    /// headers; prefer `env` or `file` for keys and tokens.
    Plain(String),
    /// The value of an environment variable.
    Env {
        /// The variable's name.
        env: String,
    },
    /// The contents of a file, without its trailing newline.
    File {
        /// The file, relative to the configuration file's folder.
        file: PathBuf,
    },
    /// A systemd credential (`LoadCredential=NAME:path`).
    Credential {
        /// The credential's name.
        credential: String,
    },
}

impl fmt::Debug for HeaderValueRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderValueRef::Plain(_) => f.write_str("Plain(<redacted>)"),
            HeaderValueRef::Env { env } => f.debug_struct("Env").field("env", env).finish(),
            HeaderValueRef::File { file } => f.debug_struct("File").field("file", file).finish(),
            HeaderValueRef::Credential { credential } => f
                .debug_struct("Credential")
                .field("credential", credential)
                .finish(),
        }
    }
}

impl HeaderValueRef {
    /// The value. Errors name the header and the variable or file, never a
    /// value.
    fn resolve(&self, header: &str, base_dir: &Path) -> anyhow::Result<String> {
        match self {
            HeaderValueRef::Plain(v) => Ok(v.clone()),
            // Secrets resolve like every other secret reference in the config.
            HeaderValueRef::Env { env } => secret(SecretRef::Env(env.clone()), header, base_dir),
            HeaderValueRef::File { file } => {
                secret(SecretRef::File(file.clone()), header, base_dir)
            }
            HeaderValueRef::Credential { credential } => {
                secret(SecretRef::Credential(credential.clone()), header, base_dir)
            }
        }
    }
}

fn secret(r: SecretRef, header: &str, base_dir: &Path) -> anyhow::Result<String> {
    r.resolve(base_dir)
        .map(|s| s.expose().to_string())
        .map_err(|e| anyhow::anyhow!("header {header:?}: {e}"))
}

/// An open sink.
pub enum Sink {
    /// A JSON Lines file.
    Jsonl(JsonlSink),
    /// A SQLite table.
    Sqlite(SqliteSink),
    /// An HTTP endpoint.
    Http(HttpSink),
    /// A PostgreSQL table.
    Postgres(PostgresSink),
    /// A NATS JetStream subject (boxed: the client is large).
    Nats(Box<NatsSink>),
}

impl Sink {
    /// Open the sink `name` as configured. Relative paths resolve against
    /// `base_dir` (the configuration file's folder); header secrets are
    /// resolved now, so a missing one fails at startup, not at first delivery.
    pub async fn open(name: &str, cfg: &SinkConfig, base_dir: &Path) -> anyhow::Result<Sink> {
        Ok(match cfg {
            SinkConfig::Jsonl(c) => Sink::Jsonl(
                JsonlSink::open(name, base_dir.join(&c.path), c.attachments_dir(base_dir)).await?,
            ),
            SinkConfig::Sqlite(c) => Sink::Sqlite(
                SqliteSink::open(name, base_dir.join(&c.path), c.store_attachments).await?,
            ),
            SinkConfig::Http(c) => Sink::Http(HttpSink::open(name, c, base_dir)?),
            SinkConfig::Postgres(c) => {
                let url = c
                    .url
                    .resolve(base_dir)
                    .map_err(|e| anyhow::anyhow!("sink {name:?}: url: {e}"))?;
                let ca = c.ca_file.as_ref().map(|p| base_dir.join(p));
                let sink = PostgresSink::open(
                    name,
                    url.expose(),
                    c.pool_size,
                    ca.as_deref(),
                    c.store_attachments,
                )
                .await
                .map_err(|e| anyhow::anyhow!("sink {name:?}: {e:#}"))?;
                Sink::Postgres(sink)
            }
            SinkConfig::Nats(c) => Sink::Nats(Box::new(NatsSink::open(name, c, base_dir).await?)),
        })
    }

    /// The sink's name in the configuration.
    pub fn name(&self) -> &str {
        match self {
            Sink::Jsonl(s) => s.name(),
            Sink::Sqlite(s) => s.name(),
            Sink::Http(s) => s.name(),
            Sink::Postgres(s) => s.name(),
            Sink::Nats(s) => s.name(),
        }
    }

    /// For a sink whose records join the state's commit transaction
    /// ([`PostgresSink::join_state`]): the rows it adds to that commit, in
    /// place of [`Self::write_batch`].
    pub fn joined_rows<'a>(
        &self,
        records: &'a [FeedbackRecord],
        blobs: &'a Blobs,
    ) -> Option<Result<popline_state::FeedbackRows<'a>, SinkError>> {
        match self {
            Sink::Postgres(s) if s.joins_state() => Some(s.rows(records, blobs)),
            _ => None,
        }
    }

    /// Durably store every record of a batch, and the attachment bytes they
    /// reference (from `blobs`). Ok means: on disk and fsynced (jsonl),
    /// committed (sqlite), or accepted with 2xx by the server for every
    /// record (http). Records whose `id` the sink already holds are not
    /// written again (a replay after a crash must not duplicate). On error
    /// part of the batch may be stored; replaying the whole batch is safe.
    pub async fn write_batch(
        &mut self,
        records: &[FeedbackRecord],
        blobs: &Blobs,
    ) -> Result<(), SinkError> {
        if records.is_empty() {
            // Skipped or duplicate messages only: nothing to store (and no
            // fsync or transaction to pay for).
            return Ok(());
        }
        match self {
            Sink::Jsonl(s) => s.write_batch(records, blobs).await,
            Sink::Sqlite(s) => s.write_batch(records, blobs).await,
            Sink::Http(s) => s.write_batch(records, blobs).await,
            Sink::Postgres(s) => s.write_batch(records, blobs).await,
            Sink::Nats(s) => s.write_batch(records, blobs).await,
        }
    }
}

/// Attachment bytes by SHA-256 (lowercase hex), shared with the parsed
/// messages they came from rather than copied.
#[derive(Clone, Default)]
pub struct Blobs(HashMap<String, Blob>);

#[derive(Clone)]
enum Blob {
    /// Attachment `index` of a parsed message.
    Parsed(Arc<Vec<Spooled>>, usize),
    Owned(Arc<[u8]>),
}

impl Blobs {
    /// A parsed message's attachments: their decoded bytes by index, and
    /// `(sha256, index)` of each.
    pub fn add_attachments<'a>(
        &mut self,
        bytes: &Arc<Vec<Spooled>>,
        digests: impl IntoIterator<Item = (&'a str, usize)>,
    ) {
        for (sha256, index) in digests {
            if index < bytes.len() {
                self.0
                    .entry(sha256.to_string())
                    .or_insert_with(|| Blob::Parsed(bytes.clone(), index));
            }
        }
    }

    /// Bytes known by their digest (`sha256` must be theirs).
    pub fn insert(&mut self, sha256: String, bytes: Vec<u8>) {
        self.0.insert(sha256, Blob::Owned(bytes.into()));
    }

    /// Another batch's blobs.
    pub fn extend(&mut self, other: Blobs) {
        for (k, v) in other.0 {
            self.0.entry(k).or_insert(v);
        }
    }

    /// The bytes with this SHA-256.
    pub fn get(&self, sha256: &str) -> Option<&[u8]> {
        self.0.get(sha256).map(|b| match b {
            Blob::Parsed(all, i) => &all[*i][..],
            Blob::Owned(bytes) => bytes,
        })
    }

    /// The bytes of every attachment `record` references; an error names the
    /// first that is missing (a bug: they come from the same message).
    pub(crate) fn of<'b>(
        &'b self,
        sink: &str,
        record: &FeedbackRecord,
    ) -> Result<Vec<&'b [u8]>, SinkError> {
        record
            .attachments
            .iter()
            .map(|a| {
                self.get(&a.sha256)
                    .ok_or_else(|| SinkError::MissingAttachment {
                        sink: sink.to_string(),
                        id: record.id.clone(),
                        sha256: a.sha256.clone(),
                    })
            })
            .collect()
    }
}

impl SinkError {
    /// The idempotency key of the record a sink refused for good because of
    /// the record itself (HTTP 400, 413, 422), not the sink's setup (401,
    /// 403, 404 ... refuse every record and stop the poll instead). The
    /// pipeline dead-letters that message, with this error as the reason,
    /// and delivers the rest of the batch.
    pub fn refused_record(&self) -> Option<&str> {
        match self {
            SinkError::HttpRejected {
                id,
                status: 400 | 413 | 422,
                ..
            } => Some(id),
            _ => None,
        }
    }
}

/// Why a sink could not store a batch: what failed, in which sink, on which
/// path or URL, and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// A file could not be created, read, written or flushed.
    #[error("sink {sink:?}: {op} {shown}: {error}. {hint}", shown = .path.display(), hint = io_hint(.error))]
    Io {
        /// The sink's name.
        sink: String,
        /// What was being done, e.g. "appending to".
        op: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The operating system's error.
        error: io::Error,
    },
    /// A JSON Lines file holds a whole line that is not a record.
    #[error(
        "sink {sink:?}: line {line} of {shown} is not a feedback record ({error}). popline only \
         appends whole lines, so the file was edited or damaged: fix or remove that line (keep a \
         copy), then start popline again.",
        shown = .path.display()
    )]
    Corrupt {
        /// The sink's name.
        sink: String,
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: u64,
        /// Why the line does not parse.
        error: serde_json::Error,
    },
    /// A SQLite statement failed.
    #[error("sink {sink:?}: {op} {shown}: {error}. {hint}", shown = .path.display(), hint = sqlite_hint(.error))]
    Sqlite {
        /// The sink's name.
        sink: String,
        /// What was being done.
        op: &'static str,
        /// The database file.
        path: PathBuf,
        /// SQLite's error (boxed: it would double the size of every
        /// `Result<_, SinkError>`).
        error: Box<rusqlite::Error>,
    },
    /// The server refused a record with a status that retrying cannot fix
    /// (3xx, or 4xx other than 408 and 429).
    #[error(
        "sink {sink:?}: {url} refused record {id} with HTTP {status}{shown_body}; not retried. {hint}",
        shown_body = body_suffix(.body),
        hint = http_hint(*.status)
    )]
    HttpRejected {
        /// The sink's name.
        sink: String,
        /// The endpoint, without credentials or query.
        url: String,
        /// The record's idempotency key.
        id: String,
        /// The response status.
        status: u16,
        /// The start of the response body (at most 200 bytes).
        body: String,
    },
    /// Every attempt at a record failed with a transient error.
    #[error(
        "sink {sink:?}: {url} did not accept record {id} after {attempts} attempts (last: {last}). \
         The server is unreachable or failing; the batch is safe to replay, as every record \
         carries an Idempotency-Key."
    )]
    HttpUnavailable {
        /// The sink's name.
        sink: String,
        /// The endpoint, without credentials or query.
        url: String,
        /// The record's idempotency key.
        id: String,
        /// How many attempts were made.
        attempts: u32,
        /// The last attempt's failure.
        last: String,
    },
    /// A database or stream could not take the batch (unreachable, failed,
    /// no acknowledgement in time).
    #[error(
        "sink {sink:?}: {what}; nothing of the batch is acknowledged, and replaying it is safe \
         (records carry idempotency keys)"
    )]
    Unavailable {
        /// The sink's name.
        sink: String,
        /// What failed, without credentials.
        what: String,
    },
    /// A record references an attachment whose bytes were not handed over.
    #[error(
        "sink {sink:?}: record {id} references attachment {sha256} but its bytes are missing; \
         nothing of the batch is acknowledged. This is a bug in popline: please report it"
    )]
    MissingAttachment {
        /// The sink's name.
        sink: String,
        /// The record's idempotency key.
        id: String,
        /// The attachment's SHA-256.
        sha256: String,
    },
    /// The blocking write task was cancelled: the runtime is shutting down.
    #[error(
        "sink {sink:?}: the write was interrupted because popline is shutting down; part of the \
         batch may be stored, and replaying it is safe"
    )]
    Interrupted {
        /// The sink's name.
        sink: String,
    },
}

fn io_hint(e: &io::Error) -> &'static str {
    use io::ErrorKind as K;
    match e.kind() {
        K::StorageFull | K::QuotaExceeded => {
            "The disk (or the user's quota) is full: free space; nothing of this batch is \
             acknowledged, so it is safe to replay"
        }
        K::PermissionDenied => {
            "Give the user running popline write access to it, or choose another path"
        }
        K::ReadOnlyFilesystem => "The filesystem is read-only: choose a path on a writable one",
        K::NotADirectory | K::AlreadyExists => {
            "Part of the path is a file where a folder is needed: fix the sink's `path`"
        }
        K::IsADirectory => "The path is a folder: point the sink's `path` at a file",
        K::NotFound => "A folder in the path does not exist: fix the sink's `path`",
        K::FileTooLarge => "The file reached the filesystem's size limit: move it aside",
        _ => "Check the sink's `path` and the disk",
    }
}

fn sqlite_hint(e: &rusqlite::Error) -> &'static str {
    use rusqlite::ErrorCode as C;
    match e.sqlite_error_code() {
        Some(C::DiskFull) => "The disk is full: free space; the batch was rolled back",
        Some(C::ReadOnly) | Some(C::PermissionDenied) | Some(C::CannotOpen) => {
            "Give the user running popline write access to the file and its folder"
        }
        Some(C::DatabaseBusy) | Some(C::DatabaseLocked) => {
            "Another process held a lock on the database for too long; the batch was rolled back \
             and is safe to replay"
        }
        Some(C::DatabaseCorrupt) | Some(C::NotADatabase) => {
            "The file is not a SQLite database or is damaged: point the sink at another file"
        }
        _ => "The batch was rolled back and is safe to replay",
    }
}

fn body_suffix(body: &str) -> String {
    if body.is_empty() {
        String::new()
    } else {
        format!(" ({body:?})")
    }
}

fn http_hint(status: u16) -> &'static str {
    match status {
        300..=399 => {
            "The URL redirects: set `url` to the final address (a POST is never redirected)"
        }
        401 | 403 => "Check the credentials in the sink's `headers`",
        404 | 405 => "Check the sink's `url`",
        413 => "The record is larger than the server accepts",
        _ => "The server considers the request invalid: check the sink's `url` and `headers`",
    }
}

/// Run blocking file or database work off the async threads, its CPU time
/// charged to the caller's `--timings` stage. A panic in it is re-raised
/// here; cancellation (runtime shutdown) becomes an error.
async fn blocking<T, F>(sink: &str, f: F) -> Result<T, SinkError>
where
    F: FnOnce() -> Result<T, SinkError> + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(popline_core::timing::blocking(f)).await {
        Ok(result) => result,
        Err(e) => match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(_) => Err(SinkError::Interrupted {
                sink: sink.to_string(),
            }),
        },
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use popline_core::record::{AttachmentRef, Author, Match};

    /// The bytes of [`sample`]'s attachment.
    pub(crate) const SAMPLE_ATTACHMENT: &[u8] = b"log line one";

    /// Blobs holding [`sample`]'s attachment.
    pub(crate) fn blobs() -> Blobs {
        let mut b = Blobs::default();
        b.insert(
            popline_core::digest::sha256_hex(SAMPLE_ATTACHMENT),
            SAMPLE_ATTACHMENT.to_vec(),
        );
        b
    }

    /// A record with every optional field set; `n` varies the id.
    pub(crate) fn sample(n: u32) -> FeedbackRecord {
        let sha = "ab".repeat(32);
        FeedbackRecord {
            schema: popline_core::record::SCHEMA.to_string(),
            id: popline_core::record::idempotency_key("beta", &sha, n),
            pipeline: "beta".into(),
            mailbox: "beta@contoso.example".into(),
            uid: Some(format!("uid-{n}")),
            message_sha256: sha,
            source_message_id: Some("<reply-1@example.com>".into()),
            index: n,
            target: Some("FB-42".into()),
            kind: "reply".into(),
            author: Author {
                name: Some("Ada Tester".into()),
                address: "ada@example.com".into(),
            },
            subject: Some("Re: [FB-42] Crash on launch".into()),
            body_text: format!("It still crashes ({n}).\nSecond line with \"quotes\"."),
            body_html: Some("<p>It still crashes.</p>".into()),
            elided_text: Some("> quoted".into()),
            attachments: vec![AttachmentRef {
                file_name: Some("log.txt".into()),
                content_type: "text/plain".into(),
                size: SAMPLE_ATTACHMENT.len() as u64,
                sha256: popline_core::digest::sha256_hex(SAMPLE_ATTACHMENT),
                content_id: Some("<log@x>".into()),
                inline: false,
            }],
            received_at: "2026-04-20T10:00:00Z".into(),
            match_: Some(Match {
                method: "subject".into(),
                value: "FB-42".into(),
            }),
            fields: BTreeMap::from([("build".into(), "1.2.3".into())]),
            mapper: "feedback-default".into(),
        }
    }

    const SCHEMA_JSON: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../schema/feedback-record.v1.json"
    ));

    /// Follow `$ref` into `$defs`, and pick the object alternative of a
    /// `oneOf` (how the schema spells "object or null").
    fn resolve<'a>(
        schema: &'a serde_json::Value,
        defs: &'a serde_json::Value,
    ) -> &'a serde_json::Value {
        if let Some(r) = schema.get("$ref").and_then(|r| r.as_str()) {
            return &defs[r.trim_start_matches("#/$defs/")];
        }
        schema
            .get("oneOf")
            .and_then(|alts| alts.as_array())
            .and_then(|alts| {
                alts.iter()
                    .map(|a| resolve(a, defs))
                    .find(|a| a.get("properties").is_some())
            })
            .unwrap_or(schema)
    }

    /// Every key `value` has is described in `schema`, and every key the
    /// schema requires is present; recursing into objects and arrays.
    fn check_against(
        schema: &serde_json::Value,
        defs: &serde_json::Value,
        value: &serde_json::Value,
        at: &str,
    ) {
        let schema = resolve(schema, defs);
        match value {
            // A free-form map (`fields`): only its values are described.
            serde_json::Value::Object(map) if schema.get("properties").is_none() => {
                let values = schema
                    .get("additionalProperties")
                    .filter(|v| v.is_object())
                    .unwrap_or_else(|| panic!("{at}: the schema describes no properties"));
                for (key, v) in map {
                    check_against(values, defs, v, &format!("{at}.{key}"));
                }
            }
            serde_json::Value::Object(map) => {
                let props = schema["properties"].as_object().unwrap();
                for (key, v) in map {
                    let sub = props
                        .get(key)
                        .unwrap_or_else(|| panic!("{at}: key {key:?} is missing from the schema"));
                    check_against(sub, defs, v, &format!("{at}.{key}"));
                }
                for req in schema["required"].as_array().into_iter().flatten() {
                    let req = req.as_str().unwrap();
                    assert!(
                        map.contains_key(req),
                        "{at}: required {req:?} not serialized"
                    );
                }
            }
            serde_json::Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    check_against(&schema["items"], defs, v, &format!("{at}[{i}]"));
                }
            }
            _ => {}
        }
    }

    #[test]
    fn the_json_schema_describes_exactly_what_records_serialize_to() {
        let schema: serde_json::Value = serde_json::from_str(SCHEMA_JSON).unwrap();
        assert_eq!(
            schema["$schema"],
            "https://json-schema.org/draft/2020-12/schema"
        );
        assert_eq!(
            schema["properties"]["schema"]["const"],
            popline_core::record::SCHEMA
        );
        let record = serde_json::to_value(sample(0)).unwrap();
        check_against(&schema, &schema["$defs"], &record, "record");
        // Every top-level field is required (options serialize as null).
        let required: Vec<&str> = schema["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let keys: Vec<&str> = record
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        for k in &keys {
            assert!(required.contains(k), "{k:?} is not listed as required");
        }
        // And nothing in the schema that records do not have.
        for k in schema["properties"].as_object().unwrap().keys() {
            assert!(
                keys.contains(&k.as_str()),
                "schema property {k:?} is never serialized"
            );
        }
    }

    #[test]
    fn configs_parse_with_defaults_and_deny_unknown_fields() {
        #[derive(Deserialize)]
        struct File {
            sinks: BTreeMap<String, SinkConfig>,
        }
        let text = r#"
            [sinks.feedback]
            type = "jsonl"
            path = "feedback.jsonl"
            [sinks.db]
            type = "sqlite"
            path = "feedback.db"
            [sinks.api]
            type = "http"
            url = "https://feedback.example.com/api/replies"
            headers = { "X-Api-Key" = { env = "FEEDBACK_API_KEY" }, "X-Source" = "popline", "X-Token" = { file = "token" } }
        "#;
        let f: File = toml::from_str(text).unwrap();
        assert!(
            matches!(&f.sinks["feedback"], SinkConfig::Jsonl(c) if c.path == Path::new("feedback.jsonl"))
        );
        assert!(
            matches!(&f.sinks["db"], SinkConfig::Sqlite(c) if c.path == Path::new("feedback.db"))
        );
        let SinkConfig::Http(h) = &f.sinks["api"] else {
            panic!("not http")
        };
        assert_eq!((h.timeout_secs, h.max_attempts), (10, 5));
        assert!(
            matches!(&h.headers["X-Api-Key"], HeaderValueRef::Env { env } if env == "FEEDBACK_API_KEY")
        );
        assert!(
            matches!(&h.headers["X-Token"], HeaderValueRef::File { file } if file == Path::new("token"))
        );
        // A literal value never shows in Debug output.
        assert!(matches!(&h.headers["X-Source"], HeaderValueRef::Plain(_)));
        assert!(!format!("{h:?}").contains("popline\""), "{h:?}");

        let err =
            toml::from_str::<File>("[sinks.x]\ntype = \"jsonl\"\npath = \"a\"\npaht = \"b\"\n")
                .err()
                .unwrap()
                .to_string();
        assert!(err.contains("unknown field `paht`"), "{err}");
        let err = toml::from_str::<File>("[sinks.x]\ntype = \"kafka\"\n")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("kafka"), "{err}");
        let err = toml::from_str::<File>(
            "[sinks.x]\ntype = \"http\"\nurl = \"https://x\"\nheaders = { A = { vault = \"k\" } }\n",
        )
        .err()
        .unwrap()
        .to_string();
        assert!(
            err.contains(
                "{ env = \"VARIABLE\" }, { file = \"path\" } or { credential = \"NAME\" }"
            ),
            "{err}"
        );
    }

    #[test]
    fn header_values_resolve_without_revealing_them_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "s3cret-token\r\n").unwrap();
        std::fs::write(dir.path().join("empty"), "\n").unwrap();
        let file = |f: &str| HeaderValueRef::File { file: f.into() };
        assert_eq!(
            file("token").resolve("X", dir.path()).unwrap(),
            "s3cret-token"
        );
        let err = format!("{:#}", file("empty").resolve("X", dir.path()).unwrap_err());
        assert!(
            err.contains("header \"X\"") && err.contains("empty"),
            "{err}"
        );
        let err = format!(
            "{:#}",
            file("missing").resolve("X", dir.path()).unwrap_err()
        );
        assert!(
            err.contains("missing") && err.contains("No such file"),
            "{err}"
        );

        let env = |e: &str| HeaderValueRef::Env { env: e.into() };
        // PATH is set in any environment a test runs in.
        assert_eq!(
            env("PATH").resolve("X", dir.path()).unwrap(),
            std::env::var("PATH").unwrap()
        );
        let err = env("POPLINE_TEST_SURELY_UNSET_7F3A")
            .resolve("X-Api-Key", dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("X-Api-Key") && err.contains("POPLINE_TEST_SURELY_UNSET_7F3A is not set"),
            "{err}"
        );
    }

    #[test]
    fn io_errors_say_what_to_do() {
        let e = SinkError::Io {
            sink: "feedback".into(),
            op: "appending to",
            path: "/data/feedback.jsonl".into(),
            error: io::Error::from(io::ErrorKind::StorageFull),
        };
        let msg = e.to_string();
        assert!(
            msg.starts_with("sink \"feedback\": appending to /data/feedback.jsonl: "),
            "{msg}"
        );
        assert!(msg.contains("full: free space"), "{msg}");
    }
}
