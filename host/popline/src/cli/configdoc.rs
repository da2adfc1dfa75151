//! `popline config schema | reference`: the JSON Schema of the configuration
//! (for editor completion) and a Markdown reference, both generated from the
//! config structs' doc comments so they cannot drift. `just docs` writes
//! them to `schema/popline-config.schema.json` and `docs/config-reference.md`;
//! a test checks the committed copies are current.

use std::fmt::Write as _;
use std::process::ExitCode;

use clap::Subcommand;
use serde_json::Value;

use popline_config::Config;

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the configuration's JSON Schema.
    Schema,
    /// Print the configuration reference (Markdown).
    Reference,
}

pub fn run(cmd: ConfigCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ConfigCommand::Schema => println!("{}", schema_text()),
        ConfigCommand::Reference => print!("{}", reference()),
    }
    Ok(ExitCode::SUCCESS)
}

/// The JSON Schema, pretty-printed.
pub fn schema_text() -> String {
    serde_json::to_string_pretty(&schemars::schema_for!(Config)).expect("schemas serialise")
}

fn type_of(v: &Value) -> String {
    if let Some(r) = v.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap_or(r);
        return format!("[{name}](#{})", name.to_lowercase());
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(list) = v.get(key).and_then(Value::as_array) {
            let parts: Vec<String> = list.iter().map(type_of).filter(|t| t != "null").collect();
            return parts.join(" or ");
        }
    }
    if let Some(e) = v.get("enum").and_then(Value::as_array) {
        return e
            .iter()
            .map(|x| format!("`{}`", x.as_str().unwrap_or("?")))
            .collect::<Vec<_>>()
            .join(", ");
    }
    if let Some(c) = v.get("const") {
        return format!("`{}`", c.as_str().unwrap_or("?"));
    }
    match v.get("type") {
        Some(Value::String(t)) if t == "array" => format!(
            "list of {}",
            v.get("items").map(type_of).unwrap_or_default()
        ),
        Some(Value::String(t)) if t == "object" => match v.get("additionalProperties") {
            Some(a) if a.is_object() => format!("table of {}", type_of(a)),
            _ => "table".into(),
        },
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| *t != "null")
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "any".into(),
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

fn section(out: &mut String, name: &str, def: &Value) {
    let _ = writeln!(out, "## {name}\n");
    if let Some(d) = def.get("description").and_then(Value::as_str) {
        let _ = writeln!(out, "{}\n", d.trim());
    }
    if let Some(props) = def.get("properties").and_then(Value::as_object) {
        let required: Vec<&str> = def
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        out.push_str("| key | type | default | description |\n|---|---|---|---|\n");
        for (key, p) in props {
            let default = match p.get("default") {
                Some(Value::Null) | None if required.contains(&key.as_str()) => {
                    "required".to_string()
                }
                Some(Value::Null) | None => "—".to_string(),
                Some(d) => format!("`{d}`"),
            };
            let desc = p
                .get("description")
                .and_then(Value::as_str)
                .map(one_line)
                .unwrap_or_default();
            let _ = writeln!(out, "| `{key}` | {} | {default} | {desc} |", type_of(p));
        }
        out.push('\n');
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(list) = def.get(key).and_then(Value::as_array) {
            for v in list {
                let desc = v
                    .get("description")
                    .and_then(Value::as_str)
                    .map(one_line)
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "- {}{}",
                    type_of(v),
                    if desc.is_empty() {
                        String::new()
                    } else {
                        format!(": {desc}")
                    }
                );
                if let Some(props) = v.get("properties").and_then(Value::as_object) {
                    for (k, p) in props {
                        let d = p
                            .get("description")
                            .and_then(Value::as_str)
                            .map(one_line)
                            .unwrap_or_default();
                        let _ = writeln!(out, "  - `{k}` ({}) {d}", type_of(p));
                    }
                }
            }
            out.push('\n');
        }
    }
}

/// The Markdown reference.
pub fn reference() -> String {
    let schema: Value = serde_json::from_str(&schema_text()).expect("valid JSON");
    let mut out = String::from(
        "# Configuration reference\n\nGenerated from the configuration structs' doc comments by `popline config reference` (`just docs`); do not edit by hand. Unknown keys are errors.\n\n",
    );
    section(&mut out, "Config", &schema);
    if let Some(defs) = schema.get("$defs").and_then(Value::as_object) {
        for (name, def) in defs {
            section(&mut out, name, def);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed reference and schema match the code; run `just docs`
    /// after changing a config struct.
    #[test]
    fn committed_docs_are_current() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let doc =
            std::fs::read_to_string(root.join("docs/config-reference.md")).unwrap_or_default();
        assert!(
            doc == reference(),
            "docs/config-reference.md is stale: run `just docs`"
        );
        let schema = std::fs::read_to_string(root.join("schema/popline-config.schema.json"))
            .unwrap_or_default();
        assert!(
            schema.trim_end() == schema_text(),
            "schema/popline-config.schema.json is stale: run `just docs`"
        );
    }

    #[test]
    fn every_config_field_is_documented() {
        let doc = reference();
        for key in [
            "poll_interval",
            "retention",
            "client_id",
            "refresh_keepalive",
            "cpu_ms",
            "listen",
        ] {
            assert!(doc.contains(&format!("| `{key}` |")), "{key} missing");
        }
        // Sink kinds are listed per variant rather than as table rows.
        assert!(doc.contains("`max_attempts` (integer) Attempts per record"));
        assert!(!doc.contains("|  |\n"), "a field without a doc comment");
    }
}
