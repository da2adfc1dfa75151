//! The host's layers, enforced: each crate under `host/` may use only crates
//! in lower layers (normal and build dependencies, from `cargo metadata`).
//! ARCHITECTURE.md draws the same table; change both together.

use std::collections::BTreeMap;
use std::process::Command;

use crate::support::root;

/// Layer of every host crate, from the bottom up.
const LAYERS: &[(&str, u32)] = &[
    ("popline-core", 0),
    ("popline-net", 0),
    ("popline-builtin", 0),
    ("popline-metrics", 1),
    ("popline-pop3", 1),
    ("popline-state", 1),
    ("popline-plugin-runtime", 2),
    ("popline-oauth", 2),
    ("popline-sink", 2),
    ("popline-mime", 3),
    ("popline-notice", 3),
    ("popline-mapping", 4),
    ("popline-config", 4),
    ("popline-ingest", 5),
    ("popline", 6),
];

/// Workspace crates outside `host/` that a host crate may use, and which.
const OUTSIDE: &[(&str, &str)] = &[("popline", "popline-reply-token")];

/// Every forbidden edge among workspace crates `(from, to, why)`.
fn violations(edges: &[(String, String)], workspace: &[String]) -> Vec<String> {
    let layer: BTreeMap<&str, u32> = LAYERS.iter().copied().collect();
    let mut bad = Vec::new();
    for (from, to) in edges {
        let Some(&lf) = layer.get(from.as_str()) else {
            continue;
        };
        if !workspace.contains(to) {
            continue;
        }
        match layer.get(to.as_str()) {
            Some(&lt) if lt < lf => {}
            Some(&lt) => bad.push(format!(
                "{from} (layer {lf}) uses {to} (layer {lt}): a crate may only use lower layers"
            )),
            None if OUTSIDE.contains(&(from.as_str(), to.as_str())) => {}
            None => bad.push(format!(
                "{from} uses {to}, a workspace crate outside host/ that it is not allowed"
            )),
        }
    }
    bad
}

#[test]
fn host_crates_only_use_lower_layers() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(root())
        .output()
        .expect("running cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let packages = meta["packages"].as_array().unwrap();
    let workspace: Vec<String> = packages
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    let mut edges = Vec::new();
    for p in packages {
        for d in p["dependencies"].as_array().unwrap() {
            if d["kind"].as_str() == Some("dev") {
                continue;
            }
            edges.push((
                p["name"].as_str().unwrap().to_string(),
                d["name"].as_str().unwrap().to_string(),
            ));
        }
    }
    // Every host crate has a layer.
    let host = std::path::Path::new(meta["workspace_root"].as_str().unwrap()).join("host");
    for p in packages {
        let manifest = std::path::Path::new(p["manifest_path"].as_str().unwrap());
        let name = p["name"].as_str().unwrap();
        if manifest.starts_with(&host) {
            assert!(
                LAYERS.iter().any(|(n, _)| *n == name),
                "{name} is under host/ but has no layer in tests/all/layers.rs"
            );
        }
    }
    let bad = violations(&edges, &workspace);
    assert!(
        bad.is_empty(),
        "forbidden dependency edges:\n{}",
        bad.join("\n")
    );
}

#[test]
fn an_upward_or_sideways_edge_is_refused() {
    let ws: Vec<String> = [
        "popline-core",
        "popline-ingest",
        "popline-sink",
        "popline-oauth",
        "feedback-core",
    ]
    .map(String::from)
    .to_vec();
    let edge = |a: &str, b: &str| vec![(a.to_string(), b.to_string())];
    assert!(violations(&edge("popline-ingest", "popline-core"), &ws).is_empty());
    assert_eq!(
        violations(&edge("popline-core", "popline-ingest"), &ws).len(),
        1
    );
    assert_eq!(
        violations(&edge("popline-sink", "popline-oauth"), &ws).len(),
        1,
        "same layer"
    );
    assert_eq!(
        violations(&edge("popline-sink", "feedback-core"), &ws).len(),
        1
    );
    assert!(
        violations(&edge("popline-sink", "serde"), &ws).is_empty(),
        "not a workspace crate"
    );
}
