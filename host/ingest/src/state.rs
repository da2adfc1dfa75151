//! The state backend the configuration names, opened: SQLite for one host,
//! PostgreSQL (with mailbox leases) for a fleet.

use std::sync::Arc;

use anyhow::Context;
use popline_config::{Config, StateKind};
use popline_state::{PostgresBackend, PostgresOptions, SqliteBackend, StateBackend};

/// Open (creating and migrating) the configured state.
pub async fn open(config: &Config) -> anyhow::Result<Arc<dyn StateBackend>> {
    let st = &config.state;
    Ok(match st.backend {
        StateKind::Sqlite => Arc::new(SqliteBackend::open(&config.path(&st.path))?),
        StateKind::Postgres => {
            let url = postgres_url(config)?;
            let opts = PostgresOptions {
                url: url.expose().to_string(),
                pool_size: st.pool_size,
                ca_file: st.ca_file.as_ref().map(|p| config.path(p)),
                lease_ttl: st.lease_ttl,
                host_id: st.host_id.clone().unwrap_or_else(default_host_id),
                mailboxes: config.mailboxes.len(),
                notice_claim_ttl: popline_state::postgres::NOTICE_CLAIM_TTL,
            };
            Arc::new(PostgresBackend::connect(opts).await?)
        }
    })
}

/// The PostgreSQL URL of `[state] url`, read from its secret source.
pub fn postgres_url(config: &Config) -> anyhow::Result<popline_core::Secret> {
    config
        .state
        .url
        .as_ref()
        .context("[state] backend = \"postgres\" needs url")?
        .resolve(&config.base_dir)
        .context("reading [state] url")
}

/// `HOSTNAME:PID`: unique per process, readable in `popline status`.
fn default_host_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "host".into());
    format!("{host}:{}", std::process::id())
}
