//! `popline dead-letter list | show ID | retry [ID|--all] [--mapper PLUGIN.wasm]`.

use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;

use popline_config::{Config, PluginRef};
use popline_ingest::pipeline::{Pipelines, RetryOutcome};
use popline_plugin_runtime::{Limits, MapperPlugin};
use popline_state::deadletter::DeadLetters;

#[derive(Debug, Subcommand)]
pub enum DeadLetterCommand {
    /// List dead letters: id, pipeline, uid, time and reason.
    List,
    /// Show one dead letter's sidecar and the start of the message.
    Show {
        /// The dead letter's id (from `list`).
        id: String,
    },
    /// Reprocess dead letters and deliver the results to the pipeline's sinks.
    Retry {
        /// The dead letter to retry.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<String>,
        /// Retry every dead letter.
        #[arg(long)]
        all: bool,
        /// Use this mapper instead of the pipeline's: a .wasm component or
        /// `builtin:feedback-default`.
        #[arg(long, value_name = "PLUGIN")]
        mapper: Option<PluginRef>,
        /// Configuration for `--mapper` (default: the pipeline's mapper config).
        #[arg(long = "set", value_name = "KEY=VALUE", requires = "mapper")]
        set: Vec<String>,
    },
}

pub async fn run(config_path: &Path, cmd: DeadLetterCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        DeadLetterCommand::List => {
            let config = Config::load(config_path)?;
            let dl = DeadLetters::new(config.path(&config.state.dead_letter_dir));
            let all = dl.list()?;
            if all.is_empty() {
                println!("no dead letters in {}", dl.dir().display());
            }
            for m in all {
                println!(
                    "{}\t{}\tuid {}\t{}\t{}",
                    m.id, m.pipeline, m.uid, m.at, m.reason
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        DeadLetterCommand::Show { id } => {
            let config = Config::load(config_path)?;
            let dl = DeadLetters::new(config.path(&config.state.dead_letter_dir));
            let (meta, raw) = dl.get(&id)?;
            println!("{}", serde_json::to_string_pretty(&meta)?);
            let head = String::from_utf8_lossy(&raw[..raw.len().min(2048)]);
            println!("--- message ({} bytes) ---\n{head}", raw.len());
            Ok(ExitCode::SUCCESS)
        }
        DeadLetterCommand::Retry {
            id,
            all: _,
            mapper,
            set,
        } => {
            let overrides = super::parse_pairs(&set)?;
            let config = Config::load(config_path)?;
            let rt = Pipelines::load(&config).await?;
            let mapper = match mapper {
                Some(p) => Some(MapperPlugin::load(
                    &rt.engine,
                    popline_ingest::plugins::source(&p),
                    Limits::default(),
                )?),
                None => None,
            };
            let metas = match id {
                Some(id) => vec![rt.dead_letters.get(&id)?.0],
                None => rt.dead_letters.list()?,
            };
            let mut failed = false;
            for meta in metas {
                let Some(mb) = rt.pipelines.iter().find(|m| m.name == meta.pipeline) else {
                    println!(
                        "{}: pipeline {:?} is no longer configured; kept",
                        meta.id, meta.pipeline
                    );
                    failed = true;
                    continue;
                };
                let (_, raw) = rt.dead_letters.get(&meta.id)?;
                // `--mapper` gets `--set` if given, else the pipeline's config.
                let with = mapper.as_ref().map(|m| {
                    let cfg: &[(String, String)] = if set.is_empty() {
                        mb.mapper_config()
                    } else {
                        &overrides
                    };
                    (m, cfg)
                });
                match mb
                    .retry_dead_letter(&meta, &raw, with, rt.state.as_ref())
                    .await
                {
                    Ok(outcome) => {
                        rt.dead_letters.remove(&meta.id)?;
                        match outcome {
                            RetryOutcome::Delivered(n) => {
                                println!("{}: delivered {n} record(s)", meta.id)
                            }
                            RetryOutcome::Skipped(r) => println!("{}: skipped: {r}", meta.id),
                        }
                    }
                    Err(e) => {
                        failed = true;
                        println!("{}: still failing: {e:#}", meta.id);
                    }
                }
            }
            Ok(if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}
