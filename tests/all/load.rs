//! Load: 200 mailboxes on one scripted server (a maildrop per user), polled
//! concurrently by one `popline once`. Every message must be ingested once;
//! peak RSS and throughput are printed, not asserted (`just load`).

use std::time::{Duration, Instant};

use crate::support::scenario::{Mailbox, Workspace, replies, run};
use crate::support::scripted::{Script, ScriptedServer};

const MAILBOXES: usize = 200;
const PER_MAILBOX: usize = 10;
const PASSWORD: &str = "lumen-beta";

fn user(i: usize) -> String {
    format!("mb{i:03}@load.example.com")
}

/// `Maximum resident set size (kbytes): N` from `/usr/bin/time -v`.
fn peak_rss_kib(time_output: &str) -> Option<u64> {
    time_output
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .and_then(|v| v.trim().parse().ok())
}

#[test]
#[ignore = "load test (about 20 s on 2 cores); run with `just load`"]
fn two_hundred_mailboxes_in_one_concurrent_pass() {
    let server = ScriptedServer::spawn(
        Script {
            capa: vec!["USER".into(), "UIDL".into(), "PIPELINING".into()],
            user: user(0),
            password: PASSWORD.into(),
            ..Script::default()
        },
        replies(&user(0), PER_MAILBOX),
    );
    let mut mailboxes = Vec::new();
    for i in 0..MAILBOXES {
        if i > 0 {
            server.add_user(&user(i), PASSWORD, replies(&user(i), PER_MAILBOX));
        }
        mailboxes.push(
            Mailbox::scripted(&format!("mb{i:03}"), server.port, &user(i), PASSWORD)
                .with("retention = \"delete\"")
                .with("read_timeout_secs = 60")
                // Default CPU limits: time queued in the runtime is not
                // charged to plugins (hostile::time_waiting_for_the_executor_
                // is_not_charged_as_plugin_cpu).
                .with("connect_timeout_secs = 30"),
        );
    }
    let ws = Workspace::new();
    ws.configure(&mailboxes);

    // Warm the compiled-plugin cache first, so the figures are ingestion.
    let check = run(ws.popline(&["check"]), Duration::from_secs(300));
    check.assert_success();

    let timed = std::path::Path::new("/usr/bin/time").exists();
    let mut cmd = if timed {
        let mut c = std::process::Command::new("/usr/bin/time");
        c.arg("-v").arg(env!("CARGO_BIN_EXE_popline"));
        c.envs(
            crate::support::popline()
                .get_envs()
                .filter_map(|(k, v)| Some((k, v?))),
        );
        c
    } else {
        crate::support::popline()
    };
    cmd.arg("--config").arg(ws.config()).arg("once");
    let started = Instant::now();
    let out = run(cmd, Duration::from_secs(600));
    let elapsed = started.elapsed();

    // Figures first: they are the point of `just load`, pass or fail.
    let total = MAILBOXES * PER_MAILBOX;
    let rss = peak_rss_kib(&out.stderr).map_or("unknown (no /usr/bin/time)".to_string(), |k| {
        format!("{:.1} MiB", k as f64 / 1024.0)
    });
    println!(
        "load: {MAILBOXES} mailboxes x {PER_MAILBOX} messages = {total} messages in {:.2} s \
         ({:.0} messages/s, {} sessions), peak RSS {rss} ({} build of popline)",
        elapsed.as_secs_f64(),
        ws.jsonl().len() as f64 / elapsed.as_secs_f64(),
        server.sessions(),
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
    );
    let failed: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.contains("FAILED"))
        .collect();
    println!("load: {} of {MAILBOXES} mailboxes failed", failed.len());
    for line in &failed {
        println!("  {line}");
    }
    for line in out.stderr.lines().filter(|l| l.contains("dead-lettered")) {
        println!("  {line}");
    }

    out.assert_success();
    ws.assert_exactly_once(total, "load");
    for i in 0..MAILBOXES {
        assert_eq!(server.remaining_of(&user(i)), 0, "{}", user(i));
    }
    assert_eq!(out.stdout.lines().count(), MAILBOXES, "{out}");
}
