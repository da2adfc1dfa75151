//! What metrics need from ingestion: every configured mailbox's series
//! created at zero (with its last success as state knows it), and the
//! `/readyz` check over the state backend. The metrics crate sits below
//! state and ingestion; this is where the two meet.

use std::sync::Arc;

use popline_state::StateBackend;

use crate::error::ErrorKind;
use crate::pipeline::Pipelines;

/// Create the series of every pipeline at zero, `popline_build_info` for
/// `version`, each mailbox's last successful poll from state (so the gauge
/// survives restarts and `once` runs from cron) and an OAuth mailbox's
/// token state from its cache.
pub async fn register_metrics(all: &Pipelines, version: &str) {
    popline_metrics::set_build_info(version);
    let kinds = ErrorKind::ALL.map(ErrorKind::as_str);
    for p in &all.pipelines {
        popline_metrics::register_mailbox(&p.name, &kinds, p.sends_notices());
        popline_metrics::register_plugin(p.mapper_name());
        if let Some(tokens) = &p.tokens {
            tokens.manager.record_metrics();
        }
        match all.state.status(&p.name).await {
            Ok(st) => {
                if let Some(at) = st.last_ok_at {
                    popline_metrics::set_last_success(&p.name, at);
                }
            }
            Err(e) => {
                tracing::warn!(mailbox = %p.name, "reading the last poll for metrics: {e:#}")
            }
        }
    }
}

/// From now on `/readyz` is 200 while `state` answers a trivial query, else
/// 503 naming why.
pub fn watch_readiness(state: Arc<dyn StateBackend>) {
    popline_metrics::set_readiness(move || {
        let state = state.clone();
        Box::pin(async move {
            state
                .ping()
                .await
                .map_err(|e| format!("state database unreachable: {e:#}"))
        })
    });
}
