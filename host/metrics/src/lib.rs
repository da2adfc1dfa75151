//! Prometheus metrics on `prometheus-client`: polls by result and error
//! kind, messages by outcome, bytes, poll and plugin call durations, last
//! successful poll, OAuth token state, notices, build info.
//!
//! - `registry.rs`: the families ([`Metrics`]), the process-wide instance
//!   ([`global`]) and the recording functions the other crates call.
//! - `http.rs`: the listener on `[metrics] listen` ([`serve`]): `/metrics`,
//!   `/healthz` (the process answers), `/readyz` (the check registered with
//!   [`set_readiness`] passes: configuration loaded, state reachable).
//! - `textfile.rs`: [`write_textfile`], the node exporter's textfile format
//!   for `popline once --metrics-file`.
//!
//! This crate knows nothing of state or ingestion (layer 1): the daemon
//! registers the readiness check and the configured mailboxes.

mod http;
mod registry;
mod textfile;

use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use http::{Readiness, ReadyFuture};
pub use registry::{
    Metrics, NOTICE_RESULTS, Outcome, POLL_RESULTS, PollCounts, global, record_call,
    record_needs_login, record_notice, record_notices_failed, record_poll, record_poll_failed,
    record_token_expiry,
};

/// `[metrics]` in the configuration.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Address `popline run` serves `/metrics` (Prometheus text format, or
    /// OpenMetrics when asked), `/healthz` (200 while the process runs) and
    /// `/readyz` (200 once the configuration is loaded and the state
    /// database answers, else 503 with the reason) on, e.g.
    /// `127.0.0.1:9898`; keep it on loopback or a private network.
    pub listen: String,
}

/// What went wrong serving or writing metrics.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// `[metrics] listen` could not be bound.
    #[error(
        "metrics: cannot listen on {address:?}: {source}; check `[metrics] listen` (free port, local address)"
    )]
    Listen {
        address: String,
        source: std::io::Error,
    },
    /// The textfile could not be written.
    #[error(
        "metrics: cannot write {path:?}: {source}; the folder must exist and be writable (the file is written beside it, then renamed)"
    )]
    Textfile {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The process's readiness, answered by `/readyz`.
pub fn readiness() -> &'static Readiness {
    static R: std::sync::OnceLock<Readiness> = std::sync::OnceLock::new();
    R.get_or_init(Readiness::default)
}

/// From now on `/readyz` answers by `check`: `Ok` ready, `Err(reason)` not.
pub fn set_readiness(check: impl Fn() -> ReadyFuture + Send + Sync + 'static) {
    readiness().set(check);
}

/// Serve the process-wide metrics, health and readiness on `listen` until
/// the process ends; the address bound.
pub async fn serve(listen: &str) -> Result<std::net::SocketAddr, MetricsError> {
    let addr = http::serve(
        listen,
        http::Endpoint {
            metrics: global(),
            readiness: readiness(),
        },
    )
    .await?;
    tracing::info!("metrics on http://{addr}/metrics (also /healthz, /readyz)");
    Ok(addr)
}

/// Write the process-wide metrics to `path` in the node exporter's
/// textfile format, atomically.
pub fn write_textfile(path: &Path) -> Result<(), MetricsError> {
    textfile::write(global(), path)
}

/// `popline_build_info{version}` = 1.
pub fn set_build_info(version: &str) {
    global().set_build_info(version);
}

/// Create `mailbox`'s series at zero (see [`Metrics::register_mailbox`]).
pub fn register_mailbox(mailbox: &str, error_kinds: &[&str], notices: bool) {
    global().register_mailbox(mailbox, error_kinds, notices);
}

/// Create `plugin`'s call duration histogram, empty.
pub fn register_plugin(plugin: &str) {
    global().register_plugin(plugin);
}

/// When `mailbox` last polled successfully (Unix seconds), as state knows.
pub fn set_last_success(mailbox: &str, at: i64) {
    global().set_last_success(mailbox, at);
}
