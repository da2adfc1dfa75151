//! Ingestion end to end against a real Dovecot: `popline once` over TLS and
//! STLS, both retention policies, both file sinks, refused certificates and
//! refused plaintext logins.

use std::path::{Path, PathBuf};
use std::process::Output;

use popline_testkit::{Dovecot, DovecotOptions, Tls, beta_replies, mixed_corpus};
use serde_json::Value;

use crate::support;

pub const USER: &str = "replies@beta.example.com";
const PASSWORD: &str = "lumen-beta";

pub struct Setup {
    pub dovecot: Dovecot,
    pub dir: tempfile::TempDir,
}

impl Setup {
    pub fn new() -> Setup {
        let dovecot = Dovecot::start(DovecotOptions::default().user(USER, PASSWORD))
            .expect("starting Dovecot (apt-get install dovecot-core dovecot-pop3d)");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("password"), format!("{PASSWORD}\n")).unwrap();
        Setup { dovecot, dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Write a config with one mailbox; `extra` goes inside the mailbox table.
    pub fn config(&self, port: u16, tls: &str, ca: &Path, extra: &str) -> PathBuf {
        let text = format!(
            r#"
[state]
path = "state.db"
{sinks}
[mailboxes.beta]
host = "127.0.0.1"
port = {port}
tls = "{tls}"
ca_file = "{ca}"
user = "{USER}"
password = {{ file = "password" }}
dialogue = "{dialogue}"
mapper = {{ plugin = "{mapper}", config = {{ message-id-pattern = "feedback-{{id}}@notify.beta.example.com", unmatched = "new" }} }}
sinks = ["jsonl", "db"]
{extra}
"#,
            ca = ca.display(),
            sinks = crate::support::scenario::FILE_SINKS,
            dialogue = support::plugin("pop3-standard").display(),
            mapper = support::plugin("feedback-default").display(),
        );
        let path = self.path("popline.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn once(&self, config: &Path) -> Output {
        support::popline()
            .arg("--config")
            .arg(config)
            .arg("once")
            .output()
            .unwrap()
    }

    pub fn jsonl(&self) -> Vec<Value> {
        match std::fs::read_to_string(self.path("feedback.jsonl")) {
            Ok(t) => t
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    pub fn sqlite_ids(&self) -> Vec<String> {
        let db = rusqlite::Connection::open(self.path("feedback.db")).unwrap();
        let mut stmt = db.prepare("SELECT id FROM feedback ORDER BY id").unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    pub fn count(&self) -> usize {
        self.dovecot.count(USER).unwrap()
    }
}

fn ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "popline once failed\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn delete_mode_over_implicit_tls_delivers_every_reply_and_empties_the_mailbox() {
    let s = Setup::new();
    s.dovecot.seed(USER, &beta_replies()).unwrap();
    let seeded = s.count();
    let cfg = s.config(
        s.dovecot.tls_port(),
        "implicit",
        s.dovecot.ca_pem(),
        "retention = \"delete\"",
    );
    let stdout = ok(&s.once(&cfg));
    assert!(
        stdout.contains(&format!("beta: listed {seeded}")),
        "{stdout}"
    );

    let recs = s.jsonl();
    // One auto-reply is skipped; every other reply becomes one record.
    assert_eq!(recs.len(), seeded - 1, "{stdout}\n{recs:#?}");
    let mut targets: Vec<&str> = recs.iter().filter_map(|r| r["target"].as_str()).collect();
    targets.sort();
    assert!(
        targets.contains(&"FB-2001") && targets.contains(&"2002") && targets.contains(&"2003"),
        "{targets:?}"
    );
    for r in &recs {
        assert_eq!(r["pipeline"], "beta");
        assert_eq!(r["mailbox"], USER);
        assert!(r["uid"].as_str().is_some_and(|u| !u.is_empty()));
    }
    let mut ids: Vec<String> = recs
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    assert_eq!(s.sqlite_ids(), ids);
    assert_eq!(s.count(), 0, "delete mode must empty the mailbox");

    // Nothing left, nothing new.
    ok(&s.once(&cfg));
    assert_eq!(s.jsonl().len(), seeded - 1);
}

#[test]
fn keep_mode_over_starttls_leaves_mail_and_a_second_pass_adds_nothing() {
    let s = Setup::new();
    let mail = mixed_corpus(30, 7);
    s.dovecot.seed(USER, &mail).unwrap();
    let cfg = s.config(
        s.dovecot.plain_port(),
        "starttls",
        s.dovecot.ca_pem(),
        "batch_size = 7",
    );
    let stdout = ok(&s.once(&cfg));
    assert!(stdout.contains("listed 30, fetched 30"), "{stdout}");
    let first = s.jsonl();
    let ids = s.sqlite_ids();
    assert!(!first.is_empty());
    assert_eq!(ids.len(), first.len());
    assert_eq!(s.count(), 30, "keep mode must leave every message");

    let stdout = ok(&s.once(&cfg));
    assert!(stdout.contains("listed 30, fetched 0"), "{stdout}");
    assert_eq!(s.jsonl(), first);
    assert_eq!(s.sqlite_ids(), ids);
}

#[test]
fn a_certificate_from_an_unknown_ca_is_refused() {
    let s = Setup::new();
    s.dovecot.seed(USER, &beta_replies()).unwrap();
    let rogue = Tls::rogue_ca(s.dir.path()).unwrap();
    let cfg = s.config(
        s.dovecot.tls_port(),
        "implicit",
        &rogue,
        "retention = \"delete\"",
    );
    let out = s.once(&cfg);
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("beta: FAILED"), "{stdout}");
    assert!(
        stdout.contains("not trusted") && stdout.contains("ca_file"),
        "{stdout}"
    );
    assert!(s.jsonl().is_empty());
    assert_eq!(s.count(), beta_replies().len());
}

#[test]
fn plaintext_login_is_refused() {
    let s = Setup::new();
    s.dovecot.seed(USER, &beta_replies()).unwrap();
    // Without allow_plaintext the config itself is refused.
    let cfg = s.config(s.dovecot.plain_port(), "none", s.dovecot.ca_pem(), "");
    let out = s.once(&cfg);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("allow_plaintext"));

    // Allowed by the operator, but the server (not same-address loopback)
    // offers no plaintext login: a clear failure naming TLS, nothing deleted.
    let cfg = s.config(
        s.dovecot.nonlocal_plain_port(),
        "none",
        s.dovecot.ca_pem(),
        "allow_plaintext = true\nretention = \"delete\"",
    );
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("host = \"127.0.0.1\"", "host = \"127.0.0.2\"");
    std::fs::write(&cfg, text).unwrap();
    let out = s.once(&cfg);
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("FAILED") && stdout.contains("not TLS"),
        "{stdout}"
    );
    assert_eq!(s.count(), beta_replies().len());
}
