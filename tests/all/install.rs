//! An installed popline: the reference plugins compiled in (`builtin:NAME`,
//! the defaults) and the example configuration the Debian package installs.
//! (`popline plugin new` from a copy of the binary: `scaffold.rs`.)

use std::path::Path;
use std::process::Output;

use popline_testkit::beta_replies;

use crate::ingest::{Setup, USER};
use crate::support;

fn run(what: &str, out: Output) -> (String, String) {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "{what} failed ({})\nstdout: {stdout}\nstderr: {stderr}",
        out.status
    );
    (stdout, stderr)
}

/// `popline check` on `cfg`, which must pass; its stdout.
fn check(cfg: &Path) -> String {
    let out = support::popline()
        .arg("--config")
        .arg(cfg)
        .arg("check")
        .output()
        .unwrap();
    run("popline check", out).0
}

#[test]
fn a_config_without_plugin_keys_polls_dovecot_with_the_builtin_plugins() {
    let s = Setup::new();
    s.dovecot.seed(USER, &beta_replies()).unwrap();
    let seeded = s.count();
    let cfg = s.path("popline.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"
[state]
path = "state.db"

[sinks.jsonl]
type = "jsonl"
path = "feedback.jsonl"

[mailboxes.beta]
host = "127.0.0.1"
port = {port}
ca_file = "{ca}"
user = "{USER}"
password = {{ file = "password" }}
mapper = {{ config = {{ message-id-pattern = "feedback-{{id}}@notify.beta.example.com", unmatched = "new" }} }}
sinks = ["jsonl"]
retention = "delete"
"#,
            port = s.dovecot.tls_port(),
            ca = s.dovecot.ca_pem().display(),
        ),
    )
    .unwrap();
    let stdout = check(&cfg);
    assert!(
        stdout.contains("plugins loaded and type-checked"),
        "{stdout}"
    );
    let (stdout, _) = run("popline once", s.once(&cfg));
    assert!(
        stdout.contains(&format!("beta: listed {seeded}")),
        "{stdout}"
    );
    assert_eq!(s.count(), 0, "every reply committed and deleted: {stdout}");
    let records = s.jsonl();
    assert!(!records.is_empty(), "{stdout}");
    // The builtin mapper's records read as the file's would.
    assert!(
        records.iter().all(|r| r["mapper"] == "feedback_default"),
        "{records:?}"
    );
}

#[test]
fn an_unknown_builtin_is_refused_with_the_known_ones() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("popline.toml");
    std::fs::write(
        &cfg,
        "[sinks.out]\ntype = \"jsonl\"\npath = \"f.jsonl\"\n\n[mailboxes.beta]\nhost = \"pop.example.com\"\nuser = \"u\"\npassword = { env = \"PW\" }\ndialogue = \"builtin:pop3-fancy\"\nsinks = [\"out\"]\n",
    )
    .unwrap();
    let out = support::popline()
        .arg("--config")
        .arg(&cfg)
        .arg("check")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "EX_CONFIG: {stderr}");
    assert!(
        stderr.contains("line 9")
            && stderr.contains("unknown builtin plugin \"pop3-fancy\"")
            && stderr.contains("\"builtin:pop3-standard\", \"builtin:feedback-default\""),
        "{stderr}"
    );
    // The command line says the same.
    let out = support::popline()
        .args(["plugin", "inspect", "builtin:nope"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown builtin plugin \"nope\""),
        "{stderr}"
    );
}

#[test]
fn builtin_plugins_inspect_and_map_from_the_command_line() {
    for (name, world) in [
        ("pop3-standard", "pop3-dialogue"),
        ("feedback-default", "feedback-mapper"),
    ] {
        let (stdout, _) = run(
            "popline plugin inspect",
            support::popline()
                .args(["plugin", "inspect", &format!("builtin:{name}")])
                .output()
                .unwrap(),
        );
        assert!(
            stdout.contains(&format!("plugin:  builtin:{name}"))
                && stdout.contains(&format!("world:   {world}"))
                && stdout.contains("loads in this host"),
            "{stdout}"
        );
    }
    let (stdout, _) = run(
        "popline map",
        support::popline()
            .arg("map")
            .arg(support::example_mail("gmail-reply.eml"))
            .args(["--mapper", "builtin:feedback-default"])
            .args(["--set", "unmatched=new"])
            .output()
            .unwrap(),
    );
    let record: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(record["mapper"], "feedback_default", "{record}");
}

/// The configuration the Debian package installs passes `popline check`
/// (with its state folder moved somewhere writable).
#[test]
fn the_packaged_example_config_passes_check() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(support::root().join("examples/popline.toml")).unwrap();
    assert!(text.contains("/var/lib/popline/state.db"), "{text}");
    let text = text.replace("/var/lib/popline", &dir.path().display().to_string());
    let cfg = dir.path().join("popline.toml");
    std::fs::write(&cfg, text).unwrap();
    let stdout = check(&cfg);
    assert!(stdout.contains("config ok: 1 mailbox(es)"), "{stdout}");
}
