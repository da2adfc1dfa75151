//! The raw archive and `popline replay` end to end: a pipeline with
//! `archive_days` keeps every fetched message by digest, prunes old ones on
//! each poll, and a candidate mapper is replayed over the archive and over
//! the dead letters against the pipeline's configured mapper.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::support::scenario::{Mailbox, Run, Workspace, replies, run};
use crate::support::scripted::{Script, ScriptedServer};
use crate::support::{self};

const USER: &str = "replies@beta.example.com";
const PASSWORD: &str = "lumen-beta";
const LIMIT: Duration = Duration::from_secs(60);

fn server(tag: &str, n: usize) -> ScriptedServer {
    ScriptedServer::spawn(Script::login(USER, PASSWORD), replies(tag, n))
}

fn plugin(name: &str) -> String {
    support::plugin(name).to_str().unwrap().to_string()
}

fn replay(ws: &Workspace, args: &[&str]) -> Run {
    let mut all = vec!["replay"];
    all.extend_from_slice(args);
    run(ws.popline(&all), LIMIT)
}

/// `replay --archive beta` with the test mapper in `mode` as the candidate.
fn test_mapper_on_archive(ws: &Workspace, mode: &str, extra: &[&str]) -> Run {
    let mapper = plugin("test-mapper");
    let set = format!("mode={mode}");
    let mut args = vec!["--archive", "beta", "--mapper", &mapper, "--set", &set];
    args.extend_from_slice(extra);
    replay(ws, &args)
}

fn archived(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

#[test]
fn archive_keeps_fetched_mail_by_digest_prunes_it_and_replays_a_candidate() {
    let mail = replies("ar", 4);
    let server = server("ar", 4);
    let ws = Workspace::new();
    ws.configure(&[Mailbox::scripted("beta", server.port, USER, PASSWORD)
        .with("retention = \"delete\"")
        .with("archive_days = 7")]);
    ws.once(LIMIT).assert_success();
    assert_eq!(ws.jsonl().len(), 4);

    // Every message, byte for byte, named by its SHA-256; nothing else.
    let dir = ws.path("archive/beta");
    let files = archived(&dir);
    let mut expected: Vec<PathBuf> = mail
        .iter()
        .map(|m| dir.join(format!("{}.eml", popline_core::digest::sha256_hex(m))))
        .collect();
    expected.sort();
    assert_eq!(files, expected);
    for m in &mail {
        let p = dir.join(format!("{}.eml", popline_core::digest::sha256_hex(m)));
        assert_eq!(&std::fs::read(&p).unwrap(), m);
    }

    // The same mapper as the pipeline's (the default baseline): no change.
    let same = replay(
        &ws,
        &["--archive", "beta", "--mapper", &plugin("feedback-default")],
    );
    same.assert_success();
    assert!(
        same.stdout.trim_end().ends_with("summary: same 4"),
        "{same}"
    );

    // A candidate that answers differently: each message's record diff.
    let changed = test_mapper_on_archive(&ws, "echo", &[]);
    changed.assert_success();
    assert!(changed.stdout.contains("summary: changed 4"), "{changed}");
    assert_eq!(changed.stdout.matches("beta/").count(), 4, "{changed}");
    assert!(changed.stdout.contains("].body_text: "), "{changed}");
    assert!(
        changed.stdout.contains("].kind: \"reply\" → \"new\""),
        "{changed}"
    );

    // One that fails, and one that skips everything.
    let failing = test_mapper_on_archive(&ws, "error", &[]);
    assert!(
        failing.stdout.contains("summary: newly failing 4"),
        "{failing}"
    );
    failing.assert_success();
    // Gated: the same run fails with --fail-on-regression.
    let gated = test_mapper_on_archive(&ws, "error", &["--fail-on-regression"]);
    gated.assert_failure();
    assert!(
        gated.stderr.contains("newly failing on 4 message(s)"),
        "{gated}"
    );
    assert!(
        failing
            .stdout
            .contains("1 record(s) → failure: plugin test_mapper returned an error: test-mapper was told to fail"),
        "{failing}"
    );
    let skipping = test_mapper_on_archive(&ws, "log-flood", &[]);
    assert!(
        skipping.stdout.contains("summary: newly skipped 4"),
        "{skipping}"
    );

    // A damaged file is reported and left out, not replayed as something else.
    std::fs::write(&files[0], b"torn").unwrap();
    let damaged = replay(
        &ws,
        &["--archive", "beta", "--mapper", &plugin("feedback-default")],
    );
    assert!(damaged.stdout.contains("is damaged"), "{damaged}");
    assert!(
        damaged.stdout.contains("summary: same 3, unreadable 1"),
        "{damaged}"
    );

    // The next poll prunes what is older than archive_days, keeps the rest.
    let old = SystemTime::now() - Duration::from_secs(8 * 86_400);
    std::fs::File::options()
        .write(true)
        .open(&files[1])
        .unwrap()
        .set_modified(old)
        .unwrap();
    ws.once(LIMIT).assert_success();
    let left = archived(&dir);
    assert_eq!(left.len(), 3, "{left:?}");
    assert!(!left.contains(&files[1]));

    // Asking for an archive that is not kept says how to keep one.
    let none = replay(
        &ws,
        &[
            "--archive",
            "gamma",
            "--mapper",
            &plugin("feedback-default"),
        ],
    );
    none.assert_failure();
    assert!(
        none.stderr
            .contains("no raw archive for pipeline \"gamma\"")
            && none.stderr.contains("no pipeline \"gamma\""),
        "{none}"
    );
}

#[test]
fn dead_letters_replay_against_the_mapper_that_failed_them() {
    let server = server("dlr", 2);
    let ws = Workspace::new();
    ws.configure(&[Mailbox::scripted("beta", server.port, USER, PASSWORD)
        .mapper(support::plugin("test-mapper"), &[("mode", "error")])
        .with("retention = \"delete\"")]);
    ws.once(LIMIT);
    let dl = ws.path("dead-letters");
    let n = std::fs::read_dir(&dl)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "eml")
        })
        .count();
    assert_eq!(n, 2);

    // The baseline is the pipeline's mapper with the pipeline's config; the
    // candidate gets its own settings.
    let out = replay(
        &ws,
        &[
            "--dead-letters",
            "--mapper",
            &plugin("feedback-default"),
            "--set",
            "unmatched=new",
        ],
    );
    out.assert_success();
    assert!(out.stdout.contains("summary: newly succeeding 2"), "{out}");
    assert_eq!(out.stdout.matches("dead letter beta-").count(), 2, "{out}");
    assert!(
        out.stdout
            .contains("failure: plugin test_mapper returned an error: test-mapper was told to fail → 1 record(s)"),
        "{out}"
    );

    // Replay writes nothing: the dead letters stay, no records appear.
    assert!(ws.jsonl().is_empty());
    assert_eq!(std::fs::read_dir(&dl).unwrap().count(), 4);

    // Without a source, clap says one is needed.
    let none = replay(&ws, &["--mapper", &plugin("feedback-default")]);
    none.assert_failure();
    assert!(none.stderr.contains("--archive"), "{none}");
}
