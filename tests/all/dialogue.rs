//! The reference dialogue plugin driven by the host over a scripted server:
//! login, list, pipelined retrieve, host-authorised delete, quit.

use std::time::Duration;

use popline_net::{Stream, connect_tcp};
use popline_plugin_runtime::dialogue::{SessionParams, TlsMode};
use popline_plugin_runtime::{DialoguePlugin, Limits};
use popline_pop3::{ConnSettings, Connection, Credential, Secret};

use crate::support::{
    self,
    scripted::{Script, ScriptedServer},
};

fn message(i: usize) -> Vec<u8> {
    format!("From: t{i}@example.org\r\nSubject: m{i}\r\n\r\nbody {i}\r\n.dot line\r\n").into_bytes()
}

async fn connect(port: u16, allow_plaintext: bool) -> Connection {
    let tcp = connect_tcp("127.0.0.1", port, Duration::from_secs(5))
        .await
        .unwrap();
    Connection::new(
        Stream::Plain(tcp),
        None,
        Credential::Password(Secret::new("s3cret")),
        ConnSettings {
            host: "127.0.0.1".into(),
            port,
            user: "ana".into(),
            read_timeout: Duration::from_secs(5),
            min_rate: 0,
            max_message: 1 << 20,
            spool: popline_core::spool::SpoolPolicy::memory_only(),
            allow_plaintext,
        },
    )
}

fn params() -> SessionParams {
    SessionParams {
        user: "ana".into(),
        tls: TlsMode::None,
        mechanisms: Vec::new(),
    }
}

fn script() -> Script {
    Script {
        capa: vec![
            "USER".into(),
            "UIDL".into(),
            "TOP".into(),
            "PIPELINING".into(),
        ],
        user: "ana".into(),
        password: "s3cret".into(),
        ..Script::default()
    }
}

#[tokio::test]
async fn a_full_session_fetches_then_deletes_only_what_the_host_authorises() {
    let server = ScriptedServer::start(script(), (1..=5).map(message).collect()).await;
    let plugin = DialoguePlugin::load(
        support::engine(),
        support::plugin("pop3-standard"),
        Limits::default(),
    )
    .unwrap();
    let mut session = plugin
        .open(connect(server.port, true).await, &params())
        .await
        .unwrap();
    assert!(session.info().pipelining);
    assert_eq!(session.info().mechanism, "USER");

    let list = session.list().await.unwrap();
    assert_eq!(list.len(), 5);
    assert_eq!(list[2].uid, "uid-3");
    assert_eq!(list[2].size, message(3).len() as u64);

    let got = session.retrieve(&[1, 2, 3, 4, 5]).await.unwrap();
    for (i, m) in got.iter().enumerate() {
        // Dot-unstuffed by the host, byte for byte.
        assert_eq!(&m.as_ref().unwrap()[..], &message(i + 1)[..]);
    }
    assert!(session.bytes_read() > 0);

    let res = session.delete(&[2, 4]).await.unwrap();
    assert!(res.iter().all(Result::is_ok));
    session.quit().await.unwrap();
    assert_eq!(server.remaining(), 3);

    let cmds = server.commands();
    assert!(cmds.contains(&"PASS ***".to_string()));
    let deles: Vec<_> = cmds.iter().filter(|c| c.starts_with("DELE")).collect();
    assert_eq!(deles, ["DELE 2", "DELE 4"]);
}

#[tokio::test]
async fn without_quit_nothing_is_deleted() {
    let server = ScriptedServer::start(script(), (1..=2).map(message).collect()).await;
    let plugin = DialoguePlugin::load(
        support::engine(),
        support::plugin("pop3-standard"),
        Limits::default(),
    )
    .unwrap();
    let mut session = plugin
        .open(connect(server.port, true).await, &params())
        .await
        .unwrap();
    session.list().await.unwrap();
    session.delete(&[1, 2]).await.unwrap();
    session.abandon().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(server.remaining(), 2);
}

#[tokio::test]
async fn credentials_are_never_sent_in_plaintext_unless_allowed() {
    let server = ScriptedServer::start(script(), vec![message(1)]).await;
    let plugin = DialoguePlugin::load(
        support::engine(),
        support::plugin("pop3-standard"),
        Limits::default(),
    )
    .unwrap();
    let err = plugin
        .open(connect(server.port, false).await, &params())
        .await
        .err()
        .expect("login without TLS must be refused");
    let msg = err.to_string();
    assert!(msg.contains("without TLS"), "{msg}");
    assert!(
        !server
            .commands()
            .iter()
            .any(|c| c.starts_with("USER") || c.starts_with("PASS")),
        "{:?}",
        server.commands()
    );
}
