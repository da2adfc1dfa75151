//! Network and server faults, with the scripted server: dropped connections,
//! stalls, over-long and malformed lines, login refusals with RFC 2449
//! codes, capabilities the server does not honour, odd unique ids and sizes
//! that lie. In every case the poll fails with a line naming the mailbox and
//! the cause (or carries on correctly), nothing uncommitted is deleted, and a
//! later poll delivers every message exactly once.

use std::time::Duration;

use crate::support::scenario::{Mailbox, Workspace, replies, reply, run, wait_for};
use crate::support::scripted::{Action, Fault, Script, ScriptedServer, UidStyle};

const USER: &str = "replies@beta.example.com";
const PASSWORD: &str = "lumen-beta";
/// Generous: a healthy run takes well under a second.
const LIMIT: Duration = Duration::from_secs(60);

fn script() -> Script {
    Script::login(USER, PASSWORD)
}

/// The mailbox under test: retention delete, batches of 2 (so a fault can
/// fall between batches), a 1 s read timeout.
fn mailbox(name: &str, port: u16, user: &str) -> Mailbox {
    Mailbox::scripted(name, port, user, PASSWORD)
        .with("retention = \"delete\"")
        .with("batch_size = 2")
        .with("read_timeout_secs = 1")
}

/// One fault scenario: the script for the first poll, what its failure line
/// must say, and how many messages' records that poll may already commit.
struct Case {
    label: &'static str,
    script: Script,
    /// Where the poll failed, as the line says it.
    stage: &'static str,
    cause: &'static str,
    committed_first: usize,
    /// Messages the server still holds after the failed poll.
    left_first: usize,
}

fn case(
    label: &'static str,
    fault: Fault,
    stage: &'static str,
    cause: &'static str,
    committed_first: usize,
) -> Case {
    Case {
        label,
        script: Script {
            faults: vec![fault],
            ..script()
        },
        stage,
        cause,
        committed_first,
        left_first: 5,
    }
}

/// Run each case on its own server and folder, concurrently: the first poll
/// fails as described and deletes nothing uncommitted; once the server
/// behaves, the next poll delivers all five messages exactly once and
/// empties the mailbox.
fn check(cases: Vec<Case>) {
    std::thread::scope(|s| {
        for c in cases {
            s.spawn(move || {
                let mail = replies(c.label, 5);
                let server = ScriptedServer::spawn(c.script, mail);
                let ws = Workspace::new();
                ws.configure(&[mailbox("beta", server.port, USER)]);

                let first = ws.once(LIMIT);
                let ctx = format!("case {:?}\n{first}", c.label);
                assert!(!first.status.success(), "{ctx}");
                let line = first.line("beta");
                assert!(line.starts_with("beta: FAILED: "), "{ctx}");
                for part in [c.stage, c.cause] {
                    assert!(
                        line.contains(part),
                        "{ctx}\nexpected the failure line to name {part:?}"
                    );
                }
                assert_eq!(server.remaining(), c.left_first, "{ctx}");
                ws.assert_exactly_once(c.committed_first, &ctx);

                server.update_script(|s| *s = script());
                let second = ws.once(LIMIT);
                let ctx = format!("case {:?}, second poll\n{second}", c.label);
                second.assert_success();
                assert_eq!(server.remaining(), 0, "{ctx}");
                ws.assert_exactly_once(5, &ctx);
            });
        }
    });
}

#[test]
fn dropped_connections_fail_the_poll_and_the_next_poll_delivers_exactly_once() {
    check(vec![
        case(
            "mid-status-line",
            Fault::on("RETR", Action::CloseMidLine).arg(3),
            "retrieving message 3 (uid uid-3)",
            "closed the connection",
            2,
        ),
        case(
            "mid-retr",
            Fault::on("RETR", Action::CloseMidBody).arg(3),
            "retrieving message 3 (uid uid-3)",
            "closed the connection",
            2,
        ),
        case(
            "at-uidl",
            Fault::on("UIDL", Action::Close),
            "listing messages",
            "closed the connection",
            0,
        ),
        case(
            "at-dele",
            Fault::on("DELE", Action::Close),
            "deleting message 1 (uid uid-1)",
            "closed the connection",
            2,
        ),
    ]);
}

#[test]
fn stalls_past_the_read_timeout_fail_the_poll_and_lose_nothing() {
    // Everything is committed; only the deletions are lost with QUIT.
    let quit = case(
        "at-quit",
        Fault::on("QUIT", Action::Stall),
        "ending the session (QUIT)",
        "timed out",
        5,
    );
    // Advertises PIPELINING, but answers only the first of LIST + UIDL.
    let unhonoured = Case {
        label: "pipelining-not-honoured",
        script: Script {
            ignore_pipelined: true,
            ..script()
        },
        stage: "listing messages",
        cause: "timed out",
        committed_first: 0,
        left_first: 5,
    };
    check(vec![
        case(
            "greeting",
            Fault::on("GREETING", Action::Stall),
            "reading the greeting",
            "timed out",
            0,
        ),
        case(
            "retr",
            Fault::on("RETR", Action::Stall).arg(3),
            "retrieving message 3 (uid uid-3)",
            "timed out",
            2,
        ),
        case(
            "stall-mid-retr",
            Fault::on("RETR", Action::StallMidBody).arg(3),
            "retrieving message 3 (uid uid-3)",
            "timed out",
            2,
        ),
        // A byte every 0.3 s never trips the 1 s read timeout; the rate
        // check (1024 B/s after the first second) does.
        case(
            "trickle-retr",
            Fault::on("RETR", Action::Trickle(Duration::from_millis(300))).arg(3),
            "retrieving message 3 (uid uid-3)",
            "below min_bytes_per_sec",
            2,
        ),
        quit,
        unhonoured,
    ]);
}

#[test]
fn overlong_malformed_and_refused_answers_fail_the_poll_and_lose_nothing() {
    let long = format!("+OK {}\r\n", "x".repeat(100_000)).into_bytes();
    check(vec![
        case(
            "overlong-status",
            Fault::on("RETR", Action::Reply(long)).arg(3),
            "retrieving message 3 (uid uid-3)",
            "longer than 1024 bytes",
            2,
        ),
        case(
            "garbage-to-list",
            Fault::on("LIST", Action::line("HELLO THERE")),
            "listing messages",
            "expected a POP3 status line",
            0,
        ),
        case(
            "imap-greeting",
            Fault::on("GREETING", Action::line("* OK IMAP4rev1 ready")),
            "greeting",
            "expected a POP3 status line",
            0,
        ),
        case(
            "uidl-advertised-but-refused",
            Fault::on("UIDL", Action::line("-ERR command not implemented")),
            "listing messages",
            "UIDL: -ERR command not implemented",
            0,
        ),
        case(
            "continuation-to-retr",
            Fault::on("RETR", Action::line("+ go ahead")).arg(3),
            "retrieving message 3 (uid uid-3)",
            "expected +OK or -ERR",
            2,
        ),
    ]);
}

/// Login refusals keep their RFC 2449 / 3206 class in the failure line; no
/// mailbox command follows a refused login. A healthy mailbox polled in the
/// same run is unaffected.
#[test]
fn login_refusals_are_reported_by_class_and_nothing_is_fetched() {
    let classes = [
        (
            "inuse",
            "-ERR [IN-USE] maildrop locked by another session",
            "mailbox in use [IN-USE]",
        ),
        (
            "systemp",
            "-ERR [SYS/TEMP] storage offline",
            "temporary server failure [SYS/TEMP]",
        ),
        (
            "sysperm",
            "-ERR [SYS/PERM] account disabled",
            "permanent server failure [SYS/PERM]",
        ),
        (
            "auth",
            "-ERR [AUTH] invalid credentials",
            "login failed [AUTH]",
        ),
    ];
    let mut s = script();
    s.user = "healthy@beta.example.com".into();
    for (name, reply_line, _) in classes {
        s.faults.push(
            Fault::on("PASS", Action::line(reply_line)).user(&format!("{name}@beta.example.com")),
        );
    }
    let server = ScriptedServer::spawn(s, replies("healthy", 3));
    let mut mailboxes = vec![mailbox("healthy", server.port, "healthy@beta.example.com")];
    for (name, _, _) in classes {
        let user = format!("{name}@beta.example.com");
        server.add_user(&user, PASSWORD, replies(name, 2));
        mailboxes.push(mailbox(name, server.port, &user));
    }
    let ws = Workspace::new();
    ws.configure(&mailboxes);
    let out = ws.once(LIMIT);
    out.assert_failure();
    assert!(out.line("healthy").contains("committed 3"), "{out}");
    for (name, reply_line, label) in classes {
        let line = out.line(name);
        assert!(line.starts_with(&format!("{name}: FAILED: ")), "{out}");
        assert!(line.contains(label) && line.contains(reply_line), "{out}");
        let user = format!("{name}@beta.example.com");
        assert_eq!(server.remaining_of(&user), 2);
        let cmds = server.commands_of(&user);
        assert!(
            !cmds.iter().any(|c| ["LIST", "UIDL", "RETR", "DELE"]
                .iter()
                .any(|v| c.starts_with(v))),
            "{name}: commands after a refused login: {cmds:?}"
        );
    }
    assert_eq!(ws.jsonl().len(), 3, "{out}");
}

/// Unique ids over 70 characters and ids shared by two messages are
/// accepted; ids that change every session are caught by the content
/// digest. None of them duplicates a record, however often the mailbox is
/// polled.
#[test]
fn long_shared_and_changing_uids_never_duplicate_records() {
    std::thread::scope(|scope| {
        for (style, label) in [
            (UidStyle::Long, "long"),
            (UidStyle::Paired, "paired"),
            (UidStyle::PerSession, "per-session"),
        ] {
            scope.spawn(move || {
                let server = ScriptedServer::spawn(
                    Script {
                        uids: style,
                        ..script()
                    },
                    replies(label, 6),
                );
                let ws = Workspace::new();
                // Retention keep: the same messages are listed every poll.
                ws.configure(&[
                    Mailbox::scripted("beta", server.port, USER, PASSWORD).with("batch_size = 4")
                ]);
                for poll in 1..=3 {
                    let out = ws.once(LIMIT);
                    let ctx = format!("{label}, poll {poll}\n{out}");
                    out.assert_success();
                    ws.assert_exactly_once(6, &ctx);
                    assert_eq!(server.remaining(), 6, "{ctx}");
                    let line = out.line("beta");
                    let expect = match (style, poll) {
                        (_, 1) => "fetched 6, committed 6",
                        // Changed ids look new: fetched again, recognised by content.
                        (UidStyle::PerSession, _) => {
                            "fetched 6, committed 0 (0 records), skipped 0, duplicates 6"
                        }
                        _ => "fetched 0, committed 0",
                    };
                    assert!(line.contains(expect), "{ctx}");
                }
            });
        }
    });
}

/// A server whose unique ids are message numbers reuses them once messages
/// are deleted. A new message listed under a uid that was committed and
/// deleted before must be fetched and delivered, not deleted unread.
#[test]
fn a_reused_uid_of_a_deleted_message_is_fetched_not_deleted_unread() {
    let server = ScriptedServer::spawn(
        Script {
            uids: UidStyle::Position,
            ..script()
        },
        replies("first", 3),
    );
    let ws = Workspace::new();
    ws.configure(&[mailbox("beta", server.port, USER)]);
    ws.once(LIMIT).assert_success();
    assert_eq!(server.remaining(), 0);
    ws.assert_exactly_once(3, "first poll");

    // New mail: the server names it 1, 2, 3 again.
    server.deliver(USER, replies("second", 3));
    let out = ws.once(LIMIT);
    out.assert_success();
    ws.assert_exactly_once(6, &format!("second poll\n{out}"));
    assert_eq!(server.remaining(), 0);
    let subjects = ws.subjects();
    assert!(
        subjects.iter().filter(|s| s.contains("(second)")).count() == 3,
        "{subjects:?}"
    );

    // And a message that really is the same one, listed again after its
    // deletion (a server that lost the deletion), is recognised, not
    // delivered twice.
    server.deliver(USER, vec![reply("second", 2)]);
    let out = ws.once(LIMIT);
    out.assert_success();
    assert!(out.line("beta").contains("duplicates 1"), "{out}");
    ws.assert_exactly_once(6, &format!("third poll\n{out}"));
    assert_eq!(server.remaining(), 0);
}

/// The loss window when a server reuses uids: QUIT applied the deletions,
/// then the host died before recording them. The state must not take the
/// uids for committed-and-still-there: the new messages the server lists
/// under them are fetched and delivered, never deleted unread.
#[test]
fn a_crash_between_quit_and_recording_the_deletions_loses_no_reused_uid() {
    let server = ScriptedServer::spawn(
        Script {
            uids: UidStyle::Position,
            ..script()
        },
        replies("first", 3),
    );
    let ws = Workspace::new();
    ws.configure(&[mailbox("beta", server.port, USER)]);
    let mut crashing = ws.popline(&["once"]);
    crashing.env("POPLINE_FAILPOINT", "after-quit");
    let crashed = run(crashing, LIMIT);
    assert!(
        crashed.stderr.contains("failpoint after-quit hit"),
        "{crashed}"
    );
    assert_eq!(
        server.remaining(),
        0,
        "QUIT applied the deletions\n{crashed}"
    );
    ws.assert_exactly_once(3, "first poll");

    // New mail under the same ids 1, 2, 3.
    server.deliver(USER, replies("second", 3));
    let out = ws.once(LIMIT);
    out.assert_success();
    ws.assert_exactly_once(6, &format!("after the restart\n{out}"));
    assert_eq!(server.remaining(), 0, "{out}");
}

/// LIST sizes are advice, not a bound: an understated size still yields the
/// whole message; an overstated one over `max_message_mib` is triaged with
/// TOP, recorded and left on the server (or fetched with `oversize =
/// "fetch"`); and a message really larger than the bound is cut off by the
/// host however small LIST said it was.
#[test]
fn sizes_that_differ_from_list() {
    // Understated.
    let server = ScriptedServer::spawn(
        Script {
            list_size: Some(10),
            ..script()
        },
        replies("small", 3),
    );
    let ws = Workspace::new();
    ws.configure(&[mailbox("beta", server.port, USER)]);
    ws.once(LIMIT).assert_success();
    ws.assert_exactly_once(3, "understated sizes");
    assert!(
        ws.jsonl()
            .iter()
            .all(|r| r["body_text"].as_str().unwrap().contains("still spins")),
        "{:?}",
        ws.jsonl()
    );

    // Overstated beyond the bound: not fetched; headers read once with TOP,
    // recorded in the state, reported once, kept on the server.
    let server = ScriptedServer::spawn(
        Script {
            list_size: Some(200 << 20),
            ..script()
        },
        replies("big", 2),
    );
    let ws = Workspace::new();
    ws.configure(&[mailbox("beta", server.port, USER).with("retention = \"delete\"")]);
    let out = ws.once(LIMIT);
    out.assert_success();
    assert!(
        out.line("beta").contains("failed 0")
            && out
                .line("beta")
                .contains("oversized (left on the server) 2"),
        "{out}"
    );
    assert_eq!(
        out.stderr.matches("larger than max_message_mib").count(),
        2,
        "{out}"
    );
    let tops = |server: &ScriptedServer| {
        server
            .commands()
            .iter()
            .filter(|c| c.starts_with("TOP"))
            .count()
    };
    assert_eq!(tops(&server), 2);
    assert!(
        !server
            .commands()
            .iter()
            .any(|c| c.starts_with("RETR") || c.starts_with("DELE"))
    );
    assert_eq!(server.remaining(), 2);
    let recorded = oversized_rows(&ws);
    assert_eq!(recorded.len(), 2, "{recorded:?}");
    assert!(
        recorded
            .iter()
            .all(|(size, from, subject)| *size == 200 << 20
                && from.starts_with("tester")
                && from.ends_with("@example.org")
                && subject.contains("(big)")),
        "{recorded:?}"
    );
    let status = run(ws.popline(&["status"]), LIMIT);
    status.assert_success();
    assert!(status.stdout.contains("oversized"), "{status}");
    // The next poll only counts them: no TOP, no warning.
    let out = ws.once(LIMIT);
    out.assert_success();
    assert!(
        out.line("beta")
            .contains("oversized (left on the server) 2"),
        "{out}"
    );
    assert!(!out.stderr.contains("larger than max_message_mib"), "{out}");
    assert_eq!(tops(&server), 2);
    // `oversize = "fetch"`: retrieved after all (and the record of them is
    // dropped once they are gone from the server).
    ws.configure(&[mailbox("beta", server.port, USER)
        .with("retention = \"delete\"")
        .with("oversize = \"fetch\"")]);
    ws.once(LIMIT).assert_success();
    ws.assert_exactly_once(2, "oversize = fetch");
    assert_eq!(server.remaining(), 0);
    ws.once(LIMIT).assert_success();
    assert_eq!(oversized_rows(&ws).len(), 0);

    // Really too large, LIST says 100 bytes: the host stops reading at the
    // bound and records the message as oversized, so the next poll leaves it
    // on the server and ingests the rest instead of failing on it again;
    // nothing is lost, and with a larger bound it goes through, received
    // into a spool file rather than memory.
    let mut huge = reply("huge", 1);
    huge.extend(b"0123456789abcdef".repeat(80_000)); // 1.2 MiB
    let server = ScriptedServer::spawn(
        Script {
            list_size: Some(100),
            ..script()
        },
        vec![huge, reply("huge", 2)],
    );
    let ws = Workspace::new();
    ws.configure(&[mailbox("beta", server.port, USER).with("max_message_mib = 1")]);
    let out = ws.once(LIMIT);
    out.assert_failure();
    assert!(
        out.line("beta").contains("larger than 1048576 bytes"),
        "{out}"
    );
    assert_eq!(server.remaining(), 2);
    ws.assert_exactly_once(0, "too large");
    assert_eq!(oversized_count(&ws), 1, "{out}");
    // Who sent it is read from the header section that did arrive.
    let recorded = oversized_rows(&ws);
    assert!(
        recorded[0].1 == "tester1@example.org" && recorded[0].2.contains("(huge)"),
        "{recorded:?}"
    );
    let out = ws.once(LIMIT);
    out.assert_success();
    assert!(
        out.line("beta")
            .contains("oversized (left on the server) 1"),
        "{out}"
    );
    ws.assert_exactly_once(1, &format!("the rest, past the oversized one\n{out}"));
    assert_eq!(server.remaining(), 1);
    ws.configure(&[mailbox("beta", server.port, USER)
        .with("max_message_mib = 2")
        .with("spool_above_kib = 256")]);
    let out = ws.once(LIMIT);
    out.assert_success();
    assert!(out.line("beta").contains("spooled to disk 1"), "{out}");
    ws.assert_exactly_once(2, "larger bound");
    assert_eq!(server.remaining(), 0);
    assert_eq!(
        oversized_rows(&ws).len(),
        0,
        "committed: no longer oversized"
    );
    let body = ws
        .jsonl()
        .iter()
        .map(|r| r["body_text"].as_str().unwrap().len())
        .max()
        .unwrap();
    assert!(
        body > 1_200_000,
        "the spooled message was mapped whole: {body}"
    );
    // Spool files are unnamed: nothing is left behind.
    assert_eq!(std::fs::read_dir(ws.path("spool")).unwrap().count(), 0);
}

/// `(size, from, subject)` of the oversized messages recorded for `beta`.
/// Messages of mailbox `beta` the state records as oversized.
fn oversized_count(ws: &Workspace) -> i64 {
    let db = rusqlite::Connection::open(ws.path("state.db")).unwrap();
    db.query_row(
        "SELECT count(*) FROM oversized WHERE mailbox = 'beta'",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

fn oversized_rows(ws: &Workspace) -> Vec<(i64, String, String)> {
    let db = rusqlite::Connection::open(ws.path("state.db")).unwrap();
    let mut stmt = db
        .prepare("SELECT size, sender, subject FROM oversized WHERE mailbox = 'beta' ORDER BY uid")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// `popline once` polls mailboxes concurrently: a mailbox whose server
/// stalls mid-message fails on its own timeout while a healthy one on the
/// same server completes and delivers.
#[test]
fn a_broken_mailbox_does_not_hold_up_a_healthy_one() {
    let mut s = script();
    s.faults
        .push(Fault::on("RETR", Action::StallMidBody).user("broken@beta.example.com"));
    let server = ScriptedServer::spawn(s, replies("healthy", 4));
    server.add_user("broken@beta.example.com", PASSWORD, replies("broken", 3));
    let ws = Workspace::new();
    ws.configure(&[
        mailbox("healthy", server.port, USER),
        mailbox("broken", server.port, "broken@beta.example.com"),
    ]);
    let out = ws.once(LIMIT);
    out.assert_failure();
    assert!(
        out.line("healthy").contains("committed 4") && out.line("healthy").contains("deleted 4"),
        "{out}"
    );
    let broken = out.line("broken");
    assert!(
        broken.starts_with("broken: FAILED") && broken.contains("timed out"),
        "{out}"
    );
    assert_eq!(server.remaining(), 0);
    assert_eq!(server.remaining_of("broken@beta.example.com"), 3);
    ws.assert_exactly_once(4, &out.to_string());
}

/// The daemon: with a 1 s interval, a healthy mailbox is polled again and
/// again (new mail is picked up) while a mailbox on a stalling server fails
/// and backs off; SIGTERM stops it cleanly.
#[test]
fn the_daemon_keeps_polling_a_healthy_mailbox_beside_a_stalling_one() {
    const BROKEN: &str = "broken@beta.example.com";
    let mut s = script();
    s.faults.push(Fault::on("LIST", Action::Stall).user(BROKEN));
    let server = ScriptedServer::spawn(s, replies("healthy", 2));
    server.add_user(BROKEN, PASSWORD, replies("broken", 2));
    let ws = Workspace::new();
    ws.configure(&[
        mailbox("healthy", server.port, USER).with("poll_interval = \"1s\""),
        mailbox("broken", server.port, BROKEN).with("poll_interval = \"1s\""),
    ]);
    let mut cmd = ws.popline(&["run"]);
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let healthy_records = || {
        ws.jsonl()
            .iter()
            .filter(|r| r["pipeline"] == "healthy")
            .count()
    };
    let limit = Duration::from_secs(30);
    wait_for(limit, "the first poll's records", || healthy_records() == 2);
    let logins = server.logins_of(USER);
    server.deliver(USER, vec![reply("healthy", 3)]);
    wait_for(limit, "the new message's record", || healthy_records() == 3);
    wait_for(limit, "three more polls of the healthy mailbox", || {
        server.logins_of(USER) >= logins + 3
    });

    // SIGTERM: polls in progress finish (the stalled one times out), exit 0.
    let pid = child.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("popline run did not stop within 20 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");

    assert_eq!(server.remaining(), 0);
    assert_eq!(server.remaining_of(BROKEN), 2);
    assert!(server.logins_of(BROKEN) >= 1);
    ws.assert_exactly_once(3, "daemon");
    assert!(ws.jsonl().iter().all(|r| r["pipeline"] == "healthy"));
}

/// The control for the cases above: the same server and harness without a
/// fault ingest everything in one session, batch by batch.
#[test]
fn a_well_behaved_scripted_server_is_ingested_fully() {
    let server = ScriptedServer::spawn(script(), replies("plain", 5));
    let ws = Workspace::new();
    ws.configure(&[mailbox("beta", server.port, USER)]);
    let out = ws.once(LIMIT);
    out.assert_success();
    assert!(
        out.line("beta")
            .starts_with("beta: listed 5, fetched 5, committed 5 (5 records)"),
        "{out}"
    );
    assert_eq!(server.remaining(), 0);
    ws.assert_exactly_once(5, "plain");
    // One session ended by QUIT; each batch is retrieved while the one
    // before is mapped and committed, and deleted once it is committed.
    let cmds: Vec<String> = server
        .commands()
        .into_iter()
        .filter(|c| !c.starts_with("USER") && !c.starts_with("PASS"))
        .collect();
    assert_eq!(
        cmds,
        [
            "CAPA", "LIST", "UIDL", "RETR 1", "RETR 2", "RETR 3", "RETR 4", "DELE 1", "DELE 2",
            "RETR 5", "DELE 3", "DELE 4", "DELE 5", "QUIT"
        ]
    );
    assert_eq!(server.quits(), 1);
}

/// A Message-ID is a hint, not an identity: the same reply delivered twice
/// (other trace headers, same body) is recognised as a duplicate, while a
/// different reply from a sender that reuses Message-IDs is delivered.
#[test]
fn a_reused_message_id_on_different_content_is_not_a_duplicate() {
    let first = reply("reuse", 1);
    let mut again = b"Received: from relay2.example.org by mx.beta.example.com\r\n".to_vec();
    again.extend(&first);
    let other = String::from_utf8(reply("reuse", 2))
        .unwrap()
        .replace("<reuse-2@example.org>", "<reuse-1@example.org>")
        .into_bytes();
    let server = ScriptedServer::spawn(script(), vec![first, again, other]);
    let ws = Workspace::new();
    ws.configure(&[mailbox("beta", server.port, USER)]);
    let out = ws.once(LIMIT);
    out.assert_success();
    assert!(
        out.line("beta").contains("committed 2") && out.line("beta").contains("duplicates 1"),
        "{out}"
    );
    ws.assert_exactly_once(2, "reused Message-ID");
    let subjects = ws.subjects();
    assert!(
        subjects.iter().any(|s| s.contains("item 1001"))
            && subjects.iter().any(|s| s.contains("item 1002")),
        "{subjects:?}"
    );
    // Everything was stored, so everything may go (retention delete).
    assert_eq!(server.remaining(), 0);
}
