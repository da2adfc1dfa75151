//! popline: turns email replies in POP3 mailboxes into feedback records.
//!
//! The host owns sockets, TLS, credentials, MIME parsing, durable state and
//! sinks; WebAssembly plugins speak the POP3 dialogue and map messages to
//! feedback. See `ARCHITECTURE.md` at the repository root for the map.

pub mod archive;
pub mod backoff;
pub mod cli;
pub mod config;
pub mod deadletter;
pub mod failpoint;
pub mod metrics;
pub mod mime;
pub mod oauth;
pub mod pipeline;
pub mod plugin;
pub mod pop3;
pub mod progress;
pub mod record;
pub mod sink;
pub mod spool;
pub mod store;
pub mod transport;

/// Current time as RFC 3339 (UTC, seconds).
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}
