//! Plugins written on the `popline-plugin` SDK (`plugins/sdk`), run by the
//! real binary: a dialogue using every `Pop3Dialogue` default against the
//! scripted server, and the SDK mapper's log facade and config errors.
//! (`test-mapper` is itself an SDK plugin, so the runtime suites exercise the
//! SDK's `Mapper` export too.)

use std::time::Duration;

use crate::support::scenario::{Mailbox, Workspace, replies};
use crate::support::scripted::{Script, ScriptedServer};
use crate::support::{self};

const USER: &str = "replies@beta.example.com";
const PASSWORD: &str = "lumen-beta";
const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn sdk_default_dialogue_and_sdk_mapper_ingest_then_delete() {
    let server = ScriptedServer::spawn(
        Script {
            capa: vec!["USER".into(), "UIDL".into(), "TOP".into()],
            user: USER.into(),
            password: PASSWORD.into(),
            ..Script::default()
        },
        replies("sdk", 3),
    );
    let ws = Workspace::new();
    ws.configure(&[Mailbox::scripted("beta", server.port, USER, PASSWORD)
        .dialogue(support::plugin("sdk-dialogue"), &[])
        .mapper(support::plugin("test-mapper"), &[])
        .with("retention = \"delete\"")]);
    let mut cmd = ws.popline(&["once"]);
    cmd.env("POPLINE_LOG", "warn,plugin=info");
    let out = crate::support::scenario::run(cmd, LIMIT);
    out.assert_success();
    assert!(
        out.line("beta").contains("committed 3 (3 records)"),
        "{out}"
    );
    assert!(
        out.stderr
            .contains(&format!("sdk-dialogue logged in as {USER} with USER")),
        "the plugin's log::info! line reaches the host log:\n{out}"
    );
    let records = ws.jsonl();
    let mut subjects: Vec<_> = records
        .iter()
        .map(|r| r["body_text"].as_str().unwrap().to_string())
        .collect();
    subjects.sort();
    assert_eq!(
        subjects,
        [
            "RE: [LUMEN BETA] ITEM 1001 (SDK)",
            "RE: [LUMEN BETA] ITEM 1002 (SDK)",
            "RE: [LUMEN BETA] ITEM 1003 (SDK)"
        ]
    );
    assert!(
        records
            .iter()
            .all(|r| r["fields"]["mapper"] == "test-mapper")
    );
    // Retention delete went through the SDK's DELE and QUIT defaults.
    assert_eq!(server.remaining(), 0, "{out}");
    let cmds = server.commands();
    assert!(cmds.iter().any(|c| c == "UIDL"), "{cmds:?}");
    assert_eq!(cmds.iter().filter(|c| c.starts_with("DELE")).count(), 3);
    assert_eq!(cmds.last().map(String::as_str), Some("QUIT"), "{cmds:?}");
}

#[test]
fn sdk_mapper_logs_every_level_and_names_missing_config() {
    let mail = support::example_mail("gmail-reply.eml");
    let out = support::popline()
        .env("POPLINE_LOG", "plugin=trace")
        .arg("map")
        .arg(&mail)
        .arg("--mapper")
        .arg(support::plugin("test-mapper"))
        .args(["--set", "mode=log"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    for (level, text) in [
        ("ERROR", "error"),
        ("WARN", "warn"),
        ("INFO", "info"),
        ("DEBUG", "debug"),
        ("TRACE", "trace"),
    ] {
        assert!(
            stderr
                .lines()
                .any(|l| l.contains(level) && l.contains(&format!("sdk log {text}"))),
            "no {level} line:\n{stderr}"
        );
    }

    let out = support::popline()
        .arg("map")
        .arg(&mail)
        .arg("--mapper")
        .arg(support::plugin("test-mapper"))
        .args(["--set", "mode=require"])
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        all.contains("config key \"needed\" is required") && all.contains("--set needed=VALUE"),
        "{all}"
    );
}

#[test]
fn the_sandbox_denies_files_sockets_and_environment() {
    let mail = support::example_mail("gmail-reply.eml");
    let probe = |mode: &str| {
        let out = support::popline()
            .env("HOME", "/root")
            .arg("map")
            .arg(&mail)
            .arg("--mapper")
            .arg(support::plugin("test-mapper"))
            .args(["--set", &format!("mode={mode}")])
            .output()
            .unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    // std::fs and std::net reach WASI functions that trap with a message
    // naming the function.
    let fs = probe("fs");
    assert!(
        fs.contains("wasi:filesystem/preopens@") && fs.contains("which popline does not grant"),
        "{fs}"
    );
    let net = probe("net");
    assert!(
        net.contains("wasi:sockets/") && net.contains("which popline does not grant"),
        "{net}"
    );
    // The environment is linked but empty, whatever the host's is.
    let env = probe("env");
    assert!(
        env.contains(r#""body_text":"env: Err(NotPresent) []""#),
        "{env}"
    );
}
