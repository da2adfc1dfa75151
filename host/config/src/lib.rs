//! The configuration file: state, sinks, notice servers and mailboxes
//! (pipelines).
//!
//! Every struct denies unknown fields and documents each field; an error
//! names the file, line and column and what to write instead.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use popline_core::SecretRef;

use popline_notice::{MailboxNotices, NoticeOAuth, NoticeServerConfig};
use popline_oauth::{Flow, OAuthConfig, ScopeSet, Service};
use popline_plugin_runtime::Limits;
use popline_sink::SinkConfig;

/// The whole configuration file.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Durable state (which messages were committed).
    #[serde(default)]
    pub state: StateConfig,
    /// Plugin engine settings.
    #[serde(default)]
    pub plugins: PluginsConfig,
    /// Named sinks that mailboxes deliver feedback records to.
    #[serde(default)]
    pub sinks: BTreeMap<String, SinkConfig>,
    /// Named SMTP submission servers that mailboxes send notices to
    /// testers through (a mailbox's `notices.via`).
    #[serde(default)]
    pub notices: BTreeMap<String, NoticeServerConfig>,
    /// Named mailboxes; each is one pipeline with its own schedule.
    pub mailboxes: BTreeMap<String, MailboxConfig>,
    /// Optional Prometheus endpoint (`popline run` only).
    pub metrics: Option<popline_metrics::MetricsConfig>,
    /// Mailboxes polled at once by this host (default 32); the others wait
    /// their turn. Each poll holds a POP3 connection, a dialogue instance
    /// and its batch in memory, so this bounds them.
    #[serde(default = "default_concurrent_polls")]
    pub max_concurrent_polls: usize,
    /// Messages parsed and mapped at once by this host, across all its
    /// mailboxes (default: the number of CPU cores). Each holds one parse or
    /// one mapper instance; results still reach the sinks in mailbox order.
    #[serde(default)]
    pub workers: Option<usize>,
    /// The folder relative paths in the file resolve against (the file's own).
    #[serde(skip)]
    pub base_dir: PathBuf,
}

fn default_concurrent_polls() -> usize {
    32
}

/// Where popline keeps its state.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct StateConfig {
    /// `sqlite` (default): one host, one file. `postgres`: a fleet of hosts
    /// sharing one database, each mailbox polled by one host at a time
    /// (mailbox leases with fencing tokens; see docs/fleet.md).
    pub backend: StateKind,
    /// SQLite database holding committed unique ids (created if missing).
    /// With `postgres` it only locates this host's own folder (token cache,
    /// spool, archive): the folder holding this path.
    pub path: PathBuf,
    /// Folder for dead letters: raw `.eml` plus a JSON sidecar per message
    /// that could not be mapped.
    pub dead_letter_dir: PathBuf,
    /// PostgreSQL: the database URL, `postgres://user:password@host:port/db`.
    /// It holds a password, so it is a secret: `{ env = "POPLINE_PG_URL" }`
    /// or `{ file = "path" }`. TLS is required unless the database is on
    /// loopback, and its certificate is verified.
    pub url: Option<SecretRef>,
    /// PostgreSQL: connections in the pool (default 8).
    pub pool_size: usize,
    /// PostgreSQL: an extra CA certificate (PEM) for the database's TLS.
    pub ca_file: Option<PathBuf>,
    /// PostgreSQL: how long a mailbox lease lasts unless renewed; a crashed
    /// host's mailboxes are taken over after it (default 30s).
    #[serde(deserialize_with = "popline_core::duration::deserialize")]
    #[schemars(with = "String", extend("default" = "30s"))]
    pub lease_ttl: Duration,
    /// PostgreSQL: this host's name in leases and `popline status`, unique
    /// per process (default: the host name and process id).
    pub host_id: Option<String>,
}

/// Which state backend.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StateKind {
    /// One SQLite file (one host).
    #[default]
    Sqlite,
    /// A PostgreSQL database shared by a fleet of hosts.
    Postgres,
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig {
            backend: StateKind::Sqlite,
            path: PathBuf::from("popline-state.db"),
            dead_letter_dir: PathBuf::from("dead-letters"),
            url: None,
            pool_size: 8,
            ca_file: None,
            lease_ttl: Duration::from_secs(30),
            host_id: None,
        }
    }
}

/// Plugin engine settings.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PluginsConfig {
    /// Where compiled plugins are cached (default: `$XDG_CACHE_HOME/popline`).
    pub cache_dir: Option<PathBuf>,
    /// Plugin instances that may be alive at once (default 1000). When all
    /// are taken, a poll that needs another ends and is retried (exit 75);
    /// no message is dead-lettered for it.
    pub max_instances: Option<u32>,
}

/// How to reach the server securely.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// TLS from the first byte (POP3S, port 995). Microsoft 365 uses this.
    Implicit,
    /// Connect in plain text, then upgrade with STLS (port 110).
    Starttls,
    /// No TLS. Only for a loopback server, and only with `allow_plaintext`.
    None,
}

/// What happens to a message on the server once its result is stored.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Retention {
    /// Delete it (DELE) right after the result is durably committed.
    Delete,
    /// Leave it; committed unique ids are remembered so it is not fetched
    /// again. With `keep_days`, delete it that many days after committing.
    Keep,
}

/// What happens to a message larger than `max_message_mib`.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum OversizePolicy {
    /// Leave it on the server, recorded in the state with its headers.
    #[default]
    Skip,
    /// Retrieve and process it anyway (spooled to disk, so it costs disk,
    /// not memory, while it is received).
    Fetch,
}

/// One mailbox: where to fetch, how to log in, which plugins, where to deliver.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MailboxConfig {
    /// Server host name, e.g. `outlook.office365.com`.
    pub host: String,
    /// Server port (default: 995 for `implicit`, 110 otherwise).
    pub port: Option<u16>,
    /// `implicit` (default), `starttls` or `none`.
    #[serde(default = "default_tls")]
    pub tls: TlsMode,
    /// Extra CA certificates (PEM) to trust for this server, for private CAs.
    pub ca_file: Option<PathBuf>,
    /// Allow credentials without TLS; honoured only for a loopback server.
    #[serde(default)]
    pub allow_plaintext: bool,
    /// The mailbox address (POP3 user name, XOAUTH2 `user=`).
    pub user: String,
    /// The password: `{ env = "VAR" }` or `{ file = "path" }`.
    pub password: Option<SecretRef>,
    /// OAuth 2.0 instead of a password (Microsoft 365, Outlook.com, Google).
    pub oauth: Option<popline_oauth::OAuthConfig>,
    /// The POP3 dialogue plugin: `builtin:pop3-standard` (the default,
    /// compiled into popline) or a .wasm file, relative to this file.
    #[serde(default = "default_dialogue")]
    #[schemars(with = "String", extend("default" = "builtin:pop3-standard"))]
    pub dialogue: PluginRef,
    /// Login mechanisms allowed, in preference order (e.g. `["XOAUTH2"]`);
    /// empty lets the dialogue plugin choose from what the server offers.
    #[serde(default)]
    pub mechanisms: Vec<String>,
    /// The mapper plugin and its configuration: a plugin alone
    /// (`"builtin:feedback-default"` or a .wasm file, relative to this
    /// file) or a table `{ plugin = ..., config = { ... }, limits = { ... } }`.
    /// Default: the builtin `feedback-default` with its defaults.
    #[serde(default, deserialize_with = "deserialize_mapper")]
    #[schemars(with = "MapperSchema", extend("default" = "builtin:feedback-default"))]
    pub mapper: MapperConfig,
    /// Notices to the senders of replies that could not be used (and,
    /// optionally, thanks for those that were), sent through a
    /// `[notices.NAME]` server: `{ via = "NAME", on = ["no-match",
    /// "oversize", "dead-letter", "expired-token"], acknowledge = false }`.
    /// Off when left out.
    pub notices: Option<MailboxNotices>,
    /// Names of the sinks (from `[sinks]`) that receive this mailbox's records.
    pub sinks: Vec<String>,
    /// How often to poll, e.g. `"60s"`, `"5m"` (default 60 s).
    #[serde(
        default = "default_interval",
        deserialize_with = "popline_core::duration::deserialize"
    )]
    #[schemars(with = "String", extend("default" = "60s"))]
    pub poll_interval: Duration,
    /// `keep` (default) or `delete`.
    #[serde(default = "default_retention")]
    pub retention: Retention,
    /// With `retention = "keep"`: delete messages this many days after commit.
    pub keep_days: Option<u32>,
    /// Keep the raw `.eml` of every message this mailbox fetches for this
    /// many days (at least 1) in `archive/NAME/` in the state folder, named
    /// by SHA-256 and pruned on each poll, to try a new mapper on real
    /// traffic with `popline replay --archive NAME`. Off when left out.
    pub archive_days: Option<u32>,
    /// Messages fetched (and committed) per batch; one fsync per batch.
    #[serde(default = "default_batch")]
    pub batch_size: usize,
    /// Messages larger than this (MiB, as LIST reports them) are oversized
    /// and handled by `oversize`.
    #[serde(default = "default_max_message")]
    pub max_message_mib: u64,
    /// What to do with an oversized message: `skip` (default: read its
    /// headers with TOP, record it in the state, warn once, leave it on the
    /// server; `popline status` lists it) or `fetch` (retrieve it anyway,
    /// spooled to disk).
    #[serde(default)]
    pub oversize: OversizePolicy,
    /// Messages are received into memory up to this size (KiB); a larger one
    /// goes to an unnamed temporary file in the state folder's `spool/` and
    /// is parsed from a memory map. Peak memory per mailbox is about
    /// `batch_size` × this. Default 4096 (4 MiB).
    #[serde(default = "default_spool_above")]
    pub spool_above_kib: u64,
    /// TCP connect timeout, in seconds.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_secs: u64,
    /// How long the server may stay silent mid-response, in seconds.
    #[serde(default = "default_read_timeout")]
    pub read_timeout_secs: u64,
    /// The slowest average transfer accepted once a response has taken
    /// longer than `read_timeout_secs`, in bytes per second; a server that
    /// trickles bytes just often enough to dodge the read timeout is cut
    /// off. 0 turns the check off. Default 1024.
    #[serde(default = "default_min_rate")]
    pub min_bytes_per_sec: u64,
    /// Limits for the dialogue plugin (CPU is per operation, network waits excluded).
    #[serde(default)]
    pub dialogue_limits: Limits,
    /// Consecutive mapper failures that open the circuit breaker: the
    /// pipeline then stops mapping (messages stay on the server) until
    /// `breaker_cooldown` has passed.
    #[serde(default = "default_breaker")]
    pub breaker_threshold: u32,
    /// How long an open breaker waits before trying one message again.
    #[serde(
        default = "default_cooldown",
        deserialize_with = "popline_core::duration::deserialize"
    )]
    #[schemars(with = "String", extend("default" = "10m"))]
    pub breaker_cooldown: Duration,
    /// The longest one poll's session may last, login to QUIT, e.g. `"1h"`
    /// (default). Past it the connection is dropped without QUIT, so the
    /// server keeps every message; what was committed stays committed.
    #[serde(
        default = "default_session_timeout",
        deserialize_with = "popline_core::duration::deserialize"
    )]
    #[schemars(with = "String", extend("default" = "1h"))]
    pub session_timeout: Duration,
}

/// The mapper plugin of a mailbox.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MapperConfig {
    /// The mapper plugin: `builtin:feedback-default` (the default, compiled
    /// into popline) or a .wasm file, relative to this file.
    #[serde(default = "default_mapper")]
    #[schemars(with = "String", extend("default" = "builtin:feedback-default"))]
    pub plugin: PluginRef,
    /// Key/value configuration handed to the plugin with every message.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// Resource limits for the plugin.
    #[serde(default)]
    pub limits: Limits,
}

impl Default for MapperConfig {
    fn default() -> Self {
        MapperConfig {
            plugin: default_mapper(),
            config: BTreeMap::new(),
            limits: Limits::default(),
        }
    }
}

/// A mailbox's `mapper`: the plugin alone, or a table.
// Only its schema is used; `deserialize_mapper` reads the value.
#[derive(schemars::JsonSchema)]
#[schemars(rename = "Mapper")]
#[serde(untagged)]
#[allow(dead_code)]
enum MapperSchema {
    /// The plugin alone, with its default configuration and limits.
    Plugin(String),
    /// The plugin with its configuration and limits.
    Table(MapperConfig),
}

/// `mapper = "PLUGIN"` or `mapper = { plugin = ..., ... }`. A visitor
/// rather than an untagged enum, so an error inside the table still names
/// its key and line.
fn deserialize_mapper<'de, D: serde::Deserializer<'de>>(d: D) -> Result<MapperConfig, D::Error> {
    struct Visitor;
    impl<'de> serde::de::Visitor<'de> for Visitor {
        type Value = MapperConfig;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a plugin (\"builtin:feedback-default\" or a .wasm path) or a table { plugin = ..., config = { ... } }")
        }
        fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<MapperConfig, E> {
            Ok(MapperConfig {
                plugin: s.parse().map_err(E::custom)?,
                ..MapperConfig::default()
            })
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<MapperConfig, A::Error> {
            MapperConfig::deserialize(serde::de::value::MapAccessDeserializer::new(map))
        }
    }
    d.deserialize_any(Visitor)
}

/// The plugins compiled into popline, by their `builtin:` names. The
/// binary holds their bytes (`popline-builtin`); a test there checks the
/// two lists agree.
pub const BUILTIN_PLUGINS: &[&str] = &["pop3-standard", "feedback-default"];

/// A plugin named in the configuration (or on the command line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginRef {
    /// `builtin:NAME`: one of [`BUILTIN_PLUGINS`], compiled into popline.
    Builtin(String),
    /// A .wasm component file (in a config file: relative to its folder).
    File(PathBuf),
}

impl std::str::FromStr for PluginRef {
    type Err = String;

    /// `builtin:NAME` (an unknown NAME is refused, listing the known ones)
    /// or a path.
    fn from_str(s: &str) -> Result<PluginRef, String> {
        match s.strip_prefix("builtin:") {
            Some(name) if BUILTIN_PLUGINS.contains(&name) => Ok(PluginRef::Builtin(name.into())),
            Some(name) => Err(format!(
                "unknown builtin plugin {name:?}; the builtin plugins are {} (or name a .wasm file)",
                BUILTIN_PLUGINS
                    .iter()
                    .map(|n| format!("\"builtin:{n}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            None if s.is_empty() => Err(
                "empty plugin path; name a .wasm file or a builtin plugin (\"builtin:NAME\")"
                    .into(),
            ),
            None => Ok(PluginRef::File(PathBuf::from(s))),
        }
    }
}

impl<'de> Deserialize<'de> for PluginRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl std::fmt::Display for PluginRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PluginRef::Builtin(name) => write!(f, "builtin:{name}"),
            PluginRef::File(path) => write!(f, "{}", path.display()),
        }
    }
}

fn default_dialogue() -> PluginRef {
    PluginRef::Builtin("pop3-standard".into())
}
fn default_mapper() -> PluginRef {
    PluginRef::Builtin("feedback-default".into())
}
fn default_tls() -> TlsMode {
    TlsMode::Implicit
}
fn default_interval() -> Duration {
    Duration::from_secs(60)
}
fn default_retention() -> Retention {
    Retention::Keep
}
fn default_batch() -> usize {
    50
}
fn default_max_message() -> u64 {
    50
}
fn default_min_rate() -> u64 {
    1024
}
fn default_spool_above() -> u64 {
    4096
}
fn default_breaker() -> u32 {
    5
}
fn default_cooldown() -> Duration {
    Duration::from_secs(600)
}
fn default_session_timeout() -> Duration {
    Duration::from_secs(3600)
}
fn default_connect_timeout() -> u64 {
    15
}
fn default_read_timeout() -> u64 {
    60
}

/// Configuration errors, as an operator sees them.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}, line {line}, column {column}: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error(transparent)]
    Secret(#[from] popline_core::SecretError),
}

impl Config {
    /// Read and validate a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        Config::parse(&text, path, base)
    }

    /// Parse configuration text; `path` only names the file in errors.
    pub fn parse(text: &str, path: &Path, base_dir: &Path) -> Result<Config, ConfigError> {
        let mut cfg: Config = toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((0, 0));
            ConfigError::Syntax {
                path: path.to_path_buf(),
                line,
                column,
                message: e.message().trim().to_string(),
            }
        })?;
        cfg.base_dir = base_dir.to_path_buf();
        cfg.validate().map_err(|message| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        })?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), String> {
        if self.state.backend == StateKind::Postgres && self.state.url.is_none() {
            return Err(
                "[state] backend = \"postgres\" needs url = { env = \"POPLINE_PG_URL\" } (or { file = \"path\" })"
                    .into(),
            );
        }
        let servers: Vec<&str> = self.notices.keys().map(String::as_str).collect();
        for (name, server) in &self.notices {
            server.validate(&format!("[notices.{name}]"))?;
        }
        if self.mailboxes.is_empty() {
            return Err("no mailboxes: add a [mailboxes.NAME] table".into());
        }
        if self.workers == Some(0) {
            return Err(
                "workers = 0: at least one worker parses and maps messages; leave it out for one per core"
                    .into(),
            );
        }
        for (name, mb) in &self.mailboxes {
            let at = format!("[mailboxes.{name}]");
            if mb.sinks.is_empty() {
                return Err(format!(
                    "{at}: `sinks` is empty; name at least one sink from [sinks]"
                ));
            }
            for s in &mb.sinks {
                if !self.sinks.contains_key(s) {
                    let known: Vec<&str> = self.sinks.keys().map(String::as_str).collect();
                    return Err(format!(
                        "{at}: sink {s:?} is not defined; defined sinks: [{}]",
                        known.join(", ")
                    ));
                }
            }
            match (&mb.password, &mb.oauth) {
                (None, None) => {
                    return Err(format!(
                        "{at}: no credential; add password = {{ env = \"VAR\" }} (or {{ file = \"path\" }}), or an [mailboxes.{name}.oauth] table"
                    ));
                }
                (Some(_), Some(_)) => {
                    return Err(format!("{at}: both password and oauth are set; keep one"));
                }
                (None, Some(oauth)) => {
                    oauth.validate(&format!("[mailboxes.{name}.oauth]"), &mb.host)?
                }
                (Some(_), None) => {}
            }
            if mb.tls == TlsMode::None && !mb.allow_plaintext {
                return Err(format!(
                    "{at}: tls = \"none\" sends credentials unencrypted; use \"implicit\" or \"starttls\", or set allow_plaintext = true for a loopback test server"
                ));
            }
            if let Some(n) = &mb.notices {
                n.validate(&at, &servers)?;
            }
            if mb.batch_size == 0 {
                return Err(format!("{at}: batch_size must be at least 1"));
            }
            if mb.archive_days == Some(0) {
                return Err(format!(
                    "{at}: archive_days must be at least 1 (leave it out to keep no archive)"
                ));
            }
            if mb.keep_days.is_some() && mb.retention != Retention::Keep {
                return Err(format!(
                    "{at}: keep_days only applies with retention = \"keep\""
                ));
            }
        }
        for (name, server) in &self.notices {
            let Some(NoticeOAuth::Mailbox(shared)) = &server.oauth else {
                continue;
            };
            let at = format!("[notices.{name}]");
            match self.mailboxes.get(&shared.mailbox) {
                None => {
                    let known: Vec<&str> = self.mailboxes.keys().map(String::as_str).collect();
                    return Err(format!(
                        "{at}: oauth = {{ mailbox = {:?} }} names no mailbox; configured: [{}]",
                        shared.mailbox,
                        known.join(", ")
                    ));
                }
                Some(mb) if mb.oauth.is_none() => {
                    return Err(format!(
                        "{at}: oauth = {{ mailbox = {:?} }}, but that mailbox signs in with a \
                         password, not OAuth; give {at} a password or its own oauth table",
                        shared.mailbox
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// How mailbox `name` signs in with OAuth (`None`: with a password).
    pub fn mailbox_login(&self, name: &str) -> Option<Login<'_>> {
        let mb = self.mailboxes.get(name)?;
        let oauth = mb.oauth.as_ref()?;
        Some(Login {
            oauth,
            account: mailbox_account(mb, oauth).to_string(),
            scopes: ScopeSet::for_service(oauth, Service::Pop),
            default_cache: self.default_token_cache(name),
            shares: None,
        })
    }

    /// The token cache file of mailbox `name`'s OAuth sign-in.
    fn mailbox_cache(&self, name: &str, oauth: &OAuthConfig) -> PathBuf {
        oauth
            .token_cache
            .as_ref()
            .map(|p| self.path(p))
            .unwrap_or_else(|| self.default_token_cache(name))
    }

    /// How `[notices.NAME]` signs in with OAuth (`None`: with a password):
    /// with `oauth = { mailbox = "M" }`, mailbox M's sign-in; with its own
    /// table naming a mailbox's app, tenant, flow and account (and no other
    /// `token_cache`), that mailbox's sign-in too (its cache file, so one
    /// manager and one refresh token serve both); else its own, cached in
    /// `tokens/notices-NAME.json` unless `token_cache` says.
    pub fn notice_login(&self, name: &str) -> Option<Login<'_>> {
        let server = self.notices.get(name)?;
        match server.oauth.as_ref()? {
            NoticeOAuth::Mailbox(shared) => {
                let mb = self.mailboxes.get(&shared.mailbox)?;
                let oauth = mb.oauth.as_ref()?;
                // The mailbox's own scopes are POP's; SMTP gets the cloud's.
                let mut smtp = oauth.clone();
                if smtp.provider == popline_oauth::Provider::Microsoft {
                    smtp.scopes.clear();
                }
                Some(Login {
                    oauth,
                    account: mailbox_account(mb, oauth).to_string(),
                    scopes: ScopeSet::for_service(&smtp, Service::Smtp),
                    default_cache: self.mailbox_cache(&shared.mailbox, oauth),
                    shares: Some(shared.mailbox.clone()),
                })
            }
            NoticeOAuth::Own(oauth) => {
                let account = oauth.login_hint.clone().unwrap_or_else(|| server.login());
                let own_cache = oauth.token_cache.as_ref().map(|p| self.path(p));
                let shares = self.mailboxes.iter().find_map(|(mb_name, mb)| {
                    let mb_oauth = mb.oauth.as_ref()?;
                    let cache = self.mailbox_cache(mb_name, mb_oauth);
                    let linked = match &own_cache {
                        Some(own) => *own == cache,
                        None => {
                            let mb_account = mailbox_account(mb, mb_oauth);
                            oauth.sign_in_difference(mb_oauth).is_none()
                                && (oauth.flow == Flow::ClientCredentials
                                    || account.eq_ignore_ascii_case(mb_account))
                        }
                    };
                    linked.then(|| (mb_name.clone(), cache))
                });
                let default_cache = match &shares {
                    Some((_, cache)) => cache.clone(),
                    None => self.default_notice_token_cache(name),
                };
                Some(Login {
                    oauth,
                    account,
                    scopes: ScopeSet::for_service(oauth, Service::Smtp),
                    default_cache,
                    shares: shares.map(|(m, _)| m),
                })
            }
        }
    }

    /// Resolve a path from the file against the file's folder.
    pub fn path(&self, p: &Path) -> PathBuf {
        self.base_dir.join(p)
    }

    /// A plugin from the file with its path resolved against the file's
    /// folder (a builtin stays as it is).
    pub fn plugin(&self, p: &PluginRef) -> PluginRef {
        match p {
            PluginRef::File(path) => PluginRef::File(self.path(path)),
            builtin => builtin.clone(),
        }
    }

    /// The raw archive folder of pipeline `name`: `archive/NAME` in the
    /// state folder (the folder holding `[state] path`).
    pub fn archive_dir(&self, name: &str) -> PathBuf {
        self.state_dir().join("archive").join(name)
    }

    /// The folder holding the state database.
    pub fn state_dir(&self) -> PathBuf {
        self.path(&self.state.path)
            .parent()
            .unwrap_or(Path::new("."))
            .to_path_buf()
    }

    /// Where a mailbox's OAuth tokens live unless `oauth.token_cache` says:
    /// `tokens/NAME.json` beside the state database.
    pub fn default_token_cache(&self, mailbox: &str) -> PathBuf {
        self.state_dir()
            .join("tokens")
            .join(format!("{mailbox}.json"))
    }
}

/// Who signs in for mailbox `mb`: `login_hint`, else its `user`.
fn mailbox_account<'a>(mb: &'a MailboxConfig, oauth: &'a OAuthConfig) -> &'a str {
    oauth.login_hint.as_deref().unwrap_or(&mb.user)
}

/// How a mailbox or a notice server signs in with OAuth.
#[derive(Debug)]
pub struct Login<'a> {
    /// The settings of the sign-in (a shared mailbox's for `{ mailbox }`).
    pub oauth: &'a OAuthConfig,
    /// Who signs in: `login_hint`, else the mailbox's `user` (a notice
    /// server's login name).
    pub account: String,
    /// What this service's access tokens are for.
    pub scopes: ScopeSet,
    /// The token cache file unless `oauth.token_cache` names one.
    pub default_cache: PathBuf,
    /// The mailbox whose sign-in a notice server shares.
    pub shares: Option<String>,
}

impl Config {
    /// Where a notice server's OAuth tokens live unless `oauth.token_cache`
    /// says: `tokens/notices-NAME.json` beside the state database.
    pub fn default_notice_token_cache(&self, server: &str) -> PathBuf {
        self.state_dir()
            .join("tokens")
            .join(format!("notices-{server}.json"))
    }
}

impl MailboxConfig {
    /// The configured port, or the usual one for the TLS mode.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            TlsMode::Implicit => 995,
            _ => 110,
        })
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[sinks.out]
type = "jsonl"
path = "feedback.jsonl"

[mailboxes.beta]
host = "outlook.office365.com"
user = "beta@contoso.example"
password = { env = "BETA_PW" }
dialogue = "plugins/pop3_standard.wasm"
mapper = { plugin = "plugins/feedback_default.wasm" }
sinks = ["out"]
"#;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("popline.toml"), Path::new("/etc/popline"))
    }

    #[test]
    fn a_minimal_config_gets_sensible_defaults() {
        let c = parse(MINIMAL).unwrap();
        let mb = &c.mailboxes["beta"];
        assert_eq!(mb.tls, TlsMode::Implicit);
        assert_eq!(mb.port(), 995);
        assert_eq!(mb.retention, Retention::Keep);
        assert_eq!(mb.poll_interval, Duration::from_secs(60));
        assert_eq!(mb.batch_size, 50);
        assert_eq!(mb.password, Some(SecretRef::Env("BETA_PW".into())));
        assert_eq!(c.state.path, PathBuf::from("popline-state.db"));
        assert_eq!(
            c.plugin(&mb.dialogue),
            PluginRef::File(PathBuf::from("/etc/popline/plugins/pop3_standard.wasm"))
        );
        assert_eq!(
            c.archive_dir("beta"),
            PathBuf::from("/etc/popline/archive/beta")
        );
    }

    #[test]
    fn plugins_default_to_the_builtins() {
        let text = MINIMAL
            .replace("dialogue = \"plugins/pop3_standard.wasm\"\n", "")
            .replace(
                "mapper = { plugin = \"plugins/feedback_default.wasm\" }\n",
                "",
            );
        let c = parse(&text).unwrap();
        let mb = &c.mailboxes["beta"];
        assert_eq!(mb.dialogue, PluginRef::Builtin("pop3-standard".into()));
        assert_eq!(
            mb.mapper.plugin,
            PluginRef::Builtin("feedback-default".into())
        );
        assert_eq!(
            c.plugin(&mb.mapper.plugin).to_string(),
            "builtin:feedback-default"
        );
        // The short form, and a table that only configures the builtin.
        let with = |mapper: &str| parse(&format!("{text}mapper = {mapper}\n"));
        let mb = &with("\"builtin:feedback-default\"").unwrap().mailboxes["beta"];
        assert_eq!(
            mb.mapper.plugin,
            PluginRef::Builtin("feedback-default".into())
        );
        let c = with("{ config = { unmatched = \"new\" } }").unwrap();
        let mb = &c.mailboxes["beta"];
        assert_eq!(
            mb.mapper.plugin,
            PluginRef::Builtin("feedback-default".into())
        );
        assert_eq!(mb.mapper.config["unmatched"], "new");
        let mb = &with("\"m.wasm\"").unwrap().mailboxes["beta"];
        assert_eq!(mb.mapper.plugin, PluginRef::File("m.wasm".into()));
        // An error inside the table still names its line.
        let err = with("{ plugin = \"m.wasm\", confg = {} }")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 11") && err.contains("unknown field `confg`"),
            "{err}"
        );
    }

    #[test]
    fn an_unknown_builtin_lists_the_known_ones() {
        let text = MINIMAL.replace("plugins/pop3_standard.wasm", "builtin:pop3-fancy");
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("line 10"), "{err}");
        assert!(
            err.contains("unknown builtin plugin \"pop3-fancy\"; the builtin plugins are \"builtin:pop3-standard\", \"builtin:feedback-default\""),
            "{err}"
        );
        let err = parse(&MINIMAL.replace("plugins/feedback_default.wasm", "builtin:nope"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown builtin plugin \"nope\""), "{err}");
    }

    #[test]
    fn workers_default_to_the_cores_and_refuse_zero() {
        assert_eq!(parse(MINIMAL).unwrap().workers, None);
        assert_eq!(
            parse(&format!("workers = 3\n{MINIMAL}")).unwrap().workers,
            Some(3)
        );
        let err = parse(&format!("workers = 0\n{MINIMAL}"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("workers = 0"), "{err}");
    }

    #[test]
    fn notices_name_a_defined_server() {
        let with = |extra: &str| {
            format!("{MINIMAL}notices = {{ via = \"m365\", on = [\"no-match\"] }}\n{extra}")
        };
        let server = "\n[notices.m365]\nhost = \"smtp.office365.com\"\nfrom = \"beta@contoso.example\"\npassword = { env = \"SMTP_PW\" }\n";
        let c = parse(&with(server)).unwrap();
        assert_eq!(c.mailboxes["beta"].notices.as_ref().unwrap().via, "m365");
        assert_eq!(c.notices["m365"].port(), 587);
        assert_eq!(
            c.default_notice_token_cache("m365"),
            PathBuf::from("/etc/popline/tokens/notices-m365.json")
        );
        let err = parse(&with("")).unwrap_err().to_string();
        assert!(
            err.contains("notices.via = \"m365\" is not defined"),
            "{err}"
        );
        let err = parse(&with(&server.replace("password", "# no password")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("[notices.m365]: no credential"), "{err}");
    }

    /// Who shares a mailbox's OAuth sign-in: `{ mailbox }`, or a table
    /// with the same app, tenant, flow and account and no other cache file.
    #[test]
    fn notice_servers_share_a_mailbox_sign_in() {
        let mailbox = MINIMAL.replace(
            "password = { env = \"BETA_PW\" }",
            "oauth = { flow = \"device-code\", client_id = \"app\", tenant = \"t\" }",
        );
        let server = |name: &str, from: &str, oauth: &str| {
            format!(
                "\n[notices.{name}]\nhost = \"smtp.office365.com\"\nfrom = \"{from}\"\noauth = {oauth}\n"
            )
        };
        let own = |extra: &str| {
            format!("{{ flow = \"device-code\", client_id = \"app\", tenant = \"T\"{extra} }}")
        };
        let text = [
            mailbox.clone(),
            server("linked", "x@contoso.example", r#"{ mailbox = "beta" }"#),
            server("same", "Beta <Beta@contoso.example>", &own("")),
            server(
                "hint",
                "x@contoso.example",
                &own(", login_hint = \"beta@contoso.example\""),
            ),
            server("otheraccount", "other@contoso.example", &own("")),
            server(
                "owncache",
                "beta@contoso.example",
                &own(", token_cache = \"x.json\""),
            ),
            server(
                "otherapp",
                "beta@contoso.example",
                "{ flow = \"device-code\", client_id = \"other\", tenant = \"t\" }",
            ),
        ]
        .concat();
        let c = parse(&text).unwrap();
        let beta_cache = PathBuf::from("/etc/popline/tokens/beta.json");
        let pop = c.mailbox_login("beta").unwrap();
        assert_eq!(pop.default_cache, beta_cache);
        assert_eq!(pop.account, "beta@contoso.example");
        assert!(pop.scopes.request().contains("POP.AccessAsUser.All"));
        for name in ["linked", "same", "hint"] {
            let l = c.notice_login(name).unwrap();
            assert_eq!(l.shares.as_deref(), Some("beta"), "{name}");
            assert_eq!(l.default_cache, beta_cache, "{name}");
            assert_eq!(
                l.scopes.request(),
                "https://outlook.office.com/SMTP.Send offline_access",
                "{name}"
            );
        }
        assert_eq!(c.notice_login("linked").unwrap().oauth.client_id, "app");
        for name in ["otheraccount", "owncache", "otherapp"] {
            let l = c.notice_login(name).unwrap();
            assert_eq!(l.shares, None, "{name}");
        }
        assert_eq!(
            c.notice_login("otherapp").unwrap().default_cache,
            PathBuf::from("/etc/popline/tokens/notices-otherapp.json")
        );
        // A token_cache naming the mailbox's file shares it explicitly.
        let c = parse(&format!(
            "{mailbox}{}",
            server(
                "file",
                "x@contoso.example",
                &own(", token_cache = \"tokens/beta.json\"")
            )
        ))
        .unwrap();
        assert_eq!(
            c.notice_login("file").unwrap().shares.as_deref(),
            Some("beta")
        );

        let err = parse(&format!(
            "{mailbox}{}",
            server("bad", "x@contoso.example", r#"{ mailbox = "nope" }"#)
        ))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("names no mailbox; configured: [beta]"),
            "{err}"
        );
        let err = parse(&format!(
            "{MINIMAL}{}",
            server("bad", "x@contoso.example", r#"{ mailbox = "beta" }"#)
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("signs in with a password"), "{err}");
    }

    #[test]
    fn unknown_fields_name_the_line_and_the_alternatives() {
        let text = MINIMAL.replace("sinks = [\"out\"]", "sinks = [\"out\"]\npoll = \"5m\"");
        let err = parse(&text).unwrap_err().to_string();
        assert!(
            err.starts_with("popline.toml, line 13, column 1: unknown field `poll`"),
            "{err}"
        );
        assert!(err.contains("poll_interval"), "{err}");
    }

    #[test]
    fn inline_secrets_are_refused_with_the_fix() {
        let text = MINIMAL.replace("{ env = \"BETA_PW\" }", "\"hunter2\"");
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("not accepted inline"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn semantic_errors() {
        let err = parse(&MINIMAL.replace("sinks = [\"out\"]", "sinks = [\"nope\"]"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("sink \"nope\" is not defined; defined sinks: [out]"),
            "{err}"
        );
        let err = parse(&MINIMAL.replace("user =", "tls = \"none\"\nuser ="))
            .unwrap_err()
            .to_string();
        assert!(err.contains("allow_plaintext"), "{err}");
        let err = parse(&MINIMAL.replace("user =", "poll_interval = \"soon\"\nuser ="))
            .unwrap_err()
            .to_string();
        assert!(err.contains("invalid duration \"soon\""), "{err}");
        let err = parse(&MINIMAL.replace("user =", "archive_days = 0\nuser ="))
            .unwrap_err()
            .to_string();
        assert!(err.contains("archive_days must be at least 1"), "{err}");
        // A matching defaults check for the size and spool settings.
        let mb = &parse(MINIMAL).unwrap().mailboxes["beta"];
        assert_eq!(
            (
                mb.max_message_mib,
                mb.oversize,
                mb.spool_above_kib,
                mb.min_bytes_per_sec
            ),
            (50, OversizePolicy::Skip, 4096, 1024)
        );
    }
}
