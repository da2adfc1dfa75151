//! `popline plugin new`: write a ready-to-build plugin project (Rust on the
//! `popline-plugin` SDK, or a Python mapper for componentize-py).
//!
//! The SDK travels inside the binary (`popline-builtin`): a Rust project
//! gets its own copy in `vendor/popline/` (`plugins/sdk`, `plugins/pop3-proto`
//! and `wit/`, laid out as in popline's repository) and depends on it by
//! relative path, so an installed popline scaffolds projects that build
//! without a checkout and, once `wit-bindgen` and `log` are in cargo's
//! cache, offline.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::{Args, ValueEnum};

/// Which plugin world the project implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// A feedback mapper (world `feedback-mapper`).
    Mapper,
    /// A POP3 dialogue (world `pop3-dialogue`).
    Pop3,
}

/// The plugin's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    /// Rust on the `popline-plugin` SDK (cargo build / cargo component build).
    Rust,
    /// Python built with componentize-py (mappers only).
    Python,
}

/// `popline plugin new` arguments.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The plugin's name: lowercase letters, digits and `-`, starting with a
    /// letter (the crate name; the .wasm is named with `_`).
    pub name: String,
    /// Which kind of plugin.
    #[arg(long, value_enum)]
    pub kind: Kind,
    /// The language.
    #[arg(long, value_enum, default_value_t = Lang::Rust)]
    pub lang: Lang,
    /// Where to write the project (default: ./NAME). Must not exist or be empty.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Depend on this `popline-plugin` SDK folder (`plugins/sdk` of a popline
    /// checkout) by absolute path instead of the copy written into the
    /// project's `vendor/` (the default: the SDK this popline was built with).
    #[arg(long)]
    pub sdk: Option<PathBuf>,
}

/// Where the project's copy of the SDK goes: the repository's layout under
/// `vendor/popline/`, since the SDK reads the contract at `../../wit` and
/// finds `pop3-proto` at `../pop3-proto`. Not `wit/` at the project's top:
/// cargo-component would take that folder as the project's own target.
const VENDOR: &str = "vendor/popline";

/// The SDK's files as the project holds them: (path in the project, text).
/// Manifests that inherit from popline's workspace get the values written
/// out, since the project is its own workspace.
fn vendored_sdk() -> Vec<(String, String)> {
    popline_builtin::SDK_FILES
        .iter()
        .map(|(path, text)| {
            let rel = format!("{VENDOR}/{path}");
            let text = if rel.ends_with("Cargo.toml") {
                standalone_manifest(text)
            } else {
                text.to_string()
            };
            (rel, text)
        })
        .collect()
}

/// A manifest with `KEY.workspace = true` lines written out with the values
/// popline's workspace gives them (the same as this crate's).
fn standalone_manifest(text: &str) -> String {
    let inherited = [
        ("version", env!("CARGO_PKG_VERSION")),
        ("edition", "2024"),
        ("rust-version", env!("CARGO_PKG_RUST_VERSION")),
        ("license", env!("CARGO_PKG_LICENSE")),
    ];
    text.lines()
        .map(|line| {
            let key = line.trim().strip_suffix(".workspace = true");
            match key.and_then(|k| inherited.iter().find(|(name, _)| *name == k)) {
                Some((name, value)) => format!("{name} = {value:?}\n"),
                None => format!("{line}\n"),
            }
        })
        .collect()
}

/// Write the project; returns its folder.
pub fn scaffold(args: &NewArgs) -> anyhow::Result<PathBuf> {
    check_name(&args.name)?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&args.name));
    if dir.exists()
        && std::fs::read_dir(&dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .next()
            .is_some()
    {
        bail!(
            "{} already exists and is not empty; pass --dir with a new folder",
            dir.display()
        );
    }
    let crate_name = args.name.replace('-', "_");
    let files: Vec<(String, String)> = match (args.lang, args.kind) {
        (Lang::Python, Kind::Pop3) => bail!(
            "--lang python supports --kind mapper only (POP3 dialogues are Rust: --lang rust)"
        ),
        (Lang::Python, Kind::Mapper) => {
            let mut files: Vec<(String, String)> = [
                ("app.py", PY_APP),
                ("sample.eml", SAMPLE_EML),
                ("check.sh", PY_CHECK),
                ("README.md", PY_README),
                (".gitignore", "*.wasm\nwit_world/\n__pycache__/\n"),
            ]
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .into();
            // componentize-py reads the contract from wit/: the mapper's part.
            files.extend(
                popline_builtin::SDK_FILES
                    .iter()
                    .filter(|(p, _)| *p == "wit/log.wit" || *p == "wit/mapper.wit")
                    .map(|(p, t)| (p.to_string(), t.to_string())),
            );
            files
        }
        (Lang::Rust, kind) => {
            let (sdk, vendored) = match &args.sdk {
                Some(p) => {
                    let sdk = p
                        .canonicalize()
                        .with_context(|| format!("--sdk {}: no such folder", p.display()))?;
                    if !sdk.join("Cargo.toml").is_file() {
                        bail!(
                            "--sdk {}: no Cargo.toml there; point it at the plugins/sdk folder of a popline checkout, or leave --sdk out to use the SDK built into popline",
                            sdk.display()
                        );
                    }
                    (sdk.to_string_lossy().replace('\\', "/"), Vec::new())
                }
                None => (format!("{VENDOR}/plugins/sdk"), vendored_sdk()),
            };
            let (lib, readme) = match kind {
                Kind::Mapper => (RUST_MAPPER, RUST_MAPPER_README),
                Kind::Pop3 => (RUST_POP3, RUST_POP3_README),
            };
            let mut files: Vec<(String, String)> = vec![
                (
                    "Cargo.toml".into(),
                    RUST_CARGO_TOML.replace("{{sdk}}", &sdk),
                ),
                ("src/lib.rs".into(), lib.to_string()),
                ("README.md".into(), readme.to_string()),
                (".gitignore".into(), "/target\n".to_string()),
            ];
            match kind {
                Kind::Mapper => {
                    files.push(("sample.eml".into(), SAMPLE_EML.to_string()));
                    files.push(("check.sh".into(), RUST_MAPPER_CHECK.to_string()));
                }
                Kind::Pop3 => files.push(("popline.toml".into(), RUST_POP3_CONFIG.to_string())),
            }
            files.extend(vendored);
            files
        }
    };
    for (rel, text) in files {
        // The SDK's own files are copied as they are; templates are filled.
        let text = if rel.starts_with("vendor/") || rel.starts_with("wit/") {
            text
        } else {
            text.replace("{{name}}", &args.name)
                .replace("{{crate}}", &crate_name)
                .replace("{{version}}", popline_plugin_runtime::WIT_VERSION)
        };
        let path = dir.join(&rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        if rel.ends_with(".sh") {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .with_context(|| format!("making {} executable", path.display()))?;
        }
    }
    Ok(dir)
}

/// `popline plugin new`: scaffold and say what to do next.
pub fn run(args: &NewArgs) -> anyhow::Result<()> {
    let dir = scaffold(args)?;
    let d = dir.display();
    let wasm = args.name.replace('-', "_");
    println!("wrote {} plugin {} in {d}", kind_name(args.kind), args.name);
    match (args.lang, args.kind) {
        (Lang::Python, _) => {
            println!("next: cd {d} && pip install componentize-py && ./check.sh");
            println!("      (builds {wasm}.wasm and maps sample.eml with it; see README.md)");
        }
        (Lang::Rust, Kind::Mapper) => {
            println!("next: cd {d} && cargo test && ./check.sh");
            println!(
                "      (check.sh builds target/wasm32-wasip2/release/{wasm}.wasm and maps sample.eml with it)"
            );
        }
        (Lang::Rust, Kind::Pop3) => {
            println!("next: cd {d} && cargo build --target wasm32-wasip2 --release");
            println!(
                "      then edit popline.toml and run: popline -c popline.toml check --connect"
            );
        }
    }
    Ok(())
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Mapper => "mapper",
        Kind::Pop3 => "POP3 dialogue",
    }
}

fn check_name(name: &str) -> anyhow::Result<()> {
    let ok = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
        && name.len() <= 64;
    if !ok {
        bail!(
            "plugin name {name:?}: use lowercase letters, digits and '-', starting with a letter (e.g. acme-mapper)"
        );
    }
    Ok(())
}

const RUST_CARGO_TOML: &str = r#"[package]
name = "{{name}}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
popline-plugin = { path = "{{sdk}}" }

# cargo component build: the world comes from the SDK's bindings.
[package.metadata.component]
package = "popline:{{name}}"

# A standalone project, not part of any enclosing workspace.
[workspace]

[profile.release]
opt-level = 3
lto = true
codegen-units = 1
strip = true
"#;

const RUST_MAPPER: &str = r#"//! {{name}}: a popline feedback mapper. A reply whose subject carries a tag
//! like `[FB-42]` becomes feedback on item `FB-42`; quoted lines (`> ...`)
//! are kept apart in `elided_text`. Anything else is skipped with a reason.

use popline_plugin::{Config, Context, Email, Feedback, Mapper, Outcome, log};

struct Plugin;

impl Mapper for Plugin {
    fn map(email: &Email, _ctx: &Context, config: &Config) -> Result<Outcome, String> {
        let Some(author) = email.sender() else {
            return Ok(Outcome::skip("no From address"));
        };
        let prefix = config.get_or("tag-prefix", "FB-");
        let subject = email.subject.as_deref().unwrap_or("");
        let Some(id) = subject.split('[').skip(1).find_map(|s| s.strip_prefix(prefix)?.split(']').next()) else {
            return Ok(Outcome::skip(format!("no [{prefix}ID] tag in the subject")));
        };
        let (quoted, kept): (Vec<&str>, Vec<&str>) = email.text().lines().partition(|l| l.starts_with('>'));
        log::debug!("matched {prefix}{id}");
        Ok(Feedback::new(author.clone(), kept.join("\n").trim())
            .from_email(email)
            .reply_to(format!("{prefix}{id}"), "subject", format!("[{prefix}{id}]"))
            .elided(quoted.join("\n"))
            .into())
    }
}

popline_plugin::export_mapper!(Plugin);

#[cfg(test)]
mod tests {
    use super::*;
    use popline_plugin::{Address, FeedbackKind};

    fn map(subject: &str, body: &str) -> Outcome {
        let email = Email::new(Address::new("ann@example.org"), subject, body);
        Plugin::map(&email, &Context::new("test"), &Config::default()).unwrap()
    }

    #[test]
    fn a_tagged_reply_becomes_feedback_without_the_quote() {
        let Outcome::Feedback(records) = map("Re: [FB-42] Export", "Works now.\n> old text") else {
            panic!("expected feedback");
        };
        assert_eq!(records[0].target.as_deref(), Some("FB-42"));
        assert_eq!(records[0].kind, FeedbackKind::Reply);
        assert_eq!(records[0].body_text, "Works now.");
        assert_eq!(records[0].elided_text.as_deref(), Some("> old text"));
    }

    #[test]
    fn an_untagged_message_is_skipped() {
        assert!(matches!(map("Hello", "hi"), Outcome::Skip(_)));
    }
}
"#;

const RUST_POP3: &str = r#"//! {{name}}: a popline POP3 dialogue. Every step uses the SDK's default
//! (RFC 1939 + CAPA, STLS, host-performed login, pipelined when the server advertises PIPELINING);
//! override a method of `Pop3Dialogue` to change one step.

use popline_plugin::Pop3Dialogue;
use popline_plugin::log;
use popline_plugin::pop3::{Pop3Error, ServerInfo, Session, SessionParams};

struct Plugin;

impl Pop3Dialogue for Plugin {
    fn open(session: &mut Session, params: &SessionParams) -> Result<ServerInfo, Pop3Error> {
        let info = session.standard_open(params)?;
        log::info!("{{name}}: logged in as {} with {}", params.user, info.mechanism);
        Ok(info)
    }
}

popline_plugin::export_pop3_dialogue!(Plugin);
"#;

const SAMPLE_EML: &str = "From: Dana Whitfield <dana@example.org>\r\n\
To: Lumen Beta <beta-replies@example.com>\r\n\
Subject: Re: [FB-42] PDF export crashes on large projects\r\n\
Message-ID: <sample-42@example.org>\r\n\
Date: Thu, 5 Mar 2026 09:30:52 +0000\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
It still crashes with 300 pages, but 200 pages work now.\r\n\
\r\n\
> Could you try build 412?\r\n";

const RUST_MAPPER_CHECK: &str = r#"#!/usr/bin/env bash
# Build the plugin and map sample.eml with it. POPLINE: the popline binary.
set -euo pipefail
cd "$(dirname "$0")"
cargo build --target wasm32-wasip2 --release
wasm="${CARGO_TARGET_DIR:-target}/wasm32-wasip2/release/{{crate}}.wasm"
"${POPLINE:-popline}" map sample.eml --mapper "$wasm"
"#;

const RUST_MAPPER_README: &str = r#"# {{name}}

A [popline](https://example.invalid/popline) feedback mapper written on the
`popline-plugin` SDK (contract `popline:plugin@{{version}}`, world
`feedback-mapper`).

## Build

```sh
rustup target add wasm32-wasip2
cargo build --target wasm32-wasip2 --release   # target/wasm32-wasip2/release/{{crate}}.wasm
# or, with cargo-component:
cargo component build --release               # target/wasm32-wasip1/release/{{crate}}.wasm
```

## Test

```sh
cargo test                      # the mapping logic, natively
./check.sh                      # build, then `popline map sample.eml` with the plugin
popline map mail/*.eml --mapper target/wasm32-wasip2/release/{{crate}}.wasm \
    --set tag-prefix=FB- --verbose
popline plugin inspect target/wasm32-wasip2/release/{{crate}}.wasm
```

`--set KEY=VALUE` passes what the pipeline's `config = { ... }` table would.
Log lines from `log::debug!` and friends show with `POPLINE_LOG=plugin=debug`.

## Use

```toml
[mailboxes.beta]
mapper = { plugin = "/path/to/{{crate}}.wasm", config = { tag-prefix = "FB-" } }
```

See `docs/plugins.md` in the popline repository for the contract, the limits
(memory, CPU, output) and debugging.
"#;

const RUST_POP3_README: &str = r#"# {{name}}

A popline POP3 dialogue plugin written on the `popline-plugin` SDK (contract
`popline:plugin@{{version}}`, world `pop3-dialogue`). The host owns the socket,
TLS and credentials; this plugin decides the dialogue.

## Build

```sh
rustup target add wasm32-wasip2
cargo build --target wasm32-wasip2 --release   # target/wasm32-wasip2/release/{{crate}}.wasm
# or: cargo component build --release          # target/wasm32-wasip1/release/{{crate}}.wasm
popline plugin inspect target/wasm32-wasip2/release/{{crate}}.wasm
```

## Try it

Edit `popline.toml` (server, user, password file), then:

```sh
popline -c popline.toml check --connect   # logs in through the plugin
popline -c popline.toml once              # one pass (retention = keep: nothing deleted)
```

`POPLINE_LOG=plugin=debug` shows the plugin's log lines. See `docs/plugins.md`
in the popline repository for the contract and the limits.
"#;

const RUST_POP3_CONFIG: &str = r#"# A one-mailbox configuration to try the {{name}} dialogue.
[state]
path = "state.db"

[sinks.out]
type = "jsonl"
path = "feedback.jsonl"

[mailboxes.test]
host = "pop.example.com"
user = "replies@example.com"
password = { file = "password.txt" }
dialogue = "target/wasm32-wasip2/release/{{crate}}.wasm"
mapper = "builtin:feedback-default"
sinks = ["out"]
retention = "keep"
"#;

const PY_APP: &str = r#""""{{name}}: a popline feedback mapper in Python (componentize-py).

A reply whose subject carries a tag like `[FB-42]` becomes feedback on item
`FB-42`; quoted lines (`> ...`) are kept apart in `elided_text`. Anything else
is skipped with a reason. Raise `Err("...")` to dead-letter a message.
"""
import re
from typing import List, Tuple

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import log
from wit_world.imports.mail import (
    Context, Email, Feedback, FeedbackKind, MatchInfo, Outcome_Feedback, Outcome_Skip,
)


class Mapper(exports.Mapper):
    def handle(self, message: Email, ctx: Context, config: List[Tuple[str, str]]):
        cfg = dict(config)
        prefix = cfg.get("tag-prefix", "FB-")
        if cfg.get("fail"):
            raise Err(f"told to fail: {cfg['fail']}")
        if not message.from_:
            return Outcome_Skip("no From address")
        tag = re.search(r"\[" + re.escape(prefix) + r"([^\]]+)\]", message.subject or "")
        if tag is None:
            return Outcome_Skip(f"no [{prefix}ID] tag in the subject")
        lines = (message.text_body or "").splitlines()
        kept = "\n".join(l for l in lines if not l.startswith(">")).strip()
        quoted = "\n".join(l for l in lines if l.startswith(">"))
        target = prefix + tag.group(1)
        log.log(log.Level.DEBUG, f"matched {target}")
        return Outcome_Feedback([Feedback(
            target=target, kind=FeedbackKind.REPLY, author=message.from_[0],
            subject=message.subject, body_text=kept, body_html=None,
            elided_text=quoted or None, attachments=[], received_at=None,
            source_message_id=message.message_id,
            match=MatchInfo(method="subject", value=tag.group(0)),
            fields=[("mapper", "{{name}}")],
        )])
"#;

const PY_CHECK: &str = r#"#!/usr/bin/env bash
# Build {{crate}}.wasm with componentize-py and map sample.eml with it.
# POPLINE: the popline binary.
set -euo pipefail
cd "$(dirname "$0")"
componentize-py -d wit -w feedback-mapper componentize app -o {{crate}}.wasm
"${POPLINE:-popline}" map sample.eml --mapper {{crate}}.wasm
"#;

const PY_README: &str = r#"# {{name}}

A popline feedback mapper in Python, built into a WebAssembly component with
[componentize-py](https://pypi.org/project/componentize-py/) against the
contract in `wit/` (`popline:plugin@{{version}}`, world `feedback-mapper`).

## Build and test

```sh
pip install componentize-py
componentize-py -d wit -w feedback-mapper componentize app -o {{crate}}.wasm
popline map sample.eml --mapper {{crate}}.wasm --set tag-prefix=FB-
./check.sh                        # the two commands above
```

To get the generated Python types for your editor:
`componentize-py -d wit -w feedback-mapper bindings .` (writes `wit_world/`).

Notes:

- The component is large (~18 MB: the interpreter is inside). popline
  compiles it once (tens of seconds) and caches the result.
- The sandbox grants no files, sockets or environment: `open()`, `socket`,
  `os.environ` find nothing or fail. Pass settings through the mapper config
  (`--set KEY=VALUE`, or `config = { ... }` in the pipeline).
- `log.log(log.Level.DEBUG, "...")` lines show with `POPLINE_LOG=plugin=debug`;
  an uncaught exception dead-letters the message with the traceback.

See `docs/plugins.md` in the popline repository.
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(check_name("acme-mapper2").is_ok());
        for bad in ["", "Acme", "2x", "a_b", "a-", "a b"] {
            let e = check_name(bad).unwrap_err().to_string();
            assert!(e.contains("lowercase letters"), "{bad}: {e}");
        }
    }

    #[test]
    fn refuses_a_non_empty_folder_and_python_dialogues() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("x"), "").unwrap();
        let args = |lang, kind| NewArgs {
            name: "p".into(),
            kind,
            lang,
            dir: Some(dir.path().to_path_buf()),
            sdk: None,
        };
        let e = scaffold(&args(Lang::Rust, Kind::Mapper))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not empty"), "{e}");
        std::fs::remove_file(dir.path().join("x")).unwrap();
        let e = scaffold(&args(Lang::Python, Kind::Pop3))
            .unwrap_err()
            .to_string();
        assert!(e.contains("--kind mapper only"), "{e}");
    }

    #[test]
    fn the_sdk_is_vendored_as_a_standalone_copy() {
        let files = vendored_sdk();
        let get = |p: &str| {
            files
                .iter()
                .find(|(path, _)| path == p)
                .map(|(_, t)| t.as_str())
                .unwrap_or_else(|| panic!("{p} not vendored"))
        };
        // The SDK finds the contract at ../../wit, as in the repository.
        assert!(get("vendor/popline/plugins/sdk/src/lib.rs").contains("\"../../wit\""));
        assert!(get("vendor/popline/plugins/sdk/Cargo.toml").contains("path = \"../pop3-proto\""));
        get("vendor/popline/wit/pop3.wit");
        assert!(
            get("vendor/popline/plugins/pop3-proto/Cargo.toml")
                .contains("\nrust-version = \"1.95\"\n"),
            "{}",
            get("vendor/popline/plugins/pop3-proto/Cargo.toml")
        );
        for (path, text) in &files {
            assert!(
                !text.contains(".workspace = true"),
                "{path} inherits from popline's workspace"
            );
        }
    }

    #[test]
    fn a_missing_sdk_says_to_pass_sdk() {
        let dir = tempfile::tempdir().unwrap();
        let e = scaffold(&NewArgs {
            name: "p".into(),
            kind: Kind::Mapper,
            lang: Lang::Rust,
            dir: Some(dir.path().join("p")),
            sdk: Some(dir.path().join("nope")),
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("--sdk") && e.contains("nope"), "{e}");
    }
}
