//! The `http` sink: each record `POST`ed as JSON with an `Idempotency-Key`,
//! retried with backoff on transient failures.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use popline_net::{InsecureUrl, check_url_security};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{StatusCode, Url};

use super::{Blobs, HttpAttachments, HttpConfig, SinkError};
use popline_core::record::FeedbackRecord;

/// The header carrying the record id, so the server can drop replays.
const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// First backoff step; doubles per attempt up to [`BACKOFF_CAP`].
const BACKOFF_BASE: Duration = Duration::from_millis(500);
const BACKOFF_CAP: Duration = Duration::from_secs(30);
/// A `Retry-After` longer than this is cut short: the sink holds up its
/// mailbox's pipeline while it waits.
/// How much of a refusing response's body goes into the error.
const BODY_SNIPPET: usize = 200;

/// POSTs records to an HTTP endpoint.
pub struct HttpSink {
    name: String,
    client: reqwest::Client,
    url: Url,
    /// `url` without query or fragment, for messages.
    shown_url: String,
    timeout: Duration,
    max_attempts: u32,
    backoff_base: Duration,
    attachments: HttpAttachments,
    /// With `attachments = "upload"`: the URL template (`{sha256}`).
    upload_url: Option<String>,
}

impl HttpSink {
    /// Validate the configuration, resolve header values, build the client.
    pub(super) fn open(name: &str, cfg: &HttpConfig, base_dir: &Path) -> anyhow::Result<HttpSink> {
        let url = Url::parse(&cfg.url)
            .with_context(|| format!("sink {name:?}: `url` {:?} is not a valid URL", cfg.url))?;
        let shown_url = strip_query(&url);
        match check_url_security(&url) {
            Ok(()) => {}
            Err(InsecureUrl::PlainHttp) => bail!(
                "sink {name:?}: {shown_url} is plain HTTP, so records and headers would cross the \
                 network unencrypted; use https:// (plain http:// is allowed to loopback only)"
            ),
            Err(InsecureUrl::Scheme(other)) => {
                bail!("sink {name:?}: `url` scheme {other:?} is not supported; use https://")
            }
        }
        if !url.username().is_empty() || url.password().is_some() {
            bail!(
                "sink {name:?}: `url` holds credentials; put them in `headers` instead, e.g. \
                 Authorization = {{ env = \"FEEDBACK_API_AUTH\" }}"
            );
        }
        if cfg.timeout_secs == 0 {
            bail!("sink {name:?}: `timeout_secs` must be at least 1");
        }
        if cfg.max_attempts == 0 {
            bail!("sink {name:?}: `max_attempts` must be at least 1");
        }
        let upload_url = match (cfg.attachments, &cfg.attachments_url) {
            (HttpAttachments::Upload, None) => bail!(
                "sink {name:?}: attachments = \"upload\" needs `attachments_url`, e.g. \
                 \"https://feedback.example.com/api/blobs/{{sha256}}\""
            ),
            (HttpAttachments::Upload, Some(t)) => {
                if !t.contains("{sha256}") {
                    bail!(
                        "sink {name:?}: `attachments_url` {t:?} has no `{{sha256}}` placeholder; \
                         each attachment needs its own URL"
                    );
                }
                let u = Url::parse(&t.replace("{sha256}", "0")).with_context(|| {
                    format!("sink {name:?}: `attachments_url` {t:?} is not a valid URL")
                })?;
                if check_url_security(&u).is_err() {
                    bail!(
                        "sink {name:?}: `attachments_url` {t:?} must be https:// (plain http:// \
                         is allowed to loopback only)"
                    );
                }
                Some(t.clone())
            }
            (_, Some(_)) => bail!(
                "sink {name:?}: `attachments_url` is set but `attachments` is not \"upload\"; \
                 set attachments = \"upload\" or remove it"
            ),
            (_, None) => None,
        };

        let mut headers = HeaderMap::new();
        for (key, value) in &cfg.headers {
            let header = HeaderName::from_bytes(key.as_bytes())
                .with_context(|| format!("sink {name:?}: {key:?} is not a valid header name"))?;
            if header == CONTENT_TYPE || header.as_str() == IDEMPOTENCY_KEY {
                bail!("sink {name:?}: header {key:?} is set by popline and cannot be configured");
            }
            let value = value
                .resolve(key, base_dir)
                .with_context(|| format!("sink {name:?}"))?;
            // The error from `from_str` is opaque; nothing of the value is shown.
            let mut value = HeaderValue::from_str(&value).map_err(|_| {
                anyhow::anyhow!(
                    "sink {name:?}: the value of header {key:?} holds characters that HTTP \
                     headers cannot carry (a newline or another control character)"
                )
            })?;
            // Keeps it out of hyper's and reqwest's debug output.
            value.set_sensitive(true);
            headers.insert(header, value);
        }

        let timeout = Duration::from_secs(cfg.timeout_secs);
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(popline_net::rustls_config(None)?)
            .timeout(timeout)
            // Following a redirect would turn the POST into a GET whose 2xx
            // means nothing; a 3xx is reported instead.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("popline/", env!("CARGO_PKG_VERSION")))
            .default_headers(headers)
            .build()
            .with_context(|| format!("sink {name:?}: building the HTTP client"))?;
        Ok(HttpSink {
            name: name.to_string(),
            client,
            url,
            shown_url,
            timeout,
            max_attempts: cfg.max_attempts,
            backoff_base: BACKOFF_BASE,
            attachments: cfg.attachments,
            upload_url,
        })
    }

    /// The sink's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// POST the records in order; stop at the first that is not accepted.
    /// The server drops replays by `Idempotency-Key`, so the sink keeps no
    /// record of what was sent. Attachments go first (uploaded) or inside
    /// the record (inline), per `attachments`.
    pub(super) async fn write_batch(
        &mut self,
        records: &[FeedbackRecord],
        blobs: &Blobs,
    ) -> Result<(), SinkError> {
        for record in records {
            let body = match self.attachments {
                HttpAttachments::None => record.to_json(),
                HttpAttachments::Inline => inline_json(record, &blobs.of(&self.name, record)?),
                HttpAttachments::Upload => {
                    let template = self.upload_url.as_deref().expect("checked at open");
                    for (a, bytes) in record.attachments.iter().zip(blobs.of(&self.name, record)?) {
                        let url = template.replace("{sha256}", &a.sha256);
                        let url = Url::parse(&url).expect("checked at open");
                        let shown = strip_query(&url);
                        // Copied once; each attempt shares it.
                        let bytes = Bytes::copy_from_slice(bytes);
                        self.send(&record.id, &shown, || {
                            self.client
                                .put(url.clone())
                                .header(CONTENT_TYPE, &a.content_type)
                                .body(bytes.clone())
                        })
                        .await?;
                    }
                    record.to_json()
                }
            };
            let body = Bytes::from(body);
            self.send(&record.id, &self.shown_url, || {
                self.client
                    .post(self.url.clone())
                    .header(IDEMPOTENCY_KEY, &record.id)
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.clone())
            })
            .await?;
        }
        tracing::debug!(sink = %self.name, records = records.len(), "http batch accepted");
        Ok(())
    }

    /// Send the request `make` builds until it is answered 2xx, retrying
    /// transient failures with backoff; `id` is the record it is for.
    async fn send(
        &self,
        id: &str,
        shown_url: &str,
        make: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<(), SinkError> {
        let mut last = String::new();
        for attempt in 1..=self.max_attempts {
            let retry_after = match make().send().await {
                Ok(resp) if resp.status().is_success() => return Ok(()),
                Ok(resp) if is_transient(resp.status()) => {
                    last = format!("HTTP {}", resp.status());
                    popline_net::retry_after(resp.headers())
                }
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    return Err(SinkError::HttpRejected {
                        sink: self.name.clone(),
                        url: shown_url.to_string(),
                        id: id.to_string(),
                        status,
                        body: body_start(resp).await,
                    });
                }
                Err(e) => {
                    last = describe(e, self.timeout);
                    None
                }
            };
            if attempt < self.max_attempts {
                let delay = retry_after.unwrap_or_else(|| {
                    popline_core::backoff::delay(attempt, self.backoff_base, BACKOFF_CAP)
                });
                tracing::warn!(
                    sink = %self.name, url = %shown_url, id = %id, attempt,
                    "{last}; retrying in {delay:?}"
                );
                tokio::time::sleep(delay).await;
            }
        }
        Err(SinkError::HttpUnavailable {
            sink: self.name.clone(),
            url: shown_url.to_string(),
            id: id.to_string(),
            attempts: self.max_attempts,
            last,
        })
    }
}

/// The record as JSON with each attachment's bytes in `content_base64`.
fn inline_json(record: &FeedbackRecord, bytes: &[&[u8]]) -> String {
    use base64::Engine as _;
    let mut v = serde_json::to_value(record).expect("a FeedbackRecord always serializes");
    if let Some(list) = v["attachments"].as_array_mut() {
        for (a, b) in list.iter_mut().zip(bytes) {
            a["content_base64"] = base64::engine::general_purpose::STANDARD.encode(b).into();
        }
    }
    v.to_string()
}

/// A URL without query or fragment, for messages.
fn strip_query(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

/// Worth another attempt: the server may answer differently later.
fn is_transient(status: StatusCode) -> bool {
    status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
}

/// The first [`BODY_SNIPPET`] bytes of the body, without reading the rest.
async fn body_start(mut resp: reqwest::Response) -> String {
    let mut buf = Vec::new();
    while buf.len() < BODY_SNIPPET {
        match resp.chunk().await {
            Ok(Some(chunk)) => buf.extend_from_slice(&chunk),
            _ => break,
        }
    }
    buf.truncate(BODY_SNIPPET);
    String::from_utf8_lossy(&buf).into_owned()
}

/// A transport error with its causes ("connection refused" sits deep in the
/// chain), without the URL (it may carry a query the user did not want shown).
fn describe(e: reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("no response within {}s", timeout.as_secs());
    }
    let e = e.without_url();
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        let c_text = c.to_string();
        if !text.contains(&c_text) {
            text.push_str(": ");
            text.push_str(&c_text);
        }
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use super::*;
    use crate::HeaderValueRef;
    use crate::Sink;
    use crate::SinkConfig;
    use crate::tests::{blobs, sample};

    /// What the test server answers to one connection.
    #[derive(Clone, Copy)]
    enum Reply {
        /// Status, extra header lines (each ending in CRLF), body.
        Status(u16, &'static str, &'static str),
        /// Read the request, never answer.
        Hang,
    }

    struct Request {
        /// `METHOD /path HTTP/1.1`.
        line: String,
        headers: BTreeMap<String, String>,
        body: Vec<u8>,
    }

    /// A one-request-per-connection HTTP/1.1 server on 127.0.0.1 that plays
    /// `replies` in order (the last one repeats).
    struct Server {
        url: String,
        requests: Arc<Mutex<Vec<Request>>>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Drop for Server {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    async fn serve(replies: Vec<Reply>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/api/replies?k=v", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            for i in 0.. {
                let (mut sock, _) = listener.accept().await.unwrap();
                let request = read_request(&mut sock).await;
                seen.lock().unwrap().push(request);
                match replies[i.min(replies.len() - 1)] {
                    Reply::Hang => held.push(sock),
                    Reply::Status(code, headers, body) => {
                        let response = format!(
                            "HTTP/1.1 {code} Test\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n{body}",
                            body.len()
                        );
                        sock.write_all(response.as_bytes()).await.unwrap();
                        sock.shutdown().await.unwrap();
                    }
                }
            }
        });
        Server {
            url,
            requests,
            task,
        }
    }

    async fn read_request(sock: &mut TcpStream) -> Request {
        let mut buf = Vec::new();
        let head_end = loop {
            let mut chunk = [0u8; 4096];
            let n = sock.read(&mut chunk).await.unwrap();
            assert!(n > 0, "client closed before sending a request");
            buf.extend_from_slice(&chunk[..n]);
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
        };
        let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
        let headers: BTreeMap<String, String> = head
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let len: usize = headers["content-length"].parse().unwrap();
        let mut body = buf[head_end..].to_vec();
        while body.len() < len {
            let mut chunk = [0u8; 4096];
            let n = sock.read(&mut chunk).await.unwrap();
            assert!(n > 0, "client closed mid-body");
            body.extend_from_slice(&chunk[..n]);
        }
        let line = head.lines().next().unwrap_or_default().to_string();
        Request {
            line,
            headers,
            body,
        }
    }

    fn config(url: &str) -> HttpConfig {
        HttpConfig {
            url: url.to_string(),
            timeout_secs: 5,
            max_attempts: 5,
            headers: BTreeMap::from([(
                "X-Source".to_string(),
                HeaderValueRef::Plain("popline-test".into()),
            )]),
            attachments: HttpAttachments::Inline,
            attachments_url: None,
        }
    }

    /// An open sink whose backoff does not slow the tests down.
    fn fast(cfg: &HttpConfig) -> HttpSink {
        let mut sink = HttpSink::open("api", cfg, Path::new("/")).unwrap();
        sink.backoff_base = Duration::from_millis(1);
        sink
    }

    #[tokio::test]
    async fn retries_503_then_accepts_with_the_same_idempotency_key() {
        let server = serve(vec![
            Reply::Status(503, "", "busy"),
            Reply::Status(503, "", "busy"),
            Reply::Status(201, "", ""),
            Reply::Status(200, "", "{}"),
        ])
        .await;
        let mut sink = fast(&config(&server.url));
        sink.write_batch(&[sample(0), sample(1)], &blobs())
            .await
            .unwrap();

        let requests = server.requests.lock().unwrap();
        assert_eq!(requests.len(), 4);
        for (i, r) in requests.iter().enumerate() {
            let record = sample(if i < 3 { 0 } else { 1 });
            assert_eq!(r.headers["idempotency-key"], record.id, "request {i}");
            assert_eq!(r.headers["content-type"], "application/json");
            assert_eq!(r.headers["x-source"], "popline-test");
            let sent: FeedbackRecord = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(sent, record);
            // Inline by default: the attachment's bytes ride along.
            let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            use base64::Engine as _;
            assert_eq!(
                v["attachments"][0]["content_base64"],
                base64::engine::general_purpose::STANDARD.encode(crate::tests::SAMPLE_ATTACHMENT)
            );
        }
    }

    #[tokio::test]
    async fn upload_puts_each_attachment_before_its_record_and_retries_it() {
        let server = serve(vec![
            Reply::Status(503, "", "busy"),
            Reply::Status(201, "", ""),
            Reply::Status(200, "", ""),
        ])
        .await;
        let base = server.url.split("/api/").next().unwrap().to_string();
        let cfg = HttpConfig {
            attachments: HttpAttachments::Upload,
            attachments_url: Some(format!("{base}/blobs/{{sha256}}?sig=s3cret")),
            ..config(&server.url)
        };
        let mut sink = fast(&cfg);
        sink.write_batch(&[sample(0)], &blobs()).await.unwrap();
        let requests = server.requests.lock().unwrap();
        let sha = popline_core::digest::sha256_hex(crate::tests::SAMPLE_ATTACHMENT);
        let lines: Vec<&str> = requests.iter().map(|r| r.line.as_str()).collect();
        assert_eq!(
            lines,
            [
                format!("PUT /blobs/{sha}?sig=s3cret HTTP/1.1"),
                format!("PUT /blobs/{sha}?sig=s3cret HTTP/1.1"),
                "POST /api/replies?k=v HTTP/1.1".to_string(),
            ]
        );
        assert_eq!(requests[1].body, crate::tests::SAMPLE_ATTACHMENT);
        assert_eq!(requests[1].headers["content-type"], "text/plain");
        assert_eq!(requests[1].headers["x-source"], "popline-test");
        let v: serde_json::Value = serde_json::from_slice(&requests[2].body).unwrap();
        assert!(v["attachments"][0].get("content_base64").is_none(), "{v}");
    }

    #[tokio::test]
    async fn a_missing_attachment_fails_before_anything_is_sent() {
        let server = serve(vec![Reply::Status(200, "", "")]).await;
        let mut sink = fast(&config(&server.url));
        let err = sink
            .write_batch(&[sample(0)], &crate::Blobs::default())
            .await
            .unwrap_err();
        assert!(matches!(err, SinkError::MissingAttachment { .. }), "{err}");
        assert!(server.requests.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_400_is_not_retried_and_names_status_and_body_start() {
        const BODY: &str = concat!(
            "field `target` is required; ",
            "0123456789012345678901234567890123456789012345678901234567890123456789",
            "0123456789012345678901234567890123456789012345678901234567890123456789",
            "0123456789012345678901234567890123456789012345678901234567890123456789",
        );
        let server = serve(vec![Reply::Status(400, "", BODY)]).await;
        let mut sink = fast(&config(&server.url));
        let err = sink.write_batch(&[sample(0)], &blobs()).await.unwrap_err();
        assert_eq!(server.requests.lock().unwrap().len(), 1);
        let msg = err.to_string();
        let SinkError::HttpRejected { status, body, .. } = err else {
            panic!("not a rejection: {msg}")
        };
        assert_eq!(status, 400);
        assert_eq!(body, BODY[..BODY_SNIPPET]);
        assert!(msg.contains("HTTP 400"), "{msg}");
        assert!(msg.contains("field `target` is required"), "{msg}");
        assert!(msg.contains(&sample(0).id), "{msg}");
        // The query is not shown.
        assert!(
            msg.contains("/api/replies refused") && !msg.contains("k=v"),
            "{msg}"
        );
    }

    #[tokio::test]
    async fn a_429_honours_retry_after_and_5xx_gives_up_after_max_attempts() {
        let server = serve(vec![
            Reply::Status(429, "Retry-After: 0\r\n", ""),
            Reply::Status(408, "", ""),
            Reply::Status(500, "", "oops"),
        ])
        .await;
        let mut cfg = config(&server.url);
        cfg.max_attempts = 4;
        let mut sink = fast(&cfg);
        let err = sink
            .write_batch(&[sample(0), sample(1)], &blobs())
            .await
            .unwrap_err();
        // The first record used every attempt; the second was never sent.
        assert_eq!(server.requests.lock().unwrap().len(), 4);
        let msg = err.to_string();
        assert!(
            matches!(err, SinkError::HttpUnavailable { attempts: 4, ref id, .. } if *id == sample(0).id),
            "{msg}"
        );
        assert!(msg.contains("last: HTTP 500"), "{msg}");
        assert!(msg.contains("safe to replay"), "{msg}");
    }

    #[tokio::test]
    async fn timeouts_and_refused_connections_are_retried() {
        let server = serve(vec![Reply::Hang]).await;
        let mut cfg = config(&server.url);
        cfg.timeout_secs = 1;
        cfg.max_attempts = 2;
        let err = fast(&cfg)
            .write_batch(&[sample(0)], &blobs())
            .await
            .unwrap_err();
        assert_eq!(server.requests.lock().unwrap().len(), 2);
        assert!(
            err.to_string().contains("last: no response within 1s"),
            "{err}"
        );

        // A port nobody listens on.
        let port = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        cfg.url = format!("http://127.0.0.1:{port}/");
        let err = fast(&cfg)
            .write_batch(&[sample(0)], &blobs())
            .await
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(err, SinkError::HttpUnavailable { attempts: 2, .. }),
            "{msg}"
        );
        assert!(msg.to_lowercase().contains("connection refused"), "{msg}");
    }

    #[tokio::test]
    async fn open_refuses_unsafe_or_invalid_settings_without_showing_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let open = |cfg: HttpConfig| {
            let base = dir.path().to_path_buf();
            async move {
                match Sink::open("api", &SinkConfig::Http(cfg), &base).await {
                    Ok(_) => String::from("opened"),
                    Err(e) => format!("{e:#}"),
                }
            }
        };
        let with_url = |url: &str| HttpConfig {
            url: url.into(),
            ..config("https://x")
        };
        let err = open(with_url("http://feedback.example.com/api")).await;
        assert!(err.contains("unencrypted"), "{err}");
        for ok in [
            "http://localhost:8080/",
            "http://127.0.0.1/",
            "http://[::1]/",
            "https://a.example/",
        ] {
            assert_eq!(open(with_url(ok)).await, "opened", "{ok}");
        }
        let err = open(with_url("ftp://x/")).await;
        assert!(err.contains("scheme \"ftp\""), "{err}");
        let err = open(with_url("https://user:hunter2@a.example/")).await;
        assert!(
            err.contains("holds credentials") && !err.contains("hunter2"),
            "{err}"
        );
        let err = open(with_url("not a url")).await;
        assert!(err.contains("not a valid URL"), "{err}");
        let err = open(HttpConfig {
            max_attempts: 0,
            ..config("https://x")
        })
        .await;
        assert!(err.contains("`max_attempts` must be at least 1"), "{err}");
        for (mode, url, expect) in [
            (HttpAttachments::Upload, None, "needs `attachments_url`"),
            (
                HttpAttachments::Upload,
                Some("https://x/blobs"),
                "no `{sha256}`",
            ),
            (
                HttpAttachments::Upload,
                Some("http://files.example.com/{sha256}"),
                "must be https://",
            ),
            (
                HttpAttachments::Inline,
                Some("https://x/{sha256}"),
                "is not \"upload\"",
            ),
        ] {
            let err = open(HttpConfig {
                attachments: mode,
                attachments_url: url.map(str::to_string),
                ..config("https://x")
            })
            .await;
            assert!(err.contains(expect), "{err}");
        }

        let with_header = |k: &str, v: HeaderValueRef| HttpConfig {
            headers: BTreeMap::from([(k.to_string(), v)]),
            ..config("https://x")
        };
        let err = open(with_header(
            "Idempotency-Key",
            HeaderValueRef::Plain("x".into()),
        ))
        .await;
        assert!(err.contains("set by popline"), "{err}");
        let err = open(with_header(
            "X-Api-Key",
            HeaderValueRef::Plain("s3cret\nInjected: yes".into()),
        ))
        .await;
        assert!(
            err.contains("\"X-Api-Key\"") && !err.contains("s3cret"),
            "{err}"
        );
        let err = open(with_header(
            "X-Api-Key",
            HeaderValueRef::Env {
                env: "POPLINE_TEST_SURELY_UNSET_7F3A".into(),
            },
        ))
        .await;
        assert!(
            err.contains("POPLINE_TEST_SURELY_UNSET_7F3A is not set"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_header_from_a_file_is_sent() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("key"), "k-123\n").unwrap();
        let server = serve(vec![Reply::Status(204, "", "")]).await;
        let cfg = HttpConfig {
            headers: BTreeMap::from([(
                "X-Api-Key".to_string(),
                HeaderValueRef::File { file: "key".into() },
            )]),
            ..config(&server.url)
        };
        let mut sink = Sink::open("api", &SinkConfig::Http(cfg), dir.path())
            .await
            .unwrap();
        assert_eq!(sink.name(), "api");
        sink.write_batch(&[sample(0)], &blobs()).await.unwrap();
        assert_eq!(
            server.requests.lock().unwrap()[0].headers["x-api-key"],
            "k-123"
        );
    }
}
