//! `popline plugin new` end to end: scaffold into a temp folder, build the
//! project the way its README says, and run it through the real binary.
//! Projects are scaffolded by a copy of the binary in a folder of its own,
//! as an installed popline would, and built offline: they carry the SDK.
//! Scaffolded crates build in `target/scaffold` (shared across runs, so only
//! the first run compiles the SDK's registry dependencies).
//!
//! The Python test needs `componentize-py` (PyPI) on PATH. Without it the test
//! is skipped with a loud message, except under CI (`CI` set), where it fails:
//! `.ci/run` installs it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

use crate::support::scenario::{Mailbox, Workspace, replies};
use crate::support::scripted::{Script, ScriptedServer};
use crate::support::{self};

fn scaffold_target() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| support::root().join("target"))
        .join("scaffold")
}

fn check(what: &str, out: Output) -> Output {
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A copy of the popline binary outside the checkout (kept for the test
/// process), as `cargo install` or the Debian package would put it.
fn installed_popline() -> &'static Path {
    static BIN: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, bin) = BIN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("popline");
        std::fs::copy(env!("CARGO_BIN_EXE_popline"), &bin).unwrap();
        (dir, bin)
    });
    bin
}

fn new_plugin(dir: &Path, name: &str, args: &[&str]) {
    let out = Command::new(installed_popline())
        .current_dir(dir.parent().unwrap())
        .args(["plugin", "new", name, "--dir"])
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    check("popline plugin new (a copy of the binary)", out);
    // Nothing in the project points back at the checkout.
    let root = support::root().display().to_string();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(d) = folders.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                folders.push(p);
            } else {
                let text = std::fs::read_to_string(&p).unwrap();
                assert!(!text.contains(&root), "{} names the checkout", p.display());
            }
        }
    }
}

/// cargo in a scaffolded project, offline: its SDK is in the project, and
/// its registry dependencies in cargo's cache.
fn cargo(dir: &Path, args: &[&str]) -> Output {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", scaffold_target())
        .env("CARGO_NET_OFFLINE", "true")
        .args(args)
        .output()
        .unwrap();
    check(&format!("cargo {} (offline)", args.join(" ")), out)
}

fn map(wasm: &Path, eml: &Path, sets: &[&str]) -> Output {
    let mut cmd = support::popline();
    cmd.arg("map").arg(eml).arg("--mapper").arg(wasm);
    for s in sets {
        cmd.args(["--set", s]);
    }
    cmd.output().unwrap()
}

fn record(out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().next().unwrap_or_else(|| {
        panic!(
            "no record printed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    serde_json::from_str(line).unwrap()
}

fn assert_sample_record(r: &Value) {
    assert_eq!(r["target"], "FB-42", "{r:#}");
    assert_eq!(r["kind"], "reply");
    assert_eq!(r["match"]["method"], "subject");
    assert_eq!(
        r["body_text"],
        "It still crashes with 300 pages, but 200 pages work now."
    );
    assert_eq!(r["elided_text"], "> Could you try build 412?");
    assert_eq!(r["source_message_id"], "sample-42@example.org");
}

#[test]
fn scaffolded_rust_mapper_tests_builds_and_maps_its_sample() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("acme-mapper");
    new_plugin(&dir, "acme-mapper", &["--kind", "mapper"]);
    for f in [
        "Cargo.toml",
        "src/lib.rs",
        "README.md",
        "sample.eml",
        "check.sh",
        "vendor/popline/plugins/sdk/src/lib.rs",
        "vendor/popline/plugins/pop3-proto/src/lib.rs",
        "vendor/popline/wit/mapper.wit",
    ] {
        assert!(dir.join(f).is_file(), "{f} not written");
    }
    // The scaffold's own unit tests, natively.
    let out = cargo(&dir, &["test", "--quiet"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("2 passed"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    cargo(
        &dir,
        &["build", "--quiet", "--target", "wasm32-wasip2", "--release"],
    );
    let wasm = scaffold_target().join("wasm32-wasip2/release/acme_mapper.wasm");
    let out = check("popline map", map(&wasm, &dir.join("sample.eml"), &[]));
    assert_sample_record(&record(&out));
    assert_eq!(record(&out)["mapper"], "acme_mapper");

    // Its config key works, and a message without the tag is skipped.
    let out = check(
        "popline map",
        map(&wasm, &dir.join("sample.eml"), &["tag-prefix=BUG-"]),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("skipped: no [BUG-ID] tag"), "{stderr}");
}

#[test]
fn scaffolded_pop3_dialogue_builds_and_runs_a_session() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("acme-pop3");
    new_plugin(&dir, "acme-pop3", &["--kind", "pop3"]);
    cargo(
        &dir,
        &["build", "--quiet", "--target", "wasm32-wasip2", "--release"],
    );
    let wasm = scaffold_target().join("wasm32-wasip2/release/acme_pop3.wasm");
    // The configuration the template ships is one popline accepts.
    let cfg = popline_config::Config::load(&dir.join("popline.toml"))
        .unwrap_or_else(|e| panic!("the scaffolded popline.toml: {e}"));
    assert_eq!(
        cfg.mailboxes["test"].dialogue,
        popline_config::PluginRef::File("target/wasm32-wasip2/release/acme_pop3.wasm".into())
    );

    const USER: &str = "replies@beta.example.com";
    let server = ScriptedServer::spawn(
        Script {
            capa: vec!["USER".into(), "UIDL".into()],
            user: USER.into(),
            password: "pw".into(),
            ..Script::default()
        },
        replies("scaffold", 2),
    );
    let ws = Workspace::new();
    ws.configure(&[Mailbox::scripted("beta", server.port, USER, "pw")
        .dialogue(wasm, &[])
        .mapper(support::plugin("test-mapper"), &[])]);
    let mut cmd = ws.popline(&["once"]);
    cmd.env("POPLINE_LOG", "warn,plugin=info");
    let out = crate::support::scenario::run(cmd, Duration::from_secs(60));
    out.assert_success();
    assert!(out.line("beta").contains("committed 2"), "{out}");
    assert!(
        out.stderr.contains("acme-pop3: logged in as"),
        "the template's log line:\n{out}"
    );
}

#[test]
fn scaffold_without_an_sdk_names_the_flag() {
    let tmp = tempfile::tempdir().unwrap();
    let out = support::popline()
        .args(["plugin", "new", "x", "--kind", "mapper", "--sdk"])
        .arg(tmp.path().join("missing"))
        .arg("--dir")
        .arg(tmp.path().join("x"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--sdk") && stderr.contains("missing"),
        "{stderr}"
    );
}

/// `componentize-py`, or `None` (skip) outside CI.
fn componentize_py() -> Option<&'static str> {
    let found = Command::new("componentize-py")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some("componentize-py");
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "componentize-py is not installed, and CI is set: .ci/run must install it (pip install componentize-py)"
    );
    eprintln!(
        "\n\n!!! SKIPPED the Python mapper test: componentize-py is not on PATH (pip install componentize-py) !!!\n\n"
    );
    None
}

/// Probes appended to the scaffolded app: what the sandbox lets Python do.
const PROBES: &str = r#"

import os
_Scaffolded = Mapper


class Mapper(_Scaffolded):
    def handle(self, message, ctx, config):
        probe = dict(config).get("probe")
        if probe == "fs":
            with open("/etc/passwd") as f:
                return Outcome_Skip(f"fs: read {len(f.read())} bytes")
        if probe == "net":
            import socket
            socket.create_connection(("127.0.0.1", 9), timeout=1)
            return Outcome_Skip("net: connected")
        if probe == "env":
            return Outcome_Skip(f"env: {sorted(os.environ)}")
        return super().handle(message, ctx, config)
"#;

#[test]
fn python_mapper_built_with_componentize_py_runs_sandboxed() {
    let Some(cpy) = componentize_py() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("py-mapper");
    new_plugin(&dir, "py-mapper", &["--kind", "mapper", "--lang", "python"]);
    let app = dir.join("app.py");
    let mut text = std::fs::read_to_string(&app).unwrap();
    text.push_str(PROBES);
    std::fs::write(&app, text).unwrap();

    let started = std::time::Instant::now();
    let out = Command::new(cpy)
        .current_dir(&dir)
        .args([
            "-d",
            "wit",
            "-w",
            "feedback-mapper",
            "componentize",
            "app",
            "-o",
            "py_mapper.wasm",
        ])
        .output()
        .unwrap();
    check("componentize-py", out);
    let wasm = dir.join("py_mapper.wasm");
    eprintln!(
        "componentize-py: {:.1}s, {} bytes",
        started.elapsed().as_secs_f64(),
        std::fs::metadata(&wasm).unwrap().len()
    );

    let sample = dir.join("sample.eml");
    let started = std::time::Instant::now();
    let out = check("popline map (python)", map(&wasm, &sample, &[]));
    eprintln!(
        "first popline map (compile + run): {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let r = record(&out);
    assert_sample_record(&r);
    assert_eq!(r["fields"]["mapper"], "py-mapper");

    // An exception becomes the error the message is dead-lettered with.
    let out = map(&wasm, &sample, &["fail=bad input"]);
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("told to fail: bad input"), "{text}");

    // Denied, not granted: no file, no socket, an empty environment.
    for probe in ["fs", "net"] {
        let out = map(&wasm, &sample, &[&format!("probe={probe}")]);
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(
            text.contains("which popline does not grant") && !text.contains(&format!("{probe}: ")),
            "probe {probe}:\n{text}"
        );
    }
    let out = check("popline map", map(&wasm, &sample, &["probe=env"]));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("skipped: env: []"), "{text}");
}
