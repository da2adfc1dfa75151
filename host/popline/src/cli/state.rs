//! `popline state migrate`: move a single host's SQLite state into the
//! PostgreSQL database a fleet shares.

use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;

use popline_config::{Config, StateKind};

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Copy the SQLite state at `[state] path` (committed messages, poll
    /// bookkeeping, oversized messages) into the PostgreSQL database at
    /// `[state] url`. Stop popline first; rows already there are kept, so
    /// it is safe to run again.
    Migrate {
        /// The backend to copy into (only `postgres`).
        #[arg(long, value_parser = ["postgres"])]
        to: String,
    },
}

pub async fn run(config_path: &Path, cmd: StateCommand) -> anyhow::Result<ExitCode> {
    let StateCommand::Migrate { .. } = cmd;
    let config = Config::load(config_path)?;
    anyhow::ensure!(
        config.state.backend == StateKind::Postgres,
        "set [state] backend = \"postgres\" and url first; [state] path names the SQLite file to copy"
    );
    let sqlite = config.path(&config.state.path);
    anyhow::ensure!(
        sqlite.exists(),
        "no SQLite state at {} ([state] path) to copy",
        sqlite.display()
    );
    let url = popline_ingest::state::postgres_url(&config)?;
    let ca = config.state.ca_file.as_ref().map(|p| config.path(p));
    let pg = popline_state::postgres::connect_pool(url.expose(), 1, ca.as_deref())?;
    popline_state::postgres::migrate(&pg, popline_state::postgres::MIGRATIONS).await?;
    let done = popline_state::postgres::import_sqlite(&pg, &sqlite).await?;
    println!(
        "copied from {}: {} committed messages, {} poll records, {} oversized messages, {} notices (rows already present kept)",
        sqlite.display(),
        done.messages,
        done.polls,
        done.oversized,
        done.notices
    );
    Ok(ExitCode::SUCCESS)
}
