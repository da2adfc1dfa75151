//! `popline run`: the daemon polls on its interval, serves metrics, and stops
//! gracefully on SIGTERM.

use std::time::{Duration, Instant};

use popline_testkit::beta_replies;

use crate::ingest::Setup;

/// One HTTP GET; a transient connection error is retried for a few seconds.
pub(crate) fn get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let attempt = || -> std::io::Result<String> {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
        )?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        Ok(out)
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match attempt() {
            Ok(out) => return out,
            Err(e) if Instant::now() < deadline => {
                eprintln!("GET {path}: {e}; retrying");
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("GET {path} on port {port}: {e}"),
        }
    }
}

#[test]
fn the_daemon_polls_on_schedule_serves_metrics_and_stops_on_sigterm() {
    let s = Setup::new();
    s.dovecot
        .seed(popline_testkit_user(), &beta_replies()[..2])
        .unwrap();
    let metrics = crate::support::free_port();
    let cfg = s.config(
        s.dovecot.tls_port(),
        "implicit",
        s.dovecot.ca_pem(),
        "poll_interval = \"1s\"\nretention = \"delete\"",
    );
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        format!("[metrics]\nlisten = \"127.0.0.1:{metrics}\"\n{text}"),
    )
    .unwrap();
    let mut child = KillOnDrop(
        crate::support::popline()
            .arg("--config")
            .arg(&cfg)
            .arg("run")
            .spawn()
            .unwrap(),
    );

    // New mail arriving while the daemon runs is picked up on a later poll.
    let deadline = Instant::now() + Duration::from_secs(20);
    while s.jsonl().len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    s.dovecot
        .seed(popline_testkit_user(), &beta_replies()[2..3])
        .unwrap();
    while s.jsonl().len() < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(s.jsonl().len(), 3, "the daemon did not pick up new mail");

    // The sink is written before the poll ends and its counters are recorded:
    // wait for the poll to finish.
    let want = "popline_messages_total{mailbox=\"beta\",outcome=\"committed\"} 3";
    let mut body = get(metrics, "/metrics");
    while !body.contains(want) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        body = get(metrics, "/metrics");
    }
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    assert!(body.contains(want), "{body}");
    assert!(
        body.contains("popline_last_success_timestamp_seconds{mailbox=\"beta\"}"),
        "{body}"
    );
    assert!(
        body.contains("popline_plugin_call_duration_seconds_count{plugin=\"feedback_default\"} 3"),
        "{body}"
    );

    unsafe { libc_kill(child.0.id() as i32, 15) };
    let started = Instant::now();
    let status = loop {
        if let Some(st) = child.0.try_wait().unwrap() {
            break st;
        }
        assert!(
            started.elapsed() < Duration::from_secs(35),
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    assert_eq!(s.count(), 0);
}

/// A failing assertion must not leave the daemon running.
pub(crate) struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn popline_testkit_user() -> &'static str {
    "replies@beta.example.com"
}

unsafe extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}
