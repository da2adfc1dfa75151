//! Builds the reference plugins (`pop3-standard`, `feedback-default`) for
//! wasm32-wasip2 with profile `plugin`, and lists the plugin SDK's sources,
//! into `$OUT_DIR/builtin.rs` for `include_bytes!` / `include_str!`.
//!
//! The nested cargo gets its own target folder under `OUT_DIR`: the outer
//! build holds the lock of the workspace's target folder, so sharing it
//! would deadlock. `rerun-if-changed` on the guests' sources keeps it
//! incremental: an unchanged tree costs nothing on the next build.
//!
//! `POPLINE_PLUGIN_WASM_DIR` (a folder holding `pop3_standard.wasm` and
//! `feedback_default.wasm`, e.g. `target/wasm32-wasip2/plugin` after
//! `just plugins`; relative to the workspace root) skips the nested build
//! and embeds those files instead.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The reference plugins: (package, wasm file stem).
const PLUGINS: &[(&str, &str)] = &[
    ("pop3-standard", "pop3_standard"),
    ("feedback-default", "feedback_default"),
];

/// What the guests are built from, relative to the workspace root.
const GUEST_SOURCES: &[&str] = &[
    "wit",
    "plugins/sdk",
    "plugins/pop3-proto",
    "plugins/feedback-core",
    "plugins/reply-token",
    "plugins/pop3-standard",
    "plugins/feedback-default",
    "Cargo.toml",
    "Cargo.lock",
    // The guests' rustflags (simd128).
    ".cargo/config.toml",
];

/// The SDK a scaffolded plugin builds on: the contract and the crates the
/// SDK depends on by path (`popline-plugin` → `pop3-proto`).
const SDK_SOURCES: &[&str] = &["wit", "plugins/sdk", "plugins/pop3-proto"];

const TARGET: &str = "wasm32-wasip2";

fn main() {
    let manifest =
        PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let root = manifest
        .join("../..")
        .canonicalize()
        .expect("the workspace root (host/builtin/../..)");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    for s in GUEST_SOURCES {
        println!("cargo:rerun-if-changed={}", root.join(s).display());
    }
    println!("cargo:rerun-if-env-changed=POPLINE_PLUGIN_WASM_DIR");

    let wasm_dir = match std::env::var_os("POPLINE_PLUGIN_WASM_DIR") {
        // Relative to the workspace root: a build script runs in its own
        // package's folder, not where cargo was started.
        Some(dir) => prebuilt(&root.join(dir)),
        None => build(&root, &out),
    };

    let mut code = String::new();
    code.push_str("/// The reference plugins, compiled in.\npub static PLUGINS: &[Plugin] = &[\n");
    for (package, stem) in PLUGINS {
        let wasm = wasm_dir.join(format!("{stem}.wasm"));
        writeln!(
            code,
            "    Plugin {{ name: {package:?}, stem: {stem:?}, wasm: include_bytes!({:?}) }},",
            wasm.display().to_string()
        )
        .unwrap();
    }
    code.push_str("];\n\n");
    code.push_str(
        "/// The SDK's sources: (path relative to the workspace root, text).\npub static SDK_FILES: &[(&str, &str)] = &[\n",
    );
    let mut files = Vec::new();
    for s in SDK_SOURCES {
        collect(&root, &root.join(s), &mut files);
    }
    files.sort();
    for rel in files {
        writeln!(
            code,
            "    ({rel:?}, include_str!({:?})),",
            root.join(&rel).display().to_string()
        )
        .unwrap();
    }
    code.push_str("];\n");
    std::fs::write(out.join("builtin.rs"), code).expect("writing builtin.rs");
}

/// Every source file under `dir` (manifests, Rust, WIT), relative to `root`.
fn collect(root: &Path, dir: &Path, files: &mut Vec<String>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "target") {
                collect(root, &path, files);
            }
            continue;
        }
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name == "Cargo.toml" || name.ends_with(".rs") || name.ends_with(".wit") {
            let rel = path.strip_prefix(root).expect("under the root");
            files.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
}

/// Prebuilt plugins: check they are there and rebuild when they change.
fn prebuilt(dir: &Path) -> PathBuf {
    let dir = dir
        .canonicalize()
        .unwrap_or_else(|e| panic!("POPLINE_PLUGIN_WASM_DIR={}: {e}", dir.display()));
    for (_, stem) in PLUGINS {
        let wasm = dir.join(format!("{stem}.wasm"));
        assert!(
            wasm.is_file(),
            "POPLINE_PLUGIN_WASM_DIR={}: no {stem}.wasm there; run `just plugins` first, or unset it to build the plugins here",
            dir.display()
        );
        println!("cargo:rerun-if-changed={}", wasm.display());
    }
    dir
}

/// Build the reference plugins with a nested cargo; returns where they are.
fn build(root: &Path, out: &Path) -> PathBuf {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    check_target(&rustc);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let target_dir = out.join("guests");
    let mut cmd = Command::new(&cargo);
    cmd.arg("build")
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .args(["--target", TARGET, "--profile", "plugin"])
        .arg("--target-dir")
        .arg(&target_dir);
    for (package, _) in PLUGINS {
        cmd.args(["-p", package]);
    }
    // The outer build's flags and wrappers are for the host, not for wasm:
    // rustflags (sanitizers, coverage), clippy's driver, its target folder.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_BUILD_TARGET_DIR",
    ] {
        cmd.env_remove(var);
    }
    // Cargo reads a build script's stdout as directives: keep the nested
    // cargo's there out of it.
    cmd.stdout(Stdio::null());
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("running {cargo} to build the reference plugins: {e}"));
    assert!(
        status.success(),
        "building the reference plugins (pop3-standard, feedback-default) for {TARGET} failed ({status}); see the cargo output above"
    );
    target_dir.join(TARGET).join("plugin")
}

/// Fail early, with the fix, when the standard library for wasm is missing.
fn check_target(rustc: &str) {
    let sysroot = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if let Some(sysroot) = sysroot
        && !sysroot.join("lib/rustlib").join(TARGET).is_dir()
    {
        panic!(
            "popline embeds its reference plugins, built for {TARGET}, and that target is not installed for {rustc} ({}): run `rustup target add {TARGET}` (or set POPLINE_PLUGIN_WASM_DIR to a folder holding pop3_standard.wasm and feedback_default.wasm, e.g. target/wasm32-wasip2/plugin after `just plugins`)",
            sysroot.display()
        );
    }
}
