//! Notices to testers end to end: popline polls a real Dovecot, queues
//! notices with the outcomes and submits them to a real Postfix (STARTTLS
//! with the test CA, XOAUTH2 checked by Dovecot's auth service against the
//! identity stand-in, as POP logins are), which delivers them into
//! maildirs read here.
//!
//! Postfix's master process needs root: without it (or without Postfix or
//! Dovecot installed) each test says what it did not test and passes.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use popline_testkit::idp::SMTP_APP_ROLE;
use popline_testkit::{
    App, Dovecot, DovecotOptions, Idp, IdpOptions, Postfix, PostfixOptions, which_dovecot,
    which_postfix,
};

use crate::sinks::{Endpoint, HttpServer};
use crate::support;
use crate::support::scripted::{Script, ScriptedServer};
use crate::support::{expect_ok, text};

const USER: &str = "replies@beta.example.com";
const OTHER: &str = "other@beta.example.com";
const SENDER: &str = "99999999-8888-4777-8666-555555555555";
/// An app whose SMTP.SendAsApp consent was revoked (POP only).
const NO_SMTP: &str = "77777777-8888-4777-8666-555555555555";
const SECRET: &str = "daemon-secret~with+chars";
/// A public client: delegated sign-in (device code).
const DESKTOP: &str = "11111111-2222-4333-8444-555555555555";
const KEY: &str = "0123456789abcdef0123456789abcdef";
const TESTERS: &[&str] = &[
    "dana@example.org",
    "eve@example.org",
    "frank@example.org",
    "gina@example.org",
    "hank@example.org",
];

/// Whether these tests can run here; if not, say what is not tested.
fn can_run(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let why = if !root {
        "Postfix's master process needs root"
    } else if which_postfix().is_none() {
        "Postfix is not installed (apt-get install postfix)"
    } else if which_dovecot().is_none() {
        "Dovecot is not installed"
    } else {
        return true;
    };
    eprintln!(
        "SKIPPED notices::{test}: {why}; NOT TESTED: notices submitted by SMTP to a real Postfix"
    );
    false
}

struct Env {
    idp: Idp,
    dovecot: Dovecot,
    postfix: Postfix,
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        let idp = Idp::start(
            IdpOptions::default()
                .user(USER)
                .domain("beta.example.com")
                .app(App {
                    roles: vec!["POP.AccessAsApp".into(), SMTP_APP_ROLE.into()],
                    ..App::new(SENDER).secret(SECRET)
                })
                .app(App::new(NO_SMTP).secret(SECRET))
                .app(App::new(DESKTOP)),
        )
        .unwrap();
        let dovecot = Dovecot::start(
            DovecotOptions::default()
                .user(USER, "pw-replies")
                .user(OTHER, "pw-other")
                .oauth2_introspection_url(idp.introspection_url())
                .smtp_auth(true),
        )
        .unwrap();
        let postfix = Postfix::start(PostfixOptions {
            auth_port: dovecot.auth_port().unwrap(),
            recipients: TESTERS.iter().map(|t| t.to_string()).collect(),
        })
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("secret"), SECRET).unwrap();
        std::fs::write(dir.path().join("pw-replies"), "pw-replies").unwrap();
        std::fs::write(dir.path().join("pw-other"), "pw-other").unwrap();
        Env {
            idp,
            dovecot,
            postfix,
            dir,
        }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// Mailbox `beta` (the reference mapper, signed tokens checked) and
    /// mailbox `flaky` (a mapper that always fails), both sending notices
    /// through `[notices.smtp]` as app `client_id`.
    fn config(&self, client_id: &str, notices: &str) -> PathBuf {
        self.config_with(
            &format!(
                "flow = \"client-credentials\"\nclient_id = \"{client_id}\"\nclient_secret = {{ file = \"secret\" }}"
            ),
            notices,
        )
    }

    /// [`Env::config`] with `oauth` as the notices server's OAuth settings
    /// (beyond authority and tenant).
    fn config_with(&self, oauth: &str, notices: &str) -> PathBuf {
        let mailbox = |name: &str, user: &str, pw: &str, mapper: &str| {
            format!(
                r#"[mailboxes.{name}]
host = "localhost"
port = {port}
ca_file = "{ca}"
user = "{user}"
password = {{ file = "{pw}" }}
dialogue = "{dialogue}"
mapper = {mapper}
sinks = ["out"]
max_message_mib = 1
notices = {notices}
"#,
                port = self.dovecot.tls_port(),
                ca = self.dovecot.ca_pem().display(),
                dialogue = support::plugin("pop3-standard").display(),
            )
        };
        let mailboxes = format!(
            "{}\n{}",
            mailbox(
                "beta",
                USER,
                "pw-replies",
                &format!(
                    "{{ plugin = \"{}\", config = {{ token-keys = \"{KEY}\" }} }}",
                    support::plugin("feedback-default").display()
                )
            ),
            mailbox(
                "flaky",
                OTHER,
                "pw-other",
                &format!(
                    "{{ plugin = \"{}\", config = {{ mode = \"error\" }} }}",
                    support::plugin("test-mapper").display()
                )
            ),
        );
        self.config_text(oauth, &mailboxes)
    }

    /// The configuration: state, sink `out`, `[notices.smtp]` with `oauth`
    /// as its OAuth settings (beyond authority and tenant), then `rest`.
    fn config_text(&self, oauth: &str, rest: &str) -> PathBuf {
        let text = format!(
            r#"[state]
path = "state.db"
[sinks.out]
type = "jsonl"
path = "feedback.jsonl"

[notices.smtp]
host = "127.0.0.1"
port = {smtp}
ca_file = "{smtp_ca}"
from = "Lumen beta <{USER}>"
retry_initial = "1s"
retry_max = "1s"
max_attempts = 3

[notices.smtp.oauth]
authority = "{authority}"
tenant = "{tenant}"
{oauth}

{rest}"#,
            smtp = self.postfix.port(),
            smtp_ca = self.postfix.ca_pem().display(),
            authority = self.idp.base_url(),
            tenant = self.idp.tenant(),
        );
        let p = self.path("popline.toml");
        std::fs::write(&p, text).unwrap();
        p
    }

    fn popline(&self, config: &Path, args: &[&str]) -> Output {
        let out = support::popline()
            .arg("--config")
            .arg(config)
            .args(args)
            .output()
            .unwrap();
        // No credential ever reaches the output.
        let all = text(&out);
        assert!(!all.contains(SECRET), "{all}");
        assert!(!all.contains("Bearer"), "{all}");
        out
    }

    /// What was delivered to `to`, once Postfix delivered all it accepted.
    fn delivered(&self, to: &str) -> Vec<String> {
        self.postfix.settle(Duration::from_secs(30)).unwrap();
        self.postfix
            .delivered(to)
            .unwrap()
            .into_iter()
            .map(|m| String::from_utf8_lossy(&m).into_owned())
            .collect()
    }
}

/// The value of header `name` in a delivered message.
fn header(msg: &str, name: &str) -> Option<String> {
    let head = msg.split("\n\n").next().unwrap_or_default();
    head.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name)
            .then(|| v.trim().trim_end_matches('\r').to_string())
    })
}

/// A reply from `from` with a Message-ID of `<id@example.org>`.
fn reply(from: &str, id: &str, to: &str, extra: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Tester <{from}>\r\nTo: {to}\r\nSubject: Re: Your beta ({id})\r\n\
         Message-ID: <{id}@example.org>\r\nDate: Thu, 5 Mar 2026 09:30:52 +0000\r\n{extra}\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

/// A reply address with a token for FB-1042 to `recipient` that expired in
/// 2020 (signed with the library: `popline token mint` refuses that).
fn expired_reply_address(recipient: &str) -> String {
    let token =
        popline_reply_token::mint("FB-1042", recipient, 1_577_836_800, KEY.as_bytes()).unwrap();
    format!("replies+{token}@beta.example.com")
}

/// `popline token mint`: a signed reply address for FB-1042 to
/// `recipient`, valid for `expires_in`.
fn reply_address(recipient: &str, expires_in: &str) -> String {
    let out = support::popline()
        .args([
            "token",
            "mint",
            "--id",
            "FB-1042",
            "--recipient",
            recipient,
            "--expires-in",
            expires_in,
            "--address",
            USER,
            "--keys",
            KEY,
        ])
        .output()
        .unwrap();
    expect_ok(&out).trim().to_string()
}

#[test]
fn a_notice_for_each_reason_and_none_to_machines_or_the_mailbox() {
    if !can_run("a_notice_for_each_reason_and_none_to_machines_or_the_mailbox") {
        return;
    }
    let env = Env::new();
    let big = format!("Screenshots inline.\r\n{}", "x".repeat(76).repeat(15_000));
    env.dovecot
        .seed(
            USER,
            &[
                reply(
                    "dana@example.org",
                    "nomatch",
                    USER,
                    "",
                    "I like the new icons.",
                ),
                reply(
                    "eve@example.org",
                    "expired",
                    &expired_reply_address("eve@example.org"),
                    "",
                    "Still broken for me.",
                ),
                reply(
                    "frank@example.org",
                    "ooo",
                    USER,
                    "Auto-Submitted: auto-replied\r\n",
                    "I am out of the office.",
                ),
                reply(
                    "frank@example.org",
                    "newsletter",
                    USER,
                    "Precedence: bulk\r\nList-Id: <news.example.org>\r\n",
                    "Our newsletter.",
                ),
                reply(USER, "self", USER, "", "A note to self."),
                reply("gina@example.org", "big", USER, "", &big),
            ],
        )
        .unwrap();
    env.dovecot
        .seed(
            OTHER,
            &[reply(
                "hank@example.org",
                "broken",
                OTHER,
                "",
                "Crash log attached.",
            )],
        )
        .unwrap();
    let cfg = env.config(SENDER, r#"{ via = "smtp" }"#);
    let said = expect_ok(&env.popline(&cfg, &["once"]));
    assert!(
        said.contains("notices: sent 4, to retry 0, failed 0"),
        "{said}\n{}\n{}",
        text(&env.popline(&cfg, &["notices", "list"])),
        std::fs::read_to_string(env.path("feedback.jsonl")).unwrap_or_default()
    );

    for (to, id, reason, words) in [
        (
            "dana@example.org",
            "nomatch",
            "no-match",
            "could not tell which feedback request",
        ),
        ("eve@example.org", "expired", "expired-token", "has expired"),
        ("gina@example.org", "big", "oversize", "too large"),
        ("hank@example.org", "broken", "dead-letter", "set aside"),
    ] {
        let got = env.delivered(to);
        assert_eq!(got.len(), 1, "{to}: {got:?}");
        let m = &got[0];
        assert_eq!(
            header(m, "Auto-Submitted").as_deref(),
            Some("auto-replied"),
            "{m}"
        );
        assert_eq!(
            header(m, "In-Reply-To"),
            Some(format!("<{id}@example.org>")),
            "{m}"
        );
        assert_eq!(
            header(m, "References"),
            Some(format!("<{id}@example.org>")),
            "{m}"
        );
        assert_eq!(
            header(m, "Subject"),
            Some(format!("Re: Re: Your beta ({id})")),
            "{m}"
        );
        let mid = header(m, "Message-ID").unwrap();
        assert!(
            mid.starts_with(&format!("<popline-notice.{reason}."))
                && mid.ends_with("@beta.example.com>"),
            "{mid}"
        );
        assert!(
            m.replace("=\r\n", "").replace("=\n", "").contains(words),
            "{to}: {m}"
        );
    }
    // Nothing to the auto-reply, the list mail or the mailbox itself.
    assert!(env.delivered("frank@example.org").is_empty());
    let list = expect_ok(&env.popline(&cfg, &["notices", "list"]));
    assert_eq!(
        list.lines().filter(|l| l.starts_with("sent")).count(),
        4,
        "{list}"
    );
    // A second pass queues nothing new and sends nothing again.
    let again = expect_ok(&env.popline(&cfg, &["once"]));
    assert!(!again.contains("notices:"), "{again}");
    let status = expect_ok(&env.popline(&cfg, &["status"]));
    assert!(
        status.contains("notices: sent 3, pending 0, suppressed 0, FAILED 0"),
        "{status}"
    );
}

#[test]
fn at_most_three_notices_a_day_to_one_tester() {
    if !can_run("at_most_three_notices_a_day_to_one_tester") {
        return;
    }
    let env = Env::new();
    let replies: Vec<Vec<u8>> = (1..=5)
        .map(|i| {
            reply(
                "dana@example.org",
                &format!("again-{i}"),
                USER,
                "",
                "Hello?",
            )
        })
        .collect();
    env.dovecot.seed(USER, &replies).unwrap();
    let cfg = env.config(SENDER, r#"{ via = "smtp", on = ["no-match"] }"#);
    let said = expect_ok(&env.popline(&cfg, &["once"]));
    assert!(said.contains("notices: sent 3,"), "{said}");
    assert_eq!(env.delivered("dana@example.org").len(), 3);
    let list = expect_ok(&env.popline(&cfg, &["notices", "list", "--status", "suppressed"]));
    assert_eq!(
        list.lines().filter(|l| l.starts_with("suppressed")).count(),
        2,
        "{list}"
    );
}

#[test]
fn a_postfix_outage_delays_the_notice_not_the_ingestion() {
    if !can_run("a_postfix_outage_delays_the_notice_not_the_ingestion") {
        return;
    }
    let env = Env::new();
    env.dovecot
        .seed(
            USER,
            &[
                reply("dana@example.org", "during-outage", USER, "", "Hi"),
                reply("eve@example.org", "also-during-outage", USER, "", "Hi"),
            ],
        )
        .unwrap();
    let cfg = env.config(SENDER, r#"{ via = "smtp" }"#);
    env.postfix.stop();
    let said = expect_ok(&env.popline(&cfg, &["once"]));
    assert!(said.contains("skipped 2"), "{said}");
    // One connection attempt per round: the second notice was not tried.
    assert!(
        said.contains("notices: sent 0, to retry 1, failed 0"),
        "{said}"
    );
    let list = expect_ok(&env.popline(&cfg, &["notices", "list"]));
    assert!(
        list.contains("pending") && list.contains("last error"),
        "{list}"
    );
    env.postfix.restart().unwrap();
    // Due after the backoff (retry_initial = 1s): send until it goes.
    let mut rounds = 0;
    while env.delivered("dana@example.org").len() + env.delivered("eve@example.org").len() < 2 {
        let sent = expect_ok(&env.popline(&cfg, &["notices", "send"]));
        rounds += 1;
        assert!(rounds < 40, "never sent: {sent}");
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(env.delivered("dana@example.org").len(), 1);
    assert_eq!(env.delivered("eve@example.org").len(), 1);
    let none = expect_ok(&env.popline(&cfg, &["notices", "send"]));
    assert!(none.contains("notices: sent 0,"), "{none}");
}

#[test]
fn a_crash_around_sending_repeats_at_most_one_copy_with_the_same_message_id() {
    if !can_run("a_crash_around_sending_repeats_at_most_one_copy_with_the_same_message_id") {
        return;
    }
    let env = Env::new();
    env.dovecot
        .seed(
            USER,
            &[
                reply("dana@example.org", "crash-after", USER, "", "One"),
                reply("eve@example.org", "crash-before", USER, "", "Two"),
            ],
        )
        .unwrap();
    let cfg = env.config(SENDER, r#"{ via = "smtp" }"#);
    let crash = |point: &str| {
        let out = support::popline()
            .arg("--config")
            .arg(&cfg)
            .arg("once")
            .env("POPLINE_FAILPOINT", point)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{point}: {}", text(&out));
    };
    // Killed after the server's 250, before the outbox says sent: the next
    // round sends it again, with the same Message-ID.
    crash("notice-after-send");
    let first = env
        .postfix
        .wait_delivered("dana@example.org", 1, Duration::from_secs(10))
        .unwrap();
    // Killed before sending: the next round sends it once.
    crash("notice-before-send@1");
    expect_ok(&env.popline(&cfg, &["notices", "send"]));
    let dana = env
        .postfix
        .wait_delivered("dana@example.org", 2, Duration::from_secs(10))
        .unwrap();
    let ids: Vec<Option<String>> = dana
        .iter()
        .map(|m| header(&String::from_utf8_lossy(m), "Message-ID"))
        .collect();
    assert_eq!(ids[0], ids[1], "the resend carries the same Message-ID");
    assert_eq!(first.len(), 1);
    assert_eq!(env.delivered("eve@example.org").len(), 1);
    expect_ok(&env.popline(&cfg, &["notices", "send"]));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(env.delivered("dana@example.org").len(), 2);
    assert_eq!(env.delivered("eve@example.org").len(), 1);
}

#[test]
fn a_revoked_smtp_consent_fails_the_notice_with_the_fix() {
    if !can_run("a_revoked_smtp_consent_fails_the_notice_with_the_fix") {
        return;
    }
    let env = Env::new();
    env.dovecot
        .seed(
            USER,
            &[reply("dana@example.org", "no-consent", USER, "", "Hi")],
        )
        .unwrap();
    let cfg = env.config(NO_SMTP, r#"{ via = "smtp" }"#);
    let said = expect_ok(&env.popline(&cfg, &["once"]));
    assert!(
        said.contains("notices: sent 0, to retry 0, failed 1"),
        "{said}"
    );
    assert!(env.delivered("dana@example.org").is_empty());
    let list = expect_ok(&env.popline(&cfg, &["notices", "list", "--status", "failed"]));
    // Dovecot (as Google) answers a refused XOAUTH2 token with an error
    // challenge rather than 535; Exchange's 535 5.7.x is unit-tested.
    assert!(list.contains("the token was refused"), "{list}");
    assert!(list.contains("SMTP.SendAsApp with admin consent"), "{list}");
    let status = expect_ok(&env.popline(&cfg, &["status"]));
    assert!(
        status.contains("FAILED 1 (popline notices list"),
        "{status}"
    );
    // Consent granted again (here: the app that has it): retry sends it.
    let fixed = env.config(SENDER, r#"{ via = "smtp" }"#);
    let retried = expect_ok(&env.popline(&fixed, &["notices", "retry"]));
    assert!(
        retried.contains("1 notice(s) queued again") && retried.contains("sent 1"),
        "{retried}"
    );
    assert_eq!(env.delivered("dana@example.org").len(), 1);
}

#[test]
fn acknowledgements_name_the_item_and_the_daemon_sends_on_its_own() {
    if !can_run("acknowledgements_name_the_item_and_the_daemon_sends_on_its_own") {
        return;
    }
    let env = Env::new();
    env.dovecot
        .seed(
            USER,
            &[reply(
                "dana@example.org",
                "thanks",
                &reply_address("dana@example.org", "90d"),
                "",
                "Works now.",
            )],
        )
        .unwrap();
    let cfg = env.config(
        SENDER,
        r#"{ via = "smtp", acknowledge = true, subject = "[{mailbox}] {reason_code}: {feedback_id}" }"#,
    );
    let mut daemon = support::popline()
        .arg("--config")
        .arg(&cfg)
        .arg("run")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let got = env
        .postfix
        .wait_delivered("dana@example.org", 1, Duration::from_secs(30));
    // SAFETY: kill has no memory-safety preconditions; the child is ours.
    unsafe { libc::kill(daemon.id() as libc::pid_t, libc::SIGTERM) };
    daemon.wait().unwrap();
    let got = got.unwrap();
    let m = String::from_utf8_lossy(&got[0]);
    assert_eq!(
        header(&m, "Subject").as_deref(),
        Some("[beta] acknowledged: FB-1042"),
        "{m}"
    );
    assert!(m.contains("It was added to FB-1042."), "{m}");
    assert!(
        std::fs::read_to_string(env.path("feedback.jsonl"))
            .unwrap()
            .contains("FB-1042")
    );
}

#[test]
fn a_delegated_sign_in_for_smtp_send() {
    if !can_run("a_delegated_sign_in_for_smtp_send") {
        return;
    }
    let env = Env::new();
    env.dovecot
        .seed(
            USER,
            &[reply("dana@example.org", "delegated", USER, "", "Hi")],
        )
        .unwrap();
    let cfg = env.config_with(
        &format!("flow = \"device-code\"\nclient_id = \"{DESKTOP}\""),
        r#"{ via = "smtp" }"#,
    );
    // Before signing in: the notice waits, saying what to run.
    let said = text(&env.popline(&cfg, &["once"]));
    assert!(
        said.contains("notices: sent 0, to retry 0, failed 1"),
        "{said}"
    );
    let list = expect_ok(&env.popline(&cfg, &["notices", "list"]));
    assert!(list.contains("popline auth login notices.smtp"), "{list}");

    let before = env.idp.latest_user_code();
    let mut login = support::popline()
        .arg("--config")
        .arg(&cfg)
        .args(["auth", "login", "notices.smtp", "--device"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    env.idp
        .approve_next_device(before.as_deref(), USER)
        .unwrap();
    assert!(login.wait().unwrap().success());
    let cache = std::fs::read_to_string(env.path("tokens/notices-smtp.json")).unwrap();
    assert!(cache.contains("SMTP.Send"), "{cache}");

    let retried = expect_ok(&env.popline(&cfg, &["notices", "retry"]));
    assert!(retried.contains("sent 1"), "{retried}");
    assert_eq!(env.delivered("dana@example.org").len(), 1);
}

/// A fleet sends notices too: `popline once` on PostgreSQL state queues the
/// no-match notice with the outcome; a notice that failed for good (consent
/// missing) is listed from the database and, once fixed, `popline notices
/// retry` sends it through Postfix, once.
#[test]
fn notices_with_postgres_state() {
    if !can_run("notices_with_postgres_state") {
        return;
    }
    let env = Env::new();
    let pg = crate::fleet::database();
    env.dovecot
        .seed(
            USER,
            &[reply(
                "dana@example.org",
                "fleet",
                USER,
                "",
                "I like the new icons.",
            )],
        )
        .unwrap();
    std::fs::write(env.path("pg-url"), pg.url("fleet")).unwrap();
    let config = |client_id: &str| {
        let cfg = env.config(client_id, r#"{ via = "smtp" }"#);
        let text = std::fs::read_to_string(&cfg).unwrap().replacen(
            "[state]\n",
            "[state]\nbackend = \"postgres\"\nurl = { file = \"pg-url\" }\n",
            1,
        );
        std::fs::write(&cfg, text).unwrap();
        cfg
    };

    let revoked = config(NO_SMTP);
    let said = expect_ok(&env.popline(&revoked, &["once"]));
    assert!(
        said.contains("notices: sent 0, to retry 0, failed 1"),
        "{said}"
    );
    let list = expect_ok(&env.popline(&revoked, &["notices", "list", "--status", "failed"]));
    assert!(
        list.contains("dana@example.org") && list.contains("SMTP.SendAsApp with admin consent"),
        "{list}"
    );

    let cfg = config(SENDER);
    let retried = expect_ok(&env.popline(&cfg, &["notices", "retry"]));
    assert!(
        retried.contains("1 notice(s) queued again") && retried.contains("sent 1"),
        "{retried}"
    );
    let got = env.delivered("dana@example.org");
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        header(&got[0], "In-Reply-To").as_deref(),
        Some("<fleet@example.org>")
    );
    assert!(
        header(&got[0], "Message-ID")
            .unwrap()
            .starts_with("<popline-notice.no-match."),
        "{}",
        got[0]
    );
    let list = expect_ok(&env.popline(&cfg, &["notices", "list"]));
    assert_eq!(
        list.lines().filter(|l| l.starts_with("sent")).count(),
        1,
        "{list}"
    );
    let status = expect_ok(&env.popline(&cfg, &["status"]));
    assert!(
        status.contains("notices: sent 1, pending 0, suppressed 0, FAILED 0"),
        "{status}"
    );
    // Nothing is sent twice.
    let again = expect_ok(&env.popline(&cfg, &["notices", "send"]));
    assert!(again.contains("notices: sent 0,"), "{again}");
    assert_eq!(env.delivered("dana@example.org").len(), 1);
}

/// `popline check --connect` logs in to the notice server too (STARTTLS,
/// XOAUTH2 through the token manager) and sends nothing; a login the
/// server refuses fails the check with the fix, exit 77.
#[test]
fn check_connect_logs_in_to_the_notice_server_and_sends_nothing() {
    if !can_run("check_connect_logs_in_to_the_notice_server_and_sends_nothing") {
        return;
    }
    let env = Env::new();
    // An app without SMTP consent: the token is refused.
    let revoked = env.config(NO_SMTP, r#"{ via = "smtp" }"#);
    let out = env.popline(&revoked, &["check", "--connect"]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(77), "{said}");
    assert!(
        said.contains("notices.smtp: FAILED") && said.contains("SMTP.SendAsApp with admin consent"),
        "{said}"
    );

    let cfg = env.config(SENDER, r#"{ via = "smtp" }"#);
    let said = expect_ok(&env.popline(&cfg, &["check", "--connect"]));
    let line = said
        .lines()
        .find(|l| l.starts_with("notices.smtp: "))
        .unwrap_or_else(|| panic!("{said}"));
    assert!(
        line.contains(&format!("127.0.0.1:{} over STARTTLS", env.postfix.port()))
            && line.contains(&format!("logged in as {USER} with XOAUTH2"))
            && line.contains("nothing sent"),
        "{said}"
    );
    assert!(said.contains("beta: logged in"), "{said}");
    for t in TESTERS {
        assert!(env.delivered(t).is_empty(), "{t}");
    }
}

/// A reply whose record a sink refuses for good is dead-lettered and its
/// sender told so; a reply whose `RETR` outgrows `max_message_mib` although
/// LIST said it was small is left on the server and its sender told it was
/// too large (its headers read from what arrived before the cut).
#[test]
fn a_notice_when_a_sink_refuses_the_record_or_retr_outgrows_list() {
    if !can_run("a_notice_when_a_sink_refuses_the_record_or_retr_outgrows_list") {
        return;
    }
    let env = Env::new();
    let big = format!("Screenshots inline.\r\n{}", "x".repeat(76).repeat(15_000));
    let liar = ScriptedServer::spawn(
        Script {
            list_size: Some(10),
            ..Script::login(USER, "pw-replies")
        },
        vec![reply("gina@example.org", "understated", USER, "", &big)],
    );
    let refusing = ScriptedServer::spawn(
        Script::login(OTHER, "pw-other"),
        vec![reply(
            "dana@example.org",
            "refused",
            OTHER,
            "",
            "Crash log attached.",
        )],
    );
    let port = support::free_port();
    let endpoint = std::sync::Arc::new(std::sync::Mutex::new(Endpoint::rejecting(1)));
    let _http = HttpServer::start(port, endpoint.clone());
    let mailbox = |name: &str, port: u16, user: &str, pw: &str, sink: &str| {
        format!(
            r#"[mailboxes.{name}]
host = "127.0.0.1"
port = {port}
tls = "none"
allow_plaintext = true
user = "{user}"
password = {{ file = "{pw}" }}
dialogue = "{dialogue}"
mapper = {{ plugin = "{mapper}", config = {{ unmatched = "new" }} }}
sinks = ["{sink}"]
max_message_mib = 1
notices = {{ via = "smtp" }}
"#,
            dialogue = support::plugin("pop3-standard").display(),
            mapper = support::plugin("feedback-default").display(),
        )
    };
    let cfg = env.config_text(
        &format!(
            "flow = \"client-credentials\"\nclient_id = \"{SENDER}\"\nclient_secret = {{ file = \"secret\" }}"
        ),
        &format!(
            "[sinks.api]\ntype = \"http\"\nurl = \"http://127.0.0.1:{port}/feedback\"\n\
             timeout_secs = 2\nmax_attempts = 1\n\n{}\n{}",
            mailbox("liar", liar.port, USER, "pw-replies", "out"),
            mailbox("refusing", refusing.port, OTHER, "pw-other", "api"),
        ),
    );
    // The cut-off RETR ends the liar's session (a failed pass); the notices
    // are sent all the same.
    let said = text(&env.popline(&cfg, &["once"]));
    assert!(
        said.contains("notices: sent 2, to retry 0, failed 0"),
        "{said}"
    );
    for (to, id, reason, words) in [
        ("gina@example.org", "understated", "oversize", "too large"),
        ("dana@example.org", "refused", "dead-letter", "set aside"),
    ] {
        let got = env.delivered(to);
        assert_eq!(got.len(), 1, "{to}: {got:?}");
        let m = &got[0];
        assert_eq!(
            header(m, "In-Reply-To"),
            Some(format!("<{id}@example.org>")),
            "{m}"
        );
        assert!(
            header(m, "Message-ID")
                .unwrap()
                .starts_with(&format!("<popline-notice.{reason}.")),
            "{m}"
        );
        assert!(
            m.replace("=\r\n", "").replace("=\n", "").contains(words),
            "{to}: {m}"
        );
    }
    assert!(endpoint.lock().unwrap().accepted.is_empty());
    // The next pass leaves the oversized reply on the server and queues
    // nothing new.
    let again = text(&env.popline(&cfg, &["once"]));
    assert!(!again.contains("notices:"), "{again}");
    assert_eq!(liar.remaining(), 1);
}

/// The SMTP scope as the stand-in and Exchange know it.
const SMTP_SEND: &str = "https://outlook.office.com/SMTP.Send";

impl Env {
    /// Mailbox `beta` signing in with OAuth (device code as app DESKTOP;
    /// every use refreshes, so every POP login and every submission rotates
    /// the refresh token), with notices through `[notices.smtp]`, whose
    /// OAuth is `smtp_oauth` (`oauth = ...` or an `[notices.smtp.oauth]`
    /// table).
    fn shared_login_config(&self, smtp_oauth: &str) -> PathBuf {
        let text = format!(
            r#"[state]
path = "state.db"
[sinks.out]
type = "jsonl"
path = "feedback.jsonl"

[mailboxes.beta]
host = "localhost"
port = {port}
ca_file = "{ca}"
user = "{USER}"
dialogue = "{dialogue}"
mapper = {{ plugin = "{mapper}", config = {{ token-keys = "{KEY}" }} }}
sinks = ["out"]
notices = {{ via = "smtp" }}

[mailboxes.beta.oauth]
{oauth}

[notices.smtp]
host = "127.0.0.1"
port = {smtp}
ca_file = "{smtp_ca}"
from = "Lumen beta <{USER}>"
retry_initial = "1s"
retry_max = "1s"
max_attempts = 20
{smtp_oauth}
"#,
            oauth = self.delegated_oauth(DESKTOP),
            port = self.dovecot.tls_port(),
            ca = self.dovecot.ca_pem().display(),
            dialogue = support::plugin("pop3-standard").display(),
            mapper = support::plugin("feedback-default").display(),
            smtp = self.postfix.port(),
            smtp_ca = self.postfix.ca_pem().display(),
        );
        let p = self.path("popline.toml");
        std::fs::write(&p, text).unwrap();
        p
    }

    /// The lines of a delegated oauth table for `client_id` on the stand-in.
    fn delegated_oauth(&self, client_id: &str) -> String {
        format!(
            "authority = \"{}\"\ntenant = \"{}\"\nflow = \"device-code\"\nclient_id = \"{client_id}\"\nrefresh_margin = \"2h\"",
            self.idp.base_url(),
            self.idp.tenant(),
        )
    }

    /// `popline auth login NAME --device`, approved as USER; its output.
    fn device_login(&self, config: &Path, name: &str) -> String {
        let before = self.idp.latest_user_code();
        let login = support::popline()
            .arg("--config")
            .arg(config)
            .args(["auth", "login", name, "--device"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        self.idp
            .approve_next_device(before.as_deref(), USER)
            .unwrap();
        expect_ok(&login.wait_with_output().unwrap())
    }

    /// The refresh requests so far: (whether for SMTP, the refresh token sent).
    fn refreshes(&self) -> Vec<(bool, String)> {
        self.idp
            .requests()
            .into_iter()
            .filter(|r| r.field("grant_type") == Some("refresh_token"))
            .map(|r| {
                let scope = r.field("scope").unwrap_or_default();
                assert!(
                    scope.contains("SMTP.Send") != scope.contains("POP.AccessAsUser.All"),
                    "one service's scopes per refresh: {scope}"
                );
                (
                    scope.contains("SMTP.Send"),
                    r.field("refresh_token").unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    fn token_cache(&self, name: &str) -> serde_json::Value {
        let path = self.path(&format!("tokens/{name}.json"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }
}

/// One sign-in serves a mailbox's POP logins and its notice server's SMTP
/// submission (`oauth = { mailbox = "beta" }`): the device code asks for
/// both scopes; then every POP login and every submission refreshes, each
/// with the refresh token the one before rotated, in either order (POP then
/// SMTP in a pass; SMTP alone while Postfix was down; then POP again). Two
/// sign-ins or two refresh tokens would fail here: the SMTP side would
/// have no token, or redeem a rotated one (AADSTS70000) and wait for a
/// sign-in, and the notices would not go.
#[test]
fn one_sign_in_serves_pop_and_smtp_through_every_rotation() {
    if !can_run("one_sign_in_serves_pop_and_smtp_through_every_rotation") {
        return;
    }
    let env = Env::new();
    let cfg = env.shared_login_config(r#"oauth = { mailbox = "beta" }"#);
    let said = env.device_login(&cfg, "notices.smtp");
    assert!(
        said.contains("one sign-in for beta and notices.smtp"),
        "{said}"
    );
    let asked = env
        .idp
        .requests()
        .into_iter()
        .find_map(|r| {
            (r.endpoint == popline_testkit::idp::Endpoint::DeviceCode)
                .then(|| r.field("scope").unwrap_or_default().to_string())
        })
        .unwrap();
    for scope in ["POP.AccessAsUser.All", "SMTP.Send", "offline_access"] {
        assert!(asked.contains(scope), "{asked}");
    }
    // One account, one file: the mailbox's.
    assert!(!env.path("tokens/notices-smtp.json").exists());
    let cache = env.token_cache("beta");
    assert_eq!(cache["format"], 2);
    assert_eq!(cache["client_id"], DESKTOP);
    assert!(
        cache["signed_in_for"].as_str().unwrap().contains(SMTP_SEND),
        "{cache}"
    );

    // POP, then SMTP.
    env.dovecot
        .seed(USER, &[reply("dana@example.org", "rot-1", USER, "", "Hi")])
        .unwrap();
    let said = expect_ok(&env.popline(&cfg, &["once"]));
    assert!(said.contains("notices: sent 1, to retry 0"), "{said}");
    assert_eq!(env.delivered("dana@example.org").len(), 1);

    // POP, then SMTP without Postfix (the token is got, the send waits);
    // then SMTP alone until it goes.
    env.postfix.stop();
    env.dovecot
        .seed(USER, &[reply("eve@example.org", "rot-2", USER, "", "Hi")])
        .unwrap();
    let said = expect_ok(&env.popline(&cfg, &["once"]));
    assert!(said.contains("notices: sent 0, to retry 1"), "{said}");
    env.postfix.restart().unwrap();
    let mut rounds = 0;
    while env.delivered("eve@example.org").is_empty() {
        let sent = expect_ok(&env.popline(&cfg, &["notices", "send"]));
        rounds += 1;
        assert!(rounds < 40, "never sent: {sent}");
        std::thread::sleep(Duration::from_millis(250));
    }

    // POP again after SMTP, then SMTP.
    env.dovecot
        .seed(USER, &[reply("frank@example.org", "rot-3", USER, "", "Hi")])
        .unwrap();
    let said = expect_ok(&env.popline(&cfg, &["once"]));
    assert!(said.contains("beta: listed 3, fetched 1"), "{said}");
    assert!(said.contains("notices: sent 1, to retry 0"), "{said}");
    assert_eq!(env.delivered("frank@example.org").len(), 1);

    // One chain: each refresh sent a refresh token never sent before (the
    // one the previous refresh returned), for POP and SMTP in both orders.
    let refreshes = env.refreshes();
    let order: String = refreshes
        .iter()
        .map(|(smtp, _)| if *smtp { 'S' } else { 'P' })
        .collect();
    assert!(
        order.contains("PS") && order.contains("SP") && order.contains("SS"),
        "{order}"
    );
    let mut sent: Vec<&str> = refreshes.iter().map(|(_, rt)| rt.as_str()).collect();
    let all = sent.len();
    sent.sort();
    sent.dedup();
    assert_eq!(sent.len(), all, "a refresh token was redeemed twice");
    let cache = env.token_cache("beta");
    assert!(cache.get("needs_login").is_none(), "{cache}");
    let scopes: Vec<&str> = cache["access"]
        .as_object()
        .unwrap()
        .values()
        .map(|a| a["scope"].as_str().unwrap())
        .collect();
    assert!(
        scopes
            .iter()
            .any(|s| s.contains("SMTP.Send") && !s.contains("POP")),
        "{cache}"
    );
    assert!(
        scopes
            .iter()
            .any(|s| s.contains("POP") && !s.contains("SMTP.Send")),
        "{cache}"
    );

    // Status shows the shared sign-in, never a token.
    let status = expect_ok(&env.popline(&cfg, &["auth", "status"]));
    assert!(
        status.contains("shared with") && status.contains("notices.smtp"),
        "{status}"
    );
    assert!(status.contains("shares the sign-in of"), "{status}");
    for a in cache["access"].as_object().unwrap().values() {
        assert!(!status.contains(a["token"].as_str().unwrap()));
    }
}

/// A notice server's own oauth table naming the mailbox's app, tenant,
/// flow and account shares its sign-in without saying so: `popline auth
/// login beta` asks for both scopes, and one refresh token serves both.
/// Another app (another client_id) on the same account does not reuse
/// those tokens: it has its own cache and needs its own sign-in.
#[test]
fn an_identical_oauth_table_shares_the_mailbox_sign_in() {
    if !can_run("an_identical_oauth_table_shares_the_mailbox_sign_in") {
        return;
    }
    let env = Env::new();
    let cfg = env.shared_login_config(&format!(
        "[notices.smtp.oauth]\n{}",
        env.delegated_oauth(DESKTOP)
    ));
    let said = env.device_login(&cfg, "beta");
    assert!(
        said.contains("one sign-in for beta and notices.smtp"),
        "{said}"
    );
    for (i, tester) in ["dana@example.org", "eve@example.org"].iter().enumerate() {
        env.dovecot
            .seed(USER, &[reply(tester, &format!("auto-{i}"), USER, "", "Hi")])
            .unwrap();
        let said = expect_ok(&env.popline(&cfg, &["once"]));
        assert!(said.contains("notices: sent 1, to retry 0"), "{said}");
        assert_eq!(env.delivered(tester).len(), 1);
    }
    assert!(!env.path("tokens/notices-smtp.json").exists());
    assert!(env.refreshes().len() >= 4);

    // Another app for SMTP: not the mailbox's sign-in, not its tokens.
    let other_app = env.shared_login_config(&format!(
        "[notices.smtp.oauth]\n{}",
        env.delegated_oauth(SENDER)
    ));
    env.dovecot
        .seed(
            USER,
            &[reply("frank@example.org", "other-app", USER, "", "Hi")],
        )
        .unwrap();
    let refreshes = env.refreshes().len();
    let said = text(&env.popline(&other_app, &["once"]));
    assert!(said.contains("beta: listed 3, fetched 1"), "{said}");
    assert!(
        said.contains("notices: sent 0, to retry 0, failed 1"),
        "{said}"
    );
    let list = expect_ok(&env.popline(&other_app, &["notices", "list"]));
    assert!(list.contains("popline auth login notices.smtp"), "{list}");
    // Only the mailbox's POP refresh asked anything of the stand-in.
    assert_eq!(env.refreshes().len(), refreshes + 1);
}
