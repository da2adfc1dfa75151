//! `popline replay --mapper NEW.wasm [--against OLD.wasm] SOURCE...`: try a
//! candidate mapper on real messages and see what would change. Sources are
//! folders of `.eml` files or files, the raw archive of a pipeline
//! (`--archive NAME`, kept with `archive_days`) and the dead letters
//! (`--dead-letters`). Writes nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use serde_json::Value;

use popline_config::{Config, PluginRef};
use popline_ingest::plugins::source;
use popline_mapping::{MapError, Mapped};
use popline_plugin_runtime::mapper::wit;
use popline_plugin_runtime::{Engine, Limits, MapperPlugin};
use popline_state::archive;
use popline_state::deadletter::DeadLetters;

#[derive(Debug, Args)]
#[command(group(
    clap::ArgGroup::new("source")
        .required(true)
        .multiple(true)
        .args(["sources", "archive", "dead_letters"])
))]
pub struct ReplayArgs {
    /// Folders of `.eml` files or files.
    pub sources: Vec<PathBuf>,
    /// Replay the raw archive of pipeline NAME (kept with `archive_days`).
    /// Without `--against`, the pipeline's configured mapper is the baseline.
    #[arg(long, value_name = "NAME")]
    pub archive: Option<String>,
    /// Replay the dead letters. Without `--against`, each one's pipeline's
    /// configured mapper is the baseline.
    #[arg(long)]
    pub dead_letters: bool,
    /// The candidate mapper: a .wasm component or `builtin:feedback-default`.
    #[arg(long, value_name = "PLUGIN")]
    pub mapper: PluginRef,
    /// The mapper to compare against (e.g. the one in production): a .wasm
    /// component or `builtin:feedback-default`.
    #[arg(long, value_name = "PLUGIN")]
    pub against: Option<PluginRef>,
    /// The candidate's configuration, as `--set KEY=VALUE` (default for a
    /// pipeline's messages: that pipeline's mapper configuration).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// The baseline's configuration (default: the pipeline's when the
    /// baseline is the pipeline's mapper, else the candidate's).
    #[arg(long = "against-set", value_name = "KEY=VALUE")]
    pub against_set: Vec<String>,
    /// Pipeline name passed in the context (default: the message's pipeline,
    /// else `replay`).
    #[arg(long)]
    pub pipeline: Option<String>,
    /// Exit with status 1 when the candidate newly fails on any message (or,
    /// without a baseline, fails on any), so a CI job can gate a mapper
    /// change on real traffic.
    #[arg(long)]
    pub fail_on_regression: bool,
}

/// One message's result, reduced to what a reviewer compares.
#[derive(Debug, Clone, PartialEq)]
enum Behaviour {
    Records(Vec<Value>),
    Skip(String),
    Failed(String),
}

fn label(r: &Behaviour) -> &'static str {
    match r {
        Behaviour::Records(_) => "feedback",
        Behaviour::Skip(_) => "skip",
        Behaviour::Failed(_) => "failure",
    }
}

async fn run_one(
    mapper: &MapperPlugin,
    raw: &[u8],
    config: &[(String, String)],
    ctx: &wit::Context,
) -> Behaviour {
    match popline_mapping::map_message(mapper, raw, ctx, config).await {
        Ok((_, Mapped::Records(records))) => Behaviour::Records(
            records
                .into_iter()
                .map(|r| {
                    let mut v = serde_json::to_value(r).expect("records serialise");
                    // Which plugin produced it is not a difference in behaviour.
                    v.as_object_mut().map(|o| o.remove("mapper"));
                    v
                })
                .collect(),
        ),
        Ok((_, Mapped::Skip(r))) => Behaviour::Skip(r),
        Err(MapError::Parse(e)) => Behaviour::Failed(format!("cannot parse: {e}")),
        Err(MapError::Plugin(e)) => Behaviour::Failed(e.to_string()),
    }
}

/// One message to replay: where it comes from and the pipeline it belongs to.
struct Item {
    /// How it is shown: a path, `ARCHIVE/DIGEST` or `dead letter ID`.
    label: String,
    what: Source,
    /// The pipeline it came through, if known.
    pipeline: Option<String>,
    /// Its unique id on the server, if known.
    uid: String,
    /// When it was received, if known (RFC 3339).
    received_at: Option<String>,
}

enum Source {
    File(PathBuf),
    Archived(archive::Entry),
    DeadLetter(String),
}

/// A pipeline's mapper as configured: the baseline and default settings
/// for its messages.
struct Pipeline {
    mailbox: String,
    config: Vec<(String, String)>,
    limits: Limits,
    plugin: PluginRef,
}

fn pipeline(config: &Config, name: &str) -> anyhow::Result<Pipeline> {
    let Some(mb) = config.mailboxes.get(name) else {
        let names: Vec<&str> = config.mailboxes.keys().map(String::as_str).collect();
        anyhow::bail!(
            "pipeline {name:?} is not in the configuration (configured: [{}]); pass --against OLD.wasm and --set to replay its messages anyway",
            names.join(", ")
        );
    };
    Ok(Pipeline {
        mailbox: mb.user.clone(),
        config: mb
            .mapper
            .config
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        limits: mb.mapper.limits.clone(),
        plugin: config.plugin(&mb.mapper.plugin),
    })
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

/// Everything the sources name, in order: files, then the archive, then
/// the dead letters.
fn items(args: &ReplayArgs, config: Option<&Config>) -> anyhow::Result<Vec<Item>> {
    let mut out: Vec<Item> = files(&args.sources)?
        .into_iter()
        .map(|p| Item {
            label: p.display().to_string(),
            what: Source::File(p),
            pipeline: None,
            uid: String::new(),
            received_at: None,
        })
        .collect();
    if let Some(name) = &args.archive {
        let config = config.expect("the config is loaded for --archive");
        let dir = config.archive_dir(name);
        if !dir.is_dir() {
            let hint = match config.mailboxes.get(name) {
                None => format!("there is no pipeline {name:?} in the configuration"),
                Some(mb) if mb.archive_days.is_none() => format!(
                    "set archive_days on [mailboxes.{name}] to keep the messages it fetches"
                ),
                Some(_) => "nothing has been fetched since archive_days was set".to_string(),
            };
            anyhow::bail!(
                "no raw archive for pipeline {name:?} at {}: {hint}",
                dir.display()
            );
        }
        for e in archive::list(&dir)? {
            out.push(Item {
                label: format!("{name}/{}", &e.sha256[..16]),
                what: Source::Archived(e),
                pipeline: Some(name.clone()),
                uid: String::new(),
                received_at: None,
            });
        }
    }
    if args.dead_letters {
        let config = config.expect("the config is loaded for --dead-letters");
        let dl = DeadLetters::new(config.path(&config.state.dead_letter_dir));
        for m in dl.list()? {
            out.push(Item {
                label: format!("dead letter {}", m.id),
                what: Source::DeadLetter(m.id),
                pipeline: Some(m.pipeline),
                uid: m.uid,
                received_at: Some(m.at),
            });
        }
    }
    Ok(out)
}

pub async fn run(
    engine: &Engine,
    config_path: &Path,
    args: ReplayArgs,
) -> anyhow::Result<ExitCode> {
    let overrides = super::parse_pairs(&args.set)?;
    let against_overrides = super::parse_pairs(&args.against_set)?;
    let config = if args.archive.is_some() || args.dead_letters {
        Some(Config::load(config_path)?)
    } else {
        None
    };
    let items = items(&args, config.as_ref())?;
    // The pipelines the messages came through, as configured.
    let mut pipelines: BTreeMap<String, Pipeline> = BTreeMap::new();
    if let Some(config) = &config {
        for name in items.iter().filter_map(|i| i.pipeline.as_ref()) {
            if !pipelines.contains_key(name) {
                match pipeline(config, name) {
                    Ok(p) => {
                        pipelines.insert(name.clone(), p);
                    }
                    Err(e) if args.against.is_none() => return Err(e),
                    Err(_) => {}
                }
            }
        }
    }
    // The candidate runs under the pipeline's limits when there is one.
    let limits = |p: Option<&Pipeline>| p.map_or_else(Limits::default, |p| p.limits.clone());
    let mut candidates: BTreeMap<Option<String>, MapperPlugin> = BTreeMap::new();
    let mut baselines: BTreeMap<Option<String>, MapperPlugin> = BTreeMap::new();
    let mut summary: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut compared = false;
    for item in &items {
        let p = item.pipeline.as_ref().and_then(|n| pipelines.get(n));
        let key = p.and(item.pipeline.clone());
        if !candidates.contains_key(&key) {
            let m = MapperPlugin::load(engine, source(&args.mapper), limits(p))?;
            candidates.insert(key.clone(), m);
        }
        let baseline_path = match (&args.against, p) {
            (Some(path), _) => Some(path.clone()),
            (None, Some(p)) => Some(p.plugin.clone()),
            (None, None) => None,
        };
        if let Some(path) = &baseline_path
            && !baselines.contains_key(&key)
        {
            let m = MapperPlugin::load(engine, source(path), limits(p))
                .with_context(|| format!("loading the baseline mapper {path}"))?;
            baselines.insert(key.clone(), m);
        }
        let raw = match &item.what {
            Source::File(path) => {
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?
            }
            Source::Archived(e) => match archive::read_verified(e) {
                Ok(raw) => raw,
                Err(e) => {
                    println!("{}: not replayed: {e:#}", item.label);
                    *summary.entry("unreadable").or_default() += 1;
                    continue;
                }
            },
            Source::DeadLetter(id) => {
                let config = config.as_ref().expect("loaded for --dead-letters");
                DeadLetters::new(config.path(&config.state.dead_letter_dir))
                    .get(id)?
                    .1
            }
        };
        let settings: &[(String, String)] = match p {
            Some(p) if args.set.is_empty() => &p.config,
            _ => &overrides,
        };
        let against_settings: &[(String, String)] = match p {
            _ if !args.against_set.is_empty() => &against_overrides,
            Some(p) if args.against.is_none() => &p.config,
            _ => settings,
        };
        let ctx = wit::Context {
            pipeline: args
                .pipeline
                .clone()
                .or_else(|| item.pipeline.clone())
                .unwrap_or_else(|| "replay".into()),
            mailbox: p.map(|p| p.mailbox.clone()).unwrap_or_default(),
            uid: item.uid.clone(),
            received_at: item
                .received_at
                .clone()
                .unwrap_or_else(|| "1970-01-01T00:00:00Z".into()),
        };
        let b = run_one(&candidates[&key], &raw, settings, &ctx).await;
        let shown = &item.label;
        let Some(old) = baselines.get(&key) else {
            *summary.entry(label(&b)).or_default() += 1;
            match &b {
                Behaviour::Records(r) => println!("{shown}: {} record(s)", r.len()),
                Behaviour::Skip(why) => println!("{shown}: skip: {why}"),
                Behaviour::Failed(why) => println!("{shown}: FAILS: {why}"),
            }
            continue;
        };
        compared = true;
        let a = run_one(old, &raw, against_settings, &ctx).await;
        let kind = match (&a, &b) {
            _ if a == b => "same",
            (Behaviour::Failed(_), Behaviour::Failed(_)) => "changed",
            (_, Behaviour::Failed(_)) => "newly failing",
            (Behaviour::Skip(_), Behaviour::Skip(_)) => "changed",
            (_, Behaviour::Skip(_)) => "newly skipped",
            (Behaviour::Failed(_), _) => "newly succeeding",
            (Behaviour::Skip(_), _) => "newly matched",
            _ => "changed",
        };
        *summary.entry(kind).or_default() += 1;
        if kind == "same" {
            continue;
        }
        println!("{shown}: {kind}");
        match (&a, &b) {
            (Behaviour::Records(x), Behaviour::Records(y)) => {
                for line in diff(x, y) {
                    println!("    {line}");
                }
            }
            _ => {
                let desc = |r: &Behaviour| match r {
                    Behaviour::Records(v) => format!("{} record(s)", v.len()),
                    Behaviour::Skip(s) => format!("skip: {s}"),
                    Behaviour::Failed(s) => format!("failure: {s}"),
                };
                println!("    {} → {}", desc(&a), desc(&b));
            }
        }
    }
    let line: Vec<String> = summary.iter().map(|(k, n)| format!("{k} {n}")).collect();
    println!(
        "summary: {}{}",
        if line.is_empty() {
            "no messages".into()
        } else {
            line.join(", ")
        },
        if compared || items.is_empty() {
            String::new()
        } else {
            " (no baseline: pass --against OLD.wasm to compare)".into()
        }
    );
    let failing = if compared { "newly failing" } else { "failure" };
    match summary.get(failing) {
        Some(n) if args.fail_on_regression && *n > 0 => {
            eprintln!(
                "replay: the candidate mapper {failing} on {n} message(s) (--fail-on-regression)"
            );
            Ok(ExitCode::from(1))
        }
        _ => Ok(ExitCode::SUCCESS),
    }
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
