//! End-to-end scenarios around the `popline` binary: a scratch folder with a
//! generated configuration, runs with a watchdog, and readers for what the
//! sinks and the state hold afterwards.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support;

/// A reply to a Lumen beta notification, unique per `(tag, i)`: plus-address
/// matched to `FB-{1000 + i}`, a unique Message-ID, and a dot-stuffed line.
pub fn reply(tag: &str, i: usize) -> Vec<u8> {
    format!(
        "From: Tester {i} <tester{i}@example.org>\r\n\
         To: Lumen Beta <replies+FB-{n}@beta.example.com>\r\n\
         Subject: Re: [Lumen beta] item {n} ({tag})\r\n\
         Message-ID: <{tag}-{i}@example.org>\r\n\
         Date: Thu, 5 Mar 2026 09:30:52 +0000\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         Reply {i} of {tag}: the sync icon still spins.\r\n\
         .a line that starts with a dot\r\n",
        n = 1000 + i
    )
    .into_bytes()
}

/// `n` distinct replies tagged `tag`, numbered from 1.
pub fn replies(tag: &str, n: usize) -> Vec<Vec<u8>> {
    (1..=n).map(|i| reply(tag, i)).collect()
}

/// One `[mailboxes.NAME]` table.
#[derive(Debug, Clone)]
pub struct Mailbox {
    pub name: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    pub dialogue: PathBuf,
    pub mechanisms: Vec<String>,
    pub mapper: PathBuf,
    pub mapper_config: Vec<(String, String)>,
    pub sinks: Vec<String>,
    /// Further `key = value` lines inside the table.
    pub extra: Vec<String>,
}

impl Mailbox {
    /// A mailbox on the scripted server (plain TCP on loopback) with the
    /// reference plugins, delivering to the `jsonl` and `db` sinks.
    pub fn scripted(name: &str, port: u16, user: &str, password: &str) -> Mailbox {
        Mailbox {
            name: name.to_string(),
            port,
            user: user.to_string(),
            password: password.to_string(),
            dialogue: support::plugin("pop3-standard"),
            mechanisms: Vec::new(),
            mapper: support::plugin("feedback-default"),
            mapper_config: vec![("unmatched".into(), "new".into())],
            sinks: vec!["jsonl".into(), "db".into()],
            extra: vec![
                "tls = \"none\"".into(),
                "allow_plaintext = true".into(),
                "connect_timeout_secs = 5".into(),
                "read_timeout_secs = 5".into(),
            ],
        }
    }

    /// Add `key = value` lines (a later key replaces an earlier one).
    pub fn with(mut self, line: &str) -> Mailbox {
        if let Some((key, _)) = line.split_once('=') {
            let key = key.trim();
            self.extra
                .retain(|l| l.split_once('=').is_none_or(|(k, _)| k.trim() != key));
        }
        self.extra.push(line.to_string());
        self
    }

    pub fn mapper(mut self, plugin: PathBuf, config: &[(&str, &str)]) -> Mailbox {
        self.mapper = plugin;
        self.mapper_config = config
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self
    }

    pub fn dialogue(mut self, plugin: PathBuf, mechanisms: &[&str]) -> Mailbox {
        self.dialogue = plugin;
        self.mechanisms = mechanisms.iter().map(|m| m.to_string()).collect();
        self
    }

    pub fn sinks(mut self, sinks: &[&str]) -> Mailbox {
        self.sinks = sinks.iter().map(|s| s.to_string()).collect();
        self
    }

    fn toml(&self) -> String {
        let list = |v: &[String]| {
            v.iter()
                .map(|s| format!("{s:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let config = self
            .mapper_config
            .iter()
            .map(|(k, v)| format!("{k:?} = {v:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "[mailboxes.{name}]\nhost = \"127.0.0.1\"\nport = {port}\nuser = {user:?}\n\
             password = {{ file = \"{name}.password\" }}\ndialogue = {dialogue:?}\n\
             mechanisms = [{mechanisms}]\nmapper = {{ plugin = {mapper:?}, config = {{ {config} }} }}\n\
             sinks = [{sinks}]\n{extra}\n",
            name = self.name,
            port = self.port,
            user = self.user,
            dialogue = self.dialogue.display().to_string(),
            mechanisms = list(&self.mechanisms),
            mapper = self.mapper.display().to_string(),
            sinks = list(&self.sinks),
            extra = self.extra.join("\n"),
        )
    }
}

/// The default sinks: a JSON Lines file and a SQLite table.
pub const FILE_SINKS: &str = r#"
[sinks.jsonl]
type = "jsonl"
path = "feedback.jsonl"

[sinks.db]
type = "sqlite"
path = "feedback.db"
"#;

/// A scratch folder for one scenario: config, state, sinks, dead letters.
pub struct Workspace {
    pub dir: tempfile::TempDir,
    /// `[sinks.*]` tables written into every configuration.
    pub sinks: String,
    /// Lines of the `[state]` table beyond `path` (a backend, say).
    pub state: String,
    config: PathBuf,
}

impl Workspace {
    pub fn new() -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("popline.toml");
        Workspace {
            dir,
            sinks: FILE_SINKS.to_string(),
            state: String::new(),
            config,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The configuration file (written by [`Workspace::configure`]).
    pub fn config(&self) -> &Path {
        &self.config
    }

    /// Write the configuration for `mailboxes` (and their password files).
    pub fn configure(&self, mailboxes: &[Mailbox]) -> &Path {
        let mut text = format!(
            "[state]\npath = \"state.db\"\n{}\n{}\n",
            self.state, self.sinks
        );
        for m in mailboxes {
            std::fs::write(self.path(&format!("{}.password", m.name)), &m.password).unwrap();
            text.push_str(&m.toml());
        }
        std::fs::write(&self.config, text).unwrap();
        &self.config
    }

    /// `popline --config <this config> ARGS...`.
    pub fn popline(&self, args: &[&str]) -> Command {
        let mut cmd = support::popline();
        cmd.arg("--config").arg(&self.config).args(args);
        cmd
    }

    /// `popline once`, killed (and the test failed) after `limit`.
    pub fn once(&self, limit: Duration) -> Run {
        run(self.popline(&["once"]), limit)
    }

    /// Every record in `feedback.jsonl`, in file order.
    pub fn jsonl(&self) -> Vec<Value> {
        match std::fs::read_to_string(self.path("feedback.jsonl")) {
            Ok(t) => t
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    /// The `id`s in `feedback.jsonl`, sorted (duplicates kept).
    pub fn jsonl_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .jsonl()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    }

    /// The `id`s in the sqlite sink, sorted.
    pub fn sqlite_ids(&self) -> Vec<String> {
        if !self.path("feedback.db").exists() {
            return Vec::new();
        }
        let db = rusqlite::Connection::open(self.path("feedback.db")).unwrap();
        let mut stmt = db.prepare("SELECT id FROM feedback ORDER BY id").unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// `(uid, outcome, message_id)` of every message the state holds for
    /// `mailbox`, by uid.
    pub fn state(&self, mailbox: &str) -> Vec<(String, String, Option<String>)> {
        if !self.path("state.db").exists() {
            return Vec::new();
        }
        let db = rusqlite::Connection::open(self.path("state.db")).unwrap();
        let mut stmt = db
            .prepare(
                "SELECT uid, outcome, message_id FROM messages WHERE mailbox = ?1 ORDER BY uid",
            )
            .unwrap();
        stmt.query_map([mailbox], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// The subjects of the jsonl records, sorted (duplicates kept).
    pub fn subjects(&self) -> Vec<String> {
        let mut s: Vec<String> = self
            .jsonl()
            .iter()
            .map(|r| r["subject"].as_str().unwrap_or_default().to_string())
            .collect();
        s.sort();
        s
    }

    /// Both file sinks hold exactly `expected` records, no id twice, the same
    /// ids in both.
    #[track_caller]
    pub fn assert_exactly_once(&self, expected: usize, context: &str) {
        let ids = self.jsonl_ids();
        let mut unique = ids.clone();
        unique.dedup();
        assert_eq!(
            unique.len(),
            ids.len(),
            "{context}: duplicate ids in jsonl: {ids:?}"
        );
        assert_eq!(ids.len(), expected, "{context}: jsonl records");
        assert_eq!(
            self.sqlite_ids(),
            ids,
            "{context}: sqlite sink differs from jsonl"
        );
    }
}

/// A finished `popline` run.
#[derive(Debug)]
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// The process's peak resident set, in KiB (`ru_maxrss` from `wait4`).
    pub peak_rss_kib: u64,
}

impl Run {
    /// The summary line `popline once` printed for `mailbox`.
    #[track_caller]
    pub fn line(&self, mailbox: &str) -> &str {
        let prefix = format!("{mailbox}: ");
        self.stdout
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no line for mailbox {mailbox}\n{self}"))
    }

    #[track_caller]
    pub fn assert_success(&self) -> &Run {
        assert!(self.status.success(), "popline failed\n{self}");
        self
    }

    #[track_caller]
    pub fn assert_failure(&self) -> &Run {
        assert!(!self.status.success(), "popline should have failed\n{self}");
        self
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "status: {}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// Run `cmd` to completion, capturing its output; kill it and fail the test
/// if it takes longer than `limit` (a hang is a bug, not a slow test).
#[track_caller]
// The child is reaped with `wait4` (see `reap`), which clippy cannot see.
#[allow(clippy::zombie_processes)]
pub fn run(mut cmd: Command, limit: Duration) -> Run {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("starting popline");
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    let pid = child.id() as libc::pid_t;
    let (status, peak_rss_kib) = loop {
        if let Some(reaped) = reap(pid, false) {
            break reaped;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let (status, peak_rss_kib) = reap(pid, true).expect("waited");
            let run = Run {
                status,
                stdout: out.join().unwrap(),
                stderr: err.join().unwrap(),
                peak_rss_kib,
            };
            panic!("popline did not finish within {limit:?}; killed\n{run}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
        peak_rss_kib,
    }
}

/// Reap child `pid` if it has ended (or, with `block`, once it does): its
/// exit status and peak RSS in KiB. `wait4` rather than `Child::wait`, which
/// does not report the child's resource usage.
pub fn reap(pid: libc::pid_t, block: bool) -> Option<(ExitStatus, u64)> {
    use std::os::unix::process::ExitStatusExt;
    let mut status = 0;
    // SAFETY: plain syscall; `usage` is a valid out-parameter.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let flags = if block { 0 } else { libc::WNOHANG };
    loop {
        let r = unsafe { libc::wait4(pid, &mut status, flags, &mut usage) };
        match r {
            0 => return None,
            r if r == pid => {
                return Some((ExitStatus::from_raw(status), usage.ru_maxrss as u64));
            }
            _ if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => {}
            _ => panic!("wait4({pid}): {}", std::io::Error::last_os_error()),
        }
    }
}

/// Wait until `cond` holds, checking every 20 ms; fail with `what` after
/// `limit`.
#[track_caller]
pub fn wait_for(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let started = Instant::now();
    while !cond() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
