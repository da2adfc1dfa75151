//! Where `popline` finds its configuration without `--config`:
//! `$POPLINE_CONFIG`, `./popline.toml`, `$XDG_CONFIG_HOME/popline/popline.toml`,
//! then `/etc/popline/popline.toml`; `check` says which file it used.

use crate::support::scenario::{Mailbox, Workspace};
use crate::support::{self, scripted::Script, scripted::ScriptedServer};

#[test]
fn check_finds_the_configuration_in_the_conventional_places_and_names_it() {
    let server = ScriptedServer::spawn(Script::login("beta@example.com", "pw"), Vec::new());
    let ws = Workspace::new();
    ws.configure(&[Mailbox::scripted(
        "beta",
        server.port,
        "beta@example.com",
        "pw",
    )]);
    let elsewhere = tempfile::tempdir().unwrap();
    let check = |cwd: &std::path::Path, env: &[(&str, &std::path::Path)]| {
        let mut cmd = support::popline();
        cmd.arg("check")
            .current_dir(cwd)
            .env_remove("POPLINE_CONFIG")
            .env_remove("XDG_CONFIG_HOME");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let text = support::text(&out);
        (out.status.success(), text)
    };
    let used = |text: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix("config file: "))
            .map(std::path::PathBuf::from)
    };
    let file = std::fs::canonicalize(ws.config()).unwrap();

    // ./popline.toml
    let (ok, text) = check(ws.dir.path(), &[]);
    assert!(ok, "{text}");
    assert_eq!(used(&text).as_ref(), Some(&file), "{text}");

    // $POPLINE_CONFIG, from any folder.
    let (ok, text) = check(elsewhere.path(), &[("POPLINE_CONFIG", ws.config())]);
    assert!(ok, "{text}");
    assert_eq!(used(&text).as_ref(), Some(&file), "{text}");

    // $XDG_CONFIG_HOME/popline/popline.toml.
    let xdg = tempfile::tempdir().unwrap();
    std::fs::create_dir(xdg.path().join("popline")).unwrap();
    let text_of_config = std::fs::read_to_string(ws.config()).unwrap();
    // Relative paths in it resolve against its own folder: make them absolute.
    let moved = text_of_config.replace(
        "file = \"",
        &format!("file = \"{}/", ws.dir.path().display()),
    );
    std::fs::write(xdg.path().join("popline/popline.toml"), moved).unwrap();
    let (ok, text) = check(elsewhere.path(), &[("XDG_CONFIG_HOME", xdg.path())]);
    assert!(ok, "{text}");
    assert_eq!(
        used(&text),
        Some(std::fs::canonicalize(xdg.path().join("popline/popline.toml")).unwrap()),
        "{text}"
    );
}
