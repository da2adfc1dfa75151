//! The listener on `[metrics] listen`: `GET /metrics`, `/healthz` and
//! `/readyz`, matched exactly (a query string aside); anything else is 404.
//! One request per connection (`connection: close`), its head parsed by
//! `httparse`, at most [`MAX_CONNECTIONS`] at a time.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::MetricsError;
use crate::registry::Metrics;

/// Scrapes answered at once; a connection over this is closed unanswered.
pub(crate) const MAX_CONNECTIONS: usize = 16;
/// How long one scrape may take to send its request or read the answer.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `/readyz` waits for the readiness check.
const READY_TIMEOUT: Duration = Duration::from_secs(3);
/// The largest request head read; a scraper sends a few hundred bytes.
const MAX_HEAD: usize = 8192;

/// What `/readyz` runs: `Ok` when ready, else a short reason.
pub type ReadyFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;
type Check = Arc<dyn Fn() -> ReadyFuture + Send + Sync>;

/// Whether the process is ready: no check until the configuration is
/// loaded (`/readyz` is then 503), then the check the daemon registered.
#[derive(Default)]
pub struct Readiness {
    check: RwLock<Option<Check>>,
}

impl Readiness {
    /// From now on `/readyz` answers by `check` (e.g. a state backend ping).
    pub fn set(&self, check: impl Fn() -> ReadyFuture + Send + Sync + 'static) {
        *self.check.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(check));
    }

    /// Not ready (again), e.g. while a configuration is being loaded.
    pub fn clear(&self) {
        *self.check.write().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// `Ok` when ready, else why not.
    pub async fn check(&self) -> Result<(), String> {
        let check = self.check.read().unwrap_or_else(|e| e.into_inner()).clone();
        let Some(check) = check else {
            return Err("configuration not loaded".into());
        };
        match tokio::time::timeout(READY_TIMEOUT, check()).await {
            Ok(r) => r,
            Err(_) => Err(format!(
                "readiness check gave no answer within {READY_TIMEOUT:?}"
            )),
        }
    }
}

/// What the listener serves.
pub(crate) struct Endpoint {
    pub metrics: &'static Metrics,
    pub readiness: &'static Readiness,
}

/// Bind `listen` and answer until the process ends; the bound address.
pub(crate) async fn serve(
    listen: &str,
    endpoint: Endpoint,
) -> Result<std::net::SocketAddr, MetricsError> {
    let bind = |source| MetricsError::Listen {
        address: listen.to_string(),
        source,
    };
    let listener = TcpListener::bind(listen).await.map_err(bind)?;
    let addr = listener.local_addr().map_err(bind)?;
    tokio::spawn(accept_loop(listener, Arc::new(endpoint), MAX_CONNECTIONS));
    Ok(addr)
}

/// Answer connections, at most `max` at a time, until the process ends. A
/// failed accept (out of file descriptors, say) is logged and retried.
async fn accept_loop(listener: TcpListener, endpoint: Arc<Endpoint>, max: usize) {
    let permits = Arc::new(tokio::sync::Semaphore::new(max));
    loop {
        match listener.accept().await {
            Ok((sock, _)) => {
                if let Ok(permit) = permits.clone().try_acquire_owned() {
                    let endpoint = endpoint.clone();
                    tokio::spawn(async move {
                        let _ = tokio::time::timeout(IO_TIMEOUT, answer(sock, &endpoint)).await;
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

/// A request head as far as the answer depends on it.
#[derive(Debug, PartialEq, Eq)]
struct Request {
    method: String,
    /// The path, without a query string.
    path: String,
    /// Whether the scraper accepts OpenMetrics.
    openmetrics: bool,
}

/// Parse a complete request head; `Ok(None)` while more bytes are needed.
fn parse(buf: &[u8]) -> Result<Option<Request>, httparse::Error> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    if req.parse(buf)?.is_partial() {
        return Ok(None);
    }
    let target = req.path.unwrap_or_default();
    let openmetrics = req.headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("accept")
            && String::from_utf8_lossy(h.value).contains("application/openmetrics-text")
    });
    Ok(Some(Request {
        method: req.method.unwrap_or_default().to_string(),
        path: target.split('?').next().unwrap_or_default().to_string(),
        openmetrics,
    }))
}

/// Read one request head and answer it.
async fn answer(mut sock: TcpStream, endpoint: &Endpoint) {
    let mut buf = Vec::with_capacity(1024);
    let req = loop {
        let mut chunk = [0u8; 1024];
        let n = match sock.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        match parse(&buf) {
            Ok(Some(req)) => break req,
            Ok(None) if buf.len() < MAX_HEAD => continue,
            Ok(None) => {
                return respond(
                    &mut sock,
                    431,
                    "text/plain",
                    b"request head too large\n",
                    false,
                )
                .await;
            }
            Err(_) => return respond(&mut sock, 400, "text/plain", b"bad request\n", false).await,
        }
    };
    let head = req.method == "HEAD";
    if req.method != "GET" && !head {
        return respond(&mut sock, 405, "text/plain", b"only GET and HEAD\n", false).await;
    }
    let (status, content_type, body) = route(&req, endpoint).await;
    respond(&mut sock, status, content_type, body.as_bytes(), head).await;
}

/// The answer to a GET of `req.path`: status, content type, body.
async fn route(req: &Request, endpoint: &Endpoint) -> (u16, &'static str, String) {
    match req.path.as_str() {
        "/metrics" if req.openmetrics => (
            200,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            endpoint.metrics.render_openmetrics(),
        ),
        "/metrics" => (
            200,
            prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            endpoint.metrics.render_text(),
        ),
        "/healthz" => (200, "text/plain; charset=utf-8", "ok\n".into()),
        "/readyz" => match endpoint.readiness.check().await {
            Ok(()) => (200, "text/plain; charset=utf-8", "ready\n".into()),
            Err(why) => (
                503,
                "text/plain; charset=utf-8",
                format!("not ready: {why}\n"),
            ),
        },
        _ => (
            404,
            "text/plain; charset=utf-8",
            "not found; try /metrics, /healthz or /readyz\n".into(),
        ),
    }
}

async fn respond(sock: &mut TcpStream, status: u16, content_type: &str, body: &[u8], head: bool) {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        _ => "Service Unavailable",
    };
    let allow = if status == 405 {
        "allow: GET, HEAD\r\n"
    } else {
        ""
    };
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n{allow}connection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if !head {
        out.extend_from_slice(body);
    }
    let _ = sock.write_all(&out).await;
    let _ = sock.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint() -> Endpoint {
        let metrics: &'static Metrics = Box::leak(Box::new(Metrics::new()));
        metrics.register_mailbox("beta", &[], false);
        Endpoint {
            metrics,
            readiness: Box::leak(Box::default()),
        }
    }

    async fn start(endpoint: Endpoint, max: usize) -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(accept_loop(listener, Arc::new(endpoint), max));
        addr
    }

    async fn send(addr: std::net::SocketAddr, request: &str) -> String {
        let mut sock = TcpStream::connect(addr).await.unwrap();
        sock.write_all(request.as_bytes()).await.unwrap();
        let mut out = String::new();
        let _ = sock.read_to_string(&mut out).await;
        out
    }

    async fn get(addr: std::net::SocketAddr, path: &str) -> String {
        send(addr, &format!("GET {path} HTTP/1.1\r\nhost: x\r\n\r\n")).await
    }

    #[tokio::test]
    async fn paths_match_exactly() {
        let addr = start(endpoint(), 4).await;
        let metrics = get(addr, "/metrics").await;
        assert!(metrics.starts_with("HTTP/1.1 200 OK\r\n"), "{metrics}");
        assert!(metrics.contains("content-type: text/plain; version=0.0.4"));
        assert!(metrics.contains(r#"popline_records_total{mailbox="beta"} 0"#));
        assert!(get(addr, "/metrics?x=1").await.starts_with("HTTP/1.1 200"));
        for path in [
            "/metricsX",
            "/metrics/",
            "/",
            "/Metrics",
            "/healthz/",
            "/readyzz",
        ] {
            let out = get(addr, path).await;
            assert!(out.starts_with("HTTP/1.1 404 "), "{path}: {out}");
        }
        let health = get(addr, "/healthz").await;
        assert!(health.starts_with("HTTP/1.1 200 OK\r\n"), "{health}");
        assert!(health.ends_with("\r\n\r\nok\n"), "{health}");
    }

    #[tokio::test]
    async fn a_head_split_across_reads_methods_and_negotiation() {
        let addr = start(endpoint(), 4).await;
        // The head arrives in two writes.
        let mut sock = TcpStream::connect(addr).await.unwrap();
        sock.write_all(b"GET /hea").await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        sock.write_all(b"lthz HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let mut out = String::new();
        sock.read_to_string(&mut out).await.unwrap();
        assert!(out.starts_with("HTTP/1.1 200 OK"), "{out}");

        let post = send(addr, "POST /metrics HTTP/1.1\r\ncontent-length: 0\r\n\r\n").await;
        assert!(post.starts_with("HTTP/1.1 405 "), "{post}");
        assert!(post.contains("allow: GET, HEAD\r\n"), "{post}");
        let head = send(addr, "HEAD /metrics HTTP/1.1\r\n\r\n").await;
        assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
        assert!(head.ends_with("\r\n\r\n"), "HEAD has no body: {head}");
        let bad = send(addr, "GARBAGE\0\r\n\r\n").await;
        assert!(bad.starts_with("HTTP/1.1 400 "), "{bad}");

        let om = send(
            addr,
            "GET /metrics HTTP/1.1\r\naccept: application/openmetrics-text;version=1.0.0,text/plain;q=0.5\r\n\r\n",
        )
        .await;
        assert!(
            om.contains("content-type: application/openmetrics-text"),
            "{om}"
        );
        assert!(om.ends_with("# EOF\n"), "{om}");
    }

    #[tokio::test]
    async fn readyz_is_503_until_a_check_passes() {
        let e = endpoint();
        let readiness = e.readiness;
        let addr = start(e, 4).await;
        let out = get(addr, "/readyz").await;
        assert!(out.starts_with("HTTP/1.1 503 "), "{out}");
        assert!(
            out.ends_with("not ready: configuration not loaded\n"),
            "{out}"
        );

        let up = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let flag = up.clone();
        readiness.set(move || {
            let up = flag.load(std::sync::atomic::Ordering::SeqCst);
            Box::pin(async move {
                if up {
                    Ok(())
                } else {
                    Err("state unreachable: connection refused".into())
                }
            })
        });
        let out = get(addr, "/readyz").await;
        assert!(out.starts_with("HTTP/1.1 200 OK"), "{out}");
        up.store(false, std::sync::atomic::Ordering::SeqCst);
        let out = get(addr, "/readyz").await;
        assert!(out.starts_with("HTTP/1.1 503 "), "{out}");
        assert!(out.ends_with("not ready: state unreachable: connection refused\n"));
        readiness.clear();
        assert!(get(addr, "/readyz").await.starts_with("HTTP/1.1 503 "));
    }

    #[tokio::test]
    async fn connections_over_the_cap_are_closed_and_a_freed_slot_serves_again() {
        let addr = start(endpoint(), 2).await;
        let mut idle = Vec::new();
        for _ in 0..2 {
            idle.push(TcpStream::connect(addr).await.unwrap());
        }
        // Both slots are held by connections that never send a request.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            get(addr, "/metrics").await,
            "",
            "over the cap: closed unanswered"
        );
        drop(idle);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(get(addr, "/metrics").await.starts_with("HTTP/1.1 200 OK"));
    }
}
