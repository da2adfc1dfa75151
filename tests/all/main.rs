//! The end-to-end suite: one test binary (linking happens once).
//!
//! Plugins under test are built from `plugins/` and `tests/plugins/` by the
//! harness itself (`support::plugins`), never mocked.

mod support;

mod bench_fleet;
mod cli_map;
mod config_lookup;
mod crash;
mod daemon;
mod deadletters;
mod dialogue;
mod docs;
mod faults;
mod fleet;
mod fleet_notices;
mod hostile;
mod ingest;
mod install;
mod layers;
mod load;
mod notices;
mod oauth;
mod observe;
mod once_progress;
mod plugin_limits;
mod plugin_runtime;
mod quality;
mod quality_external;
mod replay;
mod scaffold;
mod sdk;
mod sinks;
mod systemd;
mod workers;
