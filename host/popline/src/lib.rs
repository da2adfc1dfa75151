//! popline, the command: reads the configuration file, wires the host crates
//! together and runs a command. Everything else lives in the crates below it
//! (see `ARCHITECTURE.md` at the repository root for the layers).

pub mod cli;
mod malloc;
pub mod systemd;
