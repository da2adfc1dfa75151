//! The names feedback-core gives to what it found: the signal that matched
//! and the category of a skip. The records themselves are the SDK's
//! (`popline_plugin`), generated from the WIT.

use popline_plugin::MatchInfo;

/// The signal that tied an email to a feedback item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchMethod {
    /// `<prefix>+TOKEN@...` in a recipient address.
    PlusAddress,
    /// A notification Message-ID in `In-Reply-To`.
    InReplyTo,
    /// A notification Message-ID in `References`.
    References,
    /// A token in the subject.
    Subject,
    /// A marker in the body.
    BodyMarker,
}

impl MatchMethod {
    /// The name used in output records, e.g. `plus-address`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PlusAddress => "plus-address",
            Self::InReplyTo => "in-reply-to",
            Self::References => "references",
            Self::Subject => "subject",
            Self::BodyMarker => "body-marker",
        }
    }

    /// The record's `match` for this signal and the `value` that matched.
    pub fn info(self, value: impl Into<String>) -> MatchInfo {
        MatchInfo {
            method: self.as_str().to_owned(),
            value: value.into(),
        }
    }
}

/// Why an email is not feedback. Every skip reason starts with one of these
/// names and a colon, e.g. `auto-reply: Auto-Submitted: auto-replied`, so
/// reasons can be counted by category.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipCategory {
    /// Out-of-office and other automatic replies, read receipts.
    AutoReply,
    /// Delivery status notifications and mail from bounce senders.
    Bounce,
    /// Mailing-list and bulk mail.
    Bulk,
    /// Mail from the mailbox's own address.
    Loop,
    /// No signal ties the email to a feedback item.
    NoMatch,
    /// No author: neither `From` nor `Reply-To` holds an address (malformed
    /// or truncated mail). Nobody to attribute the feedback to or answer.
    NoSender,
}

impl SkipCategory {
    /// Every category.
    pub const ALL: [SkipCategory; 6] = [
        Self::AutoReply,
        Self::Bounce,
        Self::Bulk,
        Self::Loop,
        Self::NoMatch,
        Self::NoSender,
    ];

    /// The name that starts the skip reason, e.g. `auto-reply`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AutoReply => "auto-reply",
            Self::Bounce => "bounce",
            Self::Bulk => "bulk",
            Self::Loop => "loop",
            Self::NoMatch => "no-match",
            Self::NoSender => "no-sender",
        }
    }

    /// The category a skip reason starts with, if any.
    pub fn of_reason(reason: &str) -> Option<Self> {
        let (name, _) = reason.split_once(':')?;
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// A skip reason of this category.
    pub fn reason(self, detail: impl std::fmt::Display) -> String {
        format!("{}: {detail}", self.as_str())
    }
}
