//! Why a tester gets a notice.

use serde::Deserialize;

/// Why a tester gets a notice.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// The reply matched no feedback item.
    NoMatch,
    /// The reply was larger than the mailbox's `max_message_mib`.
    Oversize,
    /// The reply could not be processed and was set aside (dead letter).
    DeadLetter,
    /// The reply's reply token had expired.
    ExpiredToken,
    /// The reply was added (only with `acknowledge = true`; not for `on`).
    Acknowledged,
}

impl Reason {
    /// The name in config files, the outbox and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::NoMatch => "no-match",
            Reason::Oversize => "oversize",
            Reason::DeadLetter => "dead-letter",
            Reason::ExpiredToken => "expired-token",
            Reason::Acknowledged => "acknowledged",
        }
    }
}
