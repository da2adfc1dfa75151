//! Plain input and output types. They mirror the WIT records but carry no
//! binding code, so the logic can be tested natively and reused by other
//! plugins.

/// A mailbox: optional display name and address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Address {
    /// Display name, e.g. `Dana Whitfield`.
    pub name: Option<String>,
    /// The addr-spec, e.g. `dana@example.org`.
    pub address: String,
}

impl Address {
    /// An address without a display name.
    pub fn new(address: impl Into<String>) -> Self {
        Self {
            name: None,
            address: address.into(),
        }
    }

    /// An address with a display name.
    pub fn named(name: impl Into<String>, address: impl Into<String>) -> Self {
        Self {
            name: Some(name.into()),
            address: address.into(),
        }
    }
}

/// One header as written in the message (unfolded, not decoded).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    /// Header name as written, e.g. `Auto-Submitted`.
    pub name: String,
    /// Raw value.
    pub value: String,
}

impl Header {
    /// A header from name and value.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// Metadata of one attachment; the bytes stay with the host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attachment {
    /// Index the host uses to read the bytes.
    pub index: u32,
    /// File name, if the part had one.
    pub file_name: Option<String>,
    /// MIME type, e.g. `image/png`.
    pub content_type: String,
    /// Decoded size in bytes.
    pub size: u64,
    /// Lowercase hex SHA-256 of the decoded bytes.
    pub sha256: String,
    /// `Content-ID` without angle brackets, for inline parts.
    pub content_id: Option<String>,
    /// Whether the part is inline.
    pub inline: bool,
}

/// A parsed email, as the host hands it over.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Email {
    /// `From` addresses.
    pub from: Vec<Address>,
    /// `To` addresses.
    pub to: Vec<Address>,
    /// `Cc` addresses.
    pub cc: Vec<Address>,
    /// `Reply-To` addresses.
    pub reply_to: Vec<Address>,
    /// `Delivered-To` addresses.
    pub delivered_to: Vec<Address>,
    /// Decoded subject.
    pub subject: Option<String>,
    /// `Message-ID` without angle brackets.
    pub message_id: Option<String>,
    /// `In-Reply-To` Message-IDs without angle brackets.
    pub in_reply_to: Vec<String>,
    /// `References` Message-IDs without angle brackets, oldest first.
    pub references: Vec<String>,
    /// Every header, in order.
    pub headers: Vec<Header>,
    /// Text body decoded to UTF-8.
    pub text_body: Option<String>,
    /// HTML body decoded to UTF-8.
    pub html_body: Option<String>,
    /// Attachment metadata.
    pub attachments: Vec<Attachment>,
    /// Decoding problems the host met (bad charset, replaced bytes...).
    pub warnings: Vec<String>,
}

impl Email {
    /// Values of every header called `name` (ASCII case-insensitive), in order.
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |h| h.name.trim().eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }
}

/// Where and when the host received the message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    /// Pipeline name from the host configuration.
    pub pipeline: String,
    /// The mailbox address.
    pub mailbox: String,
    /// The server's unique id for the message (empty outside ingestion).
    pub uid: String,
    /// When the host received the message, RFC 3339.
    pub received_at: String,
}

/// What the mapper decided for one email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// One or more feedback records.
    Feedback(Vec<Feedback>),
    /// Not feedback; the reason.
    Skip(String),
}

/// Whether feedback continues an existing item or starts a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedbackKind {
    /// A reply to an existing feedback item.
    Reply,
    /// New feedback not tied to an item.
    New,
}

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
}

impl SkipCategory {
    /// Every category.
    pub const ALL: [SkipCategory; 5] = [
        Self::AutoReply,
        Self::Bounce,
        Self::Bulk,
        Self::Loop,
        Self::NoMatch,
    ];

    /// The name that starts the skip reason, e.g. `auto-reply`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AutoReply => "auto-reply",
            Self::Bounce => "bounce",
            Self::Bulk => "bulk",
            Self::Loop => "loop",
            Self::NoMatch => "no-match",
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

/// How a match was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchInfo {
    /// Which signal matched.
    pub method: MatchMethod,
    /// The value that matched: the token, the Message-ID or the subject token.
    pub value: String,
}

/// One feedback record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feedback {
    /// The feedback item this belongs to, if matched.
    pub target: Option<String>,
    /// Reply to an item, or new feedback.
    pub kind: FeedbackKind,
    /// Who wrote it.
    pub author: Address,
    /// The email's subject.
    pub subject: Option<String>,
    /// The tester's own text, quotes and signature removed.
    pub body_text: String,
    /// The original HTML body, if any.
    pub body_html: Option<String>,
    /// Everything removed from the text (quotes, signature), so nothing is lost.
    pub elided_text: Option<String>,
    /// Indexes into [`Email::attachments`].
    pub attachments: Vec<u32>,
    /// RFC 3339 receive time.
    pub received_at: Option<String>,
    /// The email's own Message-ID.
    pub source_message_id: Option<String>,
    /// How the target was found; `None` for unmatched new feedback.
    pub matched: Option<MatchInfo>,
    /// Free-form key/value fields.
    pub fields: Vec<(String, String)>,
}
