//! `popline map`: run a mapper over .eml files.

use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;

use popline_config::PluginRef;
use popline_ingest::plugins::source;
use popline_mapping::Mapped;
use popline_plugin_runtime::mapper::{MapOutcome, MapperInput, wit};
use popline_plugin_runtime::{CallReport, Engine, Limits, LogLevel, MapperPlugin, PluginError};

#[derive(Debug, Args)]
pub struct MapArgs {
    /// Email files (.eml, RFC 5322) to map.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The mapper plugin: a .wasm component or `builtin:feedback-default`
    /// (compiled into popline).
    #[arg(long, value_name = "PLUGIN")]
    pub mapper: PluginRef,
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
    /// Output limit per message (all text of the records), in KiB.
    #[arg(long)]
    pub output_kib: Option<u64>,
    /// Print a report per file instead of JSON lines: the parsed input the
    /// mapper received (headers, body sizes, attachments, decoding warnings),
    /// the plugin's log lines and stderr, wall and CPU time, peak memory, and
    /// the outcome with each record in full.
    #[arg(long, short)]
    pub verbose: bool,
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
    if args.output_kib.is_some() {
        limits.output_kib = args.output_kib;
    }
    let mapper = MapperPlugin::load(engine, source(&args.mapper), limits.clone())?;
    let received_at = args
        .received_at
        .clone()
        .unwrap_or_else(popline_core::clock::now_rfc3339);
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
        let parsed = match popline_mime::parse(&raw) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("{shown}: cannot parse: {e}");
                failed = true;
                continue;
            }
        };
        let ctx = popline_mapping::context(&args.pipeline, &args.mailbox, "", &received_at);
        if args.verbose {
            let input = MapperInput {
                email: &parsed.email,
                attachments: parsed.attachments.clone(),
                context: &ctx,
                config: &config,
            };
            let started = Instant::now();
            let (outcome, report) = mapper.map_reported(input, true).await;
            let wall = started.elapsed();
            failed |= outcome.is_err();
            let text = verbose_report(
                &shown.to_string(),
                &parsed,
                &ctx,
                &config,
                &mapper,
                &limits,
                outcome,
                &report,
                wall,
            );
            let mut out = stdout.lock();
            out.write_all(text.as_bytes())
                .context("writing to stdout")?;
            continue;
        }
        match popline_mapping::map_parsed(&mapper, &parsed, &ctx, &config).await {
            Ok(Mapped::Records(records)) => {
                let mut out = stdout.lock();
                for r in records {
                    serde_json::to_writer(&mut out, &r).context("writing to stdout")?;
                    out.write_all(b"\n").context("writing to stdout")?;
                }
            }
            Ok(Mapped::Skip(reason)) => eprintln!("{shown}: skipped: {reason}"),
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

/// `--verbose`: everything a plugin author needs to see about one call.
#[allow(clippy::too_many_arguments)]
fn verbose_report(
    file: &str,
    parsed: &popline_mime::ParsedEmail,
    ctx: &wit::Context,
    config: &[(String, String)],
    mapper: &MapperPlugin,
    limits: &Limits,
    outcome: Result<MapOutcome, PluginError>,
    report: &CallReport,
    wall: Duration,
) -> String {
    let e = &parsed.email;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "== {file} ({} bytes, sha256 {})",
        e.size,
        &parsed.sha256[..16]
    );
    let _ = writeln!(o, "input (as the mapper received it):");
    let addrs = |l: &[wit::Address]| {
        if l.is_empty() {
            return "-".to_string();
        }
        l.iter()
            .map(|a| match &a.name {
                Some(n) => format!("{n} <{}>", a.address),
                None => a.address.clone(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let list = |v: &[String]| {
        if v.is_empty() {
            "-".to_string()
        } else {
            v.join(" ")
        }
    };
    let _ = writeln!(o, "  from:         {}", addrs(&e.from));
    let _ = writeln!(o, "  to:           {}", addrs(&e.to));
    let _ = writeln!(o, "  cc:           {}", addrs(&e.cc));
    let _ = writeln!(o, "  reply-to:     {}", addrs(&e.reply_to));
    let _ = writeln!(o, "  delivered-to: {}", addrs(&e.delivered_to));
    let _ = writeln!(o, "  subject:      {}", opt(&e.subject));
    let _ = writeln!(o, "  message-id:   {}", opt(&e.message_id));
    let _ = writeln!(o, "  in-reply-to:  {}", list(&e.in_reply_to));
    let _ = writeln!(o, "  references:   {}", list(&e.references));
    let _ = writeln!(o, "  date:         {}", opt(&e.date));
    let names: Vec<&str> = e.headers.iter().map(|h| h.name.as_str()).collect();
    let _ = writeln!(
        o,
        "  headers:      {} ({})",
        e.headers.len(),
        names.join(", ")
    );
    let body = |b: &Option<String>| match b {
        Some(t) => format!("{} bytes, {} lines", t.len(), t.lines().count()),
        None => "none".into(),
    };
    let _ = writeln!(o, "  text body:    {}", body(&e.text_body));
    let _ = writeln!(o, "  html body:    {}", body(&e.html_body));
    let _ = writeln!(o, "  attachments:  {}", e.attachments.len());
    for a in &e.attachments {
        let _ = writeln!(
            o,
            "    [{}] {} {} {} bytes{}{} sha256 {}",
            a.index,
            a.file_name.as_deref().unwrap_or("(no name)"),
            a.content_type,
            a.size,
            if a.inline { " inline" } else { "" },
            a.content_id
                .as_ref()
                .map_or(String::new(), |c| format!(" cid:{c}")),
            &a.sha256[..16.min(a.sha256.len())]
        );
    }
    if e.warnings.is_empty() {
        let _ = writeln!(o, "  warnings:     none");
    } else {
        let _ = writeln!(o, "  warnings:     {}", e.warnings.len());
        for w in &e.warnings {
            let _ = writeln!(o, "    {w}");
        }
    }
    let _ = writeln!(
        o,
        "context: pipeline={:?} mailbox={:?} uid={:?} received-at={:?}",
        ctx.pipeline, ctx.mailbox, ctx.uid, ctx.received_at
    );
    let cfg: Vec<String> = config.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    let _ = writeln!(
        o,
        "config: {}",
        if cfg.is_empty() {
            "(none)".to_string()
        } else {
            cfg.join(" ")
        }
    );
    let _ = writeln!(
        o,
        "plugin log: {} line(s){}",
        report.logs.len(),
        if report.logs_dropped > 0 {
            format!(", {} dropped past the limit", report.logs_dropped)
        } else {
            String::new()
        }
    );
    for (level, line) in &report.logs {
        let level = match level {
            LogLevel::Trace => "TRACE",
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warn => "WARN",
            LogLevel::Error => "ERROR",
        };
        let _ = writeln!(o, "  {level:<5} {line}");
    }
    let stderr = report.stderr.trim_end();
    if !stderr.is_empty() {
        let _ = writeln!(o, "plugin stderr:");
        for line in stderr.lines() {
            let _ = writeln!(o, "  {line}");
        }
    }
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    let _ = writeln!(
        o,
        "cost: {:.2} ms wall (instantiate + call), {:.2} ms CPU of {} ms allowed, peak memory {:.2} MiB of {} MiB allowed",
        wall.as_secs_f64() * 1e3,
        report.cpu.as_secs_f64() * 1e3,
        limits.cpu_ms,
        mib(report.memory_peak),
        limits.memory_mib
    );
    match outcome {
        Ok(MapOutcome::Feedback(list)) => {
            let recs = popline_mapping::build_records(parsed, ctx, mapper.name(), list);
            let _ = writeln!(o, "outcome: feedback, {} record(s)", recs.len());
            for r in recs {
                let json = serde_json::to_string_pretty(&r).unwrap_or_else(|e| e.to_string());
                for line in json.lines() {
                    let _ = writeln!(o, "  {line}");
                }
            }
        }
        Ok(MapOutcome::Skip(reason)) => {
            let _ = writeln!(o, "outcome: skip: {reason}");
        }
        Err(e) => {
            let _ = writeln!(o, "outcome: FAILED: {e}");
        }
    }
    o.push('\n');
    o
}
