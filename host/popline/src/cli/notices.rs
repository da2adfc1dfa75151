//! `popline notices list | retry | send`: the outbox of notices to testers.

use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;

use popline_config::Config;
use popline_state::NoticeStatus;

#[derive(Debug, Subcommand)]
pub enum NoticesCommand {
    /// Notices in the outbox, newest first: status, attempts, recipient,
    /// reason, Message-ID and the last error.
    List {
        /// Only this mailbox's.
        #[arg(long)]
        mailbox: Option<String>,
        /// Only those in this status.
        #[arg(long, value_parser = ["pending", "sent", "failed", "suppressed"])]
        status: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Queue notices that failed for good again (the named Message-IDs, or
    /// every failed one of `--mailbox` or of all), then send what is due.
    Retry {
        /// Only this mailbox's failed notices (without Message-IDs).
        #[arg(long)]
        mailbox: Option<String>,
        /// Message-IDs from `popline notices list`.
        message_ids: Vec<String>,
    },
    /// Send every notice that is due now (`popline run` does this on its own).
    Send,
}

pub async fn run(config_path: &Path, cmd: NoticesCommand) -> anyhow::Result<ExitCode> {
    let config = Config::load(config_path)?;
    let state = popline_ingest::state::open(&config).await?;
    match cmd {
        NoticesCommand::List {
            mailbox,
            status,
            limit,
        } => {
            let status = status.as_deref().and_then(NoticeStatus::parse);
            let list = state.notices(mailbox, status, limit).await?;
            println!(
                "{:<10} {:>3} {:<14} {:<30} {:<14} MESSAGE-ID",
                "STATUS", "TRY", "MAILBOX", "TO", "REASON"
            );
            for n in list {
                println!(
                    "{:<10} {:>3} {:<14} {:<30} {:<14} {}",
                    n.status.as_str(),
                    n.attempts,
                    n.mailbox,
                    n.recipient,
                    n.reason,
                    n.message_id
                );
                if let Some(e) = n.last_error.filter(|_| n.status != NoticeStatus::Sent) {
                    println!("{:<10}     last error: {e}", "");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        NoticesCommand::Retry {
            mailbox,
            message_ids,
        } => {
            let n = state.retry_notices(message_ids, mailbox).await?;
            println!("{n} notice(s) queued again");
            send(&config, state).await
        }
        NoticesCommand::Send => send(&config, state).await,
    }
}

async fn send(
    config: &Config,
    state: std::sync::Arc<dyn popline_state::StateBackend>,
) -> anyhow::Result<ExitCode> {
    let logins = popline_ingest::logins::Logins::new(config)?;
    let deliverer = popline_ingest::notices::deliverer(config, state, &logins)?;
    let d = deliverer.deliver_due().await?;
    println!(
        "notices: sent {}, to retry {}, failed {}",
        d.sent, d.retried, d.failed
    );
    Ok(ExitCode::SUCCESS)
}
