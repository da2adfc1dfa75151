//! Crash safety: `popline once` aborted at every failpoint, in the middle of
//! a multi-batch poll of a real Dovecot, then run again. Every message ends
//! up in both sinks exactly once and the mailbox ends up empty; after the
//! crash and before the restart the server still holds every message.
//!
//! Failpoints (`POPLINE_FAILPOINT=NAME@N`, `host/core/src/failpoint.rs`) abort
//! the process as SIGKILL would: no destructor, no QUIT, no flush.

use std::collections::BTreeSet;
use std::ops::RangeInclusive;
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use crate::ingest::{Setup, USER};
use crate::support::scenario::{Run, replies, run};

/// Messages seeded; with batches of 2 a poll makes four batches.
const MESSAGES: usize = 7;
const LIMIT: Duration = Duration::from_secs(60);
/// What `std::process::abort` raises (Linux).
const SIGABRT: i32 = 6;

/// A failpoint armed at a hit in the middle of the poll, and what must
/// already be durable when it fires: messages whose records are in the
/// sinks, and messages recorded in the state.
struct Point {
    name: &'static str,
    at: u32,
    in_sinks: RangeInclusive<usize>,
    in_state: RangeInclusive<usize>,
}

/// With 7 messages in batches of 2 the poll goes: CAPA, LIST, UIDL (the
/// first three multi-line reads), then per batch RETR ×2, parse and map each,
/// sinks, state, DELE.
const POINTS: [Point; 7] = [
    // The 6th multi-line read: RETR of message 3, first of batch 2, read
    // ahead while batch 1 is mapped and committed: batch 1 may or may not
    // be stored yet.
    Point {
        name: "retr",
        at: 6,
        in_sinks: 0..=2,
        in_state: 0..=2,
    },
    Point {
        name: "after-parse",
        at: 3,
        in_sinks: 2..=2,
        in_state: 2..=2,
    },
    Point {
        name: "in-mapper",
        at: 3,
        in_sinks: 2..=2,
        in_state: 2..=2,
    },
    // Batch 2 is in the first sink (jsonl) but not the second (sqlite) nor
    // the state: the replay completes the second without duplicating the
    // first.
    Point {
        name: "between-sinks",
        at: 2,
        in_sinks: 4..=4,
        in_state: 2..=2,
    },
    // Batch 2 is in the sinks but not yet in the state: the replay must
    // not duplicate it.
    Point {
        name: "after-sink",
        at: 2,
        in_sinks: 4..=4,
        in_state: 2..=2,
    },
    Point {
        name: "after-state",
        at: 2,
        in_sinks: 4..=4,
        in_state: 4..=4,
    },
    // DELE sent for batch 2, but no QUIT: the server keeps everything.
    Point {
        name: "after-dele",
        at: 2,
        in_sinks: 4..=4,
        in_state: 4..=4,
    },
];

/// `popline once`, with the failpoint armed if given.
fn once(cfg: &std::path::Path, failpoint: Option<String>) -> Run {
    let mut cmd = crate::support::popline();
    cmd.arg("--config").arg(cfg).arg("once");
    if let Some(fp) = failpoint {
        cmd.env("POPLINE_FAILPOINT", fp);
    }
    run(cmd, LIMIT)
}

/// Message-IDs (without brackets) of the messages whose records are in the
/// jsonl sink.
fn in_sinks(s: &Setup) -> BTreeSet<String> {
    s.jsonl()
        .iter()
        .map(|r| r["source_message_id"].as_str().unwrap().to_string())
        .collect()
}

/// Message-IDs of the messages the state records as committed.
fn in_state(s: &Setup) -> BTreeSet<String> {
    let db = rusqlite::Connection::open(s.path("state.db")).unwrap();
    let mut stmt = db
        .prepare("SELECT message_id FROM messages WHERE mailbox = 'beta'")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn crash_and_restart(p: &Point) {
    let s = Setup::new();
    s.dovecot.seed(USER, &replies(p.name, MESSAGES)).unwrap();
    let cfg = s.config(
        s.dovecot.tls_port(),
        "implicit",
        s.dovecot.ca_pem(),
        "retention = \"delete\"\nbatch_size = 2",
    );

    let crashed = once(&cfg, Some(format!("{}@{}", p.name, p.at)));
    let ctx = format!("failpoint {}@{}\n{crashed}", p.name, p.at);
    assert_eq!(crashed.status.signal(), Some(SIGABRT), "{ctx}");
    assert!(
        crashed
            .stderr
            .contains(&format!("failpoint {} hit", p.name)),
        "{ctx}"
    );

    // What was durable at the crash is what the point implies.
    let sinks = in_sinks(&s);
    let state = in_state(&s);
    assert!(
        p.in_sinks.contains(&sinks.len()),
        "{ctx}: {} in the sinks",
        sinks.len()
    );
    assert!(
        p.in_state.contains(&state.len()),
        "{ctx}: {} in the state",
        state.len()
    );
    assert_eq!(s.jsonl().len(), sinks.len(), "{ctx}: a record twice");
    // Sinks before state: nothing is recorded as committed that the sinks
    // do not hold.
    assert!(state.is_subset(&sinks), "{ctx}");
    // No QUIT, so no deletion: the server holds at least every message not
    // durably stored (here: all of them).
    let on_server = s.count();
    assert!(on_server >= MESSAGES - sinks.len(), "{ctx}");
    assert_eq!(on_server, MESSAGES, "{ctx}");

    let restarted = once(&cfg, None);
    let ctx = format!("{ctx}\nafter the restart:\n{restarted}");
    restarted.assert_success();
    assert_eq!(s.count(), 0, "{ctx}");
    let mut ids: Vec<String> = s
        .jsonl()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "{ctx}: duplicate ids");
    assert_eq!(ids.len(), MESSAGES, "{ctx}");
    assert_eq!(s.sqlite_ids(), ids, "{ctx}");
    assert_eq!(in_state(&s).len(), MESSAGES, "{ctx}");
    assert_eq!(in_sinks(&s).len(), MESSAGES, "{ctx}");
}

#[test]
fn a_crash_at_any_failpoint_loses_and_duplicates_nothing() {
    std::thread::scope(|scope| {
        for p in &POINTS {
            scope.spawn(move || crash_and_restart(p));
        }
    });
}
