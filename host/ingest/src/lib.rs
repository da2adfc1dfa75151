//! Ingestion: polling mailboxes through their plugins into the sinks.
//!
//! | module | concept |
//! |---|---|
//! | [`pipeline`] | one mailbox's poll |
//! | [`progress`] | per-mailbox progress counters and bars |

pub mod pipeline;
pub mod progress;
