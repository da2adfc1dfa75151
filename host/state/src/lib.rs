//! What the host remembers between polls.
//!
//! | module | concept |
//! |---|---|
//! | [`backend`] | [`StateBackend`], the interface ingestion uses, and the values it stores |
//! | [`sqlite`] | the embedded SQLite backend: committed unique ids and their dispositions, oversized messages, poll bookkeeping |
//! | [`postgres`] | the same in PostgreSQL for a fleet of hosts, with mailbox leases and fencing tokens, and the notice outbox with per-host claims |
//! | [`outbox`] | notices to testers, queued with the outcome they are about and sent after the commit |
//! | [`deadletter`] | messages the mapper could not handle: raw `.eml` plus a `.json` saying why |
//! | [`archive`] | raw messages kept `archive_days` for `popline replay` |

pub mod archive;
pub mod backend;
pub mod deadletter;
pub mod outbox;
pub mod postgres;
pub mod sqlite;

pub use backend::{
    Committed, Disposition, FeedbackRows, Fingerprint, Joined, LeaseInfo, MailboxStatus, Oversized,
    Seen, StateBackend,
};
pub use outbox::{NewNotice, Notice, NoticeCounts, NoticeStatus};
pub use postgres::{LeaseLost, PostgresBackend, PostgresOptions};
pub use sqlite::{SqliteBackend, SqliteState, open_database};
