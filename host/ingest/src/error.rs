//! Why a poll failed, typed, so callers classify it without reading text.

use std::time::Duration;

use popline_oauth::AuthError;
use popline_plugin_runtime::PluginError;
use popline_plugin_runtime::dialogue::{ErrorKind as Pop3Kind, SessionError};
use popline_sink::SinkError;

/// Why a connection to the server could not be opened, by class.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// TCP: name resolution, refused, unreachable, timed out.
    #[error("{0}")]
    Network(String),
    /// The TLS handshake or certificate verification.
    #[error("{0}")]
    Tls(String),
}

/// Why one poll of one mailbox failed. The text is complete (it names what
/// failed and what to do); [`PollError::kind`] is the class.
#[derive(Debug, thiserror::Error)]
pub enum PollError {
    /// TCP or TLS.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The mailbox password could not be read.
    #[error(transparent)]
    Secret(#[from] popline_core::SecretError),
    /// No OAuth access token could be had.
    #[error(transparent)]
    OAuth(#[from] AuthError),
    /// The POP3 session or the dialogue plugin, while doing `context`.
    #[error("{}{error}", prefix(.context))]
    Session {
        context: Option<String>,
        error: SessionError,
    },
    /// A sink refused or failed the batch.
    #[error("delivering to sink {sink:?}: {error}")]
    Sink { sink: String, error: SinkError },
    /// The state backend failed.
    #[error("state: {0:#}")]
    State(anyhow::Error),
    /// The mapper failed on too many consecutive messages.
    #[error(
        "circuit breaker open: mapper {mapper} failed on {threshold} consecutive messages; fix or replace the plugin (see `popline dead-letter list`); next attempt in {retry_in:?}"
    )]
    BreakerOpen {
        mapper: String,
        threshold: u32,
        retry_in: Duration,
    },
    /// The session outlasted `session_timeout`.
    #[error(
        "the session did not end within session_timeout ({after:?}); it was dropped without QUIT, so nothing was deleted in it; raise session_timeout or lower batch_size"
    )]
    Deadline { after: Duration },
    /// No plugin instance could be started: the host is at its limit of
    /// live instances. The message is not held against the plugin.
    #[error("{0}")]
    Capacity(PluginError),
    /// This host lost the mailbox's lease mid-poll (another host took it,
    /// or it could not renew it within `lease_ttl`): it stopped after the
    /// message in hand and committed nothing of the batch.
    #[error(
        "this host lost the mailbox's lease mid-poll (another host took it, or renewals failed for longer than lease_ttl); the batch was left on the server uncommitted, for the lease's new holder"
    )]
    LeaseLost,
    /// The host itself: its spool folder, dead letters, a task.
    #[error("{0:#}")]
    Host(anyhow::Error),
}

fn prefix(context: &Option<String>) -> String {
    context
        .as_ref()
        .map(|c| format!("{c}: "))
        .unwrap_or_default()
}

/// The class of a poll failure: a metrics label and an exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Network,
    Tls,
    /// The server refused the login.
    Auth,
    /// OAuth needs `popline auth login` again.
    NeedsLogin,
    /// The identity platform did not answer.
    TokenEndpoint,
    /// Any other OAuth refusal (consent, client, tenant).
    OAuth,
    /// The password reference could not be read.
    Credential,
    /// The dialogue plugin failed.
    Plugin,
    /// The server answered with an error, or out of step.
    Server,
    Sink,
    State,
    Breaker,
    /// A session outlasted its `session_timeout`.
    Deadline,
    /// No plugin instance could be started (`max_instances`).
    Capacity,
    /// The mailbox's lease was lost mid-poll (fleet state).
    Lease,
    /// The host's own disk or tasks.
    Host,
}

impl ErrorKind {
    /// Every kind, for the metrics series present from start.
    pub const ALL: [ErrorKind; 16] = [
        ErrorKind::Network,
        ErrorKind::Tls,
        ErrorKind::Auth,
        ErrorKind::NeedsLogin,
        ErrorKind::TokenEndpoint,
        ErrorKind::OAuth,
        ErrorKind::Credential,
        ErrorKind::Plugin,
        ErrorKind::Server,
        ErrorKind::Sink,
        ErrorKind::State,
        ErrorKind::Breaker,
        ErrorKind::Deadline,
        ErrorKind::Capacity,
        ErrorKind::Lease,
        ErrorKind::Host,
    ];

    /// The `kind` label of `popline_poll_errors_total`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Network => "network",
            ErrorKind::Tls => "tls",
            ErrorKind::Auth => "auth",
            ErrorKind::NeedsLogin => "needs_login",
            ErrorKind::TokenEndpoint => "token_endpoint",
            ErrorKind::OAuth => "oauth",
            ErrorKind::Credential => "credential",
            ErrorKind::Plugin => "plugin",
            ErrorKind::Server => "server",
            ErrorKind::Sink => "sink",
            ErrorKind::State => "state",
            ErrorKind::Breaker => "breaker",
            ErrorKind::Deadline => "deadline",
            ErrorKind::Capacity => "capacity",
            ErrorKind::Lease => "lease",
            ErrorKind::Host => "other",
        }
    }

    /// The exit code of `popline once` / `check` (sysexits.h): 75 try again
    /// later, 77 the credentials need an operator, 70 a plugin is at fault,
    /// 74 the host's own disk.
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::Network
            | ErrorKind::Tls
            | ErrorKind::Server
            | ErrorKind::TokenEndpoint
            | ErrorKind::Sink
            | ErrorKind::State
            | ErrorKind::Deadline
            | ErrorKind::Capacity
            | ErrorKind::Lease => EX_TEMPFAIL,
            ErrorKind::Auth | ErrorKind::NeedsLogin | ErrorKind::OAuth | ErrorKind::Credential => {
                EX_NOPERM
            }
            ErrorKind::Plugin | ErrorKind::Breaker => EX_SOFTWARE,
            ErrorKind::Host => EX_IOERR,
        }
    }
}

/// sysexits.h codes popline exits with.
pub const EX_SOFTWARE: u8 = 70;
pub const EX_IOERR: u8 = 74;
pub const EX_TEMPFAIL: u8 = 75;
pub const EX_NOPERM: u8 = 77;
pub const EX_CONFIG: u8 = 78;

impl PollError {
    /// A session failure while doing `context`.
    pub fn session(context: impl Into<String>, error: SessionError) -> PollError {
        PollError::Session {
            context: Some(context.into()),
            error,
        }
    }

    /// The class of this failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            PollError::Connect(ConnectError::Network(_)) => ErrorKind::Network,
            PollError::Connect(ConnectError::Tls(_)) => ErrorKind::Tls,
            PollError::Secret(_) => ErrorKind::Credential,
            PollError::OAuth(AuthError::NeedsLogin(_)) => ErrorKind::NeedsLogin,
            PollError::OAuth(AuthError::Unavailable(_)) => ErrorKind::TokenEndpoint,
            PollError::OAuth(_) => ErrorKind::OAuth,
            PollError::Session { error, .. } => match error {
                SessionError::Plugin(p) if p.is_host_condition() => ErrorKind::Capacity,
                SessionError::Plugin(_) => ErrorKind::Plugin,
                SessionError::Pop3(p) => match p.kind {
                    Pop3Kind::Auth => ErrorKind::Auth,
                    Pop3Kind::Io => ErrorKind::Network,
                    _ => ErrorKind::Server,
                },
            },
            PollError::Sink { .. } => ErrorKind::Sink,
            PollError::State(_) => ErrorKind::State,
            PollError::BreakerOpen { .. } => ErrorKind::Breaker,
            PollError::Deadline { .. } => ErrorKind::Deadline,
            PollError::Capacity(_) => ErrorKind::Capacity,
            PollError::LeaseLost => ErrorKind::Lease,
            PollError::Host(_) => ErrorKind::Host,
        }
    }

    /// A session failure now said to have happened while doing `context`;
    /// any other failure unchanged.
    pub fn in_context(self, context: impl Into<String>) -> PollError {
        match self {
            PollError::Session { error, .. } => PollError::session(context, error),
            other => other,
        }
    }

    /// Whether the server refused the login.
    pub fn is_auth_rejection(&self) -> bool {
        self.kind() == ErrorKind::Auth
    }
}

impl From<SessionError> for PollError {
    fn from(error: SessionError) -> Self {
        PollError::Session {
            context: None,
            error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use popline_plugin_runtime::dialogue::Pop3Error;

    fn pop3(kind: Pop3Kind) -> PollError {
        PollError::session(
            "listing messages",
            SessionError::Pop3(Pop3Error {
                kind,
                message: "-ERR no".into(),
            }),
        )
    }

    /// A new kind fails to compile here until it is added to `ALL`.
    #[test]
    fn all_holds_every_kind_once() {
        use ErrorKind::*;
        let position = |k: ErrorKind| match k {
            Network => 0,
            Tls => 1,
            Auth => 2,
            NeedsLogin => 3,
            TokenEndpoint => 4,
            OAuth => 5,
            Credential => 6,
            Plugin => 7,
            Server => 8,
            Sink => 9,
            State => 10,
            Breaker => 11,
            Deadline => 12,
            Capacity => 13,
            Lease => 14,
            Host => 15,
        };
        for (i, k) in ErrorKind::ALL.into_iter().enumerate() {
            assert_eq!(position(k), i, "{k:?}");
        }
    }

    #[test]
    fn errors_are_classified_by_type_not_text() {
        let cases: Vec<(PollError, &str, u8)> = vec![
            (
                ConnectError::Tls("bad certificate".into()).into(),
                "tls",
                75,
            ),
            (
                ConnectError::Network("refused".into()).into(),
                "network",
                75,
            ),
            (pop3(Pop3Kind::Auth), "auth", 77),
            (pop3(Pop3Kind::Io), "network", 75),
            (pop3(Pop3Kind::InUse), "server", 75),
            (
                PollError::Sink {
                    sink: "out".into(),
                    error: SinkError::Interrupted { sink: "out".into() },
                },
                "sink",
                75,
            ),
            (
                AuthError::NeedsLogin("run popline auth login".into()).into(),
                "needs_login",
                77,
            ),
            (
                PollError::State(anyhow::anyhow!("disk I/O error")),
                "state",
                75,
            ),
            (
                PollError::BreakerOpen {
                    mapper: "m".into(),
                    threshold: 5,
                    retry_in: Duration::from_secs(1),
                },
                "breaker",
                70,
            ),
            (
                PollError::Deadline {
                    after: Duration::from_secs(2),
                },
                "deadline",
                75,
            ),
            (
                PollError::Capacity(PluginError::Unavailable {
                    plugin: "m".into(),
                    reason: "pool full".into(),
                }),
                "capacity",
                75,
            ),
            (
                SessionError::Plugin(PluginError::Unavailable {
                    plugin: "d".into(),
                    reason: "pool full".into(),
                })
                .into(),
                "capacity",
                75,
            ),
            (
                SessionError::Plugin(PluginError::Returned {
                    plugin: "d".into(),
                    message: "no".into(),
                })
                .into(),
                "plugin",
                70,
            ),
            // Words in a message do not decide the class.
            (
                PollError::Host(anyhow::anyhow!("TLS sink connecting to nowhere")),
                "other",
                74,
            ),
        ];
        for (e, kind, code) in cases {
            assert_eq!(
                (e.kind().as_str(), e.kind().exit_code()),
                (kind, code),
                "{e}"
            );
        }
    }

    #[test]
    fn session_errors_carry_their_context() {
        assert_eq!(
            pop3(Pop3Kind::Auth).to_string(),
            "listing messages: login failed [AUTH]: -ERR no"
        );
        assert_eq!(
            pop3(Pop3Kind::Auth)
                .in_context("logging in again")
                .to_string(),
            "logging in again: login failed [AUTH]: -ERR no"
        );
        let state = PollError::State(anyhow::anyhow!("locked")).in_context("ignored");
        assert_eq!(state.to_string(), "state: locked");
    }
}
