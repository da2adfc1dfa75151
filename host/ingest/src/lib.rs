//! Ingestion: polling mailboxes through their plugins into the sinks.
//!
//! | module | concept |
//! |---|---|
//! | [`lease`] | this host's hold on a mailbox while it polls it (fleet leases) |
//! | [`logins`] | the OAuth sign-ins: one token manager per account, shared by its mailboxes and notice servers |
//! | [`pipeline`] | one mailbox's poll |
//! | [`observe`] | metrics series at zero for the configured mailboxes, the `/readyz` check over state |
//! | [`notices`] | notices to testers: the mailbox's plan, the message as the notices see it, the deliverer |
//! | [`plugins`] | plugins loaded once per file and limits, shared by pipelines |
//! | [`progress`] | per-mailbox progress counters and bars |
//! | [`workers`] | the pool that parses and maps a batch's messages on several cores, results in mailbox order |

pub mod breaker;
pub mod commit;
pub mod daemon;
pub mod error;
pub mod lease;
pub mod logins;
pub mod notices;
pub mod observe;
pub mod pipeline;
pub mod plan;
pub mod plugins;
pub mod progress;
pub mod state;
pub mod workers;

pub use error::{ConnectError, ErrorKind, PollError};
pub use pipeline::{Pipeline, Pipelines, PollSummary};
