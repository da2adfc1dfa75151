//! The HTTP function the `oauth2` crate calls: reqwest, with popline's own
//! layer around it. 429 and 5xx answers and network failures are retried
//! (honouring `Retry-After`); the last error answer's body is kept, so its
//! AADSTS code reaches [`crate::endpoint::explain`] (oauth2's error types
//! drop Microsoft's `error_codes`); and a client assertion is signed afresh
//! for every request, since one device login outlives a 5-minute assertion.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oauth2::{HttpRequest, HttpResponse, RequestTokenError};

use crate::AuthError;
use crate::endpoint::{self, ErrorBody};

/// Requests per operation before the endpoint counts as unavailable.
const ATTEMPTS: u32 = 4;

/// The identity platform could not be reached, or kept answering 429/5xx.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unavailable(String);

/// Makes a fresh client assertion for the token URL it is given.
pub type Assert = Arc<dyn Fn(&str) -> String + Send + Sync>;

/// One token operation's HTTP function (the error body is per operation).
/// It owns what it uses, so the futures that borrow it are `Send` for any
/// lifetime.
pub struct Http {
    client: reqwest::Client,
    mailbox: String,
    assertion: Option<Assert>,
    last_error: Mutex<Option<Vec<u8>>>,
}

impl Http {
    pub fn new(client: reqwest::Client, mailbox: String, assertion: Option<Assert>) -> Self {
        Http {
            client,
            mailbox,
            assertion,
            last_error: Mutex::new(None),
        }
    }

    /// What a failed oauth2 request means for the operator: the endpoint
    /// unavailable, or the identity platform's refusal explained.
    pub fn failure<E: oauth2::ErrorResponse + 'static>(
        &self,
        e: RequestTokenError<Unavailable, E>,
    ) -> AuthError {
        if let RequestTokenError::Request(Unavailable(why)) = e {
            return AuthError::Unavailable(why);
        }
        let raw = self.last_error.lock().unwrap().take().unwrap_or_default();
        let body = match serde_json::from_slice::<ErrorBody>(&raw) {
            Ok(b) if !b.error.is_empty() => b,
            _ => ErrorBody {
                error: "invalid_response".into(),
                error_description: e.to_string(),
                error_codes: Vec::new(),
            },
        };
        endpoint::explain(&self.mailbox, &body)
    }

    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, Unavailable> {
        let (parts, body) = request.into_parts();
        let url = parts.uri.to_string();
        let shown = url.split('?').next().unwrap_or(&url).to_string();
        let mut last = String::new();
        for attempt in 1..=ATTEMPTS {
            let body = self.fresh_assertion(&url, &body);
            let sent = self
                .client
                .request(parts.method.clone(), &url)
                .headers(parts.headers.clone())
                .body(body)
                .send()
                .await;
            let mut retry_after = None;
            match sent {
                Err(e) => last = format!("cannot reach {shown}: {}", without_url(&e)),
                Ok(resp) => {
                    let status = resp.status();
                    let headers = resp.headers().clone();
                    retry_after = popline_net::retry_after(&headers);
                    match resp.bytes().await {
                        Err(e) => {
                            last = format!("reading the answer of {shown}: {}", without_url(&e))
                        }
                        Ok(_) if status.as_u16() == 429 || status.is_server_error() => {
                            last = format!("{shown} answered {status}");
                        }
                        Ok(bytes) => {
                            if !status.is_success() {
                                *self.last_error.lock().unwrap() = Some(bytes.to_vec());
                            }
                            let mut out = oauth2::http::Response::builder().status(status);
                            for (k, v) in &headers {
                                out = out.header(k, v);
                            }
                            return out
                                .body(bytes.to_vec())
                                .map_err(|e| Unavailable(e.to_string()));
                        }
                    }
                }
            }
            if attempt < ATTEMPTS {
                let wait = retry_after.unwrap_or_else(|| {
                    popline_core::backoff::delay(
                        attempt,
                        Duration::from_millis(500),
                        Duration::from_secs(10),
                    )
                });
                tracing::warn!(mailbox = %self.mailbox, ?wait, "token endpoint: {last}; retrying");
                tokio::time::sleep(wait).await;
            }
        }
        Err(Unavailable(last))
    }

    /// The form with a fresh `client_assertion` when it carries one.
    fn fresh_assertion(&self, url: &str, body: &[u8]) -> Vec<u8> {
        let Some(assert) = &self.assertion else {
            return body.to_vec();
        };
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
        if !pairs.iter().any(|(k, _)| k == "client_assertion") {
            return body.to_vec();
        }
        let jwt = assert(url);
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &pairs {
            out.append_pair(k, if k == "client_assertion" { &jwt } else { v });
        }
        out.finish().into_bytes()
    }
}

impl<'c> oauth2::AsyncHttpClient<'c> for Http {
    type Error = Unavailable;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, Unavailable>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

/// reqwest's text without the URL (it may carry a query); the caller says
/// which endpoint.
fn without_url(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    if let Some(u) = e.url() {
        s = s.replace(u.as_str(), "");
    }
    s.replace(" ()", "").trim().to_string()
}
