//! One mailbox's poll: the host decides policy, the plugins do the talking.
//!
//! connect → dialogue greets/authenticates → list → skip committed uids →
//! retrieve a batch → parse → map → commit to every sink → record in state →
//! only then DELE (retention policy) → … → QUIT.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use tokio::sync::Mutex as AsyncMutex;

use popline_config::{Config, MailboxConfig, OversizePolicy, Retention, TlsMode};
use popline_state::deadletter::{DeadLetter, DeadLetters};
use popline_plugin_runtime::dialogue::{Listing, Pop3Error, Session, SessionError, SessionParams};
use popline_plugin_runtime::mapper::{MapOutcome, MapperInput, wit};
use popline_plugin_runtime::{DialoguePlugin, Engine, MapperPlugin};
use popline_pop3::{ConnSettings, Connection, Credential};
use popline_core::record::FeedbackRecord;
use popline_sink::{Blobs, Sink};
use popline_core::spool::Spooled;
use popline_state::{Committed, Outcome, Oversized, Store};
use popline_net::{self, Stream, TlsClient};
use popline_core::failpoint;

/// Everything one mailbox's pipeline needs, loaded once.
pub struct Mailbox {
    pub name: String,
    cfg: MailboxConfig,
    base_dir: std::path::PathBuf,
    dialogue: DialoguePlugin,
    mapper: MapperPlugin,
    mapper_config: Vec<(String, String)>,
    sinks: Vec<Arc<AsyncMutex<Sink>>>,
    tls: TlsClient,
    dead_letters: Arc<DeadLetters>,
    /// Where large messages are received (see [`popline_core::spool`]).
    spool_dir: PathBuf,
    /// The raw archive, with `archive_days`.
    archive: Option<popline_state::archive::Archive>,
    breaker: Mutex<Breaker>,
    /// OAuth tokens, when the mailbox uses OAuth instead of a password.
    pub tokens: Option<Arc<popline_oauth::TokenManager>>,
}

/// Consecutive mapper failures, and when an open breaker may try again.
#[derive(Default)]
struct Breaker {
    consecutive: u32,
    open_until: Option<std::time::Instant>,
}

/// Why one message could not be processed.
enum MessageError {
    /// The message itself cannot be mapped (parse failure, plugin error,
    /// trap, limit, invalid output): dead-letter it.
    Unmappable(String),
    /// Anything else (state, I/O): abort the poll; the message stays.
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for MessageError {
    fn from(e: anyhow::Error) -> Self {
        MessageError::Internal(e)
    }
}

/// Counts from one poll, printed by `popline once`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PollSummary {
    /// Messages on the server when listed.
    pub listed: usize,
    /// Messages retrieved this poll.
    pub fetched: usize,
    /// Messages whose feedback records were committed.
    pub committed: usize,
    /// Feedback records written.
    pub records: usize,
    /// Messages the mapper skipped (auto-replies, no match…).
    pub skipped: usize,
    /// Messages recognised as already committed under another uid.
    pub duplicates: usize,
    /// Messages the mapper could not handle, kept as dead letters.
    pub dead_lettered: usize,
    /// Messages that could not be processed (left on the server).
    pub failed: usize,
    /// Messages left on the server for their size (`oversize = "skip"`).
    pub oversized: usize,
    /// Messages received into a spool file rather than memory.
    pub spooled: usize,
    /// Messages deleted from the server.
    pub deleted: usize,
    /// Bytes read from the server.
    pub bytes: u64,
}

impl PollSummary {
    /// The counts as Prometheus counters (`popline_metrics::record_poll`).
    pub fn metric_counts(&self) -> [(&'static str, u64); 9] {
        [
            ("popline_messages_fetched_total", self.fetched as u64),
            ("popline_messages_committed_total", self.committed as u64),
            ("popline_messages_skipped_total", self.skipped as u64),
            ("popline_messages_duplicate_total", self.duplicates as u64),
            ("popline_messages_dead_lettered_total", self.dead_lettered as u64),
            ("popline_messages_failed_total", self.failed as u64),
            ("popline_messages_deleted_total", self.deleted as u64),
            ("popline_records_total", self.records as u64),
            ("popline_bytes_fetched_total", self.bytes),
        ]
    }
}

/// Shared resources for all mailboxes.
pub struct Runtime {
    pub engine: Engine,
    pub store: Arc<Mutex<Store>>,
    pub mailboxes: Vec<Arc<Mailbox>>,
    pub dead_letters: Arc<DeadLetters>,
}

impl Runtime {
    /// Load plugins, open state and sinks for every mailbox in the config.
    pub async fn load(config: &Config) -> anyhow::Result<Runtime> {
        let engine = Engine::new(popline_plugin_runtime::EngineOptions {
            cache_dir: config
                .plugins
                .cache_dir
                .as_ref()
                .map(|p| config.path(p))
                .or_else(Engine::default_cache_dir),
            max_instances: config.plugins.max_instances,
        })?;
        let store = Store::open(&config.path(&config.state.path))?;
        let mut sinks = std::collections::BTreeMap::new();
        for (name, sc) in &config.sinks {
            let sink = Sink::open(name, sc, &config.base_dir)
                .await
                .with_context(|| format!("opening sink {name:?}"))?;
            sinks.insert(name.clone(), Arc::new(AsyncMutex::new(sink)));
        }
        let dead_letters = Arc::new(DeadLetters::new(config.path(&config.state.dead_letter_dir)));
        let mut accounts = popline_oauth::Accounts::default();
        let mut mailboxes = Vec::new();
        for (name, mb) in &config.mailboxes {
            let tokens = match &mb.oauth {
                Some(o) => Some(accounts.get(
                    name,
                    o,
                    &config.base_dir,
                    config.default_token_cache(name),
                )?),
                None => None,
            };
            mailboxes.push(Arc::new(Mailbox::load(
                name,
                mb,
                config,
                &engine,
                &sinks,
                dead_letters.clone(),
                tokens,
            )?));
        }
        Ok(Runtime {
            engine,
            store: Arc::new(Mutex::new(store)),
            mailboxes,
            dead_letters,
        })
    }
}

impl Mailbox {
    fn load(
        name: &str,
        mb: &MailboxConfig,
        config: &Config,
        engine: &Engine,
        sinks: &std::collections::BTreeMap<String, Arc<AsyncMutex<Sink>>>,
        dead_letters: Arc<DeadLetters>,
        tokens: Option<Arc<popline_oauth::TokenManager>>,
    ) -> anyhow::Result<Mailbox> {
        let dialogue = DialoguePlugin::load(
            engine,
            &config.path(&mb.dialogue),
            mb.dialogue_limits.clone(),
        )
        .with_context(|| format!("mailbox {name}: loading the dialogue plugin"))?;
        let mapper = MapperPlugin::load(
            engine,
            &config.path(&mb.mapper.plugin),
            mb.mapper.limits.clone(),
        )
        .with_context(|| format!("mailbox {name}: loading the mapper plugin"))?;
        let tls = TlsClient::new(
            &mb.host,
            mb.ca_file.as_ref().map(|p| config.path(p)).as_deref(),
        )
        .with_context(|| format!("mailbox {name}: TLS settings"))?;
        Ok(Mailbox {
            name: name.to_string(),
            cfg: mb.clone(),
            base_dir: config.base_dir.clone(),
            dialogue,
            mapper,
            mapper_config: mb
                .mapper
                .config
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            sinks: mb.sinks.iter().map(|s| sinks[s].clone()).collect(),
            tls,
            dead_letters,
            spool_dir: config
                .path(&config.state.path)
                .parent()
                .map_or_else(|| PathBuf::from("spool"), |p| p.join("spool")),
            archive: mb.archive_days.map(|days| {
                popline_state::archive::Archive::new(
                    config.archive_dir(name),
                    Duration::from_secs(u64::from(days) * 86_400),
                )
            }),
            breaker: Mutex::new(Breaker::default()),
            tokens,
        })
    }

    /// Where and above which size message bytes go to disk.
    fn spool_policy(&self) -> popline_core::spool::SpoolPolicy {
        popline_core::spool::SpoolPolicy {
            above: self.cfg.spool_above_kib.saturating_mul(1024),
            dir: self.spool_dir.clone(),
        }
    }

    /// The mapper's key/value configuration from the pipeline.
    pub fn mapper_config(&self) -> &[(String, String)] {
        &self.mapper_config
    }

    /// The poll interval from the configuration.
    pub fn interval(&self) -> Duration {
        self.cfg.poll_interval
    }

    async fn credential(&self, renew: bool) -> anyhow::Result<Credential> {
        if let Some(tokens) = &self.tokens {
            let token = if renew {
                tokens.renew_access_token().await?
            } else {
                tokens.access_token().await?
            };
            return Ok(Credential::Bearer(token));
        }
        let pw = self
            .cfg
            .password
            .as_ref()
            .context("no credential configured")?
            .resolve(&self.base_dir)?;
        Ok(Credential::Password(pw))
    }

    /// Connect and log in; returns the open session. With OAuth, a rejected
    /// cached token is renewed once (it may have been revoked).
    pub async fn open_session(&self) -> anyhow::Result<Session> {
        match self.try_open(false).await {
            Err(e) if self.tokens.is_some() && is_auth_rejection(&e) => {
                tracing::info!(mailbox = %self.name, "server rejected the cached token; renewing it");
                self.try_open(true).await.map_err(|e| {
                    if is_auth_rejection(&e) {
                        e.context(format!(
                            "the server rejected a freshly issued token for user={}: check that POP is enabled for the mailbox, that `user` is the mailbox address (for a shared mailbox: its own address), and for app-only access the POP.AccessAsApp permission with admin consent, the Exchange service principal (New-ServicePrincipal) and Add-MailboxPermission",
                            self.cfg.user
                        ))
                    } else {
                        e
                    }
                })
            }
            other => other,
        }
    }

    async fn try_open(&self, renew: bool) -> anyhow::Result<Session> {
        let cfg = &self.cfg;
        let port = cfg.port();
        let timeout = Duration::from_secs(cfg.connect_timeout_secs);
        let tcp = popline_net::connect_tcp(&cfg.host, port, timeout)
            .await
            .map_err(|e| {
                ConnectError::Network(format!("connecting to {}:{port}: {e}", cfg.host))
            })?;
        let stream = match cfg.tls {
            TlsMode::Implicit => tokio::time::timeout(timeout, self.tls.handshake(tcp))
                .await
                .map_err(|_| {
                    ConnectError::Tls(format!("TLS handshake with {} timed out", cfg.host))
                })?
                .map_err(|e| ConnectError::Tls(popline_net::explain_tls_error(&e, &cfg.host)))?,
            TlsMode::Starttls | TlsMode::None => Stream::Plain(tcp),
        };
        let conn = Connection::new(
            stream,
            (cfg.tls == TlsMode::Starttls).then(|| self.tls.clone()),
            self.credential(renew).await?,
            ConnSettings {
                host: cfg.host.clone(),
                port,
                user: cfg.user.clone(),
                read_timeout: Duration::from_secs(cfg.read_timeout_secs),
                min_rate: cfg.min_bytes_per_sec,
                max_message: cfg.max_message_mib.saturating_mul(1024 * 1024),
                spool: self.spool_policy(),
                allow_plaintext: cfg.allow_plaintext,
            },
        );
        let params = SessionParams {
            user: cfg.user.clone(),
            tls: match cfg.tls {
                TlsMode::Implicit => popline_plugin_runtime::dialogue::TlsMode::Implicit,
                TlsMode::Starttls => popline_plugin_runtime::dialogue::TlsMode::Starttls,
                TlsMode::None => popline_plugin_runtime::dialogue::TlsMode::None,
            },
            mechanisms: cfg.mechanisms.clone(),
        };
        Ok(self.dialogue.open(conn, &params).await?)
    }

    /// One full poll of this mailbox.
    pub async fn poll(&self, store: &Arc<Mutex<Store>>) -> anyhow::Result<PollSummary> {
        if let Some(until) = self.breaker.lock().unwrap().open_until {
            let now = std::time::Instant::now();
            if until > now {
                anyhow::bail!(
                    "circuit breaker open: mapper {} failed on {} consecutive messages; fix or replace the plugin (see `popline dead-letter list`); next attempt in {:?}",
                    self.mapper.name(),
                    self.cfg.breaker_threshold,
                    until - now
                );
            }
        }
        if let Some(a) = &self.archive {
            a.prune(&self.name).await;
        }
        let mut session = self.open_session().await?;
        let result = self.poll_session(&mut session, store).await;
        match result {
            Ok(mut summary) => {
                summary.counts.bytes = session.bytes_read();
                let deleted = std::mem::take(&mut summary.deleted_uids);
                session.quit().await.context("ending the session (QUIT)")?;
                // Deletions take effect at QUIT; only now are they real.
                if !deleted.is_empty() {
                    let name = self.name.clone();
                    let store = store.clone();
                    tokio::task::spawn_blocking(move || {
                        store.lock().unwrap().mark_deleted(&name, &deleted)
                    })
                    .await??;
                }
                Ok(summary.counts)
            }
            Err(e) => {
                // Without QUIT the server keeps every message, including any
                // marked for deletion in this session.
                session.abandon().await;
                Err(e)
            }
        }
    }

    async fn poll_session(
        &self,
        session: &mut Session,
        store: &Arc<Mutex<Store>>,
    ) -> anyhow::Result<SessionResult> {
        let mut out = SessionResult::default();
        let listing = session.list().await.context("listing messages")?;
        out.counts.listed = listing.len();
        let seen = {
            let store = store.lock().unwrap();
            store.seen(&self.name)?
        };
        let now = unix_now();
        let keep_secs = self.cfg.keep_days.map(|d| i64::from(d) * 86_400);
        let max_size = self.cfg.max_message_mib.saturating_mul(1024 * 1024);

        let mut to_fetch: Vec<&Listing> = Vec::new();
        let mut expired: Vec<&Listing> = Vec::new();
        let mut oversized: Vec<&Listing> = Vec::new();
        for l in &listing {
            // A uid committed and then deleted from the server, yet listed
            // again, names a message this session has not seen: servers
            // that derive ids from positions reuse them for new mail (or the
            // server lost the deletion). Fetch it; the content digest tells
            // the two apart, and deleting it unread would lose it.
            match seen.get(&l.uid).filter(|s| !s.deleted) {
                Some(s) => {
                    // Committed earlier (perhaps a crash before DELE/QUIT).
                    let due = match self.cfg.retention {
                        Retention::Delete => true,
                        Retention::Keep => keep_secs.is_some_and(|k| now - s.committed_at >= k),
                    };
                    if due {
                        expired.push(l);
                    }
                }
                None if l.size > max_size && self.cfg.oversize == OversizePolicy::Skip => {
                    oversized.push(l);
                }
                None => to_fetch.push(l),
            }
        }
        out.counts.oversized = oversized.len();
        self.triage_oversized(session, &listing, &oversized, store)
            .await?;
        if let Some(largest) = to_fetch.iter().map(|l| l.size).max()
            && largest > max_size
        {
            // `oversize = "fetch"`: accept the largest listed message, with
            // slack for a server whose LIST size is a little off, but still
            // bounded so a runaway response cannot fill the disk.
            session.set_max_message(largest.saturating_add(largest / 10 + (1 << 20)));
        }
        crate::progress::planned(
            &self.name,
            to_fetch.len(),
            to_fetch.iter().map(|l| l.size).sum(),
        );
        if !expired.is_empty() {
            self.delete(session, &expired, &mut out).await?;
        }
        let batches: Vec<&[&Listing]> = to_fetch.chunks(self.cfg.batch_size).collect();
        let mut prefetched: Option<Retrieved> = None;
        for (i, batch) in batches.iter().enumerate() {
            if self.breaker_open() {
                // Tripped by an earlier batch: fetching the rest would only
                // download messages to leave them on the server.
                out.counts.failed += to_fetch.len() - i * self.cfg.batch_size;
                break;
            }
            let fetched = match prefetched.take() {
                Some(f) => f,
                None => session.retrieve(&numbers(batch)).await,
            }
            .context("retrieving messages")?;
            // The next batch downloads while this one is parsed, mapped and
            // committed, as long as the mapper is healthy (a failing one is
            // not fed ahead of the circuit breaker).
            let next = batches.get(i + 1).filter(|_| self.breaker_healthy());
            let committed = match next {
                Some(next) => {
                    let next = numbers(next);
                    let (committed, f) = tokio::join!(
                        self.process_fetched(batch, fetched, store, &mut out),
                        session.retrieve(&next),
                    );
                    prefetched = Some(f);
                    committed?
                }
                None => {
                    self.process_fetched(batch, fetched, store, &mut out)
                        .await?
                }
            };
            if self.cfg.retention == Retention::Delete && !committed.is_empty() {
                if prefetched.as_ref().is_some_and(broke_connection) {
                    // The read ahead lost the connection: the next round
                    // commits what did arrive and reports the cause; these
                    // committed messages are deleted by the next poll.
                    continue;
                }
                self.delete(session, &committed, &mut out).await?;
            }
        }
        Ok(out)
    }

    /// Record messages left on the server for their size. A uid seen for the
    /// first time has its headers read with TOP (so the operator learns who
    /// sent what) and is logged once; later polls only count it.
    async fn triage_oversized(
        &self,
        session: &mut Session,
        listing: &[Listing],
        oversized: &[&Listing],
        store: &Arc<Mutex<Store>>,
    ) -> anyhow::Result<()> {
        let known = store.lock().unwrap().oversized_uids(&self.name)?;
        let listed: HashSet<String> = listing.iter().map(|l| l.uid.clone()).collect();
        let mut found = Vec::new();
        for l in oversized.iter().filter(|l| !known.contains(&l.uid)) {
            let headers = match session.top(l.number, 0).await {
                Ok(raw) => popline_mime::parse(&raw).ok(),
                // A server without TOP, or a message it cannot show: record
                // it without headers.
                Err(SessionError::Pop3(e)) => {
                    tracing::debug!(mailbox = %self.name, uid = %l.uid, "TOP failed: {e}");
                    None
                }
                Err(e) => return Err(anyhow::Error::new(e).context("reading headers (TOP)")),
            };
            let email = headers.map(|p| p.email);
            let o = Oversized {
                uid: l.uid.clone(),
                size: l.size,
                message_id: email.as_ref().and_then(|e| e.message_id.clone()),
                sender: email
                    .as_ref()
                    .and_then(|e| e.from.first())
                    .map(|a| a.address.clone()),
                subject: email.and_then(|e| e.subject),
            };
            tracing::warn!(mailbox = %self.name, uid = %l.uid, size = l.size,
                from = o.sender.as_deref().unwrap_or("?"), subject = o.subject.as_deref().unwrap_or("?"),
                "message larger than max_message_mib ({} MiB): left on the server and recorded; \
                 raise max_message_mib or set oversize = \"fetch\" to ingest it",
                self.cfg.max_message_mib);
            found.push(o);
        }
        if !found.is_empty() || known.iter().any(|uid| !listed.contains(uid)) {
            let name = self.name.clone();
            let store = store.clone();
            tokio::task::spawn_blocking(move || {
                store
                    .lock()
                    .unwrap()
                    .record_oversized(&name, &found, &listed)
            })
            .await??;
        }
        Ok(())
    }

    /// Parse, map and durably commit one retrieved batch. Returns the
    /// listings whose result is now stored (and so may be deleted).
    async fn process_fetched<'l>(
        &self,
        batch: &[&'l Listing],
        fetched: Vec<Result<Spooled, Pop3Error>>,
        store: &Arc<Mutex<Store>>,
        out: &mut SessionResult,
    ) -> anyhow::Result<Vec<&'l Listing>> {
        let received_at = popline_core::clock::now_rfc3339();
        let mut records: Vec<FeedbackRecord> = Vec::new();
        let mut blobs = Blobs::default();
        let mut commits: Vec<Committed> = Vec::new();
        let mut done: Vec<&Listing> = Vec::new();
        // The first failure that left the connection unusable: the poll ends
        // with it once what did arrive is committed.
        let mut lost: Option<anyhow::Error> = None;
        for (l, raw) in batch.iter().zip(fetched) {
            let raw = match raw {
                Ok(raw) => raw,
                Err(e) => {
                    tracing::warn!(mailbox = %self.name, uid = %l.uid, "retrieve failed: {e}");
                    out.counts.failed += 1;
                    if lost.is_none() && connection_lost(&e) {
                        lost = Some(lost_connection(e, "retrieving", l));
                    }
                    continue;
                }
            };
            out.counts.fetched += 1;
            crate::progress::fetched(&self.name, raw.len() as u64);
            if let Some(a) = &self.archive {
                a.keep(&self.name, &l.uid, &raw).await;
            }
            if raw.is_spooled() {
                out.counts.spooled += 1;
            }
            if self.breaker_open() {
                // Tripped during this batch: leave the rest on the server.
                out.counts.failed += 1;
                continue;
            }
            let processed = match self
                .process_message(l, &raw, &received_at, store, &commits, &mut blobs)
                .await
            {
                Ok(p) => {
                    self.breaker_result(true);
                    Ok(p)
                }
                Err(MessageError::Unmappable(reason)) => {
                    self.breaker_result(false);
                    self.dead_letter(l, raw, &reason, &received_at).await
                }
                Err(MessageError::Internal(e)) => return Err(e),
            };
            match processed {
                Ok((commit, recs)) => {
                    match &commit.outcome {
                        Outcome::Feedback { .. } => out.counts.committed += 1,
                        Outcome::Skipped { .. } => out.counts.skipped += 1,
                        Outcome::Duplicate { .. } => out.counts.duplicates += 1,
                        Outcome::DeadLetter { .. } => out.counts.dead_lettered += 1,
                    }
                    out.counts.records += recs.len();
                    records.extend(recs);
                    // The very message this uid was committed as, listed
                    // again after its deletion: its row already says so.
                    let relisted = matches!(&commit.outcome,
                        Outcome::Duplicate { of_uid } if *of_uid == commit.uid);
                    if !relisted {
                        commits.push(commit);
                    }
                    done.push(l);
                }
                Err(e) => {
                    tracing::warn!(mailbox = %self.name, uid = %l.uid, "message left on the server: {e:#}");
                    out.counts.failed += 1;
                }
            }
        }
        if !commits.is_empty() {
            self.commit(&records, &blobs, commits, store).await?;
        }
        match lost {
            Some(e) => Err(e),
            None => Ok(done),
        }
    }

    /// Whether the mapper's last message succeeded (no failure streak).
    fn breaker_healthy(&self) -> bool {
        let b = self.breaker.lock().unwrap();
        b.consecutive == 0 && b.open_until.is_none()
    }

    /// Whether the circuit breaker is open now.
    fn breaker_open(&self) -> bool {
        self.breaker
            .lock()
            .unwrap()
            .open_until
            .is_some_and(|u| u > std::time::Instant::now())
    }

    /// Record a mapping success or failure; open the breaker at the threshold.
    fn breaker_result(&self, ok: bool) {
        let mut b = self.breaker.lock().unwrap();
        if ok {
            *b = Breaker::default();
            return;
        }
        b.consecutive += 1;
        if b.consecutive >= self.cfg.breaker_threshold {
            tracing::error!(mailbox = %self.name, plugin = %self.mapper.name(),
                "mapper failed on {} consecutive messages: circuit breaker open for {:?}",
                b.consecutive, self.cfg.breaker_cooldown);
            b.open_until = Some(std::time::Instant::now() + self.cfg.breaker_cooldown);
            // Half-open after the cooldown: one more failure re-opens it.
            b.consecutive = self.cfg.breaker_threshold.saturating_sub(1);
        }
    }

    /// Quarantine a message that cannot be mapped; its outcome is then
    /// stored like any other, so it may be deleted from the server.
    async fn dead_letter(
        &self,
        l: &Listing,
        raw: Spooled,
        reason: &str,
        received_at: &str,
    ) -> anyhow::Result<(Committed, Vec<FeedbackRecord>)> {
        let sha256 = popline_core::digest::sha256_hex(&raw);
        let (message_id, body_sha256) = match popline_mime::parse(&raw) {
            Ok(p) => (p.email.message_id, Some(p.body_sha256)),
            Err(_) => (None, None),
        };
        let meta = DeadLetter {
            id: format!("{}-{}", self.name, &sha256[..16]),
            pipeline: self.name.clone(),
            mailbox: self.cfg.user.clone(),
            uid: l.uid.clone(),
            message_id: message_id.clone(),
            sha256: sha256.clone(),
            reason: reason.to_string(),
            plugin: self.mapper.name().to_string(),
            plugin_sha256: self.mapper.digest().to_string(),
            at: received_at.to_string(),
        };
        tracing::warn!(mailbox = %self.name, uid = %l.uid, id = %meta.id, "dead-lettered: {reason}");
        let dl = self.dead_letters.clone();
        let size = raw.len() as u64;
        let stored = meta.clone();
        // Moved, not copied: a spooled message stays a mapped file.
        tokio::task::spawn_blocking(move || dl.store(&stored, &raw))
            .await?
            .context("storing a dead letter")?;
        Ok((
            Committed {
                uid: l.uid.clone(),
                message_id,
                sha256,
                body_sha256,
                size,
                outcome: Outcome::DeadLetter {
                    reason: format!("{} ({})", reason, meta.id),
                },
            },
            Vec::new(),
        ))
    }

    async fn process_message(
        &self,
        l: &Listing,
        raw: &[u8],
        received_at: &str,
        store: &Arc<Mutex<Store>>,
        pending: &[Committed],
        blobs: &mut Blobs,
    ) -> Result<(Committed, Vec<FeedbackRecord>), MessageError> {
        let parsed = match popline_mime::parse_spooled(raw, &self.spool_policy()) {
            Ok(p) => p,
            // The host's disk, not the message: leave it on the server.
            Err(e @ popline_mime::MimeError::Spool(_)) => {
                return Err(MessageError::Internal(anyhow::anyhow!(
                    "mailbox {}: {e}",
                    self.name
                )));
            }
            Err(e) => {
                return Err(MessageError::Unmappable(format!(
                    "cannot parse the message: {e}"
                )));
            }
        };
        failpoint::hit("after-parse");
        let message_id = parsed.email.message_id.clone();
        let commit = |outcome| Committed {
            uid: l.uid.clone(),
            message_id: message_id.clone(),
            sha256: parsed.sha256.clone(),
            body_sha256: Some(parsed.body_sha256.clone()),
            size: raw.len() as u64,
            outcome,
        };
        // Earlier in this batch (not in the state yet), then the state.
        let in_batch = pending.iter().find(|c| {
            c.sha256 == parsed.sha256
                || (message_id.is_some()
                    && c.message_id == message_id
                    && c.body_sha256.as_deref() == Some(parsed.body_sha256.as_str()))
        });
        let dup = match in_batch {
            Some(c) => Some(c.uid.clone()),
            None => store
                .lock()
                .unwrap()
                .find_duplicate(
                    &self.name,
                    message_id.as_deref(),
                    &parsed.sha256,
                    Some(&parsed.body_sha256),
                )
                .map_err(MessageError::Internal)?,
        };
        if let Some(of_uid) = dup {
            tracing::info!(mailbox = %self.name, uid = %l.uid, of = %of_uid, "already committed under another unique id");
            return Ok((commit(Outcome::Duplicate { of_uid }), Vec::new()));
        }
        let (outcome, recs) = self
            .map_parsed(
                &self.mapper,
                &self.mapper_config,
                &parsed,
                &l.uid,
                received_at,
            )
            .await
            .map_err(|e| MessageError::Unmappable(e.to_string()))?;
        if let Outcome::Skipped { reason } = &outcome {
            tracing::info!(mailbox = %self.name, uid = %l.uid, "skipped: {reason}");
        }
        if !recs.is_empty() {
            add_blobs(blobs, &parsed);
        }
        Ok((commit(outcome), recs))
    }

    /// Run `mapper` on a parsed message in this pipeline's context: the
    /// state outcome and the records it produced.
    async fn map_parsed(
        &self,
        mapper: &MapperPlugin,
        config: &[(String, String)],
        parsed: &popline_mime::ParsedEmail,
        uid: &str,
        received_at: &str,
    ) -> Result<(Outcome, Vec<FeedbackRecord>), popline_plugin_runtime::PluginError> {
        let ctx = wit::Context {
            pipeline: self.name.clone(),
            mailbox: self.cfg.user.clone(),
            uid: uid.to_string(),
            received_at: received_at.to_string(),
        };
        let input = MapperInput {
            email: &parsed.email,
            attachments: parsed.attachments.clone(),
            context: &ctx,
            config,
        };
        Ok(match mapper.map(input).await? {
            MapOutcome::Feedback(list) => {
                let recs = popline_mapping::build_records(parsed, &ctx, mapper.name(), list);
                let records = recs.len() as u32;
                (Outcome::Feedback { records }, recs)
            }
            MapOutcome::Skip(reason) => (Outcome::Skipped { reason }, Vec::new()),
        })
    }

    /// Durably store one batch's results: every sink first, then the state
    /// (one transaction). A crash in between replays the batch, and the sinks
    /// drop records whose idempotency key they already hold.
    async fn commit(
        &self,
        records: &[FeedbackRecord],
        blobs: &Blobs,
        commits: Vec<Committed>,
        store: &Arc<Mutex<Store>>,
    ) -> anyhow::Result<()> {
        for sink in &self.sinks {
            let mut sink = sink.lock().await;
            sink.write_batch(records, blobs)
                .await
                .with_context(|| format!("delivering to sink {:?}", sink.name()))?;
        }
        failpoint::hit("after-sink");
        let name = self.name.clone();
        let store = store.clone();
        tokio::task::spawn_blocking(move || store.lock().unwrap().record_batch(&name, &commits))
            .await??;
        failpoint::hit("after-state");
        Ok(())
    }

    async fn delete(
        &self,
        session: &mut Session,
        listings: &[&Listing],
        out: &mut SessionResult,
    ) -> anyhow::Result<()> {
        let numbers: Vec<u32> = listings.iter().map(|l| l.number).collect();
        let results = session
            .delete(&numbers)
            .await
            .context("deleting messages")?;
        failpoint::hit("after-dele");
        let mut lost: Option<anyhow::Error> = None;
        for (l, r) in listings.iter().zip(results) {
            match r {
                Ok(()) => {
                    out.deleted_uids.push(l.uid.clone());
                    out.counts.deleted += 1;
                }
                Err(e) => {
                    tracing::warn!(mailbox = %self.name, uid = %l.uid, "DELE failed: {e}");
                    if lost.is_none() && connection_lost(&e) {
                        lost = Some(lost_connection(e, "deleting", l));
                    }
                }
            }
        }
        match lost {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

#[derive(Default)]
struct SessionResult {
    counts: PollSummary,
    deleted_uids: Vec<String>,
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Whether a per-message failure left the connection unusable (transport
/// failure, or an answer out of step), rather than a `-ERR` for that message.
/// Why a connection to the server could not be opened, by class (metrics
/// and callers match on it, not on the text).
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// TCP: name resolution, refused, unreachable, timed out.
    #[error("{0}")]
    Network(String),
    /// The TLS handshake or certificate verification.
    #[error("{0}")]
    Tls(String),
}

/// What one `retrieve` call gave: a result per message, or the session's
/// failure.
type Retrieved = Result<Vec<Result<Spooled, Pop3Error>>, SessionError>;

/// The message numbers of a batch.
fn numbers(batch: &[&Listing]) -> Vec<u32> {
    batch.iter().map(|l| l.number).collect()
}

/// Whether a retrieve left the connection unusable.
fn broke_connection(r: &Retrieved) -> bool {
    match r {
        Err(_) => true,
        Ok(results) => results
            .iter()
            .any(|r| matches!(r, Err(e) if connection_lost(e))),
    }
}

fn connection_lost(e: &popline_plugin_runtime::dialogue::Pop3Error) -> bool {
    use popline_plugin_runtime::dialogue::ErrorKind;
    matches!(e.kind, ErrorKind::Io | ErrorKind::Protocol)
}

/// The poll's error for a failure that left the connection unusable while
/// `doing` something to message `l`.
fn lost_connection(
    e: popline_plugin_runtime::dialogue::Pop3Error,
    doing: &str,
    l: &Listing,
) -> anyhow::Error {
    anyhow::Error::new(SessionError::Pop3(e))
        .context(format!("{doing} message {} (uid {})", l.number, l.uid))
}

/// Map a poll error to the session error it came from, if any.
pub fn session_error(e: &anyhow::Error) -> Option<&SessionError> {
    e.chain().find_map(|c| c.downcast_ref::<SessionError>())
}

fn is_auth_rejection(e: &anyhow::Error) -> bool {
    matches!(
        session_error(e),
        Some(SessionError::Pop3(p)) if p.kind == popline_plugin_runtime::dialogue::ErrorKind::Auth
    )
}

/// What a dead-letter retry did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryOutcome {
    /// Records were delivered to the sinks.
    Delivered(usize),
    /// The mapper now skips the message.
    Skipped(String),
}

impl Mailbox {
    /// Reprocess a dead letter with this mailbox's mapper (or `mapper` with
    /// its own configuration), and
    /// deliver to its sinks. The records get the same idempotency keys as a
    /// first delivery would, so a retry never duplicates.
    pub async fn retry_dead_letter(
        &self,
        meta: &DeadLetter,
        raw: &[u8],
        mapper: Option<(&MapperPlugin, &[(String, String)])>,
        store: &Arc<Mutex<Store>>,
    ) -> anyhow::Result<RetryOutcome> {
        let (mapper, config) = mapper.unwrap_or((&self.mapper, &self.mapper_config));
        let parsed = popline_mime::parse(raw).context("parsing the message")?;
        let (outcome, records) = self
            .map_parsed(mapper, config, &parsed, &meta.uid, &meta.at)
            .await?;
        let result = match &outcome {
            Outcome::Skipped { reason } => RetryOutcome::Skipped(reason.clone()),
            _ => RetryOutcome::Delivered(records.len()),
        };
        let commit = Committed {
            uid: meta.uid.clone(),
            message_id: parsed.email.message_id.clone(),
            sha256: parsed.sha256.clone(),
            body_sha256: Some(parsed.body_sha256.clone()),
            size: raw.len() as u64,
            outcome,
        };
        let mut blobs = Blobs::default();
        add_blobs(&mut blobs, &parsed);
        self.commit(&records, &blobs, vec![commit], store).await?;
        Ok(result)
    }
}

/// The attachment bytes of a parsed message, for the sinks.
fn add_blobs(blobs: &mut Blobs, parsed: &popline_mime::ParsedEmail) {
    let digests = parsed
        .email
        .attachments
        .iter()
        .map(|a| (a.sha256.as_str(), a.index as usize));
    blobs.add_attachments(&parsed.attachments, digests);
}
