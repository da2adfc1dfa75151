//! Where one mapper call's time goes, on the benchmark mailbox's messages
//! (`popline_testkit::mixed_corpus`): wall time per message for each
//! plugin named in `MAPCOST_WASM` (comma-separated .wasm files), measured in
//! interleaved rounds, split into instantiate / call (lower + guest + lift) /
//! the rest (store creation, instance reset on drop, output checks).
//! The last row is `feedback-core` called natively on the same messages
//! (converted to the SDK's types before timing): the bound for the WASM
//! mapper's call column.
//! `cargo bench --bench mapcost`; `MAPCOST_N` messages (default 300),
//! `MAPCOST_ROUNDS` rounds (default 5).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use popline_core::timing::{self, Stage};
use popline_plugin_runtime::mapper::{MapperInput, wit};
use popline_plugin_runtime::{Engine, EngineOptions, Limits, MapperPlugin};

#[path = "common/native.rs"]
mod native;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn stage(stage: Stage) -> Duration {
    timing::totals()
        .into_iter()
        .find(|t| t.stage == stage)
        .map_or(Duration::ZERO, |t| t.wall)
}

fn main() {
    let n = env_usize("MAPCOST_N", 300);
    let rounds = env_usize("MAPCOST_ROUNDS", 5);
    let wasm: Vec<PathBuf> = match std::env::var("MAPCOST_WASM") {
        Ok(list) => list.split(',').map(PathBuf::from).collect(),
        Err(_) => vec![
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../target/wasm32-wasip2/plugin/feedback_default.wasm"),
        ],
    };
    let parsed: Vec<_> = popline_testkit::mixed_corpus(n, 1)
        .iter()
        .map(|raw| popline_mime::parse(raw).unwrap())
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let engine = Engine::new(EngineOptions {
        perf_map: EngineOptions::perf_map_from_env(),
        ..EngineOptions::default()
    })
    .unwrap();
    let mappers: Vec<MapperPlugin> = wasm
        .iter()
        .map(|p| MapperPlugin::load(&engine, p, Limits::default()).unwrap())
        .collect();
    let ctx = wit::Context {
        pipeline: "bench".into(),
        mailbox: "beta@example.com".into(),
        uid: "1".into(),
        received_at: "2026-01-01T00:00:00Z".into(),
    };
    // As `just bench-ingest` configures the mapper.
    let config = vec![("unmatched".to_string(), "new".to_string())];
    let native_input: Vec<_> = parsed.iter().map(|p| native::email(&p.email)).collect();
    let native_ctx = native::context(&ctx);
    let native_config = feedback_core::Config::from_pairs(config.clone()).unwrap();
    timing::enable();
    // [total, instantiate, call] per plugin, best round.
    let mut best = vec![[Duration::MAX; 3]; mappers.len()];
    let mut best_native = Duration::MAX;
    for round in 0..=rounds {
        let started = Instant::now();
        for email in &native_input {
            let _ =
                std::hint::black_box(feedback_core::map_email(email, &native_ctx, &native_config));
        }
        if round > 0 {
            best_native = best_native.min(started.elapsed());
        }
        for (i, mapper) in mappers.iter().enumerate() {
            let (inst0, call0) = (stage(Stage::MapperInstantiate), stage(Stage::MapperCall));
            let started = Instant::now();
            for p in &parsed {
                let _ = rt.block_on(mapper.map(MapperInput {
                    email: &p.email,
                    attachments: p.attachments.clone(),
                    context: &ctx,
                    config: &config,
                }));
            }
            let total = started.elapsed();
            let inst = stage(Stage::MapperInstantiate) - inst0;
            let call = stage(Stage::MapperCall) - call0;
            if round > 0 && total < best[i][0] {
                best[i] = [total, inst, call];
            }
        }
    }
    let us = |d: Duration| d.as_secs_f64() * 1e6 / parsed.len() as f64;
    println!(
        "{} messages, best of {rounds} interleaved rounds, µs per message",
        parsed.len()
    );
    println!(
        "{:>9} {:>9} {:>9} {:>9}  plugin",
        "total", "inst", "call", "rest"
    );
    for (path, [total, inst, call]) in wasm.iter().zip(&best) {
        println!(
            "{:>9.1} {:>9.1} {:>9.1} {:>9.1}  {}",
            us(*total),
            us(*inst),
            us(*call),
            us(*total - *inst - *call),
            path.display()
        );
    }
    println!(
        "{:>9.1} {:>9} {:>9.1} {:>9}  feedback-core, native",
        us(best_native),
        "",
        us(best_native),
        ""
    );
    if let Some([_, _, call]) = best.first() {
        println!(
            "call / native: {:.2}× (first plugin; bound 1.10×)",
            call.as_secs_f64() / best_native.as_secs_f64()
        );
    }
}
