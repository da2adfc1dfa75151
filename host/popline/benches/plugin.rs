//! Instantiate + map one message with the reference mapper, the same
//! mapper's code (`feedback-core`) called natively on the same message, and
//! the host's MIME parse on its own. Run with `just bench` (builds the
//! plugins first); it ends with the ratios against the targets.

use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use popline_mime as mime;
use popline_plugin_runtime::mapper::{MapperInput, wit};
use popline_plugin_runtime::{Engine, EngineOptions, Limits, MapperPlugin};

/// The build's target folder (where the plugins and criterion's reports are).
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

fn wasm(name: &str) -> PathBuf {
    target_dir().join("wasm32-wasip2/plugin").join(name)
}

fn bench(c: &mut Criterion) {
    let raw = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/mail/outlook-reply.eml"),
    )
    .expect("examples/mail/outlook-reply.eml");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let engine = Engine::new(EngineOptions {
        cache_dir: Engine::default_cache_dir(),
        max_instances: None,
        perf_map: EngineOptions::perf_map_from_env(),
    })
    .unwrap();
    let path = wasm("feedback_default.wasm");
    let mapper = MapperPlugin::load(&engine, &path, Limits::default())
        .unwrap_or_else(|e| panic!("{e} (run `just plugins` first)"));
    let parsed = mime::parse(&raw).unwrap();
    let ctx = wit::Context {
        pipeline: "bench".into(),
        mailbox: "beta@example.com".into(),
        uid: "1".into(),
        received_at: "2026-01-01T00:00:00Z".into(),
    };
    let config = vec![(
        "message-id-pattern".to_string(),
        "feedback-{id}@notify.beta.example.com".to_string(),
    )];

    c.bench_function("mime_parse", |b| b.iter(|| mime::parse(&raw).unwrap()));
    let native_email = native::email(&parsed.email);
    let native_ctx = native::context(&ctx);
    let native_config = feedback_core::Config::from_pairs(config.clone()).unwrap();
    c.bench_function("native_map", |b| {
        b.iter(|| feedback_core::map_email(&native_email, &native_ctx, &native_config).unwrap())
    });
    c.bench_function("instantiate_and_map", |b| {
        b.iter(|| {
            rt.block_on(mapper.map(MapperInput {
                email: &parsed.email,
                attachments: parsed.attachments.clone(),
                context: &ctx,
                config: &config,
            }))
            .unwrap()
        })
    });
    // The same call on a one-line message: mostly the cost of a fresh
    // instance, so a change in the mapper's own work shows as the difference
    // between the two.
    let minimal = mime::parse(
        b"From: Dana <dana@example.org>\r\nTo: beta@example.com\r\nSubject: Re: x\r\n\
          In-Reply-To: <feedback-1042@notify.beta.example.com>\r\n\r\nok\r\n",
    )
    .unwrap();
    c.bench_function("instantiate_and_map_minimal", |b| {
        b.iter(|| {
            rt.block_on(mapper.map(MapperInput {
                email: &minimal.email,
                attachments: minimal.attachments.clone(),
                context: &ctx,
                config: &config,
            }))
            .unwrap()
        })
    });
    c.bench_function("parse_instantiate_and_map", |b| {
        b.iter(|| {
            let parsed = mime::parse(&raw).unwrap();
            rt.block_on(mapper.map(MapperInput {
                email: &parsed.email,
                attachments: parsed.attachments.clone(),
                context: &ctx,
                config: &config,
            }))
            .unwrap()
        })
    });
}

/// The figures against their bounds, from the estimates criterion just
/// wrote (`target/criterion/NAME/new/estimates.json`): medians.
fn summary(_: &mut Criterion) {
    let dir = target_dir().join("criterion");
    let median = |name: &str| -> Option<f64> {
        let text = std::fs::read_to_string(dir.join(name).join("new/estimates.json")).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        v["median"]["point_estimate"].as_f64()
    };
    let (Some(parse), Some(wasm), Some(native), Some(minimal)) = (
        median("mime_parse"),
        median("instantiate_and_map"),
        median("native_map"),
        median("instantiate_and_map_minimal"),
    ) else {
        println!("summary: run every benchmark (no filter) to get the ratios");
        return;
    };
    let us = |ns: f64| ns / 1000.0;
    println!("\nfigure                                     median      bound");
    println!(
        "mime_parse (outlook-reply.eml)          {:>8.1} µs   20 µs ({:.2}× the bound)",
        us(parse),
        parse / 20_000.0
    );
    println!(
        "instantiate + map (wasm)                {:>8.1} µs  100 µs ({:.2}× the bound)",
        us(wasm),
        wasm / 100_000.0
    );
    println!(
        "  of which a fresh instance (minimal)   {:>8.1} µs",
        us(minimal)
    );
    println!(
        "native map (feedback-core)              {:>8.1} µs",
        us(native)
    );
    println!(
        "wasm call without instantiation vs native: {:.2}× (bound 1.10×); whole wasm call vs native: {:.2}×",
        (wasm - minimal).max(0.0) / native,
        wasm / native
    );
}

#[path = "common/native.rs"]
mod native;

criterion_group!(benches, bench, summary);
criterion_main!(benches);
