//! The `popline` command line.

mod auth;
mod bars;
mod configdoc;
mod deadletter;
mod ingest;
mod map;
mod notices;
mod plugin;
mod replay;
mod scaffold;
mod state;
mod status;
mod timings;
mod token;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use popline_plugin_runtime::{Engine, EngineOptions};

/// popline turns email replies in POP3 mailboxes into feedback records,
/// through sandboxed WebAssembly plugins.
#[derive(Debug, Parser)]
#[command(name = "popline", version, about, propagate_version = true)]
pub struct Cli {
    /// Log filter (tracing `EnvFilter` syntax), e.g. `info` or `popline=debug,plugin=trace`.
    #[arg(long, global = true, env = "POPLINE_LOG", default_value = "info")]
    pub log: String,
    /// Log line format (also `$POPLINE_LOG_FORMAT`).
    #[arg(long, global = true, env = "POPLINE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,
    /// The configuration file (also `$POPLINE_CONFIG`). Without either: the
    /// first that exists of `./popline.toml`,
    /// `$XDG_CONFIG_HOME/popline/popline.toml` (`~/.config/…`) and
    /// `/etc/popline/popline.toml`. `check` prints which it used.
    #[arg(long, short, global = true, env = "POPLINE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Where compiled plugins are cached (default: $XDG_CACHE_HOME/popline).
    #[arg(long, global = true, env = "POPLINE_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse .eml files and run a mapper plugin over them; print feedback
    /// records as JSON lines (the plugin author's inner loop).
    Map(map::MapArgs),
    /// Try a candidate mapper on real messages and show what would change
    /// (same / changed / newly failing / newly skipped). Writes nothing.
    Replay(replay::ReplayArgs),
    /// Work with plugin files.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
    /// One pass over all (or one) mailboxes; prints a summary per mailbox.
    Once(ingest::OnceArgs),
    /// Run as a daemon: poll every mailbox on its interval until SIGINT/SIGTERM.
    Run,
    /// Validate the config, load and type-check plugins; `--connect` logs in.
    Check(ingest::CheckArgs),
    /// A table per mailbox: last poll, outcome, counts, token state, dead
    /// letters (`--json` for scripts).
    Status(status::StatusArgs),
    /// Mint and verify signed reply tokens (for the system that sends notifications).
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// The configuration's JSON Schema and reference, generated from the code.
    #[command(subcommand)]
    Config(configdoc::ConfigCommand),
    /// OAuth sign-in and token status.
    #[command(subcommand)]
    Auth(auth::AuthCommand),
    /// Inspect and retry messages that could not be mapped.
    #[command(subcommand, name = "dead-letter")]
    DeadLetter(deadletter::DeadLetterCommand),
    /// The outbox of notices to testers: list, retry, send.
    #[command(subcommand)]
    Notices(notices::NoticesCommand),
    /// Move state between backends (`migrate --to postgres`).
    #[command(subcommand)]
    State(state::StateCommand),
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    crate::malloc::configure();
    let cli = Cli::parse();
    if let Err(e) = init_tracing(&cli.log, cli.log_format) {
        eprintln!("error: {e}");
        // A usage error, as clap reports a mistyped flag.
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli));
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = config_file(cli.config.clone());
    let engine = || {
        Engine::new(EngineOptions {
            cache_dir: cli.cache_dir.clone().or_else(Engine::default_cache_dir),
            max_instances: None,
            perf_map: EngineOptions::perf_map_from_env(),
        })
    };
    match cli.command {
        Command::Map(args) => map::run(&engine()?, args).await,
        Command::Plugin(cmd) => plugin::run(&engine()?, cmd),
        Command::Replay(args) => replay::run(&engine()?, &config, args).await,
        Command::Once(args) => ingest::once(&config, args).await,
        Command::Run => ingest::run(&config).await,
        Command::Check(args) => ingest::check(&config, args).await,
        Command::DeadLetter(cmd) => deadletter::run(&config, cmd).await,
        Command::Auth(cmd) => auth::run(&config, cmd).await,
        Command::Status(args) => status::run(&config, args).await,
        Command::State(cmd) => state::run(&config, cmd).await,
        Command::Notices(cmd) => notices::run(&config, cmd).await,
        Command::Config(cmd) => configdoc::run(cmd),
        Command::Token(cmd) => token::run(cmd),
    }
}

/// The configuration file: `given` (`--config`, `$POPLINE_CONFIG`), else
/// the first of the conventional places that exists, else `popline.toml`
/// (whose absence the command then reports).
fn config_file(given: Option<PathBuf>) -> PathBuf {
    let xdg = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
    lookup_config(given, xdg, |p| p.is_file())
}

fn lookup_config(
    given: Option<PathBuf>,
    xdg_config_home: Option<PathBuf>,
    exists: impl Fn(&std::path::Path) -> bool,
) -> PathBuf {
    if let Some(p) = given {
        return p;
    }
    let here = PathBuf::from("popline.toml");
    [
        Some(here.clone()),
        xdg_config_home.map(|x| x.join("popline/popline.toml")),
        Some(PathBuf::from("/etc/popline/popline.toml")),
    ]
    .into_iter()
    .flatten()
    .find(|p| exists(p))
    .unwrap_or(here)
}

/// Bare words a `--log` filter may hold besides levels: popline's own
/// targets (a bare target enables every level of it).
const OWN_TARGETS: [&str; 2] = ["popline", "plugin"];

/// Check a `--log` filter before use: tracing reads an unknown bare word
/// (`inof`, `debgu`) as a target and silently logs nothing of popline.
fn check_log_filter(filter: &str) -> Result<tracing_subscriber::EnvFilter, String> {
    const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
    for directive in filter.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let bare = !directive.contains(['=', '[']);
        let known = LEVELS.contains(&directive.to_ascii_lowercase().as_str())
            || OWN_TARGETS.iter().any(|t| directive.starts_with(t))
            || directive.contains("::");
        if bare && !known {
            return Err(format!(
                "--log (or $POPLINE_LOG) {filter:?}: {directive:?} is neither a level ({}) nor a popline target (popline…, plugin); for another crate write TARGET=LEVEL",
                LEVELS.join(", ")
            ));
        }
    }
    tracing_subscriber::EnvFilter::try_new(filter).map_err(|e| {
        format!(
            "--log (or $POPLINE_LOG) {filter:?}: {e}; e.g. `info` or `popline=debug,plugin=trace`"
        )
    })
}

fn init_tracing(filter: &str, format: LogFormat) -> Result<(), String> {
    let filter = check_log_filter(filter)?;
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(|| bars::LogWriter);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    Ok(())
}

/// Parse `KEY=VALUE` pairs given with `--set`.
pub(crate) fn parse_pairs(pairs: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    pairs
        .iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => anyhow::bail!("--set {p:?}: expected KEY=VALUE, e.g. --set plus-prefix=replies"),
        })
        .collect()
}

#[cfg(test)]
mod log_filter_tests {
    use super::check_log_filter;

    #[test]
    fn a_mistyped_log_filter_is_an_error() {
        for ok in [
            "info",
            "WARN",
            "popline=debug,plugin=trace",
            "popline_state",
            "warn,hyper=info",
            "tokio::net=debug",
        ] {
            assert!(check_log_filter(ok).is_ok(), "{ok}");
        }
        for bad in ["inof", "warn,debgu", "popline=loud"] {
            let e = check_log_filter(bad).unwrap_err();
            assert!(e.contains(bad), "{e}");
        }
    }
}

#[cfg(test)]
mod config_lookup_tests {
    use super::lookup_config;
    use std::path::{Path, PathBuf};

    #[test]
    fn the_first_configuration_that_exists_in_the_conventional_order() {
        let xdg = Some(PathBuf::from("/home/u/.config"));
        let p = |s: &str| PathBuf::from(s);
        // (given, files that exist, chosen)
        let cases: &[(Option<&str>, &[&str], &str)] = &[
            (Some("/srv/x.toml"), &["popline.toml"], "/srv/x.toml"),
            (
                None,
                &["popline.toml", "/etc/popline/popline.toml"],
                "popline.toml",
            ),
            (
                None,
                &[
                    "/home/u/.config/popline/popline.toml",
                    "/etc/popline/popline.toml",
                ],
                "/home/u/.config/popline/popline.toml",
            ),
            (
                None,
                &["/etc/popline/popline.toml"],
                "/etc/popline/popline.toml",
            ),
            (None, &[], "popline.toml"),
        ];
        for (given, present, chosen) in cases {
            let got = lookup_config(given.map(p), xdg.clone(), |f: &Path| {
                present.iter().any(|e| Path::new(e) == f)
            });
            assert_eq!(got, p(chosen), "given {given:?}, present {present:?}");
        }
    }
}
