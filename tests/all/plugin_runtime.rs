//! The plugin runtime against real guest components: limits, containment,
//! swapping and contract checks.

use std::sync::Arc;

use popline_mime as mime;
use popline_plugin_runtime::mapper::{MapOutcome, MapperInput, wit};
use popline_plugin_runtime::{DialoguePlugin, Limit, Limits, MapperPlugin, PluginError};

use crate::support;

const MAIL: &[u8] = b"From: Ana Silva <ana@example.org>\r\n\
To: replies+FB-7@beta.example.com\r\n\
Subject: Re: dark mode\r\n\
Message-ID: <m1@example.org>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\
\r\n\
--b\r\n\
Content-Type: text/plain\r\n\
\r\n\
Looks great.\r\n\
--b\r\n\
Content-Type: application/octet-stream; name=log.bin\r\n\
Content-Disposition: attachment; filename=log.bin\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
AAECAwQFBgcICQ==\r\n\
--b--\r\n";

fn ctx() -> wit::Context {
    wit::Context {
        pipeline: "test".into(),
        mailbox: "beta@example.com".into(),
        uid: "u1".into(),
        received_at: "2026-01-01T00:00:00Z".into(),
    }
}

async fn run(mapper: &MapperPlugin, mode: &str) -> Result<MapOutcome, PluginError> {
    let parsed = mime::parse(MAIL).unwrap();
    let config = vec![("mode".to_string(), mode.to_string())];
    mapper
        .map(MapperInput {
            email: &parsed.email,
            attachments: parsed.attachments.clone(),
            context: &ctx(),
            config: &config,
        })
        .await
}

fn test_mapper(limits: Limits) -> MapperPlugin {
    MapperPlugin::load(support::engine(), support::plugin("test-mapper"), limits).unwrap()
}

fn echo_body(outcome: MapOutcome) -> String {
    match outcome {
        MapOutcome::Feedback(f) => f[0].body_text.clone(),
        other => panic!("expected feedback, got {other:?}"),
    }
}

/// After every kind of misbehaviour, the same loaded plugin maps the next
/// message normally: a trap never poisons later instances.
#[tokio::test]
async fn hostile_mappers_are_contained_and_the_next_message_works() {
    let limits = Limits {
        cpu_ms: 300,
        memory_mib: 32,
        output_kib: Some(1024),
        ..Limits::default()
    };
    let mapper = test_mapper(limits);

    let err = run(&mapper, "loop").await.unwrap_err();
    assert!(
        matches!(&err, PluginError::LimitExceeded { limit: Limit::Cpu(300), plugin, .. } if plugin == "test_mapper"),
        "{err}"
    );
    assert!(err.to_string().contains("CPU limit of 300 ms"), "{err}");
    assert_eq!(
        echo_body(run(&mapper, "echo").await.unwrap()),
        "RE: DARK MODE"
    );

    let err = run(&mapper, "oom").await.unwrap_err();
    assert!(
        matches!(&err, PluginError::LimitExceeded { limit: Limit::Memory(m), .. } if *m == 32 << 20),
        "{err}"
    );
    assert_eq!(
        echo_body(run(&mapper, "echo").await.unwrap()),
        "RE: DARK MODE"
    );

    let err = run(&mapper, "panic").await.unwrap_err();
    assert!(matches!(err, PluginError::Trap { .. }), "{err}");
    assert!(
        err.to_string().contains("test-mapper was told to panic"),
        "{err}"
    );
    assert_eq!(
        echo_body(run(&mapper, "echo").await.unwrap()),
        "RE: DARK MODE"
    );

    let err = run(&mapper, "huge").await.unwrap_err();
    assert!(
        matches!(
            err,
            PluginError::LimitExceeded {
                limit: Limit::Output(_),
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        echo_body(run(&mapper, "echo").await.unwrap()),
        "RE: DARK MODE"
    );
}

#[tokio::test]
async fn returned_errors_invalid_output_and_log_floods() {
    let mapper = test_mapper(Limits::default());
    let err = run(&mapper, "error").await.unwrap_err();
    assert!(
        matches!(&err, PluginError::Returned { message, .. } if message == "test-mapper was told to fail"),
        "{err}"
    );
    // A huge error or skip reason is cut, saying how much: it goes into
    // logs, state and dead letters.
    match run(&mapper, "huge-error").await.unwrap_err() {
        PluginError::Returned { message, .. } => {
            assert!(message.len() < 4200, "{}", message.len());
            assert!(message.ends_with(&format!("[{} more bytes cut]", (2 << 20) - 4096)));
        }
        other => panic!("{other}"),
    }
    match run(&mapper, "huge-skip").await.unwrap() {
        MapOutcome::Skip(r) => assert!(r.len() < 4200 && r.ends_with("more bytes cut]")),
        other => panic!("{other:?}"),
    }
    let err = run(&mapper, "empty").await.unwrap_err();
    assert!(matches!(err, PluginError::InvalidOutput { .. }), "{err}");
    // 20k log lines, 20x the budget: the host drops past it and the call completes.
    match run(&mapper, "log-flood").await.unwrap() {
        MapOutcome::Skip(r) => assert_eq!(r, "flooded the log"),
        other => panic!("{other:?}"),
    }
}

/// Each message's instance starts from the module's initial memory: what
/// one message left in a static or on the heap is gone for the next, also
/// where the engine keeps freed slots' memory resident (Linux 6.7+).
#[tokio::test]
async fn no_memory_survives_from_one_message_to_the_next() {
    let mapper = test_mapper(Limits::default());
    for call in 0..3 {
        assert_eq!(
            echo_body(run(&mapper, "residue").await.unwrap()),
            "static residue: false, heap residue: false",
            "call {call}"
        );
    }
}

#[tokio::test]
async fn attachments_are_read_on_demand_from_the_host() {
    let mapper = test_mapper(Limits::default());
    let body = echo_body(run(&mapper, "attachment").await.unwrap());
    assert_eq!(body, "attachment 0 has 10 bytes");
}

#[tokio::test]
async fn concurrent_calls_each_get_their_own_instance() {
    let mapper = Arc::new(test_mapper(Limits::default()));
    let mut tasks = Vec::new();
    for i in 0..16 {
        let mapper = mapper.clone();
        let mode = if i % 4 == 0 { "panic" } else { "echo" };
        tasks.push(tokio::spawn(
            async move { (mode, run(&mapper, mode).await) },
        ));
    }
    for t in tasks {
        let (mode, res) = t.await.unwrap();
        assert_eq!(res.is_ok(), mode == "echo", "{mode}: {res:?}");
    }
}

#[test]
fn a_plugin_of_the_wrong_world_is_refused_with_expected_and_found() {
    let err = MapperPlugin::load(
        support::engine(),
        support::plugin("pop3-standard"),
        Limits::default(),
    )
    .err()
    .expect("a dialogue plugin must not load as a mapper");
    let msg = err.to_string();
    assert!(
        msg.contains("expected a feedback-mapper plugin, found a pop3-dialogue plugin"),
        "{msg}"
    );

    let err = DialoguePlugin::load(
        support::engine(),
        support::plugin("feedback-default"),
        Limits::default(),
    )
    .err()
    .expect("a mapper must not load as a dialogue plugin");
    assert!(
        err.to_string().contains("expected a pop3-dialogue plugin"),
        "{err}"
    );
}

#[test]
fn garbage_and_missing_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"not wasm at all").unwrap();
    let err = MapperPlugin::load(support::engine(), &junk, Limits::default())
        .err()
        .unwrap();
    assert!(matches!(err, PluginError::Compile { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("cargo build --target wasm32-wasip2"),
        "{err}"
    );

    let err = MapperPlugin::load(
        support::engine(),
        dir.path().join("nope.wasm"),
        Limits::default(),
    )
    .err()
    .unwrap();
    assert!(matches!(err, PluginError::Read { .. }), "{err}");
}
