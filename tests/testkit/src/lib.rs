//! A real Dovecot POP3 server for popline's tests, demo and benchmarks.
//!
//! [`Dovecot::start`] runs Debian's Dovecot 2.3 (`dovecot-core`,
//! `dovecot-pop3d`) as an ordinary foreground child process from a private
//! temporary directory: its own config, users, maildirs, a test CA
//! ([`Tls`]) and free ports on 127.0.0.1/127.0.0.2. Nothing touches the system
//! Dovecot service. As root, Dovecot drops to its own users; as anyone else,
//! it runs rootless as that user.
//!
//! ```no_run
//! use popline_testkit::{Dovecot, DovecotOptions, beta_replies};
//!
//! let dovecot = Dovecot::start(DovecotOptions::default().user("alice@contoso.example", "secret"))?;
//! dovecot.seed("alice@contoso.example", &beta_replies())?;
//! // connect to 127.0.0.1:{dovecot.tls_port()} trusting dovecot.ca_pem() ...
//! assert_eq!(dovecot.count("alice@contoso.example")?, 6);
//! # anyhow::Ok(())
//! ```
//!
//! [`Postfix::start`] runs Postfix 3.7 for SMTP submission (STARTTLS, SASL
//! through a Dovecot's auth service) delivering into maildirs the test reads.
//! It is the one server here that needs root.
//!
//! [`Postgres::start`] and [`Nats::start`] do the same for PostgreSQL 15 and
//! `nats-server` with JetStream: a private directory, a free port on
//! 127.0.0.1, `kill` and `restart` for tests where the server dies mid-run;
//! both run as the invoking user (PostgreSQL as `nobody` under root).
//!
//! ```no_run
//! use popline_testkit::{Nats, NatsOptions, Postgres, PostgresOptions};
//!
//! let postgres = Postgres::start(PostgresOptions::default())?;
//! postgres.create_database("popline")?;
//! // connect to postgres.url("popline") ...
//! let nats = Nats::start(NatsOptions::default())?;
//! // connect to nats.url() ...
//! # anyhow::Ok(())
//! ```
//!
//! The `popline-testkit dovecot` binary runs the same server in the
//! foreground for `just demo` and the ingestion benchmark, describing it in a
//! [`State`] file.

mod dovecot;
pub mod idp;
mod mail;
mod nats;
mod postfix;
mod postgres;
mod process;
pub mod scripted;
mod server_thread;
mod tls;

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

pub use dovecot::{Dovecot, DovecotOptions};
pub use idp::{App, ClientCertificate, Fault, Idp, IdpOptions};
pub use mail::{UNMATCHED_SENDER, beta_replies, mixed_corpus, unmatched_reply};
pub use nats::{Nats, NatsOptions};
pub use postfix::{Postfix, PostfixOptions};
pub use postgres::{Postgres, PostgresOptions};
pub use tls::Tls;

/// The error text when Dovecot is not installed.
pub const MISSING_DOVECOT: &str = "dovecot not found: apt-get install dovecot-core dovecot-pop3d";

/// The error text when PostgreSQL is not installed.
pub const MISSING_POSTGRES: &str = "PostgreSQL not found (initdb and postgres in \
    /usr/lib/postgresql/*/bin or on $PATH): apt-get install postgresql-15";

/// The error text when Postfix is not installed.
pub const MISSING_POSTFIX: &str = "postfix not found: apt-get install postfix";

/// Where the `postfix` command is: `$PATH`, then `/usr/sbin`. `None` if it
/// is not installed.
pub fn which_postfix() -> Option<PathBuf> {
    process::which("postfix", &["/usr/sbin", "/usr/local/sbin"])
}

/// The error text when NATS is not installed.
pub const MISSING_NATS: &str = "nats-server not found: apt-get install nats-server";

/// Where the `dovecot` binary is: `$PATH` first, then `/usr/sbin` and
/// `/usr/local/sbin` (often missing from a non-root `$PATH`). `None` if it is
/// not installed.
pub fn which_dovecot() -> Option<PathBuf> {
    process::which("dovecot", &["/usr/sbin", "/usr/local/sbin"])
}

/// Where the `nats-server` binary is: `$PATH` first, then `/usr/sbin` (where
/// Debian puts it) and `/usr/local/sbin`. `None` if it is not installed.
pub fn which_nats() -> Option<PathBuf> {
    process::which("nats-server", &["/usr/sbin", "/usr/local/sbin"])
}

/// The PostgreSQL bin directory (the one holding `initdb`, `postgres` and,
/// with the client package, `createdb`): where an `initdb` on `$PATH` really
/// lives (following symlinks), then Debian's `/usr/lib/postgresql/15/bin`,
/// then other versions there, newest first. `None` if none has both `initdb`
/// and `postgres`.
pub fn which_postgres() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let on_path = std::env::split_paths(&path)
        .filter_map(|dir| fs::canonicalize(dir.join("initdb")).ok())
        .filter_map(|initdb| initdb.parent().map(Path::to_path_buf));
    let mut debian: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| Some((entry.file_name().to_str()?.parse().ok()?, entry.path())))
        .collect();
    debian.sort_by_key(|&(version, _)| (version != 15, std::cmp::Reverse(version)));
    on_path
        .chain(debian.into_iter().map(|(_, dir)| dir.join("bin")))
        .find(|bin| bin.join("initdb").is_file() && bin.join("postgres").is_file())
}

/// What `popline-testkit dovecot --state FILE` writes (TOML) once Dovecot is
/// ready, for scripts and benchmarks that talk to it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct State {
    /// The `popline-testkit` process: send it SIGTERM to stop Dovecot and clean up.
    pub pid: u32,
    /// The Dovecot master process.
    pub dovecot_pid: u32,
    /// The server's temporary directory.
    pub dir: PathBuf,
    /// The CA certificate to trust.
    pub ca_pem: PathBuf,
    /// Always `127.0.0.1`.
    pub host: String,
    /// Plaintext POP3 with STLS, see [`Dovecot::plain_port`].
    pub plain_port: u16,
    /// Implicit TLS (pop3s), see [`Dovecot::tls_port`].
    pub tls_port: u16,
    /// Plaintext on 127.0.0.2, see [`Dovecot::nonlocal_plain_port`].
    pub nonlocal_plain_port: u16,
    /// The mailbox's login name.
    pub user: String,
    /// The mailbox's password (USER/PASS, PLAIN, LOGIN).
    pub password: String,
    /// Messages seeded.
    pub messages: usize,
    /// Their total size as seeded (bytes).
    pub bytes: u64,
    /// With `--smtp`: Postfix's submission port (STARTTLS, then PLAIN with
    /// the mailbox's user and password, checked by this Dovecot).
    #[serde(default)]
    pub smtp_port: Option<u16>,
    /// With `--smtp`: the CA of Postfix's certificate.
    #[serde(default)]
    pub smtp_ca_pem: Option<PathBuf>,
    /// With `--smtp`: the maildir notices to [`UNMATCHED_SENDER`] land in.
    #[serde(default)]
    pub notices_maildir: Option<PathBuf>,
}

impl State {
    /// Reads a state file.
    pub fn read(path: &Path) -> Result<State> {
        let text =
            fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }

    /// Writes the state file atomically (a reader never sees half of it).
    pub fn write(&self, path: &Path) -> Result<()> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        fs::write(&tmp, toml::to_string(self)?)
            .with_context(|| format!("writing {}", path.display()))?;
        fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
    }
}
