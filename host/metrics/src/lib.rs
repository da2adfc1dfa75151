//! Prometheus metrics: per-mailbox counters, errors by kind, last successful
//! poll, token expiry, and plugin call durations, served as text on
//! `[metrics] listen` (e.g. `127.0.0.1:9898`, path `/metrics`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `[metrics]` in the configuration.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Address to serve `/metrics` on; keep it on loopback or a private network.
    pub listen: String,
}

/// Upper bounds (seconds) of the plugin call duration histogram.
const BUCKETS: [f64; 10] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5,
];

#[derive(Default)]
struct Registry {
    /// (metric, mailbox) → value.
    counters: BTreeMap<(&'static str, String), u64>,
    /// (mailbox, kind) → count.
    errors: BTreeMap<(String, String), u64>,
    /// (metric, mailbox) → unix seconds.
    gauges: BTreeMap<(&'static str, String), i64>,
    /// plugin → (bucket counts, sum, count).
    calls: BTreeMap<String, ([u64; BUCKETS.len()], f64, u64)>,
}

fn registry() -> &'static Mutex<Registry> {
    static R: OnceLock<Mutex<Registry>> = OnceLock::new();
    R.get_or_init(Default::default)
}

/// Add one poll's counts: `(metric name, amount)` pairs, each a counter
/// per mailbox; and note the time of this successful poll.
pub fn record_poll(mailbox: &str, counts: &[(&'static str, u64)], at: i64) {
    let mut r = registry().lock().unwrap();
    for &(name, v) in counts {
        *r.counters.entry((name, mailbox.to_string())).or_default() += v;
    }
    r.gauges.insert(
        (
            "popline_last_success_timestamp_seconds",
            mailbox.to_string(),
        ),
        at,
    );
}

/// Count a failed poll by kind (`auth`, `tls`, `network`, `plugin`, ...).
pub fn record_error(mailbox: &str, kind: &str) {
    *registry()
        .lock()
        .unwrap()
        .errors
        .entry((mailbox.to_string(), kind.to_string()))
        .or_default() += 1;
}

/// When the mailbox's current access token expires (unix seconds).
pub fn record_token_expiry(mailbox: &str, at: i64) {
    registry().lock().unwrap().gauges.insert(
        (
            "popline_token_expiry_timestamp_seconds",
            mailbox.to_string(),
        ),
        at,
    );
}

/// Whether the mailbox waits for a person to run `popline auth login`
/// (1) because its grant is dead, or has a working grant (0).
pub fn record_needs_login(mailbox: &str, waiting: bool) {
    registry().lock().unwrap().gauges.insert(
        ("popline_oauth_needs_login", mailbox.to_string()),
        i64::from(waiting),
    );
}

/// One notice of `mailbox` sent (`sent`), put off for a retry (`retried`),
/// failed for good (`failed`) or suppressed by the per-sender limit
/// (`suppressed`): the counter `popline_notices_RESULT_total`.
pub fn record_notice(mailbox: &str, result: &str) {
    let name = match result {
        "sent" => "popline_notices_sent_total",
        "retried" => "popline_notices_retried_total",
        "failed" => "popline_notices_failed_total",
        _ => "popline_notices_suppressed_total",
    };
    *registry()
        .lock()
        .unwrap()
        .counters
        .entry((name, mailbox.to_string()))
        .or_default() += 1;
}

/// Notices of `mailbox` that failed for good and wait for `popline notices
/// retry` (a gauge, from the outbox).
pub fn record_notices_failed(mailbox: &str, waiting: i64) {
    registry()
        .lock()
        .unwrap()
        .gauges
        .insert(("popline_notices_failed", mailbox.to_string()), waiting);
}

/// One plugin call's duration.
pub fn record_call(plugin: &str, d: Duration) {
    let secs = d.as_secs_f64();
    let mut r = registry().lock().unwrap();
    let e = r.calls.entry(plugin.to_string()).or_default();
    for (i, b) in BUCKETS.iter().enumerate() {
        if secs <= *b {
            e.0[i] += 1;
        }
    }
    e.1 += secs;
    e.2 += 1;
}

/// The exposition text.
pub fn render() -> String {
    let r = registry().lock().unwrap();
    let mut out = String::new();
    let mut last = "";
    for ((name, mb), v) in &r.counters {
        if *name != last {
            let _ = writeln!(out, "# TYPE {name} counter");
            last = name;
        }
        let _ = writeln!(out, "{name}{{mailbox=\"{}\"}} {v}", esc(mb));
    }
    if !r.errors.is_empty() {
        out.push_str("# TYPE popline_poll_errors_total counter\n");
    }
    for ((mb, kind), v) in &r.errors {
        let _ = writeln!(
            out,
            "popline_poll_errors_total{{mailbox=\"{}\",kind=\"{}\"}} {v}",
            esc(mb),
            esc(kind)
        );
    }
    last = "";
    for ((name, mb), v) in &r.gauges {
        if *name != last {
            let _ = writeln!(out, "# TYPE {name} gauge");
            last = name;
        }
        let _ = writeln!(out, "{name}{{mailbox=\"{}\"}} {v}", esc(mb));
    }
    if !r.calls.is_empty() {
        out.push_str("# TYPE popline_plugin_call_duration_seconds histogram\n");
    }
    for (plugin, (buckets, sum, count)) in &r.calls {
        let p = esc(plugin);
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "popline_plugin_call_duration_seconds_bucket{{plugin=\"{p}\",le=\"{b}\"}} {}",
                buckets[i]
            );
        }
        let _ = writeln!(
            out,
            "popline_plugin_call_duration_seconds_bucket{{plugin=\"{p}\",le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "popline_plugin_call_duration_seconds_sum{{plugin=\"{p}\"}} {sum}"
        );
        let _ = writeln!(
            out,
            "popline_plugin_call_duration_seconds_count{{plugin=\"{p}\"}} {count}"
        );
    }
    out
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Serve `GET /metrics` until the process ends.
pub async fn serve(listen: &str) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("metrics: cannot listen on {listen}: {e}"))?;
    tracing::info!("metrics on http://{}/metrics", listener.local_addr()?);
    tokio::spawn(accept_loop(listener, MAX_CONNECTIONS));
    Ok(())
}

/// Scrapes answered at once; a connection over this is closed unanswered.
const MAX_CONNECTIONS: usize = 16;
/// How long one scrape may take to send its request or read the answer.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// Answer connections, at most `max` at a time, until the process ends. A
/// failed accept (out of file descriptors, say) is logged and retried.
async fn accept_loop(listener: tokio::net::TcpListener, max: usize) {
    let permits = Arc::new(tokio::sync::Semaphore::new(max));
    loop {
        match listener.accept().await {
            Ok((sock, _)) => {
                if let Ok(permit) = permits.clone().try_acquire_owned() {
                    tokio::spawn(async move {
                        answer(sock).await;
                        drop(permit);
                    });
                }
            }
            Err(e) => {
                tracing::warn!("metrics: accepting a connection failed: {e}; retrying");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Read one request and answer it: the metrics for `GET /metrics`, else 404.
async fn answer(mut sock: tokio::net::TcpStream) {
    let mut buf = [0u8; 2048];
    let n = match tokio::time::timeout(IO_TIMEOUT, sock.read(&mut buf)).await {
        Ok(Ok(n)) => n,
        _ => return,
    };
    let req = String::from_utf8_lossy(&buf[..n]);
    let resp = if req.starts_with("GET /metrics") {
        let body = render();
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
    } else {
        "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".into()
    };
    let _ = tokio::time::timeout(IO_TIMEOUT, sock.write_all(resp.as_bytes())).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(addr: std::net::SocketAddr) -> String {
        let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
        sock.write_all(b"GET /metrics HTTP/1.1\r\n\r\n")
            .await
            .unwrap();
        let mut out = String::new();
        let _ = sock.read_to_string(&mut out).await;
        out
    }

    #[tokio::test]
    async fn connections_over_the_cap_are_closed_and_a_freed_slot_serves_again() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(accept_loop(listener, 2));
        let idle: Vec<_> = open_idle(addr).await;
        // Both slots are held by connections that never send a request.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(get(addr).await, "", "over the cap: closed unanswered");
        drop(idle);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(get(addr).await.starts_with("HTTP/1.1 200 OK"));
    }

    async fn open_idle(addr: std::net::SocketAddr) -> Vec<tokio::net::TcpStream> {
        let mut v = Vec::new();
        for _ in 0..2 {
            v.push(tokio::net::TcpStream::connect(addr).await.unwrap());
        }
        v
    }

    #[test]
    fn renders_counters_gauges_and_histograms() {
        let s = [
            ("popline_messages_fetched_total", 3),
            ("popline_messages_committed_total", 2),
            ("popline_bytes_fetched_total", 100),
        ];
        record_poll("m-test", &s, 42);
        record_poll("m-test", &s, 43);
        record_error("m-test", "auth");
        record_call("p-test", Duration::from_millis(3));
        let text = render();
        assert!(
            text.contains("popline_messages_fetched_total{mailbox=\"m-test\"} 6"),
            "{text}"
        );
        assert!(text.contains("popline_bytes_fetched_total{mailbox=\"m-test\"} 200"));
        assert!(text.contains("popline_last_success_timestamp_seconds{mailbox=\"m-test\"} 43"));
        assert!(text.contains("popline_poll_errors_total{mailbox=\"m-test\",kind=\"auth\"} 1"));
        assert!(text.contains(
            "popline_plugin_call_duration_seconds_bucket{plugin=\"p-test\",le=\"0.0025\"} 0"
        ));
        assert!(text.contains(
            "popline_plugin_call_duration_seconds_bucket{plugin=\"p-test\",le=\"0.005\"} 1"
        ));
    }
}
