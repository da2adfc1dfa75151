//! Ingestion: polling mailboxes through their plugins into the sinks.
//!
//! | module | concept |
//! |---|---|
//! | [`pipeline`] | one mailbox's poll |
//! | [`notices`] | notices to testers: the mailbox's plan, the message as the notices see it, the deliverer |
//! | [`progress`] | per-mailbox progress counters and bars |

pub mod breaker;
pub mod commit;
pub mod daemon;
pub mod error;
pub mod notices;
pub mod pipeline;
pub mod plan;
pub mod progress;
pub mod state;

pub use error::{ConnectError, ErrorKind, PollError};
pub use pipeline::{Pipeline, Pipelines, PollSummary};
