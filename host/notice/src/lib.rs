//! Notices to testers by SMTP submission: telling the sender of a reply
//! that could not be used (no match, too large, expired reply token, dead
//! letter), or optionally that it was added.
//!
//! A notice is decided and built while the message's outcome is decided,
//! written to the state's outbox in the same transaction as that outcome,
//! and sent after the commit by [`Deliverer`]; the message's ingestion never
//! waits on it.
//!
//! | module | concept |
//! |---|---|
//! | [`reason`] | why a tester gets a notice (`no-match`, `oversize`, ...) |
//! | [`address`] | the bare address of `Name <addr>` |
//! | [`config`] | `[notices.NAME]` (the SMTP server and credential) and a mailbox's `notices = { ... }` |
//! | [`policy`] | who must never get a notice, and why: pure functions |
//! | [`template`] | subject and body templates and their variables |
//! | [`message`] | the notice as RFC 5322 bytes: threading headers, `Auto-Submitted`, a stable Message-ID |
//! | [`smtp`] | one submission with lettre (STARTTLS or implicit TLS, PLAIN/LOGIN or XOAUTH2) |
//! | [`advice`] | SMTP and identity-platform errors → what the operator should do |
//! | [`queue`] | [`MailboxPlan`]: what ingestion calls for one message, giving the outbox row
//! | [`delivery`] | [`Deliverer`]: due notices from the outbox, sent, marked sent or retried with backoff |

pub mod address;
pub mod advice;
pub mod config;
pub mod delivery;
pub mod message;
pub mod policy;
pub mod queue;
pub mod reason;
pub mod smtp;
pub mod template;

pub use config::{MailboxNotices, NoticeOAuth, NoticeServerConfig, Reason, SharedLogin, SmtpTls};
pub use delivery::Deliverer;
pub use message::{Built, build};
pub use policy::{Decision, Outcome, Source, decide};
pub use queue::MailboxPlan;
pub use smtp::{SendError, Submitter};
