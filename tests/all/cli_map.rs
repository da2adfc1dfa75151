//! `popline map` and `popline plugin inspect`, run as the real binary.

use std::process::Output;

use serde_json::Value;

use crate::support;

fn run(cmd: &mut std::process::Command) -> Output {
    cmd.output().expect("running popline")
}

fn records(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

fn map(mapper: &std::path::Path, files: &[std::path::PathBuf], sets: &[&str]) -> Output {
    let mut cmd = support::popline();
    cmd.arg("map").args(files).arg("--mapper").arg(mapper);
    cmd.args([
        "--pipeline",
        "beta",
        "--received-at",
        "2026-03-03T10:00:00Z",
    ]);
    for s in sets {
        cmd.args(["--set", s]);
    }
    run(&mut cmd)
}

#[test]
fn map_prints_the_expected_feedback_for_the_sample_replies() {
    let files = [
        "gmail-reply.eml",
        "outlook-reply.eml",
        "html-only-reply.eml",
    ]
    .map(support::example_mail);
    let out = map(
        &support::plugin("feedback-default"),
        &files,
        &["message-id-pattern=feedback-{id}@notify.beta.example.com"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recs = records(&out);
    assert_eq!(recs.len(), 3, "{recs:#?}");
    let summary: Vec<(&str, &str, &str)> = recs
        .iter()
        .map(|r| {
            (
                r["target"].as_str().unwrap(),
                r["match"]["method"].as_str().unwrap(),
                r["kind"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("FB-1042", "plus-address", "reply"),
            ("1043", "in-reply-to", "reply"),
            ("1044", "subject", "reply"),
        ]
    );
    for r in &recs {
        assert_eq!(r["schema"], "popline.feedback/1");
        assert_eq!(r["pipeline"], "beta");
        assert_eq!(r["received_at"], "2026-03-03T10:00:00Z");
        assert_eq!(r["mapper"], "feedback_default");
        assert_eq!(r["id"].as_str().unwrap().len(), 32);
        let body = r["body_text"].as_str().unwrap();
        assert!(!body.is_empty());
        // Quoted history is trimmed off the reply text.
        assert!(!body.contains("wrote:") && !body.contains("\n>"), "{body}");
    }
    // The Outlook reply's quoted block went to elided_text, not lost.
    assert!(recs[1]["elided_text"].as_str().unwrap().contains("From:"));
    // The HTML-only reply's attachment is referenced with its hash.
    let att = &recs[2]["attachments"][0];
    assert_eq!(att["sha256"].as_str().unwrap().len(), 64);

    // Same input, same output: ids are stable across runs.
    let again = records(&map(
        &support::plugin("feedback-default"),
        &files,
        &["message-id-pattern=feedback-{id}@notify.beta.example.com"],
    ));
    assert_eq!(recs, again);
}

/// Swapping the .wasm at the configured path changes behaviour with the same
/// host binary: no rebuild.
#[test]
fn swapping_the_plugin_file_changes_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let slot = dir.path().join("mapper.wasm");
    let files = [support::example_mail("gmail-reply.eml")];

    std::fs::copy(support::plugin("feedback-default"), &slot).unwrap();
    let a = records(&map(&slot, &files, &[]));
    std::fs::copy(support::plugin("test-mapper"), &slot).unwrap();
    let b = records(&map(&slot, &files, &[]));

    assert_eq!(a.len(), 1);
    assert_eq!(b.len(), 1);
    assert_eq!(a[0]["kind"], "reply");
    assert_eq!(b[0]["kind"], "new");
    let subject = a[0]["subject"].as_str().unwrap();
    assert_eq!(b[0]["body_text"].as_str().unwrap(), subject.to_uppercase());
    assert_ne!(a[0]["body_text"], b[0]["body_text"]);
}

#[test]
fn map_reports_failures_per_file_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.eml");
    std::fs::write(&empty, b"").unwrap();
    let good = support::example_mail("gmail-reply.eml");
    let out = map(
        &support::plugin("test-mapper"),
        &[empty.clone(), good],
        &["mode=echo"],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("empty.eml: cannot parse: the message is empty"),
        "{stderr}"
    );
    // The good file after the bad one is still mapped.
    assert_eq!(records(&out).len(), 1);

    let out = map(&support::plugin("test-mapper"), &[empty], &["novalue"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected KEY=VALUE"));
}

#[test]
fn inspect_names_world_version_and_interfaces() {
    let out = run(support::popline()
        .args(["plugin", "inspect"])
        .arg(support::plugin("pop3-standard")));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("world:   pop3-dialogue"), "{text}");
    assert!(
        text.contains("version: popline:plugin@0.1.0 (loads in this host"),
        "{text}"
    );
    assert!(text.contains("popline:plugin/connection@0.1.0"), "{text}");
    assert!(text.contains("popline:plugin/dialogue@0.1.0"), "{text}");
    assert!(text.contains("retrieve"), "{text}");
}

#[test]
fn replay_shows_what_a_candidate_mapper_would_change() {
    let dir = support::root().join("examples/mail");
    let out = run(support::popline()
        .arg("replay")
        .arg(&dir)
        .arg("--mapper")
        .arg(support::plugin("feedback-default"))
        .arg("--against")
        .arg(support::plugin("feedback-default")));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.trim_end().ends_with("summary: same 3"), "{text}");

    let out = run(support::popline()
        .arg("replay")
        .arg(&dir)
        .arg("--mapper")
        .arg(support::plugin("test-mapper"))
        .arg("--against")
        .arg(support::plugin("feedback-default")));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("summary: changed 3"), "{text}");
    assert!(text.contains(".kind: \"reply\" → \"new\""), "{text}");
}

/// `popline map --verbose`: the input the mapper saw, its log lines and
/// stderr, its cost, and the outcome with each record in full.
#[test]
fn map_verbose_reports_input_logs_cost_and_records() {
    let file = support::example_mail("html-only-reply.eml");
    let mut cmd = support::popline();
    cmd.args(["map", "--verbose"])
        .arg(&file)
        .arg("--mapper")
        .arg(support::plugin("feedback-default"))
        .args([
            "--set",
            "message-id-pattern=feedback-{id}@notify.beta.example.com",
        ]);
    let out = run(&mut cmd);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.starts_with("== "), "{text}");
    assert!(text.contains("html-only-reply.eml ("), "{text}");
    for needle in [
        "input (as the mapper received it):",
        "  subject:      ",
        "  html body:    ",
        "  attachments:  1\n    [0] ",
        "  warnings:     none",
        "config: message-id-pattern=\"feedback-{id}@notify.beta.example.com\"",
        // feedback-default logs one summary line per message at debug level,
        // captured whatever the log filter says.
        "plugin log: 1 line(s)\n  DEBUG ",
        "ms CPU of 1000 ms allowed, peak memory ",
        "outcome: feedback, 1 record(s)\n  {",
        "\"target\": \"1044\"",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    // Peak memory is measured, not a placeholder.
    let peak: f64 = text
        .split("peak memory ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no peak memory figure in {text}"));
    assert!(peak > 0.0 && peak < 64.0, "{peak}");
    // Not JSON lines: the record is pretty-printed inside the report.
    assert!(
        text.lines()
            .all(|l| serde_json::from_str::<Value>(l).is_err())
    );

    // Log lines past the budget are counted; stderr and failures are shown.
    let gmail = support::example_mail("gmail-reply.eml");
    let out = run(support::popline()
        .args(["map", "-v"])
        .arg(&gmail)
        .arg("--mapper")
        .arg(support::plugin("test-mapper"))
        .args(["--set", "mode=log-flood"]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(
            "plugin log: 1000 line(s), 19000 dropped past the limit\n  INFO  flood line 0\n"
        ),
        "{}",
        &text[..text.len().min(3000)]
    );
    assert!(text.contains("outcome: skip: flooded the log"), "{text}");

    let out = run(support::popline()
        .args(["map", "--verbose"])
        .arg(&gmail)
        .arg("--mapper")
        .arg(support::plugin("test-mapper"))
        .args(["--set", "mode=panic"]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success(),
        "a failing mapper must fail the command"
    );
    assert!(text.contains("plugin stderr:\n"), "{text}");
    assert!(text.contains("test-mapper was told to panic"), "{text}");
    assert!(
        text.contains("outcome: FAILED: plugin test_mapper crashed"),
        "{text}"
    );
}
