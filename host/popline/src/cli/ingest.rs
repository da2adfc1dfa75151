//! `popline once`, `popline run` and `popline check`: the ingestion commands.
//! The polling itself lives in `popline-ingest`; this is wiring and output.
//!
//! Exit codes (sysexits.h): 0 every mailbox polled cleanly; 1 polled, but
//! some messages were left on the server; otherwise the code of the first
//! failed mailbox in configuration order: 75 temporary (network, TLS,
//! server, sink, state), 77 credentials (login refused, OAuth needs a
//! login), 70 a plugin (dialogue failure, mapper circuit breaker), 74 the
//! host's disk (also: `--metrics-file` could not be written after an
//! otherwise clean pass); 78 the configuration or its plugins cannot be
//! loaded. `check --connect` counts the notice servers after the mailboxes:
//! 77 for a refused login, 75 for a server or token endpoint out of reach.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use popline_config::Config;
use popline_ingest::daemon::{Stop, poll_leased, run_until};
use popline_ingest::error::{EX_CONFIG, EX_IOERR, EX_NOPERM, EX_TEMPFAIL};
use popline_ingest::observe::{register_metrics, watch_readiness};
use popline_ingest::{Pipelines, PollError};

/// How often `popline run` looks for due notices in the outbox.
const NOTICE_ROUND: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(Debug, Args)]
pub struct OnceArgs {
    /// Poll only this mailbox (default: all).
    #[arg(long)]
    pub mailbox: Option<String>,
    /// Never draw progress bars (they are drawn only when stderr is a terminal).
    #[arg(long)]
    pub no_progress: bool,
    /// After the run, print where the time went, stage by stage (wall and
    /// CPU), to stderr.
    #[arg(long)]
    pub timings: bool,
    /// After the run, write the metrics to this file in the Prometheus text
    /// format, for the node exporter's textfile collector (name it `*.prom`
    /// in the collector's folder). Written atomically: a temporary file in
    /// the same folder, then renamed.
    #[arg(long, value_name = "PATH")]
    pub metrics_file: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Also log in to each mailbox and report what the server advertises,
    /// and to each `[notices.NAME]` SMTP server (nothing is sent).
    #[arg(long)]
    pub connect: bool,
}

/// The configuration and every pipeline, or the exit code for a
/// configuration that cannot be loaded (printed to stderr).
async fn load(config_path: &Path) -> Result<(Config, Pipelines), ExitCode> {
    load_config(config_path).await.map_err(|e| {
        eprintln!("error: {e:#}");
        // A database that is down is not a configuration error: try later.
        let down = e
            .chain()
            .any(|c| c.is::<popline_state::postgres::Unreachable>());
        ExitCode::from(if down { EX_TEMPFAIL } else { EX_CONFIG })
    })
}

/// The configuration and every pipeline.
async fn load_config(config_path: &Path) -> anyhow::Result<(Config, Pipelines)> {
    let config = Config::load(config_path)?;
    let all = Pipelines::load(&config).await?;
    Ok((config, all))
}

/// The exit code of a pass over `(position in the configuration, Ok(some
/// messages failed) | Err(exit code))`: the first failure in configuration
/// order, else 1 if any message failed, else 0.
fn exit_code(results: &[(usize, Result<bool, u8>)]) -> u8 {
    let mut sorted: Vec<_> = results.iter().collect();
    sorted.sort_by_key(|(i, _)| *i);
    let mut code = 0;
    for (_, r) in sorted {
        match r {
            Err(c) => return *c,
            Ok(true) => code = 1,
            Ok(false) => {}
        }
    }
    code
}

/// One pass over the mailboxes, concurrently.
///
/// On a terminal, a progress bar per mailbox (messages and bytes) is drawn on
/// stderr while the polls run; each is replaced by the mailbox's summary line
/// on stdout when its poll ends. Otherwise only the summary lines are printed,
/// in configuration order.
pub async fn once(config_path: &Path, args: OnceArgs) -> anyhow::Result<ExitCode> {
    use std::io::IsTerminal;
    let started = std::time::Instant::now();
    if args.timings {
        popline_core::timing::enable();
    }
    let (_config, all) = match load(config_path).await {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    if args.metrics_file.is_some() {
        register_metrics(&all, env!("CARGO_PKG_VERSION")).await;
    }
    let all = Arc::new(all);
    let pipelines = all.selected(args.mailbox.as_deref())?;
    let bars = (!args.no_progress && std::io::stderr().is_terminal()).then(|| {
        let names: Vec<String> = pipelines.iter().map(|m| m.name.clone()).collect();
        super::bars::Bars::start(&names)
    });
    let mut tasks = tokio::task::JoinSet::new();
    for (i, p) in pipelines.into_iter().enumerate() {
        let all = all.clone();
        tasks.spawn(async move {
            let res = poll_leased(&all, &p).await;
            (i, p.name.clone(), res)
        });
    }
    let mut results = Vec::new();
    let mut lines = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let (i, name, res) = done?;
        let Some(res) = res else {
            let line = format!("{name}: skipped: another host holds this mailbox's lease");
            results.push((i, Ok(false)));
            match &bars {
                Some(bars) => bars.finish(&name, &line),
                None => lines.push((i, line)),
            }
            continue;
        };
        let line = match &res {
            Ok(s) => format!("{name}: {}", s.line()),
            Err(e) => format!("{name}: FAILED: {e}"),
        };
        results.push((
            i,
            res.map(|s| s.failed > 0)
                .map_err(|e: PollError| e.kind().exit_code()),
        ));
        match &bars {
            // On a terminal, as each poll ends.
            Some(bars) => bars.finish(&name, &line),
            None => lines.push((i, line)),
        }
    }
    drop(bars);
    // After every commit: the notices this pass queued (and any due from
    // before). Their failures are the outbox's, never the pass's.
    if !all.deliverer.is_empty() {
        match all.deliverer.deliver_due().await {
            Ok(d) if d == Default::default() => {}
            Ok(d) => lines.push((
                usize::MAX,
                format!(
                    "notices: sent {}, to retry {}, failed {}",
                    d.sent, d.retried, d.failed
                ),
            )),
            Err(e) => eprintln!("warning: sending notices: {e:#}"),
        }
    }
    if let Err(e) = all.state.release_all().await {
        eprintln!("warning: releasing mailbox leases: {e:#}");
    }
    lines.sort();
    for (_, line) in lines {
        println!("{line}");
    }
    if args.timings {
        eprint!("{}", super::timings::report(started.elapsed()));
    }
    let mut code = exit_code(&results);
    if let Some(path) = &args.metrics_file
        && let Err(e) = popline_metrics::write_textfile(path)
    {
        eprintln!("error: {e}");
        if code <= 1 {
            code = EX_IOERR;
        }
    }
    Ok(ExitCode::from(code))
}

/// The daemon: each mailbox on its own schedule until SIGINT/SIGTERM.
/// SIGHUP reloads the configuration file: the new one is loaded in full
/// first (a bad one is refused with its error, and the running one goes
/// on); then polls in progress finish and the new configuration takes over.
pub async fn run(config_path: &Path) -> anyhow::Result<ExitCode> {
    use tokio::signal::unix::{SignalKind, signal};
    let (config, all) = match load(config_path).await {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    // Installed before the first poll, so an early SIGHUP is not fatal.
    let mut hangup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    if let Some(m) = &config.metrics {
        observe(&all).await;
        popline_metrics::serve(&m.listen).await?;
    }
    let watchdog = crate::systemd::spawn_watchdog();
    let mut running = Running::start(all);
    crate::systemd::ready(&format!("polling {} mailboxes", config.mailboxes.len()));
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = term.recv() => break,
            _ = hangup.recv() => {
                crate::systemd::reloading();
                tracing::info!(config = %config_path.display(), "SIGHUP: reloading the configuration");
                match load_config(config_path).await {
                    Ok((new, all)) => {
                        if new.metrics.as_ref().map(|m| &m.listen) != config.metrics.as_ref().map(|m| &m.listen) {
                            tracing::warn!("[metrics] listen changed: it takes effect at the next restart");
                        }
                        running.stop(Stop::Reload).await;
                        if config.metrics.is_some() {
                            // The listener serves on, for the new mailboxes
                            // and the new state.
                            observe(&all).await;
                        }
                        running = Running::start(all);
                        tracing::info!(mailboxes = new.mailboxes.len(), "configuration reloaded");
                        crate::systemd::ready(&format!("polling {} mailboxes", new.mailboxes.len()));
                    }
                    Err(e) => {
                        tracing::error!("reload refused, the running configuration stays: {e:#}");
                        crate::systemd::ready("reload refused; see the log");
                    }
                }
            }
        }
    }
    crate::systemd::stopping();
    running.stop(Stop::Shutdown).await;
    if let Some(w) = watchdog {
        w.abort();
    }
    Ok(ExitCode::SUCCESS)
}

/// Point the metrics at `all`: every mailbox's series at zero, readiness
/// from its state.
async fn observe(all: &Pipelines) {
    register_metrics(all, env!("CARGO_PKG_VERSION")).await;
    watch_readiness(all.state.clone());
}

/// One configuration's daemon loop and notice sender, running.
struct Running {
    stop: tokio::sync::oneshot::Sender<Stop>,
    polls: tokio::task::JoinHandle<()>,
    notices: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    fn start(all: Pipelines) -> Running {
        // The outbox is sent on its own schedule; ingestion never waits on it.
        let deliverer = all.deliverer.clone();
        let notices = (!deliverer.is_empty()).then(|| {
            tokio::spawn(async move {
                deliverer
                    .run_until(NOTICE_ROUND, std::future::pending())
                    .await
            })
        });
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let polls = tokio::spawn(run_until(Arc::new(all), async move {
            stopped.await.unwrap_or(Stop::Shutdown)
        }));
        Running {
            stop,
            polls,
            notices,
        }
    }

    async fn stop(self, why: Stop) {
        let _ = self.stop.send(why);
        if let Err(e) = self.polls.await {
            tracing::error!("the daemon loop ended abnormally: {e}");
        }
        if let Some(task) = self.notices {
            task.abort();
        }
    }
}

/// Validate the config and plugins; with `--connect`, log in to each mailbox
/// and each notice server.
pub async fn check(config_path: &Path, args: CheckArgs) -> anyhow::Result<ExitCode> {
    let (config, all) = match load(config_path).await {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    let used = std::fs::canonicalize(config_path).unwrap_or_else(|_| config_path.to_path_buf());
    println!("config file: {}", used.display());
    println!(
        "config ok: {} mailbox(es), plugins loaded and type-checked",
        all.pipelines.len()
    );
    if !args.connect {
        return Ok(ExitCode::SUCCESS);
    }
    let mut results = Vec::new();
    for (i, p) in all.pipelines.iter().enumerate() {
        match p.open_session().await {
            Ok(session) => {
                let info = session.info();
                println!(
                    "{}: logged in with {}; pipelining {}; capabilities: {}",
                    p.name,
                    info.mechanism,
                    if info.pipelining { "on" } else { "off" },
                    info.capabilities.join(" ")
                );
                if let Err(e) = session.quit().await {
                    println!("{}: QUIT failed: {e}", p.name);
                }
                results.push((i, Ok(false)));
            }
            Err(e) => {
                println!("{}: FAILED: {e}", p.name);
                results.push((i, Err(e.kind().exit_code())));
            }
        }
    }
    // The notice servers after the mailboxes: log in, send nothing.
    let submitters = popline_ingest::notices::submitters(&config, &all.logins)
        .context("setting up the [notices.NAME] servers")?;
    for (j, s) in submitters.iter().enumerate() {
        let at = all.pipelines.len() + j;
        match s.check().await {
            Ok(what) => {
                println!("notices.{}: {what}", s.name());
                results.push((at, Ok(false)));
            }
            Err(e) => {
                println!("notices.{}: FAILED: {e}", s.name());
                let code = if e.retryable() {
                    EX_TEMPFAIL
                } else {
                    EX_NOPERM
                };
                results.push((at, Err(code)));
            }
        }
    }
    Ok(ExitCode::from(exit_code(&results)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_failure_in_configuration_order_decides_the_exit_code() {
        assert_eq!(exit_code(&[]), 0);
        assert_eq!(exit_code(&[(0, Ok(false)), (1, Ok(true))]), 1);
        assert_eq!(exit_code(&[(1, Err(77)), (0, Ok(true)), (2, Err(75))]), 77);
        assert_eq!(exit_code(&[(2, Err(75)), (1, Ok(false))]), 75);
    }
}
