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

/// Peaks of `RssAnon` (heap and other private memory) and `VmRSS` (also
/// file pages mapped in, such as spool files), sampled every 5 ms.
#[derive(Debug, Default)]
struct MemoryPeak {
    anon_kib: u64,
    rss_kib: u64,
}

/// Run `cmd` (output discarded) while sampling `/proc/PID/status`; whether
/// it succeeded, and its memory peaks.
fn sample_memory(mut cmd: std::process::Command, limit: Duration) -> (bool, MemoryPeak) {
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let field = |text: &str, key: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    let mut peak = MemoryPeak::default();
    let started = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(&status_file) {
            peak.anon_kib = peak.anon_kib.max(field(&text, "RssAnon:"));
            peak.rss_kib = peak.rss_kib.max(field(&text, "VmRSS:"));
        }
        if let Some(status) = child.try_wait().unwrap() {
            return (status.success(), peak);
        }
        if started.elapsed() > limit {
            child.kill().unwrap();
            panic!("popline did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// `popline`, under `/usr/bin/time -v` when it exists (for the peak RSS).
fn timed_popline() -> std::process::Command {
    if !std::path::Path::new("/usr/bin/time").exists() {
        return crate::support::popline();
    }
    let mut c = std::process::Command::new("/usr/bin/time");
    c.arg("-v").arg(env!("CARGO_BIN_EXE_popline"));
    c.envs(
        crate::support::popline()
            .get_envs()
            .filter_map(|(k, v)| Some((k, v?))),
    );
    c
}

/// Peak RSS of one `popline once` over big messages, with the default spool
/// threshold and with spooling effectively off: what `spool_above_kib` buys.
/// Printed, not asserted (`just load`).
#[test]
#[ignore = "memory measurement (about 20 s); run with `just load`"]
fn large_messages_spool_to_disk_instead_of_memory() {
    const MESSAGES: usize = 4;
    const ATTACHMENT_MIB: usize = 24;
    let big = |i: usize| -> Vec<u8> {
        use base64::Engine as _;
        let data: Vec<u8> = (0..ATTACHMENT_MIB << 20)
            .map(|n| (n * 31 + i) as u8)
            .collect();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&data);
        let mut body = format!(
            "From: Ada <ada@example.org>\r\nTo: replies+FB-{i}@beta.example.com\r\n\
             Subject: Re: capture {i}\r\nMessage-ID: <big-{i}@example.org>\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n\
             Content-Type: text/plain\r\n\r\nThe capture is attached.\r\n--b\r\n\
             Content-Type: application/octet-stream; name=\"capture-{i}.bin\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n"
        );
        for line in b64.as_bytes().chunks(76) {
            body.push_str(std::str::from_utf8(line).unwrap());
            body.push_str("\r\n");
        }
        body.push_str("--b--\r\n");
        body.into_bytes()
    };
    let mail: Vec<Vec<u8>> = (0..MESSAGES).map(big).collect();
    let raw_mib = mail.iter().map(Vec::len).sum::<usize>() as f64 / (1 << 20) as f64;
    for (label, spool) in [
        ("default spool (4 MiB)", "4096"),
        ("spooling off", "10000000"),
    ] {
        let server = ScriptedServer::spawn(Script::login(&user(0), PASSWORD), mail.clone());
        let ws = Workspace::new();
        ws.configure(&[Mailbox::scripted("big", server.port, &user(0), PASSWORD)
            .with("max_message_mib = 64")
            .with(&format!("spool_above_kib = {spool}"))]);
        run(ws.popline(&["check"]), Duration::from_secs(300)).assert_success();
        let started = Instant::now();
        let (ok, peak) = sample_memory(ws.popline(&["once"]), Duration::from_secs(600));
        let mib = |k: u64| format!("{:.1} MiB", k as f64 / 1024.0);
        println!(
            "large messages, {label}: {MESSAGES} messages, {raw_mib:.0} MiB raw, \
             {ATTACHMENT_MIB} MiB attachment each, one batch: {:.2} s, peak anonymous memory \
             {} (peak RSS {}, which also counts mapped spool pages)",
            started.elapsed().as_secs_f64(),
            mib(peak.anon_kib),
            mib(peak.rss_kib),
        );
        assert!(ok, "popline once failed ({label})");
        ws.assert_exactly_once(MESSAGES, label);
    }
}

#[test]
#[ignore = "load test (about 20 s on 2 cores); run with `just load`"]
fn two_hundred_mailboxes_in_one_concurrent_pass() {
    let server = ScriptedServer::spawn(
        Script::login(&user(0), PASSWORD),
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

    let mut cmd = timed_popline();
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
