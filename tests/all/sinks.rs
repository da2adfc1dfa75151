//! Sink faults: an HTTP endpoint that refuses connections, then accepts a
//! few records and answers 503, then recovers; a JSON Lines path that
//! cannot be created. Messages stay on the server until their records are
//! stored, and everything is delivered exactly once in the end, with one
//! `Idempotency-Key` per record however often it is sent.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::scenario::{Mailbox, Workspace, replies};
use crate::support::scripted::{Script, ScriptedServer};

const USER: &str = "replies@beta.example.com";
const PASSWORD: &str = "lumen-beta";
const LIMIT: Duration = Duration::from_secs(60);

/// One request the endpoint received.
#[derive(Debug, Clone)]
struct Request {
    key: String,
    /// The `id` in the JSON body.
    id: String,
    status: u16,
}

#[derive(Default)]
pub(crate) struct Endpoint {
    /// Accept only while fewer distinct keys than this were accepted; 503
    /// after. `None`: accept everything.
    accept_until: Option<usize>,
    requests: Vec<Request>,
    /// Accepted records by idempotency key (a replay is accepted again and
    /// stored once, as an idempotent API does).
    pub(crate) accepted: BTreeMap<String, String>,
    /// Refuse the Nth distinct record for good (HTTP 422), every time.
    reject_nth: Option<usize>,
    /// Distinct keys in the order first seen.
    seen: Vec<String>,
}

impl Endpoint {
    /// An endpoint that accepts every record but the `nth` distinct one,
    /// which it refuses for good.
    pub(crate) fn rejecting(nth: usize) -> Endpoint {
        Endpoint {
            reject_nth: Some(nth),
            ..Endpoint::default()
        }
    }
}

/// A hand-rolled HTTP/1.1 endpoint on its own thread: one request per
/// connection, answers 200 or 503 as [`Endpoint`] says.
pub(crate) struct HttpServer {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HttpServer {
    pub(crate) fn start(port: u16, state: Arc<Mutex<Endpoint>>) -> HttpServer {
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let shared = state;
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                    .await
                    .unwrap();
                ready_tx.send(()).unwrap();
                let serve = async {
                    while let Ok((sock, _)) = listener.accept().await {
                        tokio::spawn(answer(sock, shared.clone()));
                    }
                };
                tokio::select! {
                    _ = serve => {}
                    _ = stop_rx => {}
                }
            });
        });
        ready_rx.recv().unwrap();
        HttpServer {
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.stop.take().unwrap().send(());
        let _ = self.thread.take().unwrap().join();
    }
}

async fn answer(mut sock: tokio::net::TcpStream, state: Arc<Mutex<Endpoint>>) {
    let mut buf = Vec::new();
    let head_end = loop {
        let mut chunk = [0u8; 4096];
        match sock.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let header = |name: &str| {
        head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    };
    let len: usize = header("content-length").unwrap().parse().unwrap();
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        let mut chunk = [0u8; 4096];
        match sock.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    let key = header("idempotency-key").unwrap_or_default();
    let record: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let status = {
        let mut st = state.lock().unwrap();
        if !st.seen.contains(&key) {
            st.seen.push(key.clone());
        }
        let poison = st
            .reject_nth
            .is_some_and(|n| st.seen.get(n - 1) == Some(&key));
        let open = !poison
            && st
                .accept_until
                .is_none_or(|n| st.accepted.len() < n || st.accepted.contains_key(&key));
        let status = match (open, poison) {
            (true, _) => 200,
            (false, true) => 422,
            (false, false) => 503,
        };
        if open {
            st.accepted
                .insert(key.clone(), String::from_utf8_lossy(&body).into_owned());
        }
        st.requests.push(Request {
            key,
            id: record["id"].as_str().unwrap_or_default().to_string(),
            status,
        });
        status
    };
    let reason = match status {
        200 => "OK",
        422 => "Unprocessable Entity",
        _ => "Service Unavailable",
    };
    let response =
        format!("HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    let _ = sock.write_all(response.as_bytes()).await;
    let _ = sock.shutdown().await;
}

fn pop3(n: usize) -> ScriptedServer {
    ScriptedServer::spawn(Script::login(USER, PASSWORD), replies("sink", n))
}

#[test]
fn an_http_sink_that_fails_for_a_while_gets_everything_exactly_once() {
    let server = pop3(5);
    let port = crate::support::free_port();
    let mut ws = Workspace::new();
    ws.sinks = format!(
        r#"
[sinks.jsonl]
type = "jsonl"
path = "feedback.jsonl"

[sinks.api]
type = "http"
url = "http://127.0.0.1:{port}/feedback"
timeout_secs = 2
max_attempts = 2
"#
    );
    ws.configure(&[Mailbox::scripted("beta", server.port, USER, PASSWORD)
        .sinks(&["jsonl", "api"])
        .with("retention = \"delete\"")
        .with("batch_size = 2")]);

    // Down: connection refused. The poll fails naming the sink; nothing is
    // deleted.
    let out = ws.once(LIMIT);
    out.assert_failure();
    let line = out.line("beta");
    assert!(
        line.contains("delivering to sink \"api\"") && line.contains("after 2 attempts"),
        "{out}"
    );
    assert_eq!(server.remaining(), 5);

    // Up, but it accepts three records and then answers 503: batch 1 and
    // half of batch 2 are accepted, the poll fails, nothing is deleted (the
    // session ends without QUIT).
    let endpoint = Arc::new(Mutex::new(Endpoint {
        accept_until: Some(3),
        ..Endpoint::default()
    }));
    let _http = HttpServer::start(port, endpoint.clone());
    let out = ws.once(LIMIT);
    out.assert_failure();
    assert!(out.line("beta").contains("HTTP 503"), "{out}");
    assert_eq!(server.remaining(), 5);
    assert_eq!(endpoint.lock().unwrap().accepted.len(), 3);

    // Recovered: everything is delivered; replays carry the keys they had.
    endpoint.lock().unwrap().accept_until = None;
    let out = ws.once(LIMIT);
    out.assert_success();
    assert_eq!(server.remaining(), 0, "{out}");

    let ids = ws.jsonl_ids();
    let st = endpoint.lock().unwrap();
    let accepted: Vec<String> = st.accepted.keys().cloned().collect();
    assert_eq!(accepted, ids, "the endpoint holds each record once");
    assert_eq!(ids.len(), 5);
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!(unique, ids, "duplicate ids in jsonl");
    // Every request carried its record's id as the key, and each record was
    // sent under one key only, retries and replays included.
    for r in &st.requests {
        assert_eq!(r.key, r.id, "{r:?}");
    }
    let refused: Vec<&Request> = st.requests.iter().filter(|r| r.status == 503).collect();
    assert_eq!(refused.len(), 2, "two attempts at the fourth record");
    assert!(refused.iter().all(|r| r.key == refused[0].key));
    assert!(ids.contains(&refused[0].key));
    // The third record was accepted in the failed poll and sent again after
    // it (its batch was never committed): the same key both times.
    let replayed = st.requests.iter().filter(|r| r.status == 200).fold(
        BTreeMap::<&str, usize>::new(),
        |mut m, r| {
            *m.entry(&r.key).or_default() += 1;
            m
        },
    );
    assert_eq!(
        replayed.values().filter(|&&n| n == 2).count(),
        1,
        "{replayed:?}"
    );
    assert_eq!(replayed.len(), 5);
}

#[test]
fn an_unwritable_jsonl_path_is_a_clear_error_and_nothing_is_fetched() {
    let server = pop3(3);
    let mut ws = Workspace::new();
    // A regular file where the sink needs a folder.
    std::fs::write(ws.path("blocker"), "not a folder").unwrap();
    ws.sinks = r#"
[sinks.jsonl]
type = "jsonl"
path = "blocker/feedback.jsonl"
"#
    .to_string();
    ws.configure(&[Mailbox::scripted("beta", server.port, USER, PASSWORD)
        .sinks(&["jsonl"])
        .with("retention = \"delete\"")]);
    let out = ws.once(LIMIT);
    out.assert_failure();
    assert!(
        out.stderr.contains("sink \"jsonl\"")
            && out.stderr.contains("blocker")
            && out
                .stderr
                .contains("Part of the path is a file where a folder is needed"),
        "{out}"
    );
    assert_eq!(server.sessions(), 0, "no login before the sinks are usable");
    assert_eq!(server.remaining(), 3);
}

/// Attachment bytes reach the sinks, not just their references: the jsonl
/// sink's folder holds a file named by the SHA-256 the record carries, the
/// sqlite sink's `attachments` table the same bytes, each stored once even
/// when the message is polled again.
#[test]
fn attachments_are_stored_by_the_file_sinks() {
    let png: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    let b64 = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(&png)
    };
    let message = format!(
        "From: Ada <ada@example.org>\r\n\
         To: Lumen Beta <replies+FB-1001@beta.example.com>\r\n\
         Subject: Re: [Lumen beta] item 1001\r\n\
         Message-ID: <shot-1@example.org>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
         \r\n\
         --b1\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         Screenshot attached: the icon overlaps the badge.\r\n\
         --b1\r\n\
         Content-Type: image/png; name=\"shot.png\"\r\n\
         Content-Disposition: attachment; filename=\"shot.png\"\r\n\
         Content-Transfer-Encoding: base64\r\n\
         \r\n\
         {b64}\r\n\
         --b1--\r\n"
    )
    .into_bytes();
    let server = ScriptedServer::spawn(Script::login(USER, PASSWORD), vec![message]);
    let ws = Workspace::new();
    // A 1 KiB spool threshold: the message and its attachment live in spool
    // files, and must reach the sinks the same.
    ws.configure(&[
        Mailbox::scripted("beta", server.port, USER, PASSWORD).with("spool_above_kib = 1")
    ]);
    let out = ws.once(LIMIT);
    out.assert_success();
    assert!(out.line("beta").contains("spooled to disk 1"), "{out}");
    // Polled again (retention keep, state removed): replayed, stored once.
    std::fs::remove_file(ws.path("state.db")).unwrap();
    ws.once(LIMIT).assert_success();

    let records = ws.jsonl();
    assert_eq!(records.len(), 1, "{records:?}");
    let att = &records[0]["attachments"][0];
    assert_eq!(att["file_name"], "shot.png");
    let sha = att["sha256"].as_str().unwrap();
    let folder = ws.path("feedback.attachments");
    assert_eq!(std::fs::read(folder.join(sha)).unwrap(), png);
    assert_eq!(std::fs::read_dir(&folder).unwrap().count(), 1);

    let db = rusqlite::Connection::open(ws.path("feedback.db")).unwrap();
    let (n, data, ctype): (i64, Vec<u8>, String) = db
        .query_row(
            "SELECT count(*), data, content_type FROM attachments WHERE sha256 = ?1",
            [sha],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((n, ctype.as_str()), (1, "image/png"));
    assert_eq!(data, png);
}

/// A record the endpoint refuses for good (HTTP 422) poisons only its own
/// message: that message is dead-lettered with the endpoint's answer, the
/// rest of the mailbox is delivered in the same poll, and everything leaves
/// the server (each outcome is durably stored).
#[test]
fn a_record_an_http_sink_refuses_for_good_is_dead_lettered_and_the_rest_delivered() {
    let server = pop3(4);
    let port = crate::support::free_port();
    let endpoint = Arc::new(Mutex::new(Endpoint::rejecting(2)));
    let _http = HttpServer::start(port, endpoint.clone());
    let mut ws = Workspace::new();
    ws.sinks = format!(
        r#"
[sinks.api]
type = "http"
url = "http://127.0.0.1:{port}/feedback"
timeout_secs = 2
max_attempts = 2

[sinks.jsonl]
type = "jsonl"
path = "feedback.jsonl"
"#
    );
    ws.configure(&[Mailbox::scripted("beta", server.port, USER, PASSWORD)
        .sinks(&["api", "jsonl"])
        .with("retention = \"delete\"")]);
    let out = ws.once(LIMIT);
    out.assert_success();
    let line = out.line("beta");
    assert!(
        line.contains("committed 3 (3 records)") && line.contains("dead-lettered 1"),
        "{out}"
    );
    assert_eq!(server.remaining(), 0, "{out}");

    let st = endpoint.lock().unwrap();
    let poisoned = st.seen[1].clone();
    assert_eq!(st.accepted.len(), 3, "{:?}", st.accepted.keys());
    assert!(!st.accepted.contains_key(&poisoned));
    let ids = ws.jsonl_ids();
    assert_eq!(ids.len(), 3);
    assert!(!ids.contains(&poisoned), "the refused record is in no sink");

    let letters: Vec<String> = std::fs::read_dir(ws.path("dead-letters"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert!(
        letters[0].contains("HTTP 422") && letters[0].contains(&poisoned),
        "{}",
        letters[0]
    );
}
