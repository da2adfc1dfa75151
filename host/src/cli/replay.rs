//! `popline replay --mapper NEW.wasm [--against OLD.wasm] SOURCE...`: try a
//! candidate mapper on real messages (a folder of `.eml` files such as the
//! dead-letter folder, or files) and see what would change. Writes nothing.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde_json::Value;

use crate::plugin::mapper::{MapOutcome, MapperInput, wit};
use crate::plugin::{Engine, Limits, MapperPlugin};
use crate::{mime, record};

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Folders of `.eml` files (e.g. the dead-letter folder) or files.
    #[arg(required = true)]
    pub sources: Vec<PathBuf>,
    /// The candidate mapper.
    #[arg(long)]
    pub mapper: PathBuf,
    /// The mapper to compare against (e.g. the one in production).
    #[arg(long)]
    pub against: Option<PathBuf>,
    /// Mapper configuration for both, as `--set KEY=VALUE`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Pipeline name passed in the context.
    #[arg(long, default_value = "replay")]
    pub pipeline: String,
}

/// One message's result, reduced to what a reviewer compares.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Records(Vec<Value>),
    Skip(String),
    Failed(String),
}

fn label(r: &Outcome) -> &'static str {
    match r {
        Outcome::Records(_) => "feedback",
        Outcome::Skip(_) => "skip",
        Outcome::Failed(_) => "failure",
    }
}

async fn run_one(
    mapper: &MapperPlugin,
    raw: &[u8],
    config: &[(String, String)],
    pipeline: &str,
) -> Outcome {
    let parsed = match mime::parse(raw) {
        Ok(p) => p,
        Err(e) => return Outcome::Failed(format!("cannot parse: {e}")),
    };
    let ctx = wit::Context {
        pipeline: pipeline.to_string(),
        mailbox: String::new(),
        uid: String::new(),
        received_at: "1970-01-01T00:00:00Z".into(),
    };
    let input = MapperInput {
        email: &parsed.email,
        attachments: parsed.attachments.clone(),
        context: &ctx,
        config,
    };
    match mapper.map(input).await {
        Ok(MapOutcome::Feedback(list)) => Outcome::Records(
            record::build(&parsed, &ctx, "", list)
                .into_iter()
                .map(|r| {
                    let mut v = serde_json::to_value(r).expect("records serialise");
                    // Which plugin produced it is not a difference in behaviour.
                    v.as_object_mut().map(|o| o.remove("mapper"));
                    v
                })
                .collect(),
        ),
        Ok(MapOutcome::Skip(r)) => Outcome::Skip(r),
        Err(e) => Outcome::Failed(e.to_string()),
    }
}

fn files(sources: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for s in sources {
        if s.is_dir() {
            let mut v: Vec<PathBuf> = std::fs::read_dir(s)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                .collect();
            v.sort();
            out.extend(v);
        } else {
            out.push(s.clone());
        }
    }
    Ok(out)
}

/// Field-level differences between two record lists, as `path: old → new`.
fn diff(old: &[Value], new: &[Value]) -> Vec<String> {
    let mut out = Vec::new();
    if old.len() != new.len() {
        out.push(format!("records: {} → {}", old.len(), new.len()));
    }
    for (i, (a, b)) in old.iter().zip(new).enumerate() {
        let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
            continue;
        };
        let keys: BTreeMap<&String, ()> = a.keys().chain(b.keys()).map(|k| (k, ())).collect();
        for k in keys.keys() {
            let (x, y) = (a.get(*k), b.get(*k));
            if x != y {
                let show = |v: Option<&Value>| {
                    let s = v.map_or("∅".to_string(), |v| v.to_string());
                    if s.len() > 120 {
                        format!("{}…", &s[..s.floor_char_boundary(117)])
                    } else {
                        s
                    }
                };
                out.push(format!("[{i}].{k}: {} → {}", show(x), show(y)));
            }
        }
    }
    out
}

pub async fn run(engine: &Engine, args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let config = super::parse_pairs(&args.set)?;
    let new = MapperPlugin::load(engine, &args.mapper, Limits::default())?;
    let old = match &args.against {
        Some(p) => Some(MapperPlugin::load(engine, p, Limits::default())?),
        None => None,
    };
    let mut summary: BTreeMap<&'static str, usize> = BTreeMap::new();
    for file in files(&args.sources)? {
        let raw = std::fs::read(&file)?;
        let b = run_one(&new, &raw, &config, &args.pipeline).await;
        let shown = file.display();
        let Some(old) = &old else {
            *summary.entry(label(&b)).or_default() += 1;
            match &b {
                Outcome::Records(r) => println!("{shown}: {} record(s)", r.len()),
                Outcome::Skip(why) => println!("{shown}: skip: {why}"),
                Outcome::Failed(why) => println!("{shown}: FAILS: {why}"),
            }
            continue;
        };
        let a = run_one(old, &raw, &config, &args.pipeline).await;
        let kind = match (&a, &b) {
            _ if a == b => "same",
            (Outcome::Failed(_), Outcome::Failed(_)) => "changed",
            (_, Outcome::Failed(_)) => "newly failing",
            (Outcome::Skip(_), Outcome::Skip(_)) => "changed",
            (_, Outcome::Skip(_)) => "newly skipped",
            (Outcome::Failed(_), _) => "newly succeeding",
            (Outcome::Skip(_), _) => "newly matched",
            _ => "changed",
        };
        *summary.entry(kind).or_default() += 1;
        if kind == "same" {
            continue;
        }
        println!("{shown}: {kind}");
        match (&a, &b) {
            (Outcome::Records(x), Outcome::Records(y)) => {
                for line in diff(x, y) {
                    println!("    {line}");
                }
            }
            _ => {
                let desc = |r: &Outcome| match r {
                    Outcome::Records(v) => format!("{} record(s)", v.len()),
                    Outcome::Skip(s) => format!("skip: {s}"),
                    Outcome::Failed(s) => format!("failure: {s}"),
                };
                println!("    {} → {}", desc(&a), desc(&b));
            }
        }
    }
    let line: Vec<String> = summary.iter().map(|(k, n)| format!("{k} {n}")).collect();
    println!(
        "summary: {}",
        if line.is_empty() {
            "no messages".into()
        } else {
            line.join(", ")
        }
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_names_changed_fields() {
        let a = vec![serde_json::json!({"target": "1", "body_text": "hi"})];
        let b = vec![serde_json::json!({"target": "2", "body_text": "hi"})];
        assert_eq!(diff(&a, &b), vec!["[0].target: \"1\" → \"2\"".to_string()]);
        assert!(diff(&a, &a).is_empty());
        assert_eq!(diff(&a, &[]), vec!["records: 1 → 0".to_string()]);
    }

    #[test]
    fn sources_expand_folders_to_eml_files_only() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("b.eml"), "x").unwrap();
        std::fs::write(d.path().join("a.eml"), "x").unwrap();
        std::fs::write(d.path().join("a.json"), "{}").unwrap();
        let f = files(&[d.path().to_path_buf()]).unwrap();
        let names: Vec<_> = f
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a.eml", "b.eml"]);
    }
}
