//! Shared test harness: builds the guest plugins once, locates them, and
//! gives every test the same engine (and compiled-plugin cache).

pub mod scenario;
/// The scripted POP3 fault server lives in the testkit, beside Dovecot.
pub use popline_testkit::scripted;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use popline_plugin_runtime::{Engine, EngineOptions};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace root (host/popline/../..) exists")
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// Guest crates the suite needs, as (package, wasm file stem).
const GUESTS: &[&str] = &[
    "pop3-standard",
    "feedback-default",
    "test-mapper",
    "hostile-dialogue",
    "sdk-dialogue",
];

/// Build every guest crate for wasm32-wasip2 (once per test process; a no-op
/// when they are fresh) and return the folder holding the .wasm files.
///
/// With `$POPLINE_TEST_PLUGINS` set, that folder holds them already built
/// (`just plugins`' `target/wasm32-wasip2/plugin`) and nothing is built: for
/// running the compiled suite where cargo is not available, as CI does for
/// its unprivileged user.
pub fn plugins() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("POPLINE_TEST_PLUGINS") {
            let dir = PathBuf::from(dir);
            for g in GUESTS {
                let wasm = dir.join(format!("{}.wasm", g.replace('-', "_")));
                assert!(
                    wasm.is_file(),
                    "$POPLINE_TEST_PLUGINS: {} is missing; build the guests first (just plugins) \
                     or unset POPLINE_TEST_PLUGINS to let the tests build them",
                    wasm.display()
                );
            }
            return dir;
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(root())
            .args(["build", "--quiet", "--target", "wasm32-wasip2", "--profile", "plugin"]);
        for g in GUESTS {
            cmd.args(["-p", g]);
        }
        let status = cmd.status().expect(
            "running cargo to build the guest plugins (or set POPLINE_TEST_PLUGINS to a folder of built ones)",
        );
        assert!(
            status.success(),
            "building guest plugins failed; is the wasm32-wasip2 target installed? (rustup target add wasm32-wasip2)"
        );
        target_dir().join("wasm32-wasip2/plugin")
    })
}

/// Where compiled plugins are cached across runs: `$POPLINE_TEST_CACHE`, else
/// `target/popline-test-cache`. The cache must belong to the user running
/// the tests (popline ignores anyone else's), so a user running a suite
/// built by another one names its own.
fn cache_dir() -> PathBuf {
    std::env::var_os("POPLINE_TEST_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("popline-test-cache"))
}

/// Path of a built plugin, e.g. `plugin("feedback-default")`.
pub fn plugin(package: &str) -> PathBuf {
    plugins().join(format!("{}.wasm", package.replace('-', "_")))
}

/// One engine for the whole suite, with a cache shared across runs.
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        Engine::new(EngineOptions {
            cache_dir: Some(cache_dir()),
            max_instances: Some(200),
            perf_map: false,
        })
        .expect("building the plugin engine")
    })
}

/// The `popline` binary built for this test run.
pub fn popline() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_popline"));
    cmd.env("POPLINE_CACHE_DIR", cache_dir());
    cmd.env("POPLINE_LOG", "warn");
    cmd
}

/// A sample message from `examples/mail`.
pub fn example_mail(name: &str) -> PathBuf {
    root().join("examples/mail").join(name)
}

/// A loopback port nothing listens on (for now): bound, read, released.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A finished command's stdout and stderr, one after the other.
pub fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// [`text`], after asserting that the command succeeded.
#[track_caller]
pub fn expect_ok(out: &std::process::Output) -> String {
    let t = text(out);
    assert!(out.status.success(), "{t}");
    t
}
