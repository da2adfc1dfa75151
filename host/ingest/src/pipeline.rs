//! One mailbox's poll: the host decides policy, the plugins do the talking.
//!
//! connect → dialogue greets/authenticates → list → skip committed uids →
//! retrieve a batch → parse → map → commit to every sink → record in state →
//! only then DELE (retention policy) → … → QUIT.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::Mutex as AsyncMutex;

use popline_config::{Config, MailboxConfig, Retention, TlsMode};
use popline_core::clock::{now_rfc3339, unix_now};
use popline_core::digest::sha256_hex;
use popline_core::failpoint;
use popline_core::record::FeedbackRecord;
use popline_core::spool::Spooled;
use popline_mapping::{MapError, Mapped};
use popline_mime::ParsedEmail;
use popline_net::{Stream, TlsClient};
use popline_plugin_runtime::dialogue::{
    ErrorKind, Listing, Pop3Error, Session, SessionError, SessionParams,
};
use popline_plugin_runtime::{DialoguePlugin, Engine, MapperPlugin};
use popline_pop3::{ConnSettings, Connection, Credential, TooLarge};
use popline_sink::{Blobs, Sink, SinkConfig};
use popline_state::deadletter::{DeadLetter, DeadLetters};
use popline_state::{Committed, Disposition, Fingerprint, NewNotice, Oversized, StateBackend};

use crate::breaker::Breaker;
use crate::commit::{SharedSink, commit_batch, commit_batch_with_notices};
pub use crate::error::{ConnectError, PollError};
use crate::lease::Lease;
use crate::plan::{self, Policy};
use crate::plugins::LoadedPlugins;
use crate::workers::{Job, Workers};

/// One mailbox's pipeline: its plugins, sinks and policy, loaded once.
pub struct Pipeline {
    pub name: String,
    cfg: MailboxConfig,
    base_dir: std::path::PathBuf,
    dialogue: Arc<DialoguePlugin>,
    mapper: Arc<MapperPlugin>,
    mapper_config: Arc<[(String, String)]>,
    /// The process's parse-and-map pool.
    workers: Workers,
    sinks: Vec<SharedSink>,
    tls: TlsClient,
    dead_letters: Arc<DeadLetters>,
    /// Where large messages are received (see [`popline_core::spool`]).
    spool_dir: PathBuf,
    /// The raw archive, with `archive_days`.
    archive: Option<popline_state::archive::Archive>,
    breaker: Mutex<Breaker>,
    /// OAuth tokens, when the mailbox uses OAuth instead of a password.
    pub tokens: Option<popline_oauth::Tokens>,
    /// Notices to testers, when the mailbox has `notices`.
    notices: Option<popline_notice::MailboxPlan>,
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
    /// The counts as metrics (`popline_metrics::record_poll`): every
    /// message looked at by outcome, and what was read, deleted, written.
    pub fn metric_counts(&self) -> popline_metrics::PollCounts {
        use popline_metrics::Outcome;
        popline_metrics::PollCounts {
            messages: vec![
                (Outcome::Committed, self.committed as u64),
                (Outcome::Skipped, self.skipped as u64),
                (Outcome::Duplicate, self.duplicates as u64),
                (Outcome::DeadLettered, self.dead_lettered as u64),
                (Outcome::Failed, self.failed as u64),
                (Outcome::Oversized, self.oversized as u64),
            ],
            fetched_messages: self.fetched as u64,
            fetched_bytes: self.bytes,
            deleted_messages: self.deleted as u64,
            records: self.records as u64,
        }
    }

    /// The one-line summary `popline once` prints and the state records.
    pub fn line(&self) -> String {
        format!(
            "listed {}, fetched {}, committed {} ({} records), skipped {}, duplicates {}, dead-lettered {}, failed {}, deleted {}, {} KiB",
            self.listed,
            self.fetched,
            self.committed,
            self.records,
            self.skipped,
            self.duplicates,
            self.dead_lettered,
            self.failed,
            self.deleted,
            self.bytes / 1024
        ) + &[
            ("oversized (left on the server)", self.oversized),
            ("spooled to disk", self.spooled),
        ]
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(what, n)| format!(", {what} {n}"))
        .collect::<String>()
    }
}

/// Every configured pipeline and what they share: the plugin engine, the
/// state backend and the dead letters.
pub struct Pipelines {
    pub engine: Engine,
    pub state: Arc<dyn StateBackend>,
    pub pipelines: Vec<Arc<Pipeline>>,
    pub dead_letters: Arc<DeadLetters>,
    /// Polls that may run at once (`max_concurrent_polls`).
    pub poll_slots: Arc<tokio::sync::Semaphore>,
    /// Sends the outbox's notices through the `[notices.NAME]` servers.
    pub deliverer: Arc<popline_notice::Deliverer>,
    /// The OAuth sign-ins the pipelines and the deliverer use.
    pub logins: crate::logins::Logins,
}

impl Pipelines {
    /// Load plugins, open state and sinks for every mailbox in the config.
    pub async fn load(config: &Config) -> anyhow::Result<Pipelines> {
        let engine = Engine::new(popline_plugin_runtime::EngineOptions {
            cache_dir: config
                .plugins
                .cache_dir
                .as_ref()
                .map(|p| config.path(p))
                .or_else(Engine::default_cache_dir),
            max_instances: config.plugins.max_instances,
            perf_map: popline_plugin_runtime::EngineOptions::perf_map_from_env(),
        })?;
        let state = crate::state::open(config).await?;
        let mut sinks = BTreeMap::new();
        for (name, sc) in &config.sinks {
            let mut sink = Sink::open(name, sc, &config.base_dir)
                .await
                .with_context(|| format!("opening sink {name:?}"))?;
            if joins_state(config, sc)?
                && let Sink::Postgres(s) = &mut sink
            {
                s.join_state();
                tracing::info!(sink = %name, "the sink is on the state's database: its records commit in the state's transaction");
            }
            sinks.insert(name.clone(), Arc::new(AsyncMutex::new(sink)));
        }
        let dead_letters = Arc::new(DeadLetters::new(config.path(&config.state.dead_letter_dir)));
        let logins = crate::logins::Logins::new(config)?;
        let mut plugins = LoadedPlugins::default();
        let mut pipelines = Vec::new();
        let workers = Workers::new(config.workers.unwrap_or_else(Workers::default_size));
        for (name, mb) in &config.mailboxes {
            let tokens = logins.mailboxes.get(name).cloned();
            pipelines.push(Arc::new(Pipeline::load(
                name,
                mb,
                config,
                (&engine, &mut plugins, &workers),
                &sinks,
                dead_letters.clone(),
                tokens,
            )?));
        }
        let deliverer = Arc::new(crate::notices::deliverer(config, state.clone(), &logins)?);
        Ok(Pipelines {
            deliverer,
            logins,
            engine,
            state,
            pipelines,
            dead_letters,
            poll_slots: Arc::new(tokio::sync::Semaphore::new(
                config.max_concurrent_polls.max(1),
            )),
        })
    }

    /// The pipeline named `name`, or all of them.
    pub fn selected(&self, only: Option<&str>) -> anyhow::Result<Vec<Arc<Pipeline>>> {
        let Some(name) = only else {
            return Ok(self.pipelines.clone());
        };
        match self.pipelines.iter().find(|m| m.name == name) {
            Some(p) => Ok(vec![p.clone()]),
            None => {
                let names: Vec<&str> = self.pipelines.iter().map(|m| m.name.as_str()).collect();
                anyhow::bail!(
                    "no mailbox named {name:?}; configured: [{}]",
                    names.join(", ")
                )
            }
        }
    }
}

/// Whether sink `sc` is a `postgres` sink on the PostgreSQL state's own
/// database (the same URL), whose records then join the state's commit.
fn joins_state(config: &Config, sc: &SinkConfig) -> anyhow::Result<bool> {
    let SinkConfig::Postgres(pg) = sc else {
        return Ok(false);
    };
    if !matches!(config.state.backend, popline_config::StateKind::Postgres) {
        return Ok(false);
    }
    let state_url = crate::state::postgres_url(config)?;
    let sink_url = pg.url.resolve(&config.base_dir)?;
    Ok(sink_url.expose() == state_url.expose())
}

impl Pipeline {
    fn load(
        name: &str,
        mb: &MailboxConfig,
        config: &Config,
        (engine, plugins, workers): (&Engine, &mut LoadedPlugins, &Workers),
        sinks: &BTreeMap<String, SharedSink>,
        dead_letters: Arc<DeadLetters>,
        tokens: Option<popline_oauth::Tokens>,
    ) -> anyhow::Result<Pipeline> {
        let dialogue = plugins
            .dialogue(
                engine,
                &crate::plugins::source(&config.plugin(&mb.dialogue)),
                &mb.dialogue_limits,
            )
            .with_context(|| format!("mailbox {name}: loading the dialogue plugin"))?;
        let mapper = plugins
            .mapper(
                engine,
                &crate::plugins::source(&config.plugin(&mb.mapper.plugin)),
                &mb.mapper.limits,
            )
            .with_context(|| format!("mailbox {name}: loading the mapper plugin"))?;
        let tls = TlsClient::new(
            &mb.host,
            mb.ca_file.as_ref().map(|p| config.path(p)).as_deref(),
        )
        .with_context(|| format!("mailbox {name}: TLS settings"))?;
        Ok(Pipeline {
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
            workers: workers.clone(),
            sinks: mb.sinks.iter().map(|s| sinks[s].clone()).collect(),
            tls,
            dead_letters,
            spool_dir: config.state_dir().join("spool"),
            archive: mb.archive_days.map(|days| {
                popline_state::archive::Archive::new(
                    config.archive_dir(name),
                    Duration::from_secs(u64::from(days) * 86_400),
                )
            }),
            breaker: Mutex::new(Breaker::new(mb.breaker_threshold, mb.breaker_cooldown)),
            tokens,
            notices: crate::notices::plan(config, mb),
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

    /// The mapper plugin's name (its `plugin` label in metrics).
    pub fn mapper_name(&self) -> &str {
        self.mapper.name()
    }

    /// Whether the mailbox sends notices to testers.
    pub fn sends_notices(&self) -> bool {
        self.notices.is_some()
    }

    async fn credential(&self, renew: bool) -> Result<Credential, PollError> {
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
            .ok_or_else(|| PollError::Host(anyhow::anyhow!("no credential configured")))?
            .resolve(&self.base_dir)?;
        Ok(Credential::Password(pw))
    }

    /// Connect and log in; returns the open session. With OAuth, a rejected
    /// cached token is renewed once (it may have been revoked).
    pub async fn open_session(&self) -> Result<Session, PollError> {
        match self.try_open(false).await {
            Err(e)
                if e.is_auth_rejection()
                    && let Some(tokens) = &self.tokens =>
            {
                tracing::info!(mailbox = %self.name, "server rejected the cached token; renewing it");
                self.try_open(true).await.map_err(|e| {
                    if !e.is_auth_rejection() {
                        return e;
                    }
                    e.in_context(refused_token_hint(&self.cfg.user, tokens.flow()))
                })
            }
            other => other,
        }
    }

    async fn try_open(&self, renew: bool) -> Result<Session, PollError> {
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

    /// One full poll of this mailbox, while this host holds `lease`.
    pub async fn poll(
        &self,
        state: &dyn StateBackend,
        lease: &Lease,
    ) -> Result<PollSummary, PollError> {
        let open_for = self.breaker.lock().unwrap().open_for(Instant::now());
        if let Some(retry_in) = open_for {
            return Err(PollError::BreakerOpen {
                mapper: self.mapper.name().to_string(),
                threshold: self.cfg.breaker_threshold,
                retry_in,
            });
        }
        if let Some(a) = &self.archive {
            a.prune(&self.name).await;
        }
        let mut session = self.open_session().await?;
        let deadline = self.cfg.session_timeout;
        let polled = tokio::time::timeout(deadline, self.poll_session(&mut session, state, lease))
            .await
            .unwrap_or(Err(PollError::Deadline { after: deadline }));
        match polled {
            Ok(mut summary) => {
                summary.counts.bytes = session.bytes_read();
                let deleted = std::mem::take(&mut summary.deleted_uids);
                // Deletions take effect at QUIT. Recorded as pending first,
                // so that if the outcome of QUIT is never recorded, a uid
                // the server then reuses is fetched, not deleted unread.
                if !deleted.is_empty() {
                    let pending = state.mark_deleting(&self.name, deleted.clone()).await;
                    if let Err(e) = pending {
                        session.abandon().await;
                        return Err(PollError::State(e));
                    }
                }
                session
                    .quit()
                    .await
                    .map_err(|e| PollError::session("ending the session (QUIT)", e))?;
                failpoint::hit("after-quit");
                if !deleted.is_empty() {
                    state
                        .mark_deleted(&self.name, deleted)
                        .await
                        .map_err(PollError::State)?;
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
        state: &dyn StateBackend,
        lease: &Lease,
    ) -> Result<SessionResult, PollError> {
        let mut out = SessionResult::default();
        let listing = session
            .list()
            .await
            .map_err(|e| PollError::session("listing messages", e))?;
        out.counts.listed = listing.len();
        let seen = state.seen(&self.name).await.map_err(PollError::State)?;
        let oversized: HashMap<String, u64> = state
            .oversized(&self.name)
            .await
            .map_err(PollError::State)?
            .into_iter()
            .map(|o| (o.uid, o.size))
            .collect();
        let plan = plan::plan(
            &listing,
            &seen,
            &oversized,
            &Policy::of(&self.cfg),
            unix_now(),
        );
        out.counts.oversized = plan.oversized.len();
        let listed: HashSet<String> = listing.iter().map(|l| l.uid.clone()).collect();
        self.triage_oversized(session, &listed, &oversized, &plan.oversized, state)
            .await?;
        if let Some(bound) = plan.raise_max_message {
            session.set_max_message(bound);
        }
        let to_fetch = plan.fetch;
        crate::progress::planned(
            &self.name,
            to_fetch.len(),
            to_fetch.iter().map(|l| l.size).sum(),
        );
        if !plan.delete.is_empty() {
            self.delete(session, &plan.delete, &mut out).await?;
        }
        let batches: Vec<&[&Listing]> = to_fetch.chunks(self.cfg.batch_size).collect();
        let mut prefetched: Option<Retrieval> = None;
        for (i, batch) in batches.iter().enumerate() {
            if self.breaker_open() {
                // Tripped by an earlier batch: fetching the rest would only
                // download messages to leave them on the server.
                out.counts.failed += to_fetch.len() - i * self.cfg.batch_size;
                break;
            }
            let Retrieval { results, too_large } = match prefetched.take() {
                Some(f) => f,
                None => retrieve(session, &numbers(batch)).await,
            };
            let fetched = results.map_err(|e| PollError::session("retrieving messages", e))?;
            let arrived = Arrived {
                batch,
                fetched,
                too_large,
                listed: &listed,
            };
            // The next batch downloads while this one is parsed, mapped and
            // committed, as long as the mapper is healthy (a failing one is
            // not fed ahead of the circuit breaker).
            let next = batches
                .get(i + 1)
                .filter(|_| self.breaker.lock().unwrap().healthy());
            let committed = match next {
                Some(next) => {
                    let next = numbers(next);
                    let (committed, f) = tokio::join!(
                        self.process_fetched(arrived, state, lease, &mut out),
                        retrieve(session, &next),
                    );
                    prefetched = Some(f);
                    committed?
                }
                None => {
                    self.process_fetched(arrived, state, lease, &mut out)
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
        listed: &HashSet<String>,
        known: &HashMap<String, u64>,
        oversized: &[&Listing],
        state: &dyn StateBackend,
    ) -> Result<(), PollError> {
        let mut found = Vec::new();
        let mut notices = Vec::new();
        for l in oversized.iter().filter(|l| !known.contains_key(&l.uid)) {
            let headers = match session.top(l.number, 0).await {
                Ok(raw) => popline_mime::parse(&raw).ok(),
                // A server without TOP, or a message it cannot show: record
                // it without headers.
                Err(SessionError::Pop3(e)) => {
                    tracing::debug!(mailbox = %self.name, uid = %l.uid, "TOP failed: {e}");
                    None
                }
                Err(e) => return Err(PollError::session("reading headers (TOP)", e)),
            };
            notices.extend(self.oversize_notice(&l.uid, headers.as_ref()));
            let o = oversized_row(&l.uid, l.size, headers);
            tracing::warn!(mailbox = %self.name, uid = %l.uid, size = l.size,
                from = o.sender.as_deref().unwrap_or("?"), subject = o.subject.as_deref().unwrap_or("?"),
                "message larger than max_message_mib ({} MiB): left on the server and recorded; \
                 raise max_message_mib or set oversize = \"fetch\" to ingest it",
                self.cfg.max_message_mib);
            found.push(o);
        }
        // Queued before the message is recorded as oversized: a crash in
        // between triages it again at the next poll, and the outbox keeps
        // one notice per Message-ID.
        if !notices.is_empty() {
            state
                .queue_notices(&self.name, notices)
                .await
                .map_err(PollError::State)?;
        }
        if !found.is_empty() || known.keys().any(|uid| !listed.contains(uid)) {
            state
                .record_oversized(&self.name, found, listed.clone())
                .await
                .map_err(PollError::State)?;
        }
        Ok(())
    }

    /// The notice to the sender of oversized message `uid`, when the mailbox
    /// has notices and its headers are known.
    fn oversize_notice(&self, uid: &str, headers: Option<&ParsedEmail>) -> Option<NewNotice> {
        let (plan, parsed) = (self.notices.as_ref()?, headers?);
        // No content digest without the body: the uid and what the headers
        // say stand in for it, the same at every poll (and whether TOP or a
        // cut-off RETR showed them).
        let key = sha256_hex(
            format!(
                "oversize\0{uid}\0{}",
                parsed.email.message_id.as_deref().unwrap_or_default()
            )
            .as_bytes(),
        );
        let source = crate::notices::source(parsed, None);
        plan.notice_for(
            &self.name,
            uid,
            &key,
            &source,
            popline_notice::Outcome::Oversize,
        )
    }

    /// Record message `l`, whose `RETR` answer outgrew the bound although
    /// LIST said it was smaller, as oversized (at least `bound + 1` bytes),
    /// with what its header section said; its sender's notice is queued
    /// first, as in [`Self::triage_oversized`].
    async fn record_too_large(
        &self,
        l: &Listing,
        too_large: &TooLarge,
        listed: &HashSet<String>,
        state: &dyn StateBackend,
    ) -> Result<(), PollError> {
        tracing::warn!(mailbox = %self.name, uid = %l.uid, listed_size = l.size,
            "message larger than max_message_mib ({} MiB) although LIST said {} bytes: \
             left on the server and recorded; raise max_message_mib to ingest it",
            self.cfg.max_message_mib, l.size);
        let headers = popline_mime::parse(&too_large.head).ok();
        if let Some(notice) = self.oversize_notice(&l.uid, headers.as_ref()) {
            state
                .queue_notices(&self.name, vec![notice])
                .await
                .map_err(PollError::State)?;
        }
        let found = oversized_row(&l.uid, too_large.bound.saturating_add(1), headers);
        state
            .record_oversized(&self.name, vec![found], listed.clone())
            .await
            .map_err(PollError::State)
    }

    /// Parse, map and durably commit one retrieved batch. Returns the
    /// listings whose result is now stored (and so may be deleted).
    ///
    /// The batch's messages are parsed first, so that the state is asked
    /// about earlier copies once per batch rather than once per message (a
    /// blocking-pool hop for SQLite, a round trip for a database server);
    /// then each is deduplicated and mapped in listing order.
    async fn process_fetched<'l>(
        &self,
        retrieved: Arrived<'_, 'l>,
        state: &dyn StateBackend,
        lease: &Lease,
        out: &mut SessionResult,
    ) -> Result<Vec<&'l Listing>, PollError> {
        let Arrived {
            batch,
            fetched,
            too_large,
            listed,
        } = retrieved;
        let received_at = now_rfc3339();
        // The first failure that left the connection unusable: the poll ends
        // with it once what did arrive is committed.
        let mut lost: Option<PollError> = None;
        let mut arrived = Vec::with_capacity(batch.len());
        for (l, raw) in batch.iter().zip(fetched) {
            let raw = match raw {
                // Shared, not copied, with the archive and the dead letters.
                Ok(raw) => Arc::new(raw),
                Err(e) => {
                    match too_large.as_ref().filter(|t| t.number == l.number) {
                        // Larger than LIST said: recorded, so later polls
                        // leave it on the server instead of failing on it.
                        Some(t) => {
                            self.record_too_large(l, t, listed, state).await?;
                            out.counts.oversized += 1;
                        }
                        None => {
                            tracing::warn!(mailbox = %self.name, uid = %l.uid, "retrieve failed: {e}");
                            out.counts.failed += 1;
                        }
                    }
                    if lost.is_none() && connection_lost(&e) {
                        lost = Some(lost_connection(e, "retrieving", l));
                    }
                    continue;
                }
            };
            out.counts.fetched += 1;
            crate::progress::fetched(&self.name, raw.len() as u64);
            if let Some(a) = &self.archive {
                a.keep(&self.name, &l.uid, raw.clone()).await;
            }
            if raw.is_spooled() {
                out.counts.spooled += 1;
            }
            let parsing = self.workers.parse(raw.clone(), self.spool_policy());
            arrived.push((*l, raw, parsing));
        }
        let mut parsed_batch = Vec::with_capacity(arrived.len());
        for (l, raw, parsing) in arrived {
            let parsed = match parsing.result().await {
                // The host's disk, not the message: leave it on the server.
                Err(e @ popline_mime::MimeError::Spool(_)) => {
                    return Err(PollError::Host(anyhow::anyhow!(
                        "mailbox {}: {e}",
                        self.name
                    )));
                }
                parsed => parsed.map(Arc::new),
            };
            failpoint::hit("after-parse");
            parsed_batch.push((l, raw, parsed));
        }
        let fingerprints: Vec<Fingerprint> = parsed_batch
            .iter()
            .filter_map(|(_, _, parsed)| parsed.as_ref().ok())
            .map(|p| fingerprint(p))
            .collect();
        let mut in_state = state
            .find_duplicates(&self.name, fingerprints)
            .await
            .map_err(PollError::State)?
            .into_iter();
        let arrived: Vec<_> = parsed_batch
            .into_iter()
            .map(|(l, raw, parsed)| {
                let earlier = match &parsed {
                    Ok(_) => in_state.next().flatten(),
                    Err(_) => None,
                };
                (l, raw, parsed, earlier)
            })
            .collect();
        let mut premapped = self.premap(&arrived, &received_at).into_iter();

        let mut records: Vec<FeedbackRecord> = Vec::new();
        let mut blobs = Blobs::default();
        let mut commits: Vec<Committed> = Vec::new();
        let mut notices: Vec<NewNotice> = Vec::new();
        let mut done: Vec<&Listing> = Vec::new();
        // The raw bytes of messages with records, by uid, until committed,
        // and what a notice needs of them.
        let mut delivering: Delivering = HashMap::new();
        for (l, raw, parsed, earlier) in arrived {
            let premapped = premapped.next().flatten();
            if !lease.held() {
                // Another host may hold the mailbox now: stop after the
                // message in hand; nothing of the batch reaches a sink.
                tracing::error!(mailbox = %self.name, uid = %l.uid, "lease lost mid-batch: stopping without committing");
                return Err(PollError::LeaseLost);
            }
            if self.breaker_open() || matches!(lost, Some(PollError::Capacity(_))) {
                // Tripped during this batch, or no mapper can start: leave
                // the rest on the server.
                out.counts.failed += 1;
                continue;
            }
            let (mapped, parsed) = match parsed {
                Ok(p) => {
                    let mapped = self
                        .process_message(
                            l,
                            raw.len(),
                            &p,
                            (earlier, premapped),
                            &received_at,
                            &commits,
                            &mut blobs,
                        )
                        .await;
                    (mapped, Some(p))
                }
                Err(e) => (Err(MapError::Parse(e)), None),
            };
            let mapped = match mapped {
                // The host, not the plugin or the message: no dead letter,
                // no breaker count; the poll ends and is retried.
                Err(MapError::Plugin(e)) if e.is_host_condition() => {
                    tracing::warn!(mailbox = %self.name, uid = %l.uid, "message left on the server: {e}");
                    out.counts.failed += 1;
                    lost.get_or_insert(PollError::Capacity(e));
                    continue;
                }
                other => other.map_err(|e| e.to_string()),
            };
            let (processed, raw) = match mapped {
                Ok(p) => {
                    self.breaker_result(true);
                    (Ok(p), Some(raw))
                }
                Err(reason) => {
                    self.breaker_result(false);
                    let dead = self
                        .dead_letter(l, raw, parsed.as_deref(), &reason, &received_at)
                        .await;
                    (dead, None)
                }
            };
            match processed {
                Ok((commit, recs)) => {
                    match &commit.outcome {
                        Disposition::Feedback { .. } => out.counts.committed += 1,
                        Disposition::Skipped { .. } => out.counts.skipped += 1,
                        Disposition::Duplicate { .. } => out.counts.duplicates += 1,
                        Disposition::DeadLetter { .. } => out.counts.dead_lettered += 1,
                    }
                    out.counts.records += recs.len();
                    let with_records = !recs.is_empty();
                    records.extend(recs);
                    let source = self.notice_source(&commit, parsed.as_deref(), &records);
                    if let Some(raw) = raw.filter(|_| with_records) {
                        // Kept until the commit: a sink may refuse a record
                        // (and its sender then hears of the dead letter).
                        delivering.insert(commit.uid.clone(), (raw, source.clone()));
                    }
                    // The very message this uid was committed as, listed
                    // again after its deletion: its row already says so.
                    let relisted = matches!(&commit.outcome,
                        Disposition::Duplicate { of_uid } if *of_uid == commit.uid);
                    if let Some(n) = source.and_then(|s| self.notice(&commit, &s)) {
                        notices.push(n);
                    }
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
        if !lease.held() {
            tracing::error!(mailbox = %self.name, "lease lost before the commit: the batch stays on the server");
            return Err(PollError::LeaseLost);
        }
        self.commit_or_dead_letter(
            state,
            &mut records,
            &blobs,
            &mut commits,
            &mut notices,
            &mut delivering,
            &received_at,
            out,
        )
        .await?;
        match lost {
            Some(e) => Err(e),
            None => Ok(done),
        }
    }

    /// Commit the batch. A record a sink refuses for good because of the
    /// record itself ([`popline_sink::SinkError::refused_record`]) sends its
    /// message to the dead letters, with the sink's answer as the reason, and
    /// the rest of the batch is committed without it (records the sinks
    /// already hold are skipped by their idempotency keys). Any other
    /// failure ends the poll.
    #[allow(clippy::too_many_arguments)]
    async fn commit_or_dead_letter(
        &self,
        state: &dyn StateBackend,
        records: &mut Vec<FeedbackRecord>,
        blobs: &Blobs,
        commits: &mut [Committed],
        notices: &mut Vec<NewNotice>,
        delivering: &mut Delivering,
        received_at: &str,
        out: &mut SessionResult,
    ) -> Result<(), PollError> {
        while !commits.is_empty() {
            let err = match commit_batch_with_notices(
                &self.sinks,
                state,
                &self.name,
                records,
                blobs,
                commits.to_vec(),
                notices.clone(),
            )
            .await
            {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            let PollError::Sink { sink, error } = &err else {
                return Err(err);
            };
            let Some(sha256) = error
                .refused_record()
                .and_then(|id| records.iter().find(|r| r.id == id))
                .map(|r| r.message_sha256.clone())
            else {
                return Err(err);
            };
            let Some(at) = commits.iter().position(|c| {
                c.sha256 == sha256 && matches!(c.outcome, Disposition::Feedback { .. })
            }) else {
                return Err(err);
            };
            let Some((raw, source)) = delivering.remove(&commits[at].uid) else {
                return Err(err);
            };
            let reason = format!("sink {sink:?} refused it: {error}");
            let before = records.len();
            records.retain(|r| r.message_sha256 != sha256);
            let refused = &commits[at];
            let uid = refused.uid.clone();
            let identity = (refused.message_id.clone(), refused.body_sha256.clone());
            let (dead, _) = self
                .quarantine(&uid, raw, sha256, identity, &reason, received_at)
                .await
                .map_err(PollError::Host)?;
            // Its acknowledgement, if any, no longer holds; the dead letter's
            // notice does.
            notices.retain(|n| n.uid != uid);
            notices.extend(source.and_then(|s| self.notice(&dead, &s)));
            commits[at] = dead;
            out.counts.records -= before - records.len();
            out.counts.committed -= 1;
            out.counts.dead_lettered += 1;
        }
        Ok(())
    }

    /// The message `commit` is about as the notices see it, when the
    /// mailbox has notices; `records` holds the batch's records so far (an
    /// acknowledgement names the item).
    fn notice_source(
        &self,
        commit: &Committed,
        parsed: Option<&ParsedEmail>,
        records: &[FeedbackRecord],
    ) -> Option<popline_notice::Source> {
        self.notices.as_ref()?;
        let target = records
            .iter()
            .filter(|r| r.message_sha256 == commit.sha256)
            .find_map(|r| r.target.clone());
        Some(crate::notices::source(parsed?, target))
    }

    /// The notice to queue with `commit`, when the mailbox has notices and
    /// the outcome and the message call for one.
    fn notice(&self, commit: &Committed, source: &popline_notice::Source) -> Option<NewNotice> {
        use popline_notice::Outcome;
        let plan = self.notices.as_ref()?;
        let outcome = match &commit.outcome {
            Disposition::Feedback { .. } => Outcome::Feedback,
            Disposition::Skipped { reason } => Outcome::Skipped(reason),
            Disposition::Duplicate { .. } => Outcome::Duplicate,
            Disposition::DeadLetter { .. } => Outcome::DeadLetter,
        };
        plan.notice_for(&self.name, &commit.uid, &commit.sha256, source, outcome)
    }

    /// Whether the circuit breaker is open now.
    fn breaker_open(&self) -> bool {
        self.breaker
            .lock()
            .unwrap()
            .open_for(Instant::now())
            .is_some()
    }

    /// Record a mapping success or failure; log when the breaker opens.
    fn breaker_result(&self, ok: bool) {
        let mut b = self.breaker.lock().unwrap();
        if b.record(ok, Instant::now()) {
            tracing::error!(mailbox = %self.name, plugin = %self.mapper.name(),
                "mapper failed on {} consecutive messages: circuit breaker open for {:?}",
                b.threshold(), b.cooldown());
        }
    }

    /// Quarantine a message that cannot be mapped; its outcome is then
    /// stored like any other, so it may be deleted from the server.
    async fn dead_letter(
        &self,
        l: &Listing,
        raw: Arc<Spooled>,
        parsed: Option<&ParsedEmail>,
        reason: &str,
        received_at: &str,
    ) -> anyhow::Result<(Committed, Vec<FeedbackRecord>)> {
        let (sha256, identity) = match parsed {
            Some(p) => (
                p.sha256.clone(),
                (p.email.message_id.clone(), Some(p.body_sha256.clone())),
            ),
            None => (sha256_hex(&raw), (None, None)),
        };
        self.quarantine(&l.uid, raw, sha256, identity, reason, received_at)
            .await
    }

    /// Store `raw` as a dead letter; `identity` is its Message-ID and body
    /// digest, when known.
    async fn quarantine(
        &self,
        uid: &str,
        raw: Arc<Spooled>,
        sha256: String,
        identity: (Option<String>, Option<String>),
        reason: &str,
        received_at: &str,
    ) -> anyhow::Result<(Committed, Vec<FeedbackRecord>)> {
        let (message_id, body_sha256) = identity;
        let meta = DeadLetter {
            id: format!("{}-{}", self.name, &sha256[..16]),
            pipeline: self.name.clone(),
            mailbox: self.cfg.user.clone(),
            uid: uid.to_string(),
            message_id: message_id.clone(),
            sha256: sha256.clone(),
            reason: reason.to_string(),
            plugin: self.mapper.name().to_string(),
            plugin_sha256: self.mapper.digest().to_string(),
            at: received_at.to_string(),
        };
        tracing::warn!(mailbox = %self.name, uid = %uid, id = %meta.id, "dead-lettered: {reason}");
        let dl = self.dead_letters.clone();
        let size = raw.len() as u64;
        let stored = meta.clone();
        // Shared, not copied: a spooled message stays a mapped file.
        tokio::task::spawn_blocking(move || dl.store(&stored, &raw))
            .await?
            .context("storing a dead letter")?;
        Ok((
            Committed {
                uid: uid.to_string(),
                message_id,
                sha256,
                body_sha256,
                size,
                outcome: Disposition::DeadLetter {
                    reason: format!("{} ({})", reason, meta.id),
                },
            },
            Vec::new(),
        ))
    }

    /// Start mapping, on the worker pool, each message of a batch that will
    /// need it: parsed, not in the state already, and not a copy of an
    /// earlier message of the batch. `None` for the others (a copy whose
    /// original then fails is mapped in turn by [`Self::process_message`]).
    #[allow(clippy::type_complexity)]
    fn premap(
        &self,
        arrived: &[(
            &Listing,
            Arc<Spooled>,
            Result<Arc<ParsedEmail>, popline_mime::MimeError>,
            Option<String>,
        )],
        received_at: &str,
    ) -> Vec<Option<Job<Result<Mapped, popline_plugin_runtime::PluginError>>>> {
        let mut before: Vec<Identity> = Vec::new();
        arrived
            .iter()
            .map(|(l, _, parsed, earlier)| {
                let p = parsed.as_ref().ok().filter(|_| earlier.is_none())?;
                let this = Identity::of_parsed(p);
                let copy = before.iter().any(|&b| same_message(b, this));
                before.push(this);
                if copy || self.breaker_open() {
                    return None;
                }
                let ctx = popline_mapping::context(&self.name, &self.cfg.user, &l.uid, received_at);
                Some(self.workers.map(
                    self.mapper.clone(),
                    p.clone(),
                    ctx,
                    self.mapper_config.clone(),
                ))
            })
            .collect()
    }

    /// Deduplicate and map one parsed message: `in_state` is the uid the
    /// state already holds it under, if any; `premapped` the mapping the
    /// pool started for it. An error is the reason it cannot be mapped (it
    /// is dead-lettered).
    #[allow(clippy::too_many_arguments)]
    async fn process_message(
        &self,
        l: &Listing,
        size: usize,
        parsed: &ParsedEmail,
        (in_state, premapped): (
            Option<String>,
            Option<Job<Result<Mapped, popline_plugin_runtime::PluginError>>>,
        ),
        received_at: &str,
        pending: &[Committed],
        blobs: &mut Blobs,
    ) -> Result<(Committed, Vec<FeedbackRecord>), MapError> {
        let message_id = parsed.email.message_id.clone();
        let commit = |outcome| Committed {
            uid: l.uid.clone(),
            message_id: message_id.clone(),
            sha256: parsed.sha256.clone(),
            body_sha256: Some(parsed.body_sha256.clone()),
            size: size as u64,
            outcome,
        };
        // Earlier in this batch (not in the state yet), then the state.
        let this = Identity::of_parsed(parsed);
        let in_batch = pending
            .iter()
            .find(|c| same_message(Identity::of_commit(c), this));
        if let Some(of_uid) = in_batch.map(|c| c.uid.clone()).or(in_state) {
            tracing::info!(mailbox = %self.name, uid = %l.uid, of = %of_uid, "already committed under another unique id");
            return Ok((commit(Disposition::Duplicate { of_uid }), Vec::new()));
        }
        let mapped = match premapped {
            Some(job) => job.result().await?,
            None => {
                let ctx = popline_mapping::context(&self.name, &self.cfg.user, &l.uid, received_at);
                popline_mapping::map_parsed(&self.mapper, parsed, &ctx, &self.mapper_config).await?
            }
        };
        let (outcome, recs) = disposition(mapped);
        if let Disposition::Skipped { reason } = &outcome {
            tracing::info!(mailbox = %self.name, uid = %l.uid, "skipped: {reason}");
        }
        if !recs.is_empty() {
            add_blobs(blobs, parsed);
        }
        Ok((commit(outcome), recs))
    }

    async fn delete(
        &self,
        session: &mut Session,
        listings: &[&Listing],
        out: &mut SessionResult,
    ) -> Result<(), PollError> {
        let numbers: Vec<u32> = listings.iter().map(|l| l.number).collect();
        let results = session
            .delete(&numbers)
            .await
            .map_err(|e| PollError::session("deleting messages", e))?;
        failpoint::hit("after-dele");
        let mut lost: Option<PollError> = None;
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

    /// Reprocess a dead letter with this pipeline's mapper (or `mapper` with
    /// its own configuration), and deliver to its sinks. The records get the
    /// same idempotency keys as a first delivery would, so a retry never
    /// duplicates.
    pub async fn retry_dead_letter(
        &self,
        meta: &DeadLetter,
        raw: &[u8],
        mapper: Option<(&MapperPlugin, &[(String, String)])>,
        state: &dyn StateBackend,
    ) -> anyhow::Result<RetryOutcome> {
        let (mapper, config) = mapper.unwrap_or((&self.mapper, &self.mapper_config[..]));
        let ctx = popline_mapping::context(&self.name, &self.cfg.user, &meta.uid, &meta.at);
        let (parsed, mapped) = popline_mapping::map_message(mapper, raw, &ctx, config).await?;
        let (outcome, records) = disposition(mapped);
        let result = match &outcome {
            Disposition::Skipped { reason } => RetryOutcome::Skipped(reason.clone()),
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
        commit_batch(
            &self.sinks,
            state,
            &self.name,
            &records,
            &blobs,
            vec![commit],
        )
        .await?;
        Ok(result)
    }
}

/// Messages with records until their commit, by uid: the raw bytes (a sink
/// may refuse a record, and the message is then dead-lettered) and what a
/// notice needs of them.
type Delivering = HashMap<String, (Arc<Spooled>, Option<popline_notice::Source>)>;

/// What `popline status` and the operator learn of an oversized message
/// `uid` of `size` bytes from its `headers`, when they are known.
fn oversized_row(uid: &str, size: u64, headers: Option<ParsedEmail>) -> Oversized {
    let email = headers.map(|p| p.email);
    Oversized {
        uid: uid.to_string(),
        size,
        message_id: email.as_ref().and_then(|e| e.message_id.clone()),
        sender: email
            .as_ref()
            .and_then(|e| e.from.first())
            .map(|a| a.address.clone()),
        subject: email.and_then(|e| e.subject),
    }
}

#[derive(Default)]
struct SessionResult {
    counts: PollSummary,
    deleted_uids: Vec<String>,
}

/// What one `retrieve` call gave: a result per message, or the session's
/// failure; and the message whose answer outgrew the size bound, if one did.
struct Retrieval {
    results: Result<Vec<Result<Spooled, Pop3Error>>, SessionError>,
    too_large: Option<TooLarge>,
}

/// Retrieve a batch through the dialogue.
async fn retrieve(session: &mut Session, numbers: &[u32]) -> Retrieval {
    let results = session.retrieve(numbers).await;
    Retrieval {
        results,
        too_large: session.take_too_large(),
    }
}

/// A retrieved batch, for [`Pipeline::process_fetched`].
struct Arrived<'b, 'l> {
    batch: &'b [&'l Listing],
    fetched: Vec<Result<Spooled, Pop3Error>>,
    too_large: Option<TooLarge>,
    /// Every uid the server listed.
    listed: &'b HashSet<String>,
}

/// What identifies a message when looking for copies of it.
fn fingerprint(p: &ParsedEmail) -> Fingerprint {
    Fingerprint {
        message_id: p.email.message_id.clone(),
        sha256: p.sha256.clone(),
        body_sha256: Some(p.body_sha256.clone()),
    }
}

/// A [`Fingerprint`], borrowed from a parsed message or a pending commit,
/// for comparing messages of one batch without copying their digests.
#[derive(Clone, Copy)]
struct Identity<'a> {
    sha256: &'a str,
    message_id: Option<&'a str>,
    body_sha256: Option<&'a str>,
}

impl<'a> Identity<'a> {
    fn of_parsed(p: &'a ParsedEmail) -> Self {
        Identity {
            sha256: &p.sha256,
            message_id: p.email.message_id.as_deref(),
            body_sha256: Some(&p.body_sha256),
        }
    }

    fn of_commit(c: &'a Committed) -> Self {
        Identity {
            sha256: &c.sha256,
            message_id: c.message_id.as_deref(),
            body_sha256: c.body_sha256.as_deref(),
        }
    }
}

/// Whether `b` is a copy of the earlier message `a`: the same bytes, or the
/// same Message-ID with the same body (a copy whose transport headers
/// differ).
fn same_message(a: Identity, b: Identity) -> bool {
    a.sha256 == b.sha256
        || (b.message_id.is_some()
            && a.message_id == b.message_id
            && a.body_sha256 == b.body_sha256)
}

/// The message numbers of a batch.
fn numbers(batch: &[&Listing]) -> Vec<u32> {
    batch.iter().map(|l| l.number).collect()
}

/// Whether a retrieve left the connection unusable.
fn broke_connection(r: &Retrieval) -> bool {
    match &r.results {
        Err(_) => true,
        Ok(results) => results
            .iter()
            .any(|r| matches!(r, Err(e) if connection_lost(e))),
    }
}

/// Whether a per-message failure left the connection unusable (transport
/// failure, or an answer out of step), rather than a `-ERR` for that message.
fn connection_lost(e: &Pop3Error) -> bool {
    matches!(e.kind, ErrorKind::Io | ErrorKind::Protocol)
}

/// The poll's error for a failure that left the connection unusable while
/// `doing` something to message `l`.
fn lost_connection(e: Pop3Error, doing: &str, l: &Listing) -> PollError {
    PollError::session(
        format!("{doing} message {} (uid {})", l.number, l.uid),
        SessionError::Pop3(e),
    )
}

/// What to check when the server refuses a freshly issued token for
/// mailbox `user`: the Exchange steps each kind of access needs
/// (docs/microsoft-365.md).
fn refused_token_hint(user: &str, flow: popline_oauth::Flow) -> String {
    let pop = format!(
        "POP must be enabled for the mailbox (Set-CASMailbox -Identity {user} -PopEnabled $true)"
    );
    match flow {
        popline_oauth::Flow::ClientCredentials => format!(
            "the server refused the app-only token for {user}: {pop}; the app needs the POP.AccessAsApp permission with admin consent, \
             a service principal in Exchange (New-ServicePrincipal) and access to this mailbox \
             (Add-MailboxPermission -Identity {user} -User <service principal id> -AccessRights FullAccess); \
             see docs/microsoft-365.md, app-only access"
        ),
        _ => format!(
            "the server refused a freshly issued token for {user}: {pop}; `user` must be the mailbox's own address, \
             and for a shared mailbox the account that signed in needs FullAccess to it (Add-MailboxPermission)"
        ),
    }
}

/// The state's disposition of a mapped message, and its records.
fn disposition(mapped: Mapped) -> (Disposition, Vec<FeedbackRecord>) {
    match mapped {
        Mapped::Records(recs) => (
            Disposition::Feedback {
                records: recs.len() as u32,
            },
            recs,
        ),
        Mapped::Skip(reason) => (Disposition::Skipped { reason }, Vec::new()),
    }
}

/// What a dead-letter retry did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryOutcome {
    /// Records were delivered to the sinks.
    Delivered(usize),
    /// The mapper now skips the message.
    Skipped(String),
}

/// The attachment bytes of a parsed message, for the sinks.
fn add_blobs(blobs: &mut Blobs, parsed: &ParsedEmail) {
    let digests = parsed
        .email
        .attachments
        .iter()
        .map(|a| (a.sha256.as_str(), a.index as usize));
    blobs.add_attachments(&parsed.attachments, digests);
}
