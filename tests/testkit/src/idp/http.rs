//! HTTP: the hyper server on the stand-in's thread, routing, requests as
//! recorded, and replies with Microsoft's headers.

use std::convert::Infallible;
use std::net::TcpListener as StdTcpListener;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::HeaderValue;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::Serialize;
use tokio::sync::oneshot;

use super::errors::OAuthError;
use super::state::Shared;

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
    /// The path, e.g. `/{tenant}/oauth2/v2.0/token`.
    pub path: String,
    /// Query parameters, decoded, in order.
    pub query: Vec<(String, String)>,
    /// Form body fields (`application/x-www-form-urlencoded`), decoded, in order.
    pub form: Vec<(String, String)>,
    /// Headers (lower-case names), in order.
    pub headers: Vec<(String, String)>,
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
    /// Echoed as `client-request-id` if the client sent one.
    client_request_id: Option<String>,
}

pub(super) struct Reply {
    status: StatusCode,
    content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    body: String,
}

impl Reply {
    pub fn json(status: StatusCode, body: &impl Serialize) -> Reply {
        Reply {
            status,
            content_type: "application/json; charset=utf-8",
            headers: Vec::new(),
            body: serde_json::to_string(body).expect("JSON serialises"),
        }
    }

    pub fn text(status: StatusCode, body: impl Into<String>) -> Reply {
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            headers: Vec::new(),
            body: body.into(),
        }
    }

    pub fn redirect(location: String) -> Reply {
        Reply {
            status: StatusCode::FOUND,
            content_type: "text/html; charset=utf-8",
            headers: vec![("location", location)],
            body: String::new(),
        }
    }

    fn into_response(self, cx: &Cx) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(Bytes::from(self.body)));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        let mut put = |name: &'static str, value: &str| {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(name, value);
            }
        };
        put("content-type", self.content_type);
        put("cache-control", "no-store, no-cache");
        put("pragma", "no-cache");
        put("x-ms-request-id", &cx.trace_id);
        if let Some(id) = &cx.client_request_id {
            put("client-request-id", id);
        }
        for (name, value) in &self.headers {
            put(name, value);
        }
        response
    }
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

async fn handle(shared: &Shared, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
        .collect();
    let client_request_id = find(&headers, "client-request-id").map(str::to_owned);
    let cx = Cx {
        trace_id: shared.guid(),
        correlation_id: client_request_id.clone().unwrap_or_else(|| shared.guid()),
        client_request_id,
    };
    let path = parts.uri.path();
    let Some((endpoint, tenant)) = route(path) else {
        let reply = match path {
            "/devicelogin" => Reply::text(
                StatusCode::OK,
                "popline-testkit identity stand-in: tests approve device codes with \
                 Idp::approve_device.\n",
            ),
            _ => Reply::text(StatusCode::NOT_FOUND, "not found\n"),
        };
        return reply.into_response(&cx);
    };
    let Ok(body) = Limited::new(body, MAX_BODY).collect().await else {
        let too_large = Reply::text(StatusCode::PAYLOAD_TOO_LARGE, "request body too large");
        return too_large.into_response(&cx);
    };
    let decode = |bytes: &[u8]| form_urlencoded::parse(bytes).into_owned().collect();
    let req = RecordedRequest {
        endpoint,
        method: parts.method.to_string(),
        path: path.to_owned(),
        query: decode(parts.uri.query().unwrap_or("").as_bytes()),
        form: decode(&body.to_bytes()),
        basic_auth: find(&headers, "authorization").and_then(parse_basic),
        headers,
    };
    shared.lock().requests.push(req.clone());
    let reply = match endpoint {
        Endpoint::Authorize => shared.authorize(&cx, tenant, &req),
        Endpoint::Token => shared.token(&cx, tenant, &req),
        Endpoint::DeviceCode => shared.device_code(&cx, tenant, &req),
        Endpoint::Introspect => shared.introspect(&req),
    };
    reply.into_response(&cx)
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
