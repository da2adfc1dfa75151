//! `popline once` output: plain summary lines when not on a terminal, and
//! progress bars on a terminal that leave the summary and log lines intact.

use std::process::Command;

use popline_testkit::beta_replies;

use crate::ingest::{Setup, USER};
use crate::support;

/// The summary line `popline once` prints per mailbox.
fn is_summary_line(line: &str) -> bool {
    let Some(rest) = line.strip_prefix("beta: listed ") else {
        return false;
    };
    let fields: Vec<&str> = rest.split(", ").collect();
    let names = [
        "",
        "fetched",
        "committed",
        "skipped",
        "duplicates",
        "dead-lettered",
        "failed",
        "deleted",
    ];
    fields.len() > names.len()
        && fields.last().is_some_and(|f| f.ends_with(" KiB"))
        && names.iter().zip(&fields).all(|(n, f)| f.starts_with(n))
}

#[test]
fn once_without_a_terminal_prints_plain_summary_lines_only() {
    let s = Setup::new();
    s.dovecot.seed(USER, &beta_replies()).unwrap();
    let cfg = s.config(s.dovecot.tls_port(), "implicit", s.dovecot.ca_pem(), "");
    let out = s.once(&cfg);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    assert!(is_summary_line(lines[0]), "{stdout}");
    let n = beta_replies().len();
    assert!(
        lines[0].starts_with(&format!(
            "beta: listed {n}, fetched {n}, committed {}",
            n - 1
        )),
        "{stdout}"
    );
    // Nothing drawn: no carriage returns or terminal escapes anywhere.
    for text in [&stdout, &stderr] {
        assert!(!text.contains('\r') && !text.contains('\x1b'), "{text:?}");
    }
}

#[test]
fn once_on_a_terminal_draws_bars_and_keeps_summary_and_log_lines_whole() {
    if Command::new("script").arg("--version").output().is_err() {
        panic!("`script` (util-linux) is needed to run popline under a terminal");
    }
    let s = Setup::new();
    s.dovecot.seed(USER, &beta_replies()).unwrap();
    // A starttls mailbox over the testkit's CA, logging at info: the skip of
    // the auto-reply is logged while the bar is up.
    let cfg = s.config(s.dovecot.plain_port(), "starttls", s.dovecot.ca_pem(), "");
    let cmd = support::popline();
    let bin = cmd.get_program().to_string_lossy().into_owned();
    let inner = format!("{bin} --config {} once; echo exit=$?", cfg.display());
    let mut script = Command::new("script");
    script.args(["-qefc", &inner, "/dev/null"]);
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            script.env(k, v);
        }
    }
    script.env("POPLINE_LOG", "info").env("COLUMNS", "120");
    let out = script.output().expect("running popline under script");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("exit=0"), "{text}");
    // The spinner was drawn with the mailbox name while it connected.
    assert!(text.contains("connecting"), "{text:?}");
    assert!(text.contains('\x1b'), "no terminal drawing: {text:?}");
    // Each line as the terminal shows it: the last thing written after any
    // carriage return, without erase sequences.
    let shown: Vec<String> = text
        .split('\n')
        .map(|l| {
            let l = l.trim_end_matches('\r');
            let l = l.rsplit('\r').next().unwrap_or(l);
            strip_escapes(l)
        })
        .collect();
    assert!(
        shown.iter().any(|l| is_summary_line(l)),
        "no whole summary line in {shown:#?}"
    );
    // The skip is logged on a line of its own, not torn by a redraw.
    assert!(
        shown
            .iter()
            .any(|l| l.contains("INFO") && l.contains("skipped: ") && l.contains("mailbox=")),
        "no whole log line in {shown:#?}"
    );
    // Every log line starts at the left edge with its timestamp: none was
    // written after a bar without the bar being cleared first.
    for l in shown.iter().filter(|l| l.contains(" INFO ")) {
        assert!(
            l.trim_start().starts_with("20"),
            "a log line was glued to a progress bar: {l:?}\n{text:?}"
        );
    }
}

/// Drop ANSI CSI sequences (`ESC [ ... letter`).
fn strip_escapes(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for d in chars.by_ref() {
                    if d.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// `popline once --timings`: after the summary, a table on stderr with a
/// row per stage of the data path; every stage a poll of real replies
/// passes through was counted (the reads, the parse, the digests, the
/// mapper, the encoding, the sink and the state), each with its CPU time.
#[test]
fn once_with_timings_reports_every_stage_the_run_went_through() {
    let s = Setup::new();
    s.dovecot.seed(USER, &beta_replies()).unwrap();
    let cfg = s.config(s.dovecot.tls_port(), "implicit", s.dovecot.ca_pem(), "");
    let out = support::popline()
        .arg("--config")
        .arg(&cfg)
        .args(["once", "--timings"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(is_summary_line(stdout.lines().next().unwrap()), "{stdout}");
    let n = beta_replies().len() as u64;
    let row = |stage: &str| -> Vec<String> {
        stderr
            .lines()
            .find(|l| l.starts_with(stage))
            .unwrap_or_else(|| panic!("no {stage} row\n{stderr}"))[stage.len()..]
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    let count = |stage: &str| row(stage)[0].parse::<u64>().unwrap();
    for stage in [
        "dialogue",
        "TLS read",
        "wire parse",
        "sink write",
        "state commit",
    ] {
        assert!(count(stage) > 0, "{stage}\n{stderr}");
    }
    // The dialogue and the mapper, read (and compiled, or taken from the
    // cache) once for the run.
    assert_eq!(count("plugin load"), 2, "{stderr}");
    assert_eq!(count("MIME parse"), n, "{stderr}");
    assert_eq!(count("mapper instantiate"), n, "{stderr}");
    assert_eq!(count("mapper call"), n, "{stderr}");
    // The raw message, its content, and any attachments.
    assert!(count("digest") >= 2 * n, "{stderr}");
    // One record per reply but the one the mapper skips.
    assert!(count("record encode") >= n - 1, "{stderr}");
    // Every stage used some CPU: those that wait too (decrypting what
    // arrived; the sink's file and the state's SQLite work, done on
    // blocking threads).
    for stage in [
        "dialogue",
        "TLS read",
        "MIME parse",
        "mapper instantiate",
        "mapper call",
        "plugin load",
        "sink write",
        "state commit",
    ] {
        let cpu: f64 = row(stage)[3].parse().unwrap();
        assert!(cpu > 0.0, "{stage}\n{stderr}");
    }
    assert!(stderr.contains("everything else"), "{stderr}");
}

/// `POPLINE_LOG_FORMAT=json` works like `--log-format json`: every log line
/// is a JSON object. A mistyped `--log` filter is a usage error (exit 2)
/// naming the bad word, not a silent fallback, and touches no mailbox.
#[test]
fn log_format_from_the_environment_and_a_mistyped_filter_is_refused() {
    let s = Setup::new();
    s.dovecot.seed(USER, &beta_replies()).unwrap();
    let cfg = s.config(s.dovecot.tls_port(), "implicit", s.dovecot.ca_pem(), "");
    let popline = |log: &str| {
        support::popline()
            .arg("--config")
            .arg(&cfg)
            .arg("once")
            .env("POPLINE_LOG", log)
            .env("POPLINE_LOG_FORMAT", "json")
            .output()
            .unwrap()
    };
    let out = popline("inof");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("\"inof\" is neither a level"), "{stderr}");
    assert_eq!(s.dovecot.count(USER).unwrap(), beta_replies().len());

    let out = popline("popline=debug");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(!lines.is_empty(), "debug logging says something");
    for line in lines {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v.get("level").is_some(), "{line}");
    }
}
