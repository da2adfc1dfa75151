//! `popline status`: per mailbox, the last poll, its outcome, message counts,
//! token state, dead letters waiting and notices to testers (failed ones
//! called out); with fleet state, which host holds which mailbox and since
//! when. A table whose columns are as wide as their longest cell, or
//! (`--json`) one JSON object for scripts.

use std::path::Path;
use std::process::ExitCode;

use clap::Args;
use serde_json::{Value, json};

use popline_config::Config;
use popline_state::deadletter::DeadLetters;
use popline_state::{LeaseInfo, MailboxStatus, NoticeCounts, Oversized};

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print one JSON object instead of the table: `mailboxes` (last poll,
    /// counts, token, dead letters, notices, oversized messages) and
    /// `leases`; times are Unix seconds.
    #[arg(long)]
    pub json: bool,
}

/// What status knows of one mailbox.
struct Mailbox {
    name: String,
    status: MailboxStatus,
    /// `password`, or the OAuth token's state.
    token: String,
    /// `popline auth status`'s lines, for an OAuth mailbox.
    oauth: Option<Vec<(String, String)>>,
    dead_letters: usize,
    notices: NoticeCounts,
    oversized: Vec<Oversized>,
    max_message_mib: u64,
}

pub async fn run(config_path: &Path, args: StatusArgs) -> anyhow::Result<ExitCode> {
    let config = Config::load(config_path)?;
    let state = popline_ingest::state::open(&config).await?;
    let dead = DeadLetters::new(config.path(&config.state.dead_letter_dir)).list()?;
    let logins = popline_ingest::logins::Logins::new(&config)?;
    let mut mailboxes = Vec::new();
    for (name, mb) in &config.mailboxes {
        let status = state.status(name).await?;
        let oauth = logins.mailboxes.get(name).map(|t| t.manager.status());
        let token = match &oauth {
            None => "password".to_string(),
            Some(lines) => lines
                .iter()
                .find(|(k, _)| k == "access token" || k == "state")
                .map(|(_, v)| v.clone())
                .unwrap_or_default(),
        };
        let oversized = if status.oversized > 0 {
            state.oversized(name).await?
        } else {
            Vec::new()
        };
        mailboxes.push(Mailbox {
            name: name.clone(),
            token,
            oauth,
            dead_letters: dead.iter().filter(|d| &d.pipeline == name).count(),
            notices: state.notice_counts(name).await?,
            oversized,
            max_message_mib: mb.max_message_mib,
            status,
        });
    }
    let leases = state.leases().await?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&to_json(&mailboxes, &leases))?
        );
    } else {
        print!(
            "{}",
            table(&mailboxes, &leases, popline_core::clock::unix_now())
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn to_json(mailboxes: &[Mailbox], leases: &[LeaseInfo]) -> Value {
    let mailboxes: Vec<Value> = mailboxes
        .iter()
        .map(|m| {
            let st = &m.status;
            let n = &m.notices;
            json!({
                "name": m.name,
                "last_poll": st.last.as_ref().map(|(at, ok, summary)| json!({
                    "at": at, "ok": ok, "summary": summary,
                })),
                "last_ok_at": st.last_ok_at,
                "consecutive_failures": st.consecutive_failures,
                "messages": st.outcomes.iter().map(|(k, n)| (k.clone(), json!(n))).collect::<serde_json::Map<_, _>>(),
                "auth": if m.oauth.is_some() { "oauth" } else { "password" },
                "token": m.token,
                "oauth": m.oauth.as_ref().map(|lines| lines.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>()),
                "dead_letters": m.dead_letters,
                "notices": {
                    "sent": n.sent, "pending": n.pending,
                    "suppressed": n.suppressed, "failed": n.failed,
                },
                "max_message_mib": m.max_message_mib,
                "oversized": m.oversized.iter().map(|o| json!({
                    "uid": o.uid, "size": o.size, "message_id": o.message_id,
                    "sender": o.sender, "subject": o.subject,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let leases: Vec<Value> = leases
        .iter()
        .map(|l| {
            json!({
                "mailbox": l.mailbox, "holder": l.holder, "token": l.token,
                "since": l.since, "live": l.live,
            })
        })
        .collect();
    json!({ "mailboxes": mailboxes, "leases": leases })
}

/// Rows of cells aligned in columns as wide as their widest cell (header
/// included), two spaces apart; columns in `right` are right-aligned.
fn columns(rows: &[Vec<String>], right: &[usize]) -> Vec<String> {
    let count = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..count)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    rows.iter()
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .enumerate()
                .map(|(c, s)| {
                    let pad = " ".repeat(widths[c] - s.chars().count());
                    if right.contains(&c) {
                        format!("{pad}{s}")
                    } else {
                        format!("{s}{pad}")
                    }
                })
                .collect();
            cells.join("  ").trim_end().to_string()
        })
        .collect()
}

/// The table `popline status` prints: a line per mailbox, the lines below it
/// (last error, notices, oversized messages) indented past the name column,
/// then the leases.
fn table(mailboxes: &[Mailbox], leases: &[LeaseInfo], now: i64) -> String {
    let ago = |t: i64| {
        format!(
            "{} ago",
            humantime::format_duration(std::time::Duration::from_secs((now - t).max(0) as u64))
        )
    };
    let mut rows = vec![
        [
            "MAILBOX",
            "LAST POLL",
            "OUTCOME",
            "COMMITTED",
            "TOKEN",
            "DEAD",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for m in mailboxes {
        let st = &m.status;
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
        rows.push(vec![
            m.name.clone(),
            last,
            outcome,
            counts,
            m.token.clone(),
            m.dead_letters.to_string(),
        ]);
    }
    let lines = columns(&rows, &[5]);
    let indent = " ".repeat(rows.iter().map(|r| r[0].chars().count()).max().unwrap_or(0) + 2);
    let mut out = format!("{}\n", lines[0]);
    for (m, line) in mailboxes.iter().zip(&lines[1..]) {
        out += &format!("{line}\n");
        if let Some((_, false, summary)) = &m.status.last {
            out += &format!("{indent}last error: {summary}\n");
        }
        let n = &m.notices;
        if *n != Default::default() {
            out += &format!(
                "{indent}notices: sent {}, pending {}, suppressed {}, FAILED {}{}\n",
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
        if m.status.oversized > 0 {
            out += &format!(
                "{indent}oversized: {} message(s) over max_message_mib = {} left on the server\n",
                m.status.oversized, m.max_message_mib
            );
            for o in m.oversized.iter().take(5) {
                out += &format!(
                    "{indent}  {} ({} KiB) from {} {:?}\n",
                    o.uid,
                    o.size / 1024,
                    o.sender.as_deref().unwrap_or("?"),
                    o.subject.as_deref().unwrap_or("?")
                );
            }
        }
    }
    if !leases.is_empty() {
        let mut rows = vec![
            ["MAILBOX", "HELD BY", "SINCE", "TOKEN"]
                .map(String::from)
                .to_vec(),
        ];
        for l in leases {
            let holder = if l.live {
                l.holder.clone()
            } else {
                format!("(expired) {}", l.holder)
            };
            rows.push(vec![
                l.mailbox.clone(),
                holder,
                ago(l.since),
                l.token.to_string(),
            ]);
        }
        out += "\n";
        for line in columns(&rows, &[3]) {
            out += &format!("{line}\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailbox(name: &str, last: Option<(i64, bool, &str)>) -> Mailbox {
        Mailbox {
            name: name.into(),
            status: MailboxStatus {
                last: last.map(|(at, ok, s)| (at, ok, s.to_string())),
                last_ok_at: None,
                consecutive_failures: 2,
                outcomes: vec![("feedback".into(), 12), ("skipped".into(), 3)],
                oversized: 0,
            },
            token: "password".into(),
            oauth: None,
            dead_letters: 1,
            notices: NoticeCounts::default(),
            oversized: Vec::new(),
            max_message_mib: 25,
        }
    }

    /// Every column starts at the same offset on every line, however long
    /// a mailbox's name.
    #[test]
    fn columns_stay_aligned_with_long_names() {
        let long = "a-mailbox-name-far-longer-than-sixteen-characters";
        let mailboxes = [
            mailbox("beta", Some((940, true, "ok line"))),
            mailbox(long, Some((400, false, "network: connection refused"))),
            mailbox("gamma", None),
        ];
        let text = table(&mailboxes, &[], 1000);
        let lines: Vec<&str> = text.lines().collect();
        let header = lines[0];
        let at = |line: &str, word: &str| line.find(word).unwrap();
        let last_poll = at(header, "LAST POLL");
        let outcome = at(header, "OUTCOME");
        assert!(last_poll > long.len(), "{text}");
        let rows: Vec<&str> = lines
            .iter()
            .copied()
            .filter(|l| !l.starts_with(' '))
            .skip(1)
            .collect();
        assert_eq!(rows.len(), 3, "{text}");
        for (row, (last, out)) in
            rows.iter()
                .zip([("1m ago", "ok"), ("10m ago", "FAILED x2"), ("never", "-")])
        {
            assert_eq!(&row[last_poll..last_poll + last.len()], last, "{text}");
            assert_eq!(&row[outcome..outcome + out.len()], out, "{text}");
        }
        // DEAD is right-aligned under its header's end.
        let dead_end = header.len();
        assert!(
            rows.iter().all(|r| r.len() == dead_end && r.ends_with('1')),
            "{text}"
        );
        // The error line sits under the LAST POLL column.
        let error = lines.iter().find(|l| l.contains("last error:")).unwrap();
        assert_eq!(at(error, "last error:"), long.len() + 2, "{text}");
    }

    #[test]
    fn json_names_every_field() {
        let v = to_json(
            &[mailbox("beta", Some((940, false, "network: refused")))],
            &[LeaseInfo {
                mailbox: "beta".into(),
                holder: "host-a".into(),
                token: 7,
                since: 900,
                live: true,
            }],
        );
        let beta = &v["mailboxes"][0];
        assert_eq!(beta["name"], "beta");
        assert_eq!(beta["last_poll"]["at"], 940);
        assert_eq!(beta["last_poll"]["ok"], false);
        assert_eq!(beta["last_poll"]["summary"], "network: refused");
        assert_eq!(beta["consecutive_failures"], 2);
        assert_eq!(beta["messages"]["feedback"], 12);
        assert_eq!(beta["auth"], "password");
        assert_eq!(beta["oauth"], Value::Null);
        assert_eq!(beta["dead_letters"], 1);
        assert_eq!(beta["notices"]["failed"], 0);
        assert_eq!(v["leases"][0]["holder"], "host-a");
        assert_eq!(v["leases"][0]["token"], 7);
    }
}
