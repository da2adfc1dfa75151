//! HTTP: the hyper server on the stand-in's thread, routing, requests as
//! recorded, and replies with Microsoft's headers.

use std::convert::Infallible;
use std::net::TcpListener as StdTcpListener;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, HeaderValue, LOCATION, PRAGMA};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::Serialize;
use tokio::sync::oneshot;

use super::errors::OAuthError;
use super::state::{Shared, guid};

/// Request bodies beyond this are refused (413).
const MAX_BODY: usize = 1 << 20;

/// Which endpoint a [`RecordedRequest`] went to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `/{tenant}/oauth2/v2.0/authorize`
    Authorize,
    /// `/{tenant}/oauth2/v2.0/token`
    Token,
    /// `/{tenant}/oauth2/v2.0/devicecode`
    DeviceCode,
    /// `/introspect`
    Introspect,
}

/// A request as the stand-in received it, secrets included (this is test
/// code: tests check what a client sent).
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// The endpoint.
    pub endpoint: Endpoint,
    /// `GET`, `POST`, ...
    pub method: String,
    /// Query parameters, decoded, in order.
    pub query: Vec<(String, String)>,
    /// Form body fields (`application/x-www-form-urlencoded`), decoded, in order.
    pub form: Vec<(String, String)>,
    /// HTTP Basic credentials (base64-decoded, not form-decoded), if sent.
    pub basic_auth: Option<(String, String)>,
}

impl RecordedRequest {
    /// The first form field `name`, else the first query parameter `name`.
    pub fn field(&self, name: &str) -> Option<&str> {
        find(&self.form, name).or_else(|| find(&self.query, name))
    }

    /// A non-empty form field.
    pub(super) fn form(&self, name: &str) -> Option<&str> {
        find(&self.form, name).filter(|v| !v.is_empty())
    }

    /// A form parameter the request must have (AADSTS900144 otherwise).
    pub(super) fn required(&self, name: &str) -> Result<&str, OAuthError> {
        self.form(name).ok_or_else(|| OAuthError::missing(name))
    }

    /// A non-empty query parameter.
    pub(super) fn query(&self, name: &str) -> Option<&str> {
        find(&self.query, name).filter(|v| !v.is_empty())
    }

    /// The `client_id` field, else the HTTP Basic user.
    pub(super) fn client_id(&self) -> Option<&str> {
        self.form("client_id")
            .or(self.basic_auth.as_ref().map(|(id, _)| id.as_str()))
    }
}

fn find<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Per-request identifiers, as Microsoft puts them in every error.
pub(super) struct Cx {
    pub trace_id: String,
    pub correlation_id: String,
}

pub(super) type Reply = Response<Full<Bytes>>;

fn reply(status: StatusCode, content_type: &'static str, body: String) -> Reply {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache"),
    );
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

pub(super) fn json_reply(status: StatusCode, body: &impl Serialize) -> Reply {
    let body = serde_json::to_string(body).expect("JSON serialises");
    reply(status, "application/json; charset=utf-8", body)
}

pub(super) fn text_reply(status: StatusCode, body: impl Into<String>) -> Reply {
    reply(status, "text/plain; charset=utf-8", body.into())
}

pub(super) fn redirect(location: &str) -> Reply {
    let mut response = reply(StatusCode::FOUND, "text/html; charset=utf-8", String::new());
    if let Ok(location) = HeaderValue::from_str(location) {
        response.headers_mut().insert(LOCATION, location);
    }
    response
}

/// Serves `listener` until `stop` fires.
pub(super) async fn serve(
    listener: StdTcpListener,
    shared: Arc<Shared>,
    mut stop: oneshot::Receiver<()>,
) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("popline-testkit idp: {e}");
            return;
        }
    };
    loop {
        tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let shared = shared.clone();
                        async move { Ok::<_, Infallible>(handle(&shared, req).await) }
                    });
                    let _ = http1::Builder::new()
                        .timer(TokioTimer::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    }
}

/// The endpoint a path names, and the tenant in it (empty for `/introspect`).
fn route(path: &str) -> Option<(Endpoint, &str)> {
    if path == "/introspect" {
        return Some((Endpoint::Introspect, ""));
    }
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let [tenant, "oauth2", "v2.0", endpoint] = segments[..] else {
        return None;
    };
    let endpoint = match endpoint {
        "authorize" => Endpoint::Authorize,
        "token" => Endpoint::Token,
        "devicecode" => Endpoint::DeviceCode,
        _ => return None,
    };
    Some((endpoint, tenant))
}

async fn handle(shared: &Shared, req: Request<Incoming>) -> Reply {
    let client_request_id = req.headers().get("client-request-id").cloned();
    let cx = Cx {
        trace_id: guid(),
        correlation_id: match &client_request_id {
            Some(id) => String::from_utf8_lossy(id.as_bytes()).into(),
            None => guid(),
        },
    };
    let mut response = answer(shared, &cx, req).await;
    let headers = response.headers_mut();
    headers.insert(
        "x-ms-request-id",
        HeaderValue::from_str(&cx.trace_id).expect("a GUID"),
    );
    if let Some(id) = client_request_id {
        headers.insert("client-request-id", id);
    }
    response
}

async fn answer(shared: &Shared, cx: &Cx, req: Request<Incoming>) -> Reply {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path();
    let Some((endpoint, tenant)) = route(path) else {
        return match path {
            "/devicelogin" => text_reply(
                StatusCode::OK,
                "popline-testkit identity stand-in: tests approve device codes with \
                 Idp::approve_device.\n",
            ),
            _ => text_reply(StatusCode::NOT_FOUND, "not found\n"),
        };
    };
    let Ok(body) = Limited::new(body, MAX_BODY).collect().await else {
        return text_reply(StatusCode::PAYLOAD_TOO_LARGE, "request body too large");
    };
    let decode = |bytes: &[u8]| form_urlencoded::parse(bytes).into_owned().collect();
    let authorization = parts.headers.get(AUTHORIZATION);
    let req = RecordedRequest {
        endpoint,
        method: parts.method.to_string(),
        query: decode(parts.uri.query().unwrap_or("").as_bytes()),
        form: decode(&body.to_bytes()),
        basic_auth: authorization.and_then(|v| parse_basic(v.to_str().ok()?)),
    };
    shared.lock().requests.push(req.clone());
    match endpoint {
        Endpoint::Authorize => shared.authorize(cx, tenant, &req),
        Endpoint::Token => shared.token(cx, tenant, &req),
        Endpoint::DeviceCode => shared.device_code(cx, tenant, &req),
        Endpoint::Introspect => shared.introspect(&req),
    }
}

/// `Authorization: Basic base64(id:secret)`, as sent (see [`credential_eq`]).
fn parse_basic(value: &str) -> Option<(String, String)> {
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(rest.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

/// Whether a credential from HTTP Basic equals `expected`. RFC 6749 §2.3.1
/// has clients form-urlencode id and secret before base64, but many HTTP
/// libraries' basic auth does not, so both spellings are accepted.
pub(super) fn credential_eq(sent: &str, expected: &str) -> bool {
    sent == expected
        || form_urlencoded::parse(format!("x={sent}").as_bytes())
            .next()
            .is_some_and(|(_, v)| v == expected)
}
