//! `popline map`: run a mapper over .eml files.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use crate::plugin::mapper::{MapOutcome, MapperInput, wit};
use crate::plugin::{Engine, Limits, MapperPlugin};
use crate::{mime, record};

#[derive(Debug, Args)]
pub struct MapArgs {
    /// Email files (.eml, RFC 5322) to map.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The mapper plugin (.wasm component).
    #[arg(long)]
    pub mapper: PathBuf,
    /// Plugin configuration, as the pipeline's `[mapper.config]` would give it.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Pipeline name passed in the context.
    #[arg(long, default_value = "cli")]
    pub pipeline: String,
    /// Mailbox address passed in the context.
    #[arg(long, default_value = "")]
    pub mailbox: String,
    /// Received-at time passed in the context (RFC 3339; default: now).
    #[arg(long)]
    pub received_at: Option<String>,
    /// Guest CPU limit per message, in ms.
    #[arg(long)]
    pub cpu_ms: Option<u64>,
    /// Guest memory limit, in MiB.
    #[arg(long)]
    pub memory_mib: Option<u64>,
}

pub async fn run(engine: &Engine, args: MapArgs) -> anyhow::Result<ExitCode> {
    let config = super::parse_pairs(&args.set)?;
    let mut limits = Limits::default();
    if let Some(ms) = args.cpu_ms {
        limits.cpu_ms = ms;
    }
    if let Some(m) = args.memory_mib {
        limits.memory_mib = m;
    }
    let mapper = MapperPlugin::load(engine, &args.mapper, limits)?;
    let received_at = args.received_at.clone().unwrap_or_else(crate::now_rfc3339);
    let mut failed = false;
    let stdout = std::io::stdout();
    for file in &args.files {
        let shown = file.display();
        let raw = match std::fs::read(file) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{shown}: cannot read: {e}");
                failed = true;
                continue;
            }
        };
        let parsed = match mime::parse(&raw) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("{shown}: cannot parse: {e}");
                failed = true;
                continue;
            }
        };
        let ctx = wit::Context {
            pipeline: args.pipeline.clone(),
            mailbox: args.mailbox.clone(),
            uid: String::new(),
            received_at: received_at.clone(),
        };
        let outcome = mapper
            .map(MapperInput {
                email: &parsed.email,
                attachments: parsed.attachments.clone(),
                context: &ctx,
                config: &config,
            })
            .await;
        match outcome {
            Ok(MapOutcome::Feedback(list)) => {
                let mut out = stdout.lock();
                for r in record::build(&parsed, &ctx, mapper.name(), list) {
                    serde_json::to_writer(&mut out, &r).context("writing to stdout")?;
                    out.write_all(b"\n").context("writing to stdout")?;
                }
            }
            Ok(MapOutcome::Skip(reason)) => eprintln!("{shown}: skipped: {reason}"),
            Err(e) => {
                eprintln!("{shown}: {e}");
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
