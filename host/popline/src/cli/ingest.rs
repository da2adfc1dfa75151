//! `popline once`, `popline run` and `popline check`: the ingestion commands.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use popline_config::Config;
use popline_ingest::pipeline::{Mailbox, PollSummary, Runtime};

#[derive(Debug, Args)]
pub struct OnceArgs {
    /// Poll only this mailbox (default: all).
    #[arg(long)]
    pub mailbox: Option<String>,
    /// Never draw progress bars (they are drawn only when stderr is a terminal).
    #[arg(long)]
    pub no_progress: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Also log in to each mailbox and report what the server advertises.
    #[arg(long)]
    pub connect: bool,
}

async fn load(config_path: &Path) -> anyhow::Result<(Config, Runtime)> {
    let config = Config::load(config_path)?;
    let rt = Runtime::load(&config).await?;
    Ok((config, rt))
}

fn selected(rt: &Runtime, only: Option<&str>) -> anyhow::Result<Vec<Arc<Mailbox>>> {
    match only {
        None => Ok(rt.mailboxes.clone()),
        Some(name) => {
            let found: Vec<_> = rt
                .mailboxes
                .iter()
                .filter(|m| m.name == name)
                .cloned()
                .collect();
            if found.is_empty() {
                let names: Vec<&str> = rt.mailboxes.iter().map(|m| m.name.as_str()).collect();
                anyhow::bail!(
                    "no mailbox named {name:?}; configured: [{}]",
                    names.join(", ")
                );
            }
            Ok(found)
        }
    }
}

/// Poll one mailbox and record the outcome in state.
async fn poll_and_record(rt: &Runtime, mb: &Mailbox) -> anyhow::Result<PollSummary> {
    let res = mb.poll(&rt.store).await;
    let at = popline_core::clock::unix_now();
    let (ok, line) = match &res {
        Ok(s) => {
            popline_metrics::record_poll(&mb.name, &s.metric_counts(), at);
            (true, summary_line(s))
        }
        Err(e) => {
            popline_metrics::record_error(&mb.name, error_kind(e));
            (false, format!("{e:#}"))
        }
    };
    let store = rt.store.clone();
    let name = mb.name.clone();
    let _ = tokio::task::spawn_blocking(move || {
        if let Err(e) = store.lock().unwrap().record_poll(&name, at, ok, &line) {
            tracing::warn!(mailbox = %name, "cannot record poll outcome: {e:#}");
        }
    })
    .await;
    res
}

/// A coarse error class for metrics.
fn error_kind(e: &anyhow::Error) -> &'static str {
    if let Some(a) = e
        .chain()
        .find_map(|c| c.downcast_ref::<popline_oauth::AuthError>())
    {
        return match a {
            popline_oauth::AuthError::NeedsLogin(_) => "needs_login",
            popline_oauth::AuthError::Unavailable(_) => "token_endpoint",
            _ => "oauth",
        };
    }
    match popline_ingest::pipeline::session_error(e) {
        Some(popline_plugin_runtime::dialogue::SessionError::Plugin(_)) => "plugin",
        Some(popline_plugin_runtime::dialogue::SessionError::Pop3(p)) => match p.kind {
            popline_plugin_runtime::dialogue::ErrorKind::Auth => "auth",
            popline_plugin_runtime::dialogue::ErrorKind::Io => "network",
            _ => "server",
        },
        None => {
            use popline_ingest::pipeline::ConnectError;
            let connect = e.chain().find_map(|c| c.downcast_ref::<ConnectError>());
            match connect {
                Some(ConnectError::Tls(_)) => "tls",
                Some(ConnectError::Network(_)) => "network",
                None if e
                    .chain()
                    .any(|c| c.downcast_ref::<popline_sink::SinkError>().is_some()) =>
                {
                    "sink"
                }
                None => "other",
            }
        }
    }
}

fn summary_line(s: &PollSummary) -> String {
    format!(
        "listed {}, fetched {}, committed {} ({} records), skipped {}, duplicates {}, dead-lettered {}, failed {}, deleted {}, {} KiB",
        s.listed,
        s.fetched,
        s.committed,
        s.records,
        s.skipped,
        s.duplicates,
        s.dead_lettered,
        s.failed,
        s.deleted,
        s.bytes / 1024
    ) + &[
        ("oversized (left on the server)", s.oversized),
        ("spooled to disk", s.spooled),
    ]
    .iter()
    .filter(|(_, n)| *n > 0)
    .map(|(what, n)| format!(", {what} {n}"))
    .collect::<String>()
}

/// One pass over the mailboxes, concurrently. Non-zero exit if any failed.
///
/// On a terminal, a progress bar per mailbox (messages and bytes) is drawn on
/// stderr while the polls run; each is replaced by the mailbox's summary line
/// on stdout when its poll ends. Otherwise only the summary lines are printed,
/// in configuration order.
pub async fn once(config_path: &Path, args: OnceArgs) -> anyhow::Result<ExitCode> {
    use std::io::IsTerminal;
    let (_config, rt) = load(config_path).await?;
    let rt = Arc::new(rt);
    let mailboxes = selected(&rt, args.mailbox.as_deref())?;
    let bars = (!args.no_progress && std::io::stderr().is_terminal()).then(|| {
        let names: Vec<String> = mailboxes.iter().map(|m| m.name.clone()).collect();
        popline_ingest::progress::Bars::start(&names)
    });
    let mut tasks = tokio::task::JoinSet::new();
    for (i, mb) in mailboxes.into_iter().enumerate() {
        let rt = rt.clone();
        tasks.spawn(async move {
            let res = poll_and_record(&rt, &mb).await;
            (i, mb.name.clone(), res)
        });
    }
    let mut failed = false;
    let mut lines = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let (i, name, res) = done?;
        let line = match res {
            Ok(s) => {
                failed |= s.failed > 0;
                format!("{name}: {}", summary_line(&s))
            }
            Err(e) => {
                failed = true;
                format!("{name}: FAILED: {e:#}")
            }
        };
        match &bars {
            // On a terminal, as each poll ends.
            Some(bars) => bars.finish(&name, &line),
            None => lines.push((i, line)),
        }
    }
    drop(bars);
    lines.sort();
    for (_, line) in lines {
        println!("{line}");
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The daemon: each mailbox on its own schedule until SIGINT/SIGTERM.
pub async fn run(config_path: &Path) -> anyhow::Result<ExitCode> {
    let (config, rt) = load(config_path).await?;
    if let Some(m) = &config.metrics {
        popline_metrics::serve(&m.listen).await?;
    }
    let rt = Arc::new(rt);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    for mb in rt.mailboxes.clone() {
        let rt = rt.clone();
        let mut stop = stop_rx.clone();
        tasks.push(tokio::spawn(async move {
            let mut failures = 0u32;
            loop {
                let wait = match poll_and_record(&rt, &mb).await {
                    Ok(s) => {
                        failures = 0;
                        tracing::info!(mailbox = %mb.name, "{}", summary_line(&s));
                        mb.interval()
                    }
                    Err(e) => {
                        failures += 1;
                        let backoff = backoff(failures, mb.interval());
                        tracing::warn!(mailbox = %mb.name, retry_in = ?backoff, "poll failed: {e:#}");
                        backoff
                    }
                };
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.changed() => break,
                }
            }
        }));
    }
    shutdown_signal().await;
    tracing::info!("shutting down: finishing polls in progress");
    let _ = stop_tx.send(true);
    // A poll in progress commits what it has; past the grace period its
    // connection is dropped without QUIT, so the server keeps everything.
    let grace = tokio::time::sleep(Duration::from_secs(30));
    tokio::pin!(grace);
    for mut t in tasks {
        tokio::select! {
            _ = &mut grace => t.abort(),
            _ = &mut t => {}
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Retry a failing mailbox sooner than its interval at first, backing off
/// exponentially (with jitter) up to the interval itself.
fn backoff(failures: u32, interval: Duration) -> Duration {
    popline_core::backoff::delay(
        failures,
        Duration::from_secs(2),
        interval.max(Duration::from_secs(2)),
    )
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// Validate the config and plugins; with `--connect`, log in to each mailbox.
pub async fn check(config_path: &Path, args: CheckArgs) -> anyhow::Result<ExitCode> {
    let (_config, rt) = load(config_path).await?;
    println!(
        "config ok: {} mailbox(es), plugins loaded and type-checked",
        rt.mailboxes.len()
    );
    if !args.connect {
        return Ok(ExitCode::SUCCESS);
    }
    let mut failed = false;
    for mb in &rt.mailboxes {
        match mb.open_session().await {
            Ok(session) => {
                let info = session.info();
                println!(
                    "{}: logged in with {}; pipelining {}; capabilities: {}",
                    mb.name,
                    info.mechanism,
                    if info.pipelining { "on" } else { "off" },
                    info.capabilities.join(" ")
                );
                if let Err(e) = session.quit().await {
                    println!("{}: QUIT failed: {e}", mb.name);
                }
            }
            Err(e) => {
                failed = true;
                println!("{}: FAILED: {e:#}", mb.name);
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use popline_ingest::pipeline::ConnectError;

    #[test]
    fn poll_errors_are_classified_by_type_not_text() {
        let kind = |e: anyhow::Error| error_kind(&e.context("mailbox beta"));
        assert_eq!(
            kind(ConnectError::Tls("bad certificate".into()).into()),
            "tls"
        );
        assert_eq!(
            kind(ConnectError::Network("refused".into()).into()),
            "network"
        );
        let sink = popline_sink::SinkError::Interrupted { sink: "out".into() };
        assert_eq!(kind(anyhow::Error::new(sink).context("delivering")), "sink");
        // Words in a message do not decide the class.
        assert_eq!(
            kind(anyhow::anyhow!("TLS sink connecting to nowhere")),
            "other"
        );
    }
}
