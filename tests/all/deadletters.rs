//! The circuit breaker and dead letters end to end: a mapper that fails on
//! every message dead-letters them (raw `.eml` plus a `.json` with the
//! reason, recorded in the state, deleted from the server only after), the
//! breaker opens at the threshold and leaves the rest on the server, and
//! `popline dead-letter retry` delivers them exactly once.

use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use serde_json::Value;

use crate::support::scenario::{Mailbox, Run, Workspace, replies, run};
use crate::support::scripted::{Script, ScriptedServer};
use crate::support::{self};

const USER: &str = "replies@beta.example.com";
const PASSWORD: &str = "lumen-beta";
const LIMIT: Duration = Duration::from_secs(60);

fn server(n: usize) -> ScriptedServer {
    ScriptedServer::spawn(Script::login(USER, PASSWORD), replies("dl", n))
}

/// Retention delete, batches of 2, breaker at 3 consecutive failures.
fn failing(port: u16) -> Mailbox {
    Mailbox::scripted("beta", port, USER, PASSWORD)
        .mapper(support::plugin("test-mapper"), &[("mode", "error")])
        .with("retention = \"delete\"")
        .with("batch_size = 2")
        .with("breaker_threshold = 3")
}

/// The dead letters on disk: `(sidecar, raw message)`, sorted by uid.
fn dead_letters(ws: &Workspace) -> Vec<(Value, Vec<u8>)> {
    let dir = ws.path("dead-letters");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out: Vec<(Value, Vec<u8>)> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let meta: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
            let raw = std::fs::read(p.with_extension("eml")).unwrap();
            (meta, raw)
        })
        .collect();
    out.sort_by_key(|(m, _)| m["uid"].as_str().unwrap().to_string());
    out
}

fn popline(ws: &Workspace, args: &[&str]) -> Run {
    run(ws.popline(args), LIMIT)
}

#[test]
fn failing_mapper_dead_letters_then_breaker_opens_then_retry_delivers_exactly_once() {
    let mail = replies("dl", 7);
    let server = server(7);
    let ws = Workspace::new();
    ws.configure(&[failing(server.port)]);

    let out = ws.once(LIMIT);
    // Messages were left on the server: a non-zero exit, with the breaker
    // named in the log.
    out.assert_failure();
    assert!(out.stderr.contains("circuit breaker open"), "{out}");
    assert!(
        out.line("beta").contains("committed 0 (0 records)"),
        "{out}"
    );

    // Three dead letters, byte for byte, each with the reason and plugin.
    let dls = dead_letters(&ws);
    assert_eq!(dls.len(), 3, "{out}");
    for (i, (meta, raw)) in dls.iter().enumerate() {
        assert_eq!(meta["uid"], format!("uid-{}", i + 1));
        assert_eq!(meta["pipeline"], "beta");
        assert_eq!(meta["plugin"], "test_mapper");
        let reason = meta["reason"].as_str().unwrap();
        assert!(reason.contains("test-mapper was told to fail"), "{reason}");
        assert_eq!(raw, &mail[i], "dead letter {i} is not the message as sent");
    }
    // Recorded in the state as dead letters...
    let state = ws.state("beta");
    assert_eq!(state.len(), 3, "{state:?}");
    assert!(state.iter().all(|(_, outcome, _)| outcome == "dead_letter"));
    // ...and only those deleted: the breaker left messages 4-7, and did not
    // even fetch the batches after it opened.
    assert_eq!(server.bodies_of(USER), mail[3..].to_vec());
    let cmds = server.commands();
    let retr: Vec<&String> = cmds.iter().filter(|c| c.starts_with("RETR")).collect();
    assert_eq!(retr, ["RETR 1", "RETR 2", "RETR 3", "RETR 4"], "{out}");
    let dele: Vec<&String> = cmds.iter().filter(|c| c.starts_with("DELE")).collect();
    assert_eq!(dele, ["DELE 1", "DELE 2", "DELE 3"], "{out}");
    assert!(ws.jsonl().is_empty());

    // `dead-letter list` shows them.
    let list = popline(&ws, &["dead-letter", "list"]);
    list.assert_success();
    let lines: Vec<&str> = list.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{list}");
    for (meta, _) in &dls {
        // Listed in the order they were stored, which within one second is
        // not the uid order.
        let start = format!(
            "{}\tbeta\tuid {}\t",
            meta["id"].as_str().unwrap(),
            meta["uid"].as_str().unwrap()
        );
        let line = lines.iter().find(|l| l.starts_with(&start));
        assert!(
            line.is_some_and(|l| l.contains("test-mapper was told to fail")),
            "{start:?}\n{list}"
        );
    }

    // A retry that fails again keeps every dead letter and delivers nothing:
    // here the replacement mapper refuses the pipeline's `mode` key.
    let mapper = support::plugin("feedback-default");
    let mapper = mapper.to_str().unwrap();
    let retry = popline(&ws, &["dead-letter", "retry", "--all", "--mapper", mapper]);
    retry.assert_failure();
    assert_eq!(retry.stdout.matches("still failing").count(), 3, "{retry}");
    assert!(retry.stdout.contains("mode"), "{retry}");
    assert_eq!(dead_letters(&ws).len(), 3);
    assert!(ws.jsonl().is_empty());

    // The operator points the pipeline at the fixed mapper and retries.
    let fixed = Mailbox::scripted("beta", server.port, USER, PASSWORD)
        .with("retention = \"delete\"")
        .with("batch_size = 2")
        .with("breaker_threshold = 3");
    ws.configure(std::slice::from_ref(&fixed));
    let retry = popline(&ws, &["dead-letter", "retry", "--all", "--mapper", mapper]);
    retry.assert_success();
    assert_eq!(
        retry.stdout.matches("delivered 1 record(s)").count(),
        3,
        "{retry}"
    );
    assert!(dead_letters(&ws).is_empty(), "{retry}");
    ws.assert_exactly_once(3, &format!("first retry\n{retry}"));
    let retried: Vec<String> = ws.state("beta").into_iter().map(|(_, o, _)| o).collect();
    assert_eq!(retried, ["feedback"; 3]);

    // Again: nothing to do, nothing duplicated.
    let again = popline(&ws, &["dead-letter", "retry", "--all", "--mapper", mapper]);
    again.assert_success();
    assert!(!again.stdout.contains("delivered"), "{again}");
    ws.assert_exactly_once(3, &format!("second retry\n{again}"));

    // The messages the breaker left go through the fixed pipeline: all
    // seven delivered once, the mailbox empty.
    let out = ws.once(LIMIT);
    out.assert_success();
    assert_eq!(server.remaining(), 0, "{out}");
    ws.assert_exactly_once(7, &format!("after the fix\n{out}"));
    let mut subjects = ws.subjects();
    subjects.dedup();
    assert_eq!(subjects.len(), 7, "{subjects:?}");
}

/// The dead letter and its state row are durable before the DELE is sent:
/// killed right after the first DELE (no QUIT, so nothing is deleted), the
/// quarantine and the state already hold both messages of the batch.
#[test]
fn a_dead_letter_is_durable_before_its_message_is_deleted() {
    let server = server(4);
    let ws = Workspace::new();
    ws.configure(&[failing(server.port).with("breaker_threshold = 10")]);
    let mut cmd = ws.popline(&["once"]);
    cmd.env("POPLINE_FAILPOINT", "after-dele@1");
    let crashed = run(cmd, LIMIT);
    assert_eq!(crashed.status.signal(), Some(6), "{crashed}");
    let dele: Vec<String> = server
        .commands()
        .into_iter()
        .filter(|c| c.starts_with("DELE"))
        .collect();
    assert_eq!(dele, ["DELE 1", "DELE 2"], "{crashed}");
    assert_eq!(dead_letters(&ws).len(), 2, "{crashed}");
    assert_eq!(ws.state("beta").len(), 2, "{crashed}");
    assert_eq!(server.remaining(), 4, "no QUIT, nothing deleted");
    let retr = || -> Vec<String> {
        server
            .commands()
            .into_iter()
            .filter(|c| c.starts_with("RETR"))
            .collect()
    };
    let before = retr().len();

    // The restart deletes the two it recorded without dead-lettering them
    // again, and quarantines the other two.
    let out = ws.once(LIMIT);
    assert_eq!(server.remaining(), 0, "{out}");
    assert_eq!(dead_letters(&ws).len(), 4, "{out}");
    assert_eq!(ws.state("beta").len(), 4, "{out}");
    // The two committed before the crash are deleted on sight, not
    // retrieved again (3 and 4 may have been read ahead before the crash).
    assert_eq!(retr()[before..], ["RETR 3", "RETR 4"], "{out}");
}
