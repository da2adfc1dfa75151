//! `popline status`: per mailbox, the last poll, its outcome, message counts,
//! token state, dead letters waiting and notices to testers (failed ones
//! called out); with fleet state, which host holds
//! which mailbox and since when.

use std::path::Path;
use std::process::ExitCode;

use popline_config::Config;
use popline_oauth::Accounts;
use popline_state::deadletter::DeadLetters;

pub async fn run(config_path: &Path) -> anyhow::Result<ExitCode> {
    let config = Config::load(config_path)?;
    let state = popline_ingest::state::open(&config).await?;
    let dead = DeadLetters::new(config.path(&config.state.dead_letter_dir)).list()?;
    let mut accounts = Accounts::default();
    let now = popline_core::clock::unix_now();
    let ago = |t: i64| {
        format!(
            "{} ago",
            humantime::format_duration(std::time::Duration::from_secs((now - t).max(0) as u64))
        )
    };
    println!(
        "{:<16} {:<22} {:<8} {:<30} {:<24} {:>5}",
        "MAILBOX", "LAST POLL", "OUTCOME", "COMMITTED", "TOKEN", "DEAD"
    );
    for (name, mb) in &config.mailboxes {
        let st = state.status(name).await?;
        let (last, outcome) = match &st.last {
            None => ("never".to_string(), "-".to_string()),
            Some((at, ok, _)) => (
                ago(*at),
                if *ok {
                    "ok".into()
                } else {
                    format!("FAILED x{}", st.consecutive_failures)
                },
            ),
        };
        let counts = if st.outcomes.is_empty() {
            "-".to_string()
        } else {
            st.outcomes
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let token = match &mb.oauth {
            None => "password".to_string(),
            Some(o) => {
                let default_cache = config.default_token_cache(name);
                let m = accounts.get(name, o, &config.base_dir, default_cache)?;
                m.status()
                    .into_iter()
                    .find(|(k, _)| k == "access token" || k == "state")
                    .map(|(_, v)| v)
                    .unwrap_or_default()
            }
        };
        let waiting = dead.iter().filter(|d| &d.pipeline == name).count();
        println!("{name:<16} {last:<22} {outcome:<8} {counts:<30} {token:<24} {waiting:>5}");
        if let Some((_, false, summary)) = &st.last {
            println!("{:<16} last error: {summary}", "");
        }
        let n = state.notice_counts(name).await?;
        if n != Default::default() {
            println!(
                "{:<16} notices: sent {}, pending {}, suppressed {}, FAILED {}{}",
                "",
                n.sent,
                n.pending,
                n.suppressed,
                n.failed,
                if n.failed > 0 {
                    " (popline notices list --status failed; popline notices retry)"
                } else {
                    ""
                }
            );
        }
        if st.oversized > 0 {
            println!(
                "{:<16} oversized: {} message(s) over max_message_mib = {} left on the server",
                "", st.oversized, mb.max_message_mib
            );
            for o in state.oversized(name).await?.iter().take(5) {
                println!(
                    "{:<16}   {} ({} KiB) from {} {:?}",
                    "",
                    o.uid,
                    o.size / 1024,
                    o.sender.as_deref().unwrap_or("?"),
                    o.subject.as_deref().unwrap_or("?")
                );
            }
        }
    }
    let leases = state.leases().await?;
    if !leases.is_empty() {
        println!(
            "\n{:<16} {:<32} {:<22} {:>8}",
            "MAILBOX", "HELD BY", "SINCE", "TOKEN"
        );
        for l in leases {
            let holder = if l.live {
                l.holder
            } else {
                format!("(expired) {}", l.holder)
            };
            println!(
                "{:<16} {:<32} {:<22} {:>8}",
                l.mailbox,
                holder,
                ago(l.since),
                l.token
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
