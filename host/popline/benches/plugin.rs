//! Instantiate + map one message with the reference mapper, and the host's
//! MIME parse on its own. Run with `just bench` (builds the plugins first).

use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use popline_mime as mime;
use popline_plugin_runtime::mapper::{MapperInput, wit};
use popline_plugin_runtime::{Engine, EngineOptions, Limits, MapperPlugin};

fn wasm(name: &str) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    target.join("wasm32-wasip2/plugin").join(name)
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

criterion_group!(benches, bench);
criterion_main!(benches);
